# Shared helpers of the shell benchmarks (sourced). Every wait is bounded; every process
# started is stopped by its PID on exit. The integration tests use integration/harness.py.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/whagent-it-XXXXXX")
AGENT_PID=""
BROKER_PID=""
CONSUMER_PID=""
CONSUMER_PIDS="" # every consumer started, for the clean-up
TOP=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3 # Debian's, with python3-paho-mqtt and python3-protobuf

cleanup() {
    for pid in $AGENT_PID $CONSUMER_PIDS $BROKER_PID; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL: $*" >&2
    [ -f "$WORK/agent.log" ] && tail -20 "$WORK/agent.log" >&2
    [ -f "$WORK/broker.log" ] && tail -5 "$WORK/broker.log" >&2
    exit 1
}

# write_conf [extra lines for [input.spool]]
write_conf() {
    mkdir -p "$WORK/spool" "$WORK/state"
    cat > "$WORK/whagent.conf" <<CONF
[agent]
site_id = IT-SITE
state_dir = $WORK/state
[journal]
max_bytes = ${MAX_BYTES:-256MiB}
reserve_bytes = 0
commit_records = ${COMMIT_RECORDS:-500}
[input.spool]
dir = $WORK/spool
settle_ms = 300
rescan_ms = 200
${1:-}
CONF
}

# --- broker and consumer ---------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() {
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1).close()"
}

# start_broker [extra mosquitto.conf lines]: a mosquitto of our own on a free loopback port
# (BROKER_PORT, kept across restarts).
start_broker() {
    [ -n "${BROKER_PORT:-}" ] || BROKER_PORT=$(free_port)
    cat > "$WORK/broker.conf" <<CONF
user root
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
listener $BROKER_PORT 127.0.0.1
allow_anonymous true
max_queued_messages 1000000
${1:-}
CONF
    mosquitto -c "$WORK/broker.conf" >>"$WORK/broker.log" 2>&1 &
    BROKER_PID=$!
    wait_for 20 port_open "$BROKER_PORT" || fail "broker did not start on port $BROKER_PORT"
}

stop_broker() {
    kill -"${1:-TERM}" "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=""
}

# mqtt_conf [extra lines]: appends an [mqtt] section for the test broker.
mqtt_conf() {
    cat >> "$WORK/whagent.conf" <<CONF
[mqtt]
host = 127.0.0.1
port = $BROKER_PORT
reconnect_min_ms = 100
reconnect_max_ms = 1000
status_interval_s = 2
drain_timeout_ms = 3000
${1:-}
CONF
}

# start_consumer NAME [consumer args]: the reference consumer in the background, subscribed
# before this returns; its JSON summary goes to $WORK/NAME.json.
start_consumer() {
    name=$1; shift
    rm -f "$WORK/$name.ready"
    $PY "$TOP/packaging/consumer/whagent_consumer.py" --port "$BROKER_PORT" --site IT-SITE \
        --ready "$WORK/$name.ready" "$@" > "$WORK/$name.json" 2>"$WORK/$name.err" &
    CONSUMER_PID=$!
    CONSUMER_PIDS="$CONSUMER_PIDS $CONSUMER_PID"
    wait_for 30 test -f "$WORK/$name.ready" || fail "consumer $name did not subscribe: $(cat "$WORK/$name.err")"
}

# wait_consumer [PID]: waits for the consumer (the last one started) to exit (it has a
# --timeout of its own).
wait_consumer() {
    wait "${1:-$CONSUMER_PID}" || true
    [ -n "${1:-}" ] || CONSUMER_PID=""
}

# summary NAME PYTHON-EXPRESSION: evaluates an expression over the consumer summary `s`
# (and `j`, its single journal) and prints it.
summary() {
    $PY -c "import json, sys
s = json.load(open('$WORK/$1.json'))
j = list(s['journals'].values())[0] if len(s['journals']) == 1 else None
print($2)"
}

# start_agent WHAGENT...: starts `whagent run` and waits until it is running (a signal sent
# before the process has exec'd could hit the forking shell instead).
start_agent() {
    lines=0
    [ -f "$WORK/agent.log" ] && lines=$(wc -l < "$WORK/agent.log")
    "$@" run -c "$WORK/whagent.conf" >>"$WORK/agent.log" 2>&1 &
    AGENT_PID=$!
    wait_for 30 agent_running "$lines" || fail "agent did not start"
}

agent_running() {
    tail -n +"$(($1 + 1))" "$WORK/agent.log" | grep -q "running (site"
}

# stop_agent: SIGTERM, then a bounded wait for a clean exit.
stop_agent() {
    kill -TERM "$AGENT_PID"
    wait_for 30 sh -c "! kill -0 $AGENT_PID" || fail "agent did not stop within 30 s of SIGTERM"
    wait "$AGENT_PID" || fail "agent exited with status $? on SIGTERM"
    AGENT_PID=""
}

# status_field FIELD: one field of `whagent status --json` (WH must be set).
status_field() {
    $WH status -c "$WORK/whagent.conf" --json | json_field "$1"
}

# status_is FIELD VALUE / status_not FIELD VALUE: for wait_for.
status_is() {
    [ "$(status_field "$1")" = "$2" ]
}

status_not() {
    [ "$(status_field "$1")" != "$2" ]
}

# json_field FIELD < json
json_field() {
    python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds.
wait_for() {
    limit=$(( $1 * 5 )); shift
    i=0
    while [ $i -lt $limit ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}

sql() {
    sqlite3 -readonly "$WORK/state/journal.db" "$1"
}

# check_journal EXPECT_JSON: every expected key journaled once, seq gapless from 1, the
# duplicate count and every quarantined record (position and reason) as expected.
check_journal() {
    sql "SELECT source_key FROM event ORDER BY seq" > "$WORK/keys.txt"
    sql "SELECT position || ': ' || reason FROM quarantine ORDER BY id" > "$WORK/quarantine.txt"
    sql "SELECT count(*), ifnull(min(seq), 0), ifnull(max(seq), 0), count(DISTINCT source_key) FROM event" \
        > "$WORK/seqs.txt"
    sql "SELECT value FROM meta WHERE key = 'duplicates'" > "$WORK/dups.txt"
    python3 - "$1" "$WORK" <<'PY'
import json, sys
exp = json.load(open(sys.argv[1]))
work = sys.argv[2]
keys = open(work + "/keys.txt").read().split()
count, lo, hi, distinct = map(int, open(work + "/seqs.txt").read().strip().split("|"))
errors = []
if count != len(exp["keys"]) or distinct != count:
    errors.append("journal holds %d events (%d distinct keys), expected %d" % (count, distinct, len(exp["keys"])))
if count and (lo != 1 or hi != count):
    errors.append("seq not gapless: %d events span %d..%d" % (count, lo, hi))
missing = set(exp["keys"]) - set(keys)
extra = set(keys) - set(exp["keys"])
if missing or extra:
    errors.append("missing %d keys (%s), unexpected %d" % (len(missing), sorted(missing)[:3], len(extra)))
dups = int(open(work + "/dups.txt").read())
if dups != exp["duplicates"]:
    errors.append("duplicates %d, expected %d" % (dups, exp["duplicates"]))
quar = [l for l in open(work + "/quarantine.txt").read().splitlines() if l]
if len(quar) != len(exp["quarantined"]):
    errors.append("%d quarantined, expected %d" % (len(quar), len(exp["quarantined"])))
else:
    for got, want in zip(sorted(quar), sorted(exp["quarantined"], key=lambda q: q["position"] + ": ")):
        if not got.startswith(want["position"] + ": ") or want["reason"] not in got:
            errors.append("quarantine entry '%s' does not match %s" % (got, want))
            break
for e in errors:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
PY
}
