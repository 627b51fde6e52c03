#!/usr/bin/python3
"""Timings the integration tests used to assert, reported here instead (not asserted: these
machines are shared and noisy):
  outage     with the broker away for OUTAGE_S seconds (a 6,000-event file captured meanwhile):
             the agent's reconnect attempts and CPU ticks (the tests once required < 40 and
             < 200 in about 3 s)
  mtls-outage with an mTLS broker away for OUTAGE_S seconds: reconnect attempts and CPU ticks
             during the outage, and the time from the broker's restart to the agent connected
  tls        reconnect attempts in 2 s while a broker refuses the client certificate (was
             asserted 2 <= n < 30)
  watchdog   intervals between WATCHDOG=1 pings with WATCHDOG_USEC=600000 (was asserted:
             >= 3 pings in 1.5 s)
  spool-stalls the longest /healthz answer (the loop's longest stall) while the spool holds
             SCAN_FILES (30,000) files that are settling and is rescanned every 500 ms, and
             while a line of LONG_LINE_GB (20) GiB (a sparse file) is skipped
  junk       JUNK_POSTS (10,000) junk POSTs of 1 MB against an 8 MiB budget: the journal's
             size after them and a valid record's answer
  slow       SLOW_CLIENTS (1,100) slow clients from many loopback addresses: /healthz answer
             times meanwhile
usage: bench_timing.py WHAGENT [ARGS...]   (OUTAGE_S, default 3; ONLY=mtls|spool|junk|slow)"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration"))
import harness as h  # noqa: E402


def settle(seconds):
    """The measuring window of a benchmark (a bench may wait: it asserts nothing)."""
    time.sleep(seconds)


def outage(t):
    broker = t.broker()
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(broker.port, "retention_s = 0"))
    wms = h.Wms(t)
    n = len(wms.generate(csv=6000, bad_every=0, dup_every=0, prefix="b")["keys"])
    a.start()
    a.wait_link("connected", 30)
    broker.stop()
    a.wait_link(lambda v: v != "connected", 10)
    mark, ticks0, t0 = a.mark(), a.cpu_ticks(), time.monotonic()
    wms.drop("b-orders.csv", a.spool)
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/b-orders.csv")), 60, "capture")
    settle(max(0.0, float(os.environ.get("OUTAGE_S", "3")) - (time.monotonic() - t0)))
    secs, ticks = time.monotonic() - t0, a.cpu_ticks() - ticks0
    attempts = h.count(a.text(mark), "reconnecting in")
    a.stop()
    return "outage %.1f s: %d reconnect attempts, %d CPU ticks (capture of %d events included)" % (
        secs, attempts, ticks, n)


def mtls_outage(t):
    pki = h.Pki(t)
    pki.ca("ca")
    pki.cert("server", "localhost", "ca", "DNS:localhost,IP:127.0.0.1")
    pki.cert("client", "IT-SITE", "ca")
    broker = t.broker("require_certificate true", tls=(pki.p("ca", "crt"), pki.p("server", "crt"),
                                                        pki.p("server", "key")), name="mtls-broker")
    a = t.new_agent("mtls-agent")
    a.write_conf(sections=h.mqtt_section(broker.port, "cafile = %s\ncertfile = %s\nkeyfile = %s" % (
        pki.p("ca", "crt"), pki.p("client", "crt"), pki.p("client", "key"))))
    a.start()
    a.wait_link("connected", 30)
    broker.stop()
    mark, ticks0, t0 = a.mark(), a.cpu_ticks(), time.monotonic()
    settle(float(os.environ.get("OUTAGE_S", "3")))
    secs, ticks = time.monotonic() - t0, a.cpu_ticks() - ticks0
    attempts = h.count(a.text(mark), "reconnecting in")
    broker.start()
    t1 = time.monotonic()
    a.wait_link("connected", 120)
    back = time.monotonic() - t1
    a.stop()
    return ("mtls outage %.1f s: %d reconnect attempts, %d CPU ticks; connected %.2f s after the "
            "broker's restart" % (secs, attempts, ticks, back))


def tls(t):
    pki = h.Pki(t)
    for ca in ("ca", "rogue-ca"):
        pki.ca(ca)
    pki.cert("server", "localhost", "ca", "DNS:localhost,IP:127.0.0.1")
    pki.cert("rogue", "IT-SITE", "rogue-ca")
    broker = t.broker("require_certificate true", tls=(pki.p("ca", "crt"), pki.p("server", "crt"),
                                                        pki.p("server", "key")), name="tls-broker")
    a = t.new_agent("tls-agent")
    a.write_conf(sections=h.mqtt_section(broker.port, "cafile = %s\ncertfile = %s\nkeyfile = %s" % (
        pki.p("ca", "crt"), pki.p("rogue", "crt"), pki.p("rogue", "key"))))
    mark = a.mark()
    a.start()
    t0 = time.monotonic()
    settle(2)
    attempts = h.count(a.text(mark), "reconnecting in")
    secs = time.monotonic() - t0
    a.stop()
    return "tls refused: %d reconnect attempts in %.1f s" % (attempts, secs)


def watchdog(t):
    a = t.new_agent("notify-agent")
    a.write_conf(sections=h.mqtt_section(h.unused_port()))
    ns = h.NotifySocket(t)
    stamps = []
    a.start(env={"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "600000"})
    seen = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        k = ns.count("WATCHDOG=1")
        stamps += [time.monotonic()] * (k - seen)
        seen = k
        time.sleep(0.005)
    a.stop()
    gaps = [int((b - c) * 1000) for c, b in zip(stamps, stamps[1:])]
    return "watchdog (WatchdogSec 0.6 s): %d pings in 3 s, intervals ms min %s max %s" % (
        len(stamps), min(gaps) if gaps else "-", max(gaps) if gaps else "-")


def probe_healthz(port, until, seconds):
    """The longest /healthz answer in ms while until() is false (at most seconds)."""
    import urllib.request
    worst, n, deadline = 0.0, 0, time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        t0 = time.monotonic()
        urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=120).read()
        worst = max(worst, time.monotonic() - t0)
        n += 1
        time.sleep(0.005)
    return worst * 1000, n


def spool_stalls(t):
    a = t.new_agent("stall-agent")
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections="[input.http]\nlisten = 127.0.0.1:%d\n" % p)
        a.edit_conf("settle_ms = 300", "settle_ms = 600000")
        a.edit_conf("rescan_ms = 200", "rescan_ms = 500")
    h.listen_port(a, conf)
    nfiles = int(os.environ.get("SCAN_FILES", "30000"))
    for i in range(nfiles):  # written in place, not renamed in: each waits to settle
        with open(os.path.join(a.spool, "wms-%06d.csv" % i), "w") as f:
            f.write("kind,txn_id\n")
    t0 = time.monotonic()
    first, _ = probe_healthz(port[0], lambda: time.monotonic() - t0 > 2, 2)
    steady, probes = probe_healthz(port[0], lambda: False, 5)
    a.stop()
    for name in os.listdir(a.spool):
        if name.endswith(".csv"):
            os.unlink(os.path.join(a.spool, name))
    gb = int(os.environ.get("LONG_LINE_GB", "20"))
    a.edit_conf("settle_ms = 600000", "settle_ms = 0")
    a.start()
    huge = t.path("huge.csv.tmp")
    with open(huge, "wb") as f:
        f.write(b"kind,txn_id,event_time,sku,qty,uom,bin\npick,H1,")
        f.truncate(gb << 30)
        f.seek(gb << 30)
        f.write(b"\npick,H2,2026-03-01T10:00:00Z,S1,1,EA,A-1\n")
    os.rename(huge, os.path.join(a.spool, "huge.csv"))
    t0 = time.monotonic()
    skip, skip_probes = probe_healthz(port[0], lambda: os.path.exists(os.path.join(a.spool, "done/huge.csv")),
                                      900)
    secs = time.monotonic() - t0
    a.stop()
    return ("spool stalls: %d settling files, rescans every 500 ms: longest /healthz %.0f ms in the first 2 s, "
            "%.0f ms over %d probes after; a %d GiB line skipped in %.1f s, longest /healthz meanwhile %.0f ms "
            "(%d probes)" % (nfiles, first, steady, probes, gb, secs, skip, skip_probes))


def junk_flood(t):
    """JUNK_POSTS (10,000) bodies of 1 MB that are not JSON against an 8 MiB budget, 8 at a
    time: the journal's size after, and whether a valid record is taken then."""
    import threading
    a = t.new_agent("junk-agent")
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(max_bytes="8MiB", sections="[input.http]\nlisten = 127.0.0.1:%d\n" % p)
    h.listen_port(a, conf)
    url = "http://127.0.0.1:%d/v1/events" % port[0]
    n, k = int(os.environ.get("JUNK_POSTS", "10000")), 8
    junk = os.urandom(1000 * 1000 - 16)
    codes = {}
    lock = threading.Lock()

    def flood(w):
        for i in range(w, n, k):
            code = h.http(url, b"%d:" % i + junk, timeout=120)[0]
            with lock:
                codes[code] = codes.get(code, 0) + 1
    t0 = time.monotonic()
    ws = [threading.Thread(target=flood, args=(w,)) for w in range(k)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    secs = time.monotonic() - t0
    st = a.status()
    size = sum(os.path.getsize(p) for p in (a.db, a.db + "-wal") if os.path.exists(p))
    code = h.http(url, '{"kind":"pick","txn_id":"V1","event_time":"2026-03-01T10:00:00Z","sku":"S",'
                       '"qty":1,"uom":"EA","bin":"A"}')[0]
    a.stop()
    return ("junk flood: %d POSTs of 1 MB (answers %s) in %.0f s: journal + WAL %.1f MiB (budget 8 MiB), "
            "%d quarantined, %d evicted; a valid record then: %d" % (
                n, codes, secs, size / 1048576.0, st["quarantined"], st["quarantine_evicted"], code))


def slow_clients(t):
    """SLOW_CLIENTS (1,100) connections that send a request's first bytes and then a byte now
    and then, from several loopback addresses: /healthz answer times meanwhile (the limits
    answer or close them; the loop must go on)."""
    import resource
    import socket
    import urllib.request
    want = int(os.environ.get("SLOW_CLIENTS", "1100"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, want + 256)), hard))
    a = t.new_agent("slow-agent")
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections="[input.http]\nlisten = 127.0.0.1:%d\n" % p)
    h.listen_port(a, conf)
    socks, refused = [], 0
    for i in range(want):
        s = socket.socket()
        s.bind(("127.0.%d.%d" % (1 + i // 200, 2 + i % 200), 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port[0]))
        except BlockingIOError:
            pass
        socks.append(s)
    time.sleep(0.5)
    for s in socks:
        try:
            s.send(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            refused += 1
    times, dropped, deadline = [], 0, time.monotonic() + 10
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port[0], timeout=120).read()
            times.append((time.monotonic() - t0) * 1000)
        except OSError:
            dropped += 1
        for s in socks[:50]:  # some keep dribbling
            try:
                s.send(b"X")
            except OSError:
                pass
        time.sleep(0.05)
    for s in socks:
        s.close()
    a.stop()
    times.sort()
    return ("slow clients: %d opened (%d refused at once), /healthz over 10 s: %d answers, median %.1f ms, "
            "longest %.1f ms; %d probes dropped" % (want, refused, len(times), times[len(times) // 2] if times else -1,
                                                    times[-1] if times else -1, dropped))


def bench(t):
    lines = []
    parts = {"mtls": [mtls_outage], "spool": [spool_stalls], "junk": [junk_flood], "slow": [slow_clients]}.get(
        os.environ.get("ONLY"), (outage, mtls_outage, tls, watchdog, spool_stalls, junk_flood, slow_clients))
    for f in parts:
        lines.append(f(t))
        # each part in a fresh state directory
        os.rename(t.path("state"), t.path("state-%s" % f.__name__))
        print(lines[-1], flush=True)
    return "timings reported:\n  " + "\n  ".join(lines)


if __name__ == "__main__":
    h.main(bench)
