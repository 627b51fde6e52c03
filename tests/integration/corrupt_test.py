"""A journal that fails PRAGMA quick_check at start: the agent does not delete it; it moves it
aside (with its WAL; with damaged_keep = N only the newest N are kept), salvages what SQLite can still read into a fresh journal with a new
journal_id, reports what it salvaged (log and status), and runs. The salvaged events get
new gapless seqs and reach the consumer decoded, once each.
usage: corrupt_test.py WHAGENT [ARGS...]"""
import glob
import os
import subprocess

import harness as h
from harness import eq, ok


def test(t):
    broker = t.broker()
    a = t.new_agent()
    # capture first, with nowhere to send
    a.write_conf(sections=h.mqtt_section(h.unused_port(), "retention_s = 3600"))
    wms = h.Wms(t)
    wms.generate(csv=20000, bad_every=0, dup_every=0)
    a.start()
    wms.drop("wms-orders.csv", a.spool, "copy")
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/wms-orders.csv")), 60, "capture")
    old_id = a.field("journal_id")
    a.stop()
    # Damage a stretch in the middle of the file.
    size = os.path.getsize(a.db)
    with open(a.db, "r+b") as f:
        f.seek(size // 4096 // 2 * 4096)
        f.write(os.urandom(3 * 4096))
    qc = subprocess.run(["sqlite3", a.db, "PRAGMA quick_check"], capture_output=True, text=True).stdout
    ok(qc.strip() != "ok", "the damage did not show in quick_check")

    mark = a.mark()
    a.start()  # still with nowhere to send: the salvage is looked at first
    h.has(a.text(mark), "failed its integrity check", "no salvage logged")
    ok(glob.glob(a.db + ".damaged-*"), "the damaged journal was not kept")
    st = a.status()
    ok(st["journal_id"] != old_id, "no new journal_id")
    print("report:", st["journal_note"])
    n = st["last_seq"]
    ok(1000 < n < 20000, "salvaged %d of 20000 events" % n)
    eq(a.sql1("SELECT count(*) = max(seq) AND min(seq) = 1 FROM event"), 1, "salvaged seqs gapless")
    a.stop()

    a.edit_conf("port = [0-9]+", "port = %d" % broker.port)
    c1 = t.consumer(broker, "c1", "--expect-last", n, timeout=120)
    a.start()
    a.wait_status("backlog", 0, 60, "salvaged events not delivered")
    s = c1.wait()
    eq(list(s["journals"]), [st["journal_id"]], "journals the events came under")
    eq((s.j["unique"], s.j["gaps"], s["bad_batches"]), (n, [], []), "salvaged events as received")
    a.stop()

    # two more salvages: [journal] damaged_keep = 2 keeps the newest damaged journals (the
    # default, 0, keeps every one)
    a.edit_conf(r"max_bytes = .*", "\\g<0>\ndamaged_keep = 2")
    def damaged():
        return sorted(p for p in glob.glob(a.db + ".damaged-*") if p[-4:] not in ("-wal", "-shm"))
    first = damaged()
    for _ in range(2):
        with open(a.db, "r+b") as f:
            f.write(os.urandom(4096))
        mark = a.mark()
        a.start()
        h.has(a.text(mark), "failed its integrity check", "no salvage logged")
        a.stop()
    kept = damaged()
    eq(len(kept), 2, "damaged journals kept: %s" % kept)
    ok(first[0] not in kept, "the oldest damaged journal was kept")
    h.has(a.text(), r"deleted the damaged journal .*\(\[journal\] damaged_keep = 2\)", "the deletion's log")
    return "damaged journal kept aside, %d events salvaged into journal %s and delivered" % (n, st["journal_id"])


if __name__ == "__main__":
    h.main(test)
