#!/bin/sh
# A journal that fails PRAGMA quick_check at start: the agent does not delete it; it moves it
# aside (with its WAL), salvages what SQLite can still read into a fresh journal with a new
# journal_id, reports what it salvaged (log and status), and runs. The salvaged events get
# new gapless seqs and reach the consumer decoded, once each.
# usage: corrupt_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"

start_broker
write_conf
BROKER_OFF=$(free_port) # capture first, with nowhere to send
mqtt_conf "retention_s = 3600"
sed -i "s/^port = $BROKER_PORT$/port = $BROKER_OFF/" "$WORK/whagent.conf"
mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 20000 --bad-every 0 --dup-every 0 --expect "$WORK/expect.json"
start_agent $WH
cp "$WORK/gen/wms-orders.csv" "$WORK/spool/"
wait_for 60 test -f "$WORK/spool/done/wms-orders.csv" || fail "capture"
old_id=$(status_field journal_id)
stop_agent
db=$WORK/state/journal.db
size=$(stat -c %s "$db")
# Damage a stretch in the middle of the file.
dd if=/dev/urandom of="$db" bs=4096 seek=$((size / 4096 / 2)) count=3 conv=notrunc 2>/dev/null
sqlite3 "$db" "PRAGMA quick_check" | grep -qx ok && fail "the damage did not show in quick_check"

sed -i "s/^port = $BROKER_OFF$/port = $BROKER_PORT/" "$WORK/whagent.conf"
: > "$WORK/agent.log"
start_consumer c1 --timeout 120
start_agent $WH
grep -q "failed its integrity check" "$WORK/agent.log" || fail "no salvage logged"
ls "$WORK"/state/journal.db.damaged-* >/dev/null 2>&1 || fail "the damaged journal was not kept"
new_id=$(status_field journal_id)
[ "$new_id" != "$old_id" ] || fail "no new journal_id"
note=$(status_field journal_note)
echo "report: $note"
n=$(status_field last_seq)
[ "$n" -gt 1000 ] && [ "$n" -lt 20000 ] || fail "salvaged $n of 20000 events"
[ "$(sql "SELECT count(*) = max(seq) AND min(seq) = 1 FROM event")" = 1 ] || fail "salvaged seqs not gapless"
wait_for 60 status_is backlog 0 || fail "salvaged events not delivered"
sleep 1
kill -TERM "$CONSUMER_PID"
wait_consumer
[ "$(summary c1 "list(s['journals'])")" = "['$new_id']" ] || fail "events under $(summary c1 "list(s['journals'])")"
[ "$(summary c1 "(j['unique'], j['gaps'], s['bad_batches'])")" = "($n, [], [])" ] ||
    fail "salvaged events as received: $(cat "$WORK/c1.json")"
stop_agent
echo "PASS: damaged journal kept aside, $n events salvaged into journal $new_id and delivered"
