#!/usr/bin/python3
"""Reference consumer for whagent: what the central platform side does with the events.

Subscribes to {prefix}/{site}/events and /status, decodes with the .proto files of
proto/whagent/v1 (compiled by protoc at start), dedupes events by (journal_id, seq) and
reports gaps. Debian: python3-paho-mqtt, python3-protobuf, protobuf-compiler.

  whagent_consumer.py --port 1883 --site DC1 --expect-last 5000 --timeout 60

With --expect-last N it exits once every seq 1..N of one journal arrived (or at --timeout)
and prints a JSON summary: received, unique, duplicates, gaps, statuses.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt


def load_protos(proto_dir):
    out = tempfile.mkdtemp(prefix="whagent-pb2-")
    files = [os.path.join("whagent/v1", f) for f in ("event.proto", "batch.proto", "status.proto", "control.proto")]
    subprocess.run(["protoc", "--proto_path", proto_dir, "--python_out", out] + files, check=True)
    sys.path.insert(0, out)
    from whagent.v1 import batch_pb2, status_pb2  # noqa: E402
    return batch_pb2, status_pb2


def control_pb2():
    from whagent.v1 import control_pb2 as c  # noqa: E402 (after load_protos)
    return c


def varint(buf, i):
    v, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def without_fields(buf, drop):
    """The message's bytes without the top-level fields in drop (wire format, no re-encoding)."""
    out, i = bytearray(), 0
    while i < len(buf):
        start = i
        key, i = varint(buf, i)
        wt = key & 7
        if wt == 0:
            _, i = varint(buf, i)
        elif wt == 1:
            i += 8
        elif wt == 2:
            n, i = varint(buf, i)
            i += n
        elif wt == 5:
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        if (key >> 3) not in drop:
            out += buf[start:i]
    return bytes(out)


class Verifier:
    """Checks sign_batches signatures: ECDSA P-256 / SHA-256 by the device key over the batch
    without fields 7 (signature) and 8 (key fingerprint)."""

    def __init__(self, cert_path):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        self.ec, self.hashes = ec, hashes
        self.key = x509.load_pem_x509_certificate(open(cert_path, "rb").read()).public_key()
        der = self.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        import hashlib
        self.fingerprint = hashlib.sha256(der).digest()

    def check(self, payload, batch):
        if not batch.signature or batch.key_fingerprint != self.fingerprint:
            return False
        try:
            self.key.verify(batch.signature, without_fields(payload, {7, 8}), self.ec.ECDSA(self.hashes.SHA256()))
            return True
        except Exception:
            return False


class Tracker:
    """Per journal: which seqs arrived (a bitmap), duplicates, order."""

    def __init__(self):
        self.journals = {}
        self.received = 0
        self.batches = 0
        self.bad_batches = []
        self.statuses = []
        self.props_seen = {}
        self.kinds = {}
        self.signatures = {"verified": 0, "rejected": 0}

    def journal(self, jid):
        return self.journals.setdefault(jid, {"seen": bytearray(1024), "unique": 0, "dups": 0,
                                              "max": 0, "out_of_order": 0, "last_new": 0})

    def add(self, jid, seq):
        j = self.journal(jid)
        self.received += 1
        if seq >= len(j["seen"]):
            j["seen"].extend(bytearray(max(seq + 1 - len(j["seen"]), len(j["seen"]))))
        if j["seen"][seq]:
            j["dups"] += 1
            return False
        j["seen"][seq] = 1
        j["unique"] += 1
        if seq < j["last_new"]:
            j["out_of_order"] += 1
        j["last_new"] = seq
        j["max"] = max(j["max"], seq)
        return True

    def contiguous(self, jid, start):
        """Highest seq h such that every seq in start..h arrived (start - 1 if none)."""
        j = self.journals[jid]
        gap = j["seen"].find(0, start)
        return (gap if gap >= 0 else len(j["seen"])) - 1

    def complete(self, first, last):
        return any(len(j["seen"]) > last and all(j["seen"][first:last + 1]) for j in self.journals.values())

    def summary(self):
        # gaps are reported from the lowest seq seen: a consumer that joined late has no gap
        out = {"received": self.received, "batches": self.batches, "bad_batches": self.bad_batches[:5],
               "signatures": self.signatures,
               "statuses": self.statuses, "properties": self.props_seen, "kinds": self.kinds,
               "journals": {}}
        for jid, j in self.journals.items():
            gaps, start = [], None
            low = j["seen"].find(1)
            for s in range(max(low, 1), j["max"] + 1):
                if not j["seen"][s] and start is None:
                    start = s
                elif j["seen"][s] and start is not None:
                    gaps.append([start, s - 1])
                    start = None
            out["journals"][jid] = {"unique": j["unique"], "duplicates": j["dups"], "max_seq": j["max"],
                                    "min_seq": low,
                                    "gaps": gaps[:20], "out_of_order": j["out_of_order"]}
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--prefix", default="whagent/v1")
    ap.add_argument("--site", default="+")
    ap.add_argument("--cafile")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--proto", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../proto"))
    ap.add_argument("--expect-last", type=int, default=0, help="exit when seq FIRST..N arrived")
    ap.add_argument("--expect-first", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=0, help="exit after this many seconds")
    ap.add_argument("--events", help="write every decoded event as a JSON line to this file")
    ap.add_argument("--ready", help="touch this file once subscribed")
    ap.add_argument("--verify-cert", help="device certificate: accept only batches it signed")
    ap.add_argument("--dump-first", help="write the first batch's raw bytes to this file")
    ap.add_argument("--ack", action="store_true",
                    help="publish PlatformAck on PREFIX/SITE/ack: every seq up to it is held")
    ap.add_argument("--ack-from", type=int, default=1,
                    help="seqs below this are already held elsewhere (a consumer joining late)")
    a = ap.parse_args()

    batch_pb2, status_pb2 = load_protos(a.proto)
    from google.protobuf import json_format
    t = Tracker()
    verifier = Verifier(a.verify_cert) if a.verify_cert else None
    events_out = open(a.events, "w") if a.events else None

    def on_connect(client, userdata, flags, rc, props=None):
        client.subscribe([("%s/%s/events" % (a.prefix, a.site), 1), ("%s/%s/status" % (a.prefix, a.site), 1)])

    def on_subscribe(client, userdata, mid, granted, props=None):
        if a.ready:
            open(a.ready, "w").close()

    def on_message(client, userdata, msg):
        if msg.topic.endswith("/status"):
            st = status_pb2.Status()
            st.ParseFromString(msg.payload)
            t.statuses.append({"state": status_pb2.AgentState.Name(st.state), "session": st.session,
                               "retained": bool(msg.retain), "backlog": st.backlog,
                               "acked_through": st.acked_through, "journal_id": st.journal_id})
            return
        b = batch_pb2.EventBatch()
        b.ParseFromString(msg.payload)
        if a.dump_first and t.batches == 0:
            open(a.dump_first, "wb").write(msg.payload)
        t.batches += 1
        if verifier:
            if not verifier.check(msg.payload, b):
                t.signatures["rejected"] += 1
                return
            t.signatures["verified"] += 1
        props = getattr(msg, "properties", None)
        if props is not None and getattr(props, "UserProperty", None):
            t.props_seen = dict(props.UserProperty)
            t.props_seen["content_type"] = getattr(props, "ContentType", "")
        seqs = []
        for e in b.events:
            body = e.WhichOneof("body")
            h = getattr(e, body).header
            seqs.append(h.seq)
            kind = batch_pb2.whagent_dot_v1_dot_event__pb2.EventKind.Name(h.kind)
            t.kinds[kind] = t.kinds.get(kind, 0) + 1
            if t.add(b.journal_id, h.seq) and events_out:
                events_out.write(json_format.MessageToJson(e, indent=None) + "\n")
        if a.ack:
            through = t.contiguous(b.journal_id, a.ack_from)
            if through >= a.ack_from:
                ack = control_pb2().PlatformAck(journal_id=b.journal_id, acked_through=through)
                client.publish("%s/%s/ack" % (a.prefix, b.site_id), ack.SerializeToString(), qos=1)
        if seqs != list(range(b.first_seq, b.last_seq + 1)):
            t.bad_batches.append({"first_seq": b.first_seq, "last_seq": b.last_seq, "n": len(seqs)})

    client = mqtt.Client(client_id="whagent-consumer-%d" % os.getpid(), protocol=mqtt.MQTTv5)
    if a.cafile:
        client.tls_set(ca_certs=a.cafile, certfile=a.cert, keyfile=a.key)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(a.host, a.port, keepalive=30)
    deadline = time.monotonic() + a.timeout if a.timeout else None
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # summary, then exit
    while not stop:
        client.loop(timeout=0.2)
        if a.expect_last and t.complete(a.expect_first, a.expect_last):
            break
        if deadline and time.monotonic() > deadline:
            break
    for _ in range(5):  # statuses published together with the last batch
        client.loop(timeout=0.1)
    client.disconnect()
    if events_out:
        events_out.close()
    print(json.dumps(t.summary()))
    return 0 if not a.expect_last or t.complete(a.expect_first, a.expect_last) else 1


if __name__ == "__main__":
    sys.exit(main())
