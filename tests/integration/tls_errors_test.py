"""Every uplink connect failure names its cause, in the log and in `whagent status`'s last
error: an unreadable cafile, a refused connection, a host name that does not resolve, a broker
certificate from a CA cafile does not trust, a host-name mismatch (both names), the broker
refusing our client certificate (the only case with the "broker trusts the client certificate"
hint), the broker's CONNACK refusal. Then an mTLS broker killed under the running agent: the
agent notices (the cause: connection refused), reconnects once the broker is back, and
every event sent after it arrives once. (Attempts,
CPU and reconnect time during an mTLS outage: tests/bench/bench_timing.py.)
usage: tls_errors_test.py WHAGENT [ARGS...]"""
import os
import re
import shutil
import subprocess

import harness as h
from harness import eq, has, ok

HINT = "trusts the client certificate"


def test(t):
    pki = h.Pki(t)
    for ca in ("ca", "rogue-ca"):
        pki.ca(ca)
    pki.cert("server", "localhost", "ca", "DNS:localhost,IP:127.0.0.1")
    pki.cert("other", "other.example", "ca", "DNS:other.example")
    pki.cert("client", "IT-SITE", "ca")
    pki.cert("rogue", "IT-SITE", "rogue-ca")
    pki.cert("consumer", "consumer", "ca")
    P = pki.p
    mtls = t.broker("require_certificate true", tls=(P("ca", "crt"), P("server", "crt"), P("server", "key")),
                    name="mtls-broker")
    wrong_name = t.broker("require_certificate true", tls=(P("ca", "crt"), P("other", "crt"), P("other", "key")),
                          name="other-broker")
    pw = t.path("passwd")
    subprocess.run(["mosquitto_passwd", "-b", "-c", pw, "agent", "right"], check=True, capture_output=True)
    auth = t.broker("allow_anonymous false\npassword_file %s" % pw, name="auth-broker")
    a = t.new_agent()
    client = "cafile = %s\ncertfile = %s\nkeyfile = %s" % (P("ca", "crt"), P("client", "crt"), P("client", "key"))
    missing = t.path("no-such-ca.crt")

    def case(name, port, extra, want, hint=False, host=None):
        if os.path.exists(a.state):
            shutil.rmtree(a.state)
        a.write_conf(sections=h.mqtt_section(port, extra))
        if host:
            a.edit_conf("host = .*", "host = %s" % host)
        mark = a.mark()
        a.start()
        a.wait_log(want, 30, since=mark, what="%s: no /%s/ in the log" % (name, want))
        err = a.wait_last_error(20, "%s: no last error" % name)
        ok(re.search(want, err), "%s: last error %r lacks /%s/" % (name, err, want))
        eq(HINT in a.text(mark), hint, "%s: the client-certificate hint shown" % name)
        ok("connected to" not in a.text(mark), "%s: the agent got connected" % name)
        print("%s: %s" % (name, err))
        a.stop()

    case("unreadable cafile", mtls.port, client.replace(P("ca", "crt"), missing),
         re.escape("cannot read cafile %s: No such file or directory" % missing))
    case("refused", h.unused_port(), client, r"connecting to 127\.0\.0\.1:\d+: Connection refused")
    case("dns", mtls.port, client, r"no-such-host\.invalid:\d+: cannot resolve the host name",
         host="no-such-host.invalid")
    case("untrusted CA", mtls.port, client.replace(P("ca", "crt"), P("rogue-ca", "crt")),
         r"the broker's certificate is not trusted by cafile")
    case("host-name mismatch", wrong_name.port, client,
         r"host-name mismatch: the broker's certificate is for other\.example, not for the configured host localhost",
         host="localhost")
    case("client certificate refused", mtls.port, client.replace(P("client", "crt"), P("rogue", "crt"))
         .replace(P("client", "key"), P("rogue", "key")), r"the broker refused our client certificate \(.*alert",
         hint=True)
    case("CONNACK", auth.port, "username = agent\npassword_file = %s" % t.write("agent-pw", "wrong\n", 0o600),
         r"refused the connection \(CONNACK reason \d+\): (Not authorized|Bad user name or password)")

    # an mTLS broker killed under the running agent: noticed, reconnected, delivered once
    shutil.rmtree(a.state)
    wms = h.Wms(t)
    n = len(wms.generate(csv=300)["keys"])
    a.write_conf(sections=h.mqtt_section(mtls.port, client))
    a.start()
    a.wait_link("connected", 30)
    mark = a.mark()
    mtls.stop()
    a.wait_link(lambda v: v != "connected", 30, "the agent did not notice the broker's loss")
    a.wait_log("reconnecting in", 30, since=mark, n=2, what="fewer than 2 reconnect attempts")
    has(a.wait_last_error(20), "Connection refused", "the outage's cause")
    mtls.start()
    a.wait_link("connected", 60, "no reconnect after the broker came back")
    # subscribed before anything is sent: the broker keeps nothing for absent subscribers
    c = t.consumer(mtls, "c1", "--expect-last", n, timeout=60,
                   tls=(P("ca", "crt"), P("consumer", "crt"), P("consumer", "key")))
    wms.drop("wms-orders.csv", a.spool, "copy")
    s = c.wait()
    eq(s.journal()["unique"], n, "events after the mTLS outage")
    a.wait_status("backlog", 0, 30, "backlog not drained")
    a.stop()
    return "each connect failure named its cause; an mTLS outage reconnected and delivered once"


if __name__ == "__main__":
    h.main(test)
