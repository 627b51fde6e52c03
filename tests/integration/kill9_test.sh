#!/bin/sh
# Crash test: `kill -9` the daemon again and again while it takes large files (small
# transactions, so kills land mid-file); after the last restart the journal holds every
# valid record exactly once, seq gapless, every bad line quarantined once, duplicates counted
# once. The kill moments come from a seed that is printed (SEED=... replays a run).
# usage: kill9_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"
SEED=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "seed $SEED"

COMMIT_RECORDS=100 write_conf
mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 100000 --jsonl 30000 --seed "$SEED" \
    --expect "$WORK/expect.json"
cp "$WORK/gen/wms-orders.csv" "$WORK/gen/wms-moves.jsonl" "$WORK/spool/"

# Kill delays in ms, from the seed.
python3 -c "import random; r = random.Random($SEED); print(' '.join(str(r.randint(30, 350)) for _ in range(40)))" \
    > "$WORK/delays"
kills=0
for ms in $(cat "$WORK/delays"); do
    [ -f "$WORK/spool/done/wms-orders.csv" ] && [ -f "$WORK/spool/done/wms-moves.jsonl" ] && break
    "$@" run -c "$WORK/whagent.conf" >>"$WORK/agent.log" 2>&1 &
    AGENT_PID=$!
    sleep "$(echo "$ms" | awk '{printf "%.3f", $1 / 1000}')"
    kill -9 "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=""
    kills=$((kills + 1))
done
[ "$kills" -ge 3 ] || fail "only $kills kills landed before the files were done"

start_agent $WH
wait_for 120 test -f "$WORK/spool/done/wms-orders.csv" || fail "wms-orders.csv not finished"
wait_for 120 test -f "$WORK/spool/done/wms-moves.jsonl" || fail "wms-moves.jsonl not finished"
stop_agent
resumes=$(grep -c "resuming" "$WORK/agent.log" || true)
[ "$resumes" -ge 1 ] || fail "no kill landed mid-file (no resume logged)"
check_journal "$WORK/expect.json" || fail "journal wrong after $kills kills (seed $SEED)"
echo "PASS: $kills kills ($resumes mid-file resumes), every record exactly once, seq gapless"
