#!/bin/sh
# Benchmark (reported, not asserted): instructions per event counted by valgrind --tool=callgrind
# over a fixed workload (gen_wms.py, seed 1), so deterministic from run to run and closest to
# what a slow ARM gateway feels. Each figure is a difference of two runs, the work and the same
# run without it, divided by the events:
#  - capture: a CSV and a JSONL spool file of EVENTS rows -> journal (the agent's fold of the
#    ledger at exit included), beside a raw SQLite insert of the same rows (bench_raw);
#  - drain: the captured backlog -> a local mosquitto, acknowledged, beside the raw libmosquitto
#    QoS 1 publisher sending the same batches (bench_mqtt_raw);
#  - steady state: the CSV file captured with the broker up, sent, acknowledged and pruned
#    (retention_s = 0), beside the raw SQLite insert.
# usage: bench_instr.sh BUILD_DIR [EVENTS]
set -eu
BUILD=$(cd "$1" && pwd)
EVENTS=${2:-${EVENTS:-20000}}
. "$(dirname "$0")/lib.sh"
WH=$BUILD/whagent
GEN=$TOP/tests/integration/gen_wms.py

# ir COMMAND...: the instructions COMMAND executed.
ir() {
    n=$(ls "$WORK" | wc -l)
    out="$WORK/callgrind.$n"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$out.log" ||
        fail "callgrind of $*: $(tail -3 "$out.log")"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out.log"
}

# fresh_state: an empty journal directory and spool folder.
fresh_state() {
    rm -rf "$WORK/state" "$WORK/spool"
    mkdir -p "$WORK/state" "$WORK/spool"
}

run_agent() {
    ir "$WH" run -c "$WORK/whagent.conf" --until-idle
}

mkdir -p "$WORK/gen"
python3 "$GEN" "$WORK/gen" --csv "$EVENTS" --jsonl "$EVENTS" --bad-every 0 --dup-every 0 >/dev/null
write_conf "on_done = delete"
sed -i 's/^settle_ms = .*/settle_ms = 0/; s/^commit_records = .*/commit_records = 1000/' \
    "$WORK/whagent.conf"
sed -i 's/^\[agent\]$/[agent]\nlog_level = warn/' "$WORK/whagent.conf"

fresh_state
idle=$(run_agent)
fresh_state
cp "$WORK/gen/wms-moves.jsonl" "$WORK/spool/"
jsonl=$(run_agent)
jsonl_plen=$(sqlite3 "$WORK/state/journal.db" "SELECT CAST(avg(length(payload)) AS INTEGER) FROM event")
fresh_state
cp "$WORK/gen/wms-orders.csv" "$WORK/spool/"
csv=$(run_agent)
[ "$(sqlite3 "$WORK/state/journal.db" "SELECT count(*) FROM event")" = "$EVENTS" ] ||
    fail "the CSV file was not journaled whole"
plen=$(sqlite3 "$WORK/state/journal.db" "SELECT CAST(avg(length(payload)) AS INTEGER) FROM event")

# The backlog just captured, drained; then the same with nothing to send.
start_broker
mqtt_conf "window = 32
batch_max_events = 500"
drain=$(run_agent)
[ "$(sqlite3 "$WORK/state/journal.db" "SELECT value FROM meta WHERE key = 'acked_through'")" = "$EVENTS" ] ||
    fail "the backlog was not acknowledged whole"
drain_idle=$(run_agent)
fresh_state
sed -i 's/^\[mqtt\]$/[mqtt]\nretention_s = 0/' "$WORK/whagent.conf"
cp "$WORK/gen/wms-orders.csv" "$WORK/spool/"
steady=$(run_agent)
[ "$(sqlite3 "$WORK/state/journal.db" "SELECT value FROM meta WHERE key = 'acked_through'")" = "$EVENTS" ] ||
    fail "the steady state's events were not acknowledged whole"
steady_idle=$(run_agent)

raw0=$(ir "$BUILD/tests/bench_raw" "$WORK/raw0.db" 0 1000 "$plen")
raw=$(ir "$BUILD/tests/bench_raw" "$WORK/raw.db" "$EVENTS" 1000 "$plen")
rawj=$(ir "$BUILD/tests/bench_raw" "$WORK/rawj.db" "$EVENTS" 1000 "$jsonl_plen")
batches=$(( (EVENTS + 499) / 500 ))
bytes=$(( (plen + 3) * 500 + 120 ))
pub0=$(ir "$BUILD/tests/bench_mqtt_raw" "$BROKER_PORT" 1 "$bytes" 32)
pub=$(ir "$BUILD/tests/bench_mqtt_raw" "$BROKER_PORT" $((batches + 1)) "$bytes" 32)

awk -v n="$EVENTS" -v idle="$idle" -v csv="$csv" -v jsonl="$jsonl" -v drain="$drain" \
    -v drain_idle="$drain_idle" -v steady="$steady" -v steady_idle="$steady_idle" -v raw0="$raw0" -v raw="$raw" -v rawj="$rawj" -v pub0="$pub0" \
    -v pub="$pub" 'BEGIN {
    c = (csv - idle) / n; j = (jsonl - idle) / n; d = (drain - drain_idle) / n
    s = (steady - steady_idle) / n
    r = (raw - raw0) / n; rj = (rawj - raw0) / n; p = (pub - pub0) / n
    printf "instructions per event (callgrind, %d events)\n", n
    printf "capture CSV            %8.0f  raw SQLite insert %6.0f per row  ratio %.2f\n", c, r, r / c
    printf "capture JSONL          %8.0f  raw SQLite insert %6.0f per row  ratio %.2f\n", j, rj, rj / j
    printf "drain                  %8.0f  raw QoS 1 publish %6.0f per event ratio %.2f\n", d, p, p / d
    printf "steady state (CSV)     %8.0f  raw SQLite insert %6.0f per row  ratio %.2f\n", s, r, r / s
}'
