"""Crash test: `kill -9` the daemon again and again while it takes large files (small
transactions, so kills land mid-file); after the last restart the journal holds every
valid record exactly once, seq gapless, every bad line quarantined once, duplicates counted
once. The kill moments come from a seed that is printed (SEED=... replays a run).
Each kill lands the seed's delay after the agent's log says it runs (the fault's moment: the
one place where a delay, not a condition, is the point).
usage: kill9_test.py WHAGENT [ARGS...]"""
import os
import random

import harness as h
from harness import ok


def test(t):
    seed = int(os.environ.get("SEED") or random.SystemRandom().randint(0, 65535))
    print("seed %d" % seed, flush=True)
    a = t.new_agent()
    a.write_conf(commit_records=100)
    wms = h.Wms(t)
    expect = wms.generate(csv=100000, jsonl=30000, seed=seed)
    wms.drop("wms-orders.csv", a.spool)
    wms.drop("wms-moves.jsonl", a.spool)
    rng = random.Random(seed)
    delays = [rng.randint(30, 350) for _ in range(40)]  # ms after the agent is running
    done = lambda: all(os.path.exists(os.path.join(a.spool, "done", f)) for f in expect["files"])
    kills = 0
    for ms in delays:
        if done():
            break
        a.start()
        deadline = h.time.monotonic() + ms / 1000.0
        while h.time.monotonic() < deadline and not done():  # bounded: the delay itself
            h.time.sleep(0.01)
        a.kill9()
        kills += 1
    ok(kills >= 3, "only %d kills landed before the files were done" % kills)
    a.start()
    h.wait_for(done, 120, "files not finished")
    a.stop()
    resumes = h.count(a.text(), "resuming")
    ok(resumes >= 1, "no kill landed mid-file (no resume logged)")
    a.check_journal(expect)
    return "%d kills (%d mid-file resumes), every record exactly once, seq gapless (seed %d)" % (kills, resumes, seed)


if __name__ == "__main__":
    h.main(test)
