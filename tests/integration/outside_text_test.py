"""Text from outside cannot steer a log reader or a terminal: a file name with a newline and a
syslog priority stays one log line under journald; a file whose name clears the screen and whose
line writes the clipboard (OSC 52) is listed and shown escaped, and `quarantine show --raw FILE` gives
its bytes as they were (never over an existing file); a flood of POSTs logs at most the
rate limit's burst, and the lines held back are counted in /metrics.
usage: outside_text_test.py WHAGENT [ARGS...]"""
import os
import re
import subprocess
import urllib.request

import harness as h
from harness import eq, has, ok

EVIL_NAME = "\x1b[2J\x07"  # a screen clear and a bell
EVIL_SKU = "\x1b]52;c;ZXZpbA==\x07"  # OSC 52: write "evil" to the clipboard


def curl(*args):
    r = subprocess.run(["curl", "-s", "-w", "\n%{http_code}"] + list(args), capture_output=True,
                       timeout=60 * h.SLOW)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code or 0), body


def test(t):
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections="[input.http]\nlisten = 127.0.0.1:%d\n" % p)

    # journald's stream: every line starts with the agent's own <N>
    h.listen_port(a, conf, env={"JOURNAL_STREAM": "8:1234"})
    name = "evil\n<2>whagent: error: forged.csv"
    with open(os.path.join(a.spool, name), "w") as f:
        f.write("kind,txn_id,event_time,sku,qty,uom,bin\npick,E1,2026-03-01T10:00:00Z,S1,1,EA,A-1\n")
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done", name)), 60, "the file was not taken")
    a.wait_log(r"evil\\x0a<2>whagent: error: forged\.csv done: 1 taken", 30, what="the escaped file name")
    lines = a.text().splitlines()
    eq([l for l in lines if "forged" in l and "\\x0a" not in l], [], "a forged log line")
    eq([l for l in lines if l.startswith("<2>") or not re.match(r"<[3-7]>whagent: ", l)], [],
       "lines without the agent's own priority")

    # a WMS file whose name clears the screen, with a line that writes the clipboard
    line = "pick,Q1,2026-03-01T10:00:00Z,%s,1,EA,A-1" % EVIL_SKU
    with open(os.path.join(a.spool, "%s.csv" % EVIL_NAME), "w") as f:
        f.write("kind,txn_id,event_time,sku,qty,uom,bin\n%s\n" % line)
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done", "%s.csv" % EVIL_NAME)), 60, "the file was not taken")
    body = line
    for args in (("list",), ("show", "1")):
        r = subprocess.run(t.wh + ["quarantine"] + list(args) + ["-c", a.conf], capture_output=True, timeout=60)
        eq(r.returncode, 0, "quarantine %s: %r" % (args, r.stderr))
        eq([b for b in (b"\x1b", b"\x07") if b in r.stdout], [], "quarantine %s writes control bytes: %r"
           % (args, r.stdout))
        has(r.stdout.decode(), r"\\x1b\[2J\\x07\.csv line 2", "quarantine %s: the file name escaped" % (args,))
    has(r.stdout.decode(), r"\\x1b\]52;c;ZXZpbA==\\x07", "quarantine show: the raw line escaped")
    raw = t.path("raw.json")
    r = a.cli("quarantine", "show", "1", "--raw", raw)
    eq(r.returncode, 0, "show --raw: %s" % r.stderr)
    eq(open(raw, "rb").read(), body.encode(), "--raw bytes")
    r = a.cli("quarantine", "show", "1", "--raw", raw)
    ok(r.returncode != 0 and "File exists" in r.stderr, "--raw over an existing file: %r" % (r,))
    r = subprocess.run(t.wh + ["quarantine", "show", "1", "--raw", "-", "-c", a.conf], capture_output=True, timeout=60)
    eq(r.stdout, body.encode(), "--raw - (standard output)")

    # a flood: at most the burst is logged, the rest counted
    n = 50
    for i in range(n):
        code, _ = curl("-H", "Content-Type: application/json", "--data-binary",
                       '{"kind":"nope","txn_id":"F%d"}' % i, "http://127.0.0.1:%d/v1/events" % port[0])
        eq(code, 200, "flood POST %d" % i)

    def held():
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port[0], timeout=10).read().decode()
        m = re.search(r"^whagent_log_lines_held_total (\d+)$", text, re.M)
        return int(m.group(1)) if m else None
    h.wait_for(lambda: (held() or 0) > 0, 30, "no line held back")
    logged = len(re.findall(r"http: POST /v1/events from 127\.0\.0\.1: 0 taken, 1 quarantined", a.text()))
    eq(logged + held(), n, "flood lines logged (%d) and held back (%d)" % (logged, held()))
    ok(logged < n, "the flood logged %d lines" % logged)
    a.stop()
    return "one line per log call, escaped on the terminal, --raw exact, a flood of %d POSTs logged %d lines" % (n, logged)


if __name__ == "__main__":
    h.main(test)
