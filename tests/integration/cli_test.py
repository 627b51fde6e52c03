"""The command line as an operator uses it: check with good and bad configurations, status
before and after the journal exists, and the quarantine workflow: a WMS column the mapping
does not know lands records in quarantine; after the [map.NAME] section is fixed, requeue
journals them; purge deletes what is beyond repair.
usage: cli_test.py WHAGENT [ARGS...]"""
import os

import harness as h
from harness import eq, has, ok


def test(t):
    a = t.new_agent()
    r = a.cli("version", conf=False)
    has(r.stdout, r"^whagent [0-9]", "version")
    has(a.cli("--help", conf=False).stdout, "quarantine requeue",
        "--help does not cover quarantine requeue")
    has(a.cli("help-config", conf=False).stdout, "max_bytes", "help-config does not list keys")
    ok(a.cli("frobnicate", conf=False).returncode != 0, "unknown command accepted")
    # The shipped example configuration is valid (with its placeholder filled in).
    # (the folders the package makes are the test's own here)
    os.makedirs(t.path("var/spool"), exist_ok=True)
    shipped = open(os.path.join(h.TOP, "packaging/whagent.conf")).read().replace(
        "/var/spool/whagent", t.path("var/spool")).replace("/var/lib/whagent", t.path("var/lib"))
    r = a.cli("check", "-c", t.write("shipped.conf", shipped), conf=False)
    eq(r.returncode, 1, "check accepts the placeholder site_id")
    has(r.stderr, r"^whagent check: error: \[agent\] site_id = CHANGE-ME is a placeholder", "CHANGE-ME")
    has(r.stderr, r"^whagent check: warning: \[mqtt\] host is empty: no uplink", "empty host")
    eq(h.count(r.stderr, "error:"), 1, "errors besides the placeholder: " + r.stderr)
    shipped = shipped.replace("\nsite_id = CHANGE-ME\n", "\nsite_id = IT\n")
    r = a.cli("check", "-c", t.write("shipped.conf", shipped), conf=False)
    eq(r.returncode, 0, "packaging/whagent.conf does not pass check: %s" % r.stderr)

    a.write_conf(spool="map = acme", sections="[map.acme]\nsku = Item\n")
    r = a.cli("check")
    eq(r.returncode, 0, "check rejects a good configuration: %s" % r.stderr)
    has(r.stdout, r"^map\.acme\.sku = Item$", "check does not print the mapping")
    has(r.stdout, r"^journal\.synchronous = full$", "check does not print defaults")

    bad = t.write("bad.conf", open(a.conf).read() + "colour = blue\n")
    r = a.cli("check", "-c", bad, conf=False)
    ok(r.returncode != 0, "check accepts an unknown key")
    has(r.stderr, r"bad\.conf:[0-9]*: \[map\.acme\] colour: not a record field",
        "check error does not name file, line and key")

    r = a.cli("status")
    ok(r.returncode != 0, "status without a journal")
    has(r.stderr, "journal", "status error unclear")

    # The WMS calls the SKU column "ItemNo", the mapping says "Item": every record is rejected.
    t.write("spool/acme.csv", "kind,txn_id,event_time,ItemNo,qty,uom,bin\n"
            "PICK,C1,2026-03-01T10:00:00Z,S1,1,EA,A1\nPICK,C2,2026-03-01T10:00:01Z,S2,2,EA,A1\n"
            "PICK,C3,2026-03-01T10:00:02Z,S3,x,EA,A1\n")
    a.run_until_idle(60)
    ok(os.path.exists(t.path("spool/done/acme.csv")), "acme.csv not taken")
    out = a.cli("quarantine", "list").stdout
    eq(len(out.splitlines()), 3, "quarantined records listed:\n" + out)
    has(out, r"acme\.csv line 2: column Item \(or sku\) is required", "reason")
    out = a.cli("quarantine", "show", "1").stdout
    has(out, r"^PICK,C1,2026-03-01T10:00:00Z,S1,1,EA,A1$", "show lacks the raw record")
    has(out, r"^header    kind,txn_id,event_time,ItemNo,qty,uom,bin$", "show lacks the header")

    # Requeue with the wrong mapping still refuses, and keeps the record.
    r = a.cli("quarantine", "requeue", "1")
    ok(r.returncode != 0, "requeue took an invalid record")
    has(r.stdout, r"still invalid: column Item \(or sku\) is required", "requeue reason")
    ok(a.cli("quarantine", "requeue").returncode == 2, "requeue without ids: usage")

    a.edit_conf("sku = Item", "sku = ItemNo")
    has(a.cli("quarantine", "requeue", "1").stdout, "journaled as seq 1", "requeue 1")
    has(a.cli("quarantine", "requeue", "2").stdout, "journaled as seq 2", "requeue 2")
    r = a.cli("quarantine", "requeue", "3")
    ok(r.returncode != 0, "requeue took qty x")
    has(r.stdout, "column qty: 'x' is not a decimal number", "requeue 3 reason")
    has(a.cli("quarantine", "purge", "3").stdout, "purged 3", "purge")
    ok(a.cli("quarantine", "purge", "3").returncode != 0, "purge of a purged id")

    st = a.status()
    eq((st["last_seq"], st["quarantined"]), (2, 0), "last_seq and quarantine after requeue")
    eq([k for (k,) in a.sql("SELECT source_key FROM event ORDER BY seq")], ["C1", "C2"], "events")

    # Requeue of a record already journaled is a duplicate, not a second event.
    t.write("spool/again.csv", "kind,txn_id,event_time,ItemNo,qty,uom,Slot\nPICK,C1,2026-03-01T10:00:00Z,S1,1,EA,A1\n")
    a.run_until_idle(60)
    ok(os.path.exists(t.path("spool/done/again.csv")), "again.csv not taken")
    a.edit_conf("sku = ItemNo", "sku = ItemNo\nbin = Slot")
    has(a.cli("quarantine", "requeue", "4").stdout, "duplicate of an event journaled as seq 1",
        "requeue of a repeat is not a duplicate")
    eq(a.rows(), 2, "events after requeueing a repeat")
    return "check, status and the quarantine workflow"


if __name__ == "__main__":
    h.main(test)
