"""Mutual TLS with certificates made for the run (openssl): a broker that requires client
certificates accepts the configured client (all events arrive) and refuses a client with a
certificate from another CA or with none; a broker certificate from an unknown CA is refused
by the agent. In every refusal the agent says why, retries with backoff, and goes on
capturing. Plain TCP to a broker on another machine is refused by `check` unless
allow_insecure is set. (How many attempts per second: tests/bench/bench_timing.py.)
usage: tls_test.py WHAGENT [ARGS...]"""
import os
import shutil

import harness as h
from harness import eq, has, ok


def plain_localhost_elsewhere(t):
    """Plain TCP to "localhost" when /etc/hosts maps it to another machine: the agent checks
    the address it resolves, says so and does not connect. Run in a mount namespace (its own
    /etc/hosts) and a network namespace with no route out, so nothing leaves this machine
    even if the check breaks."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("SKIP: the localhost remap case needs root and unshare")
        return
    a = t.new_agent("remapped")
    a.write_conf(sections="[mqtt]\nhost = localhost\nport = 1883\n")
    hosts = t.write("hosts", "192.0.2.10 localhost\n")
    p = t.spawn(["unshare", "--mount", "--net", "sh", "-c",
                 'mount --bind "$1" /etc/hosts && ip link set lo up && shift && exec "$@"', "sh", hosts]
                + t.wh + ["run", "-c", a.conf], a.log)
    a.wait_log("localhost resolves to 192.0.2.10, not to this machine: plain TCP is refused", 30)
    ok("Network is unreachable" not in a.text(), "the agent tried to connect to 192.0.2.10")
    p.terminate()
    eq(p.wait(timeout=30), 0, "agent's exit status on SIGTERM")


def test(t):
    pki = h.Pki(t)
    for ca in ("ca", "rogue-ca"):
        pki.ca(ca)
    pki.cert("server", "localhost", "ca", "DNS:localhost,IP:127.0.0.1")
    pki.cert("client", "IT-SITE", "ca")
    pki.cert("rogue", "IT-SITE", "rogue-ca")
    pki.cert("consumer", "consumer", "ca")
    P = lambda n, e: pki.p(n, e)
    broker = t.broker("require_certificate true\ntls_version tlsv1.2",
                      tls=(P("ca", "crt"), P("server", "crt"), P("server", "key")))

    # plain TCP to another machine: refused by check, unless allowed
    a = t.new_agent()
    a.write_conf(sections="[mqtt]\nhost = 192.0.2.10\nport = 1883\n")
    r = a.cli("check")
    ok(r.returncode != 0, "plain TCP accepted")
    has(r.stderr, "plain TCP to a broker on another machine is refused", "check")
    a.append_conf("allow_insecure = true")
    eq(a.cli("check").returncode, 0, "allow_insecure not honoured")
    a.write_conf(sections="[mqtt]\nhost = 127.mqtt.example.com\nport = 1883\n")
    has(a.cli("check").stderr, "plain TCP to a broker on another machine is refused", "a 127. name")
    plain_localhost_elsewhere(t)

    def run_with(cert, key, cafile):
        lines = ["cafile = %s" % cafile] + (["certfile = %s" % cert, "keyfile = %s" % key] if cert else [])
        a.write_conf(sections=h.mqtt_section(broker.port, "\n".join(lines)))
        mark = a.mark()
        a.start()
        return mark

    wms = h.Wms(t)
    n = len(wms.generate(csv=600)["keys"])

    # refused: client certificate from another CA; then none at all; then an unknown server CA
    for case, args in (("rogue", (P("rogue", "crt"), P("rogue", "key"), P("ca", "crt"))),
                       ("none", (None, None, P("ca", "crt"))),
                       ("server-ca", (P("client", "crt"), P("client", "key"), P("rogue-ca", "crt")))):
        shutil.rmtree(a.state)  # a journal of its own: the error reported is this case's
        mark = run_with(*args)
        a.wait_last_error(20, "%s: no error reported" % case)
        a.wait_log("reconnecting in", 30, since=mark, n=2, what="%s: fewer than 2 attempts" % case)
        ok("connected to" not in a.text(mark), "%s: the agent got connected" % case)
        print("%s: %s" % (case, a.last_error()))
        a.stop()
    has(a.last_error(), "certificate", "an unknown server CA is not reported as a certificate problem")

    # capture goes on while TLS fails
    run_with(P("rogue", "crt"), P("rogue", "key"), P("ca", "crt"))
    wms.drop("wms-orders.csv", a.spool, "copy")
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/wms-orders.csv")), 30,
               "capture stopped while TLS failed")
    eq(a.field("backlog"), n, "backlog")
    a.stop()

    # accepted: the right client certificate; everything captured meanwhile arrives
    c1 = t.consumer(broker, "c1", "--expect-last", n, timeout=60,
                    tls=(P("ca", "crt"), P("consumer", "crt"), P("consumer", "key")))
    a.edit_conf("certfile = .*", "certfile = %s" % P("client", "crt"))
    a.edit_conf("keyfile = .*", "keyfile = %s" % P("client", "key"))
    a.start()
    s = c1.wait()
    eq(s.journal()["unique"], n, "events over mutual TLS")
    a.wait_status("backlog", 0, 10, "backlog not drained")
    a.stop()
    return "mutual TLS accepted with the right certificate, refused (and reported) otherwise"


if __name__ == "__main__":
    h.main(test)
