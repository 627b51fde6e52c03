"""Health that does not lie, with the real daemon:
- ack stall: a mosquitto stopped with SIGSTOP keeps its TCP connection (the kernel buffers what
  the agent publishes) and acknowledges nothing: with ack_stall_s = 2 the ack_stall alarm is
  raised (status, /healthz 503, /metrics, the log), the agent reconnects; after SIGCONT the
  batch is acknowledged and the alarm clears;
- source silence: an input with silence_alarm_s = 1 inside its operating hours raises
  silence:http, a record clears it, and hours that exclude now (a reload) keep it off;
- clock: the NTP flag the agent reports is the kernel's (adjtimex, read here through libc),
  the boot id is /proc's; the retained MQTT Status carries the alarms and the clock;
- journal: a free-space reserve larger than the disk (a reload) raises journal, /healthz 503.
(clock_jump: clock_test.py; link_down and event_time: page_test.py.)
usage: alarms_test.py WHAGENT [ARGS...]"""
import ctypes
import json
import os
import signal
import time
import urllib.error
import urllib.request

import harness as h
from harness import eq, has, ok


def rec(txn):
    return ('{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"S1","qty":1,'
            '"uom":"EA","bin":"A-1"}' % txn)


def kernel_synced():
    """adjtimex(2) with modes 0, as the agent reads it: 1 synced, 0 not."""
    buf = ctypes.create_string_buffer(512)  # struct timex, zeroed: modes 0 reads only
    libc = ctypes.CDLL(None, use_errno=True)
    state = libc.adjtimex(buf)
    word = ctypes.sizeof(ctypes.c_long)
    # unsigned modes (padded to a long), long offset, freq, maxerror, esterror, then int status
    status = ctypes.c_int.from_buffer(buf, word + 4 * word).value
    return None if state < 0 else int(state != 5 and not (status & 0x40))  # TIME_ERROR, STA_UNSYNC


def test(t):
    b = t.broker()
    a = t.new_agent()
    port = [0]
    tomorrow = time.strftime("%a", time.gmtime(time.time() + 86400))

    def conf(p, hours="* 00:00-24:00"):
        port[0] = p
        a.write_conf(sections=h.mqtt_section(b.port, "keepalive_s = 600\n") +
                     "[input.http]\nlisten = 127.0.0.1:%d\nsilence_alarm_s = 1\ntimezone = UTC\n"
                     "operating_hours = %s\n[health]\nack_stall_s = 2\n" % (p, hours))
    h.listen_port(a, conf)
    base = "http://127.0.0.1:%d" % port[0]

    def get(path):
        try:
            with urllib.request.urlopen(base + path, timeout=30 * h.SLOW) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post(body):
        req = urllib.request.Request(base + "/v1/events", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30 * h.SLOW) as r:
            return json.loads(r.read())

    def alarms():
        return {x["name"]: x for x in json.loads(get("/v1/status")[1])["alarms"]}

    st_pb2 = h.protos().pb2("status")
    mq = t.mqtt(b)
    mq.subscribe("%s/%s/status" % (h.PREFIX, h.SITE))

    def status_msg(pred, what):
        def parsed(m):
            s = st_pb2.Status()
            s.ParseFromString(m.payload)
            return s if pred(s) else None
        return parsed(mq.wait_message(lambda m: parsed(m) is not None, 30, what))

    # silence: nothing from the WMS inside its hours
    h.wait_for(lambda: "silence:http" in alarms(), 20, "silence:http alarm")
    sm = status_msg(lambda s: any(x.name == "silence:http" for x in s.alarms), "a Status with silence:http")
    has([x.text for x in sm.alarms if x.name == "silence:http"][0], "no record from input http", "Status alarm text")
    ok(sm.boot_id == open("/proc/sys/kernel/random/boot_id").read().strip(), "Status boot_id")
    has(alarms()["silence:http"]["text"], "no record from input http", "silence text")
    code, body = get("/healthz")
    eq(code, 503, "/healthz during the silence")
    has(body, "silence:http", "/healthz says why")
    post(rec("T1"))
    h.wait_for(lambda: "silence:http" not in alarms(), 10, "a record clears silence:http")
    # hours that exclude now: no alarm however long the silence
    a.edit_conf(r"operating_hours = .*", "operating_hours = %s 00:00-24:00" % tomorrow)
    a.reload()
    h.wait_for(lambda: not json.loads(get("/v1/status")[1])["inputs"][-1]["inside_operating_hours"], 10,
               "outside the operating hours")
    st = json.loads(get("/v1/status")[1])
    ok(st["inputs"][-1]["last_record_ms"] > 0, "last record time")
    ok(all(x["name"] != "silence:http" for x in st["alarms"]), "no silence alarm outside the hours")

    # clock quality as the kernel says
    ck = st["clock"]
    want = kernel_synced()
    eq(ck["ntp_synced"], None if want is None else bool(want), "NTP flag as adjtimex says")
    eq(ck["boot_id"], open("/proc/sys/kernel/random/boot_id").read().strip(), "boot id")
    eq("clock_unsynced" in alarms(), want == 0, "clock_unsynced alarm iff the kernel says so")

    # ack stall: the broker takes and does not acknowledge
    a.wait_status("backlog", 0, what="in sync before the stall")
    b.signal(signal.SIGSTOP)
    try:
        mark = a.mark()
        post(rec("T2"))
        h.wait_for(lambda: "ack_stall" in alarms(), 30, "ack_stall alarm")
        has(alarms()["ack_stall"]["text"], "no PUBACK", "ack_stall text")
        a.wait_log(r"no PUBACK for \d+ s .*reconnecting", since=mark, what="the agent reconnects")
        code, body = get("/healthz")
        eq(code, 503, "/healthz during the ack stall")
        has(body, "ack_stall", "/healthz names it")
        has(get("/metrics")[1], r'whagent_alarm\{name="ack_stall"\} 1', "metrics")
        has(a.field("alarm_names"), "ack_stall", "whagent status names it")
        has(a.cli("status").stdout, r"alarms +.*ack_stall", "whagent status text")
    finally:
        b.signal(signal.SIGCONT)
    a.wait_status("backlog", 0, timeout=60, what="the batch is acknowledged after SIGCONT")
    h.wait_for(lambda: "ack_stall" not in alarms(), 20, "ack_stall cleared by an acknowledgement")
    has(get("/metrics")[1], r'whagent_alarm\{name="ack_stall"\} 0', "metrics after")
    ok("ack_stall" not in a.field("alarm_names"), "status after")

    # the journal refusing writes: a free-space reserve larger than the disk
    a.edit_conf(r"reserve_bytes = .*", "reserve_bytes = 1000000GiB")
    a.reload()
    h.wait_for(lambda: "journal" in alarms(), 10, "journal alarm")
    has(alarms()["journal"]["text"], "refused", "journal alarm text")
    eq(get("/healthz")[0], 503, "/healthz while the journal refuses")
    a.edit_conf(r"reserve_bytes = .*", "reserve_bytes = 0")
    a.reload()
    h.wait_for(lambda: "journal" not in alarms(), 10, "journal alarm cleared")

    want_sync = {None: 0, 1: 1, 0: 2}[want]
    sm = status_msg(lambda s: s.clock_sync == want_sync and all(x.name != "ack_stall" for x in s.alarms),
                    "a Status with the clock as the kernel says, ack_stall gone")
    # its wall clock minus the monotonic one: the monotonic reading then, not after now
    ok(0 < sm.time_ms - sm.mono_offset_ms <= time.monotonic() * 1000 + 1000, "Status mono_offset_ms: %s" % sm)
    a.stop()
    return "alarms: ack stall (SIGSTOPped broker), silence in hours, clock as the kernel says"


if __name__ == "__main__":
    h.main(test)
