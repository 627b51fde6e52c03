"""Uplink under faults, with a real mosquitto and the reference consumer:
 1. WAN outage: the broker goes away while thousands of events are captured; status says
    disconnected with the backlog and its age; reconnects back off (the delays the agent
    announces grow to reconnect_max_ms: no busy loop); after the broker is back everything
    arrives, and the journal prunes what was acknowledged.
 2. kill -9 of the agent mid-stream: after restart every event arrives at least once, and
    after dedupe by (journal_id, seq) exactly once, gapless.
 3. A broker that refuses the events topic (ACL, MQTT 5 PUBACK 0x87): the watermark does not
    move; once the ACL is fixed the batches are resent and arrive.
CPU use and reconnect attempts per second during the outage: tests/bench/bench_timing.py.
usage: uplink_faults_test.py WHAGENT [ARGS...]"""
import os
import re
import signal

import harness as h
from harness import eq, has, ok


def test(t):
    wms = h.Wms(t)

    def gen(prefix, rows, first_txn):
        return len(wms.generate(csv=rows, bad_every=0, dup_every=0, prefix=prefix, first_txn=first_txn)["keys"])

    # --- 1. outage ---------------------------------------------------------------------------
    broker = t.broker()
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(broker.port, "retention_s = 0"))
    n1, n2 = gen("a", 1000, 1), gen("b", 6000, 100000)
    c1 = t.consumer(broker, "c1", "--expect-last", n1, timeout=60)
    a.start()
    wms.drop("a-orders.csv", a.spool)
    eq(c1.wait().journal()["unique"], n1, "events before the outage")

    broker.stop()
    a.wait_link(lambda v: v != "connected", 10, "status still says connected with the broker gone")
    mark = a.mark()
    wms.drop("b-orders.csv", a.spool, "copy")
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/b-orders.csv")), 30, "capture stopped during the outage")
    eq(a.field("backlog"), n2, "backlog during the outage")
    a.wait_status("oldest_unsent_age_s", lambda v: v >= 3, 30, "oldest_unsent_age_s does not grow")
    st = a.status()
    ok(a.last_error(st), "no last error reported during the outage")
    eq(st["mqtt_last_error_current"], True, "the outage's error is not reported as current")
    ok(st["mqtt_last_error_ms"] > 0, "the outage's error has no time")
    # backoff: 100, 200, 400, 800, then 1000 ms steps, each announced with a 75..125% jitter
    a.wait_log("reconnecting in", 60, since=mark, n=6, what="fewer than 6 reconnect attempts")
    delays = [int(d) for d in re.findall(r"reconnecting in (\d+) ms", a.text(mark))]
    ok(all(d <= 1250 for d in delays) and all(d >= 750 for d in delays[4:]),
       "reconnect delays do not back off to reconnect_max_ms: %s" % delays)
    print("outage: reconnect delays announced %s" % delays[:8])

    a.signal(signal.SIGSTOP)  # the consumer subscribes before the agent is back
    try:
        broker.start()
        c2 = t.consumer(broker, "c2", "--expect-first", n1 + 1, "--expect-last", n1 + n2, timeout=60)
    finally:
        a.signal(signal.SIGCONT)
    s = c2.wait()
    eq((s.journal()["unique"], s.j["gaps"]), (n2, []), "events after the outage")
    h.wait_for(lambda: a.rows() == 0, 20, "acknowledged events not pruned (retention_s = 0)")
    st = a.status()
    eq(a.link(st), "connected", "status after the outage")
    eq(st["mqtt_last_error_current"], False, "the outage's error still current once connected")
    has(a.cli("status").stdout, r"(?m)^last error     \d+ (s|min|h) ago \(.*the link has worked since\): ", "status text after the outage")
    # the link's state is live state, not journal data: nothing of it in the journal's meta
    eq(a.sql("SELECT key FROM meta WHERE key LIKE 'mqtt%' OR key = 'backfill_through'"), [],
       "link state written to the journal")
    a.stop()

    # --- 2. kill -9 mid-stream ---------------------------------------------------------------
    n3 = gen("c", 20000, 200000)
    # one small batch in flight: the drain takes thousands of round trips, room for a kill
    a.edit_conf("retention_s = 0", "retention_s = 3600\nwindow = 1\nbatch_max_events = 1")
    broker.stop()  # capture the backlog first, then drain it
    a.start()
    wms.drop("c-orders.csv", a.spool)
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/c-orders.csv")), 60, "c-orders.csv not taken")
    a.stop()
    first, last = n1 + n2 + 1, n1 + n2 + n3
    broker.start()
    c3 = t.consumer(broker, "c3", "--expect-first", first, "--expect-last", last, timeout=120)
    mark = a.mark()
    a.start()
    a.wait_log("sending from seq %d" % first, 20, since=mark, what="no drain started")
    a.wait_status("acked_through", lambda v: v != first - 1, 20, "no watermark progress")
    a.kill9()
    resume = a.field("acked_through")
    ok(resume < last, "the drain finished before the kill")
    mark = a.mark()
    a.start()
    s = c3.wait()
    h.has(a.text(mark), "sending from seq %d" % (resume + 1), "restart did not resend from the watermark")
    eq((s.journal()["unique"], s.j["gaps"]), (n3, []), "events after kill -9")
    print("kill -9 mid-stream at watermark %d: %d events, %d duplicates removed by (journal_id, seq)"
          % (resume, n3, s.j["duplicates"]))
    a.stop()

    # --- 3. error PUBACK ---------------------------------------------------------------------
    broker.stop()
    acl = t.write("acl", "topic read whagent/v1/#\ntopic write whagent/v1/+/status\n")
    broker.start(extra="acl_file %s" % acl)
    n4 = gen("d", 500, 300000)
    acked = a.field("acked_through")
    mark = a.mark()
    a.start()
    wms.drop("d-orders.csv", a.spool)
    # refused, and refused again when resent: the watermark stays
    a.wait_log("broker refused batch", 30, since=mark, n=2, what="no refusal (twice) logged")
    eq(a.field("acked_through"), acked, "watermark after refused batches")
    print(next(l for l in a.text(mark).splitlines() if "broker refused batch" in l))
    c4 = t.consumer(broker, "c4", "--expect-first", acked + 1, "--expect-last", acked + n4, timeout=60)
    t.write("acl", "topic readwrite whagent/v1/#\n")
    broker.signal(signal.SIGHUP)  # mosquitto re-reads its ACL
    eq(c4.wait().journal()["unique"], n4, "events after the ACL fix")
    a.wait_status("acked_through", acked + n4, 10, "watermark after the ACL fix")
    a.stop()
    return "outage, kill -9 mid-stream and refused batches: nothing lost, gapless"


if __name__ == "__main__":
    h.main(test)
