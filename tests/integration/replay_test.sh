#!/bin/sh
# Gaps found by the platform are filled by replays: the reference platform stops (SIGSTOP) while
# the agent publishes, so the broker, with small queues, drops part of its QoS 1 batches (as a
# broker does for a slow subscriber) although it acknowledged them to the agent. With
# ack_mode = platform nothing is pruned; the platform sees the hole, asks for it with a signed
# replay command, gets it on PREFIX/SITE/backfill, acks everything, and only then is it pruned.
# usage: replay_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/central.key" 2>/dev/null
openssl ec -in "$WORK/central.key" -pubout -out "$WORK/central.pub" 2>/dev/null
start_broker "max_inflight_messages 5
max_queued_messages 5"
write_conf
mqtt_conf "ack_mode = platform
retention_s = 0
batch_max_events = 100
command_pubkey = $WORK/central.pub"
mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 1000 --bad-every 0 --dup-every 0 --prefix a >/dev/null
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 5000 --bad-every 0 --dup-every 0 --prefix b --first-txn 100000 >/dev/null
start_consumer c1 --ack --replay-after 1 --command-key "$WORK/central.key" --expect-last 6000 --timeout 90
start_agent $WH
cp "$WORK/gen/a-orders.csv" "$WORK/spool/"
wait_for 30 status_is platform_acked_through 1000 || fail "platform acks of the first file: $(status_field platform_acked_through)"
kill -STOP "$CONSUMER_PID"
cp "$WORK/gen/b-orders.csv" "$WORK/spool/"
wait_for 30 status_is acked_through 6000 || fail "broker acks: $(status_field acked_through)"
sleep 1
[ "$(status_field platform_acked_through)" = 1000 ] || fail "platform watermark moved while the platform was stopped"
[ "$(sql 'SELECT count(*) FROM event')" = 5000 ] || fail "pruned what the platform does not hold: $(sql 'SELECT count(*) FROM event') rows"
kill -CONT "$CONSUMER_PID"
wait_consumer
grep -q "dropped" "$WORK/broker.log" || fail "the broker dropped nothing: the test proves nothing"
[ "$(summary c1 "(j['unique'], j['gaps'], s['bad_batches'])")" = "(6000, [], [])" ] ||
    fail "events: $(summary c1 "(j['unique'], j['gaps'][:3])")"
[ "$(summary c1 "len(s['replays']) > 0 and all(r['from'] > 1000 for r in s['replays'])")" = True ] ||
    fail "replays: $(summary c1 "s['replays']")"
[ "$(summary c1 "all(r['ok'] for r in s['command_results'])")" = True ] ||
    fail "command results: $(summary c1 "s['command_results']")"
wait_for 20 status_is platform_acked_through 6000 || fail "platform acks after the replay: $(status_field platform_acked_through)"
wait_for 10 sh -c "[ \"\$(sqlite3 -readonly $WORK/state/journal.db 'SELECT count(*) FROM event')\" = 0 ]" ||
    fail "not pruned after the platform's acks"
stop_agent
echo "PASS: a range the broker dropped is found by the platform, replayed on a signed request ($(summary c1 "', '.join('%d-%d' % (r['from'], r['to']) for r in s['replays'])")), acked, then pruned"
