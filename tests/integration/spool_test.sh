#!/bin/sh
# Integration: the real `whagent run` takes CSV and JSON Lines files (thousands of records,
# some malformed, some repeated) from its spool folder. Checks through `whagent status --json`
# and the sqlite3 CLI that every valid record was journaled once with gapless seq, every bad
# line is quarantined with its position and reason, repeats were counted as duplicates,
# finished files went to done/ and temporary names were left alone.
# usage: spool_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"

write_conf
mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 3000 --jsonl 2000 --expect "$WORK/expect.json"
# A second CSV repeats transactions of the first (a WMS re-export): all duplicates.
head -n 1 "$WORK/gen/wms-orders.csv" > "$WORK/gen/wms-reexport.csv"
grep -E '^(PICK|RECEIPT),TXN-00000000[1-9],' "$WORK/gen/wms-orders.csv" >> "$WORK/gen/wms-reexport.csv"
reexport=$(($(wc -l < "$WORK/gen/wms-reexport.csv") - 1))
[ "$reexport" -gt 0 ] || fail "generator produced no re-export rows"
python3 - "$WORK/expect.json" "$reexport" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); e["duplicates"] += int(sys.argv[2])
json.dump(e, open(sys.argv[1], "w"))
PY

start_agent $WH
# Files appear the ways WMS exports do: written under a temporary name and renamed in...
cp "$WORK/gen/wms-orders.csv" "$WORK/spool/wms-orders.csv.part"
mv "$WORK/spool/wms-orders.csv.part" "$WORK/spool/wms-orders.csv"
# ...or written in place (taken once unchanged for settle_ms).
cp "$WORK/gen/wms-moves.jsonl" "$WORK/spool/wms-moves.jsonl"
echo "not for us" > "$WORK/spool/upload.csv.tmp"
cp "$WORK/gen/wms-orders.csv" "$WORK/spool/.hidden.csv"

wait_for 60 test -f "$WORK/spool/done/wms-orders.csv" || fail "wms-orders.csv not taken"
wait_for 60 test -f "$WORK/spool/done/wms-moves.jsonl" || fail "wms-moves.jsonl not taken"
cp "$WORK/gen/wms-reexport.csv" "$WORK/spool/wms-reexport.csv"
wait_for 60 test -f "$WORK/spool/done/wms-reexport.csv" || fail "wms-reexport.csv not taken"

$WH status -c "$WORK/whagent.conf" --json > "$WORK/status.json" || fail "status while running"
stop_agent

expected=$(python3 -c "import json; print(len(json.load(open('$WORK/expect.json'))['keys']))")
[ "$(json_field last_seq < "$WORK/status.json")" = "$expected" ] || fail "status last_seq != $expected"
[ "$(json_field backlog < "$WORK/status.json")" = "$expected" ] || fail "status backlog != $expected"
check_journal "$WORK/expect.json" || fail "journal does not match the workload"
[ -f "$WORK/spool/upload.csv.tmp" ] && [ -f "$WORK/spool/.hidden.csv" ] || fail "temporary names were touched"
[ "$(sql "SELECT count(*) FROM cursor")" = 0 ] || fail "cursors of finished files left behind"

# A restart takes nothing twice: the done files are not read again.
start_agent $WH
sleep 1
stop_agent
check_journal "$WORK/expect.json" || fail "journal changed after restart"
echo "PASS: $expected events journaled once, gapless; duplicates and quarantine as expected"
