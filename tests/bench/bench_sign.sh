#!/bin/sh
# Signed batches (reported, not asserted): the cost of one signature over a batch-sized buffer,
# the cost of taking a signed platform ack (SignedControl: decode, checks, verification), and
# the drain of the same EVENTS-event backlog to a local broker with sign_batches off and on, in
# the same run.
# usage: bench_sign.sh BUILD_DIR [EVENTS]
set -eu
BUILD=$(cd "$1" && pwd)
EVENTS=${2:-200000}
. "$(dirname "$0")/lib.sh"
WH=$BUILD/whagent
mkdir -p "$WORK/gen" "$WORK/id"
python3 "$TOP/tests/integration/gen_wms.py" "$WORK/gen" --csv "$EVENTS" --bad-every 0 --dup-every 0
BROKER_PORT=$(free_port)
drain() { # drain on|off: captures the backlog with the broker away, drains it; ms in $WORK/ms.on|off
    rm -rf "$WORK/state" "$WORK/spool"
    write_conf
    mqtt_conf "window = 32
batch_max_events = 500
keyfile = $WORK/id/client.key
sign_batches = $([ "$1" = on ] && echo true || echo false)"
    sed -i 's/^keyfile = .*//' "$WORK/whagent.conf"
    [ "$1" = on ] && printf 'keyfile = %s\n' "$WORK/id/client.key" >> "$WORK/whagent.conf"
    [ -n "$BROKER_PID" ] && stop_broker
    : > "$WORK/agent.log"
    start_agent "$WH"
    cp "$WORK/gen/wms-orders.csv" "$WORK/spool/"
    wait_for 300 test -f "$WORK/spool/done/wms-orders.csv" || fail "capture"
    stop_agent
    start_broker
    : > "$WORK/agent.log"
    start_agent "$WH"
    wait_for 300 grep -q "caught up with the journal" "$WORK/agent.log" || fail "drain"
    stop_agent
    sed -n 's/.*caught up with the journal at seq [0-9]*: [0-9]* events in \([0-9]*\) ms.*/\1/p' \
        "$WORK/agent.log" > "$WORK/ms.$1"
}
write_conf
printf '[identity]\n' >> "$WORK/whagent.conf"
sed -i "s|^\[identity\]$|[mqtt]\nkeyfile = $WORK/id/client.key\nsign_batches = true\nhost = 127.0.0.1\n[identity]|" "$WORK/whagent.conf"
$WH enroll -c "$WORK/whagent.conf" --out "$WORK/id" > /dev/null
bytes=$(awk 'BEGIN {print 500 * 160}')
set -- $("$BUILD/tests/bench_sign" "$WORK/id/client.key" "$bytes" 2000)
per_sig=$3
openssl ec -in "$WORK/id/client.key" -pubout -out "$WORK/id/client.pub" 2>/dev/null
set -- $("$BUILD/tests/bench_sign" --ack "$WORK/id/client.key" "$WORK/id/client.pub" 5000)
per_ack=$2 acks_per_s=$3
drain off # not in $(...): the broker's PID must stay in this shell
drain on
off=$(cat "$WORK/ms.off")
on=$(cat "$WORK/ms.on")
awk -v n="$EVENTS" -v off="$off" -v on="$on" -v sig="$per_sig" -v bytes="$bytes" \
    -v ack="$per_ack" -v acks="$acks_per_s" 'BEGIN {
    printf "one signature over %d bytes (SHA-256 + ECDSA P-256): %.0f us\n", bytes, sig
    printf "one signed platform ack taken (decode, checks, ECDSA P-256 verify): %.0f us, %d acks/s\n", ack, acks
    printf "drain of %d events, unsigned: %.0f events/s (%d ms)\n", n, n / (off / 1000), off
    printf "drain of %d events, signed:   %.0f events/s (%d ms), %.2f of unsigned\n", n, n / (on / 1000), on, off / on
}'
