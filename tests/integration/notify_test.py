"""systemd integration without systemd: a datagram socket of the test plays $NOTIFY_SOCKET.
The agent says READY=1 once configuration, journal and inputs are up (the broker here is
away: readiness does not wait for it), STATUS= with connection state and backlog, WATCHDOG=1
pings with WATCHDOG_USEC set, RELOADING=1/READY=1 around SIGHUP and STOPPING=1 on SIGTERM;
with JOURNAL_STREAM set, log lines carry syslog priority prefixes. (How often the pings come
is measured by tests/bench/bench_timing.py, not asserted.)
usage: notify_test.py WHAGENT [ARGS...]"""
import harness as h
from harness import has


def test(t):
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(h.unused_port()))  # nothing listens there
    ns = h.NotifySocket(t)
    a.start(env={"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "600000", "JOURNAL_STREAM": "8:1234"})
    h.wait_for(lambda: ns.count("READY=1"), 10, "no READY=1")
    h.wait_for(lambda: ns.count("STATUS=disconnected, backlog 0 events"), 10, "no STATUS= line: %s" % ns.lines())
    h.wait_for(lambda: ns.count("WATCHDOG=1") >= 3, 20, "fewer than 3 watchdog pings with WatchdogSec=0.6 s")
    pings = ns.count("WATCHDOG=1")
    a.signal(h.signal.SIGHUP)
    h.wait_for(lambda: ns.count("RELOADING=1"), 10, "no RELOADING=1")
    h.wait_for(lambda: ns.count("READY=1") >= 2, 10, "no READY=1 after the reload")
    a.stop()
    h.wait_for(lambda: ns.count("STOPPING=1"), 5, "no STOPPING=1")
    has(a.text(), r"^<6>whagent: running", "no <6> priority prefix")
    has(a.text(), r"^<4>whagent: warning: uplink", "no <4> prefix on warnings")
    return "READY, STATUS, %d watchdog pings, RELOADING, STOPPING; journald priorities" % pings


if __name__ == "__main__":
    h.main(test)
