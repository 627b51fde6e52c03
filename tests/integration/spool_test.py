"""Integration: the real `whagent run` takes CSV and JSON Lines files (thousands of records,
some malformed, some repeated) from its spool folder. Checks through `whagent status --json`
and the journal that every valid record was journaled once with gapless seq, every bad line is
quarantined with its position and reason, repeats were counted as duplicates, finished files
went to done/ and temporary names were left alone. Then a file that was taken but could not be
moved to done/ (done_dir unusable) is not taken again after a restart: its done cursor guards it.
usage: spool_test.py WHAGENT [ARGS...]"""
import os
import re

import harness as h
from harness import eq, ok


def test(t):
    a = t.new_agent()
    a.write_conf()
    wms = h.Wms(t)
    expect = wms.generate(csv=3000, jsonl=2000)
    # A second CSV repeats transactions of the first (a WMS re-export): all duplicates.
    lines = open(wms.file("wms-orders.csv"), newline="").read().split("\r\n")
    again = [l for l in lines[1:] if re.match(r"^(PICK|RECEIPT),TXN-00000000[1-9],", l)]
    ok(again, "generator produced no re-export rows")
    with open(wms.file("wms-reexport.csv"), "w", newline="") as f:
        f.write("\r\n".join([lines[0]] + again) + "\r\n")
    expect["duplicates"] += len(again)

    a.start()
    # Files appear the ways WMS exports do: written under a temporary name and renamed in...
    wms.drop("wms-orders.csv", a.spool, "rename")
    # ...or written in place (taken once unchanged for settle_ms).
    wms.drop("wms-moves.jsonl", a.spool, "copy")
    t.write("spool/upload.csv.tmp", "not for us\n")
    wms.drop("wms-orders.csv", a.spool, "copy", as_name=".hidden.csv")
    done = os.path.join(a.spool, "done")
    for name in ("wms-orders.csv", "wms-moves.jsonl"):
        h.wait_for(lambda: os.path.exists(os.path.join(done, name)), 60, "%s not taken" % name)
    wms.drop("wms-reexport.csv", a.spool, "copy")
    h.wait_for(lambda: os.path.exists(os.path.join(done, "wms-reexport.csv")), 60, "wms-reexport.csv not taken")
    st = a.status()
    a.stop()

    n = len(expect["keys"])
    eq(st["last_seq"], n, "status last_seq")
    eq(st["backlog"], n, "status backlog")
    a.check_journal(expect)
    ok(os.path.exists(a.spool + "/upload.csv.tmp") and os.path.exists(a.spool + "/.hidden.csv"),
       "temporary names were touched")
    eq(a.sql1("SELECT count(*) FROM cursor"), 0, "cursors of finished files left behind")

    # A restart takes nothing twice: with done_dir unusable (a file stands where the agent made
    # the directory) a taken file stays in the spool with its done cursor; a restart must see it
    # and not read it again.
    outbox = t.path("outbox")
    a.write_conf(spool="done_dir = %s" % outbox)
    extra = wms.generate(csv=200, prefix="late", first_txn=500000)
    mark = a.mark()
    a.start()
    os.rmdir(outbox)
    t.write("outbox", "a file, not a directory\n")
    wms.drop("late-orders.csv", a.spool, "rename")
    stuck = r"spool: late-orders.csv is taken but cannot be moved"
    a.wait_log(stuck, 60, since=mark)
    before = a.status()
    a.stop()
    mark = a.mark()
    a.start()
    a.wait_log(stuck, 60, since=mark, what="the restarted agent did not look at the taken file")
    after = a.status()
    a.stop()
    ok(os.path.exists(os.path.join(a.spool, "late-orders.csv")), "the taken file left the spool")
    eq({k: after[k] for k in ("last_seq", "duplicates", "quarantined")},
       {k: before[k] for k in ("last_seq", "duplicates", "quarantined")},
       "what the restart took from a file it had finished")
    ok("resuming late-orders.csv" not in a.text(mark), "the finished file was resumed")
    # done_dir usable again: the file goes to done/ and nothing else happens (until idle).
    os.unlink(outbox)
    os.mkdir(outbox)
    a.run_until_idle()
    ok(os.path.exists(os.path.join(outbox, "late-orders.csv")), "late-orders.csv not moved to done_dir")
    expect["keys"] += extra["keys"]
    expect["duplicates"] += extra["duplicates"]
    expect["quarantined"] += extra["quarantined"]
    a.check_journal(expect)
    eq(a.sql1("SELECT count(*) FROM cursor"), 0, "cursor of the finished file left behind")
    return "%d events journaled once, gapless; duplicates and quarantine as expected; a finished " \
        "file is not read again after a restart" % len(expect["keys"])


if __name__ == "__main__":
    h.main(test)
