#!/bin/sh
# The ledger and snapshots with the reference platform: two consumer instances behind an MQTT 5
# shared subscription ($share/platform/...) with one store split the site's batches, restore
# its order by seq and ack (ack_mode = platform). Snapshots, paged, are published on schedule
# and on command; the platform recomputes balances and control totals from the events it holds
# and they match. Only its acks prune the journal. SHIP_FROM=staging runs it with
# [ledger] shipment_from = staging (shipments leave from staging whatever bin they name).
# usage: [SHIP_FROM=bin|staging] ledger_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"
SHIP_FROM=${SHIP_FROM:-bin}
HTTP_PORT=$(free_port)
start_broker
write_conf
mqtt_conf "ack_mode = platform
retention_s = 0
[ledger]
shipment_from = $SHIP_FROM
snapshot_interval_s = 3
snapshot_page_rows = 400
[input.http]
listen = 127.0.0.1:$HTTP_PORT"
mkdir -p "$WORK/gen"
# no repeats: with retention_s = 0 a repeat read after its original was acked and pruned is
# a new event (README: repeats are recognised while the original is in the journal)
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 3000 --jsonl 1000 --dup-every 0 --prefix a --expect "$WORK/a.json" >/dev/null
csv_events=$($PY -c "import json; print(len(json.load(open('$WORK/a.json'))['keys']))")
post() {
    r=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data "$1" \
        "http://127.0.0.1:$HTTP_PORT/v1/events")
    [ "$r" = 200 ] || fail "POST $1: $r"
}
T='"event_time":"2026-03-01T10:00:00Z","uom":"EA"'
N=$((csv_events + 6))

platform() { # platform NAME [ARGS]: an instance of the reference platform
    name=$1; shift
    start_consumer "$name" --share platform --store "$WORK/platform.db" --ack --replay-after 3 \
        --expect-last "$N" --expect-snapshots 3 --timeout 120 --shipment-from "$SHIP_FROM" "$@"
}
platform p1 --snapshot-cmd
P1=$CONSUMER_PID
platform p2
P2=$CONSUMER_PID
start_agent $WH
# lots, a pick without to_bin (to the staging location), one with, a shipment from staging,
# one from a dock bin, an adjustment in another unit of measure
post '{"kind":"receipt","txn_id":"H1",'"$T"',"sku":"LOT-SKU","lot":"L1","qty":"100.5","bin":"R-1"}'
post '{"kind":"pick","txn_id":"H2",'"$T"',"sku":"LOT-SKU","lot":"L1","qty":"10","bin":"R-1"}'
post '{"kind":"pick","txn_id":"H3",'"$T"',"sku":"LOT-SKU","lot":"L1","qty":"5","bin":"R-1","to_bin":"PACK-2"}'
post '{"kind":"shipment","txn_id":"H4",'"$T"',"sku":"LOT-SKU","lot":"L1","qty":"10","shipment_ref":"S1"}'
post '{"kind":"shipment","txn_id":"H5",'"$T"',"sku":"LOT-SKU","lot":"L1","qty":"5","shipment_ref":"S2","bin":"PACK-2"}'
post '{"kind":"adjustment","txn_id":"H6","event_time":"2026-03-01T10:00:00Z","sku":"LOT-SKU","lot":"L1","qty":"-2","uom":"CS","bin":"R-1","reason_code":"DMG"}'
cp "$WORK/gen/"a-* "$WORK/spool/"
wait_consumer "$P1"
wait_consumer "$P2"

balances() { # the folded rows plus the changes not folded yet
    sql "SELECT sum(q) FROM (SELECT sku, location, uom, on_hand AS q FROM ledger UNION ALL
         SELECT sku, location, uom, milli FROM ledger_delta) WHERE sku = 'LOT-SKU'
         GROUP BY location, uom ORDER BY location, uom" | tr '\n' ' '
}
# H5 ships 5 from PACK-2, or from staging with shipment_from = staging
expect=$( [ "$SHIP_FROM" = bin ] && echo "0 -2000 85500 0 " || echo "5000 -2000 85500 -5000 " )
[ "$(balances)" = "$expect" ] || fail "LOT-SKU balances (PACK-2 EA, R-1 CS, R-1 EA, STAGING EA): $(balances)"
for p in p1 p2; do
    [ "$(summary $p "s['store'][list(s['store'])[0]]['applied_through']")" = "$N" ] ||
        fail "$p: store applied $(summary $p "s['store']")"
    [ "$(summary $p "s['batches'] > 0")" = True ] || fail "$p received no batch: the shared subscription did not split"
done
$PY - "$WORK/p1.json" "$WORK/p2.json" <<'PY' || fail "snapshots: $(cat "$WORK/p1.json")"
import json, sys
snaps = {}
for f in sys.argv[1:]:
    for s in json.load(open(f))["snapshots"]:
        if s.get("verified_by_me"):
            snaps[s["snapshot_id"]] = s
bad = [s for s in snaps.values() if not (s.get("totals_match") and s.get("balances_match"))]
paged = [s for s in snaps.values() if s["pages"] > 1]
print("snapshots verified: %d (%d paged, up to %d pages, %d balances), mismatching: %d" % (
    len(snaps), len(paged), max([s["pages"] for s in snaps.values()] or [0]),
    max([s["balance_rows"] for s in snaps.values()] or [0]), len(bad)), file=sys.stderr)
for s in bad:
    print("mismatch:", s, file=sys.stderr)
sys.exit(0 if len(snaps) >= 3 and paged and not bad else 1)
PY
grep -q "snapshot .* as of seq" "$WORK/agent.log" || fail "no snapshot logged"
[ "$(summary p1 "[r['ok'] for r in s['command_results'] if 'snapshot' in r['message']][:1]")" = "[True]" ] ||
    fail "snapshot command: $(summary p1 "s['command_results']")"
wait_for 20 status_is platform_acked_through "$N" || fail "platform acks: $(status_field platform_acked_through)"
wait_for 10 sh -c "[ \"\$(sqlite3 -readonly $WORK/state/journal.db 'SELECT count(*) FROM event')\" = 0 ]" ||
    fail "not pruned after the platform's acks"
stop_agent
[ "$(sql 'SELECT count(*) FROM ledger_delta')" = 0 ] && [ "$(balances)" = "$expect" ] ||
    fail "not folded at stop: $(sql 'SELECT count(*) FROM ledger_delta') changes left, balances $(balances)"
echo "PASS (shipment_from = $SHIP_FROM): ledger balances and control totals verified by the platform in paged snapshots (schedule and command), two instances on a shared subscription, acks prune"
