#!/bin/sh
# Uplink end to end with a real mosquitto on a free loopback port and the reference consumer
# decoding with the .proto files: every event arrives, decodes, in seq order, gapless, once;
# MQTT 5 properties are set; birth (ONLINE), graceful stop (OFFLINE, retained) and the will
# after kill -9 (OFFLINE, same session) are seen; status --json reports the watermark.
# usage: uplink_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"

start_broker
write_conf
mqtt_conf "retention_s = 3600"
mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 3000 --jsonl 2000 --expect "$WORK/expect.json"
n=$(python3 -c "import json; print(len(json.load(open('$WORK/expect.json'))['keys']))")

start_consumer c1 --expect-last "$n" --timeout 60
start_agent $WH
cp "$WORK/gen/wms-orders.csv" "$WORK/gen/wms-moves.jsonl" "$WORK/spool/"
wait_consumer
[ "$(summary c1 "j and j['unique']")" = "$n" ] || fail "consumer got $(summary c1 "j and j['unique']") of $n events"
[ "$(summary c1 "j['gaps']")" = "[]" ] || fail "gaps: $(summary c1 "j['gaps']")"
[ "$(summary c1 "j['out_of_order']")" = 0 ] || fail "events out of order"
[ "$(summary c1 "(j['duplicates'], s['topics']['backfill']['batches'], s['topics']['events']['historical_batches'])")" = "(0, 0, 0)" ] ||
    fail "copies, backfill or historical batches without an outage: $(summary c1 "(j['duplicates'], s['topics'])")"
[ "$(summary c1 "s['bad_batches']")" = "[]" ] || fail "batch seq ranges wrong: $(summary c1 "s['bad_batches']")"
[ "$(summary c1 "sorted(s['kinds'])")" = "['EVENT_KIND_ADJUSTMENT', 'EVENT_KIND_PICK', 'EVENT_KIND_RECEIPT', 'EVENT_KIND_SHIPMENT', 'EVENT_KIND_TRANSFER']" ] ||
    fail "not every kind decoded: $(summary c1 "s['kinds']")"
[ "$(summary c1 "sorted(s['properties'])")" = "['content_type', 'first_seq', 'journal', 'last_seq', 'site']" ] ||
    fail "MQTT 5 properties: $(summary c1 "s['properties']")"
[ "$(summary c1 "s['properties']['site']")" = IT-SITE ] || fail "site property"
[ "$(summary c1 "[x['state'] for x in s['statuses']][:1]")" = "['AGENT_STATE_ONLINE']" ] ||
    fail "no birth status: $(summary c1 "s['statuses']")"

wait_for 10 status_is acked_through "$n" ||
    fail "watermark not at $n: $($WH status -c "$WORK/whagent.conf" --json)"
$WH status -c "$WORK/whagent.conf" --json > "$WORK/status.json"
[ "$(json_field mqtt < "$WORK/status.json")" = connected ] || fail "status mqtt: $(cat "$WORK/status.json")"
[ "$(json_field backlog < "$WORK/status.json")" = 0 ] || fail "backlog not 0"

# Graceful stop: OFFLINE status, retained, same session.
stop_agent
start_consumer c2 --timeout 2
wait_consumer
[ "$(summary c2 "[(x['state'], x['session'], x['retained']) for x in s['statuses']]")" = "[('AGENT_STATE_OFFLINE', 1, True)]" ] ||
    fail "after SIGTERM the retained status is $(summary c2 "s['statuses']")"
[ "$($WH status -c "$WORK/whagent.conf" --json | json_field mqtt)" = stopped ] || fail "status after stop"

# kill -9: the broker publishes the will (OFFLINE) for the new session.
start_agent $WH
wait_for 10 grep -q "connected to" "$WORK/agent.log" || fail "no reconnect after restart"
sleep 0.5
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""
start_consumer c3 --timeout 2
wait_consumer
[ "$(summary c3 "[(x['state'], x['session']) for x in s['statuses']]")" = "[('AGENT_STATE_OFFLINE', 2)]" ] ||
    fail "will after kill -9: $(summary c3 "s['statuses']")"
echo "PASS: $n events delivered once, in order, gapless; birth, death and will seen"
