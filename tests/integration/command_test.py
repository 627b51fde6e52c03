"""Commands from the platform (command_pubkey set): an unsigned, a wrongly signed, a stale, a
replayed and an unknown command are refused with a reason; `status` is answered on the MQTT 5
response topic with the correlation data; `replay` fills a range the consumer missed (it was
away), marked historical; `pause_capture` holds the spool back (and HTTP answers 503) until
`resume_capture`.
usage: command_test.py WHAGENT [ARGS...]"""
import os

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
        a.write_conf(sections=h.mqtt_section(broker.port, "command_pubkey = %s\ncommand_max_skew_s = 60\n"
                                             "[input.http]\nlisten = 127.0.0.1:%d" % (pub, p)))
    wms = h.Wms(t)
    wms.generate(csv=1000, bad_every=0, dup_every=0, prefix="a")
    wms.generate(csv=100, bad_every=0, dup_every=0, prefix="b", first_txn=50000)
    h.listen_port(a, conf)
    wms.drop("a-orders.csv", a.spool)
    a.wait_status("acked_through", 1000, 30, "capture")  # no consumer yet: the broker drops them

    p = h.Platform(broker, key)
    t.stack.callback(p.close)
    eq(p.command("c1", "status", unsigned=True), ("refused", "unsigned command refused", True), "unsigned")
    eq(p.command("c2", "status", key=other), ("refused", "signature does not verify", True), "wrong key")
    r = p.command("c3", "status", age_s=3600)
    ok(r[0] == "refused" and "stale" in r[1], "stale: %s" % (r,))
    eq(p.command("c4", "status"), ("ok", "", True), "status")
    r = p.command("c4", "status")
    ok(r[0] == "refused" and "replayed" in r[1], "replayed id: %s" % (r,))
    eq(p.command("c5", "none"), ("refused", "unknown command", True), "unknown command")

    c1 = t.consumer(broker, "c1", "--expect-first", 1, "--expect-last", 1000, timeout=60)
    eq(p.command("r1", "replay", frm=1, to=5000), ("ok", "replaying 1-1000", True), "replay")
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
    a.stop()
    return "commands verified (unsigned, wrong key, stale, replayed refused), status, replay of a missed " \
        "range, pause and resume"


if __name__ == "__main__":
    h.main(test)
