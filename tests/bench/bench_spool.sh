#!/bin/sh
# Benchmark (reported, not asserted): journaled events per second for one large spool file,
# CSV and then JSON Lines, each side by side with a raw SQLite insert loop of the same number of
# rows with the same unique key, payload size and transaction size, in the same run; plus bytes
# written per event (write_bytes of /proc/PID/io) beside the raw insert's and the payload's.
# usage: bench_spool.sh BUILD_DIR [ROWS]
set -eu
BUILD=$(cd "$1" && pwd)
ROWS=${2:-${ROWS:-200000}}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/whagent-bench-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/gen"

python3 "$HERE/../integration/gen_wms.py" "$WORK/gen" --csv "$ROWS" --jsonl "$ROWS" --bad-every 0 \
    --dup-every 0 >/dev/null

# capture FILE: one spool file through a fresh agent, then the raw limit of the same rows.
capture() {
    rm -rf "$WORK/spool" "$WORK/state" "$WORK"/raw.db*
    mkdir -p "$WORK/spool" "$WORK/state"
    cat > "$WORK/whagent.conf" <<CONF
[agent]
site_id = BENCH
state_dir = $WORK/state
log_level = warn
[journal]
max_bytes = 4GiB
reserve_bytes = 0
commit_records = 1000
[input.spool]
dir = $WORK/spool
settle_ms = 0
on_done = delete
CONF
    file=$1
    cp "$WORK/gen/$file" "$WORK/spool/"
    sync

    # The agent: from start to the file's last commit (it exits ~0.2 s after, when idle).
    t0=$(date +%s.%N)
    "$BUILD/whagent" run -c "$WORK/whagent.conf" --until-idle &
    pid=$!
    wb=0
    while kill -0 "$pid" 2>/dev/null; do
        v=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io" 2>/dev/null || true)
        [ -n "$v" ] && wb=$v
        [ -f "$WORK/spool/$file" ] || break
        sleep 0.05
    done
    t1=$(date +%s.%N)
    v=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io" 2>/dev/null || true)
    [ -n "$v" ] && wb=$v
    wait "$pid"
    n=$(sqlite3 "$WORK/state/journal.db" "SELECT count(*) FROM event")
    plen=$(sqlite3 "$WORK/state/journal.db" "SELECT CAST(avg(length(payload)) AS INTEGER) FROM event")
    [ "$n" = "$ROWS" ] || { echo "journaled $n of $ROWS" >&2; exit 1; }

    # The raw limit, same machine, same run.
    set -- $("$BUILD/tests/bench_raw" "$WORK/raw.db" "$ROWS" 1000 "$plen")
    raw_s=$2
    raw_wb=$3

    awk -v f="$file" -v n="$n" -v t0="$t0" -v t1="$t1" -v wb="$wb" -v raw_s="$raw_s" \
        -v raw_wb="$raw_wb" -v plen="$plen" 'BEGIN {
        agent = n / (t1 - t0); raw = n / raw_s
        printf "%s: %d events (payload %d bytes on average)\n", f, n, plen
        printf "  whagent              %.0f events/s, %.0f bytes written per event\n", agent, wb / n
        printf "  raw SQLite inserts   %.0f rows/s, %.0f bytes written per row\n", raw, raw_wb / n
        printf "  capture ratio        %.2f of the raw rate (aim: >= 0.7)\n", agent / raw
        printf "  bytes ratio          %.2f of the raw insert, %.2f x the payload\n", wb / raw_wb, wb / n / plen
    }'
}

capture wms-orders.csv
capture wms-moves.jsonl
