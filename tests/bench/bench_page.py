#!/usr/bin/python3
"""The status page's cost, reported (not asserted: these machines are shared and noisy):
  weight     bytes of GET / (HTML with its CSS and JS inline; nothing else is loaded) and of
             GET /v1/status?detail=1 (what the page polls every 5 s), with a 24 h history
             (1440 samples: history_sample_s = 1 and a run of 25 min is not waited for, the
             ring is filled as far as the run goes) and 20 quarantine rows
  server     the agent's time to answer GET / and the JSON, median of RUNS requests
  chromium   headless Chromium: the page's navigation-to-load time (performance.now() at the
             load event, which page.js leaves in data-load-ms), and the wall time of
             --dump-dom beside that of an empty page (browser start-up), median of 5
  rss        the agent's RSS before and after RUNS page loads
usage: bench_page.py WHAGENT [ARGS...]   (RUNS, default 50)"""
import json
import re
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration"))
import harness as h  # noqa: E402


def fetch(url):
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=30) as r:
        body = r.read()
    return time.monotonic() - t0, body


def chromium(t, url, n):
    """Median wall time of --dump-dom, and of the page's own navigation-to-load time."""
    exe = shutil.which("chromium")
    times, loads = [], []
    for i in range(n):
        t0 = time.monotonic()
        r = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + t.path("prof%d" % i),
                            "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
        times.append(time.monotonic() - t0)
        m = re.search(r'data-load-ms="(\d+)"', r.stdout)
        if m:
            loads.append(int(m.group(1)))
    return statistics.median(times), statistics.median(loads) if loads else None


def bench(t):
    runs = int(os.environ.get("RUNS", "50"))
    b = t.broker()
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections=h.mqtt_section(b.port) + "[input.http]\nlisten = 127.0.0.1:%d\n"
                     "[health]\nhistory_sample_s = 1\n" % p)
    h.listen_port(a, conf)
    base = "http://127.0.0.1:%d" % port[0]
    recs = ",".join('{"kind":"pick","txn_id":"T%d","event_time":"2026-03-01T10:00:00Z","sku":"S%d",'
                    '"qty":%s,"uom":"EA","bin":"A-1"}' % (i, i, '"bad"' if i % 10 == 0 else "1")
                    for i in range(200))
    urllib.request.urlopen(urllib.request.Request(base + "/v1/events", data=("[%s]" % recs).encode(),
                                                  headers={"Content-Type": "application/json"}), timeout=30)
    a.wait_status("backlog", 0)
    rss0 = a.rss_kib()
    page = [fetch(base + "/") for _ in range(runs)]
    js = [fetch(base + "/v1/status?detail=1") for _ in range(runs)]
    samples = len(json.loads(js[-1][1])["history"]["t_ms"])
    print("weight     GET / %d bytes, GET /v1/status?detail=1 %d bytes (%d history samples, %d "
          "quarantine rows)" % (len(page[-1][1]), len(js[-1][1]), samples,
                                len(json.loads(js[-1][1])["quarantine"])))
    print("server     GET / %.2f ms, JSON %.2f ms (median of %d)" % (
        statistics.median(x[0] for x in page) * 1000, statistics.median(x[0] for x in js) * 1000, runs))
    if shutil.which("chromium"):
        with open(t.path("blank.html"), "w") as f:
            f.write("<!doctype html><title>blank</title>")
        blank, _ = chromium(t, "file://" + t.path("blank.html"), 5)
        full, load = chromium(t, base + "/", 5)
        print("chromium   navigation to load event %s ms (the page's performance.now()); --dump-dom "
              "wall time %.0f ms, %.0f ms for an empty page (median of 5)" % (load, full * 1000, blank * 1000))
    print("rss        %d KiB before, %d KiB after %d page loads" % (rss0, a.rss_kib(), 2 * runs))
    a.stop()
    return "bench_page"


if __name__ == "__main__":
    h.main(bench)
