"""Uplink end to end with a real mosquitto on a free loopback port and the reference consumer
decoding with the .proto files: every event arrives, decodes, in seq order, gapless, once;
MQTT 5 properties are set; birth (ONLINE), graceful stop (OFFLINE, retained) and the will
after kill -9 (OFFLINE, same session) are seen; status --json reports the watermark.
usage: uplink_test.py WHAGENT [ARGS...]"""
import harness as h
from harness import eq


def test(t):
    broker = t.broker()
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(broker.port, "retention_s = 3600"))
    wms = h.Wms(t)
    n = len(wms.generate(csv=3000, jsonl=2000)["keys"])

    c1 = t.consumer(broker, "c1", "--expect-last", n, timeout=60)
    a.start()
    wms.drop("wms-orders.csv", a.spool)
    wms.drop("wms-moves.jsonl", a.spool)
    s = c1.wait()
    s.complete(n)
    eq((s.j["duplicates"], s["topics"]["backfill"]["batches"], s["topics"]["events"]["historical_batches"]),
       (0, 0, 0), "copies, backfill or historical batches without an outage")
    eq(sorted(s["kinds"]), ["EVENT_KIND_ADJUSTMENT", "EVENT_KIND_PICK", "EVENT_KIND_RECEIPT",
                            "EVENT_KIND_SHIPMENT", "EVENT_KIND_TRANSFER"], "kinds decoded")
    eq(sorted(s["properties"]), ["content_type", "first_seq", "journal", "last_seq", "site"], "MQTT 5 properties")
    eq(s["properties"]["site"], h.SITE, "site property")
    eq([x["state"] for x in s["statuses"]][:1], ["AGENT_STATE_ONLINE"], "birth status")

    a.wait_status("acked_through", n, 10, "watermark not at %d" % n)
    st = a.status()
    eq(a.link(st), "connected", "status mqtt")
    eq(st["backlog"], 0, "backlog")

    # Graceful stop: OFFLINE status, retained, same session.
    a.stop()
    eq(h.retained_status(broker), ("AGENT_STATE_OFFLINE", 1, True), "retained status after SIGTERM")
    eq(a.link(), "stopped", "status after stop")

    # kill -9: the broker publishes the will (OFFLINE) for the new session.
    a.start()
    h.wait_for(lambda: h.retained_status(broker) == ("AGENT_STATE_ONLINE", 2, True), 10,
               "no birth of session 2 after the restart")
    a.kill9()
    h.wait_for(lambda: h.retained_status(broker)[:2] == ("AGENT_STATE_OFFLINE", 2), 10,
               "no will (OFFLINE, session 2) after kill -9")
    return "%d events delivered once, in order, gapless; birth, death and will seen" % n


if __name__ == "__main__":
    h.main(test)
