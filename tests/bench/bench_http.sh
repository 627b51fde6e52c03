#!/bin/sh
# HTTP input benchmark (reported, not asserted): wrk POSTs JSON Lines bodies of 1, 100 and
# 1,000 new records (every record a new transaction id, so each is journaled) for DURATION
# seconds each, with CONNECTIONS concurrent connections; requests/s, events/s and the latency of
# an acknowledged POST (p50, p99), next to the raw SQLite append rate of the same rows in the
# same run (tests/bench/bench_raw.c, 1,000-row transactions, synchronous=FULL).
# usage: bench_http.sh BUILD_DIR [DURATION] [CONNECTIONS]
set -eu
BUILD=$(cd "$1" && pwd)
DURATION=${2:-5}
CONNS=${3:-16}
. "$(dirname "$0")/lib.sh"
WH=$BUILD/whagent
PORT=$(free_port)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
write_conf
sed -i 's/^max_bytes = .*/max_bytes = 8GiB/' "$WORK/whagent.conf"
printf '[input.http]\nlisten = 127.0.0.1:%s\nmax_body_bytes = 4MiB\nmax_records_per_request = 1000\n' \
    "$PORT" >> "$WORK/whagent.conf"
start_agent "$WH"

printf '%-9s %10s %12s %10s %10s %8s\n' records req/s events/s p50 p99 non-2xx
for n in 1 100 1000; do
    cat > "$WORK/post.lua" <<LUA
local n, counter = $n, 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
local tid = 0
setup = function(thread) tid = tid + 1; thread:set("tid", tid) end
request = function()
    counter = counter + 1
    local lines = {}
    for k = 1, n do
        lines[k] = string.format('{"kind":"pick","txn_id":"B$n-%d-%d-%d","event_time":"2026-03-01T10:00:00Z","sku":"SKU-1","qty":1,"uom":"EA","bin":"A-01"}', tid, counter, k)
    end
    return wrk.format(nil, "/v1/events", nil, table.concat(lines, "\\n"))
end
LUA
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT" > "$WORK/wrk.$n" 2>&1
    rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.$n")
    p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.$n")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.$n")
    bad=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.$n")
    printf '%-9s %10s %12.0f %10s %10s %8s\n' "$n" "$rps" "$(awk -v r="$rps" -v n="$n" 'BEGIN {print r * n}')" \
        "$p50" "$p99" "${bad:-0}"
done
stop_agent
total=$(sql "SELECT count(*) FROM event")
plen=$(sql "SELECT CAST(avg(length(payload)) AS INTEGER) FROM event")
set -- $("$BUILD/tests/bench_raw" "$WORK/raw.db" 200000 1000 "$plen")
echo "journaled $total events; raw SQLite append (1,000-row transactions, same payload size): $(awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n / s}') rows/s"
