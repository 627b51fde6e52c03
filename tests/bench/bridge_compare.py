#!/usr/bin/python3
"""Measurement for the README's "why not just a bridge" (not a test): what a site might use
instead of whagent, a local mosquitto with `persistence true` bridging to the central broker,
the WMS publishing each transaction to the local broker at QoS 1. The local broker is killed
with -9 KILLS times while MESSAGES are published; the central side counts, with the same
decoding and dedupe by (journal_id, seq) as the reference consumer, what arrived of what the
publisher saw acknowledged.

usage: bridge_compare.py [--messages N] [--kills K] [--seed S]
"""
import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(TOP, "packaging/consumer"))
import whagent_consumer  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def broker(conf):
    p = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save-every-change", action="store_true",
                    help="autosave_on_changes with interval 1 (not mosquitto's default of 1800 s)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    batch_pb2, _ = whagent_consumer.load_protos(os.path.join(TOP, "proto"))
    work = tempfile.mkdtemp(prefix="whagent-bridge-")
    central, local = free_port(), free_port()
    with open(os.path.join(work, "central.conf"), "w") as f:
        f.write("user root\npersistence false\nlistener %d 127.0.0.1\nallow_anonymous true\n"
                "max_queued_messages 0\n" % central)
    with open(os.path.join(work, "local.conf"), "w") as f:
        f.write("user root\npersistence true\npersistence_location %s/\n" % work)
        if a.save_every_change:
            f.write("autosave_interval 1\nautosave_on_changes true\n")
        f.write("max_queued_messages 0\nlistener %d 127.0.0.1\n"
                "allow_anonymous true\nconnection central\naddress 127.0.0.1:%d\n"
                "topic whagent/v1/# out 1\ncleansession false\nrestart_timeout 1\n" % (local, central))
    pc = broker(os.path.join(work, "central.conf"))
    pl = broker(os.path.join(work, "local.conf"))
    seen, lock = set(), threading.Lock()

    def on_message(c, u, msg):
        b = batch_pb2.EventBatch()
        b.ParseFromString(msg.payload)
        with lock:
            for e in b.events:
                seen.add((b.journal_id, getattr(e, e.WhichOneof("body")).header.seq))

    cons = mqtt.Client(client_id="central-consumer", clean_session=False)
    cons.on_connect = lambda c, u, f, rc: c.subscribe("whagent/v1/+/events", 1)
    cons.on_message = on_message
    cons.connect("127.0.0.1", central)
    cons.loop_start()
    time.sleep(0.5)

    acked, acked_lock = set(), threading.Lock()
    pub = mqtt.Client(client_id="wms-publisher", clean_session=False)
    pub.max_inflight_messages_set(32)
    mids = {}

    def on_publish(c, u, mid):
        with acked_lock:
            if mid in mids:
                acked.add(mids.pop(mid))

    pub.on_publish = on_publish
    pub.reconnect_delay_set(0.1, 1)
    pub.connect("127.0.0.1", local)
    pub.loop_start()
    kill_at = sorted(rng.sample(range(a.messages // 10, a.messages), a.kills))
    for seq in range(1, a.messages + 1):
        b = batch_pb2.EventBatch(site_id="BRIDGE", journal_id="bridge", first_seq=seq, last_seq=seq)
        ev = b.events.add()
        ev.inventory.header.seq = seq
        ev.inventory.header.source_key = "T%d" % seq
        info = pub.publish("whagent/v1/BRIDGE/events", b.SerializeToString(), qos=1)
        with acked_lock:
            mids[info.mid] = seq
        if kill_at and seq == kill_at[0]:
            kill_at.pop(0)
            pl.send_signal(signal.SIGKILL)
            pl.wait()
            time.sleep(rng.uniform(0.2, 1.0))
            pl = broker(os.path.join(work, "local.conf"))
        while len(mids) > 500:  # flow control: the publisher does not run far ahead
            time.sleep(0.005)
    deadline = time.time() + 60
    while time.time() < deadline:
        with lock, acked_lock:
            if acked <= {s for (_, s) in seen} and not mids:
                break
        time.sleep(0.5)
    time.sleep(2)
    got = {s for (_, s) in seen}
    lost = sorted(acked - got)
    print("bridge: %d published, %d acknowledged by the local broker, %d arrived centrally, "
          "%d acknowledged but lost (%.2f%%) across %d kill -9 of the local broker (%s)" %
          (a.messages, len(acked), len(got & acked), len(lost), 100.0 * len(lost) / max(1, len(acked)), a.kills,
           "saved on every change" if a.save_every_change else "mosquitto's default autosave"))
    for p in (pl, pc):
        p.kill()
        p.wait()
    pub.loop_stop()
    cons.loop_stop()
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
