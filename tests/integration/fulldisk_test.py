"""A full disk never stops the agent from starting, and the operator can free space: with the
state dir on a 16 MiB tmpfs (mounted by the test) that someone else filled, the agent releases
its ballast, starts, reports the bound it is at, holds a new spool file back; `status` and
`quarantine list` work; /healthz says which bound, a POST gets 503; `quarantine purge --all`
gives space back; once the filler is gone the
held file is taken without a restart and the ballast is made again. Root only (mount).
usage: fulldisk_test.py WHAGENT [ARGS...]"""
import errno
import os
import shutil
import subprocess

import gen_wms
import harness as h
from harness import eq, has, ok

RESERVE = 6 * 1024 * 1024  # above the 4 MiB ballast: released, it is not room to take input


def fill(path):
    """Writes path until the file system is full."""
    with open(path, "wb") as f:
        block = b"\0" * 65536
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        try:
            os.fsync(f.fileno())
        except OSError:
            pass


def junk_csv(src, dst, n):
    """n records of src's header whose qty (2 KiB of text) is invalid: quarantined, with bulk."""
    header = open(src).readline()
    cols = header.strip().split(",")
    with open(dst, "w") as f:
        f.write(header)
        for i in range(n):
            rec = {"kind": "PICK", "txn_id": "JUNK-%06d" % i, "event_time": "2026-03-01T10:00:00+01:00",
                   "sku": "SKU-1", "qty": "x" * 2048, "uom": "EA"}
            f.write(",".join(rec.get(c, "") for c in cols) + "\n")


def free(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test(t):
    if os.geteuid() != 0:
        raise h.Skip("needs root to mount a tmpfs (run the suite as root for this test)")
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(reserve_bytes="6MiB", sections="[input.http]\nlisten = 127.0.0.1:%d\n" % p)
    a.conf_http = conf
    a.port = port
    conf(h.candidate_port())
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0750", "tmpfs", a.state],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise h.Skip("cannot mount a tmpfs here: %s" % r.stderr.strip())
    try:
        return run(t, a)
    finally:
        if a.alive():  # stopped by its PID before the file system goes
            a.kill9()
        for p in t.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        if subprocess.run(["umount", a.state]).returncode != 0:
            subprocess.run(["umount", "-l", a.state])


def run(t, a):
    wms = h.Wms(t)
    expect = wms.generate(csv=2000, bad_every=20)
    junk_csv(wms.file("wms-orders.csv"), wms.file("junk.csv"), 300)
    wms.drop("wms-orders.csv", a.spool)
    wms.drop("junk.csv", a.spool)
    ballast = os.path.join(a.state, ".whagent-ballast")
    a.run_until_idle()
    has(a.text(), r"made the ballast", "no ballast made on a disk with room")
    ok(os.path.getsize(ballast) == 4 * 1024 * 1024, "ballast size")
    quarantined = len(expect["quarantined"]) + 300
    eq(a.field("quarantined"), quarantined, "quarantined before the disk filled")
    seq0 = a.field("last_seq")

    filler = os.path.join(a.state, "filler")
    fill(filler)
    eq(free(a.state), 0, "free bytes after the filler")

    # the agent starts on the full disk: the ballast goes, the bound is reported
    mark = a.mark()
    h.listen_port(a, a.conf_http)
    url = "http://127.0.0.1:%d" % a.port[0]
    has(a.text(mark), r"released the ballast .*\.whagent-ballast", "ballast not released at start")
    ok(not os.path.exists(ballast), "ballast still there")
    st = a.status()
    full = st.get("journal_full", "")
    has(full, r"^\d+ bytes free on %s, reserve %d$" % (a.state, RESERVE), "status journal_full")
    has(a.cli("status").stdout, r"journal full +\d+ bytes free on .*reserve %d" % RESERVE, "status text")
    code, body, _ = h.http(url + "/healthz")
    eq(code, 503, "/healthz on a full disk: %s" % body)
    has(body, r'"status":"journal full".*"journal_full":"\d+ bytes free on [^"]*, reserve %d"' % RESERVE,
        "/healthz says which bound")
    code, body, _ = h.http(url + "/v1/events", '{"kind":"pick","txn_id":"P1","event_time":'
                           '"2026-03-01T10:00:00Z","sku":"S1","qty":1,"uom":"EA","bin":"A-1"}')
    eq(code, 503, "POST on a full disk: %s" % body)
    r = a.cli("quarantine", "list")
    eq(r.returncode, 0, "quarantine list on a full disk: %s" % r.stderr)
    eq(len(r.stdout.splitlines()), quarantined, "quarantine list lines")

    # a new file is held back while the disk is full
    gen2 = t.path("gen2")
    os.makedirs(gen2)
    more = gen_wms.generate(gen2, csv=300, bad_every=0, dup_every=0, prefix="more", first_txn=500000)
    held = os.path.join(a.spool, "more-orders.csv")
    mark = a.mark()
    shutil.copyfile(os.path.join(gen2, "more-orders.csv"), held + ".part")
    os.rename(held + ".part", held)
    a.wait_log(r"spool: holding files back: \d+ bytes free on", 30, since=mark,
               what="the new file was not held back")
    ok(os.path.exists(held), "held file left the spool")
    eq(a.field("last_seq"), seq0, "events taken on a full disk")

    # purge --all frees space on the full disk (--before a time before them all: none)
    r = a.cli("quarantine", "purge", "--before", "2000-01-01T00:00:00Z")
    eq((r.returncode, r.stdout.split(";")[0]), (0, "purged 0 quarantined records"), "purge --before 2000")
    before = free(a.state)
    r = purged = a.cli("quarantine", "purge", "--all")
    eq(r.returncode, 0, "purge --all exit status: %s" % r.stderr)
    has(r.stdout, r"^purged %d quarantined records; \d+ bytes given back" % quarantined, "purge output")
    after = free(a.state)
    ok(after > before, "purge freed nothing (%d bytes free before, %d after)" % (before, after))
    eq(a.field("quarantined"), 0, "quarantined after purge")
    r = a.cli("quarantine", "purge", "--before", "yesterday")
    eq(r.returncode, 2, "purge --before with a bad time: %s" % r.stderr)

    # room again: the held file is taken without a restart, the ballast is back
    os.unlink(filler)
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/more-orders.csv")), 60,
               "held file not taken once there was room")
    h.wait_for(lambda: os.path.exists(ballast) and os.path.getsize(ballast) == 4 * 1024 * 1024, 30,
               "ballast not made again")
    eq(a.field("last_seq"), seq0 + len(more["keys"]), "events after room came back")
    eq(h.http(url + "/healthz")[0], 200, "/healthz once there is room")
    ok("journal_full" not in a.status(), "status still reports the bound")
    a.stop()
    return "started on a full tmpfs (%d bytes free), purge --all gave back %d bytes: %s" % (
        before, after - before, purged.stdout.strip())


if __name__ == "__main__":
    h.main(test)
