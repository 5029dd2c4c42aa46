#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# demo.sh - run smtpscope on the bundled captures: transcripts, then JSON.
cd "$(dirname "$0")/.." || exit 1
for f in pcaps/rcpt-rejections.pcap pcaps/errors-421.pcap; do
	echo "######## ./smtpscope -r $f -T"
	./smtpscope -r "$f" -T
done
echo "######## ./smtpscope -r pcaps/rcpt-rejections.pcap   (NDJSON events)"
./smtpscope -r pcaps/rcpt-rejections.pcap
echo
echo "######## every bundled capture: events per type"
for f in pcaps/*.pcap; do
	printf '%-28s' "$f"
	./smtpscope -r "$f" 2>/dev/null |
		sed -n 's/.*"event_type":"\([a-z_]*\)".*/\1/p' | sort | uniq -c |
		awk '{printf " %s=%s", $2, $1} END {print ""}'
done
