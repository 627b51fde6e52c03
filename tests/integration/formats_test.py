"""Integration: WMS formats through the real daemon to the reference platform (decoded). A
semicolon CSV in the spool with timezone = Europe/Berlin and decimal = comma: times without
offset are taken as Berlin civil time (winter, summer, the repeated hour at the end of summer
time takes the earlier instant), a time with its own offset keeps it, a time in the skipped
hour is quarantined with a reason, and 12,5 is 12.5. A value map ([map.w] kind.PK = PICK,
kind.WE = RECEIPT, uom.STK = EA) turns the WMS's codes into canonical values; an unknown code
is quarantined with the known ones. Then a JSON webhook wrapping its records
({"data": {"items": [...]}}) with [input.http] records = /data/items, timezone =
America/New_York and decimal = comma: each item is an event, decoded as sent; JSON Lines with
the same wrapper on each line too, and a .jsonl spool file with [input.spool] records =
/data/items.
usage: formats_test.py WHAGENT [ARGS...]"""
import json
import os

import harness as h
from harness import eq, ok

CSV_HEADER = "Art;txn_id;event_time;sku;qty;uom;bin"


def events_of(path):
    """txn_id -> (the event's inner message, its header) of each decoded event."""
    out = {}
    for line in open(path):
        if line.strip():
            inner = next(iter(json.loads(line).values()))
            out[inner["header"]["sourceKey"]] = inner
    return out


def test(t):
    broker = t.broker()
    a = t.new_agent()
    a.write_conf(spool="timezone = Europe/Berlin\ndecimal = comma\ndelimiter = semicolon\nmap = w",
                 sections=h.mqtt_section(broker.port) +
                 "[map.w]\nkind = Art\nkind.PK = PICK\nkind.WE = RECEIPT\nuom.STK = EA\n")
    rows = [
        "PICK;TZ-1;2026-01-15 08:00:00;S1;12,5;EA;A-01",   # CET: 07:00Z
        "WE;TZ-2;2026-07-01T12:00:00;S1;1;STK;A-01",       # CEST: 10:00Z; RECEIPT of 1 EA
        "pk;TZ-3;2026-10-25 02:30:00;S1;0,125;EA;A-01",  # repeated hour: CEST, 00:30Z
        "PICK;TZ-4;2026-07-01T12:00:00-05:00;S1;3;EA;A-01",  # own offset kept
        "PICK;TZ-5;2026-03-29 02:30:00;S1;1;EA;A-01",      # skipped hour: quarantined
        "PICK;TZ-6;2026-01-15 08:00:00;S1;12.5;EA;A-01",   # '.' with decimal = comma: quarantined
        "XX;TZ-7;2026-01-15 08:00:00;S1;1;EA;A-01",        # unknown kind code: quarantined
    ]
    events = t.path("events.jsonl")
    c1 = t.consumer(broker, "c1", "--events", events, "--expect-last", 4, timeout=60)
    a.start()
    t.write("in.csv", CSV_HEADER + "\r\n" + "\r\n".join(rows) + "\r\n")
    os.rename(t.path("in.csv"), os.path.join(a.spool, "wms.csv"))
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/wms.csv")), 60, "wms.csv not taken")
    s = c1.wait()
    s.complete(4)
    ev = events_of(events)
    got = {k: (int(e["header"]["eventTimeMs"]), e["header"].get("eventTimeOffsetMin", 0)) for k, e in ev.items()}
    eq(got, {"TZ-1": (1768460400000, 60), "TZ-2": (1782900000000, 120),
             "TZ-3": (1792888200000, 120), "TZ-4": (1782925200000, -300)}, "decoded event times")
    qty = {k: (int(e["quantity"]["milli"]), e["quantity"]["uom"], e["header"]["kind"]) for k, e in ev.items()}
    eq(qty, {"TZ-1": (12500, "EA", "EVENT_KIND_PICK"), "TZ-2": (1000, "EA", "EVENT_KIND_RECEIPT"),
             "TZ-3": (125, "EA", "EVENT_KIND_PICK"), "TZ-4": (3000, "EA", "EVENT_KIND_PICK")},
       "decoded quantities, units and kinds")
    q = dict(a.sql("SELECT position, reason FROM quarantine ORDER BY id"))
    eq(len(q), 3, "quarantined: %s" % q)
    reasons = " | ".join(q.values())
    h.has(reasons, "does not exist in time zone Europe/Berlin", "skipped-hour reason")
    h.has(reasons, "optional ','", "decimal reason")
    h.has(reasons, r"column Art: 'XX' is not a kind code of \[map.w\] \(known: PK, WE\)", "value map reason")
    a.stop()

    # The webhook: records inside a wrapper object.
    def http_conf(port):
        a.write_conf(spool="records = /data/items", sections=h.mqtt_section(broker.port) +
                     "[input.http]\nlisten = 127.0.0.1:%d\nrecords = /data/items\n"
                     "timezone = America/New_York\ndecimal = comma\n" % port)
    events2 = t.path("events2.jsonl")
    c2 = t.consumer(broker, "c2", "--events", events2, "--expect-first", 5, "--expect-last", 10, timeout=60)
    port = h.listen_port(a, http_conf)
    item = lambda txn, when, qty: {"kind": "receipt", "txn_id": txn, "event_time": when, "sku": "S2",
                                   "qty": qty, "uom": "EA", "bin": "R-1"}
    body = {"meta": {"page": 1}, "data": {"items": [item("NY-1", "2026-01-15 08:00:00", "2,5"),
                                                     item("NY-2", "2026-07-01 08:00:00", 4)]}}
    code, text, _ = h.http("http://127.0.0.1:%d/v1/events" % port, json.dumps(body).encode())
    eq(code, 200, "wrapped POST: %s" % text)
    eq(json.loads(text)["taken"], 2, "wrapped records taken: %s" % text)
    lines = "\n".join(json.dumps({"data": {"items": [item("NY-%d" % i, "2026-01-15T08:00:00-05:00", 1)]}})
                      for i in (3, 4)) + "\n"
    code, text, _ = h.http("http://127.0.0.1:%d/v1/events" % port, lines.encode(), "application/x-ndjson")
    eq((code, json.loads(text)["taken"]), (200, 2), "wrapped JSON Lines: %s" % text)
    code, text, _ = h.http("http://127.0.0.1:%d/v1/events" % port, b'{"items": []}')
    eq(code, 400, "a body without /data/items: %s" % text)
    h.has(text, "records = /data: no such place", "reason for a body without the wrapper")
    wrapped = json.dumps({"data": {"items": [item("SP-1", "2026-01-15T08:00:00Z", 7),
                                              item("SP-2", "2026-01-15T08:00:00Z", "bad")]}}) + "\n" + \
        json.dumps({"data": {"items": [item("SP-3", "2026-01-15T08:00:00Z", 9)]}}) + "\n"
    t.write("wrapped.jsonl", wrapped)
    os.rename(t.path("wrapped.jsonl"), os.path.join(a.spool, "wrapped.jsonl"))
    h.wait_for(lambda: os.path.exists(os.path.join(a.spool, "done/wrapped.jsonl")), 60, "wrapped.jsonl not taken")
    s2 = c2.wait()
    s2.complete(10 - 4)
    q = a.sql("SELECT position, reason, raw FROM quarantine WHERE position LIKE 'wrapped.jsonl%'")
    eq(len(q), 1, "quarantined from wrapped.jsonl: %s" % q)
    h.has(q[0][0], r"^wrapped.jsonl line 1, record 2$", "position of a wrapped record")
    h.has(q[0][1], "column qty: 'bad'", "reason of a wrapped record")
    eq(json.loads(q[0][2])["txn_id"], "SP-2", "raw of a wrapped record is the record itself")
    ev = events_of(events2)
    got = {k: (int(e["header"]["eventTimeMs"]), e["header"].get("eventTimeOffsetMin", 0),
               int(e["quantity"]["milli"])) for k, e in ev.items()}
    eq(got, {"NY-1": (1768482000000, -300, 2500), "NY-2": (1782907200000, -240, 4000),
             "NY-3": (1768482000000, -300, 1000), "NY-4": (1768482000000, -300, 1000),
             "SP-1": (1768464000000, 0, 7000), "SP-3": (1768464000000, 0, 9000)},
       "decoded webhook events")
    a.stop()
    return "Berlin times (winter, summer, repeated hour, own offset) and 12,5 decoded; skipped " \
           "hour, '12.5' and kind XX quarantined with reasons; value-mapped kinds and uom decoded; " \
           "wrapped webhook records (JSON and JSON Lines) decoded in New York time"


if __name__ == "__main__":
    h.main(test)
