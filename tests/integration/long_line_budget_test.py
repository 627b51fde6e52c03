"""An over-long line that meets a full budget is never lost, with the real daemon: a 1 MiB
journal is filled by POSTs until one is refused; then a spool file with good rows, a line
longer than max_record_bytes and a row after it is dropped. Whatever the budget still takes
of it now, once the budget is raised (a reload) the file is done with every good row journaled
and the long line quarantined; never skipped without a trace.
usage: long_line_budget_test.py WHAGENT [ARGS...]"""
import os

import harness as h
from harness import eq, ok

REC = ('{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"S-%s","qty":1,'
       '"uom":"EA","bin":"A-1","order_ref":"%s"}')
HEADER = "kind,txn_id,event_time,sku,qty,uom,bin\n"


def row(txn):
    return "pick,%s,2026-03-01T10:00:00Z,S1,1,EA,A-1\n" % txn


def test(t):
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(max_bytes="1MiB", sections="[input.http]\nlisten = 127.0.0.1:%d\n" % p)
    h.listen_port(a, conf)
    url = "http://127.0.0.1:%d/v1/events" % port[0]
    for i in range(400):  # bounded: until the budget refuses a POST
        # POSTs of about 25 KB: the one refused leaves room for a few rows but not for the
        # long line's 64 KiB prefix (the case where the prefix meets the budget mid-slice)
        body = "[" + ",".join(REC % ("P%d-%d" % (i, k), k, "r" * 60) for k in range(100)) + "]"
        code = h.http(url, body)[0]
        if code == 503:
            break
        eq(code, 200, "POST %d" % i)
    else:
        raise h.Fail("the budget never refused a POST")
    tmp = t.path("long.csv.tmp")
    with open(tmp, "w") as f:
        f.write(HEADER + "".join(row("G%d" % i) for i in range(3)))
        f.write("pick,LONG," + "x" * (200 * 1024) + "\n")
        f.write(row("AFTER"))
    os.rename(tmp, os.path.join(a.spool, "long.csv"))
    done = os.path.join(a.spool, "done", "long.csv")
    h.wait_for(lambda: "spool: holding files back" in a.text() or os.path.exists(done), 60,
               "the spool neither held the file back nor took it")
    a.edit_conf("max_bytes = 1MiB", "max_bytes = 64MiB")
    a.reload()
    h.wait_for(lambda: os.path.exists(done), 60, "long.csv not taken")
    keys = {k for (k,) in a.sql("SELECT source_key FROM event WHERE source_key NOT LIKE 'P%'")}
    eq(len(keys), 4, "good rows journaled: %s" % keys)
    q = a.sql("SELECT position, reason FROM quarantine")
    eq(len(q), 1, "the long line quarantined once: %s" % q)
    ok("longer than max_record_bytes" in q[0][1] and q[0][0] == "long.csv line 5", "the long line's entry: %s" % q)
    a.stop()
    return "the long line quarantined and every good row journaled across a full budget"


if __name__ == "__main__":
    h.main(test)
