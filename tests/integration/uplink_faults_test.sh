#!/bin/sh
# Uplink under faults, with a real mosquitto and the reference consumer:
#  1. WAN outage: the broker goes away while thousands of events are captured; status says
#     disconnected with the backlog and its age; reconnects back off (no busy loop); after the
#     broker is back everything arrives, and the journal prunes what was acknowledged.
#  2. kill -9 of the agent mid-stream: after restart every event arrives at least once, and
#     after dedupe by (journal_id, seq) exactly once, gapless.
#  3. A broker that refuses the events topic (ACL, MQTT 5 PUBACK 0x87): the watermark does not
#     move; once the ACL is fixed the batches are resent and arrive.
#  Status shows the outage's error with its time as current, and as earlier once connected; the
#  link state never goes into the journal's meta.
# usage: uplink_faults_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"

gen() { # gen NAME CSV_ROWS FIRST_TXN -> file in $WORK/gen/NAME-orders.csv; prints its event count
    python3 "$HERE/gen_wms.py" "$WORK/gen" --csv "$2" --bad-every 0 --dup-every 0 --prefix "$1" \
        --first-txn "$3" --expect "$WORK/$1.json"
    python3 -c "import json; print(len(json.load(open('$WORK/$1.json'))['keys']))"
}
mkdir -p "$WORK/gen"

# --- 1. outage ---------------------------------------------------------------------------
start_broker
write_conf
mqtt_conf "retention_s = 0"
n1=$(gen a 1000 1)
n2=$(gen b 6000 100000)
start_consumer c1 --expect-last "$n1" --timeout 60
start_agent $WH
cp "$WORK/gen/a-orders.csv" "$WORK/spool/"
wait_consumer
[ "$(summary c1 "j['unique']")" = "$n1" ] || fail "before the outage: $(cat "$WORK/c1.json")"

stop_broker
wait_for 10 status_not mqtt connected ||
    fail "status still says connected with the broker gone"
ticks0=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat")
cp "$WORK/gen/b-orders.csv" "$WORK/spool/"
wait_for 30 test -f "$WORK/spool/done/b-orders.csv" || fail "capture stopped during the outage"
sleep 3
[ "$(status_field backlog)" = "$n2" ] || fail "backlog during outage: $(status_field backlog), expected $n2"
[ "$(status_field oldest_unsent_age_s)" -ge 3 ] || fail "oldest_unsent_age_s $(status_field oldest_unsent_age_s) < 3"
[ -n "$(status_field mqtt_last_error)" ] || fail "no last error reported during the outage"
[ "$(status_field mqtt_last_error_current)" = True ] || fail "the outage's error is not reported as current"
[ "$(status_field mqtt_last_error_ms)" -gt 0 ] || fail "the outage's error has no time"
ticks=$(( $(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat") - ticks0 ))
attempts=$(grep -c "reconnecting in" "$WORK/agent.log")
echo "outage: $attempts reconnect attempts, $ticks CPU ticks (capture included)"
[ "$ticks" -lt 200 ] || fail "agent used $ticks CPU ticks while the broker was away (busy loop?)"
[ "$attempts" -lt 40 ] || fail "$attempts reconnect attempts in a few seconds: no backoff"

kill -STOP "$AGENT_PID" # the consumer subscribes before the agent is back
start_broker
start_consumer c2 --expect-first $((n1 + 1)) --expect-last $((n1 + n2)) --timeout 60
kill -CONT "$AGENT_PID"
wait_consumer
[ "$(summary c2 "j['unique']")" = "$n2" ] || fail "after the outage: $(cat "$WORK/c2.json")"
[ "$(summary c2 "j['gaps']")" = "[]" ] || fail "gaps after the outage"
wait_for 20 sh -c "[ \"\$(sqlite3 -readonly $WORK/state/journal.db 'SELECT count(*) FROM event')\" = 0 ]" ||
    fail "acknowledged events not pruned (retention_s = 0)"
[ "$(status_field mqtt)" = connected ] || fail "status after the outage: $(status_field mqtt)"
[ "$(status_field mqtt_last_error_current)" = False ] || fail "the outage's error still current once connected"
$WH status -c "$WORK/whagent.conf" | grep -q "^earlier error  " || fail "status: $($WH status -c "$WORK/whagent.conf")"
# the link's state is live state, not journal data: nothing of it in the journal's meta
[ "$(sql "SELECT count(*) FROM meta WHERE key LIKE 'mqtt%' OR key = 'backfill_through'")" = 0 ] ||
    fail "link state written to the journal: $(sql "SELECT key FROM meta WHERE key LIKE 'mqtt%'")"
stop_agent

# --- 2. kill -9 mid-stream ---------------------------------------------------------------
n3=$(gen c 20000 200000)
# one small batch in flight: the drain takes a few thousand round trips, room for a kill
sed -i 's/^retention_s = 0$/retention_s = 3600\nwindow = 1\nbatch_max_events = 1/' "$WORK/whagent.conf"
stop_broker # capture the backlog first, then drain it
start_agent $WH
cp "$WORK/gen/c-orders.csv" "$WORK/spool/"
wait_for 60 test -f "$WORK/spool/done/c-orders.csv" || fail "c-orders.csv not taken"
stop_agent
first=$((n1 + n2 + 1)); last=$((n1 + n2 + n3))
start_broker
start_consumer c3 --expect-first "$first" --expect-last "$last" --timeout 120
start_agent $WH
wait_for 20 grep -q "sending from seq $first" "$WORK/agent.log" || fail "no drain started"
wait_for 20 status_not acked_through $((first - 1)) || fail "no watermark progress"
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""
resume=$(status_field acked_through)
[ "$resume" -lt "$last" ] || fail "the drain finished before the kill"
start_agent $WH
wait_consumer
grep -q "sending from seq $((resume + 1))" "$WORK/agent.log" || fail "restart did not resend from the watermark"
[ "$(summary c3 "j['unique']")" = "$n3" ] || fail "after kill -9: $(cat "$WORK/c3.json")"
[ "$(summary c3 "j['gaps']")" = "[]" ] || fail "gaps after kill -9"
echo "kill -9 mid-stream at watermark $resume: $n3 events, $(summary c3 "j['duplicates']") duplicates removed by (journal_id, seq)"
stop_agent

# --- 3. error PUBACK ---------------------------------------------------------------------
stop_broker
printf 'topic read whagent/v1/#\ntopic write whagent/v1/+/status\n' > "$WORK/acl"
start_broker "acl_file $WORK/acl"
n4=$(gen d 500 300000)
acked=$(status_field acked_through)
start_agent $WH
cp "$WORK/gen/d-orders.csv" "$WORK/spool/"
wait_for 20 grep -q "broker refused batch" "$WORK/agent.log" || fail "no refusal logged"
sleep 2
[ "$(status_field acked_through)" = "$acked" ] || fail "watermark moved on a refused batch"
grep "broker refused batch" "$WORK/agent.log" | head -1
start_consumer c4 --expect-first $((acked + 1)) --expect-last $((acked + n4)) --timeout 60
printf 'topic readwrite whagent/v1/#\n' > "$WORK/acl"
kill -HUP "$BROKER_PID" # mosquitto re-reads its ACL
wait_consumer
[ "$(summary c4 "j['unique']")" = "$n4" ] || fail "after the ACL fix: $(cat "$WORK/c4.json")"
wait_for 10 status_is acked_through $((acked + n4)) ||
    fail "watermark after the ACL fix"
stop_agent
echo "PASS: outage, kill -9 mid-stream and refused batches: nothing lost, gapless"
