#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# golden.sh - run every TESTLIST capture and compare with the reviewed output.
# usage: tests/golden.sh [--update] [NAME...]   (run from the repository root)
#
# With NAMEs only those rows run. --update writes what the run gave over
# the reviewed files (read the diff before committing it); it refuses a run
# that failed, and a binary older than the sources it was built from.
BIN=${SMTPSCOPE_BIN:-build/smtpscope-san}
update=0
if [ "$1" = "--update" ]; then
	update=1
	shift
fi
mkdir -p tests/golden build/golden
export TZ=UTC
if [ $update = 1 ] && [ -z "$SMTPSCOPE_BIN" ] &&
   [ -n "$(find src include -newer "$BIN" -name '*.[ch]' 2>/dev/null)" ]; then
	echo "golden.sh: $BIN is older than the sources: make $BIN first" >&2
	exit 1
fi
status=0
grep -v '^#' tests/TESTLIST | {
while read -r name pcap opts; do
	[ -n "$name" ] || continue
	opts=${opts%%#*} # the row's intent
	if [ $# -gt 0 ]; then
		want=0
		for n in "$@"; do [ "$n" = "$name" ] && want=1; done
		[ $want = 1 ] || continue
	fi
	out=build/golden/$name.out
	err=build/golden/$name.err
	# shellcheck disable=SC2086
	"$BIN" -r "$pcap" $opts >"$out" 2>"$err"
	rc=$?
	if [ $update = 1 ]; then
		if [ $rc -ne 0 ]; then
			echo "NOT updated tests/golden/$name: exit status $rc"
			sed 's/^/    /' "$err" | head -20
			status=1
			continue
		fi
		cp "$out" "tests/golden/$name.out"
		if [ -s "$err" ]; then cp "$err" "tests/golden/$name.err"
		else rm -f "tests/golden/$name.err"; fi
		echo "updated tests/golden/$name"
		continue
	fi
	exp_err=tests/golden/$name.err
	[ -f "$exp_err" ] || exp_err=/dev/null
	if [ $rc -ne 0 ]; then
		echo "FAIL golden/$name: exit status $rc"; sed 's/^/    /' "$err" | head -20
	elif ! cmp -s "$out" "tests/golden/$name.out"; then
		echo "FAIL golden/$name: output differs"
		diff -u "tests/golden/$name.out" "$out" | head -20 | sed 's/^/    /'
	elif ! cmp -s "$err" "$exp_err"; then
		echo "FAIL golden/$name: stderr differs"
		diff -u "$exp_err" "$err" | head -10 | sed 's/^/    /'
	else
		echo "PASS golden/$name"
	fi
done
exit $status
}
