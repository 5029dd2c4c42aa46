#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fuzz.sh - replay each fuzz target's corpus and regressions, then fuzz it briefly.
#
# usage: tests/fuzz.sh [SECONDS]   (per target; default 20, FUZZ_CHECK_SECONDS)
# For each of build/fuzz_{smtp,message,capture}: every input of
# tests/fuzz/<target>/ and tests/fuzz/regressions/<target>/ is run once,
# then libFuzzer mutates from them with a fixed seed for SECONDS. Prints
# "PASS fuzz/<target>-replay", "PASS fuzz/<target>" or "FAIL ...: why", with
# the input that failed kept under build/fuzz-findings/; "SKIP" when make
# fuzz-bins could not build the targets (no clang or no libFuzzer: its
# reason is in build/fuzz-skip).
cd "$(dirname "$0")/.." || exit 1
secs=${1:-${FUZZ_CHECK_SECONDS:-20}}
found=build/fuzz-findings
work=build/fuzz-work
mkdir -p "$found"
failed=0
for t in smtp message capture; do
	bin=build/fuzz_$t
	# make fuzz-bins says why it built nothing
	if [ -f build/fuzz-skip ]; then
		echo "SKIP fuzz/$t: $(cat build/fuzz-skip)"
		continue
	fi
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz/$t: $bin not built (make fuzz-bins)"
		failed=1
		continue
	fi
	corpus=tests/fuzz/$t
	regress=tests/fuzz/regressions/$t
	mkdir -p "$regress"
	log=build/fuzz-$t.log
	# 1. every committed input once: no mutation, no time limit
	if "$bin" -runs=0 -timeout=10 -artifact_prefix="$found/$t-" \
		"$corpus" "$regress" >"$log" 2>&1; then
		echo "PASS fuzz/$t-replay ($(find "$corpus" "$regress" -type f | wc -l) inputs)"
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
		echo "FAIL fuzz/$t-replay: a committed input fails:" \
			"$(grep -m1 -E 'ERROR|runtime error|Sanitizer|timeout' "$log")" \
			"(input: ${art:-see $log})"
		failed=1
		continue
	fi
	# 2. fuzz from them, new inputs in a scratch directory, fixed seed
	rm -rf "${work:?}/$t"
	mkdir -p "$work/$t"
	if "$bin" -seed=1 -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 \
		-artifact_prefix="$found/$t-" "$work/$t" "$corpus" "$regress" \
		>"$log" 2>&1; then
		echo "PASS fuzz/$t ($(sed -n 's/^stat::number_of_executed_units: *//p' "$log") runs in $secs s)"
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
		echo "FAIL fuzz/$t: $(grep -m1 -E 'ERROR|runtime error|Sanitizer|timeout' "$log")" \
			"(input: ${art:-see $log}; once fixed, add it to $regress/)"
		failed=1
	fi
done
exit $failed
