#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# memory.sh - a 5 MB message must cost no more memory than a 5 KB one.
# usage: tests/memory.sh BINARY   (the optimised build: ASan inflates RSS)
BIN=${1:-./smtpscope}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
peak() { # peak RSS in KB of BIN on one generated session with a $1-byte body
	bench/gen "$tmp/$1.pcap" --single "$1" 2>/dev/null || return 1
	bench/runstat "$tmp/$1.st" "$BIN" -r "$tmp/$1.pcap" -o "$tmp/$1.json" ||
		return 1
	# the message must really have been decoded whole
	grep -q "\"size\":$1," "$tmp/$1.json" || grep -q '"status":"queued"' "$tmp/$1.json" ||
		return 1
	sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' "$tmp/$1.st"
}
small=$(peak 5000) && big=$(peak 5000000) || {
	echo "FAIL memory/flat-rss: could not run the generator or $BIN"
	exit 1
}
# a few pages of slack for the allocator; the body itself is 5 MB
if [ "$big" -le $((small + 1024)) ]; then
	echo "PASS memory/flat-rss (5 KB body: $small KB, 5 MB body: $big KB)"
else
	echo "FAIL memory/flat-rss: peak RSS $small KB for a 5 KB body, $big KB for 5 MB"
	exit 1
fi
