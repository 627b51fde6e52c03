"""The integration tests' harness: the real whagent, a real mosquitto, the reference platform
and a WMS feed, as context managers with real asserts (mosquitto's test/mosq_test.py and
Redis's start_server are the models).

A test is a module with a function test(t) and, at its end, `harness.main(test)`; ctest runs
it as `/usr/bin/python3 NAME_test.py WHAGENT [ARGS...]`: the agent's command may carry an
emulator or valgrind prefix (tests/CMakeLists.txt). Every process started is registered and
stopped by its PID when the test ends (KEEP=1 keeps the work directory). Every wait is a
condition polled with a deadline (wait_for); nothing is asserted after a fixed sleep, and no
timing is asserted (benchmarks in tests/bench/ report timings).

Debian's /usr/bin/python3 with python3-paho-mqtt, python3-protobuf and python3-cryptography.
"""
import contextlib
import difflib
import hmac
import json
import os
import pprint
import random
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "../.."))
PY = "/usr/bin/python3"
CONSUMER = os.path.join(TOP, "packaging/consumer/whagent_consumer.py")
SITE = "IT-SITE"
PREFIX = "whagent/v1"
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "packaging/consumer"))

import gen_wms  # noqa: E402


class Fail(AssertionError):
    """A test failure: the message says what was expected and what was found."""


class Skip(Exception):
    """The test cannot run here (exit status 77, ctest's SKIP_RETURN_CODE)."""


# --- waiting and asserting ------------------------------------------------------------------

SLOW = 1  # deadline multiplier: 5 under valgrind or an emulator (set by main)


def wait_for(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a true value (returned), at most timeout seconds (times
    SLOW) and a bounded number of times; then fails with what and pred's last value."""
    deadline = time.monotonic() + timeout * SLOW
    step, last = interval, None
    for _ in range(100000):
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(step)
        step = min(step * 1.5, 0.5)
    raise Fail("%s (waited %.0f s; last: %r)" % (what, timeout * SLOW, last))


def diff(got, want):
    """A readable difference between two values."""
    a, b = pprint.pformat(want, width=100).splitlines(), pprint.pformat(got, width=100).splitlines()
    if len(a) + len(b) <= 2:
        return "expected %s, got %s" % (a[0] if a else "", b[0] if b else "")
    return "\n".join(difflib.unified_diff(a, b, "expected", "got", lineterm="", n=2))


def eq(got, want, what):
    if got != want:
        raise Fail("%s:\n%s" % (what, diff(got, want)))


def ok(cond, what):
    if not cond:
        raise Fail(what)


def has(text, pattern, what):
    """pattern (a regular expression, MULTILINE) occurs in text."""
    if not re.search(pattern, text, re.M):
        raise Fail("%s: /%s/ not in:\n%s" % (what, pattern, text[-2000:]))


def count(text, pattern):
    return len(re.findall(pattern, text, re.M))


# --- the test run ---------------------------------------------------------------------------

class Run:
    """One test run: its work directory, the agent command, every process started."""

    def __init__(self, wh):
        self.wh = list(wh)
        self.work = tempfile.mkdtemp(prefix="whagent-it-", dir=os.environ.get("TMPDIR"))
        self.procs = []      # every Popen started, stopped by PID at the end
        self.logs = []       # (name, path) shown on failure
        self.stack = contextlib.ExitStack()
        self.threads = []
        self.agent = None    # the default Agent (t.agent)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def spawn(self, argv, log, env=None, **kw):
        """Starts a process with stdout and stderr appended to log; registered for clean-up."""
        out = open(log, "ab")
        try:
            p = subprocess.Popen(argv, stdout=kw.pop("stdout", out), stderr=kw.pop("stderr", out),
                                 env=env, **kw)
        finally:
            out.close()
        self.procs.append(p)
        return p

    def write(self, name, text, mode=None):
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        if mode is not None:
            os.chmod(path, mode)
        return path

    def read(self, name):
        with open(self.path(name)) as f:
            return f.read()

    def platform_key(self):
        """(private, public) PEM paths of the test platform's P-256 key, made on first use;
        once made, consumers sign their acks and commands with it."""
        key = self.path("platform-control.key")
        if not os.path.exists(key):
            ec_pub(ec_key(key), self.path("platform-control.pub"))
        return key, self.path("platform-control.pub")

    def cleanup(self):
        self.stack.close()
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGCONT)
                    os.kill(p.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=10)
        if os.environ.get("KEEP") == "1":
            print("kept", self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def diagnostics(self):
        for name, path in self.logs:
            with contextlib.suppress(OSError):
                with open(path, errors="replace") as f:
                    lines = f.read().splitlines()
                print("--- %s (last lines of %s)" % (name, path), file=sys.stderr)
                for line in lines[-20:]:
                    print("    " + line, file=sys.stderr)

    # the pieces, each registered for clean-up
    def broker(self, extra="", **kw):
        return self.stack.enter_context(Broker(self, extra, **kw))

    def new_agent(self, name="agent"):
        return Agent(self, name)

    def consumer(self, broker, name, *args, **kw):
        return self.stack.enter_context(Consumer(self, broker, name, *args, **kw))

    def mqtt(self, broker, **kw):
        return self.stack.enter_context(Mqtt(broker, **kw))


def main(test):
    """Runs test(t) with t a Run for sys.argv[1:] (the agent command); exit status 0 or 1."""
    global SLOW
    if len(sys.argv) < 2:
        print("usage: %s WHAGENT [ARGS...]" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    t = Run(sys.argv[1:])
    if any(os.path.basename(w).startswith(("valgrind", "qemu")) for w in t.wh):
        SLOW = 5
    status = 1
    try:
        msg = test(t)
        print("PASS:", msg or os.path.basename(sys.argv[0]))
        status = 0
    except Skip as e:
        print("SKIP:", e)
        status = 77
    except Fail as e:
        print("FAIL:", e, file=sys.stderr)
        t.diagnostics()
    except Exception:
        import traceback
        traceback.print_exc()
        t.diagnostics()
    finally:
        t.cleanup()
    sys.exit(status)


# --- ports ----------------------------------------------------------------------------------

_used_ports = set()


def candidate_port():
    """A port the kernel just handed out on 127.0.0.1. Only a candidate: another process may
    take it before our server binds it, so every server here confirms the bind from its own
    log (or its own failure) and retries with another candidate."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _used_ports:
            _used_ports.add(port)
            return port
    raise Fail("no free loopback port")


def unused_port():
    """A port nothing of ours listens on (for an agent that must find nobody there)."""
    return candidate_port()


# --- certificates -----------------------------------------------------------------------------

class Pki:
    """Certificates made by openssl for the run, in work/pki."""

    def __init__(self, t):
        self.dir = t.path("pki")
        os.makedirs(self.dir, exist_ok=True)

    def p(self, name, ext):
        return os.path.join(self.dir, "%s.%s" % (name, ext))

    def openssl(self, *args):
        r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True)
        if r.returncode != 0:
            raise Fail("openssl %s: %s" % (" ".join(args[:2]), r.stderr))
        return r.stdout

    def ca(self, name):
        self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-days", "2", "-keyout", self.p(name, "key"), "-out", self.p(name, "crt"),
                     "-subj", "/CN=whagent test %s" % name)

    def csr(self, name, cn, san=None):
        args = ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.p(name, "key"), "-out", self.p(name, "csr"), "-subj", "/CN=%s" % cn]
        if san:
            args += ["-addext", "subjectAltName=%s" % san]
        self.openssl(*args)

    def cert(self, name, cn, issuer, san=None):
        """A key and a certificate for CN signed by issuer (a ca() name)."""
        self.csr(name, cn)
        ext = "basicConstraints=CA:FALSE\n" + ("subjectAltName=%s\n" % san if san else "")
        with open(self.p(name, "ext"), "w") as f:
            f.write(ext)
        self.openssl("x509", "-req", "-in", self.p(name, "csr"), "-CA", self.p(issuer, "crt"),
                     "-CAkey", self.p(issuer, "key"), "-CAcreateserial", "-days", "2",
                     "-extfile", self.p(name, "ext"), "-out", self.p(name, "crt"))

    def sign(self, csr, out, days_from, days_to, issuer="ca"):
        """A certificate for the CSR's key (with its extensions) valid from now + days_from to
        now + days_to (negative: in the past), signed by issuer."""
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        req = x509.load_pem_x509_csr(open(csr, "rb").read())
        ca = x509.load_pem_x509_certificate(open(self.p(issuer, "crt"), "rb").read())
        key = serialization.load_pem_private_key(open(self.p(issuer, "key"), "rb").read(), None)
        now = datetime.datetime.utcnow()
        b = (x509.CertificateBuilder().subject_name(req.subject).issuer_name(ca.subject)
             .public_key(req.public_key()).serial_number(random.getrandbits(64))
             .not_valid_before(now + datetime.timedelta(days=days_from))
             .not_valid_after(now + datetime.timedelta(days=days_to)))
        for e in req.extensions:
            b = b.add_extension(e.value, e.critical)
        with open(out + ".tmp", "wb") as f:
            f.write(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        os.rename(out + ".tmp", out)


def ec_key(path):
    """A P-256 private key (PEM) at path; returns path."""
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path],
                   check=True, capture_output=True)
    return path


def ec_pub(key, path):
    subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", path], check=True, capture_output=True)
    return path


# --- the broker -----------------------------------------------------------------------------

class Broker:
    """A mosquitto of the test's own on a loopback port, in the work directory. Up means its
    log says it opened the listen socket on that port; a failed bind is retried on another
    port (on a restart: on the same port, which the agent's configuration names).
    tls: (cafile, certfile, keyfile[, extra lines]) for a TLS listener."""

    def __init__(self, t, extra="", tls=None, name="broker"):
        self.t, self.extra, self.tls, self.name = t, extra, tls, name
        self.log = t.path(name + ".log")
        self.conf = t.path(name + ".conf")
        self.port = None
        self.proc = None
        t.logs.append((name, self.log))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.stop(signal.SIGKILL)

    def write_conf(self):
        lines = ["user root", "persistence false", "log_dest stderr", "log_type error", "log_type warning",
                 "log_type notice", "log_type information", "listener %d 127.0.0.1" % self.port,
                 "allow_anonymous true", "max_queued_messages 1000000"]
        if self.tls:
            lines += ["cafile %s" % self.tls[0], "certfile %s" % self.tls[1], "keyfile %s" % self.tls[2]]
        lines.append(self.extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, extra=None):
        """Starts it (again: on the same port). extra replaces the extra configuration lines."""
        if extra is not None:
            self.extra = extra
        fixed = self.port is not None
        for attempt in range(20):
            if not fixed:
                self.port = candidate_port()
            self.write_conf()
            mark = os.path.getsize(self.log) if os.path.exists(self.log) else 0
            self.proc = self.t.spawn(["mosquitto", "-c", self.conf], self.log)
            listening = "Opening ipv4 listen socket on port %d." % self.port

            def state():
                text = self.text(mark)
                if listening in text:
                    return "up"
                if self.proc.poll() is not None:
                    return "bind" if "Address already in use" in text else "died"
                return None
            st = wait_for(state, 20, "%s did not open port %d" % (self.name, self.port))
            if st == "up":
                return self
            if st == "died":
                raise Fail("%s exited %s: %s" % (self.name, self.proc.returncode, self.text(mark)[-500:]))
            time.sleep(0.1 * (attempt + 1) if fixed else 0)  # the port is taken: another, or wait
        raise Fail("%s could not bind port %s" % (self.name, self.port))

    def stop(self, sig=signal.SIGTERM):
        os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=20 * SLOW)
        except subprocess.TimeoutExpired:
            raise Fail("%s did not exit on signal %d" % (self.name, sig))

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def text(self, since=0):
        with open(self.log, errors="replace") as f:
            f.seek(since)
            return f.read()

    def mark(self):
        return os.path.getsize(self.log)


# --- the agent ------------------------------------------------------------------------------

def conf_text(t, max_bytes="256MiB", commit_records=500, reserve_bytes="0", spool="", sections=""):
    """The agent's configuration: journal, spool folder; sections is appended as it is."""
    return """[agent]
site_id = %s
state_dir = %s
[journal]
max_bytes = %s
reserve_bytes = %s
commit_records = %d
[input.spool]
dir = %s
settle_ms = 300
rescan_ms = 200
%s
%s""" % (SITE, t.path("state"), max_bytes, reserve_bytes, commit_records, t.path("spool"), spool, sections)


def mqtt_section(port, extra=""):
    return """[mqtt]
host = 127.0.0.1
port = %d
reconnect_min_ms = 100
reconnect_max_ms = 1000
status_interval_s = 2
drain_timeout_ms = 3000
%s
""" % (port, extra)


class Agent:
    """The real whagent (t.wh, prefix included). write_conf() writes its configuration; start()
    runs `whagent run` and returns once its log says it runs; stop() is SIGTERM and a clean exit;
    kill9(); run_until_idle(); status() is `status --json`; cli() any other subcommand."""

    def __init__(self, t, name="agent"):
        self.t, self.name = t, name
        self.conf = t.path("whagent.conf")
        self.log = t.path(name + ".log")
        self.state = t.path("state")
        self.spool = t.path("spool")
        self.db = os.path.join(self.state, "journal.db")
        self.proc = None
        t.logs.append((name, self.log))
        open(self.log, "a").close()

    def write_conf(self, *args, **kw):
        os.makedirs(self.spool, exist_ok=True)
        os.makedirs(self.state, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(conf_text(self.t, *args, **kw))

    def edit_conf(self, old, new):
        """Replaces a line of the configuration (a regular expression over whole lines)."""
        text = open(self.conf).read()
        text2, n = re.subn("^%s$" % old, new, text, flags=re.M)
        ok(n > 0, "no line /%s/ in the configuration" % old)
        with open(self.conf, "w") as f:
            f.write(text2)

    def append_conf(self, text):
        with open(self.conf, "a") as f:
            f.write(text + "\n")

    def mark(self):
        """A position in the log: text(mark) and wait_log(..., since=mark) look after it."""
        return os.path.getsize(self.log)

    def text(self, since=0):
        with open(self.log, errors="replace") as f:
            f.seek(since)
            return f.read()

    def wait_log(self, pattern, timeout=30, since=0, what=None, n=1):
        """Waits until pattern (a regular expression) occurs n times in the log after since."""
        return wait_for(lambda: count(self.text(since), pattern) >= n, timeout,
                        what or "%s: no /%s/ in the log" % (self.name, pattern))

    def start(self, env=None):
        ok(self.proc is None, "agent already running")
        mark = self.mark()
        e = dict(os.environ, **(env or {}))
        self.proc = self.t.spawn(self.t.wh + ["run", "-c", self.conf], self.log, env=e)

        def running():
            if "running (site" in self.text(mark):
                return True
            if self.proc.poll() is not None:
                raise Fail("agent exited %d at start:\n%s" % (self.proc.returncode, self.text(mark)[-1500:]))
            return False
        wait_for(running, 30, "agent did not start")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self):
        """SIGTERM, then a bounded wait for exit status 0."""
        self.signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30 * SLOW)
        except subprocess.TimeoutExpired:
            raise Fail("agent did not stop within %d s of SIGTERM" % (30 * SLOW))
        self.proc = None
        eq(rc, 0, "agent's exit status on SIGTERM")

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def reload(self, expect="configuration reloaded", timeout=10):
        """SIGHUP; waits for expect in the log (after the signal)."""
        mark = self.mark()
        self.signal(signal.SIGHUP)
        self.wait_log(re.escape(expect), timeout, since=mark)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def run_until_idle(self, timeout=120):
        """`whagent run --until-idle`: exits once the spool is empty and, with an uplink, every
        event is acknowledged (the agent's own verdict that nothing more happens)."""
        ok(self.proc is None, "agent already running")
        with open(self.log, "ab") as out:
            p = subprocess.Popen(self.t.wh + ["run", "-c", self.conf, "--until-idle"], stdout=out, stderr=out)
        self.t.procs.append(p)
        try:
            rc = p.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            raise Fail("run --until-idle did not become idle within %d s" % (timeout * SLOW))
        eq(rc, 0, "exit status of run --until-idle")

    def cli(self, *args, conf=True, input=None, timeout=60):
        """Runs `whagent ARGS [-c CONF]`; a CompletedProcess (text)."""
        argv = self.t.wh + list(args) + (["-c", self.conf] if conf else [])
        try:
            return subprocess.run(argv, capture_output=True, text=True, input=input, timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            raise Fail("whagent %s did not finish" % " ".join(args))

    def status(self):
        """`whagent status --json` as a dict."""
        r = self.cli("status", "--json")
        if r.returncode != 0:
            raise Fail("status --json exited %d: %s" % (r.returncode, r.stderr))
        return json.loads(r.stdout)

    def field(self, name):
        return self.status()[name]

    def wait_status(self, name, pred, timeout=30, what=None):
        """Waits until pred(status[name]) holds (pred may be a value: equality)."""
        test = pred if callable(pred) else (lambda v: v == pred)
        last = []

        def check():
            v = self.field(name)
            last[:] = [v]
            return test(v)
        try:
            return wait_for(check, timeout, what or "status %s" % name)
        except Fail as e:
            raise Fail("%s (status %s = %r)" % (e, name, last[0] if last else None))

    # The live uplink state as status reports it, in one place: where the agent keeps it, and
    # whether a last error stays shown once connected, may change.
    def link(self, st=None):
        """'connected', 'disconnected', 'stopped', ..."""
        return (st or self.status())["mqtt"]

    def last_error(self, st=None):
        """The uplink's last error as status reports it ('' when none)."""
        return (st or self.status()).get("mqtt_last_error") or ""

    def wait_link(self, pred, timeout=30, what=None):
        """Waits until pred(link()) holds (pred may be a value: equality)."""
        return self.wait_status("mqtt", pred, timeout, what or "uplink state")

    def wait_last_error(self, timeout=30, what=None):
        """Waits until status reports a last error; returns it."""
        self.wait_status("mqtt_last_error", lambda v: bool(v), timeout, what or "no last error reported")
        return self.last_error()

    # the journal (read-only but for sql_write)
    def sql(self, query, *params):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()

    def sql_write(self, query, *params):
        """Changes the journal behind the agent's back (to make it fail on purpose)."""
        con = sqlite3.connect(self.db, timeout=10)
        try:
            con.execute(query, params)
            con.commit()
        finally:
            con.close()

    def sql1(self, query, *params):
        rows = self.sql(query, *params)
        return rows[0][0] if rows else None

    def rows(self):
        return self.sql1("SELECT count(*) FROM event")

    def check_journal(self, expect):
        """Every expected key journaled once, seq gapless from 1, the duplicate count and every
        quarantined record (position and reason) as expected (gen_wms's expectation)."""
        keys = [k for (k,) in self.sql("SELECT source_key FROM event ORDER BY seq")]
        n, lo, hi, distinct = self.sql("SELECT count(*), ifnull(min(seq), 0), ifnull(max(seq), 0), "
                                       "count(DISTINCT source_key) FROM event")[0]
        errors = []
        if n != len(expect["keys"]) or distinct != n:
            errors.append("journal holds %d events (%d distinct keys), expected %d" % (n, distinct, len(expect["keys"])))
        if n and (lo != 1 or hi != n):
            errors.append("seq not gapless: %d events span %d..%d" % (n, lo, hi))
        missing, extra = set(expect["keys"]) - set(keys), set(keys) - set(expect["keys"])
        if missing or extra:
            errors.append("missing %d keys (%s), unexpected %d (%s)" % (len(missing), sorted(missing)[:3],
                                                                       len(extra), sorted(extra)[:3]))
        dups = int(self.sql1("SELECT value FROM meta WHERE key = 'duplicates'") or 0)
        if dups != expect["duplicates"]:
            errors.append("duplicates %d, expected %d" % (dups, expect["duplicates"]))
        quar = sorted(p + ": " + r for p, r in self.sql("SELECT position, reason FROM quarantine ORDER BY id"))
        want = sorted(expect["quarantined"], key=lambda q: q["position"] + ": ")
        if len(quar) != len(want):
            errors.append("%d quarantined, expected %d" % (len(quar), len(want)))
        else:
            for got, w in zip(quar, want):
                if not got.startswith(w["position"] + ": ") or w["reason"] not in got:
                    errors.append("quarantine entry '%s' does not match %s" % (got, w))
                    break
        if errors:
            raise Fail("journal does not match the workload: " + "; ".join(errors))

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1])
        return 0

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])


# --- the WMS ------------------------------------------------------------------------------------

class Wms:
    """The WMS side: generated exports (gen_wms), dropped into the spool the ways WMS exports
    arrive, and HTTP POSTs."""

    def __init__(self, t):
        self.t = t
        self.gen = t.path("gen")
        os.makedirs(self.gen, exist_ok=True)

    def generate(self, **kw):
        """gen_wms.generate into work/gen; its expectation (keys, duplicates, quarantined, files)."""
        return gen_wms.generate(self.gen, **kw)

    def file(self, name):
        return os.path.join(self.gen, name)

    def drop(self, name, spool, how="rename", as_name=None):
        """Puts a generated file into the spool: written under a temporary name and renamed in
        (how="rename"), or written in place (how="copy", taken once unchanged for settle_ms)."""
        dst = os.path.join(spool, as_name or os.path.basename(name))
        src = name if os.path.isabs(name) else self.file(name)
        if how == "rename":
            shutil.copyfile(src, dst + ".part")
            os.rename(dst + ".part", dst)
        else:
            shutil.copyfile(src, dst)
        return dst


def http(url, body=None, content_type="application/json", headers=None, cafile=None, timeout=30):
    """(status, body text, headers) of a request (POST when body is given)."""
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = content_type
        if isinstance(body, str):
            body = body.encode()
    req = urllib.request.Request(url, body, h)
    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(req, timeout=timeout * SLOW, context=ctx) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def webhook_signature(secret, body, t=None):
    """The X-Whagent-Signature value of a POST: t=UNIX,v1=hex HMAC-SHA256(secret, "t.body")."""
    t = int(time.time()) if t is None else int(t)
    if isinstance(body, str):
        body = body.encode()
    if isinstance(secret, str):
        secret = secret.encode()
    return "t=%d,v1=%s" % (t, hmac.new(secret, b"%d." % t + body, "sha256").hexdigest())


def listen_port(agent, port_setter, attempts=10, env=None):
    """Starts agent (with env added to its environment) with an HTTP listener on a candidate
    port, retrying another port when the agent's log says the bind failed. port_setter(port)
    rewrites the configuration."""
    for _ in range(attempts):
        port = candidate_port()
        port_setter(port)
        try:
            agent.start(env=env)
            return port
        except Fail as e:
            if "in use" not in str(e) and "Address already" not in str(e):
                raise
            agent.proc = None
    raise Fail("no port for the HTTP listener")


# --- MQTT: the reference platform and small clients -------------------------------------------

_protos = None


def protos():
    """whagent_consumer with the .proto files compiled (once per process)."""
    global _protos
    import whagent_consumer
    if _protos is None:
        _protos = whagent_consumer.load_protos(os.path.join(TOP, "proto"))
    return whagent_consumer


class Summary:
    """The reference platform's JSON summary: s, and j (its single journal, or None)."""

    def __init__(self, s):
        self.s = s
        js = list(s["journals"].values())
        self.j = js[0] if len(js) == 1 else None

    def __getitem__(self, k):
        return self.s[k]

    def journal(self):
        ok(self.j is not None, "the consumer saw %d journals, not one: %s" % (len(self.s["journals"]), self.brief()))
        return self.j

    def brief(self):
        return json.dumps({k: self.s.get(k) for k in ("received", "batches", "bad_batches", "journals", "topics")})[:2000]

    def complete(self, n, what="events"):
        """Every event arrived, decoded, in seq order, once after dedupe, no batch framing error."""
        j = self.journal()
        eq((j["unique"], j["gaps"], j["out_of_order"], self.s["bad_batches"]), (n, [], 0, []),
           "%s as received (unique, gaps, out of order, bad batches)" % what)


class Consumer:
    """The reference platform (packaging/consumer/whagent_consumer.py), an independent MQTT
    subscriber decoding with the .proto files, in its own process (a test may SIGSTOP it).
    Returned once subscribed; wait() waits for its exit (it stops at --expect-last, or at its
    own --timeout) and returns its Summary; stop() ends it with SIGTERM first."""

    def __init__(self, t, broker, name, *args, timeout=60, tls=None):
        self.t, self.name, self.timeout = t, name, timeout
        self.out, self.err = t.path(name + ".json"), t.path(name + ".err")
        ready = t.path(name + ".ready")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(ready)
        argv = [PY, CONSUMER, "--port", str(broker.port), "--site", SITE, "--ready", ready,
                "--timeout", str(timeout * SLOW)] + [str(a) for a in args]
        if tls:
            argv += ["--cafile", tls[0], "--cert", tls[1], "--key", tls[2]]
        if os.path.exists(t.path("platform-control.key")) and "--platform-key" not in argv:
            argv += ["--platform-key", t.path("platform-control.key")]
        with open(self.out, "wb") as out:
            self.proc = t.spawn(argv, self.err, stdout=out)
        t.logs.append((name, self.err))
        self.summary = None

        def subscribed():
            if os.path.exists(ready):
                return True
            if self.proc.poll() is not None:
                raise Fail("consumer %s exited: %s" % (name, open(self.err).read()[-1000:]))
            return False
        wait_for(subscribed, 30, "consumer %s did not subscribe" % name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait(self):
        """Its exit (bounded by its --timeout); the Summary."""
        try:
            self.proc.wait(timeout=self.timeout * SLOW + 30)
        except subprocess.TimeoutExpired:
            raise Fail("consumer %s did not exit" % self.name)
        return self.load()

    def stop(self):
        self.resume()
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def load(self):
        try:
            self.summary = Summary(json.load(open(self.out)))
        except ValueError:
            raise Fail("consumer %s wrote no summary: %s" % (self.name, open(self.err).read()[-1000:]))
        return self.summary


class Mqtt:
    """A small MQTT 5 client of the test's (paho, its own network thread): subscribe() waits
    for the SUBACK, publish() for the PUBACK, messages are kept for wait_message()."""

    def __init__(self, broker, client_id=None, tls=None, protocol=None):
        import paho.mqtt.client as mqtt
        self.mqtt = mqtt
        self.c = mqtt.Client(client_id=client_id or "test-%d-%d" % (os.getpid(), random.getrandbits(32)),
                             protocol=protocol or mqtt.MQTTv5)
        if tls:
            self.c.tls_set(ca_certs=tls[0], certfile=tls[1], keyfile=tls[2])
        self.lock = threading.Lock()
        self.msgs = []
        self.subacks = set()
        self.connected = threading.Event()
        self.c.on_message = self.on_message
        self.c.on_subscribe = lambda c, u, mid, *a: self.subacks.add(mid)
        self.c.on_connect = lambda c, u, f, rc, *a: self.connected.set()
        self.c.connect("127.0.0.1", broker.port, keepalive=30)
        self.c.loop_start()
        wait_for(self.connected.is_set, 10, "test client did not connect")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        with contextlib.suppress(Exception):
            self.c.disconnect()
        self.c.loop_stop()

    def on_message(self, c, u, m):
        with self.lock:
            self.msgs.append(m)

    def subscribe(self, topic, qos=1):
        rc, mid = self.c.subscribe(topic, qos)
        wait_for(lambda: mid in self.subacks, 10, "no SUBACK for %s" % topic)

    def publish(self, topic, payload, qos=1, properties=None):
        info = self.c.publish(topic, payload, qos=qos, properties=properties)
        info.wait_for_publish(10 * SLOW)
        ok(info.is_published(), "publish on %s not acknowledged" % topic)

    def wait_message(self, pred=lambda m: True, timeout=10, what="message", since=0):
        """The first message from the since-th on for which pred holds."""
        def find():
            with self.lock:
                return next((m for m in self.msgs[since:] if pred(m)), None)
        return wait_for(find, timeout, "no %s" % what)


def retained_status(broker, timeout=10):
    """(state name, session, retained) of the site's retained Status, read by a new subscriber."""
    wc = protos()
    st_pb2 = wc.pb2("status")
    with Mqtt(broker) as m:
        m.subscribe("%s/%s/status" % (PREFIX, SITE))
        msg = m.wait_message(lambda m: m.retain, timeout, "retained status")
    st = st_pb2.Status()
    st.ParseFromString(msg.payload)
    return st_pb2.AgentState.Name(st.state), st.session, bool(msg.retain)


class Platform:
    """The test as the central platform: Commands and PlatformAcks in SignedControls, signed
    with key (a PEM file; unsigned=True or no key: no signature), one client. The envelope is
    built here from control.proto, independently of the reference consumer's signer."""

    def __init__(self, broker, key=None, site=SITE):
        self.wc = protos()
        self.pb = self.wc.control_pb2()
        self.broker, self.key, self.site = broker, key, site
        self.counter = time.time_ns() // 1000
        self.m = Mqtt(broker)
        self.m.subscribe("%s/%s/cmd/result" % (PREFIX, site))
        self.m.subscribe("%s/%s/status" % (PREFIX, site))
        self.m.subscribe("central/results")

    def close(self):
        self.m.close()

    def signed(self, ctype, body, journal="", unsigned=False, key=None, age_s=0, site=None, counter=None,
               life_s=300):
        """A SignedControl's bytes and its counter (the next one unless given)."""
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        if counter is None:
            self.counter += 1
            counter = self.counter
        issued = int((time.time() - age_s) * 1000)
        sc = self.pb.SignedControl(site_id=site or self.site, journal_id=journal, type=ctype, issued_at_ms=issued,
                                   expires_at_ms=issued + life_s * 1000, counter=counter, body=body)
        if not unsigned and (key or self.key):
            k = serialization.load_pem_private_key(open(key or self.key, "rb").read(), None)
            lp = lambda b: struct.pack(">I", len(b)) + b
            canon = (b"whagent.v1.SignedControl\0" + lp(sc.site_id.encode()) + lp(journal.encode()) +
                     struct.pack(">IQQQ", ctype, issued, sc.expires_at_ms, counter) + lp(body))
            sc.signature = k.sign(canon, ec.ECDSA(hashes.SHA256()))
        return sc.SerializeToString(), counter

    def command_bytes(self, cid, action, frm=0, to=0, journal="", **kw):
        """(bytes, counter) of a signed command (kw: see signed())."""
        c = self.pb.Command(id=cid, issued_at_ms=int(time.time() * 1000))
        if action == "replay":
            c.replay.from_seq, c.replay.to_seq = frm, to
        elif action != "none":  # none: no action at all, an unknown command
            getattr(c, action).SetInParent()
        return self.signed(2, c.SerializeToString(), journal, **kw)

    def send(self, raw, counter, timeout=10, topic_site=None):
        """Publishes a command's bytes (with a foreign response topic, which the agent must
        ignore, and correlation data); its CommandResult on cmd/result: (ok or refused,
        message, whether the correlation data came back)."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "central/results"
        props.CorrelationData = b"corr-%d" % counter
        with self.m.lock:
            since = len(self.m.msgs)
        self.m.publish("%s/%s/cmd" % (PREFIX, topic_site or self.site), raw, properties=props)

        def answer(m):
            if m.topic != "%s/%s/cmd/result" % (PREFIX, self.site):
                return False
            r = self.pb.CommandResult()
            r.ParseFromString(m.payload)
            return r.counter == counter
        msg = self.m.wait_message(answer, timeout, "answer to command %d" % counter, since)
        r = self.pb.CommandResult()
        r.ParseFromString(msg.payload)
        corr = getattr(msg.properties, "CorrelationData", b"")
        return ("ok" if r.ok else "refused", r.message, corr == b"corr-%d" % counter)

    def command(self, cid, action, frm=0, to=0, journal="", timeout=10, **kw):
        """Sends a command (kw: see signed()); its answer, see send()."""
        raw, counter = self.command_bytes(cid, action, frm, to, journal, **kw)
        return self.send(raw, counter, timeout)

    def wait_online(self, agent, timeout=20):
        """Waits for the ONLINE Status of the agent's current session: it subscribed to its
        ack and cmd topics before publishing it, so what is sent from now on reaches it."""
        st_pb2 = self.wc.pb2("status")
        session, jid = agent.field("session"), agent.field("journal_id")

        def online(m):
            if not m.topic.endswith("/status"):
                return False
            st = st_pb2.Status()
            st.ParseFromString(m.payload)
            return (st.session, st.journal_id, st.state) == (session, jid, st_pb2.AGENT_STATE_ONLINE)
        self.m.wait_message(online, timeout, "the agent's ONLINE status of session %d" % session)

    def foreign_results(self):
        """What arrived on the response topic the commands named (the agent must never use it)."""
        with self.m.lock:
            return [m for m in self.m.msgs if m.topic == "central/results"]

    def ack(self, journal_id, through, **kw):
        """Publishes a PlatformAck (kw: see signed()); returns its bytes."""
        body = self.pb.PlatformAck(journal_id=journal_id, acked_through=through).SerializeToString()
        raw, _ = self.signed(1, body, kw.pop("journal", journal_id), **kw)
        self.publish_ack(raw)
        return raw

    def publish_ack(self, raw):
        self.m.publish("%s/%s/ack" % (PREFIX, self.site), raw)


# --- systemd's notify socket ------------------------------------------------------------------

class NotifySocket:
    """A datagram socket playing $NOTIFY_SOCKET; lines() is every message received so far."""

    def __init__(self, t):
        self.path = t.path("notify.sock")
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(self.path)
        self.s.settimeout(0.2)
        self.msgs = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        t.stack.callback(self.close)

    def run(self):
        while not self.stopping.is_set():
            try:
                data = self.s.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.msgs.append(data.decode().replace("\n", "|"))

    def lines(self):
        with self.lock:
            return list(self.msgs)

    def count(self, prefix):
        return sum(1 for m in self.lines() if m.startswith(prefix))

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.s.close()
