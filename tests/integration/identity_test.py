"""Device identity: `whagent enroll` makes a 0600 key and a CSR that `openssl req -verify`
accepts, with the site id as CN and the configured O/OU/DNS names, and refuses to overwrite
the key; a certificate a test CA signs for it passes `whagent check`, and lets the agent into
a mutual-TLS broker with signed batches that the consumer verifies with that certificate; the
certificate is rotated (SIGHUP) while a backlog is in flight, with zero loss; an expired or
mismatched certificate is reported by check; a tampered signed batch is rejected, the intact
one taken. The rotation no longer races the drain: the broker is stopped (SIGSTOP) before the
second file is captured, so thousands of events are unacknowledged when the agent rotates,
whatever the speed of the machine; then it runs on.
usage: identity_test.py WHAGENT [ARGS...]"""
import hashlib
import os
import shutil
import signal
import subprocess

import harness as h
from harness import eq, has, ok


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True)
    return r.stdout + r.stderr


def test(t):
    pki = h.Pki(t)
    pki.ca("ca")
    pki.csr("server", "localhost", "DNS:localhost,IP:127.0.0.1")
    pki.sign(pki.p("server", "csr"), pki.p("server", "crt"), -1, 2)
    pki.csr("consumer", "consumer")
    pki.sign(pki.p("consumer", "csr"), pki.p("consumer", "crt"), -1, 2)
    ca, ccert, ckey = pki.p("ca", "crt"), pki.p("consumer", "crt"), pki.p("consumer", "key")
    broker = t.broker("require_certificate true", tls=(ca, pki.p("server", "crt"), pki.p("server", "key")))
    idd = t.path("id")
    os.makedirs(idd)
    crt, key, csr = (os.path.join(idd, f) for f in ("client.crt", "client.key", "client.csr"))
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(broker.port, """cafile = %s
certfile = %s
keyfile = %s
sign_batches = true
window = 2
batch_max_events = 20
[identity]
organization = Acme Logistics
unit = DC East
dns_names = gw.example.com, gw.local""" % (ca, crt, key)))

    # enroll
    r = a.cli("enroll")
    eq(r.returncode, 0, "enroll: %s" % r.stdout + r.stderr)
    eq(oct(os.stat(key).st_mode & 0o777), "0o600", "key mode")
    has(openssl("req", "-in", csr, "-verify", "-noout").decode(), "verify OK", "CSR does not verify")
    has(openssl("req", "-in", csr, "-noout", "-subject").decode(), "CN = IT-SITE, O = Acme Logistics, OU = DC East",
        "CSR subject")
    has(openssl("req", "-in", csr, "-noout", "-text").decode(), "DNS:gw.example.com, DNS:gw.local", "CSR SANs")
    fp = [l.split()[1] for l in r.stdout.splitlines() if l.startswith("sha256  ")]
    der = subprocess.run(["openssl", "req", "-in", csr, "-outform", "DER"], capture_output=True).stdout
    eq(fp, [hashlib.sha256(der).hexdigest()], "CSR fingerprint")
    keysum = hashlib.sha256(open(key, "rb").read()).hexdigest()
    r = a.cli("enroll")
    ok(r.returncode != 0, "enroll overwrote the key")
    has(r.stderr, "use --force", "second enroll")
    eq(hashlib.sha256(open(key, "rb").read()).hexdigest(), keysum, "key changed")

    # check: a good certificate, an expired one, one for another key
    pki.sign(csr, crt, -1, 30)
    r = a.cli("check")
    eq(r.returncode, 0, "check refuses the signed certificate: %s" % r.stderr)
    has(r.stdout, r"client certificate CN=IT-SITE.*(2[89]|30) days left", "check")
    good = t.path("good.crt")
    shutil.copyfile(crt, good)
    pki.sign(csr, crt, -10, -1)
    r = a.cli("check")
    ok(r.returncode != 0, "an expired certificate passed check")
    has(r.stderr, "expired on", "expired")
    pki.sign(pki.p("consumer", "csr"), crt, -1, 30)
    r = a.cli("check")
    ok(r.returncode != 0, "a mismatched certificate passed check")
    has(r.stderr, "does not match the key", "mismatch")
    shutil.copyfile(good, crt)

    # mutual TLS, signed batches, rotation with a backlog in flight
    wms = h.Wms(t)
    n = len(wms.generate(csv=5000, bad_every=0, dup_every=0, prefix="a")["keys"])
    n += len(wms.generate(csv=15000, bad_every=0, dup_every=0, prefix="b", first_txn=100000)["keys"])
    first = t.path("first.batch")
    c1 = t.consumer(broker, "c1", "--verify-cert", good, "--dump-first", first, "--expect-last", n,
                    timeout=120, tls=(ca, ccert, ckey))
    a.start()
    wms.drop("a-orders.csv", a.spool)
    a.wait_status("acked_through", lambda v: v > 0, 30, "nothing delivered over mutual TLS")
    broker.signal(signal.SIGSTOP)  # nothing is acknowledged from here until SIGCONT
    try:
        wms.drop("b-orders.csv", a.spool)
        h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/b-orders.csv")), 60, "b-orders.csv not taken")
        pki.sign(csr, crt + ".new", -1, 60)
        os.rename(crt + ".new", crt)
        a.reload(expect="client certificate or key changed: reconnecting")
        acked = a.field("acked_through")
        ok(acked < n, "rotation after the drain (acked through %d of %d)" % (acked, n))
    finally:
        broker.signal(signal.SIGCONT)
    s = c1.wait()
    eq((s.journal()["unique"], s.j["gaps"], s["signatures"]["rejected"]), (n, [], 0), "after rotation")
    ok(h.count(a.text(), "connected to") >= 2, "no reconnect with the new certificate")
    print("signed batches verified: %d; rotated with %d of %d acknowledged" % (s["signatures"]["verified"], acked, n))
    a.stop()

    # a tampered batch is rejected, the intact one taken
    wc = h.protos()
    b = wc.pb2("batch").EventBatch()
    raw = open(first, "rb").read()
    b.ParseFromString(raw)
    c2 = t.consumer(broker, "c2", "--verify-cert", good, "--expect-first", b.first_seq, "--expect-last",
                    b.last_seq, timeout=30, tls=(ca, ccert, ckey))
    bad = bytearray(raw)
    bad[len(bad) // 3] ^= 0x01  # one bit inside an event
    with h.Mqtt(broker, client_id="tamper", tls=(ca, ccert, ckey)) as m:
        for payload in (bytes(bad), raw):  # in this order, on one session: the consumer sees both
            m.publish("%s/%s/events" % (h.PREFIX, h.SITE), payload)
    s = c2.wait()
    eq((s["signatures"]["verified"], s["signatures"]["rejected"]), (1, 1), "tampered/intact")
    return "enroll, check (good, expired, mismatched), mutual TLS with signed batches, rotation with a " \
        "backlog in flight and zero loss, tampering detected"


if __name__ == "__main__":
    h.main(test)
