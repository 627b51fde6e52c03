#!/bin/sh
# Live and backfill lanes: 500,000 events journaled while the broker is away; when it is back the
# backlog drains on PREFIX/SITE/backfill (historical) through a rate-limited uplink, and an event
# posted during the drain arrives on PREFIX/SITE/events within seconds, long before the backfill
# completes. The agent is then killed with -9 mid-backfill: the live event's acknowledgement,
# above the watermark, was persisted as an acked range, so it is not sent again, and the
# restarted backfill completes. Every event arrives, decoded, gapless, after dedupe.
# usage: lanes_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"
N=${LANES_EVENTS:-500000}
HTTP_PORT=$(free_port)
BROKER_PORT=$(free_port)
COMMIT_RECORDS=5000 write_conf
mqtt_conf "backfill_after_s = 1
live_share_pct = 20
max_bytes_per_s = ${LANES_RATE:-3MiB}
batch_max_events = 1000
[input.http]
listen = 127.0.0.1:$HTTP_PORT"
mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv "$N" --bad-every 0 --dup-every 0 --prefix bulk >/dev/null
start_agent $WH
mv "$WORK/gen/bulk-orders.csv" "$WORK/spool/"
wait_for 120 status_is last_seq "$N" || fail "capture: last_seq $(status_field last_seq)"
sleep 1.5 # the backlog is now older than backfill_after_s
# restarted once the platform listens (with ack_mode = broker what goes out before is gone)
stop_agent
start_broker
start_consumer c1 --expect-last $((N + 1)) --timeout 240
start_agent $WH
wait_for 30 grep -q "drains on whagent/v1/IT-SITE/backfill" "$WORK/agent.log" || fail "no backfill lane"
wait_for 10 status_is backfill_through "$N" || fail "status: backfill_through $(status_field backfill_through)"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -qx "whagent_mqtt_backfill_through_seq $N" ||
    fail "metrics: $(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep backfill)"
sleep 2
posted=$(date +%s%3N)
r=$(curl -s -H 'Content-Type: application/json' --data \
    '{"kind":"pick","txn_id":"LIVE-1","event_time":"2026-03-01T10:00:00Z","sku":"S-LIVE","qty":1,"uom":"EA","bin":"A-01"}' \
    "http://127.0.0.1:$HTTP_PORT/v1/events")
[ "$r" = "{\"results\":[{\"seq\":$((N + 1))}],\"taken\":1,\"duplicates\":0,\"quarantined\":0}" ] || fail "POST: $r"
# the live event's ack lands above the watermark; once persisted, kill -9 mid-backfill
wait_for 30 sh -c "sqlite3 -readonly $WORK/state/journal.db \"SELECT value FROM meta WHERE key = 'acked_ranges'\" | grep -q '$((N + 1))-$((N + 1))'" ||
    fail "the live event's acknowledgement was not persisted as a range"
acked=$(status_field acked_through)
[ "$acked" -lt "$N" ] || fail "the backfill finished before the live event's ack ($acked): raise the event count or lower the rate"
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""
start_agent $WH
wait_consumer
cat "$WORK/c1.json" > "$WORK/summary.json"
[ "$(summary c1 "(j['unique'], j['gaps'], s['bad_batches'])")" = "($((N + 1)), [], [])" ] ||
    fail "events: $(summary c1 "(j['unique'], j['max_seq'], j['gaps'][:3], s['bad_batches'][:2])")"
[ "$(summary c1 "(s['topics']['events']['events'], s['topics']['events']['historical_batches'])")" = "(1, 0)" ] ||
    fail "live lane carried $(summary c1 "s['topics']['events']") (the live event once, nothing else)"
[ "$(summary c1 "s['topics']['backfill']['historical_batches'] == s['topics']['backfill']['batches'] > 0 and s['topics']['backfill']['replay_batches'] == 0")" = True ] ||
    fail "backfill batches not all historical (and none a replay): $(summary c1 "s['topics']['backfill']")"
wait_for 20 status_is backfill_through 0 || fail "backfill not reported done: $(status_field backfill_through)"
live=$(summary c1 "s['topics']['events']['max_latency_ms']")
end=$(summary c1 "s['topics']['backfill']['last_at_ms'] - $posted")
[ "$live" -lt "$end" ] || fail "the live event (${live} ms) did not arrive before the backfill ended (${end} ms after it was posted)"
[ "$live" -lt 10000 ] || fail "the live event took ${live} ms"
echo "PASS: $N-event backfill beside the live lane: live event after ${live} ms, backfill done ${end} ms after it was posted (with a kill -9 in between); all $((N + 1)) events once after dedupe, the live one sent once"
