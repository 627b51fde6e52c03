"""Power-cut test: the real daemon runs with tests/powercut/powercut.c preloaded (LD_PRELOAD,
POWERCUT_LIB), which drops at the cut whatever the agent wrote but had not synced and undoes
its renames whose directory it had not fsynced (the disk model is in that file's header). Each
cut lands at an operation number drawn from the printed seed while spool files (CSV and JSON
Lines, renamed in) and HTTP POSTs are being taken. After each cut the agent is restarted
normally (`run --until-idle`) and the journal must pass `PRAGMA integrity_check`, hold seq
gapless from 1, every record at most once, every acknowledged record (a 2xx answer to its POST,
its file seen in done/), and every record of every file dropped (the spool keeps a file until
it is taken); a file the agent logged done before the cut is in done/ after it (the move was
made durable by a directory fsync). The journal_id never changes (no salvage was needed).
The uplink runs too (a mosquitto of the test's, ack_mode = broker), so its journal writes are
cut as well; its live-state file is renamed into place with no directory fsync on purpose (it
is runtime state rewritten every few seconds, not durable data), so most cuts undo its last
renames and bring back an older copy, which the next start rewrites.
Then the same campaign with `[journal] synchronous = normal` must lose acknowledged records
(the WAL is not synced at commit, so a cut after an acknowledged commit and before the next
checkpoint loses it): this shows the test can see a loss.
Environment: POWERCUT_LIB (the library), SEED, CUTS (FULL, default 30), NORMAL_CUTS (4);
`make powercut` runs a longer campaign.
usage: powercut_test.py WHAGENT [ARGS...]"""
import json
import os
import random
import re
import shutil
import sqlite3
import time

import harness as h
from harness import Fail, eq, ok

CUT_STATUS = 86        # the library's exit status at the cut
BATCH = 8              # records per POST
MAX_OPS = 1500         # cut points are drawn from 1..MAX_OPS (counted operations, see powercut.c)


class Campaign:
    """Cuts against one journal, with synchronous = mode; acknowledged records accumulate."""

    def __init__(self, t, lib, broker, mode, rng):
        self.t, self.lib, self.broker, self.mode, self.rng = t, lib, broker, mode, rng
        self.a = t.new_agent()
        self.wms = h.Wms(t)
        self.port = None
        self.files = {}         # file name -> its keys (records the agent must take)
        self.acked = set()      # keys acknowledged to their source
        self.acked_files = set()
        self.posted = 0
        self.lost = set()       # acknowledged keys missing after a restart
        self.cuts_losing = 0
        self.done_undone = 0    # cuts that undid a move into done/
        self.cuts_after_ack = 0 # cuts after at least one POST of their run was acknowledged
        self.journal_id = None
        self.cut_lines = []

    def conf(self):
        self.a.write_conf(commit_records=50, sections="[input.http]\nlisten = 127.0.0.1:%d\n%s"
                          % (self.port, h.mqtt_section(self.broker.port)))
        self.a.edit_conf("commit_records = 50", "commit_records = 50\nsynchronous = %s" % self.mode)

    def drop(self, n):
        """A CSV and a JSON Lines file into the spool (written aside, renamed in)."""
        for kind, count in (("csv", 300), ("jsonl", 150)):
            prefix = "%s-%d-%s" % (self.mode, n, kind)
            first = (n * 2 + (kind == "jsonl")) * 1000 + 1
            e = self.wms.generate(seed=self.rng.randint(0, 1 << 30), prefix=prefix, first_txn=first,
                                  **{kind: count})
            name = e["files"][0]
            self.files[name] = set(e["keys"])
            self.wms.drop(name, self.a.spool)

    def spawn_cut(self, on, at):
        """Starts the agent with the library preloaded, cutting at operation `at`; returns the
        log mark, or None when the HTTP port was taken (the caller picks another)."""
        mark = self.a.mark()
        env = dict(os.environ, LD_PRELOAD=self.lib, WH_POWERCUT_ON=on, WH_POWERCUT_AT=str(at))
        self.a.proc = self.t.spawn(self.t.wh + ["run", "-c", self.a.conf], self.a.log, env=env)

        def started():
            text = self.a.text(mark)
            if "running (site" in text:
                return "up"
            if self.a.proc.poll() is not None:
                return "bind" if "Address already in use" in text else "exited"
            return None
        st = h.wait_for(started, 30, "agent did not start")
        if st == "bind":
            self.a.proc = None
            return None
        return mark

    def post(self):
        """One POST of BATCH new records; the keys the answer acknowledges join self.acked."""
        keys = ["H-%s-%07d" % (self.mode, self.posted + i) for i in range(BATCH)]
        self.posted += BATCH
        body = "\n".join('{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z",'
                         '"sku":"S1","qty":1,"uom":"EA","bin":"A-1"}' % k for k in keys)
        try:
            code, text, _ = h.http("http://127.0.0.1:%d/v1/events" % self.port, body,
                                   content_type="application/x-ndjson", timeout=10)
        except OSError as e:
            if isinstance(getattr(e, "reason", None), ConnectionRefusedError):
                self.posted -= BATCH  # the agent was gone already: not counted as POSTed
            return  # refused or cut mid-request: not acknowledged
        if code // 100 != 2:
            return
        for k, r in zip(keys, json.loads(text)["results"]):
            if "seq" in r or "duplicate_of" in r:
                self.acked.add(k)

    def seen_done(self):
        done = os.path.join(self.a.spool, "done")
        if os.path.isdir(done):
            self.acked_files.update(f for f in os.listdir(done) if f in self.files)

    def cut_once(self, n):
        # FULL: most cuts at any operation, some instead of a directory fsync (the first is the
        # new WAL's at start, then the agent's after each move into done/ and of the spool);
        # NORMAL and the first cut: past the first few hundred operations, so that commits
        # were acknowledged (the first start also makes state_dir)
        if self.mode == "normal" or n == 0:
            on, at = "", self.rng.randint(MAX_OPS // 5, MAX_OPS)
        elif self.rng.random() < 0.3:
            on, at = "dirsync", self.rng.randint(1, 3)
        else:
            on, at = "", self.rng.randint(1, MAX_OPS)
        self.drop(n)
        acked_before = len(self.acked)
        while True:
            mark = self.spawn_cut(on, at)
            if mark is not None:
                break
            self.port = h.candidate_port()
            self.conf()
        deadline = time.monotonic() + 60 * h.SLOW
        while self.a.proc.poll() is None:  # the load goes on until the cut
            if time.monotonic() > deadline:
                raise Fail("no cut within 60 s at operation %s%d: the workload is too small" % (on + " " if on else "", at))
            self.post()
            self.seen_done()
        rc = self.a.proc.wait()
        self.a.proc = None
        self.cuts_after_ack += len(self.acked) > acked_before
        line = [x for x in self.a.text(mark).splitlines() if x.startswith("powercut: the cut")]
        if rc != CUT_STATUS or not line:
            raise Fail("agent exited %d, not at a cut (operation %s%d):\n%s" % (rc, on + " " if on else "", at,
                                                                           self.a.text(mark)[-1500:]))
        self.cut_lines.append(line[0])
        self.done_undone += any("/done/" in x for x in self.a.text(mark).splitlines()
                                if x.startswith("powercut: rename undone: "))
        self.seen_done()  # what the disk shows in done/ after the cut is acknowledged too
        for f in re.findall(r"spool: (\S+) done: ", self.a.text(mark)):  # logged once durable
            ok(os.path.exists(os.path.join(self.a.spool, "done", f)),
               "cut %d (%s, operation %s%d): %s was logged done before the cut, is not in done/ after it"
               % (n + 1, self.mode, on + " " if on else "", at, f))
        self.a.run_until_idle()
        self.check(n, (on + " " if on else "") + str(at))

    def check(self, n, at):
        con = sqlite3.connect("file:%s?mode=ro" % self.a.db, uri=True)
        try:
            integrity = con.execute("PRAGMA integrity_check").fetchall()
            rows = con.execute("SELECT seq, source_key FROM event ORDER BY seq").fetchall()
            jid = con.execute("SELECT value FROM meta WHERE key = 'journal_id'").fetchone()[0]
        finally:
            con.close()
        where = "cut %d (%s, operation %s)" % (n + 1, self.mode, at)
        eq(integrity, [("ok",)], "%s: integrity_check" % where)
        seqs = [s for s, _ in rows]
        ok(seqs == list(range(1, len(seqs) + 1)), "%s: seq not gapless from 1 (%d events, %s..%s)"
           % (where, len(seqs), seqs[:1], seqs[-1:]))
        keys = [k for _, k in rows]
        have = set(keys)
        ok(len(have) == len(keys), "%s: %d records journaled twice" % (where, len(keys) - len(have)))
        if self.journal_id is None:
            self.journal_id = jid
        eq(jid, self.journal_id, "%s: journal_id (a salvage replaced the journal)" % where)
        acked = set(self.acked)
        for f in self.acked_files:
            acked |= self.files[f]
        missing = acked - have
        spool_missing = set().union(*self.files.values()) - have
        new = missing - self.lost
        if new:
            self.cuts_losing += 1
            self.lost |= new
        if self.mode == "full":
            ok(not missing, "%s: %d acknowledged records lost, e.g. %s" % (where, len(missing), sorted(missing)[:3]))
            ok(not spool_missing, "%s: %d records of spool files never journaled, e.g. %s"
               % (where, len(spool_missing), sorted(spool_missing)[:3]))
        print("%s: %s; %d events, %d acknowledged, %d newly lost" % (where, self.cut_lines[-1][10:], len(keys),
                                                                    len(acked), len(new)), flush=True)

    def run(self, cuts):
        self.port = h.candidate_port()
        self.conf()
        os.rmdir(self.a.state)  # the agent makes it
        for n in range(cuts):
            self.cut_once(n)
        return self


def test(t):
    lib = os.environ.get("POWERCUT_LIB")
    if not lib or not os.path.exists(lib):
        raise h.Skip("POWERCUT_LIB does not name the preload library")
    seed = int(os.environ.get("SEED") or random.SystemRandom().randint(0, 65535))
    cuts = int(os.environ.get("CUTS") or 30)
    normal_cuts = int(os.environ.get("NORMAL_CUTS") or 4)
    print("seed %d" % seed, flush=True)
    broker = t.broker()  # the uplink's writes (acks, live state) are cut too
    full = Campaign(t, lib, broker, "full", random.Random(seed)).run(cuts)
    shutil.rmtree(t.path("state"))
    shutil.rmtree(t.path("spool"))
    normal = Campaign(t, lib, broker, "normal", random.Random(seed + 1)).run(normal_cuts)
    # NORMAL loses what was acknowledged since the WAL was last synced (at a checkpoint); a cut
    # after an acknowledgement loses it unless a checkpoint came in between
    ok(normal.cuts_after_ack >= 1, "no cut with synchronous = normal came after an acknowledgement")
    ok(normal.cuts_losing >= 1, "synchronous = normal lost nothing acknowledged over %d cuts (%d after an "
       "acknowledgement): the test cannot see a loss" % (normal_cuts, normal.cuts_after_ack))
    def undone(c, what):  # cuts whose line reports some `what`
        return sum(1 for line in c.cut_lines if not re.search(r"\b0 %s" % what, line))
    return ("FULL: %d cuts (%d dropped a created file, %d a created folder, %d undid a rename, %d a move into "
            "done/), %d of %d POSTed records and %d files acknowledged, none lost, seq gapless, integrity ok; "
            "NORMAL: %d of %d cuts lost acknowledged records (%d in all) (seed %d)"
            % (cuts, undone(full, "created files dropped"), undone(full, "created folders dropped"),
               undone(full, "renames undone"), full.done_undone, len(full.acked),
               full.posted, len(full.acked_files), normal.cuts_losing, normal_cuts, len(normal.lost), seed))

if __name__ == "__main__":
    h.main(test)
