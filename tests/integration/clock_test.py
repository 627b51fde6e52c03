"""A clock jump with the real daemon: the agent runs with libfaketime preloaded (its wall clock
read from a file the test rewrites; the monotonic clock left alone), the test steps the wall
clock 120 s ahead, and the agent reports the jump (clock.jumps, the clock_jump alarm, the log,
/metrics) against its monotonic clock. Skipped without libfaketime, or under valgrind or qemu
(the preload would go to them).
usage: clock_test.py WHAGENT [ARGS...]"""
import glob
import json
import os
import urllib.request

import harness as h
from harness import eq, has, ok


def test(t):
    libs = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if not libs:
        raise h.Skip("no libfaketime (apt-get install libfaketime)")
    if os.path.basename(t.wh[0]).startswith(("valgrind", "qemu")):
        raise h.Skip("libfaketime would be preloaded into %s" % os.path.basename(t.wh[0]))
    stamp = t.write("faketime.rc", "+0\n")
    env = {"LD_PRELOAD": libs[0], "FAKETIME_TIMESTAMP_FILE": stamp, "FAKETIME_NO_CACHE": "1",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           # an ASan build wants its runtime first; libfaketime before it does no harm here
           "ASAN_OPTIONS": ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))}
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections="[input.http]\nlisten = 127.0.0.1:%d\n[health]\nclock_jump_ms = 2000\n" % p)
    h.listen_port(a, conf, env=env)
    base = "http://127.0.0.1:%d" % port[0]

    def status():
        with urllib.request.urlopen(base + "/v1/status", timeout=30 * h.SLOW) as r:
            return json.loads(r.read())

    def metrics():
        with urllib.request.urlopen(base + "/metrics", timeout=30 * h.SLOW) as r:
            return r.read().decode()

    has(metrics(), r"(?m)^whagent_clock_jumps_total 0$", "no jump at the start")
    eq(status()["clock"]["jumps"], 0, "no jump at the start")
    mark = a.mark()
    with open(stamp, "w") as f:
        f.write("+120s\n")
    h.wait_for(lambda: status()["clock"]["jumps"] == 1, 20, "the jump reported")
    st = status()
    ok(110000 <= st["clock"]["last_jump_delta_ms"] <= 130000,
       "the step made was 120 s: %s" % st["clock"]["last_jump_delta_ms"])
    ok(any(x["name"] == "clock_jump" for x in st["alarms"]), "clock_jump alarm: %s" % st["alarms"])
    a.wait_log(r"clock: the wall clock jumped by \+1[12]\d{4} ms", since=mark, what="the jump logged")
    has(metrics(), r'whagent_alarm\{name="clock_jump"\} 1', "metrics alarm")
    has(metrics(), r"(?m)^whagent_clock_jumps_total 1$", "metrics count")
    a.stop()
    return "clock: a 120 s wall-clock step reported"


if __name__ == "__main__":
    h.main(test)
