#!/bin/sh
# Lanes benchmark (reported, not asserted): how long a new event waits while an old backlog
# drains through a rate-limited uplink (a WAN link), with the live and backfill lanes and, in
# the same run, with one lane (backfill_after_s = 0: the new event queues behind the backlog).
# EVENTS (default 500,000) are journaled with the broker away; once it is back, LIVE events are
# posted over HTTP, one every 0.5 s; their latency (capture to arrival at the reference
# platform, from its store) and the drain time are reported per mode.
# usage: bench_lanes.sh BUILD_DIR [EVENTS] [RATE]
set -eu
BUILD=$(cd "$1" && pwd)
EVENTS=${2:-${EVENTS:-500000}}
RATE=${3:-${RATE:-3MiB}}
LIVE=10
. "$(dirname "$0")/lib.sh"
WH=$BUILD/whagent
mkdir -p "$WORK/gen"
python3 "$TOP/tests/integration/gen_wms.py" "$WORK/gen" --csv "$EVENTS" --bad-every 0 --dup-every 0 \
    --prefix bulk >/dev/null

run() { # run MODE BACKFILL_AFTER_S: prints "MODE p50_ms max_ms drain_s"
    rm -rf "$WORK/state" "$WORK/spool" "$WORK/agent.log" "$WORK/platform.db"*
    BROKER_PORT=$(free_port)
    HTTP_PORT=$(free_port)
    COMMIT_RECORDS=5000 write_conf
    mqtt_conf "backfill_after_s = $2
max_bytes_per_s = $RATE
batch_max_events = 1000
[input.http]
listen = 127.0.0.1:$HTTP_PORT"
    start_agent "$WH"
    cp "$WORK/gen/bulk-orders.csv" "$WORK/spool/"
    wait_for 300 status_is last_seq "$EVENTS" || fail "capture"
    sleep 1.5
    stop_agent
    start_broker
    start_consumer "c-$1" --store "$WORK/platform.db" --expect-last $((EVENTS + LIVE)) --timeout 600
    start_agent "$WH"
    t0=$(date +%s.%N)
    wait_for 30 grep -q "connected to" "$WORK/agent.log" || fail "no connection"
    sleep 1
    i=1
    while [ $i -le $LIVE ]; do
        curl -s -o /dev/null -H 'Content-Type: application/json' --data \
            '{"kind":"pick","txn_id":"LIVE-'$i'","event_time":"2026-03-01T10:00:00Z","sku":"S","qty":1,"uom":"EA","bin":"A"}' \
            "http://127.0.0.1:$HTTP_PORT/v1/events"
        sleep 0.5
        i=$((i + 1))
    done
    wait_consumer
    t1=$(date +%s.%N)
    stop_agent
    stop_broker
    lat=$(sqlite3 "$WORK/platform.db" "SELECT received_at_ms - captured_at_ms FROM event WHERE seq > $EVENTS ORDER BY 1" | tr '\n' ' ')
    python3 - "$1" "$t0" "$t1" $lat <<'PY'
import sys
mode, t0, t1, lat = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sorted(int(x) for x in sys.argv[4:])
print(mode, lat[len(lat) // 2], lat[-1], "%.1f" % (t1 - t0))
PY
}

set -- $(run lanes 1) $(run one-lane 0)
echo "backlog $EVENTS events drained through max_bytes_per_s = $RATE; $LIVE new events posted during the drain"
printf "%-10s live latency p50 %6d ms, max %6d ms; drain %s s\n" "$1" "$2" "$3" "$4"
printf "%-10s live latency p50 %6d ms, max %6d ms; drain %s s\n" "$5" "$6" "$7" "$8"
awk -v a="$6" -v b="$2" 'BEGIN { if (b > 0) printf "one lane / lanes, p50 latency: %.0fx\n", a / b }'
