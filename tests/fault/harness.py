#!/usr/bin/python3
"""Fault harness: the real agent, a real mosquitto and an independent consumer, a generated WMS
workload (all five kinds, malformed records, repeats) through spool files and HTTP, and faults
injected at moments chosen by a printed seed:

  agent_kill9   kill -9 of the agent (mid-file, mid-batch, while offline...) and restart
  agent_term    graceful stop and restart
  broker_term   broker stopped and started again (its persistence kept)
  broker_kill9  kill -9 of the broker (soak only: see below)
  link_down     the link between agent and broker down for 1-4 s (network namespace)
  disk_full     the journal's file system (a small tmpfs) filled, then freed

After each scenario it checks: every record the source saw acknowledged (spool file taken, HTTP
200) is journaled once and delivered (at least once; exactly once after dedupe by
(journal_id, seq)), seqs gapless per journal, every malformed record in quarantine, the agent's
peak RSS within --rss-over-idle-mib (8 MiB) of its idle RSS (connected, before the workload),
journal within budget. The workload is a function of the printed seed (see Workload). A
broker killed with -9 can lose messages it had acknowledged but not yet persisted or forwarded;
with ack_mode = broker that is outside the agent's reach, so such losses are counted apart and
checked to still be in the journal (replayable).

Scenarios alternate between the --ack-modes. With ack_mode = platform the consumer plays the
platform: it acks the contiguous prefix it holds, finds holes (also a lost tail, through the
Status's acked_through) and asks for replays; the agent drains old backlogs on the backfill
lane (backfill_after_s = 1) beside the live one. There the broker keeps nothing across a
restart (persistence false), broker_kill9 is one of the faults, and nothing may be lost at
all: the journal keeps what the platform has not acked, and replays fill the holes.

usage: harness.py --agent CMD... [--seed S] [--faults N] [--per-scenario K] [--kinds a,b]
                  [--ack-modes broker,platform]
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, os.path.join(TOP, "packaging/consumer"))
import whagent_consumer  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402

KINDS = ["PICK", "RECEIPT", "ADJUSTMENT", "TRANSFER", "SHIPMENT"]
ALL_FAULTS = ["agent_kill9", "agent_term", "broker_term", "broker_kill9", "link_down", "disk_full"]


def log(*a):
    print("[%7.2f]" % (time.monotonic() - T0), *a, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def record(rng, txn, bad=None):
    kind = KINDS[txn % 5]
    r = {"kind": kind, "txn_id": "F%08d" % txn, "event_time": "2026-03-01T10:%02d:%02d+01:00" % (txn // 60 % 60, txn % 60),
         "sku": "SKU-%d" % rng.randint(1, 999), "qty": "%d.%d" % (rng.randint(1, 99), rng.randint(0, 9)),
         "uom": "EA", "bin": "A-%02d" % rng.randint(1, 40)}
    if kind == "ADJUSTMENT":
        r["reason_code"] = "COUNT"
    if kind == "TRANSFER":
        r["to_bin"] = "B-%02d" % rng.randint(1, 40)
    if kind == "SHIPMENT":
        r["shipment_ref"] = "S%d" % (txn // 7)
        del r["bin"]
    if bad:
        r["qty"] = "1,5"
    return r


class Env:
    """Broker, agent, namespace and tmpfs of one scenario; every process stopped by PID."""

    def __init__(self, a, work, rng, mode):
        self.a, self.work, self.rng, self.mode = a, work, rng, mode
        self.port = free_port()
        self.http_port = free_port()
        self.agent = self.broker = None
        self.ns = None
        self.root = os.geteuid() == 0
        self.tmpfs = None
        uid = "%d%d" % (os.getpid() % 1000, rng.randint(0, 99))
        if (self.root and "link_down" in a.kinds and shutil.which("ip")
                and subprocess.run(["ip", "netns", "add", "whf" + uid], stderr=subprocess.DEVNULL).returncode == 0):
            self.ns, self.vh, self.vn = "whf" + uid, "whh" + uid, "whn" + uid
            o = rng.randint(1, 250)
            self.host_ip, self.ns_ip = "10.213.%d.1" % o, "10.213.%d.2" % o
            sh("ip", "link", "add", self.vh, "type", "veth", "peer", "name", self.vn)
            sh("ip", "link", "set", self.vn, "netns", self.ns)
            sh("ip", "addr", "add", self.host_ip + "/30", "dev", self.vh)
            sh("ip", "link", "set", self.vh, "up")
            sh("ip", "netns", "exec", self.ns, "ip", "addr", "add", self.ns_ip + "/30", "dev", self.vn)
            sh("ip", "netns", "exec", self.ns, "ip", "link", "set", self.vn, "up")
            sh("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")
        self.state = os.path.join(work, "state")
        os.makedirs(self.state)
        if (self.root and "disk_full" in a.kinds and shutil.which("mount")
                and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", self.state],
                                   stderr=subprocess.DEVNULL).returncode == 0):
            self.tmpfs = self.state
        self.spool = os.path.join(work, "spool")
        os.makedirs(self.spool)
        self.broker_dir = os.path.join(work, "broker")
        os.makedirs(self.broker_dir)
        self.write_confs()

    def write_confs(self):
        with open(os.path.join(self.work, "mosquitto.conf"), "w") as f:
            # with platform acks the broker may forget everything when it stops: the journal
            # keeps what the platform has not acked, and replays fill the holes
            f.write("user root\npersistence %s\npersistence_location %s/\nautosave_interval 1\n"
                    "autosave_on_changes true\nmax_queued_messages 0\nmax_inflight_messages 0\n"
                    "log_dest file %s/broker.log\nlistener %d 127.0.0.1\nallow_anonymous true\n"
                    % ("false" if self.mode == "platform" else "true", self.broker_dir, self.work,
                       self.port))
            if self.ns:
                f.write("listener %d %s\nallow_anonymous true\n" % (self.port, self.host_ip))
        http_host = self.ns_ip if self.ns else "127.0.0.1"
        tls = ""
        if self.ns:  # off loopback the HTTP input needs TLS
            key, crt = os.path.join(self.work, "http.key"), os.path.join(self.work, "http.crt")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-days", "2", "-keyout", key, "-out", crt, "-subj", "/CN=agent",
                            "-addext", "subjectAltName=IP:%s" % self.ns_ip], check=True, capture_output=True)
            tls = "tls_certfile = %s\ntls_keyfile = %s\n" % (crt, key)
            self.http_ctx = ssl.create_default_context(cafile=crt)
            self.http_url = "https://%s:%d/v1/events" % (self.ns_ip, self.http_port)
        else:
            self.http_ctx = None
            self.http_url = "http://127.0.0.1:%d/v1/events" % self.http_port
        self.conf = os.path.join(self.work, "whagent.conf")
        with open(self.conf, "w") as f:
            f.write("[agent]\nsite_id = FAULT\nstate_dir = %s\n[journal]\nmax_bytes = %dMiB\nreserve_bytes = 0\n"
                    "commit_records = 200\n[input.spool]\ndir = %s\nsettle_ms = 300\nrescan_ms = 300\n"
                    "[input.http]\nlisten = %s:%d\nmax_records_per_request = 100\n%s"
                    "[mqtt]\nhost = %s\nport = %d\nallow_insecure = true\nwindow = 8\nbatch_max_events = 100\n"
                    "reconnect_min_ms = 100\nreconnect_max_ms = 1000\nstatus_interval_s = 5\n"
                    "drain_timeout_ms = 2000\nretention_s = 3600\nkeepalive_s = 5\n"
                    % (self.state, self.a.budget_mib, self.spool, http_host, self.http_port, tls,
                       self.host_ip if self.ns else "127.0.0.1", self.port))
            if self.mode == "platform":
                f.write("ack_mode = platform\nbackfill_after_s = 1\nlive_share_pct = 30\nplatform_pubkey = %s\n"
                        % platform_key(self.work)[1])

    def start_broker(self):
        self.broker = subprocess.Popen(["mosquitto", "-c", os.path.join(self.work, "mosquitto.conf")],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("broker did not start")

    def stop_broker(self, sig=signal.SIGTERM):
        if self.broker:
            self.broker.send_signal(sig)
            self.broker.wait(timeout=30)
            self.broker = None

    def start_agent(self):
        cmd = (["ip", "netns", "exec", self.ns] if self.ns else []) + self.a.agent + ["run", "-c", self.conf]
        self.agent_log = open(os.path.join(self.work, "agent.log"), "a")
        self.agent = subprocess.Popen(cmd, stdout=self.agent_log, stderr=self.agent_log)

    def stop_agent(self, sig=signal.SIGTERM):
        if self.agent:
            self.agent.send_signal(sig)
            try:
                self.agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
                raise RuntimeError("agent did not stop on SIGTERM")
            if sig == signal.SIGTERM and self.agent.returncode != 0:
                raise RuntimeError("agent exited %d on SIGTERM" % self.agent.returncode)
            self.agent = None

    def status(self):
        out = subprocess.run(self.a.agent + ["status", "-c", self.conf, "--json"], capture_output=True, text=True)
        return json.loads(out.stdout) if out.returncode == 0 else None

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.agent.pid) as f:
                for line in f:
                    if line.startswith("VmRSS"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            return 0
        return 0

    def link(self, up):
        sh("ip", "link", "set", self.vh, "up" if up else "down")

    def close(self):
        for p in (self.agent, self.broker):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        if self.tmpfs:
            subprocess.run(["umount", "-l", self.tmpfs])
        if self.ns:
            subprocess.run(["ip", "link", "del", self.vh], stderr=subprocess.DEVNULL)
            subprocess.run(["ip", "netns", "del", self.ns])


def platform_key(work):
    """(private, public) PEM paths of the platform's P-256 key for the scenario in work."""
    key, pub = os.path.join(work, "platform.key"), os.path.join(work, "platform.pub")
    if not os.path.exists(pub):
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    return key, pub


class Consumer:
    """Persistent MQTT session (QoS 1, fixed client id) that survives broker restarts. As the
    platform (ack_mode = platform) it acks what it holds contiguously and asks for replays of
    holes awaited for REPLAY_AFTER_S (a lost tail is seen through the Status's acked_through)."""

    REPLAY_AFTER_S = 2.0

    def __init__(self, port, platform, key=None):
        self.batch_pb2, self.status_pb2 = whagent_consumer.load_protos(os.path.join(TOP, "proto"))
        self.control = whagent_consumer.control_pb2()
        self.signer = whagent_consumer.ControlSigner(key) if platform else None
        self.platform = platform
        self.seen = {}     # (journal, seq) -> source_key
        self.copies = 0
        self.applied = {}  # journal -> every seq up to it held
        self.published = {}  # journal -> the broker took every seq up to it (Status)
        self.top = {}      # journal -> the highest seq held
        self.awaited = {}  # journal -> since when (monotonic) its next seq is awaited
        self.replays = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.c = mqtt.Client(client_id="fault-consumer-%d" % os.getpid(), clean_session=False)
        topics = [("whagent/v1/+/events", 1), ("whagent/v1/+/backfill", 1), ("whagent/v1/+/status", 1)]
        self.c.on_connect = lambda c, u, f, rc: c.subscribe(topics)
        self.c.on_message = self.on_message
        self.c.reconnect_delay_set(0.1, 1)
        self.c.connect_async("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        if platform:
            self.ticker = threading.Thread(target=self.tick, daemon=True)
            self.ticker.start()

    def on_message(self, c, u, msg):
        if msg.topic.endswith("/status"):
            st = self.status_pb2.Status()
            st.ParseFromString(msg.payload)
            with self.lock:
                if st.journal_id and st.acked_through > self.published.get(st.journal_id, 0):
                    self.published[st.journal_id] = st.acked_through
            return
        b = self.batch_pb2.EventBatch()
        b.ParseFromString(msg.payload)
        with self.lock:
            for e in b.events:
                h = getattr(e, e.WhichOneof("body")).header
                self.copies += 1
                self.seen[(b.journal_id, h.seq)] = h.source_key
            if not self.platform:
                return
            j = b.journal_id
            before = through = self.applied.get(j, 0)
            while (j, through + 1) in self.seen:
                through += 1
            self.applied[j] = through
            self.top[j] = max(self.top.get(j, 0), b.last_seq)
            if through > before:
                self.awaited.pop(j, None)
            if self.top[j] > through:  # a hole below what is held
                self.awaited.setdefault(j, time.monotonic())
            ack = self.control.PlatformAck(journal_id=j, acked_through=through)
            raw, _ = self.signer.wrap(b.site_id, j, whagent_consumer.ACK, ack.SerializeToString())
        c.publish("whagent/v1/%s/ack" % b.site_id, raw, qos=1)

    def tick(self):
        """Replays of holes: from the first seq not held to the next held (or published) one."""
        n = 0
        while not self.stopping.wait(0.5):
            with self.lock:
                asks = []
                for j in set(self.applied) | set(self.published):
                    through = self.applied.get(j, 0)
                    if self.published.get(j, 0) > through:
                        self.awaited.setdefault(j, time.monotonic())
                    since = self.awaited.get(j)
                    if since is None or time.monotonic() - since < self.REPLAY_AFTER_S:
                        continue
                    held = [s for (jj, s) in self.seen if jj == j and s > through]
                    last = min(held) - 1 if held else self.published.get(j, 0)
                    if last > through:
                        asks.append((j, through + 1, last))
                    self.awaited[j] = time.monotonic()
            for j, first, last in asks:
                n += 1
                cmd = self.control.Command(id="fault-replay-%d-%d" % (os.getpid(), n),
                                           issued_at_ms=int(time.time() * 1000))
                cmd.replay.from_seq, cmd.replay.to_seq = first, last
                with self.lock:  # the counters: one signer, two threads
                    raw, _ = self.signer.wrap("FAULT", j, whagent_consumer.COMMAND, cmd.SerializeToString())
                self.c.publish("whagent/v1/FAULT/cmd", raw, qos=1)
                self.replays += 1
                log("platform: asking for a replay of %d-%d" % (first, last))

    def stop(self):
        self.stopping.set()
        if self.platform:
            self.ticker.join()
        self.c.loop_stop()
        self.c.disconnect()


class Workload:
    """Spool files and HTTP POSTs from two threads; what the source saw acknowledged.

    What each thread sends is a function of the printed seed alone: each thread has a
    generator seeded from (seed, scenario, thread), its own transaction-id range and its own
    list of records it handed over (its repeats are drawn from that list with a fixed number of
    random draws). Only the moments at which the records go out depend on the machine."""

    THREAD_TXNS = 5000000  # each thread's transaction ids: txn0 + k * THREAD_TXNS + 1 ...

    def __init__(self, env, seed, number, txn0):
        self.env = env
        self.rngs = {name: random.Random("%d/%d/%s" % (seed, number, name)) for name in ("files", "posts")}
        self.txns = {"files": txn0, "posts": txn0 + self.THREAD_TXNS}
        self.handed = {"files": [], "posts": []}  # each thread's good records handed over
        self.expected = set()   # valid txn ids the source handed over
        self.bad = 0            # malformed records handed over
        self.bad_max = 0        # ... counting each try of a POST whose answer may have been lost
        self.http_acked = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.files, daemon=True),
                        threading.Thread(target=self.posts, daemon=True)]
        self.lock = threading.Lock()
        self.files_written = 0

    def next_txn(self, name):
        self.txns[name] += 1
        return self.txns[name]

    def batch(self, name, n):
        """n records of thread name: about 3% malformed, 5% repeats of what it handed over."""
        rng, handed = self.rngs[name], self.handed[name]
        recs, good, bad = [], [], 0
        for _ in range(n):
            roll, pick = rng.random(), rng.random()
            if roll < 0.03:
                recs.append(record(rng, self.next_txn(name), bad=True))
                bad += 1
            elif roll < 0.08 and handed:
                recent = handed[-200:]
                recs.append(dict(recent[int(pick * len(recent))]))
            else:
                r = record(rng, self.next_txn(name))
                recs.append(r)
                good.append(r)
        return recs, good, bad

    def files(self):
        rng = self.rngs["files"]
        while not self.stop.is_set():
            recs, good, bad = self.batch("files", rng.randint(50, 800))
            name = "wms-%06d.jsonl" % self.files_written
            self.files_written += 1
            path = os.path.join(self.env.spool, name)
            with open(path + ".part", "w") as f:
                for r in recs:
                    f.write(json.dumps(r) + "\n")
            os.rename(path + ".part", path)
            self.handed["files"].extend(good)
            with self.lock:  # handed over: the agent must take it (C1 for files: it stays until done)
                self.expected.update(r["txn_id"] for r in good)
                self.bad += bad
                self.bad_max += bad
            self.stop.wait(rng.uniform(0.2, 0.8))

    def posts(self):
        rng = self.rngs["posts"]
        while not self.stop.is_set():
            recs, good, bad = self.batch("posts", rng.randint(1, 40))
            body = "\n".join(json.dumps(r) for r in recs).encode()
            for tries in range(1, 601):  # a sender retries until acknowledged
                try:
                    req = urllib.request.Request(self.env.http_url, body, {"Content-Type": "application/x-ndjson"})
                    res = urllib.request.urlopen(req, timeout=5, context=self.env.http_ctx)
                    if res.status == 200:
                        self.handed["posts"].extend(good)
                        with self.lock:
                            self.expected.update(r["txn_id"] for r in good)
                            self.bad += bad
                            # a try whose answer was lost (link down) was taken: its good
                            # records are duplicates now, its bad ones quarantined again
                            self.bad_max += bad * tries
                            self.http_acked += len(recs)
                        break
                except Exception:
                    time.sleep(0.1)
            self.stop.wait(rng.uniform(0.02, 0.2))

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)


def inject(env, kind, rng, counts):
    counts[kind] = counts.get(kind, 0) + 1
    if kind == "agent_kill9":
        env.stop_agent(signal.SIGKILL)
        time.sleep(rng.uniform(0.1, 1.5))
        env.start_agent()
    elif kind == "agent_term":
        env.stop_agent()
        time.sleep(rng.uniform(0.1, 1.0))
        env.start_agent()
    elif kind in ("broker_term", "broker_kill9"):
        env.stop_broker(signal.SIGTERM if kind == "broker_term" else signal.SIGKILL)
        time.sleep(rng.uniform(0.5, 3.0))
        env.start_broker()
    elif kind == "link_down":
        env.link(False)
        time.sleep(rng.uniform(1.0, 4.0))
        env.link(True)
    elif kind == "disk_full":
        filler = os.path.join(env.state, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:  # unbuffered: a buffered file's close would raise ENOSPC again
            for _ in range(1 << 16):  # bounded: 64 GiB, far more than the tmpfs
                os.write(fd, b"\0" * (1 << 20))
        except OSError:
            pass
        finally:
            os.close(fd)
        time.sleep(rng.uniform(1.0, 3.0))
        os.unlink(filler)


def scenario(a, n_faults, rng, seed, txn0, number):
    work = tempfile.mkdtemp(prefix="whagent-fault-")
    mode = a.ack_modes[(number - 1) % len(a.ack_modes)]
    env = Env(a, work, rng, mode)
    kinds = [k for k in a.kinds if (k != "link_down" or env.ns) and (k != "disk_full" or env.tmpfs)]
    if mode == "platform" and "broker_kill9" not in kinds:
        kinds.append("broker_kill9")  # what platform acks and replays make lossless
    skipped = sorted(set(a.kinds) - set(kinds))
    if skipped:
        log("not available here (needs root, ip netns, tmpfs mounts): %s" % ", ".join(skipped))
    counts, result = {}, {"scenario": number, "work": work, "ack_mode": mode}
    log("scenario %d: ack_mode = %s, faults from %s" % (number, mode, ", ".join(kinds)))
    consumer = wl = None
    try:
        env.start_broker()
        consumer = Consumer(env.port, mode == "platform", platform_key(work)[0])
        env.start_agent()
        # the idle agent: connected, nothing to do yet; its RSS is the baseline of the bound
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st = env.status()
            if st and st["mqtt"] == "connected":
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the agent did not connect")
        rss_idle = env.rss_kib()
        wl = Workload(env, seed, number, txn0)
        wl.start()
        rss_max = rss_idle
        for i in range(n_faults):
            t_end = time.monotonic() + rng.uniform(0.5, 2.5)
            while time.monotonic() < t_end:
                rss_max = max(rss_max, env.rss_kib())
                time.sleep(0.1)
            kind = rng.choice(kinds)
            log("scenario %d fault %d/%d: %s" % (number, i + 1, n_faults, kind))
            inject(env, kind, rng, counts)
        time.sleep(1)
        wl.finish()
        # quiesce: every file taken, everything acknowledged and received
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            rss_max = max(rss_max, env.rss_kib())
            st = env.status()
            left = [f for f in os.listdir(env.spool) if f.endswith(".jsonl")]
            acked = st and (mode == "broker" or st["platform_acked_through"] == st["last_seq"])
            if st and acked and not left and st["backlog"] == 0 and st["mqtt"] == "connected":
                with consumer.lock:
                    got = {(j, s) for (j, s) in consumer.seen if j == st["journal_id"]}
                if len(got) >= st["last_seq"]:
                    break
            time.sleep(0.5)
        time.sleep(1)
        st = env.status()
        journaled = subprocess.run(["sqlite3", "-readonly", os.path.join(env.state, "journal.db"),
                                    "SELECT source_key FROM event"], capture_output=True, text=True).stdout.split()
        quarantined = int(subprocess.run(["sqlite3", "-readonly", os.path.join(env.state, "journal.db"),
                                          "SELECT count(*) FROM quarantine"], capture_output=True, text=True).stdout or 0)
        with consumer.lock:
            seen = dict(consumer.seen)
            copies = consumer.copies
        by_key = {}
        for (j, s), k in seen.items():
            by_key.setdefault(k, set()).add((j, s))
        delivered = set(by_key)
        lost = wl.expected - delivered
        lost_kept = lost & set(journaled)     # acknowledged by the broker, still in the journal
        gaps = []
        for j in {j for (j, _) in seen}:
            seqs = sorted(s for (jj, s) in seen if jj == j)
            if seqs and seqs[-1] - seqs[0] + 1 != len(seqs):
                gaps.append(j)
        result.update({
            "faults": counts, "sent": len(wl.expected), "bad_sent": wl.bad, "files": wl.files_written,
            "http_records_acked": wl.http_acked, "delivered": len(delivered & wl.expected),
            "copies_received": copies, "lost": len(lost - lost_kept), "lost_at_broker_kept_in_journal": len(lost_kept),
            "duplicated_after_dedupe": sum(1 for v in by_key.values() if len(v) > 1),
            "journaled_twice": len(journaled) - len(set(journaled)), "gaps": len(gaps),
            "quarantined": quarantined, "rss_idle_kib": rss_idle, "rss_max_kib": rss_max, "replays_asked": consumer.replays,
            "journal_bytes": st["journal_bytes"] if st else -1, "budget": a.budget_mib << 20,
        })
        lossy_broker = counts.get("broker_kill9") and mode == "broker"  # outside the agent's reach
        ok = (result["lost"] == 0 and result["duplicated_after_dedupe"] == 0 and result["journaled_twice"] == 0
              and (result["gaps"] == 0 or lossy_broker) and wl.bad <= quarantined <= wl.bad_max
              and rss_idle > 0 and rss_max <= rss_idle + a.rss_over_idle_mib * 1024 and 0 <= result["journal_bytes"] <= (a.budget_mib + 4) << 20
              and (result["lost_at_broker_kept_in_journal"] == 0 or lossy_broker))
        result["ok"] = bool(ok)
        env.stop_agent()
    except Exception as e:  # reported, never a hang: every loop above is bounded
        result.update({"ok": False, "error": repr(e), "faults": counts})
    finally:
        if wl:
            wl.finish()  # the workload's threads stop with the scenario, failed or not
        if consumer:
            consumer.stop()
        env.close()
    if result["ok"] and not a.keep:
        subprocess.run(["rm", "-rf", work])
    return result


def main():
    global T0
    T0 = time.monotonic()
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", nargs="+", required=True)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--faults", type=int, default=8)
    ap.add_argument("--per-scenario", type=int, default=20)
    ap.add_argument("--kinds", default="agent_kill9,agent_term,broker_term,link_down,disk_full")
    ap.add_argument("--budget-mib", type=int, default=48)
    ap.add_argument("--rss-over-idle-mib", type=int, default=8,
                    help="the agent's peak RSS may exceed its idle RSS (connected, no work) by this much")
    ap.add_argument("--ack-modes", default="broker", help="scenarios alternate between these")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.kinds = a.kinds.split(",")
    a.ack_modes = a.ack_modes.split(",")
    seed = a.seed if a.seed is not None else random.SystemRandom().randint(1, 1 << 30)
    print("seed %d (replay with --seed %d)" % (seed, seed), flush=True)
    rng = random.Random(seed)
    results, left, n = [], a.faults, 0
    while left > 0:
        k = min(left, a.per_scenario)
        n += 1
        results.append(scenario(a, k, rng, seed, n * 10000000, n))
        left -= k
    faults = {}
    for r in results:
        for k, v in r.get("faults", {}).items():
            faults[k] = faults.get(k, 0) + v
    tot = lambda key: sum(r.get(key, 0) for r in results)
    print("\n| seed | ack modes | scenarios | faults | " + " | ".join(ALL_FAULTS) + " | events sent | delivered | lost | lost at broker (in journal) | duplicated after dedupe | gaps | quarantined / bad sent | RSS KiB idle / max | replays asked |")
    print("|" + "---|" * (15 + len(ALL_FAULTS) - 1))
    print("| %d | %s | %d | %d | %s | %d | %d | %d | %d | %d | %d | %d / %d | %d / %d | %d |" % (
        seed, ",".join(a.ack_modes), len(results), sum(faults.values()),
        " | ".join(str(faults.get(k, 0)) for k in ALL_FAULTS),
        tot("sent"), tot("delivered"), tot("lost"), tot("lost_at_broker_kept_in_journal"),
        tot("duplicated_after_dedupe"), tot("gaps"), tot("quarantined"), tot("bad_sent"),
        min([r.get("rss_idle_kib", 0) for r in results] or [0]),
        max([r.get("rss_max_kib", 0) for r in results] or [0]), tot("replays_asked")))
    bad = [r for r in results if not r["ok"]]
    for r in bad:
        print("FAILED scenario:", json.dumps(r), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
