"""Integration: several spool inputs through the real daemon to the reference platform
(decoded). [input.spool] takes comma CSV with canonical column names; [input.spool.returns]
its own folder of semicolon CSV with its own [map.r] (Art for kind, Menge for qty, the code RT
for RECEIPT) and decimal = comma. Both are taken and decoded right; a record of the second
with an unknown kind code is quarantined with input spool.returns, and after the map is fixed
`quarantine requeue --input spool.returns` reparses it with that input's delimiter, map and
decimal. A restart resumes both: new files in each are taken, a file taken again is all
duplicates, and files taken but not yet moved keep cursors named by their input
(spool:FILE, spool.returns:FILE) that each input finds again after a restart. A reload that
changes the named section's dir or adds a section is refused by name; its decimal applies.
usage: spools_test.py WHAGENT [ARGS...]"""
import json
import os

import harness as h
from harness import eq, has

MAIN_HEADER = "kind,txn_id,event_time,sku,qty,uom,bin"
RET_HEADER = "Art;txn_id;event_time;sku;Menge;uom;bin"


def events_of(path):
    """txn_id -> (kind, milli, bin) of each decoded event."""
    out = {}
    for line in open(path):
        if line.strip():
            e = next(iter(json.loads(line).values()))
            out[e["header"]["sourceKey"]] = (e["header"]["kind"], int(e["quantity"]["milli"]),
                                             e.get("fromBin") or e.get("toBin") or e.get("bin"))
    return out


def drop(t, folder, name, header, rows):
    t.write(name + ".tmp", header + "\r\n" + "\r\n".join(rows) + "\r\n")
    os.rename(t.path(name + ".tmp"), os.path.join(folder, name))


def taken(folder, name):
    h.wait_for(lambda: os.path.exists(os.path.join(folder, "done", name)), 60, "%s not taken" % name)


def test(t):
    broker = t.broker()
    a = t.new_agent()
    ret = t.path("returns")
    os.makedirs(ret)

    def conf(done_main="", done_ret="", fixed=False):
        a.write_conf(spool=done_main, sections=h.mqtt_section(broker.port) +
                     "[input.spool.returns]\ndir = %s\nsettle_ms = 300\nrescan_ms = 200\n"
                     "delimiter = semicolon\ndecimal = comma\nmap = r\n%s\n"
                     "[map.r]\nkind = Art\nqty = Menge\nkind.RT = RECEIPT\n%s" %
                     (ret, done_ret, "kind.XX = PICK\n" if fixed else ""))
    conf()
    events = t.path("events.jsonl")
    c1 = t.consumer(broker, "c1", "--events", events, "--expect-last", 4, timeout=60)
    a.start()
    drop(t, a.spool, "main.csv", MAIN_HEADER, [
        "PICK,M-1,2026-01-15T08:00:00Z,S1,2.5,EA,A-01",
        "PICK,M-2,2026-01-15T08:01:00Z,S1,1,EA,A-02"])
    drop(t, ret, "ret.csv", RET_HEADER, [
        "RT;R-1;2026-01-15T09:00:00Z;S1;1,25;EA;B-01",
        "XX;R-2;2026-01-15T09:01:00Z;S1;3,5;EA;B-02",  # unknown kind code: quarantined
        "RT;R-3;2026-01-15T09:02:00Z;S1;12,5;EA;B-03"])
    taken(a.spool, "main.csv")
    taken(ret, "ret.csv")
    a.wait_log(r"spool: main\.csv done: 2 taken$", what="main.csv summary")
    a.wait_log(r"spool\.returns: ret\.csv done: 2 taken, 1 quarantined", what="ret.csv summary")
    c1.wait().complete(4)
    ev = events_of(events)
    eq({k: v[:2] for k, v in ev.items()},
       {"M-1": ("EVENT_KIND_PICK", 2500), "M-2": ("EVENT_KIND_PICK", 1000),
        "R-1": ("EVENT_KIND_RECEIPT", 1250), "R-3": ("EVENT_KIND_RECEIPT", 12500)},
       "decoded kinds and quantities of both inputs")
    q = a.sql("SELECT id, input, position, reason FROM quarantine")
    eq(len(q), 1, "quarantined: %s" % q)
    eq(q[0][1], "spool.returns", "quarantine input of the named spool")
    has(q[0][2], r"ret\.csv line 3", "quarantined position")
    has(q[0][3], r"column Art: 'XX' is not a kind code of \[map.r\]", "quarantine reason")
    a.stop()

    # fix the map; requeue that input's records with its delimiter, map and decimal
    eq(a.cli("quarantine", "requeue", "--input", "spool").stdout, "nothing quarantined from input spool\n",
       "--input spool is not spool.returns")
    conf(fixed=True)
    r = a.cli("quarantine", "requeue", "--input", "spool.returns")
    eq(r.returncode, 0, "requeue --input spool.returns: " + r.stdout + r.stderr)
    has(r.stdout, r"^1: journaled as seq 5$", "requeue journals the record")

    # a restart resumes both inputs: new files taken, a file taken again all duplicates
    events2 = t.path("events2.jsonl")
    c2 = t.consumer(broker, "c2", "--events", events2, "--expect-first", 5, "--expect-last", 7, timeout=60)
    a.start()
    drop(t, a.spool, "main2.csv", MAIN_HEADER, ["RECEIPT,M-3,2026-01-15T10:00:00Z,S2,4,EA,A-03"])
    drop(t, ret, "ret2.csv", RET_HEADER, ["RT;R-4;2026-01-15T10:01:00Z;S2;0,5;EA;B-04"])
    taken(a.spool, "main2.csv")
    taken(ret, "ret2.csv")
    c2.wait().complete(3)
    ev2 = events_of(events2)
    eq({k: v[:2] for k, v in ev2.items()},
       {"R-2": ("EVENT_KIND_PICK", 3500), "M-3": ("EVENT_KIND_RECEIPT", 4000),
        "R-4": ("EVENT_KIND_RECEIPT", 500)},
       "requeued record and new files after the restart")
    drop(t, ret, "again.csv", RET_HEADER, ["RT;R-1;2026-01-15T09:00:00Z;S1;1,25;EA;B-01"])
    a.wait_log(r"spool\.returns: again\.csv done: 0 taken, 1 duplicate", what="again.csv not all duplicates")
    eq(a.sql1("SELECT count(*) FROM event"), 7, "events in the journal")
    a.stop()

    # files committed but not moved (done_dir is a file) keep their cursors, named by input;
    # after a restart each input finds its own and moves the file without taking it again
    blocker = t.write("blocker", "")
    conf("done_dir = %s" % blocker, "done_dir = %s" % blocker, fixed=True)
    a.start()
    drop(t, a.spool, "main3.csv", MAIN_HEADER, ["PICK,M-4,2026-01-15T11:00:00Z,S2,1,EA,A-03"])
    drop(t, ret, "ret3.csv", RET_HEADER, ["RT;R-5;2026-01-15T11:01:00Z;S2;2,5;EA;B-04"])
    a.wait_log(r"main3\.csv is taken but cannot be moved", what="main3.csv not held")
    a.wait_log(r"ret3\.csv is taken but cannot be moved", what="ret3.csv not held")
    names = sorted(r[0] for r in a.sql("SELECT name FROM cursor"))
    eq(names, ["spool.returns:ret3.csv", "spool:main3.csv"], "cursor names")
    a.stop()
    conf(fixed=True)
    a.start()
    taken(a.spool, "main3.csv")
    taken(ret, "ret3.csv")
    has(a.text(), r"main3\.csv was taken before the restart; moving it", "main3.csv resumed")
    has(a.text(), r"ret3\.csv was taken before the restart; moving it", "ret3.csv resumed")
    eq(a.sql1("SELECT count(*) FROM event"), 9, "events in the journal: none taken twice")
    h.wait_for(lambda: a.sql1("SELECT count(*) FROM cursor") == 0, 30, "cursors not forgotten")

    # reload: a restart key of the named section is refused by its name, other keys apply
    a.edit_conf("dir = %s" % ret, "dir = %s2" % ret)
    a.reload(expect="reload refused")
    has(a.text(), r"keys \[input\.spool\.returns\] dir, \[input\.spool\.returns\] done_dir changed",
        "the refused keys")
    conf(fixed=True)
    a.append_conf("[input.spool.more]\ndir = %s" % t.path("more"))
    a.reload(expect="reload refused")
    has(a.text(), r"key \[input\.spool\.more\] \(the section\) changed", "a section added")
    conf(fixed=True)
    a.edit_conf("decimal = comma", "decimal = point")
    a.reload()
    drop(t, ret, "ret4.csv", RET_HEADER, ["RT;R-6;2026-01-15T12:00:00Z;S2;2.5;EA;B-04"])
    taken(ret, "ret4.csv")
    a.wait_log(r"spool\.returns: ret4\.csv done: 1 taken$", what="ret4.csv with the reloaded decimal")
    eq(a.sql1("SELECT count(*) FROM event"), 10, "events in the journal")
    a.stop()


if __name__ == "__main__":
    h.main(test)
