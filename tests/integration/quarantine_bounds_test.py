"""The quarantine is bounded, with the real daemon: junk POSTed in bulk (bodies that are not
JSON, each quarantined raw) against an 8 MiB journal budget leaves the journal within its
budget and the quarantine within its own bounds (an eighth of the budget; each record cut to
quarantine_raw_max_bytes with its full length and SHA-256 kept), the oldest records evicted,
counted in /metrics and said in the log; a valid record is taken afterwards; `quarantine
show` says a cut record's full length and hash, and requeue refuses it.
usage: quarantine_bounds_test.py WHAGENT [ARGS...]"""
import hashlib
import os
import re
import threading

import harness as h
from harness import eq, has, ok

REC = ('{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"S1","qty":1,'
       '"uom":"EA","bin":"A-1"}')


def test(t):
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(max_bytes="8MiB", sections="[input.http]\nlisten = 127.0.0.1:%d\nmax_body_bytes = 256KiB\n"
                                                "max_connections_per_peer = 64\n" % p)
        a.edit_conf(r"max_bytes = 8MiB", "max_bytes = 8MiB\nquarantine_raw_max_bytes = 16KiB")
    h.listen_port(a, conf)
    url = "http://127.0.0.1:%d/v1/events" % port[0]
    junk = os.urandom(200 * 1024)
    n, threads, codes = 400, 4, {}
    lock = threading.Lock()

    def flood(k):
        for i in range(k, n, threads):
            body = b"%d:" % i + junk
            code = h.http(url, body, content_type="application/json")[0]
            with lock:
                codes[code] = codes.get(code, 0) + 1
    ws = [threading.Thread(target=flood, args=(k,)) for k in range(threads)]
    for w in ws:
        w.start()
    for w in ws:
        w.join(300)
    eq(codes, {400: n}, "junk POSTs answered")
    st = a.status()
    print("after %d junk POSTs of 200 KiB: journal file %d bytes (budget 8 MiB), %d quarantined, %d evicted" % (
        n, os.path.getsize(a.db), st["quarantined"], st["quarantine_evicted"]))
    ok(os.path.getsize(a.db) <= 8 << 20, "journal file %d bytes past its 8 MiB budget" % os.path.getsize(a.db))
    kept = a.sql1("SELECT sum(length(raw)) FROM quarantine")
    ok(kept <= (8 << 20) // 8, "the quarantine keeps %d bytes (bound 1 MiB)" % kept)
    ok(st["quarantine_evicted"] >= n - 70, "evicted %d" % st["quarantine_evicted"])
    eq(st["quarantined"] + st["quarantine_evicted"], n, "kept and evicted")
    metrics = h.http("http://127.0.0.1:%d/metrics" % port[0])[1]
    m = re.search(r"^whagent_quarantine_evicted_total (\d+)$", metrics, re.M)
    eq(int(m.group(1)) if m else None, st["quarantine_evicted"], "the metric")
    a.wait_log(r"the quarantine is at its bound .*: evicted its \d+ oldest records", 30)

    code, body, _ = h.http(url, REC % "V1")
    eq((code, '"seq":1' in body), (200, True), "a valid record afterwards: %s" % body)

    last = a.sql1("SELECT max(id) FROM quarantine")
    out = a.cli("quarantine", "show", str(last)).stdout
    full = bytes(a.sql1("SELECT raw FROM quarantine WHERE id = ?", last)).split(b":")[0] + b":" + junk
    has(out, r"the first 16384 of %d bytes \(quarantine_raw_max_bytes; sha256 of all %s\)"
        % (len(full), hashlib.sha256(full).hexdigest()), "show of a cut record")
    r = a.cli("quarantine", "requeue", str(last))
    ok(r.returncode == 1 and "cannot be taken again" in r.stdout + r.stderr, "requeue of a cut record: %r" % (r,))
    a.stop()
    return "%d junk POSTs: journal within 8 MiB, quarantine within 1 MiB (%d evicted), valid record taken" % (
        n, st["quarantine_evicted"])


if __name__ == "__main__":
    h.main(test)
