"""The HTTPS listener and who may read its pages, with the real daemon, openssl and curl.
TLS 1.0 and 1.1 handshakes are refused (openssl s_client; the same client command completes
them against an openssl s_server, so the refusal is the agent's), TLS 1.2 and 1.3 taken.
GET /metrics and /v1/status from off this machine: refused (403) without [input.http]
token_file, 401 with it but without or with a wrong bearer token, 200 with it; from loopback
always 200; /healthz open. "Off this machine" without leaving loopback: the agent runs in a
network namespace of its own whose lo also carries 192.0.2.1 (TEST-NET-1, not 127/8), and
curl connects from there.
usage: http_tls_test.py WHAGENT [ARGS...]"""
import os
import re
import subprocess

import harness as h
from harness import eq, has, ok

OFF_HOST = "192.0.2.1"
LEGACY = "DEFAULT@SECLEVEL=0"  # Debian's OpenSSL tries TLS 1.0/1.1 only at security level 0


def s_client(port, version):
    """(completed, output) of an openssl s_client handshake offering only that version: with
    -tlsN the client can complete none but that one, and says "New, TLSv1.x, Cipher is ..."
    when it did ("New, (NONE), Cipher is (NONE)" when not)."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-" + version,
                        "-cipher", LEGACY], input="", capture_output=True, text=True, timeout=30 * h.SLOW)
    out = r.stdout + r.stderr
    return r.returncode == 0 and re.search(r"^New, TLSv1[.0-9]*, Cipher is ", out, re.M) is not None, out


def test(t):
    key, crt = t.path("tls.key"), t.path("tls.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-keyout", key, "-out", crt, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,IP:%s" % OFF_HOST], check=True, capture_output=True)
    tls = "tls_certfile = %s\ntls_keyfile = %s\n" % (crt, key)

    # the control: the client command really speaks TLS 1.0 and 1.1 to a server that takes them
    for _ in range(10):
        cport = h.candidate_port()
        srv = t.spawn(["openssl", "s_server", "-accept", "127.0.0.1:%d" % cport, "-cert", crt, "-key", key,
                       "-cipher", LEGACY], t.path("s_server.log"), stdin=subprocess.PIPE)
        t.logs.append(("s_server", t.path("s_server.log")))
        h.wait_for(lambda: srv.poll() is not None or "ACCEPT" in open(t.path("s_server.log")).read(), 10,
                   "s_server did not start")
        if srv.poll() is None:
            break
    ok(srv.poll() is None, "no port for s_server")
    for v in ("tls1", "tls1_1"):
        done, out = s_client(cport, v)
        ok(done, "the control: s_client -%s did not complete against openssl s_server:\n%s" % (v, out[-800:]))
    srv.kill()
    srv.wait()

    a = t.new_agent()
    port = [0]

    def conf(extra="", host="127.0.0.1"):
        def write(p):
            port[0] = p
            a.write_conf(sections="[input.http]\nlisten = %s:%d\n%s%s\n" % (host, p, tls, extra))
        return write
    h.listen_port(a, conf())
    for v in ("tls1", "tls1_1"):
        done, out = s_client(port[0], v)
        ok(not done, "the agent completed a %s handshake:\n%s" % (v, out[-800:]))
    for v in ("tls1_2", "tls1_3"):
        done, out = s_client(port[0], v)
        ok(done, "the agent refused %s:\n%s" % (v, out[-800:]))
    has(a.text(), r"listening on 127\.0\.0\.1:\d+ \(TLS 1\.2 or newer\)", "the listener's log line")
    a.stop()

    # --- off-host GETs, from a network namespace's second lo address ---
    netns = ["unshare", "--net", "--", "sh", "-c",
             'ip link set lo up && ip addr add %s/32 dev lo && exec "$@"' % OFF_HOST, "sh"]
    if os.geteuid() != 0:
        netns[1:1] = ["--map-root-user"]

    probe = subprocess.run(netns + ["true"], capture_output=True, text=True)
    eq(probe.returncode, 0, "a network namespace for the off-host peer (unshare, ip): %s" % probe.stderr)

    def start_in_netns(extra):
        conf(extra, host="0.0.0.0")(port[0])  # its own namespace: the port is free there
        wh = t.wh
        t.wh = netns + wh
        try:
            a.start()
        finally:
            t.wh = wh

    def get(host, path, *args):
        r = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % a.pid] +
                           (["--user", "--preserve-credentials"] if os.geteuid() != 0 else []) +
                           ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", crt, *args,
                            "https://%s:%d%s" % (host, port[0], path)],
                           capture_output=True, text=True, timeout=30 * h.SLOW)
        return int(r.stdout or 0)

    start_in_netns("")
    for path in ("/metrics", "/v1/status"):
        eq(get("127.0.0.1", path), 200, "GET %s from loopback" % path)
        eq(get(OFF_HOST, path), 403, "GET %s from off this machine without a token configured" % path)
    eq(get(OFF_HOST, "/healthz"), 200, "GET /healthz from off this machine")
    eq(get(OFF_HOST, "/metrics", "-H", "Authorization: Bearer anything"), 403, "a token with none configured")
    a.stop()

    t.write("token", "T0k3n-for-the-page\n", mode=0o600)
    start_in_netns("token_file = %s\n" % t.path("token"))
    for path in ("/metrics", "/v1/status"):
        eq(get(OFF_HOST, path), 401, "GET %s from off this machine without the token" % path)
        eq(get(OFF_HOST, path, "-H", "Authorization: Bearer T0k3n-for-the-pagX"), 401, "a wrong token")
        eq(get(OFF_HOST, path, "-H", "Authorization: Bearer T0k3n-for-the-page"), 200, "the token")
        eq(get("127.0.0.1", path), 200, "GET %s from loopback with a token configured" % path)
    eq(get(OFF_HOST, "/healthz"), 200, "GET /healthz from off this machine, token configured")
    a.stop()

    t.write("token", " \n", mode=0o600)
    conf("token_file = %s\n" % t.path("token"))(port[0])
    r = a.cli("check")
    ok(r.returncode != 0, "check took an empty token")
    has(r.stderr, r"token_file .* is empty", "check: why")
    return ("TLS 1.0/1.1 refused (the same client completes them against s_server), 1.2/1.3 taken; "
            "off-host GETs 403 without a token configured, 401 without it, 200 with it; /healthz open")


if __name__ == "__main__":
    h.main(test)
