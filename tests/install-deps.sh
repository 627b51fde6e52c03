#!/bin/sh
# Installs the Debian packages named in $DEPS that are missing (with ARCH set, a foreign
# architecture for cross builds, added to dpkg first). As root it uses apt
# (one retry of `apt-get update`, which can fail while a mirror syncs); otherwise it
# only says what is missing.
missing=""
for p in $DEPS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
added=""
if [ -n "${ARCH:-}" ] && ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
	dpkg --add-architecture "$ARCH"
	added=$ARCH
fi
apt-get update -qq || apt-get update -qq || true
# The packages are tools for the tests (mosquitto, prometheus for promtool): their services
# must not start on install (policy-rc.d 101: action forbidden), the tests start their own.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
	policy=1
fi
ok=1
apt-get install -y -qq --no-install-recommends $missing || ok=""
[ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d
if [ -z "$ok" ]; then
	# An architecture we added and could not serve would break later updates: take it away.
	[ -n "$added" ] && dpkg --remove-architecture "$added"
	exit 1
fi
