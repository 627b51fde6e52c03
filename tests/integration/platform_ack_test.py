"""ack_mode = platform: the broker's PUBACK no longer lets events go; only the platform's
PlatformAck on PREFIX/SITE/ack does. Nothing is pruned while the consumer is away (the broker
acknowledged everything); an ack for another journal or beyond the last seq is ignored with a
warning (also one that comes while the journal cannot be read); a valid ack prunes up to it; the reference consumer's --ack prunes the rest.
usage: platform_ack_test.py WHAGENT [ARGS...]"""
import harness as h
from harness import eq, has


def test(t):
    broker = t.broker()
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(broker.port, "retention_s = 0\nack_mode = platform"))
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
    p = h.Platform(broker)
    t.stack.callback(p.close)
    mark = a.mark()
    p.ack("0" * 32, 2000)
    a.wait_log("ignoring a platform ack for journal 0000", 10, since=mark, what="foreign journal ack not ignored")
    p.ack(jid, 999999)
    a.wait_log("ignoring a platform ack through seq 999999 beyond", 10, since=mark,
               what="ack beyond last_seq not ignored")
    # an ack while the journal cannot be read (a meta row hidden for the time): ignored, and said
    # why (it once logged an uninitialised last seq here: valgrind's memcheck run shows it)
    a.sql_write("UPDATE meta SET key = 'duplicates.hidden' WHERE key = 'duplicates'")
    p.ack(jid, 1500)
    a.wait_log("ignoring a platform ack through seq 1500: reading the journal", 10, since=mark,
               what="ack with the journal unreadable not ignored")
    a.sql_write("UPDATE meta SET key = 'duplicates' WHERE key = 'duplicates.hidden'")
    eq((a.rows(), a.field("platform_acked_through")), (2000, 0), "rows and platform watermark after ignored acks")

    p.ack(jid, 1000)
    a.wait_status("platform_acked_through", 1000, 10, "platform ack not taken")
    h.wait_for(lambda: a.sql1("SELECT min(seq) FROM event") == 1001, 10, "not pruned through the platform's watermark")
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
    a.stop()
    return "only platform acks prune; foreign and out-of-range acks ignored"


if __name__ == "__main__":
    h.main(test)
