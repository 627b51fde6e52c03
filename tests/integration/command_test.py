"""Commands from the platform, in SignedControls (platform_pubkey set): an unsigned, a wrongly
signed, an expired, a replayed (also after a restart, and to a new journal), another site's and
an unknown command
are refused with a reason, on {prefix}/{site}/cmd/result only (the foreign MQTT 5 response
topic every command names gets nothing; the correlation data is echoed); `replay` fills a
range the consumer missed (it was away), marked historical; `pause_capture` holds the spool
back (and HTTP answers 503) until `resume_capture`.
usage: command_test.py WHAGENT [ARGS...]"""
import os
import shutil

import harness as h
from harness import eq, has, ok


def test(t):
    key = h.ec_key(t.path("central.key"))
    pub = h.ec_pub(key, t.path("central.pub"))
    other = h.ec_key(t.path("other.key"))
    broker = t.broker()
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections=h.mqtt_section(broker.port, "platform_pubkey = %s\ncontrol_max_skew_s = 60\n"
                                             "[input.http]\nlisten = 127.0.0.1:%d" % (pub, p)))
    wms = h.Wms(t)
    wms.generate(csv=1000, bad_every=0, dup_every=0, prefix="a")
    wms.generate(csv=100, bad_every=0, dup_every=0, prefix="b", first_txn=50000)
    h.listen_port(a, conf)
    wms.drop("a-orders.csv", a.spool)
    a.wait_status("acked_through", 1000, 30, "capture")  # no consumer yet: the broker drops them

    jid = a.field("journal_id")
    p = h.Platform(broker, key)
    t.stack.callback(p.close)
    mark = a.mark()
    eq(p.command("c1", "status", unsigned=True), ("refused", "unsigned, refused (the platform must sign it)", True),
       "unsigned")
    a.wait_log("refused a command on whagent/v1/IT-SITE/cmd: unsigned", 10, since=mark, what="no log line")
    eq(p.command("c2", "status", key=other), ("refused", "signature does not verify with the platform key", True),
       "wrong key")
    r = p.command("c3", "status", age_s=3600)
    ok(r[0] == "refused" and "expired 3300 s ago" in r[1], "expired: %s" % (r,))
    r = p.command("c3", "status", site="OTHER-SITE")
    eq(r, ("refused", 'addressed to site "OTHER-SITE", not this one', True), "another site's command")
    raw, counter = p.command_bytes("c4", "status")
    eq(p.send(raw, counter), ("ok", "", True), "status")
    r = p.send(raw, counter)
    ok(r[0] == "refused" and "replayed" in r[1], "replayed: %s" % (r,))
    eq(p.command("c5", "none"), ("refused", "unknown command", True), "unknown command")
    r = p.command("r0", "replay", frm=1, to=5)
    eq(r, ("refused", "a replay must name the journal (SignedControl.journal_id)", True), "replay without journal")

    c1 = t.consumer(broker, "c1", "--expect-first", 1, "--expect-last", 1000, timeout=60)
    eq(p.command("r1", "replay", frm=1, to=5000, journal=jid), ("ok", "replaying 1-1000", True), "replay")
    s = c1.wait()
    eq((s.j["unique"], s.j["gaps"], s["bad_batches"]), (1000, [], []), "replayed range")
    bf = s["topics"]["backfill"]
    eq((bf["replay_batches"] == bf["batches"] == bf["historical_batches"] > 0, s["topics"]["events"]["batches"]),
       (True, 0), "replay on the backfill topic, marked replay and historical: %s" % s["topics"])

    r = p.command("p1", "pause_capture")
    ok(r[0] == "ok" and r[1].startswith("capture paused"), "pause: %s" % (r,))
    mark = a.mark()
    wms.drop("b-orders.csv", a.spool, "copy")
    # the spool looked at the file and held it back: then nothing was taken
    a.wait_log("spool: holding files back", 20, since=mark, what="the paused spool did not hold the file back")
    ok(os.path.exists(os.path.join(a.spool, "b-orders.csv")), "file taken while paused")
    eq(a.field("last_seq"), 1000, "last_seq while paused")
    code, body, _ = h.http("http://127.0.0.1:%d/v1/events" % port[0],
                           '{"kind":"pick","txn_id":"P1","event_time":"2026-03-01T10:00:00Z","sku":"S","qty":1,'
                           '"uom":"EA","bin":"A"}')
    eq(code, 503, "POST while paused")
    has(body, "capture paused", "POST while paused")
    has(h.http("http://127.0.0.1:%d/healthz" % port[0])[1], '"status":"capture paused"', "healthz while paused")
    eq(p.command("p2", "resume_capture"), ("ok", "capture resumed", True), "resume")
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/b-orders.csv")), 20, "not taken after resume")
    eq(a.field("last_seq"), 1100, "last_seq after resume")

    # the same signed command after a restart: the counter is in the journal
    a.stop()
    a.start()
    p.wait_online(a)
    r = p.send(raw, counter, timeout=20)
    ok(r[0] == "refused" and "replayed" in r[1], "replayed after a restart: %s" % (r,))
    eq(p.foreign_results(), [], "answers on the commands' foreign response topic")
    m = h.http("http://127.0.0.1:%d/metrics" % port[0])[1]
    has(m, r"whagent_control_refused_total 1\n", "refusals counted (this run)")
    # and after a new journal (a salvage makes one; here the state is removed): no counters,
    # but what was issued before the journal took control messages is refused
    a.stop()
    shutil.rmtree(a.state)
    a.start()
    p.wait_online(a)
    r = p.send(raw, counter, timeout=20)
    ok(r[0] == "refused" and "issued before this journal" in r[1], "replayed to a new journal: %s" % (r,))
    a.stop()
    return "commands verified (unsigned, wrong key, expired, another site's, replayed also after a restart " \
        "refused), answered on cmd/result only, status, replay of a missed range, pause and resume"


if __name__ == "__main__":
    h.main(test)
