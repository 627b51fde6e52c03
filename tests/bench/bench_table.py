#!/usr/bin/env python3
"""Benchmark (reported, not asserted) of the interface-table input, against real PostgreSQL and
MariaDB servers started in a temporary directory (tests/integration/wmsdb.py):

- rows per second from the table to the journal (`whagent run --until-idle`, watermark mode,
  lag guard off) beside a raw SELECT of the same rows through the same ODBC driver
  (bench_odbc_raw: every column fetched as text, nothing journaled), in the same run;
- what a poll costs an idle WMS database: statements and rows read per poll, and the CPU time
  of the server's processes per poll, over IDLE_S seconds of polling an idle table.

usage: bench_table.py BUILD_DIR [ROWS]   (ROWS default 100000; DBS=postgres,mariadb; IDLE_S=30)
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../integration"))

import harness as h  # noqa: E402
import wmsdb  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def conf(t, db, pw, table, extra=""):
    return """[agent]
site_id = BENCH
state_dir = %s
log_level = warn
[journal]
max_bytes = 4GiB
reserve_bytes = 0
[input.table.wms]
connection = %s
password_file = %s
table = %s
key_column = id
cursor_column = created_at
lag_s = 0
page_rows = 1000
map = tx
timezone = UTC
%s
[map.tx]
kind = txn_type
event_time = txn_time
sku = item
qty = quantity
""" % (t.path("state"), db.connection(), pw, table, extra)


def create(db, table):
    db.sql("CREATE TABLE %s (id %s, created_at %s NOT NULL DEFAULT %s, txn_type varchar(16), "
           "txn_id varchar(32) NOT NULL, txn_time %s, item varchar(32), quantity numeric(12,3), "
           "uom varchar(8), bin varchar(32));\nCREATE INDEX %s_cursor ON %s (created_at, id);\n"
           % (table, db.autoinc, db.ts_type, db.now, db.ts_type, table, table))


def counters(db):
    """(statements, rows read) the server counted so far."""
    if db.kind == "postgres":
        out = db.sql("SELECT xact_commit + xact_rollback, tup_returned FROM pg_stat_database "
                     "WHERE datname = 'postgres';")
        a, b = out.split("\t")
        return int(a), int(b)
    out = db.root_sql("SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', "
                      "'Handler_read_next', 'Handler_read_key', 'Handler_read_first', "
                      "'Handler_read_rnd_next');")
    v = dict(line.split("\t") for line in out.splitlines())
    return int(v["Questions"]), sum(int(v[k]) for k in v if k.startswith("Handler"))


def run_bench(t, build, kind, rows, idle_s):
    db = wmsdb.server(t, kind)
    pw = t.write("db-password", wmsdb.PASSWORD + "\n", 0o600)
    create(db, "bench_tx")
    step = 10000
    for g in range(1, rows + 1, step):
        db.sql(db.insert_rows("bench_tx", g, min(rows, g + step - 1)))
    db.sql("ANALYZE bench_tx;" if kind == "postgres" else "ANALYZE TABLE bench_tx;")
    good = rows - rows // 100

    raw = subprocess.run([os.path.join(build, "tests/bench_odbc_raw"),
                          db.connection() + ";PWD={%s}" % wmsdb.PASSWORD,
                          "SELECT * FROM bench_tx ORDER BY created_at, id"],
                         capture_output=True, text=True, check=True)
    raw_rows, raw_s = raw.stdout.split()

    os.makedirs(t.path("state"), exist_ok=True)
    cf = t.write("whagent.conf", conf(t, db, pw, "bench_tx"))
    t0 = time.monotonic()
    subprocess.run([os.path.join(build, "whagent"), "run", "-c", cf, "--until-idle"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    took = time.monotonic() - t0
    n = int(subprocess.run(["sqlite3", t.path("state/journal.db"), "SELECT count(*) FROM event"],
                           capture_output=True, text=True).stdout)
    if n != good:
        raise h.Fail("journaled %d of %d" % (n, good))

    # idle: the agent polls the drained table every poll_ms
    port = h.candidate_port()
    with open(cf, "a") as f:
        f.write("[input.http]\nlisten = 127.0.0.1:%d\n" % port)
    with open(cf) as f:
        text = f.read().replace("page_rows = 1000", "page_rows = 1000\npoll_ms = 2000")
    with open(cf, "w") as f:
        f.write(text)
    agent = t.spawn([os.path.join(build, "whagent"), "run", "-c", cf], t.path("agent.log"))
    def polls():
        try:
            _, body, _ = h.http("http://127.0.0.1:%d/metrics" % port)
        except OSError:
            return 0  # not listening yet
        m = re.search(r'^whagent_table_polls_total\{input="table.wms"\} (\d+)', body, re.M)
        return int(m.group(1))
    h.wait_for(lambda: polls() >= 2 or agent.poll() is not None, 30, "no polls")
    p0, (s0, r0), c0 = polls(), counters(db), db.cpu_ticks()
    time.sleep(idle_s)  # a measurement window, not a wait for a condition
    p1, (s1, r1), c1 = polls(), counters(db), db.cpu_ticks()
    agent.terminate()
    agent.wait(30)
    np = max(1, p1 - p0)
    return {"db": kind, "rows": good, "agent_s": took, "raw_rows": int(raw_rows), "raw_s": float(raw_s),
            "polls": np, "stmts": (s1 - s0) / np, "rows_read": (r1 - r0) / np,
            "cpu_ms": (c1 - c0) * 1000.0 / TICK / np, "idle_s": idle_s}


def main():
    build = os.path.abspath(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("ROWS", "100000"))
    idle_s = int(os.environ.get("IDLE_S", "30"))
    results = []
    for kind in os.environ.get("DBS", "postgres,mariadb").split(","):
        t = h.Run([os.path.join(build, "whagent")])
        try:
            results.append(run_bench(t, build, kind, rows, idle_s))
        except h.Skip as e:
            print("bench_table: %s skipped: %s" % (kind, e))
        finally:
            t.cleanup()
    for r in results:
        agent = r["rows"] / r["agent_s"]
        raw = r["raw_rows"] / r["raw_s"]
        print("table %-8s %7d rows: %8.0f rows/s to the journal (%.1f s, start and idle exit "
              "included); raw SELECT %8.0f rows/s (%.2f s): %.2f of raw"
              % (r["db"], r["rows"], agent, r["agent_s"], raw, r["raw_s"], agent / raw))
        print("table %-8s idle poll (%d polls in %d s): %.1f statements, %.1f rows read, "
              "%.2f ms CPU of the server per poll (clock ticks of %.0f ms)"
              % (r["db"], r["polls"], r["idle_s"], r["stmts"], r["rows_read"], r["cpu_ms"], 1000.0 / TICK))


if __name__ == "__main__":
    main()
