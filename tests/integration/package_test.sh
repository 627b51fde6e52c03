#!/bin/sh
# The .deb on this machine (root only; it removes everything it installed, also on failure):
# control fields, conffiles and file list; lintian without errors; the unit's security
# exposure <= 2.5 and `systemd-analyze verify` clean; dpkg -i creates the user, the
# configuration and the state and spool directories, and the shipped configuration passes
# `whagent check` as the service user, who can also run the agent on a sample file; remove
# keeps the configuration, purge leaves nothing behind.
# usage: package_test.sh BUILD_DIR   (exit 77: skipped)
. "$(dirname "$0")/lib.sh"
BUILD=$(cd "$1" && pwd)

if [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null; then
    echo "SKIP: needs root and dpkg"; exit 77
fi
if dpkg -s whagent >/dev/null 2>&1; then
    echo "SKIP: a whagent package is already installed here"; exit 77
fi
INSTALLED=0
purge() { [ "$INSTALLED" = 1 ] && dpkg -P whagent >/dev/null 2>&1; INSTALLED=0; }
trap 'purge; cleanup' EXIT INT TERM

(cd "$BUILD" && cpack -B "$WORK/pkg" >/dev/null) || fail "cpack"
deb=$(ls "$WORK"/pkg/whagent_*.deb)
arch=$(dpkg --print-architecture)
dpkg-deb -f "$deb" Architecture | grep -qx "$arch" || fail "Architecture is not $arch"
for dep in adduser libsqlite3-0 libmosquitto1 libmbedcrypto7 libprotobuf-c1 libinih1 libcjson1; do
    dpkg-deb -f "$deb" Depends | grep -q "$dep" || fail "Depends lacks $dep: $(dpkg-deb -f "$deb" Depends)"
done
dpkg-deb -e "$deb" "$WORK/control"
[ "$(cat "$WORK/control/conffiles")" = /etc/whagent/whagent.conf ] || fail "conffiles"
dpkg-deb -c "$deb" | awk '{print $6}' > "$WORK/files"
for f in ./usr/bin/whagent ./lib/systemd/system/whagent.service ./etc/whagent/whagent.conf \
    ./usr/share/man/man1/whagent.1.gz ./usr/share/doc/whagent/copyright \
    ./usr/share/doc/whagent/examples/whagent_consumer.py ./usr/share/whagent/proto/whagent/v1/snapshot.proto; do
    grep -qx "$f" "$WORK/files" || fail "package lacks $f"
done
if command -v lintian >/dev/null; then
    lintian "$deb" > "$WORK/lintian" 2>&1 || true
    grep -q "^E:" "$WORK/lintian" && fail "lintian errors: $(grep "^E:" "$WORK/lintian")"
fi
if command -v systemd-analyze >/dev/null; then
    score=$(systemd-analyze security --offline=true "$TOP/packaging/whagent.service" 2>/dev/null |
        sed -n 's/.*Overall exposure level for whagent.service: \([0-9.]*\).*/\1/p')
    echo "systemd-analyze security: $score"
    awk -v s="$score" 'BEGIN {exit !(s != "" && s <= 2.5)}' || fail "exposure $score > 2.5"
fi

dpkg -i "$deb" > "$WORK/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$WORK/dpkg.log")"
INSTALLED=1
getent passwd whagent >/dev/null || fail "no whagent user"
[ "$(stat -c %U:%G:%a /var/lib/whagent)" = whagent:whagent:750 ] || fail "state dir $(stat -c %U:%G:%a /var/lib/whagent)"
[ "$(stat -c %U:%G:%a /var/spool/whagent)" = whagent:whagent:2770 ] || fail "spool dir"
[ "$(stat -c %U:%G:%a /etc/whagent/whagent.conf)" = root:whagent:640 ] || fail "conf mode"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /lib/systemd/system/whagent.service > "$WORK/verify" 2>&1 ||
        fail "systemd-analyze verify: $(cat "$WORK/verify")"
    [ ! -s "$WORK/verify" ] || fail "systemd-analyze verify: $(cat "$WORK/verify")"
fi
runuser -u whagent -- whagent check -c /etc/whagent/whagent.conf > "$WORK/check" ||
    fail "the shipped configuration fails check"
# The installed layout works for the service user: a sample file is taken and journaled.
cp "$TOP/tests/data/sample/20260301-0915-webshop.jsonl" /var/spool/whagent/
chown whagent /var/spool/whagent/*.jsonl
sed 's/^settle_ms = 2000$/settle_ms = 0/' /etc/whagent/whagent.conf > "$WORK/run.conf"
chmod 644 "$WORK/run.conf"
chmod 755 "$WORK"
runuser -u whagent -- whagent run -c "$WORK/run.conf" --until-idle > "$WORK/run.log" 2>&1 ||
    fail "run as whagent: $(cat "$WORK/run.log")"
[ "$(runuser -u whagent -- whagent status -c "$WORK/run.conf" --json | json_field last_seq)" = 4 ] ||
    fail "the installed agent did not journal the sample"

dpkg -r whagent > "$WORK/dpkg.log" 2>&1 || fail "dpkg -r"
[ ! -e /usr/bin/whagent ] || fail "binary left after remove"
[ -f /etc/whagent/whagent.conf ] || fail "remove dropped the configuration"
dpkg -P whagent > "$WORK/dpkg.log" 2>&1 || fail "dpkg -P"
INSTALLED=0
for p in /etc/whagent /var/lib/whagent /var/spool/whagent /lib/systemd/system/whagent.service; do
    [ ! -e "$p" ] || fail "$p left after purge"
done
getent passwd whagent >/dev/null && fail "user left after purge"
getent group whagent >/dev/null && fail "group left after purge"
echo "PASS: $(basename "$deb") ($(stat -c %s "$deb") bytes) installs, works, removes and purges cleanly"
