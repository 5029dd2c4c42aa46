#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# golden.sh - run every TESTLIST capture and compare with the reviewed output.
# usage: tests/golden.sh [--update]   (run from the repository root)
BIN=${SMTPSCOPE_BIN:-build/smtpscope-san}
update=0
[ "$1" = "--update" ] && update=1
mkdir -p tests/golden build/golden
export TZ=UTC
grep -v '^#' tests/TESTLIST | while read -r name pcap opts; do
	[ -n "$name" ] || continue
	out=build/golden/$name.out
	err=build/golden/$name.err
	# shellcheck disable=SC2086
	"$BIN" -r "$pcap" $opts >"$out" 2>"$err"
	rc=$?
	if [ $update = 1 ]; then
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
