"""Integration: the log tells what became of each spool file and each HTTP request. The real
`whagent run` takes a CSV with taken, repeated and invalid rows (one summary line: "N taken,
D duplicates, Q quarantined: whagent quarantine list"), a clean file (the plain "done: N
taken"), a file with the wrong delimiter and one whose header has no column mapping to kind
(one message naming the file, the header and the fix, not one per line; every record
quarantined with that reason, raw), and a POST with duplicates and a bad record (one line for
the request). Then, the configuration fixed, `quarantine requeue` journals the held records.
usage: summary_test.py WHAGENT [ARGS...]"""
import os

import harness as h
from harness import eq, has, ok

HDR = "kind,txn_id,event_time,sku,qty,uom,bin"


def row(txn, qty="1", d=","):
    return d.join(["PICK", txn, "2026-03-01T10:00:00Z", "S1", qty, "EA", "A-1"])


def test(t):
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections="[map.wms]\nkind = Type\n[input.http]\nlisten = 127.0.0.1:%d\n" % p)

    h.listen_port(a, conf)
    done = os.path.join(a.spool, "done")

    def drop(name, lines):
        t.write("spool/" + name + ".part", "\r\n".join(lines) + "\r\n")
        os.rename(t.path("spool", name + ".part"), t.path("spool", name))
        h.wait_for(lambda: os.path.exists(os.path.join(done, name)), 60, "%s not taken" % name)

    m = a.mark()
    drop("clean.csv", [HDR, row("C1"), row("C2")])
    drop("mixed.csv", [HDR, row("M1"), row("M2"), row("C1"), row("M3", "x"), row("M4", "y"), row("M5")])
    log = a.text(m)
    has(log, r"spool: clean\.csv done: 2 taken$", "the summary of a clean file")
    has(log, r"warning: spool: mixed\.csv done: 3 taken, 1 duplicate, 2 quarantined: whagent quarantine list$",
        "the summary of a file with a duplicate and quarantined rows")
    ok("lines)" not in log, "the old line count is still logged")

    # The wrong delimiter: one message about the header, every record quarantined with it
    m = a.mark()
    drop("semi.csv", [HDR.replace(",", ";")] + [row("S%d" % i, d=";") for i in range(1, 6)])
    log = a.text(m)
    why = "the header has one column 'kind;txn_id;event_time;sku;qty;uom;bin': is delimiter = semicolon?"
    has(log, r"warning: spool: semi\.csv: %s; its records are quarantined" % h.re.escape(why),
        "one message about the header")
    eq(h.count(log, "is delimiter = semicolon"), 1, "messages about the header")
    ok("column kind is required" not in log, "per-line messages instead of one about the header")
    has(log, r"spool: semi\.csv done: 0 taken, 5 quarantined: whagent quarantine list$", "the summary")
    held = a.sql("SELECT id, reason, raw FROM quarantine WHERE position LIKE 'semi.csv%' ORDER BY id")
    eq(len(held), 5, "quarantined records of semi.csv")
    ok(all(r[1] == why for r in held), "reasons: %s" % [r[1] for r in held])
    eq(bytes(held[0][2]).decode(), row("S1", d=";"), "the raw bytes kept")

    # A header without a column mapping to kind (under the input's map)
    a.edit_conf(r"dir = .*", "\\g<0>\nmap = wms")
    a.stop()
    a.start()
    m = a.mark()
    drop("nokind.csv", [HDR.replace("kind", "TransactionType"), row("N1"), row("N2")])
    log = a.text(m)
    why2 = ("no column of the header ('TransactionType', 'txn_id', 'event_time', 'sku', 'qty', 'uom', 'bin') maps to kind: "
            "add kind = COLUMN to [map.wms]")
    has(log, r"warning: spool: nokind\.csv: %s; its records" % h.re.escape(why2), "the message about no kind")
    eq(h.count(log, "maps to kind"), 1, "messages about the header")
    eq(a.sql1("SELECT count(*) FROM quarantine WHERE reason = ?", why2), 2, "records held with the header reason")

    # An HTTP request with a duplicate and a bad record: one line for the request
    m = a.mark()
    rec = '{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"S1","qty":%s,"uom":"EA","bin":"A-1"}'
    st, body, _ = h.http("http://127.0.0.1:%d/v1/events" % port[0],
                         "[%s,%s,%s,%s]" % (rec % ("H1", "1"), rec % ("H1", "1"), rec % ("H2", '"x"'), rec % ("H3", "2")))
    eq(st, 200, "POST status: " + body)
    a.wait_log(r"http: POST /v1/events from 127\.0\.0\.1: 2 taken, 1 duplicate, 1 quarantined: whagent quarantine list$",
               since=m)
    st, body, _ = h.http("http://127.0.0.1:%d/v1/events" % port[0], rec % ("H1", "1"))
    a.wait_log(r"http: POST /v1/events from 127\.0\.0\.1: 0 taken, 1 duplicate$", since=m)
    eq(h.count(a.text(m), "http: POST"), 2, "lines for two requests")
    a.stop()

    # Fixed: semicolon files use their delimiter; requeue journals the held records
    a.edit_conf(r"map = wms", "map =\ndelimiter = semicolon")
    before = a.sql1("SELECT max(seq) FROM event")
    for r in held:
        out = a.cli("quarantine", "requeue", str(r[0]))
        eq(out.returncode, 0, "requeue %d: %s %s" % (r[0], out.stdout, out.stderr))
    eq(a.sql1("SELECT count(*) FROM quarantine WHERE position LIKE 'semi.csv%'"), 0, "still held")
    eq(a.sql1("SELECT max(seq) FROM event"), before + 5, "requeued records journaled")
    return "per-file and per-request summaries; one header message; held records requeued after the fix"


if __name__ == "__main__":
    h.main(test)
