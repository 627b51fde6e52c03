"""The README's "First site" guide, run as a new user would copy-paste it: every ```sh block
of that section, in order, in one bash session, with
  - paths under a temporary directory (/etc/whagent, /etc/mosquitto, /var/lib/whagent,
    /var/spool/whagent, HOME) and free loopback ports for 8883 and 8088, the broker on
    localhost;
  - sudo, apt and systemctl as shell functions: sudo runs the command, apt is skipped (the
    package test installs the .deb), `systemctl restart mosquitto|whagent` starts the broker
    or the agent in the background (their PIDs kept and stopped by the test);
  - `whagent` as the built agent, with -c pointing at the guide's configuration file;
  - a block marked <!-- guide-test: background --> (the consumer "in a second terminal") run
    in the background, waited on until it has subscribed; <!-- guide-test: skip --> not run.
Every replacement must find its text, so a guide that changes its commands fails here until
the test follows. Then: the platform (the guide's consumer) printed each event of the guide's
file and webhook, in seq order, once; the agent says "in sync", backlog 0 against the
platform's watermark, connected; nothing in quarantine; the guide's broker ACL keeps the
gateway's credentials from publishing the platform's ack and cmd.
usage: guide_test.py WHAGENT [ARGS...]"""
import json
import os
import re
import shlex
import signal
import subprocess

import harness as h
from harness import eq, ok

README = os.path.join(h.TOP, "README.md")
CONSUMER_PATH = "/usr/share/doc/whagent/examples/whagent_consumer.py"


def guide_blocks():
    """(mark, code) of every ```sh block in the "## First site" section; mark is the
    guide-test comment just before it ('' when none)."""
    text = open(README).read()
    m = re.search(r"^## First site.*?(?=^## )", text, re.S | re.M)
    ok(m, "README has no '## First site' section")
    out = []
    for b in re.finditer(r"(?:<!-- guide-test: (\w+) -->\n)?```sh\n(.*?)```", m.group(0), re.S):
        out.append((b.group(1) or "", b.group(2)))
    ok(len(out) >= 6, "the guide has %d sh blocks" % len(out))
    return out


def rewrite(code, subs, used):
    for old, new in subs:
        if old in code:
            used.add(old)
            code = code.replace(old, new)
    return code


PRELUDE = r'''
set -euo pipefail
sudo() { "$@"; }
apt() { echo "(guide test: skipped: apt $*)"; }
keep_pid() { echo "$1" >> "$T/pids"; }
wait_for() {  # wait_for WHAT COMMAND...: polls, 30 s at most
    local what=$1; shift
    for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "guide test: $what never happened" >&2; return 1
}
systemctl() {
    case "$*" in
    "restart mosquitto")
        mosquitto -c "$T/etc/mosquitto/mosquitto.conf" >> "$T/broker.log" 2>&1 &
        keep_pid $!
        wait_for "broker listening" grep -q "Opening ipv4 listen socket on port $MQTT_PORT" "$T/broker.log" ;;
    "restart whagent")
        whagent run >> "$T/agent.log" 2>&1 &
        keep_pid $!
        wait_for "agent running" grep -q "running (site" "$T/agent.log" ;;
    *) echo "guide test: systemctl $* is not simulated" >&2; return 1 ;;
    esac
}
'''


class TlsClient(h.Mqtt):
    """The harness's MQTT client, to the guide's broker on localhost (its certificate's name)."""

    def __init__(self, port, tls):
        import paho.mqtt.client as mqtt
        self.mqtt = mqtt
        self.c = mqtt.Client(client_id="guide-%d-%s" % (os.getpid(), os.path.basename(tls[1])),
                             protocol=mqtt.MQTTv5)
        self.c.tls_set(ca_certs=tls[0], certfile=tls[1], keyfile=tls[2])
        self.lock = h.threading.Lock()
        self.msgs, self.subacks = [], set()
        self.connected = h.threading.Event()
        self.c.on_message = self.on_message
        self.c.on_subscribe = lambda c, u, mid, *a: self.subacks.add(mid)
        self.c.on_connect = lambda c, u, f, rc, *a: self.connected.set()
        self.c.connect("localhost", port, keepalive=30)
        self.c.loop_start()
        h.wait_for(self.connected.is_set, 10, "guide test client did not connect")


def tls_client(port, pki, name, root=None):
    """A client with the platform's certificate (name) or, name None, the gateway's."""
    ca = os.path.join(pki, "ca.crt")
    if name:
        return TlsClient(port, (ca, os.path.join(pki, name + ".crt"), os.path.join(pki, name + ".key")))
    etc = os.path.join(root, "etc/whagent")
    return TlsClient(port, (ca, os.path.join(etc, "client.crt"), os.path.join(etc, "client.key")))


def topics(client, payload):
    with client.lock:
        return [m.topic for m in client.msgs if m.payload == payload]


def test(t):
    if os.geteuid() != 0:
        raise h.Skip("the guide runs as root (sudo): run as root")
    mqtt_port, http_port = h.candidate_port(), h.candidate_port()
    root = t.path("root")
    for d in ("etc/whagent", "etc/mosquitto/conf.d", "var/lib/whagent", "var/spool/whagent", "home", "bin"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    # Debian's main mosquitto.conf includes conf.d (here: as root, the test's files under /tmp)
    t.write("root/etc/mosquitto/mosquitto.conf", "user root\npersistence false\nlog_dest stderr\n"
            "include_dir %s\n" % os.path.join(root, "etc/mosquitto/conf.d"))
    # the agent as the guide calls it: the built one, with the guide's configuration file
    t.write("root/bin/whagent", """#!/bin/bash
case " $* " in *" -c "*) exec %s "$@" ;; esac
cmd=$1; shift
exec %s "$cmd" -c %s "$@"
""" % (" ".join(map(shlex.quote, t.wh)), " ".join(map(shlex.quote, t.wh)),
       shlex.quote(os.path.join(root, "etc/whagent/whagent.conf"))), mode=0o755)
    subs = [
        ("BROKER=mqtt.example.com", "BROKER=localhost"),
        ("listener 8883", "listener %d 127.0.0.1" % mqtt_port),
        ("port 8883", "port %d" % mqtt_port),
        ("port = 8883", "port = %d" % mqtt_port),
        ("127.0.0.1:8088", "127.0.0.1:%d" % http_port),
        (CONSUMER_PATH, h.CONSUMER),
        ("--follow", "--follow --ready $T/consumer.ready"),
        ("/etc/whagent", root + "/etc/whagent"),
        ("/etc/mosquitto", root + "/etc/mosquitto"),
        ("/var/lib/whagent", root + "/var/lib/whagent"),
        ("/var/spool/whagent", root + "/var/spool/whagent"),
    ]
    used = set()
    script = [PRELUDE]
    ran = 0
    for mark, code in guide_blocks():
        if mark == "skip":
            continue
        code = rewrite(code, subs, used)
        ran += 1
        if mark == "background":
            script.append("( %s ) > $T/consumer.out 2> $T/consumer.log &\nkeep_pid $!\n"
                          "wait_for 'consumer subscribed' test -e $T/consumer.ready\n" % code.strip())
        else:
            script.append(code)
    eq(sorted(set(o for o, _ in subs) - used), [], "replacements that found nothing in the guide")
    t.write("guide.sh", "\n".join(script))
    env = dict(os.environ, T=root, HOME=root + "/home", MQTT_PORT=str(mqtt_port),
               PATH=root + "/bin:" + os.environ["PATH"])
    for name in ("agent", "broker", "consumer"):
        t.logs.append((name, os.path.join(root, name + ".log")))
    t.logs.append(("guide.sh output", t.path("guide.out")))
    try:
        with open(t.path("guide.out"), "wb") as out:
            rc = subprocess.run(["bash", t.path("guide.sh")], env=env, cwd=root, stdout=out,
                                stderr=subprocess.STDOUT, timeout=300 * h.SLOW).returncode
        eq(rc, 0, "exit status of the guide's commands (see guide.sh output)")
        guide_out = open(t.path("guide.out")).read()
        ok('"taken":1' in guide_out, "the webhook's answer says it was taken")

        # the platform printed the four events, in seq order, once
        def lines():
            return [l for l in open(os.path.join(root, "consumer.out")).read().splitlines() if " seq " in l]
        h.wait_for(lambda: len(lines()) >= 4, 60, "the consumer did not print 4 events")
        got = [re.search(r" seq (\d+) (\S+) txn (\S+)", l).groups() for l in lines()]
        # the file and the webhook race: which comes first decides the seqs, not the test
        eq([int(g[0]) for g in got], [1, 2, 3, 4], "seqs the platform printed (in order, once)")
        eq(sorted(g[1:] for g in got),
           sorted([("EVENT_KIND_RECEIPT", "900001"), ("EVENT_KIND_TRANSFER", "900002"),
                   ("EVENT_KIND_PICK", "900003"), ("EVENT_KIND_ADJUSTMENT", "900004")]),
           "events the platform printed")

        # in sync: the platform's acks bring the backlog to 0
        def status():
            r = subprocess.run([root + "/bin/whagent", "status", "--json"], env=env,
                               capture_output=True, text=True, timeout=60)
            return json.loads(r.stdout) if r.returncode == 0 else {}
        def in_sync():
            s = status()
            return s if s.get("state") == "in sync" and s.get("platform_acked_through") == 4 else None
        st = h.wait_for(in_sync, 60, "the agent never said 'in sync' with the platform's watermark at 4")
        eq((st["backlog"], st["sync_watermark"]), (0, "platform"), "backlog against the platform's watermark")
        eq((st["mqtt"], st["quarantined"]), ("connected", 0), "link and quarantine")

        # the guide's ACL: the gateway's credentials cannot publish the platform's ack (or cmd);
        # what it may publish on one connection after it arrives after it, in order
        pki = os.path.join(root, "home/whagent-pki")
        site = re.search(r"^SITE=(\S+)", open(README).read(), re.M).group(1)
        watcher = tls_client(mqtt_port, pki, "platform")
        gateway = tls_client(mqtt_port, pki, None, root)
        try:
            watcher.subscribe("whagent/v1/#")
            for topic in ("ack", "cmd", "cmd/result"):
                gateway.publish("whagent/v1/%s/%s" % (site, topic), b"from the gateway's credentials")
            h.wait_for(lambda: topics(watcher, b"from the gateway's credentials"), 10,
                       "the gateway's own cmd/result did not arrive")
            eq(topics(watcher, b"from the gateway's credentials"), ["whagent/v1/%s/cmd/result" % site],
               "what the gateway's credentials could publish")
        finally:
            watcher.close()
            gateway.close()
    finally:
        if os.path.exists(os.path.join(root, "pids")):
            for pid in open(os.path.join(root, "pids")).read().split():
                try:
                    os.kill(int(pid), signal.SIGTERM)
                except ProcessLookupError:
                    pass
    return "%d guide blocks ran; 4 events at the platform in order; backlog 0" % ran


if __name__ == "__main__":
    h.main(test)
