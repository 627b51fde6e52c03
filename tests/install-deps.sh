#!/bin/sh
# Installs the Debian packages named in $DEPS that are missing. As root it uses apt
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
apt-get update -qq || apt-get update -qq || true
apt-get install -y -qq --no-install-recommends $missing
