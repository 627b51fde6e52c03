"""A hostile or careless neighbour in the spool folder, with the real daemon: a symbolic link,
a FIFO and a file hard-linked in from elsewhere are each refused with one log line (however
many scans follow) and nothing of them is read, while good files go on being taken; an upload
that finishes with a hard link is taken once its other name is gone. NUL bytes (raw in CSV,
raw or \\u0000 in JSON Lines) make a record invalid, never a shorter field. A line of 1 GiB
(a sparse file) is skipped in slices that let the loop run (its committed cursor says so
while it is skipped), survives a kill -9 in the middle without a second quarantine entry,
and the record after it is taken. Files in done/ past done_retention_days are deleted. With
owner set, a file of another user is refused.
usage: spool_hostile_test.py WHAGENT [ARGS...]"""
import glob
import os
import pwd

import harness as h
from harness import eq, has, ok

HEADER = "kind,txn_id,event_time,sku,qty,uom,bin\n"


def row(txn, sku="S1"):
    return "pick,%s,2026-03-01T10:00:00Z,%s,1,EA,A-1\n" % (txn, sku)


def test(t):
    a = t.new_agent()
    a.write_conf()
    a.start()

    def drop(name, text, mode="w"):
        tmp = t.path(name + ".tmp")
        with open(tmp, mode) as f:
            f.write(text)
        os.rename(tmp, os.path.join(a.spool, name))

    def taken(name):
        h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done", name)), 60, "%s not taken" % name)

    secret = t.write("outside/secret.csv", HEADER + row("SECRET"))
    os.symlink(secret, os.path.join(a.spool, "link.csv"))
    os.mkfifo(os.path.join(a.spool, "pipe.csv"))
    os.link(secret, os.path.join(a.spool, "linked.csv"))
    for i in range(3):  # each file makes scans happen after the refusals
        drop("good%d.csv" % i, HEADER + row("G%d" % i))
        taken("good%d.csv" % i)
    text = a.text()
    eq([(what, text.count("not reading %s: " % what)) for what in ("link.csv", "pipe.csv", "linked.csv")],
       [("link.csv", 1), ("pipe.csv", 1), ("linked.csv", 1)], "refusals said once each")
    has(text, r"not reading link\.csv: a symbolic link", "the symlink's reason")
    has(text, r"not reading pipe\.csv: not a regular file", "the FIFO's reason")
    has(text, r"not reading linked\.csv: it has other hard links", "the hard link's reason")
    eq(a.sql("SELECT source_key FROM event WHERE source_key LIKE '%SECRET%'"), [], "a refused file was read")
    eq(a.sql1("SELECT count(*) FROM quarantine"), 0, "a refused file was quarantined")

    # an SFTP server that finishes an upload with link(tmp, final) and then unlink(tmp)
    up = t.write("upload.part", HEADER + row("U1"))
    os.link(up, os.path.join(a.spool, "upload.csv"))
    drop("after-link.csv", HEADER + row("G9"))
    taken("after-link.csv")
    os.unlink(up)
    taken("upload.csv")

    # NUL bytes: refused with the reason, the rest of each file taken
    drop("nul.csv", HEADER + "pick,N1,2026-03-01T10:00:00Z,A\0B,1,EA,A-1\n" + row("N2"))
    drop("nul.jsonl", '{"kind":"pick","txn_id":"N3","event_time":"2026-03-01T10:00:00Z","sku":"A\\u0000B",'
         '"qty":1,"uom":"EA","bin":"A-1"}\n'
         '{"kind":"pick","txn_id":"N4","event_time":"2026-03-01T10:00:00Z","sku":"A\0B","qty":1,"uom":"EA",'
         '"bin":"A-1"}\n')
    taken("nul.csv")
    taken("nul.jsonl")
    reasons = a.sql("SELECT position, reason FROM quarantine ORDER BY id")
    eq([p for p, _ in reasons], ["nul.csv line 2", "nul.jsonl line 1", "nul.jsonl line 2"], "NUL records")
    ok(all("NUL" in r for _, r in reasons), "reasons: %s" % reasons)
    eq(a.sql1("SELECT count(*) FROM event WHERE source_key LIKE '%N2'"), 1, "the record after a NUL")

    # a 1 GiB line: skipped in slices (a committed cursor inside it), kill -9 in the middle
    huge = t.path("huge.csv.tmp")
    size = 1 << 30
    with open(huge, "wb") as f:
        f.write(HEADER.encode() + b"pick,H1,")
        f.truncate(size)
        f.seek(size)
        f.write(b"\n" + row("H2").encode())
    os.rename(huge, os.path.join(a.spool, "huge.csv"))

    def skipping():
        pos = a.sql1("SELECT position FROM cursor WHERE name = 'spool:huge.csv'")
        return pos is not None and "skip=1" in pos
    h.wait_for(skipping, 120, "no cursor committed inside the long line (a slice that never yields?)")
    a.kill9()
    a.start()
    taken("huge.csv")
    long = a.sql("SELECT position, reason, length(raw) FROM quarantine WHERE position LIKE 'huge.csv%'")
    eq(len(long), 1, "the long line quarantined once: %s" % long)
    has(long[0][1], "longer than max_record_bytes", "the long line's reason")
    eq(long[0][0], "huge.csv line 2", "the long line's position")
    eq(long[0][2], 64 * 1024, "the long line's prefix kept")
    eq(a.sql1("SELECT count(*) FROM event WHERE source_key LIKE '%H2'"), 1, "the record after the long line")
    has(a.text(), r"resuming huge\.csv at line 2", "the restart resumed inside the line")
    a.stop()

    # done_retention_days: a file's time in done/ is its ctime (set by the move, whatever
    # mtime the upload kept); seen from a clock three days on (libfaketime), all are old
    libs = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if libs and not os.path.basename(t.wh[0]).startswith(("valgrind", "qemu")):
        done = sorted(os.listdir(os.path.join(a.spool, "done")))
        a.append_conf("done_retention_days = 2")
        mark = a.mark()
        a.start(env={"LD_PRELOAD": libs[0], "FAKETIME": "+3d", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                     "ASAN_OPTIONS": ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                            "verify_asan_link_order=0"]))})
        a.wait_log(r"spool: deleted %d files older than 2 days from " % len(done), 30, since=mark)
        eq(os.listdir(os.path.join(a.spool, "done")), [], "files left in done/")
        a.stop()
    else:
        print("SKIP: done_retention_days (needs libfaketime, not under valgrind or qemu)")
    # owner: a file of another user than the configured one is refused
    a.append_conf("owner = no-such-user-here")
    r = a.cli("check")
    ok(r.returncode != 0 and "owner = no-such-user-here: no such user" in r.stderr, "check: %r" % (r,))
    if os.geteuid() == 0:
        a.edit_conf("owner = no-such-user-here", "owner = nobody")
        mark = a.mark()
        a.start()
        drop("foreign.csv", HEADER + row("F1"))  # root's
        tmp = t.write("upload.tmp", HEADER + row("F2"))
        os.chown(tmp, pwd.getpwnam("nobody").pw_uid, -1)
        os.rename(tmp, os.path.join(a.spool, "nobodys.csv"))
        taken("nobodys.csv")
        has(a.text(mark), r"not reading foreign\.csv: it belongs to another user than \[input\.spool\] owner",
            "the owner refusal")
        ok(os.path.exists(os.path.join(a.spool, "foreign.csv")), "a file of another owner was taken")
        a.stop()
    return "symlink, FIFO and hard link refused once each; NUL refused; a 1 GiB line skipped in slices"


if __name__ == "__main__":
    h.main(test)
