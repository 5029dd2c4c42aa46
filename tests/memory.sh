#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# memory.sh - what memory costs: flat in the message size, small per open
# session, bounded per pipelined command.
# usage: tests/memory.sh BINARY   (the optimised build: ASan inflates RSS)
BIN=${1:-./smtpscope}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
rss() { # peak RSS in KB of a command
	bench/runstat "$tmp/st" "$@" >/dev/null 2>&1 || return 1
	sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' "$tmp/st"
}
peak() { # peak RSS in KB of BIN on one generated session with a $1-byte body
	bench/gen "$tmp/$1.pcap" --single "$1" 2>/dev/null || return 1
	rss "$BIN" -r "$tmp/$1.pcap" -o "$tmp/$1.json" || return 1
	# the message must really have been decoded whole
	grep -q "\"size\":$1," "$tmp/$1.json" || grep -q '"status":"queued"' "$tmp/$1.json" ||
		return 1
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
fi

# ours(N): BIN's peak RSS on a capture less libnids' own on it (bench/nids_alone)
ours() {
	a=$(rss "$BIN" -r "$1" --idle-timeout 0 -o /dev/null) &&
		b=$(rss bench/nids_alone "$1") && echo $((a - b))
}
load() { python3 tools/craft/load-pcaps.py "$@"; }

# open sessions (banner, EHLO, silence): smtpscope's own memory per session,
# on top of libnids (issue 11: at most 2 KiB; bound here 3 KiB)
load open 1 "$tmp/o1.pcap" && load open 10000 "$tmp/o10k.pcap" &&
	one=$(ours "$tmp/o1.pcap") && many=$(ours "$tmp/o10k.pcap") || {
	echo "FAIL memory/open-sessions: could not generate or run"
	exit 1
}
per=$(((many - one) * 1024 / 10000))
if [ "$per" -le 3072 ]; then
	echo "PASS memory/open-sessions ($per bytes a session beyond libnids')"
else
	echo "FAIL memory/open-sessions: $per bytes a session beyond libnids' (bound 3072)"
fi

# unanswered pipelined commands: 200 sessions x 4,100 NOOPs (each session
# remembers 4,096 of them): bound 64 MB beyond libnids (4.4 GB for 1,000
# such sessions before pending entries became 32 bytes)
load pipeline 200 4100 "$tmp/p200.pcap" && q=$(ours "$tmp/p200.pcap") || {
	echo "FAIL memory/pending-queue: could not generate or run"
	exit 1
}
if [ $((q - one)) -le 65536 ]; then
	echo "PASS memory/pending-queue ($((q - one)) KB beyond libnids' for 819,200 pending NOOPs)"
else
	echo "FAIL memory/pending-queue: $((q - one)) KB beyond libnids' (bound 65536)"
fi

# one session pipelining 1,000,000 NOOPs: flat (the queue keeps 4,096)
load pipeline 1 1000000 "$tmp/p1m.pcap" && m=$(ours "$tmp/p1m.pcap") || {
	echo "FAIL memory/pipelining: could not generate or run"
	exit 1
}
if [ $((m - one)) -le 1024 ]; then
	echo "PASS memory/pipelining ($((m - one)) KB beyond one idle session for 1,000,000 NOOPs)"
else
	echo "FAIL memory/pipelining: $((m - one)) KB beyond one idle session (bound 1024)"
fi
