"""The byte budget is spent record by record, with the real daemon: eight clients POST arrays of
records at once against a 1 MiB journal until it is full. Whatever way the POSTs fall into
group commits, a POST answered 200 has every record journaled, one answered 503 has none,
and the journal (its pages, those still in the WAL included) stays within its budget.
usage: budget_test.py WHAGENT [ARGS...]"""
import json
import threading

import harness as h
from harness import eq, ok

REC = ('{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"SKU-%s","qty":1,'
       '"uom":"EA","bin":"A-1","order_ref":"%s"}')


def test(t):
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(max_bytes="1MiB", sections="[input.http]\nlisten = 127.0.0.1:%d\n" % p)
    h.listen_port(a, conf)
    url = "http://127.0.0.1:%d/v1/events" % port[0]
    lock = threading.Lock()
    taken, refused, other = [], [], []

    def client(w):
        for i in range(200):  # bounded: stops at the first 503 or after 200 POSTs
            keys = ["W%d-%d-%d" % (w, i, k) for k in range(50)]
            body = "[" + ",".join(REC % (key, key, "x" * 40) for key in keys) + "]"
            code, text, _ = h.http(url, body)
            with lock:
                (taken if code == 200 else refused if code == 503 else other).append((keys, code, text))
            if code != 200:
                return
    ws = [threading.Thread(target=client, args=(w,)) for w in range(8)]
    for w in ws:
        w.start()
    for w in ws:
        w.join(300)
    eq(other, [], "answers other than 200 and 503")
    ok(refused, "the budget was never reached")
    journaled = {k for (k,) in a.sql("SELECT source_key FROM event")}
    lost = [k for keys, _, _ in taken for k in keys if k not in journaled]
    extra = [k for keys, _, _ in refused for k in keys if k in journaled]
    eq((lost[:3], extra[:3]), ([], []), "records of 200 answers not journaled, or of 503 answers journaled")
    for keys, _, text in taken:
        eq(json.loads(text)["taken"], len(keys), "a 200 answer's count")
    size = a.sql1("PRAGMA page_count") * a.sql1("PRAGMA page_size")  # what the budget counts (WAL included)
    ok(size <= (1 << 20) + 64 * 1024, "journal %d bytes for a 1 MiB budget" % size)
    a.stop()
    return "%d POSTs taken whole, %d refused whole; journal %d bytes of a 1 MiB budget" % (
        len(taken), len(refused), size)


if __name__ == "__main__":
    h.main(test)
