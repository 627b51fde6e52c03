#!/bin/sh
# Uplink benchmark (reported, not asserted), all on this machine in one run:
#  - drain: a backlog of EVENTS (default 1,000,000) events captured while the broker was away,
#    sent to a local mosquitto until every batch is acknowledged (the agent logs the time);
#  - raw limit: libmosquitto QoS 1 publishing the same number of messages of the same size
#    with the same window (tests/bench/bench_mqtt_raw.c);
#  - memory: the agent's RSS idle with the backlog journaled, and its peak during the drain;
#  - steady state: spool file → journal → broker acknowledged, end to end.
# usage: bench_uplink.sh BUILD_DIR [EVENTS]
set -eu
BUILD=$(cd "$1" && pwd)
EVENTS=${2:-${EVENTS:-1000000}}
. "$(dirname "$0")/lib.sh"
WH=$BUILD/whagent
GEN=$TOP/tests/integration/gen_wms.py
mkdir -p "$WORK/gen"

BROKER_PORT=$(free_port)
write_conf
sed -i 's/^max_bytes = .*/max_bytes = 4GiB/; s/^commit_records = .*/commit_records = 1000/' "$WORK/whagent.conf"
mqtt_conf "window = 32
batch_max_events = 500
reconnect_min_ms = 50
reconnect_max_ms = 200"
sed -i 's/^reconnect_min_ms = 100$//; s/^reconnect_max_ms = 1000$//' "$WORK/whagent.conf"

echo "generating $EVENTS events..."
python3 "$GEN" "$WORK/gen" --csv "$EVENTS" --bad-every 0 --dup-every 0 --prefix big
start_agent "$WH"
t0=$(date +%s.%N)
mv "$WORK/gen/big-orders.csv" "$WORK/spool/"
wait_for 600 test -f "$WORK/spool/done/big-orders.csv" || fail "capture did not finish"
t1=$(date +%s.%N)
stop_agent
capture=$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')

# Idle with the backlog (broker still away), then the drain.
: > "$WORK/agent.log"
start_agent "$WH"
sleep 1
rss_idle=$(awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
start_broker
wait_for 600 grep -q "caught up with the journal" "$WORK/agent.log" || fail "drain did not finish"
rss_peak=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
drain_ms=$(sed -n 's/.*caught up with the journal at seq [0-9]*: [0-9]* events in \([0-9]*\) ms.*/\1/p' "$WORK/agent.log")
stop_agent
batches=$(( (EVENTS + 499) / 500 ))
bytes=$(sqlite3 "$WORK/state/journal.db" "SELECT (sum(length(payload)) + 3 * count(*)) / $batches + 120 FROM event")

set -- $("$BUILD/tests/bench_mqtt_raw" "$BROKER_PORT" "$batches" "$bytes" 32)
raw_s=$2

# Steady state: a fresh journal, the broker up, a file of STEADY events, pruned as soon as
# acknowledged (retention_s = 0) so that the bytes written cover each event's whole life:
# capture, ledger, watermark, prune, WAL checkpoints, and the fold and checkpoint at the stop.
# The agent runs under a shell that reads its own write_bytes once it has reaped the agent
# (Linux adds a reaped child's I/O to its parent's).
STEADY=$((EVENTS / 4))
rm -rf "$WORK/state" "$WORK/spool/done"
mkdir -p "$WORK/state"
# As in bench_spool.sh: the file is taken at once (settle_ms = 0), and the end is seen by
# reading the watermark every 0.05 s with sqlite3 (whagent status piped into Python took 0.15 s
# of CPU per look, every 0.2 s, beside the agent).
sed -i 's/^\[mqtt\]$/[mqtt]\nretention_s = 0/; s/^settle_ms = .*/settle_ms = 0/' "$WORK/whagent.conf"
python3 "$GEN" "$WORK/gen" --csv "$STEADY" --bad-every 0 --dup-every 0 --prefix steady
: > "$WORK/agent.log"
sh -c '"$0" run -c "$1" >>"$2" 2>&1 & echo $! > "$3.pid"; wait $!; awk "/^write_bytes/ {print \$2}" /proc/$$/io > "$3"' \
    "$WH" "$WORK/whagent.conf" "$WORK/agent.log" "$WORK/steady.io" &
wrapper=$!
wait_for 30 agent_running 0 || fail "agent did not start"
AGENT_PID=$(cat "$WORK/steady.io.pid")
t0=$(date +%s.%N)
mv "$WORK/gen/steady-orders.csv" "$WORK/spool/"
polls=0
until [ "$(sql "SELECT value FROM meta WHERE key = 'acked_through'" 2>/dev/null)" = "$STEADY" ]; do
    polls=$((polls + 1))
    [ "$polls" -le 12000 ] || fail "steady state did not finish within 600 s"
    sleep 0.05
done
t1=$(date +%s.%N)
# (the watermark and the prune are two transactions: the count is read again at every look)
pruned() {
    [ "$(sql 'SELECT count(*) FROM event' 2>/dev/null)" = 0 ]
}
wait_for 120 pruned || fail "acknowledged events were not pruned"
kill -TERM "$AGENT_PID"
wait "$wrapper" || true
AGENT_PID=""
steady_wb=$(cat "$WORK/steady.io")
# the payload bytes of those events: the same generator into a journal of the capture above
plen=$(awk -v b="$bytes" 'BEGIN {printf "%d", (b - 120) / 500 - 3}')
set -- $("$BUILD/tests/bench_raw" "$WORK/raw.db" "$STEADY" 1000 "$plen")
raw_ins_s=$2

awk -v n="$EVENTS" -v ms="$drain_ms" -v raw_s="$raw_s" -v batches="$batches" -v bytes="$bytes" \
    -v idle="$rss_idle" -v peak="$rss_peak" -v capture="$capture" -v steady="$STEADY" \
    -v a="$t0" -v b="$t1" -v wb="$steady_wb" -v plen="$plen" -v raw_ins_s="$raw_ins_s" 'BEGIN {
    drain = n / (ms / 1000); raw = n / raw_s; st = steady / (b - a)
    printf "capture (spool -> journal, broker away)  %d events/s\n", capture
    printf "drain of %d events                 %.0f events/s (%.2f s)\n", n, drain, ms / 1000
    printf "raw libmosquitto QoS 1, %d x %d B  %.0f events/s (%.2f s)\n", batches, bytes, raw, raw_s
    printf "drain / raw                               %.2f (aim: >= 0.7)\n", drain / raw
    printf "agent RSS idle with the backlog           %d KiB\n", idle
    printf "agent peak RSS during the drain           %d KiB (+%d KiB, aim: <= +4096)\n", peak, peak - idle
    printf "steady state, %d events spool -> acked  %.0f events/s (aim: >= 50000; watermark saved every 0.5 s, read every 0.05 s)\n", steady, st
    printf "steady state / raw SQLite insert          %.2f (raw %.0f rows/s)\n", st / (steady / raw_ins_s), steady / raw_ins_s
    printf "bytes written per event, whole life       %.0f = %.2f x its %d payload bytes (aim: <= 3)\n", wb / steady, wb / steady / plen, plen
}'
