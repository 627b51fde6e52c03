#!/bin/sh
# The command line as an operator uses it: check with good and bad configurations, status
# before and after the journal exists, and the quarantine workflow: a WMS column the mapping
# does not know lands records in quarantine; after the [map.NAME] section is fixed, requeue
# journals them; purge deletes what is beyond repair.
# usage: cli_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"

$WH version | grep -q "^whagent [0-9]" || fail "version"
$WH --help | grep -q "quarantine requeue" || fail "--help does not cover quarantine requeue"
$WH help-config | grep -q "max_bytes" || fail "help-config does not list keys"
if $WH frobnicate 2>/dev/null; then fail "unknown command accepted"; fi
# The shipped example configuration is valid (with its placeholder filled in).
sed "s|^site_id = CHANGE-ME|site_id = IT|" "$HERE/../../packaging/whagent.conf" > "$WORK/shipped.conf"
$WH check -c "$WORK/shipped.conf" >/dev/null || fail "packaging/whagent.conf does not pass check"

write_conf "map = acme"
cat >> "$WORK/whagent.conf" <<'CONF'
[map.acme]
sku = Item
CONF
$WH check -c "$WORK/whagent.conf" > "$WORK/check.out" || fail "check rejects a good configuration"
grep -q "^map.acme.sku = Item$" "$WORK/check.out" || fail "check does not print the mapping"
grep -q "^journal.synchronous = full$" "$WORK/check.out" || fail "check does not print defaults"

cp "$WORK/whagent.conf" "$WORK/bad.conf"
echo "colour = blue" >> "$WORK/bad.conf"
if $WH check -c "$WORK/bad.conf" 2> "$WORK/check.err"; then fail "check accepts an unknown key"; fi
grep -q "bad.conf:[0-9]*: \[map.acme\] colour: not a record field" "$WORK/check.err" ||
    fail "check error does not name file, line and key: $(cat "$WORK/check.err")"

if $WH status -c "$WORK/whagent.conf" 2> "$WORK/status.err"; then fail "status without a journal"; fi
grep -q "journal" "$WORK/status.err" || fail "status error unclear: $(cat "$WORK/status.err")"

# The WMS calls the SKU column "ItemNo", the mapping says "Item": every record is rejected.
printf 'kind,txn_id,event_time,ItemNo,qty,uom,bin\nPICK,C1,2026-03-01T10:00:00Z,S1,1,EA,A1\nPICK,C2,2026-03-01T10:00:01Z,S2,2,EA,A1\nPICK,C3,2026-03-01T10:00:02Z,S3,x,EA,A1\n' \
    > "$WORK/spool/acme.csv"
start_agent $WH
wait_for 30 test -f "$WORK/spool/done/acme.csv" || fail "acme.csv not taken"
stop_agent
$WH quarantine list -c "$WORK/whagent.conf" > "$WORK/list.out"
[ "$(wc -l < "$WORK/list.out")" = 3 ] || fail "expected 3 quarantined: $(cat "$WORK/list.out")"
grep -q "acme.csv line 2: column Item (or sku) is required" "$WORK/list.out" || fail "reason: $(cat "$WORK/list.out")"
$WH quarantine show 1 -c "$WORK/whagent.conf" > "$WORK/show.out"
grep -q "^PICK,C1,2026-03-01T10:00:00Z,S1,1,EA,A1$" "$WORK/show.out" || fail "show lacks the raw record"
grep -q "^header    kind,txn_id,event_time,ItemNo,qty,uom,bin$" "$WORK/show.out" || fail "show lacks the header"

# Requeue with the wrong mapping still refuses, and keeps the record.
if $WH quarantine requeue 1 -c "$WORK/whagent.conf" > "$WORK/rq.out"; then fail "requeue took an invalid record"; fi
grep -q "still invalid: column Item (or sku) is required" "$WORK/rq.out" || fail "requeue reason: $(cat "$WORK/rq.out")"

sed -i 's/^sku = Item$/sku = ItemNo/' "$WORK/whagent.conf"
$WH quarantine requeue 1 -c "$WORK/whagent.conf" | grep -q "journaled as seq 1" || fail "requeue 1"
$WH quarantine requeue 2 -c "$WORK/whagent.conf" | grep -q "journaled as seq 2" || fail "requeue 2"
if $WH quarantine requeue 3 -c "$WORK/whagent.conf" > "$WORK/rq.out"; then fail "requeue took qty x"; fi
grep -q "column qty: 'x' is not a decimal number" "$WORK/rq.out" || fail "requeue 3 reason"
$WH quarantine purge 3 -c "$WORK/whagent.conf" | grep -q "purged 3" || fail "purge"
if $WH quarantine purge 3 -c "$WORK/whagent.conf" 2>/dev/null; then fail "purge of a purged id"; fi

$WH status -c "$WORK/whagent.conf" --json > "$WORK/status.json"
[ "$(json_field last_seq < "$WORK/status.json")" = 2 ] || fail "last_seq after requeue"
[ "$(json_field quarantined < "$WORK/status.json")" = 0 ] || fail "quarantine not empty"
[ "$(sql "SELECT group_concat(source_key) FROM event ORDER BY seq")" = "C1,C2" ] || fail "events"

# Requeue of a record already journaled is a duplicate, not a second event.
printf 'kind,txn_id,event_time,ItemNo,qty,uom,Slot\nPICK,C1,2026-03-01T10:00:00Z,S1,1,EA,A1\n' > "$WORK/spool/again.csv"
start_agent $WH
wait_for 30 test -f "$WORK/spool/done/again.csv" || fail "again.csv not taken"
stop_agent
sed -i 's/^sku = ItemNo$/sku = ItemNo\nbin = Slot/' "$WORK/whagent.conf"
$WH quarantine requeue 4 -c "$WORK/whagent.conf" | grep -q "duplicate of an event journaled as seq 1" ||
    fail "requeue of a repeat is not a duplicate"
[ "$(sql "SELECT count(*) FROM event")" = 2 ] || fail "a repeat was journaled twice"
echo "PASS: check, status and the quarantine workflow"
