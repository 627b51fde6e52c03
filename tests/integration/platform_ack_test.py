"""ack_mode = platform: the broker's PUBACK no longer lets events go; only the platform's
signed PlatformAck on PREFIX/SITE/ack does. Nothing is pruned while the consumer is away (the
broker acknowledged everything). Refused with a log line, pruning nothing and leaving the
watermark where it was: an unsigned ack, a forged one (another key), one for another journal,
one beyond the broker's watermark (more than was ever sent), a replayed one (also after a
restart). A valid ack prunes up to it (logged, counted); the reference consumer's signed
--ack prunes the rest. Last, the issue's attack with the platform's own key: an ack through
last_seq of events the broker refused (its ACL) is refused, nothing pruned.
usage: platform_ack_test.py WHAGENT [ARGS...]"""
import harness as h
from harness import eq, has


def test(t):
    broker = t.broker()
    a = t.new_agent()
    key, pub = t.platform_key()
    forger = h.ec_key(t.path("forger.key"))
    a.write_conf(sections=h.mqtt_section(broker.port, "retention_s = 0\nack_mode = platform\nplatform_pubkey = " + pub))
    wms = h.Wms(t)
    wms.generate(csv=2000, bad_every=0, dup_every=0, prefix="a")
    wms.generate(csv=1000, bad_every=0, dup_every=0, prefix="b", first_txn=100000)
    # Nothing more happens, by the agent's own verdict: run --until-idle exits once the file is
    # taken and the broker acknowledged every event; the drain at exit saves and prunes.
    wms.drop("a-orders.csv", a.spool)
    a.run_until_idle(60)
    st = a.status()
    eq(st["acked_through"], 2000, "broker acks")
    eq(a.rows(), 2000, "rows pruned without a platform ack")
    eq(st["platform_acked_through"], 0, "platform watermark moved by itself")
    jid = st["journal_id"]

    a.start()
    p = h.Platform(broker, key)
    t.stack.callback(p.close)
    p.wait_online(a)
    mark = a.mark()
    p.ack(jid, 2000, unsigned=True)
    a.wait_log("refused a platform ack on whagent/v1/IT-SITE/ack: unsigned, refused", 10, since=mark,
               what="unsigned ack not refused")
    p.ack(jid, 2000, key=forger)
    a.wait_log("refused a platform ack .*: signature does not verify", 10, since=mark, what="forged ack not refused")
    p.ack("0" * 32, 2000)
    a.wait_log('refused a platform ack .*: for journal "0{32}", not this journal', 10, since=mark,
               what="foreign journal ack not refused")
    p.ack(jid, 999999)
    a.wait_log("refused a platform ack .*: through seq 999999, beyond the broker's watermark 2000", 10, since=mark,
               what="ack beyond the broker's watermark not refused")
    eq((a.rows(), a.field("platform_acked_through")), (2000, 0), "rows and platform watermark after refused acks")

    raw = p.ack(jid, 1000)
    a.wait_status("platform_acked_through", 1000, 10, "platform ack not taken")
    a.wait_log(r"platform ack \(signed\): watermark 0 -> 1000", 10, since=mark, what="accepted ack not logged")
    h.wait_for(lambda: a.sql1("SELECT min(seq) FROM event") == 1001, 10, "not pruned through the platform's watermark")
    # the same ack again, after a restart: refused by its counter (it would do no harm here, but
    # the counter is what keeps a replayed command from running twice)
    a.stop()
    mark = a.mark()
    a.start()
    p.wait_online(a)
    p.publish_ack(raw)
    a.wait_log("refused a platform ack .*: counter \\d+ is not above \\d+", 10, since=mark,
               what="replayed ack not refused after a restart")
    p.ack(jid, 2000)
    h.wait_for(lambda: a.rows() == 0, 10, "not pruned after the ack of everything")
    # the reference consumer acks what it holds (joining after seq 2000, which the platform has)
    c1 = t.consumer(broker, "c1", "--ack", "--ack-from", 2001, "--expect-first", 2001, "--expect-last", 3000,
                    timeout=60)
    wms.drop("b-orders.csv", a.spool)
    c1.wait()
    a.wait_status("platform_acked_through", 3000, 20, "consumer acks")
    h.wait_for(lambda: a.rows() == 0, 10, "not pruned after the consumer's acks")
    has(a.cli("status").stdout, r"acked_through  3000 \(broker\), 3000 \(platform\)", "status")

    # the attack of the issue, even with the platform's own key: events journaled that the
    # broker never took (its ACL refuses the agent's batches), acked through the last seq
    a.stop()
    p.close()
    broker.stop()
    acl = t.write("acl", "topic read whagent/v1/#\ntopic write whagent/v1/+/status\ntopic write whagent/v1/+/ack\n")
    broker.start(extra="acl_file %s" % acl)
    wms.generate(csv=100, bad_every=0, dup_every=0, prefix="c", first_txn=200000)
    mark = a.mark()
    a.start()
    wms.drop("c-orders.csv", a.spool)
    a.wait_log("broker refused batch", 30, since=mark, what="the broker's ACL did not refuse the batch")
    a.wait_status("last_seq", 3100, 20, "capture")
    p = h.Platform(broker, key)
    t.stack.callback(p.close)
    p.wait_online(a)
    p.ack(jid, 3100)
    a.wait_log("refused a platform ack .*: through seq 3100, beyond the broker's watermark 3000", 10, since=mark,
               what="a signed ack beyond the broker's watermark not refused")
    eq((a.rows(), a.field("platform_acked_through"), a.field("acked_through")), (100, 3000, 3000),
       "rows and watermarks after the ack beyond the broker's")
    a.stop()
    return "only signed platform acks prune; unsigned, forged, foreign, beyond-the-broker and replayed acks refused"


if __name__ == "__main__":
    h.main(test)
