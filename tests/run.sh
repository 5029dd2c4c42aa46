#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh - run every test suite and print one "N passed, N failed" line.
cd "$(dirname "$0")/.." || exit 1
export TZ=UTC
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
log=build/test.log
: >"$log"

crashed=0
suite() {
	echo "== $1" | tee -a "$log"
	shift
	"$@" >build/suite.out 2>&1
	rc=$?
	cat build/suite.out >>"$log"
	grep -av '^PASS' build/suite.out
	# a suite that stopped with an error without reporting a FAIL
	if [ $rc -ne 0 ] && ! grep -q '^FAIL' build/suite.out; then
		echo "suite exited with status $rc without reporting a failure"
		crashed=$((crashed + 1))
	fi
}

suite "decoder unit tests (ASan/UBSan)" build/test_smtp
suite "message parser unit tests (ASan/UBSan)" build/test_message
suite "hashing thread unit tests (ASan/UBSan)" build/test_hashq
suite "golden tests (ASan/UBSan)" sh tests/golden.sh
suite "memory: flat in message size, small per session and per pending command" sh tests/memory.sh ./smtpscope
suite "hashing thread: no race (TSan), same events either way" sh tests/threads.sh
alerts_doc() {
	if build/alerts-doc | cmp -s - docs/alerts.md; then
		echo "PASS docs/alerts-catalogue"
	else
		echo "FAIL docs/alerts-catalogue: docs/alerts.md differs from SMTP_ALERT_LIST (run make alerts-doc)"
	fi
}
suite "alert catalogue matches the code" alerts_doc
replies_doc() {
	if build/replies-doc | cmp -s - docs/replies.md; then
		echo "PASS docs/replies-table"
	else
		echo "FAIL docs/replies-table: docs/replies.md differs from src/smtp/smtp_replies.c (run make replies-doc)"
	fi
}
suite "reply meanings table matches the code" replies_doc
suite "man page and make install" sh tests/docs.sh
suite "module boundaries (docs/modules.md)" sh tests/boundaries.sh
suite "sources formatted (make format)" sh tests/format.sh
kafka() {
	build/kafka_check build/smtpscope-san pcaps/two-messages.pcap \
		"$(./smtpscope -r pcaps/two-messages.pcap | wc -l)"
}
suite "Kafka through librdkafka's mock cluster (ASan/UBSan)" kafka
suite "fuzz targets: every corpus input, then 20 s of fuzzing each" sh tests/fuzz.sh
for t in cli capture_hostile compressed conformance detect email_object extract live hostile load; do
	[ -f tests/$t.py ] && suite "$t tests (ASan/UBSan)" python3 tests/$t.py build/smtpscope-san
done

pass=$(grep -c '^PASS' "$log")
fail=$(( $(grep -c '^FAIL' "$log") + crashed ))
skip=$(grep -c '^SKIP' "$log")
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
