"""Integration: the one "in sync" answer with the real daemon, broker and reference platform.
With ack_mode = platform the backlog counts what the platform has not acknowledged (the broker
has everything): status (text and --json), /metrics and the Status message say so, the state
turns "lagging" and /healthz 503 once the oldest event waited past its age, and "in sync" again
(healthz 200) as the platform acks. With the broker gone the state is "link down since T"
everywhere and /healthz 503 past the age; the last error has its time, and once the link is back
it is shown as past ("last error N s ago"). Finally the Prometheus alert rules of
packaging/whagent-alerts.yml pass `promtool check rules` and use only metrics this agent exports.
usage: sync_test.py WHAGENT [ARGS...]"""
import os
import re
import shutil
import subprocess

import harness as h
from harness import eq, has, ok

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rec(txn):
    return ('{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"S1","qty":1,'
            '"uom":"EA","bin":"A-1"}' % txn)


def metrics(text):
    """{name{labels}: value} of an exposition text."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def test(t):
    promtool = shutil.which("promtool")
    # promtool comes with `make deps` (Debian's prometheus); a missing one fails, never skips
    ok(promtool, "promtool not found: install Debian's prometheus package (make deps)")
    broker = t.broker()
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections=h.mqtt_section(broker.port, "ack_mode = platform\nretention_s = 0\nplatform_pubkey = " + t.platform_key()[1]) +
                     "[metrics]\nlagging_after_s = 1\n[input.http]\nlisten = 127.0.0.1:%d\n"
                     "healthz_max_unsent_s = 2\n" % p)

    h.listen_port(a, conf)
    base = "http://127.0.0.1:%d" % port[0]

    def scrape():
        st, body, _ = h.http(base + "/metrics")
        eq(st, 200, "GET /metrics")
        return metrics(body)

    def healthz():
        st, body, _ = h.http(base + "/healthz")
        return st, body

    wc = h.protos()
    st_pb2 = wc.pb2("status")

    def status_msgs(mq, since=0):
        with mq.lock:
            msgs = mq.msgs[since:]
        out = []
        for m in msgs:
            s = st_pb2.Status()
            s.ParseFromString(m.payload)
            out.append(s)
        return out

    def wait_st(name, pred, timeout, what):
        """The status document once pred(status[name]) holds (pred may be a value)."""
        test = pred if callable(pred) else (lambda v: v == pred)
        return h.wait_for(lambda: (lambda s: s if test(s[name]) else None)(a.status()), timeout, what)

    def wait_status_msg(mq, pred, what):
        return h.wait_for(lambda: next((s for s in status_msgs(mq) if pred(s)), None), 30, what)

    a.wait_link(lambda v: v == "connected")
    mq = h.Mqtt(broker)
    t.stack.callback(mq.close)
    mq.subscribe("%s/%s/status" % (h.PREFIX, h.SITE))
    eq(h.http(base + "/v1/events", "[%s]" % ",".join(rec("T%d" % i) for i in range(1, 21)))[0], 200, "POST")
    wait_st("acked_through", 20, 30, "the broker did not acknowledge seq 1-20")

    # The platform lacks 1-20 while the broker has them all: backlog 20, not 0
    st = wait_st("state", "lagging", 30, "state never lagging with the platform behind")
    eq((st["sync_watermark"], st["backlog"], st["broker_backlog"], st["platform_acked_through"]),
       ("platform", 20, 0, 0), "status (watermark, backlog, broker backlog, platform watermark)")
    ok(st["state_since_ms"] > 0, "lagging without its since")
    text = a.cli("status").stdout
    has(text, r"(?m)^state          lagging since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s\)$", "status text state")
    has(text, r"(?m)^backlog        20 events not acknowledged by the platform", "status text backlog")
    has(text, r"(?m)^               0 not acknowledged by the broker$", "status text broker backlog")
    m = scrape()
    eq((m["whagent_backlog_events"], m["whagent_broker_backlog_events"], m['whagent_sync_state{state="lagging"}'],
        m['whagent_sync_state{state="in_sync"}'], m["whagent_platform_acked_through_seq"], m["whagent_acked_through_seq"]),
       (20, 0, 1, 0, 0, 20), "metrics while the platform lags")
    s = wait_status_msg(mq, lambda s: s.sync_state == "lagging", "no Status message saying lagging")
    eq((s.sync_watermark, s.backlog, s.broker_backlog, s.acked_through), ("platform", 20, 0, 20), "Status message")
    code, body = h.wait_for(lambda: (lambda r: r if r[0] == 503 else None)(healthz()), 30,
                            "/healthz not 503 with the oldest unacknowledged event past its age")
    has(body, r'"status":"oldest event not acknowledged by the platform for \d+ s \(healthz_max_unsent_s = 2\)"',
        "/healthz reason")

    # The reference platform acks: 15 of 20 still lagging, all of them in sync
    p = h.Platform(broker, t.platform_key()[0])
    t.stack.callback(p.close)
    jid = st["journal_id"]
    p.ack(jid, 15)
    st = wait_st("platform_acked_through", 15, 10, "platform ack 15 not taken")
    eq((st["backlog"], st["state"]), (5, "lagging"), "after the ack of 15")
    p.ack(jid, 20)
    st = wait_st("state", "in sync", 10, "not in sync after the platform acked everything")
    eq((st["backlog"], st["state_since_ms"], st["oldest_unsent_age_s"]), (0, 0, 0), "in sync")
    eq(scrape()['whagent_sync_state{state="in_sync"}'], 1, "metrics in sync")
    eq(healthz()[0], 200, "/healthz in sync")
    n = len(mq.msgs)
    h.wait_for(lambda: any(s.sync_state == "in sync" and s.backlog == 0 for s in status_msgs(mq, n)), 30,
               "no Status message saying in sync")
    has(a.cli("status").stdout, r"(?m)^state          in sync$", "status text in sync")

    # Link down since T: status, metrics, healthz 503 past the age; the last error with its time
    mq.close()
    p.close()
    broker.stop()
    st = wait_st("state", "link down", 30, "state not link down with the broker gone")
    ok(st["state_since_ms"] > 0, "link down without its since")
    has(a.cli("status").stdout, r"(?m)^state          link down since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s\)$",
        "status text link down")
    code, body = h.wait_for(lambda: (lambda r: r if r[0] == 503 else None)(healthz()), 30,
                            "/healthz not 503 with the link down past the age")
    has(body, r'"status":"MQTT link down for \d+ s \(healthz_max_unsent_s = 2\)","state":"link down"', "/healthz reason")
    m = scrape()
    eq((m['whagent_sync_state{state="link_down"}'], m["whagent_mqtt_connected"]), (1, 0), "metrics link down")
    ok(m["whagent_sync_state_since_timestamp_seconds"] > 0, "metrics: link down without its since")
    st = wait_st("mqtt_last_error", lambda v: bool(v), 30, "no last error with the broker gone")
    ok(st["mqtt_last_error_ms"] > 0 and st["mqtt_last_error_current"], "last error without its time: %s" % st)
    h.wait_for(lambda: scrape()["whagent_mqtt_last_error_timestamp_seconds"] > 0, 10, "metrics: last error time")

    broker.start()
    mq = h.Mqtt(broker)
    t.stack.callback(mq.close)
    mq.subscribe("%s/%s/status" % (h.PREFIX, h.SITE))
    st = wait_st("state", "in sync", 30, "not in sync after the broker came back")
    eq(st["mqtt_last_error_current"], False, "the outage's error still current")
    ok(st["mqtt_last_error"] and st["mqtt_last_error_ms"] > 0, "the outage's error forgotten: %s" % st)
    has(a.cli("status").stdout, r"(?m)^last error     \d+ (s|min|h) ago \(.*the link has worked since\): ",
        "status text: the last error as past")
    eq(h.wait_for(lambda: (lambda r: r if r[0] == 200 else None)(healthz()), 30, "/healthz not 200 again")[0], 200,
       "/healthz")
    s = wait_status_msg(mq, lambda s: s.sync_state == "in sync", "no Status message after the outage")
    ok(s.last_error and s.last_error_ms > 0 and not s.last_error_current, "Status message's last error: %s" % s)

    # The alert rules: valid for promtool, and every metric they name is one the agent exports
    rules = os.path.join(TOP, "packaging", "whagent-alerts.yml")
    r = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True)
    eq(r.returncode, 0, "promtool check rules: %s%s" % (r.stdout, r.stderr))
    exported = {k.split("{")[0] for k in scrape()}
    exported |= {n[:-len(sfx)] for n in exported for sfx in ("_bucket", "_sum", "_count") if n.endswith(sfx)}
    exprs = " ".join(re.findall(r"(?m)^\s*expr:\s*(.*)$", open(rules).read()))
    used = set(re.findall(r"\bwhagent_[a-z_]+", exprs))
    ok(len(used) >= 5, "alert rules name too few metrics: %s" % used)
    eq(sorted(used - exported), [], "metrics the alert rules use that the agent does not export")
    a.stop()
    return "platform-mode backlog, lagging/in sync, link down, healthz 503, last error time; alert rules checked"


if __name__ == "__main__":
    h.main(test)
