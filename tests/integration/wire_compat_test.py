"""Wire compatibility: an event consumer compiled from the .proto files as they were before the
signed control envelope (tests/data/proto-2026-12-02, a copy of proto/ on 2026-12-02) still
decodes every batch, status and snapshot page the agent publishes now: the reference consumer
run with --proto on that copy receives every event once, in order, with no batch it cannot
frame, and verifies the agent's scheduled snapshots against them. The copy is also checked to
be a subset of today's files: no field renumbered, retyped or dropped.
usage: wire_compat_test.py WHAGENT [ARGS...]"""
import os
import subprocess
import tempfile

import harness as h
from harness import eq, ok

OLD = os.path.join(h.TOP, "tests/data/proto-2026-12-02")
FILES = ("event.proto", "batch.proto", "status.proto", "control.proto", "snapshot.proto")


def fields(proto_dir):
    """{(file, message, field number): (name, type, label)} of every field, from protoc's
    descriptor set of proto_dir."""
    from google.protobuf import descriptor_pb2
    out = tempfile.mktemp(suffix=".pb")
    subprocess.run(["protoc", "--proto_path", proto_dir, "--descriptor_set_out", out] +
                   ["whagent/v1/" + f for f in FILES], check=True)
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(open(out, "rb").read())
    os.unlink(out)
    got = {}
    for f in fds.file:
        for m in f.message_type:
            for fd in m.field:
                got[(f.name, m.name, fd.number)] = (fd.name, fd.type, fd.label, fd.type_name)
        for e in f.enum_type:
            for v in e.value:
                got[(f.name, e.name, v.number)] = (v.name,)
    return got


def test(t):
    old, new = fields(OLD), fields(os.path.join(h.TOP, "proto"))
    eq({k: v for k, v in old.items() if new.get(k) != v}, {}, "fields of the old .proto files changed or dropped")
    ok(len(new) > len(old), "today's files add nothing to the copy (update the copy's date?)")

    broker = t.broker()
    a = t.new_agent()
    a.write_conf(sections=h.mqtt_section(broker.port, "[ledger]\nsnapshot_interval_s = 1"))
    wms = h.Wms(t)
    n = len(wms.generate(csv=2000, bad_every=0, dup_every=0)["keys"])
    c = t.consumer(broker, "old", "--proto", OLD, "--expect-last", n, "--expect-snapshots", 1, timeout=60)
    a.start()
    wms.drop("wms-orders.csv", a.spool)
    s = c.wait()
    s.complete(n)
    ok(s["statuses"], "no Status decoded")
    snaps = [x for x in s["snapshots"] if x["checked"] and x["verifiable"]]
    ok(snaps and all(x["totals_match"] and x["balances_match"] for x in snaps), "snapshots: %s" % s["snapshots"])
    a.stop()
    return "a consumer built from the 2026-12-02 .proto files decoded all %d events, statuses and snapshots" % n


if __name__ == "__main__":
    h.main(test)
