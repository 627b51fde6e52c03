"""`whagent check` and the command line as a first site meets them: check tests what the agent
will need as the service user (a missing cafile, a key only root can read, the CHANGE-ME
placeholder, a split-CA client certificate is a warning), a journal written under another
site_id is refused at start and reported by check; exit codes, the unknown-option message, the
default configuration path; quarantine requeue --all / --input / several ids, the reason kept
up to date, and a requeued event published by the running daemon without waiting.
usage: check_test.py WHAGENT [ARGS...]"""
import os
import random
import shutil
import subprocess

import harness as h
from harness import eq, has, ok

BAD_CSV = ("kind,txn_id,event_time,ItemNo,qty,uom,bin\n"
           "PICK,R1,2026-03-01T10:00:00Z,S1,1,EA,A1\n"
           "PICK,R2,2026-03-01T10:00:01Z,S2,2,EA,A1\n"
           "PICK,R3,2026-03-01T10:00:02Z,S3,3,EA,A1\n"
           "PICK,R4,2026-03-01T10:00:03Z,S4,4,EA,A1\n")


def errors(r):
    return [l for l in r.stderr.splitlines() if l.startswith("whagent check: error: ")]


def cli_basics(t, a):
    r = a.cli("status", "--foo", conf=False)
    eq((r.returncode, r.stderr), (2, "whagent: unknown option --foo; see whagent --help\n"),
       "an unknown option")
    r = a.cli("run", "-c", conf=False)
    eq((r.returncode, r.stderr), (2, "whagent: option -c needs a value; see whagent --help\n"),
       "an option without its value")
    eq(a.cli("frobnicate", conf=False).returncode, 2, "unknown command")
    eq(a.cli("quarantine", "show").returncode, 2, "quarantine show without an id")
    eq(a.cli("quarantine", "frob").returncode, 2, "unknown quarantine action")
    eq(a.cli("quarantine", "requeue", "--all", "3").returncode, 2, "requeue --all with ids")
    missing = t.path("nowhere.conf")
    for cmd in ("run", "check", "status", "quarantine", "enroll"):
        r = a.cli(cmd, "-c", missing, conf=False)
        eq(r.returncode, 1, "%s with a missing configuration file" % cmd)
        has(r.stderr, "nowhere.conf: No such file", "%s: the message" % cmd)
    # no -c: the default path, for every command
    if not os.path.exists("/etc/whagent/whagent.conf"):
        for cmd in ("run", "check", "status", "quarantine"):
            r = a.cli(cmd, conf=False)
            eq(r.returncode, 1, "%s without -c" % cmd)
            has(r.stderr, "/etc/whagent/whagent.conf: No such file", "%s: default path" % cmd)
    help_text = a.cli("help-config", conf=False).stdout
    ok("(required)" not in help_text, "help-config still says (required)")
    has(help_text, r"done_dir .*\n.*\n?\s+default: derived", "done_dir's default is derived")
    has(help_text, r"site_id .*\n.*\n?\s+default: none, required", "site_id is required")


def check_as_user(t, a, pki):
    """A key only root can read: the service user cannot; chown it and check passes."""
    if os.geteuid() != 0:
        print("not root: the service-user access test is skipped")
        return
    user = "whck%04d" % random.randrange(10000)
    r = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("useradd failed (%s): the service-user access test is skipped" % r.stderr.strip())
        return
    try:
        os.chmod(t.work, 0o755)
        for d in (a.spool, a.state):
            shutil.chown(d, user)
        key = pki.p("client", "key")
        os.chmod(key, 0o600)
        os.chown(key, 0, 0)
        r = a.cli("check", "--as-user", user)
        eq(r.returncode, 1, "check as %s accepts a key only root reads: %s" % (user, r.stderr))
        has(r.stdout, "file access tested as user %s" % user, "whose access was tested")
        eq(len(errors(r)), 1, "errors: %s" % r.stderr)
        has(r.stderr, r"\[mqtt\] keyfile .*client\.key: user %s cannot read it: Permission denied" % user,
            "unreadable key")
        os.chmod(a.conf, 0o600)
        r = a.cli("check", "--as-user", user)
        has(r.stderr, r"configuration file .*whagent\.conf: user %s cannot read it" % user,
            "a configuration file the service user cannot read")
        os.chmod(a.conf, 0o644)
        os.chown(key, pwd_uid(user), -1)
        r = a.cli("check", "--as-user", user)
        eq(r.returncode, 0, "check as %s once the key is the user's: %s" % (user, r.stderr))
        # as root without --as-user and no such user: said, tested as root
        r = a.cli("check", "--as-user", user + "x")
        has(r.stderr, "user %sx \\(the service's\\) does not exist: access tested as root" % user,
            "a missing service user")
    finally:
        os.chown(pki.p("client", "key"), 0, 0)
        subprocess.run(["userdel", user], capture_output=True)


def pwd_uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid


def test(t):
    a = t.new_agent()
    a.write_conf()
    cli_basics(t, a)

    pki = h.Pki(t)
    pki.ca("ca")
    pki.ca("device-ca")
    pki.cert("client", h.SITE, "ca")
    pki.cert("device", h.SITE, "device-ca")
    tls = "cafile = %s\ncertfile = %s\nkeyfile = %s\n"

    # a missing cafile
    a.write_conf(sections=h.mqtt_section(1883, tls % (t.path("pki/none.crt"), pki.p("client", "crt"),
                                                      pki.p("client", "key"))))
    r = a.cli("check")
    eq(r.returncode, 1, "check accepts a missing cafile")
    has(r.stderr, r"^whagent check: error: \[mqtt\] cafile .*none\.crt: user \S+ cannot read it: "
        r"No such file or directory", "missing cafile")
    ok("configuration is valid" not in r.stdout, "check says valid")

    # good, then split CA: a warning, exit 0
    a.write_conf(sections=h.mqtt_section(1883, tls % (pki.p("ca", "crt"), pki.p("client", "crt"),
                                                      pki.p("client", "key"))))
    r = a.cli("check")
    eq((r.returncode, errors(r)), (0, []), "a good TLS configuration: " + r.stderr)
    check_as_user(t, a, pki)
    a.write_conf(sections=h.mqtt_section(1883, tls % (pki.p("ca", "crt"), pki.p("device", "crt"),
                                                      pki.p("device", "key"))))
    r = a.cli("check")
    eq(r.returncode, 0, "a split-CA client certificate is refused: " + r.stderr)
    has(r.stderr, r"^whagent check: warning: certificate .*device\.crt does not chain to .*ca\.crt.*split CA",
        "split-CA warning")
    # and the agent connects with it to a broker that trusts the device CA
    pki.cert("server", "localhost", "ca", "DNS:localhost,IP:127.0.0.1")
    split = t.broker("require_certificate true", tls=(pki.p("device-ca", "crt"), pki.p("server", "crt"),
                                                       pki.p("server", "key")), name="split-broker")
    a.write_conf(sections=h.mqtt_section(split.port, tls % (pki.p("ca", "crt"), pki.p("device", "crt"),
                                                            pki.p("device", "key"))))
    a.start()
    a.wait_link("connected", what="the agent did not connect with a split-CA certificate")
    a.stop()
    shutil.rmtree(a.state)
    os.makedirs(a.state)

    # a broker that does not resolve; CHANGE-ME
    a.write_conf(sections=h.mqtt_section(1883, "allow_insecure = true").replace("127.0.0.1", "no-such-host.invalid"))
    r = a.cli("check")
    eq(r.returncode, 1, "an unresolvable broker passes")
    has(r.stderr, r"\[mqtt\] host no-such-host\.invalid does not resolve", "resolve")
    a.edit_conf("site_id = .*", "site_id = CHANGE-ME")
    has(a.cli("check").stderr, r"site_id = CHANGE-ME is a placeholder", "CHANGE-ME")
    # the agent refuses to start with it, and makes no journal for that non-site
    r = a.cli("run", timeout=30)
    eq(r.returncode, 1, "run with site_id = CHANGE-ME")
    has(r.stderr, r"site_id = CHANGE-ME is a placeholder", "run's message")
    ok(not os.path.exists(a.db), "run made a journal for site CHANGE-ME")

    # site_id: kept in the journal; another is refused at start and by check
    broker = t.broker()
    # the heartbeat (status_interval_s, 60 s by default) wakes the sender too: not in this test
    a.write_conf(sections=h.mqtt_section(broker.port).replace("status_interval_s = 2",
                                                              "status_interval_s = 3600"))
    t.write("spool/bad.csv", BAD_CSV)
    a.start()
    a.wait_status("quarantined", 4, what="4 records quarantined")
    eq(a.sql1("SELECT value FROM meta WHERE key = 'site_id'"), h.SITE, "site_id in the journal")

    # requeue: the reason is kept up to date; --input matches exactly; several ids; --all
    a.append_conf("[map.acme]\nsku = Nope")
    a.edit_conf("settle_ms = 300", "settle_ms = 300\nmap = acme")
    r = a.cli("quarantine", "requeue", "1")
    eq(r.returncode, 1, "requeue of a still invalid record")
    has(a.cli("quarantine", "list").stdout, r"bad\.csv line 2: column Nope \(or sku\) is required",
        "list keeps the stale reason")
    a.edit_conf("sku = Nope", "sku = ItemNo")
    eq(a.cli("quarantine", "requeue", "--input", "spool.x").stdout, "nothing quarantined from input spool.x\n",
       "--input matches exactly")
    with t.mqtt(broker) as m:
        m.subscribe("%s/%s/events" % (h.PREFIX, h.SITE))
        wc = h.protos()
        r = a.cli("quarantine", "requeue", "1", "2")
        eq(r.returncode, 0, "requeue 1 2: " + r.stdout + r.stderr)
        has(r.stdout, r"^1: journaled as seq 1$", "requeue 1")
        has(r.stdout, r"^2: journaled as seq 2$", "requeue 2")

        def batch_through(seq):
            def pred(msg):
                b = wc.pb2("batch").EventBatch()
                b.ParseFromString(msg.payload)
                return b.last_seq >= seq
            return pred
        # published by the running daemon without waiting for a timer of a minute
        m.wait_message(batch_through(2), timeout=30, what="batch with the requeued events")
        r = a.cli("quarantine", "requeue", "--input", "spool")
        eq(r.returncode, 0, "requeue --input spool: " + r.stdout + r.stderr)
        has(r.stdout, r"^requeued 2 of 2", "--input spool summary")
        m.wait_message(batch_through(4), timeout=30, what="batch with seq 4")
    eq(a.cli("quarantine", "requeue", "--all").stdout, "nothing quarantined\n", "--all on an empty quarantine")
    a.wait_status("acked_through", 4)
    a.stop()

    a.edit_conf("site_id = .*", "site_id = OTHER")
    r = a.cli("check")
    eq(r.returncode, 1, "check accepts a journal of another site")
    has(r.stderr, r"journal .* was written by site %s, not OTHER" % h.SITE, "check: site change")
    mark = a.mark()
    p = subprocess.run(t.wh + ["run", "-c", a.conf], capture_output=True, text=True, timeout=60 * h.SLOW)
    eq(p.returncode, 1, "the agent started on a journal of another site")
    has(p.stderr, r"was written by site %s, the configuration says site OTHER.*Restore site_id = %s"
        % (h.SITE, h.SITE), "start: site change message")
    ok("running (site" not in a.text(mark) + p.stderr, "agent ran")
    # a journal of an earlier version (no site_id) takes the configured one
    a.sql_write("DELETE FROM meta WHERE key = 'site_id'")
    a.edit_conf("site_id = OTHER", "site_id = %s" % h.SITE)
    a.run_until_idle(60)
    eq(a.sql1("SELECT value FROM meta WHERE key = 'site_id'"), h.SITE, "site_id adopted")
    return "check as the service user, placeholders, split CA, site_id, exit codes, requeue"


if __name__ == "__main__":
    h.main(test)
