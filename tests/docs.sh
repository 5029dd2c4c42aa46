#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# docs.sh - the man page covers every option and alert; make install works.
cd "$(dirname "$0")/.." || exit 1
man=build/smtpscope.8
missing=""
for opt in $(./smtpscope --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	# troff writes each - as \-
	esc=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
	grep -q -- "$esc" "$man" || missing="$missing $opt"
done
if [ -z "$missing" ]; then
	echo "PASS docs/man-options"
else
	echo "FAIL docs/man-options: not in smtpscope(8):$missing"
fi
missing=""
for kind in $(sed -n 's/^| `\([a-z0-9_]*\)` |.*/\1/p' docs/alerts.md); do
	grep -q "^\.B $kind\$" "$man" || missing="$missing $kind"
done
if [ -z "$missing" ]; then
	echo "PASS docs/man-alerts"
else
	echo "FAIL docs/man-alerts: not in smtpscope(8):$missing"
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
if make -s install DESTDIR="$tmp" PREFIX=/usr >"$tmp/log" 2>&1 &&
	[ -x "$tmp/usr/sbin/smtpscope" ] &&
	[ -f "$tmp/usr/share/man/man8/smtpscope.8" ] &&
	grep -q "^ExecStart=/usr/sbin/smtpscope " \
		"$tmp/usr/lib/systemd/system/smtpscope.service" &&
	grep -q "^AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN" \
		"$tmp/usr/lib/systemd/system/smtpscope.service" &&
	[ -f "$tmp/etc/logrotate.d/smtpscope" ] &&
	[ -f "$tmp/etc/default/smtpscope" ] &&
	"$tmp/usr/sbin/smtpscope" -V | grep -q '^smtpscope '; then
	echo "PASS docs/make-install"
else
	echo "FAIL docs/make-install: see the files under DESTDIR"
	sed 's/^/    /' "$tmp/log" | head -10
fi
