#!/usr/bin/env python3
"""The interface-table input against a real database ($WMSDB: postgres or mariadb, started by
the test in its work directory on a free loopback port), through unixODBC and the Debian
drivers (odbc-postgresql, odbc-mariadb):

- errors: a wrong password and a missing table, each reported in the log, in `whagent status`
  and in the metrics, retried;
- watermark: a WMS simulator inserts $TABLE_ROWS rows (100,000) in many transactions, some of
  them committing late (the lag guard waits for them); meanwhile the database is restarted in
  the middle of a poll and the agent is killed (kill -9) once: every row is journaled once (or
  quarantined once when bad), seq gapless, no duplicate;
- handshake: rows in status N are journaled, then written back as S with their seq, or E with
  the quarantine's reason; the agent is killed between the journal commit and the write-back
  (held back by a lock): after the restart the rows are found as duplicates and written back
  with their first seq, nothing lost, nothing twice;
- a poll blocked for 30 s by a lock does not delay /healthz or the MQTT keep-alive.
"""
import os
import re
import shutil
import threading
import time

import harness as h
import wmsdb
from harness import Fail, eq, ok, wait_for

ROWS = int(os.environ.get("TABLE_ROWS", "100000"))
LATE_TXNS = 8       # transactions that commit late
LATE_ROWS = 100     # rows each
LATE_HOLD_S = 3     # how late (the lag guard's lag_s is above it)
LAG_S = 6


def create(db, table, handshake=False):
    extra = (", status varchar(8) NOT NULL DEFAULT 'N', agent_seq bigint, agent_error varchar(200)"
             if handshake else "")
    db.sql("CREATE TABLE %s (id %s, created_at %s NOT NULL DEFAULT %s, txn_type varchar(16), "
           "txn_id varchar(32) NOT NULL, txn_time %s, item varchar(32), quantity numeric(12,3), "
           "uom varchar(8), bin varchar(32)%s);\n"
           "CREATE INDEX %s_cursor ON %s (%s);\n" % (
               table, db.autoinc, db.ts_type, db.now, db.ts_type, extra, table, table,
               "status, id" if handshake else "created_at, id"))


MAP = """[map.tx]
kind = txn_type
event_time = txn_time
sku = item
qty = quantity
"""


def table_section(db, name, table, pwfile, mode="watermark", extra=""):
    if mode == "watermark":
        cols = "cursor_column = created_at\nlag_s = %d\n" % LAG_S
    else:
        cols = ("status_column = status\nstatus_new = N\nstatus_sent = S\nstatus_error = E\n"
                "seq_column = agent_seq\nerror_column = agent_error\n")
    return """[input.table.%s]
connection = %s
password_file = %s
table = %s
mode = %s
key_column = id
%spage_rows = 500
poll_ms = 300
retry_max_ms = 2000
login_timeout_s = 5
query_timeout_s = 60
map = tx
timezone = UTC
%s
""" % (name, db.connection(), pwfile, table, mode, cols, extra)


def good_and_bad(first, last, prefix="TX"):
    good = ["%s-%d" % (prefix, g) for g in range(first, last + 1) if g % 100 != 99]
    bad = [g for g in range(first, last + 1) if g % 100 == 99]
    return good, bad


def metrics(port):
    status, body, _ = h.http("http://127.0.0.1:%d/metrics" % port, timeout=10)
    eq(status, 200, "GET /metrics")
    return body


def metric(body, name, labels):
    m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), body, re.M)
    return float(m.group(1)) if m else None


def agent_with(t, db, sections, broker=None, http_port=None):
    a = t.new_agent()
    extra = sections + MAP
    if broker is not None:
        extra += h.mqtt_section(broker.port, "keepalive_s = 5\n")
    if http_port is not None:
        extra += "[input.http]\nlisten = 127.0.0.1:%d\n" % http_port
    a.write_conf(sections=extra)
    return a


# --- errors ---------------------------------------------------------------------------------

def errors(t, db, broker, pw):
    bad_pw = t.write("wrong-pw", "not-the-password\n", 0o600)
    port = h.candidate_port()
    a = agent_with(t, db, table_section(db, "badpw", "wms_tx", bad_pw) +
                   table_section(db, "missing", "wms_nope", pw), broker, port)
    a.start()
    auth = "password authentication failed" if db.kind == "postgres" else "Access denied"
    a.wait_log(r"table\.badpw input: connecting: SQLSTATE \S+: .*%s" % auth, 30,
               what="the wrong password is not logged clearly")
    a.wait_log(r"table\.missing input: (polling|preparing) .*SQLSTATE 42\S+: .*wms_nope", 30,
               what="the missing table is not logged clearly")
    body = metrics(port)
    eq(metric(body, "whagent_table_up", 'input="table.badpw",failure="auth"'), 0.0,
       "whagent_table_up of the wrong password")
    eq(metric(body, "whagent_table_up", 'input="table.missing",failure="schema"'), 0.0,
       "whagent_table_up of the missing table")
    a.wait_status("input_errors", lambda v: "table.badpw" in v and "table.missing" in v, 30)
    errs = a.field("input_errors")
    ok(auth in errs and "wms_nope" in errs, "status input_errors names both: %r" % errs)
    ok(wmsdb.PASSWORD not in a.text() and "not-the-password" not in a.text(),
       "a password appears in the log")
    # retried with backoff: more attempts come, then the table appears and is taken
    errs_before = metric(metrics(port), "whagent_table_errors_total", 'input="table.missing"')
    wait_for(lambda: metric(metrics(port), "whagent_table_errors_total",
                            'input="table.missing"') > errs_before, 30, "no retry after an error")
    create(db, "wms_nope")
    db.sql(db.insert_rows("wms_nope", 1, 10, "NOPE"))
    a.wait_log(r"table\.missing input: the database answers again", 30)
    wait_for(lambda: a.sql1("SELECT count(*) FROM event WHERE source_key LIKE 'NOPE-%'") == 10,
             60, "the table that appeared is not taken")
    a.stop()
    return a


# --- watermark ------------------------------------------------------------------------------

class Simulator(threading.Thread):
    """The WMS: ROWS rows in transactions of 500 rows, each through its own client session;
    LATE_TXNS of them insert, wait LATE_HOLD_S and only then commit (in parallel to the
    rest). It pauses at the half until resumed."""

    def __init__(self, db, table, first, last):
        super().__init__(daemon=True)
        self.db, self.table, self.first, self.last = db, table, first, last
        self.half = threading.Event()
        self.resume = threading.Event()
        self.error = None
        self.late = []

    def late_txn(self, first, last):
        p = wmsdb.start_session(self.db, "BEGIN;\n" + self.db.insert_rows(self.table, first, last)
                                + self.db.sleep(LATE_HOLD_S) + "\nCOMMIT;\n")
        self.late.append(p)

    def wait_late(self):
        for p in self.late:
            p.wait(60)
            if p.returncode != 0:
                raise Fail("a late transaction failed (see the client log)")

    def run(self):
        try:
            step = 500
            n = self.last - self.first + 1
            late_every = max(1, (n // step) // (LATE_TXNS + 1))
            i = 0
            g = self.first
            while g <= self.last:
                if g >= self.first + n // 2 and not self.half.is_set():
                    self.wait_late()  # none in flight while the database restarts
                    self.half.set()
                    self.resume.wait(300)
                hi = min(self.last, g + step - 1)
                if i % late_every == late_every - 1 and len(self.late) < LATE_TXNS:
                    self.late_txn(g, min(hi, g + LATE_ROWS - 1))
                    g = min(hi, g + LATE_ROWS - 1) + 1
                    continue
                text = ""
                for _ in range(4):  # four transactions per client session
                    if g > self.last:
                        break
                    hi = min(self.last, g + step - 1)
                    text += "BEGIN;\n" + self.db.insert_rows(self.table, g, hi) + "COMMIT;\n"
                    g = hi + 1
                    i += 1
                self.db.sql(text)
            self.wait_late()
        except Exception as e:  # reported by the test
            self.error = e
            self.half.set()


def events_like(a, prefix):
    return a.sql1("SELECT count(*) FROM event WHERE source_key LIKE ?", prefix + "-%")


def watermark(t, db, broker, pw):
    create(db, "wms_tx")
    a = agent_with(t, db, table_section(db, "wms", "wms_tx", pw), broker)
    good, bad = good_and_bad(1, ROWS)
    sim = Simulator(db, "wms_tx", 1, ROWS)
    a.start()
    t0 = time.monotonic()
    sim.start()
    ok(sim.half.wait(600), "the simulator did not reach the half")
    if sim.error:
        raise sim.error
    # a poll held by a lock, then the database restarted under it
    locker = wmsdb.start_session(db, db.lock_reads("wms_tx", 60))
    wait_for(lambda: db.sleepers() >= 1, 60, "the agent's poll did not wait for the lock")
    mark = a.mark()
    db.restart()
    locker.wait(30)
    a.wait_log(r"table\.wms input: .*SQLSTATE", 60, since=mark,
               what="the restart under a poll is not reported")
    a.wait_log(r"table\.wms input: the database answers again", 60, since=mark)
    sim.resume.set()
    # kill -9 once the second half flows
    wait_for(lambda: events_like(a, "TX") > len(good) * 0.7, 600, "the second half is not taken")
    a.kill9()
    a.start()
    sim.join(600)
    if sim.error:
        raise sim.error

    def all_in():
        return events_like(a, "TX") >= len(good)
    wait_for(all_in, 600, "not every row was journaled")
    took = time.monotonic() - t0
    # the lag guard's wait is over for every row; anything more would show now
    wait_for(lambda: a.sql1("SELECT count(*) FROM quarantine WHERE position LIKE "
                            "'table wms_tx key %'") >= len(bad), 120, "bad rows not quarantined")
    a.stop()
    keys = [k for (k,) in a.sql("SELECT source_key FROM event WHERE source_key LIKE 'TX-%'")]
    eq(len(keys), len(good), "events journaled")
    eq(len(set(keys)), len(good), "distinct keys journaled")
    ok(set(keys) == set(good), "the journaled keys are the good rows")
    lo, hi, n = a.sql("SELECT min(seq), max(seq), count(*) FROM event")[0]
    eq((lo, hi), (1, n), "seq gapless")
    eq(int(a.sql1("SELECT value FROM meta WHERE key = 'duplicates'") or 0), 0,
       "duplicates (a watermark reads each row once)")
    quar = a.sql1("SELECT count(*) FROM quarantine WHERE position LIKE 'table wms_tx key %'")
    eq(quar, len(bad), "quarantined rows (each once)")
    reason = a.sql1("SELECT reason FROM quarantine WHERE position LIKE 'table wms_tx key %' LIMIT 1")
    ok("quantity" in reason, "quarantine reason names the column: %r" % reason)
    return "%d rows (%d late) in %.0f s" % (ROWS, LATE_TXNS * LATE_ROWS, took)


# --- handshake ------------------------------------------------------------------------------

def handshake(t, db, broker, pw):
    n = 3000
    create(db, "wms_hs", handshake=True)
    db.sql(db.insert_rows("wms_hs", 1, n, "HS"))
    a = agent_with(t, db, table_section(db, "hs", "wms_hs", pw, "handshake",
                                        "source = wms-hs\n"), broker)
    # the write-back waits for a lock: kill -9 between the journal commit and the write-back
    locker = wmsdb.start_session(db, db.lock_writes("wms_hs", 120))
    wait_for(lambda: db.sleeping() == 1, 30, "the lock is not taken")
    a.start()
    wait_for(lambda: a.sql1("SELECT count(*) FROM event") > 0, 60, "no page journaled")
    wait_for(lambda: db.sleepers() >= 1, 60, "the write-back did not wait for the lock")
    first = a.sql1("SELECT count(*) FROM event")
    a.kill9()
    db.end_sleepers()
    locker.wait(30)
    eq(int(db.sql("SELECT count(*) FROM wms_hs WHERE status <> 'N';").strip()), 0,
       "rows written back before the journal commit's write-back could run")
    a.start()
    db.sql(db.insert_rows("wms_hs", n + 1, n + 500, "HS"))
    n += 500
    wait_for(lambda: int(db.sql("SELECT count(*) FROM wms_hs WHERE status = 'N';").strip()) == 0,
             120, "rows left in status N")
    a.stop()
    good, bad = good_and_bad(1, n, "HS")
    seqs = dict(a.sql("SELECT source_key, seq FROM event WHERE source = 'wms-hs'"))
    eq(len(seqs), len(good), "events journaled (each once)")
    ok(set(seqs) == set(good), "the journaled keys are the good rows")
    rows = db.sql("SELECT txn_id, status, coalesce(agent_seq, 0), coalesce(agent_error, '') "
                  "FROM wms_hs ORDER BY id;").splitlines()
    eq(len(rows), n, "rows in the table")
    wrong = []
    for line in rows:
        key, status, seq, err = line.split("\t")
        if key in seqs:
            if status != "S" or int(seq) != seqs[key]:
                wrong.append(line)
        elif status != "E" or "quarantined" not in err or "quantity" not in err:
            wrong.append(line)
    eq(wrong[:5], [], "rows written back wrongly")
    dups = int(a.sql1("SELECT value FROM meta WHERE key = 'duplicates'") or 0)
    ok(dups >= first, "the rows journaled before the kill are found as duplicates (%d < %d)"
       % (dups, first))
    lo, hi, cnt = a.sql("SELECT min(seq), max(seq), count(*) FROM event")[0]
    eq((lo, hi), (1, cnt), "seq gapless")
    return "%d rows, %d journaled before the kill" % (n, first)


# --- a slow poll ----------------------------------------------------------------------------

def slow_poll(t, db, broker, pw):
    port = h.candidate_port()
    create(db, "wms_slow")
    a = agent_with(t, db, table_section(db, "slow", "wms_slow", pw), broker, port)
    a.start()
    a.wait_link("connected", 30)
    connected_at = a.field("mqtt_last_connect_ms")
    mark = broker.mark()
    locker = wmsdb.start_session(db, db.lock_reads("wms_slow", 30))
    wait_for(lambda: db.sleepers() >= 1, 60, "the agent's poll did not wait for the lock")
    answered, busy = 0, 0.0
    deadline = time.monotonic() + 120 * h.SLOW
    while locker.poll() is None and time.monotonic() < deadline:
        status, _, _ = h.http("http://127.0.0.1:%d/healthz" % port, timeout=5)
        ok(status in (200, 503), "/healthz answered %d" % status)
        answered += 1
        busy = max(busy, metric(metrics(port), "whagent_table_request_seconds",
                                'input="table.slow"') or 0)
        time.sleep(0.5)
    ok(busy >= 10, "the poll was not seen blocked (request_seconds %.1f)" % busy)
    db.sql(db.insert_rows("wms_slow", 1, 50, "SLOW"))
    wait_for(lambda: events_like(a, "SLOW") == 50, 60, "the table is not taken after the lock")
    eq(a.link(), "connected", "the link after the blocked poll")
    eq(a.field("mqtt_last_connect_ms"), connected_at, "no reconnect (the keep-alive went on)")
    ok("exceeded timeout" not in broker.text(mark), "the broker saw the keep-alive missed")
    a.stop()
    return "/healthz answered %d times during a %.0f s poll" % (answered, busy)


def test(t):
    kind = os.environ.get("WMSDB", "postgres")
    db = wmsdb.server(t, kind)
    broker = t.broker()
    pw = t.write("db-password", wmsdb.PASSWORD + "\n", 0o600)
    out = [kind]
    for step in (errors, handshake, slow_poll, watermark):
        os.makedirs(t.path("state"), exist_ok=True)
        r = step(t, db, broker, pw)
        if isinstance(r, str):
            out.append("%s: %s" % (step.__name__, r))
        # each step its own journal
        shutil.rmtree(t.path("state"), ignore_errors=True)
    return "; ".join(out)


if __name__ == "__main__":
    h.main(test)
