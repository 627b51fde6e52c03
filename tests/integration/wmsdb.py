"""Real WMS databases for the table input's tests: PostgreSQL (initdb, postgres) and MariaDB
(mariadb-install-db, mariadbd), each started in the test's work directory on a free loopback
port, as root-safe as the servers want it (both run as nobody when the test runs as root),
stopped by PID. sql() runs statements through the servers' own clients (psql, mariadb);
connection() is the ODBC connection string the agent gets (drivers odbc-postgresql and
odbc-mariadb, registered by their packages)."""
import contextlib
import glob
import os
import shutil
import signal
import subprocess

import harness
from harness import Fail, Skip, wait_for

PASSWORD = "wms-Secret_1"


def _nobody():
    """Popen arguments that run a server as nobody when we are root (both refuse root)."""
    if os.getuid() != 0:
        return {}
    return {"user": "nobody", "group": "nogroup", "extra_groups": []}


def _own(path):
    if os.getuid() == 0:
        shutil.chown(path, "nobody", "nogroup")


class Database:
    """Common to both servers: a data directory in the run's work directory, a port, a log."""

    kind = None

    def __init__(self, t, name):
        self.t, self.name = t, name
        self.dir = t.path(name)
        self.log = t.path(name + ".log")
        self.proc = None
        self.port = None
        os.makedirs(self.dir, exist_ok=True)
        if os.getuid() == 0:
            os.chmod(t.work, 0o711)  # the server (nobody) reaches its directory
        _own(self.dir)
        t.logs.append((name, self.log))
        open(self.log, "a").close()

    def __enter__(self):
        self.init()
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def mark(self):
        return os.path.getsize(self.log)

    def text(self, since=0):
        with open(self.log, errors="replace") as f:
            f.seek(since)
            return f.read()

    def start(self):
        """Starts the server on a candidate port, retried with another when it is taken."""
        for _ in range(5):
            self.port = self.port or harness.candidate_port()
            mark = self.mark()
            self.proc = self.t.spawn(self.argv(), self.log, **_nobody())

            def up():
                if self.ready_line in self.text(mark):
                    return True
                if self.proc.poll() is not None:
                    return True
                return False
            wait_for(up, 60 * harness.SLOW, "%s did not start" % self.name)
            if self.proc.poll() is None:
                return
            if "in use" not in self.text(mark):
                raise Fail("%s exited at start:\n%s" % (self.name, self.text(mark)[-1500:]))
            self.port = None
        raise Fail("%s: no free port" % self.name)

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def server_pid(self):
        return self.proc.pid

    def cpu_ticks(self):
        """CPU time (user + system, clock ticks) of the server process and its children
        (PostgreSQL's backends are processes; MariaDB's are threads of one)."""
        total = 0
        pids = [self.proc.pid]
        for p in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError):
                with open(p) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(p.split("/")[2]))
        for pid in pids:
            with contextlib.suppress(OSError):
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total


class Postgres(Database):
    kind = "postgres"
    ready_line = "database system is ready to accept connections"

    def __init__(self, t, name="pg"):
        super().__init__(t, name)
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            raise Skip("PostgreSQL is not installed (apt install postgresql)")
        self.bin = bins[-1]
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")

    def init(self):
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        _own(pw)
        os.makedirs(self.sock, exist_ok=True)
        _own(self.sock)
        with open(self.log, "ab") as out:
            r = subprocess.run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "wms",
                                "--auth=scram-sha-256", "--pwfile=" + pw, "-E", "UTF8",
                                "--locale=C.UTF-8"],
                               stdout=out, stderr=out, **_nobody())
        if r.returncode != 0:
            raise Fail("initdb failed:\n" + self.text()[-1500:])

    def argv(self):
        return [os.path.join(self.bin, "postgres"), "-D", self.data, "-p", str(self.port),
                "-k", self.sock, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                "-c", "log_min_messages=warning"]

    def stop(self, sig=signal.SIGINT):  # fast shutdown: sessions are ended
        super().stop(sig)

    def psql_argv(self):
        return [os.path.join(self.bin, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "wms",
                "-d", "postgres", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]

    def env(self):
        return dict(os.environ, PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT="10")

    def sql(self, text, timeout=300):
        r = subprocess.run(self.psql_argv(), input=text, capture_output=True, text=True,
                           env=self.env(), timeout=timeout * harness.SLOW)
        if r.returncode != 0:
            raise Fail("psql failed: %s\n%s" % (r.stderr.strip(), text[:300]))
        return r.stdout

    def session(self, text):
        """A client session running text in the background (a lock held, a slow transaction);
        registered for clean-up."""
        return self.t.spawn(self.psql_argv(), self.log + ".client", env=self.env(),
                            stdin=subprocess.PIPE), text

    def connection(self, database="postgres", user="wms"):
        return "Driver=PostgreSQL Unicode;Servername=127.0.0.1;Port=%d;Database=%s;Uid=%s" % (
            self.port, database, user)

    # dialect
    ts_type = "timestamp(6)"
    now = "clock_timestamp()"
    autoinc = "bigserial PRIMARY KEY"

    def sleep(self, s):
        return "SELECT pg_sleep(%s);" % s

    def insert_rows(self, table, first, last, prefix="TX"):
        """SQL inserting WMS transactions first..last (one row each) into table."""
        return ("INSERT INTO %s (txn_type, txn_id, txn_time, item, quantity, uom, bin) "
                "SELECT (ARRAY['RECEIPT','PICK'])[1 + g %% 2], '%s-' || g, "
                "timestamp '2026-12-01 00:00:00' + g * interval '1 second', 'SKU-' || (g %% 500), "
                "CASE WHEN g %% 100 = 99 THEN NULL ELSE 1 + g %% 7 END, 'EA', 'A-' || (g %% 40) "
                "FROM generate_series(%d, %d) g;\n" % (table, prefix, first, last))

    def lock_reads(self, table, seconds):
        """SQL that holds a lock on table blocking its readers for seconds."""
        return "BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%d); COMMIT;\n" % (
            table, seconds)

    def lock_writes(self, table, seconds):
        """SQL that holds a lock on table blocking its writers (not its readers)."""
        return "BEGIN; LOCK TABLE %s IN EXCLUSIVE MODE; SELECT pg_sleep(%d); COMMIT;\n" % (
            table, seconds)

    def end_sleepers(self):
        self.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid();")

    def sleepers(self):
        """Sessions waiting for a lock."""
        return int(self.sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock';"))

    def sleeping(self):
        """Sessions in a sleep (a lock holder past its lock statement)."""
        return int(self.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(%' "
                            "AND state = 'active' AND pid <> pg_backend_pid();"))


class MariaDB(Database):
    kind = "mariadb"
    ready_line = "ready for connections"

    def __init__(self, t, name="mariadb"):
        super().__init__(t, name)
        if shutil.which("mariadbd", path="/usr/sbin:/usr/bin") is None:
            raise Skip("MariaDB is not installed (apt install mariadb-server)")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mariadb.sock")

    def init(self):
        argv = ["mariadb-install-db", "--no-defaults", "--datadir=" + self.data,
                "--auth-root-authentication-method=normal", "--skip-test-db"]
        if os.getuid() == 0:
            argv.append("--user=nobody")
        with open(self.log, "ab") as out:
            r = subprocess.run(argv, stdout=out, stderr=out)
        if r.returncode != 0:
            raise Fail("mariadb-install-db failed:\n" + self.text()[-1500:])
        self._setup = True

    def argv(self):
        argv = ["/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + self.data,
                "--socket=" + self.sock, "--port=%d" % self.port, "--bind-address=127.0.0.1",
                "--pid-file=" + os.path.join(self.dir, "mariadb.pid"), "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=0",
                "--skip-log-bin", "--console"]
        return argv

    def start(self):
        # mariadbd runs as nobody by its own --user (it must start as root to use it)
        if os.getuid() == 0:
            self.proc = None
            for _ in range(5):
                self.port = self.port or harness.candidate_port()
                mark = self.mark()
                self.proc = self.t.spawn(self.argv() + ["--user=nobody"], self.log)
                wait_for(lambda: self.ready_line in self.text(mark) or self.proc.poll() is not None,
                         60 * harness.SLOW, "%s did not start" % self.name)
                if self.proc.poll() is None:
                    break
                if "in use" not in self.text(mark):
                    raise Fail("%s exited at start:\n%s" % (self.name, self.text(mark)[-1500:]))
                self.port = None
        else:
            super().start()
        if getattr(self, "_setup", False):
            self._setup = False
            self.root_sql("CREATE DATABASE wms; CREATE USER 'wms'@'127.0.0.1' IDENTIFIED BY '%s'; "
                          "GRANT ALL ON *.* TO 'wms'@'127.0.0.1';" % PASSWORD)

    def argv_client(self, user="wms"):
        if user == "root":
            return ["mariadb", "--no-defaults", "-S", self.sock, "-u", "root", "-N", "-B"]
        return ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(self.port), "-u", user,
                "-p" + PASSWORD, "-N", "-B", "wms"]

    def root_sql(self, text):
        r = subprocess.run(self.argv_client("root"), input=text, capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise Fail("mariadb failed: %s" % r.stderr.strip())
        return r.stdout

    def sql(self, text, timeout=300):
        r = subprocess.run(self.argv_client(), input=text, capture_output=True, text=True,
                           timeout=timeout * harness.SLOW)
        if r.returncode != 0:
            raise Fail("mariadb failed: %s\n%s" % (r.stderr.strip(), text[:300]))
        return r.stdout

    def session(self, text):
        return self.t.spawn(self.argv_client(), self.log + ".client", stdin=subprocess.PIPE), text

    def connection(self, database="wms", user="wms"):
        return "Driver=MariaDB Unicode;Server=127.0.0.1;Port=%d;Database=%s;Uid=%s" % (
            self.port, database, user)

    ts_type = "datetime(6)"
    now = "now(6)"
    autoinc = "bigint AUTO_INCREMENT PRIMARY KEY"

    def sleep(self, s):
        return "SELECT SLEEP(%s);" % s

    def insert_rows(self, table, first, last, prefix="TX"):
        return ("INSERT INTO %s (txn_type, txn_id, txn_time, item, quantity, uom, bin) "
                "SELECT ELT(1 + seq %% 2, 'RECEIPT', 'PICK'), CONCAT('%s-', seq), "
                "TIMESTAMP '2026-12-01 00:00:00' + INTERVAL seq SECOND, CONCAT('SKU-', seq %% 500), "
                "IF(seq %% 100 = 99, NULL, 1 + seq %% 7), 'EA', CONCAT('A-', seq %% 40) "
                "FROM seq_%d_to_%d;\n" % (table, prefix, first, last))

    def lock_reads(self, table, seconds):
        return "LOCK TABLES %s WRITE; SELECT SLEEP(%d); UNLOCK TABLES;\n" % (table, seconds)

    def lock_writes(self, table, seconds):
        return "LOCK TABLES %s READ; SELECT SLEEP(%d); UNLOCK TABLES;\n" % (table, seconds)

    def end_sleepers(self):
        ids = self.root_sql("SELECT id FROM information_schema.processlist WHERE info LIKE "
                            "'%SLEEP(%' AND id <> connection_id();").split()
        for i in ids:
            with contextlib.suppress(Fail):
                self.root_sql("KILL %s;" % i)

    def sleepers(self):
        return int(self.root_sql("SELECT count(*) FROM information_schema.processlist WHERE "
                                 "state LIKE 'Waiting for table%';").strip())

    def sleeping(self):
        return int(self.root_sql("SELECT count(*) FROM information_schema.processlist WHERE info "
                                 "LIKE 'SELECT SLEEP(%' AND id <> connection_id();").strip())


def server(t, kind):
    """The database of kind ('postgres' or 'mariadb'), started, registered for clean-up."""
    return t.stack.enter_context({"postgres": Postgres, "mariadb": MariaDB}[kind](t))


def start_session(db, text):
    """Starts a client session that runs text (see Database.session)."""
    p, text = db.session(text)
    p.stdin.write(text.encode())
    p.stdin.close()  # the client ends after the text
    return p
