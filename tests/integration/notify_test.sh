#!/bin/sh
# systemd integration without systemd: a datagram socket of the test plays $NOTIFY_SOCKET.
# The agent says READY=1 once configuration, journal and inputs are up (the broker here is
# away: readiness does not wait for it), STATUS= with connection state and backlog, WATCHDOG=1
# within WATCHDOG_USEC, RELOADING=1/READY=1 around SIGHUP and STOPPING=1 on SIGTERM; with
# JOURNAL_STREAM set, log lines carry syslog priority prefixes.
# usage: notify_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"

write_conf
BROKER_PORT=$(free_port) # nothing listens there
mqtt_conf
sock=$WORK/notify.sock
python3 - "$sock" "$WORK/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.5)
end = time.monotonic() + 60
with open(sys.argv[2], "a", buffering=1) as out:
    while time.monotonic() < end:
        try:
            out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
        except socket.timeout:
            pass
PY
LISTENER=$!
trap 'kill $LISTENER 2>/dev/null; cleanup' EXIT INT TERM
wait_for 10 test -S "$sock" || fail "no notify socket"

NOTIFY_SOCKET=$sock WATCHDOG_USEC=600000 JOURNAL_STREAM=8:1234 start_agent $WH
wait_for 10 grep -q "^READY=1" "$WORK/notify.log" || fail "no READY=1"
wait_for 10 grep -q "^STATUS=disconnected, backlog 0 events" "$WORK/notify.log" || fail "no STATUS= line: $(cat "$WORK/notify.log")"
sleep 1.5
pings=$(grep -c "^WATCHDOG=1" "$WORK/notify.log")
[ "$pings" -ge 3 ] || fail "$pings watchdog pings in ~1.5 s with WatchdogSec=0.6 s"
kill -HUP "$AGENT_PID"
wait_for 10 grep -q "^RELOADING=1" "$WORK/notify.log" || fail "no RELOADING=1"
[ "$(grep -c "^READY=1" "$WORK/notify.log")" -ge 2 ] || wait_for 5 sh -c "[ \$(grep -c '^READY=1' $WORK/notify.log) -ge 2 ]" ||
    fail "no READY=1 after the reload"
stop_agent
wait_for 5 grep -q "^STOPPING=1" "$WORK/notify.log" || fail "no STOPPING=1"
grep -q "^<6>whagent: running" "$WORK/agent.log" || fail "no <6> priority prefix: $(head -3 "$WORK/agent.log")"
grep -q "^<4>whagent: warning: uplink" "$WORK/agent.log" || fail "no <4> prefix on warnings"
echo "PASS: READY, STATUS, $pings watchdog pings, RELOADING, STOPPING; journald priorities"
