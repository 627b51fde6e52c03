"""Gaps found by the platform are filled by replays: the reference platform stops (SIGSTOP) while
the agent publishes, so the broker, with small queues, drops part of its QoS 1 batches (as a
broker does for a slow subscriber) although it acknowledged them to the agent. With
ack_mode = platform nothing is pruned; the platform sees the hole, asks for it with a signed
replay command, gets it on PREFIX/SITE/backfill, acks everything, and only then is it pruned.
usage: replay_test.py WHAGENT [ARGS...]"""

import harness as h
from harness import eq, ok


def test(t):
    key = h.ec_key(t.path("central.key"))
    pub = h.ec_pub(key, t.path("central.pub"))
    broker = t.broker("max_inflight_messages 5\nmax_queued_messages 5")
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(broker.port, "ack_mode = platform\nretention_s = 0\n"
                                         "batch_max_events = 100\nplatform_pubkey = %s" % pub))
    wms = h.Wms(t)
    wms.generate(csv=1000, bad_every=0, dup_every=0, prefix="a")
    wms.generate(csv=5000, bad_every=0, dup_every=0, prefix="b", first_txn=100000)
    c1 = t.consumer(broker, "c1", "--ack", "--replay-after", 1, "--platform-key", key, "--expect-last", 6000,
                    timeout=90)
    a.start()
    wms.drop("a-orders.csv", a.spool)
    a.wait_status("platform_acked_through", 1000, 30, "platform acks of the first file")
    c1.pause()
    wms.drop("b-orders.csv", a.spool)
    a.wait_status("acked_through", 6000, 30, "broker acks")
    # The platform is stopped: it has acked nothing beyond 1000, and it holds nothing beyond
    # what it acked, so the journal keeps 1001..6000 (once 1..1000 are pruned).
    h.wait_for(lambda: a.rows() <= 5000, 30, "1..1000 not pruned after the platform's ack")
    eq(a.field("platform_acked_through"), 1000, "platform watermark while the platform was stopped")
    eq(a.rows(), 5000, "rows kept while the platform was stopped (pruned what it does not hold?)")
    c1.resume()
    s = c1.wait()
    h.has(broker.text(), "dropped", "the broker dropped nothing: the test proves nothing")
    eq((s.j["unique"], s.j["gaps"], s["bad_batches"]), (6000, [], []), "events as received")
    ok(s["replays"] and all(r["from"] > 1000 for r in s["replays"]), "replays: %s" % s["replays"])
    ok(all(r["ok"] for r in s["command_results"]), "command results: %s" % s["command_results"])
    a.wait_status("platform_acked_through", 6000, 20, "platform acks after the replay")
    h.wait_for(lambda: a.rows() == 0, 10, "not pruned after the platform's acks")
    a.stop()
    return "a range the broker dropped is found by the platform, replayed on a signed request (%s), " \
        "acked, then pruned" % ", ".join("%d-%d" % (r["from"], r["to"]) for r in s["replays"])


if __name__ == "__main__":
    h.main(test)
