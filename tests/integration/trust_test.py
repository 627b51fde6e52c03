"""Nothing unsigned steers the agent by default, and the platform keys follow a reload.
  - Default configuration (MQTT on, no platform key): an unsigned pause_capture is refused
    (capture goes on: a POST is taken), so is a signed one; `check` warns that commands are
    refused; status says so.
  - allow_unsigned_control = true: `check` warns it is insecure, status, metrics and the
    Status message (unsigned_control) show it,
    an unsigned command is taken (and pause/resume work).
  - SIGHUP with a platform key: signed commands taken, unsigned refused again. A reload with a
    new key: the old key is refused afterwards, the new one taken. Both keys at once
    (platform_pubkey_next, rotation): both taken. A reload naming an unreadable key is refused,
    says why, and the keys in use stay.
  - 40 forged commands: all refused and counted, at most ten log lines a minute.
usage: trust_test.py WHAGENT [ARGS...]"""
import re

import harness as h
from harness import eq, has, ok


def status_says(p, unsigned):
    """Waits for a Status (heartbeat, every 2 s) whose unsigned_control is unsigned."""
    st_pb2 = h.protos().pb2("status")
    with p.m.lock:
        since = len(p.m.msgs)

    def says(m):
        if not m.topic.endswith("/status"):
            return False
        st = st_pb2.Status()
        st.ParseFromString(m.payload)
        return st.unsigned_control == unsigned
    p.m.wait_message(says, 10, "a Status with unsigned_control = %s" % unsigned, since)


def test(t):
    k1 = h.ec_key(t.path("k1.key"))
    p1 = h.ec_pub(k1, t.path("k1.pub"))
    k2 = h.ec_key(t.path("k2.key"))
    h.ec_key(t.path("forger.key"))
    p2 = h.ec_pub(k2, t.path("k2.pub"))
    broker = t.broker()
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections=h.mqtt_section(broker.port, "[input.http]\nlisten = 127.0.0.1:%d" % p))
    h.listen_port(a, conf)

    def post(txn):
        return h.http("http://127.0.0.1:%d/v1/events" % port[0],
                      '{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"S","qty":1,'
                      '"uom":"EA","bin":"A"}' % txn)[0]

    # the default: refused, signed or not, and said so
    r = a.cli("check")
    has(r.stderr, r"warning: \[mqtt\] no platform_pubkey: every command from the platform is refused", "check")
    has(a.cli("status").stdout, r"(?m)^control        refused \(no platform key\)$", "status text")
    eq(a.field("control"), "refused (no platform key)", "status --json control")
    p = h.Platform(broker)
    t.stack.callback(p.close)
    p.m.subscribe("%s/%s/status" % (h.PREFIX, h.SITE))
    mark = a.mark()
    eq(p.command("u1", "pause_capture", unsigned=True),
       ("refused", "unsigned, refused (the platform must sign it)", True), "unsigned command, default configuration")
    a.wait_log("refused a command on whagent/v1/IT-SITE/cmd: unsigned", 10, since=mark, what="no log line")
    eq(p.command("s1", "pause_capture", key=k1),
       ("refused", "signed, but no platform key is configured (platform_pubkey)", True), "signed, no key")
    eq(post("P1"), 200, "POST after the refused pause_capture")

    # the explicit opt-in
    a.edit_conf(r"reconnect_min_ms = 100", "reconnect_min_ms = 100\nallow_unsigned_control = true")
    has(a.cli("check").stderr, r"warning: \[mqtt\] allow_unsigned_control = true: INSECURE", "check with the opt-in")
    mark = a.mark()
    a.reload()
    a.wait_log("INSECURE: allow_unsigned_control = true", 10, since=mark, what="reload did not say it is insecure")
    eq(a.field("control"), "UNSIGNED TAKEN (allow_unsigned_control = true)", "status with the opt-in")
    has(h.http("http://127.0.0.1:%d/metrics" % port[0])[1], r"whagent_control_unsigned_allowed 1\n", "metrics")
    status_says(p, True)
    r = p.command("u2", "pause_capture", unsigned=True)
    ok(r[0] == "ok" and r[1].startswith("capture paused"), "unsigned command with the opt-in: %s" % (r,))
    eq(post("P2"), 503, "POST while paused")
    eq(p.command("u3", "resume_capture", unsigned=True), ("ok", "capture resumed", True), "resume")

    # a key, by reload: signed taken, unsigned refused
    a.edit_conf(r"allow_unsigned_control = true", "platform_pubkey = " + p1)
    mark = a.mark()
    a.reload()
    a.wait_log("verified with 1 platform key", 10, since=mark, what="reload did not take the key")
    eq(a.field("control"), "signed (1 platform key)", "status with a key")
    status_says(p, False)
    eq(p.command("s2", "status", key=k1), ("ok", "", True), "signed with the key")
    eq(p.command("u4", "status", unsigned=True)[0], "refused", "unsigned after the key")

    # a new key: the old one is refused afterwards
    a.edit_conf(r"platform_pubkey = .*", "platform_pubkey = " + p2)
    a.reload()
    eq(p.command("s3", "status", key=k1), ("refused", "signature does not verify with the platform key", True),
       "old key after the reload")
    eq(p.command("s4", "status", key=k2), ("ok", "", True), "new key after the reload")

    # both at once (rotation)
    a.edit_conf(r"platform_pubkey = .*", "platform_pubkey = %s\nplatform_pubkey_next = %s" % (p2, p1))
    a.reload()
    eq((p.command("s5", "status", key=k1)[0], p.command("s6", "status", key=k2)[0]), ("ok", "ok"), "two keys")

    # a key that is not one: `check` says so; the reload is refused, the keys in use stay
    a.edit_conf(r"platform_pubkey_next = .*", "platform_pubkey_next = " + t.path("missing.pub"))
    open(t.path("missing.pub"), "w").write("not a key\n")
    r = a.cli("check")
    has(r.stderr, r"error: \[mqtt\] platform_pubkey: \S*missing.pub: not an EC P-256 public key", "check of a bad key")
    eq(r.returncode, 1, "check's exit status with a bad key")
    mark = a.mark()
    a.reload(expect="reload refused")
    text = a.text(mark)
    has(text, r"reload refused, keeping the running configuration and keys: platform_pubkey: \S*missing.pub: "
        r"not an EC P-256 public key", "refusal says why")
    ok("configuration reloaded" not in text, "a refused reload said it reloaded")
    eq((p.command("s7", "status", key=k1)[0], p.command("s8", "status", key=k2)[0]), ("ok", "ok"),
       "keys after the refused reload")

    # a flood of forged commands: each refused and counted, the log rate-limited
    def refused_total():
        m = h.http("http://127.0.0.1:%d/metrics" % port[0])[1]
        return int(re.search(r"(?m)^whagent_control_refused_total (\d+)$", m).group(1))
    before = refused_total()
    for i in range(40):
        raw, counter = p.command_bytes("f%d" % i, "pause_capture", key=t.path("forger.key"))
        p.m.publish("%s/%s/cmd" % (h.PREFIX, h.SITE), raw)
    h.wait_for(lambda: refused_total() >= before + 40, 20, "the forged commands were not all counted")
    lines = len(re.findall(r"refused a command", a.text()))
    ok(lines <= 10, "%d refusal lines logged within a minute (at most 10)" % lines)
    eq(post("P3"), 200, "POST after the forged pause_capture flood")
    a.stop()
    return "unsigned refused by default (check, status say so); the opt-in is loud; keys follow a reload (old key " \
        "refused), two at once, a bad key refuses the reload"


if __name__ == "__main__":
    h.main(test)
