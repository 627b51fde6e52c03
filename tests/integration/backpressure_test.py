"""Back-pressure: with the journal at its byte budget the agent refuses further appends, keeps
the file in the spool (nothing evicted, nothing lost) and says so; a SIGHUP with an invalid
configuration is refused and changes nothing; a SIGHUP that raises the budget lets it go on
from where it stopped, and every record ends up journaled exactly once.
usage: backpressure_test.py WHAGENT [ARGS...]"""
import os

import harness as h
from harness import eq, ok


def test(t):
    a = t.new_agent()
    a.write_conf(max_bytes="1MiB", commit_records=200)
    wms = h.Wms(t)
    expect = wms.generate(csv=12000)
    wms.drop("wms-orders.csv", a.spool)
    a.start()
    a.wait_log("spool: holding files back: journal holds", 60, what="no back-pressure")
    held = a.field("last_seq")
    # The spool retries the held file every second (each retry reopens it at its cursor and
    # logs "resuming"): two refused retries later nothing more was taken.
    mark = a.mark()
    a.wait_log(r"spool: resuming wms-orders\.csv at line", 30, since=mark, n=2,
               what="the held file was not retried")

    def still_held(when):
        ok(os.path.exists(os.path.join(a.spool, "wms-orders.csv")), "file left the spool while the journal was full (%s)" % when)
        st = a.status()
        eq(st["last_seq"], held, "appends went on past the budget (%s)" % when)
        ok(st["journal_bytes"] < 1024 * 1024 + 200 * 1024, "journal %d bytes, budget 1 MiB" % st["journal_bytes"])
    still_held("two retries later")

    # An invalid configuration is refused; the agent goes on with the running one.
    good = open(a.conf).read()
    a.append_conf("bogus = 1")
    a.reload(expect="keeping the running configuration")
    ok(a.alive(), "agent died on a bad reload")
    with open(a.conf, "w") as f:  # status reads the file too
        f.write(good)
    still_held("after the refused reload")

    with open(a.conf, "w") as f:
        f.write(good.replace("\nmax_bytes = 1MiB\n", "\nmax_bytes = 64MiB\n"))
    a.reload()
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/wms-orders.csv")), 60,
               "file not finished after the budget was raised")
    a.stop()
    a.check_journal(expect)
    return "held at %d events by the budget, resumed after reload, every record once" % held


if __name__ == "__main__":
    h.main(test)
