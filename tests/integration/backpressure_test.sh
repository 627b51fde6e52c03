#!/bin/sh
# Back-pressure: with the journal at its byte budget the agent refuses further appends, keeps
# the file in the spool (nothing evicted, nothing lost) and says so; a SIGHUP with an invalid
# configuration is refused and changes nothing; a SIGHUP that raises the budget lets it go on
# from where it stopped, and every record ends up journaled exactly once.
# usage: backpressure_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"

MAX_BYTES=1MiB COMMIT_RECORDS=200 write_conf
mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 12000 --expect "$WORK/expect.json"
cp "$WORK/gen/wms-orders.csv" "$WORK/spool/"
start_agent $WH
wait_for 60 grep -q "spool: holding files back: journal holds" "$WORK/agent.log" || fail "no back-pressure"
held=$($WH status -c "$WORK/whagent.conf" --json | json_field last_seq)
sleep 1.5
[ -f "$WORK/spool/wms-orders.csv" ] || fail "file left the spool while the journal was full"
[ "$($WH status -c "$WORK/whagent.conf" --json | json_field last_seq)" = "$held" ] ||
    fail "appends went on past the budget"
bytes=$($WH status -c "$WORK/whagent.conf" --json | json_field journal_bytes)
[ "$bytes" -lt $((1024 * 1024 + 200 * 1024)) ] || fail "journal $bytes bytes, budget 1 MiB"

# An invalid configuration is refused; the agent goes on with the running one.
cp "$WORK/whagent.conf" "$WORK/good.conf"
echo "bogus = 1" >> "$WORK/whagent.conf"
kill -HUP "$AGENT_PID"
wait_for 10 grep -q "keeping the running configuration" "$WORK/agent.log" || fail "bad reload accepted"
kill -0 "$AGENT_PID" || fail "agent died on a bad reload"

sed 's/^max_bytes = 1MiB$/max_bytes = 64MiB/' "$WORK/good.conf" > "$WORK/whagent.conf"
kill -HUP "$AGENT_PID"
wait_for 10 grep -q "configuration reloaded" "$WORK/agent.log" || fail "reload not applied"
wait_for 60 test -f "$WORK/spool/done/wms-orders.csv" || fail "file not finished after the budget was raised"
stop_agent
check_journal "$WORK/expect.json" || fail "journal wrong after back-pressure"
echo "PASS: held at $held events by the budget, resumed after reload, every record once"
