"""Reload applies or refuses: a SIGHUP that changes keys which need a restart (sign_batches,
ack_mode) is refused, names every such key, and changes nothing (batches stay unsigned and the
broker's PUBACK still moves the watermark); a SIGHUP that changes only reloadable keys
(linger_ms, status_interval_s, log_level) applies them; a restart then applies the refused ones.
usage: reload_test.py WHAGENT [ARGS...]"""
import os

import harness as h
from harness import eq, has, ok


def batches(m, since=0):
    wc = h.protos()
    out = []
    with m.lock:
        msgs = list(m.msgs[since:])
    for msg in msgs:
        if msg.topic.endswith("/events"):
            b = wc.pb2("batch").EventBatch()
            b.ParseFromString(msg.payload)
            out.append(b)
    return out


def test(t):
    broker = t.broker()
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(broker.port, "linger_ms = 20"))
    key = t.path("device.key")
    h.ec_key(key)
    wms = h.Wms(t)
    exp = wms.generate(csv=300)
    n = len(exp["keys"])
    m = t.mqtt(broker)
    m.subscribe("%s/%s/events" % (h.PREFIX, h.SITE))
    a.start()
    wms.drop("wms-orders.csv", a.spool)
    a.wait_status("acked_through", n, 30, "first file not acknowledged by the broker")

    # keys that need a restart, with one that does not: refused as a whole, every key named
    good = open(a.conf).read()
    a.edit_conf("linger_ms = 20", "linger_ms = 30\nack_mode = platform\nplatform_pubkey = %s\nsign_batches = true\n"
                "keyfile = %s" % (t.platform_key()[1], key))
    mark = a.mark()
    a.reload(expect="reload refused")
    text = a.text(mark)
    has(text, r"\[mqtt\] ack_mode", "refusal names ack_mode")
    has(text, r"\[mqtt\] sign_batches", "refusal names sign_batches")
    ok("configuration reloaded" not in text, "a refused reload said it reloaded")
    ok(a.alive(), "agent died on a refused reload")

    # nothing changed: a new file goes out unsigned and the PUBACK still acknowledges it
    since = len(m.msgs)
    wms.generate(csv=200, prefix="r2", first_txn=100000)
    wms.drop("r2-orders.csv", a.spool)
    a.wait_status("last_seq", lambda v: v > n, 30, "second file not journaled")
    last = a.field("last_seq")
    a.wait_status("acked_through", last, 30,
                  "after the refused reload the broker's PUBACK no longer acknowledges (ack_mode changed?)")
    got = batches(m, since)
    ok(got, "no batch published after the refused reload")
    eq([b.signature for b in got if b.signature], [], "batches signed after a refused reload")

    # only reloadable keys: applied
    with open(a.conf, "w") as f:
        f.write(good.replace("linger_ms = 20", "linger_ms = 40").replace("status_interval_s = 2", "status_interval_s = 1")
                .replace("[agent]\n", "[agent]\nlog_level = debug\n"))
    a.reload()
    eq(a.alive(), True, "agent alive after reload")

    # a restart applies the refused keys: the batches are signed from then on
    a.stop()
    with open(a.conf, "w") as f:
        f.write(good.replace("linger_ms = 20", "linger_ms = 20\nsign_batches = true\nkeyfile = " + key))
    since = len(m.msgs)
    a.start()
    wms.generate(csv=200, prefix="r3", first_txn=200000)
    wms.drop("r3-orders.csv", a.spool)
    h.wait_for(lambda: batches(m, since), 30, "no batch after the restart")
    ok(all(b.signature for b in batches(m, since)), "batches unsigned after a restart with sign_batches")
    a.stop()
    return "refused reload named ack_mode and sign_batches and changed nothing; reloadable keys applied"


if __name__ == "__main__":
    h.main(test)
