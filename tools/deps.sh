#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# deps.sh - install the Debian packages smtpscope needs to build and test.
# usage: tools/deps.sh [--check]   (--check: install nothing, only say what
# a build lacks and fail; what a plain "make" runs)
set -e
BUILD_PKGS="gcc make pkg-config libpcap-dev libnids-dev libjson-c-dev \
nettle-dev libhiredis-dev librdkafka-dev zlib1g-dev libzstd-dev liblz4-dev"
# zstd and lz4: the command-line tools, to make compressed captures in
# tests/compressed.py (it skips those cases without them)
PKGS="$BUILD_PKGS redis-server python3 zstd lz4"
missing=""
if [ "$1" = "--check" ]; then
	for p in $BUILD_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && exit 0
	echo "deps: missing packages to build; as root: apt-get install -y$missing" >&2
	echo "  (or make demo / make check as root: they install what they need)" >&2
	exit 1
fi
# the fuzz targets (make check fuzzes briefly; without them it says SKIP):
# clang, and libclang_rt.fuzzer, which Debian 12 ships in libclang-rt-14-dev
FUZZ_PKGS="clang libclang-rt-14-dev clang-format"
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done
optional=""
for p in $FUZZ_PKGS; do
	installed "$p" || optional="$optional $p"
done
# postfix is for tests/live.py only (it skips without it): installed as root,
# and not in place of another MTA (/usr/sbin/sendmail), which apt would remove
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null &&
	! dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q "ok installed" &&
	[ ! -e /usr/sbin/sendmail ]; then
	missing="$missing postfix"
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	missing="$missing$optional"
elif [ -z "$missing" ] && [ -n "$optional" ]; then
	echo "deps: the fuzz suite will be skipped; to run it, as root:" >&2
	echo "  apt-get install -y$optional" >&2
	exit 0
else
	missing="$missing$optional"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# "No configuration": no system Postfix is set up or started; the
	# tests run a private instance on a port of their own
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "deps: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
