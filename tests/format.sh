#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# format.sh - every C source and header is as clang-format (.clang-format) writes it.
#
# make format rewrites them. clang-format 14 (Debian 12) is the reference:
# another version may format some lines otherwise, so without it the
# check is skipped, not failed.
cd "$(dirname "$0")/.." || exit 1
cf=$(command -v clang-format-14 || command -v clang-format)
if [ -z "$cf" ] || ! "$cf" --version | grep -q 'version 14\.'; then
	echo "SKIP format/sources: clang-format 14 is not installed (sh tools/deps.sh)"
	exit 0
fi
bad=0
for f in src/*.c src/*/*.[ch] include/*.h tests/*.c tools/*.c bench/*.c; do
	if ! "$cf" "$f" | cmp -s - "$f"; then
		echo "FAIL format/$f: not as clang-format writes it (make format)"
		"$cf" "$f" | diff -u "$f" - | head -12 | sed 's/^/    /'
		bad=1
	fi
done
[ $bad = 1 ] || echo "PASS format/sources"
