"""The .deb on this machine (root only; it removes everything it installed, also on failure):
control fields, conffiles and file list; the binary built with Debian's hardening flags
(PIE, full RELRO, stack protector, FORTIFY); lintian without errors; the unit's limits
(memory, tasks, files) and its security exposure <= 2.5 (printed) and `systemd-analyze verify` clean; dpkg -i creates the user, the
configuration and the state and spool directories, and the shipped configuration passes
`whagent check` as the service user, who can also run the agent on a sample file; remove
keeps the configuration, purge leaves nothing behind.
usage: package_test.py BUILD_DIR   (exit 77: skipped)"""
import glob
import json
import os
import re
import shutil
import subprocess

import harness as h
from harness import eq, has, ok


def run(*argv, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, **kw)


def mode(path):
    st = os.stat(path)
    import grp
    import pwd
    return "%s:%s:%o" % (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o7777)


def test(t):
    build = os.path.abspath(t.wh[0])
    if os.geteuid() != 0 or not shutil.which("dpkg"):
        raise h.Skip("needs root and dpkg")
    if run("dpkg", "-s", "whagent").returncode == 0:
        raise h.Skip("a whagent package is already installed here")
    installed = [False]

    def purge():
        if installed[0]:
            run("dpkg", "-P", "whagent")
            installed[0] = False
    t.stack.callback(purge)

    r = run("cpack", "-B", t.path("pkg"), cwd=build)
    eq(r.returncode, 0, "cpack: %s" % r.stderr[-500:])
    debs = glob.glob(t.path("pkg", "whagent_*.deb"))
    eq(len(debs), 1, "packages built")
    deb = debs[0]
    arch = run("dpkg", "--print-architecture").stdout.strip()
    eq(run("dpkg-deb", "-f", deb, "Architecture").stdout.strip(), arch, "Architecture")
    depends = run("dpkg-deb", "-f", deb, "Depends").stdout
    eq([d for d in ("adduser", "libsqlite3-0", "libmosquitto1", "libmbedcrypto7", "libprotobuf-c1", "libinih1",
                    "libcjson1") if d not in depends], [], "Depends lacks (Depends: %s)" % depends.strip())
    run("dpkg-deb", "-e", deb, t.path("control"))
    eq(open(t.path("control", "conffiles")).read().strip(), "/etc/whagent/whagent.conf", "conffiles")
    files = [l.split()[5] for l in run("dpkg-deb", "-c", deb).stdout.splitlines() if len(l.split()) >= 6]
    eq([f for f in ("./usr/bin/whagent", "./lib/systemd/system/whagent.service", "./etc/whagent/whagent.conf",
                    "./usr/share/man/man1/whagent.1.gz", "./usr/share/doc/whagent/copyright",
                    "./usr/share/doc/whagent/examples/whagent_consumer.py", "./usr/share/doc/whagent/whagent-alerts.yml",
                    "./usr/share/whagent/proto/whagent/v1/snapshot.proto") if f not in files], [],
       "files the package lacks")
    # Debian's hardening flags (hardening=+all): PIE, full RELRO (BIND_NOW), stack protector,
    # FORTIFY (the _chk variants of libc calls)
    bin_ = t.path("unpacked")
    run("dpkg-deb", "-x", deb, bin_)
    bin_ = os.path.join(bin_, "usr/bin/whagent")
    dyn, seg, hdr = (run("readelf", flag, "-W", bin_).stdout for flag in ("-d", "-l", "-h"))
    syms = run("nm", "-D", bin_).stdout
    eq([what for what, found in (("PIE", "Position-Independent Executable" in hdr), ("RELRO", "GNU_RELRO" in seg),
                                 ("BIND_NOW", re.search(r"FLAGS.*BIND_NOW|FLAGS_1.*NOW", dyn) is not None),
                                 ("stack protector", "__stack_chk_fail" in syms),
                                 ("FORTIFY", re.search(r"__\w+_chk@", syms) is not None)) if not found], [],
       "hardening the binary lacks")
    unit = open(os.path.join(h.TOP, "packaging/whagent.service")).read()
    eq([k for k in ("MemoryMax=", "TasksMax=", "LimitNOFILE=") if "\n" + k not in unit], [], "unit limits missing")
    if shutil.which("lintian"):
        out = run("lintian", deb)
        eq([l for l in (out.stdout + out.stderr).splitlines() if l.startswith("E:")], [], "lintian errors")
    if shutil.which("systemd-analyze"):
        out = run("systemd-analyze", "security", "--offline=true", os.path.join(h.TOP, "packaging/whagent.service"))
        m = re.search(r"Overall exposure level for whagent.service: ([0-9.]+)", out.stdout + out.stderr)
        ok(m, "no exposure level: %s" % (out.stdout + out.stderr)[-500:])
        print("systemd-analyze security:", m.group(1))
        ok(float(m.group(1)) <= 2.5, "exposure %s > 2.5" % m.group(1))

    r = run("dpkg", "-i", deb)
    installed[0] = True
    eq(r.returncode, 0, "dpkg -i: %s" % (r.stdout + r.stderr)[-1000:])
    eq(run("getent", "passwd", "whagent").returncode, 0, "no whagent user")
    eq(mode("/var/lib/whagent"), "whagent:whagent:700", "state dir")
    eq(mode("/var/spool/whagent"), "whagent:whagent-spool:2770", "spool dir")
    # the upload user's group is the spool's alone; the service's user is in it to read files
    eq(run("id", "-nG", "whagent").stdout.split(), ["whagent", "whagent-spool"], "the service user's groups")
    eq(run("getent", "group", "whagent").stdout.strip().split(":")[3], "", "members of group whagent")
    eq(mode("/etc/whagent/whagent.conf"), "root:whagent:640", "conf mode")
    if shutil.which("systemd-analyze"):
        r = run("systemd-analyze", "verify", "/lib/systemd/system/whagent.service")
        eq((r.returncode, r.stdout + r.stderr), (0, ""), "systemd-analyze verify")
    # The shipped configuration passes check but for its placeholder site_id, as the service
    # user and as root (which tests as the service user).
    for argv in (["runuser", "-u", "whagent", "--", "whagent", "check"], ["whagent", "check"]):
        r = run(*argv)
        eq((r.returncode, [l for l in r.stderr.splitlines() if " error: " in l]),
           (1, ["whagent check: error: [agent] site_id = CHANGE-ME is a placeholder: set the warehouse's id"]),
           "%s on the shipped configuration: %s" % (" ".join(argv), r.stderr))
    conf = open("/etc/whagent/whagent.conf").read().replace("\nsite_id = CHANGE-ME\n", "\nsite_id = PKG\n")
    with open("/etc/whagent/whagent.conf", "w") as f:
        f.write(conf)
    r = run("whagent", "check")
    eq(r.returncode, 0, "the shipped configuration with a site_id fails check: %s" % r.stderr)
    has(r.stdout, "file access tested as user whagent", "root's check tests as the service user")
    # enroll as root: the key is the service user's alone
    os.makedirs(t.path("enroll"), exist_ok=True)
    os.chmod(t.work, 0o755)
    r = run("whagent", "enroll", "--out", t.path("enroll"))
    eq(r.returncode, 0, "enroll: %s" % (r.stdout + r.stderr))
    eq(mode(t.path("enroll/client.key")), "whagent:whagent:600", "enrolled key")
    # The installed layout works for the service user: a sample file is taken and journaled.
    sample = "/var/spool/whagent/20260301-0915-webshop.jsonl"
    shutil.copyfile(os.path.join(h.TOP, "tests/data/sample/20260301-0915-webshop.jsonl"), sample)
    # as an upload user would leave it: another owner, readable by the spool's group only
    shutil.chown(sample, "root", "whagent-spool")
    os.chmod(sample, 0o640)
    conf = open("/etc/whagent/whagent.conf").read()
    run_conf = t.write("run.conf", re.sub(r"(?m)^settle_ms = 2000$", "settle_ms = 0", conf), mode=0o644)
    os.chmod(t.work, 0o755)
    r = run("runuser", "-u", "whagent", "--", "whagent", "run", "-c", run_conf, "--until-idle", timeout=120)
    eq(r.returncode, 0, "run as whagent: %s" % (r.stdout + r.stderr)[-1000:])
    r = run("runuser", "-u", "whagent", "--", "whagent", "status", "-c", run_conf, "--json")
    eq(json.loads(r.stdout)["last_seq"] if r.returncode == 0 else r.stderr, 4,
       "the installed agent did not journal the sample")
    journal = glob.glob("/var/lib/whagent/*.db*")
    ok(journal, "no journal in /var/lib/whagent")
    eq([(p, mode(p)) for p in journal if mode(p) != "whagent:whagent:600"], [],
       "journal files readable by others (run with umask %03o)" % os.umask(os.umask(0)))

    eq(run("dpkg", "-r", "whagent").returncode, 0, "dpkg -r")
    ok(not os.path.exists("/usr/bin/whagent"), "binary left after remove")
    ok(os.path.isfile("/etc/whagent/whagent.conf"), "remove dropped the configuration")
    eq(run("dpkg", "-P", "whagent").returncode, 0, "dpkg -P")
    installed[0] = False
    eq([p for p in ("/etc/whagent", "/var/lib/whagent", "/var/spool/whagent", "/lib/systemd/system/whagent.service")
        if os.path.exists(p)], [], "left after purge")
    ok(run("getent", "passwd", "whagent").returncode != 0, "user left after purge")
    ok(run("getent", "group", "whagent").returncode != 0, "group left after purge")
    ok(run("getent", "group", "whagent-spool").returncode != 0, "spool group left after purge")
    return "%s (%d bytes) installs, works, removes and purges cleanly" % (os.path.basename(deb), os.path.getsize(deb))


if __name__ == "__main__":
    h.main(test)
