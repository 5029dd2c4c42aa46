#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# threads.sh - the hashing thread on many interleaved MIME sessions: no
# data race (ThreadSanitizer), and the same events as with the message
# parser in the packet path (--extract-attachments) and under ASan.
# usage: tests/threads.sh   (run from the repository root, after make check's builds)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
export TZ=UTC
pcap=$tmp/mix.pcap
if ! bench/gen "$pcap" 30 --active 300 --seed 7 2>"$tmp/gen.log"; then
	echo "FAIL threads/generate: bench/gen failed: $(tail -n 1 "$tmp/gen.log")"
	exit 1
fi
# events without the stats event (its extraction counters differ)
events() {
	grep -v '"event_type":"stats"' "$1"
}

TSAN_OPTIONS="halt_on_error=1 exitcode=66" build/smtpscope-tsan -r "$pcap" \
	-o "$tmp/tsan.json" 2>"$tmp/tsan.err"
rc=$?
if [ $rc -eq 0 ] && ! grep -q ThreadSanitizer "$tmp/tsan.err"; then
	echo "PASS threads/tsan-clean ($(events "$tmp/tsan.json" | wc -l) events)"
else
	echo "FAIL threads/tsan-clean: exit $rc"
	grep -m 20 -A 12 'WARNING: ThreadSanitizer' "$tmp/tsan.err" | sed 's/^/    /'
fi

# there must be MIME in it, or the comparisons below prove little
parts=$(grep -c '"encoding":"base64"' "$tmp/tsan.json" 2>/dev/null)
urls=$(grep -c '"urls":\[' "$tmp/tsan.json" 2>/dev/null)
if [ "${parts:-0}" -ge 20 ] && [ "${urls:-0}" -ge 20 ]; then
	echo "PASS threads/mime-mix ($parts messages with base64 parts, $urls with URLs)"
else
	echo "FAIL threads/mime-mix: only $parts messages with base64 parts, $urls with URLs"
fi

same() { # NAME FILE: FILE's events are the TSan run's
	if events "$2" | cmp -s - "$tmp/tsan.events"; then
		echo "PASS threads/$1"
	else
		echo "FAIL threads/$1: events differ from the threaded run's:"
		events "$2" | diff "$tmp/tsan.events" - | head -n 6 | cut -c1-300 |
			sed 's/^/    /'
	fi
}
events "$tmp/tsan.json" >"$tmp/tsan.events"
mkdir "$tmp/x"
if ./smtpscope -r "$pcap" -o "$tmp/inline.json" --extract "$tmp/x" \
	--extract-attachments 2>"$tmp/inline.err"; then
	same same-with-parser-inline "$tmp/inline.json"
else
	echo "FAIL threads/same-with-parser-inline: exit status $?: $(tail -n 1 "$tmp/inline.err")"
fi
if build/smtpscope-san -r "$pcap" -o "$tmp/san.json" 2>"$tmp/san.err"; then
	same same-under-asan "$tmp/san.json"
else
	echo "FAIL threads/same-under-asan: $(tail -n 3 "$tmp/san.err")"
fi
