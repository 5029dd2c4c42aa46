#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/run.sh: times smtpscope against libnids alone on a generated pcap and checks its memory use.
#
# Run from anywhere (it works from the repository root); `make bench` runs it.
# It reports and never fails on speed; it exits 1 only if a command failed.
#
# Environment:
#   BENCH_SIZE_MB  size of bench/out/bench.pcap in MB (default 600, at least 500
#                  for a meaningful figure)
#   BENCH_RUNS     rounds of timed runs, each command once a round; the best
#                  time counts, and the parser's cost is the median of the
#                  rounds' ratios (default 7)
#   SMTPSCOPE      the binary to measure (default ./smtpscope)

set -eu
cd "$(dirname "$0")/.."

size_mb=${BENCH_SIZE_MB:-600}
runs=${BENCH_RUNS:-7}
smtpscope=${SMTPSCOPE:-./smtpscope}
out=bench/out
pcap=$out/bench.pcap
results=$out/results.txt
failed=0

mkdir -p "$out"
if command -v make >/dev/null 2>&1; then
	make -s -f bench/bench.mk bench-tools
fi
for t in bench/gen bench/nids_alone bench/runstat; do
	if [ ! -x "$t" ]; then
		echo "run.sh: $t is missing: make -f bench/bench.mk bench-tools" >&2
		exit 1
	fi
done

# key=value lookup in a file: kv FILE KEY
kv() {
	sed -n "s/.*\\<$2=\\([^ ]*\\).*/\\1/p" "$1" | tail -n 1
}

# ---- the capture ----
stamp="$(bench/gen --version) size_mb=$size_mb"
if [ -f "$pcap" ] && [ -f "$pcap.stamp" ] &&
   [ "$(cat "$pcap.stamp")" = "$stamp" ] && [ -f "$pcap.gen.log" ]; then
	echo "== reusing $pcap ($stamp)"
else
	echo "== generating $pcap ($size_mb MB, $stamp)"
	rm -f "$pcap" "$pcap.stamp" "$pcap.gen.log"
	# the stamp is written last: an interrupted run regenerates
	bench/runstat "$out/gen.stat" bench/gen "$pcap" "$size_mb" \
		2>"$pcap.gen.log"
	echo "$stamp" >"$pcap.stamp"
	gen_s=$(kv "$out/gen.stat" wall_s)
	gen_bytes=$(kv "$pcap.gen.log" file_bytes)
	awk -v s="$gen_s" -v b="$gen_bytes" 'BEGIN {
		printf "   generated %.1f MB in %.2f s: %.0f MB/s\n", b / 1e6, s, b / 1e6 / s }'
fi
sed 's/^/   /' "$pcap.gen.log"
file_bytes=$(wc -c <"$pcap" | tr -d ' ')
gen_sessions=$(kv "$pcap.gen.log" sessions)
gen_payload=$(kv "$pcap.gen.log" payload_bytes)
gen_packets=$(kv "$pcap.gen.log" packets)

# warm the page cache: every tool then reads the file from memory
cat "$pcap" >/dev/null

# run_once NAME CMD...: one timed run; "wall_s maxrss_kb" appended to NAME.times
run_once() {
	name=$1
	shift
	[ -f "$out/$name.failed" ] && return 0
	if ! bench/runstat "$out/$name.stat" "$@" >"$out/$name.out" \
		2>"$out/$name.err"; then
		code=$(kv "$out/$name.stat" exit)
		echo "   $name: FAILED (exit ${code:-?}), see $out/$name.err:"
		tail -n 5 "$out/$name.err" | sed 's/^/     /'
		: >"$out/$name.failed"
		failed=1
		return 0
	fi
	echo "$(kv "$out/$name.stat" wall_s) $(kv "$out/$name.stat" maxrss_kb)" \
		>>"$out/$name.times"
}

# summarize NAME: its times, best and peak RSS; "NAME best rss" to $results
summarize() {
	if [ -f "$out/$1.failed" ]; then
		echo "$1 FAILED 0" >>"$results"
		return 0
	fi
	awk -v name="$1" -v res="$results" '
		{ t = t sprintf(" %.3f", $1)
		  if (best == "" || $1 < best) best = $1
		  if ($2 > rss) rss = $2 }
		END { printf "   %s:%s s -> best %.3f s, peak RSS %d KB\n",
			     name, t, best, rss
		      print name, best, rss >>res }' "$out/$1.times"
}

have_smtpscope=0
[ -x "$smtpscope" ] && have_smtpscope=1
names="nids_alone"
[ "$have_smtpscope" = 1 ] &&
	names="$names smtpscope smtpscope_commands smtpscope_no_email"
: >"$results"
for n in $names; do
	rm -f "$out/$n.times" "$out/$n.failed"
done
# rounds of every command in turn: a machine that slows down for a while
# slows all of them, and a round's ratios stay fair
echo "== timing: $runs rounds of each command in turn, best counts (file in page cache)"
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	run_once nids_alone bench/nids_alone "$pcap"
	[ "$have_smtpscope" = 1 ] || continue
	run_once smtpscope "$smtpscope" -r "$pcap" -o /dev/null
	run_once smtpscope_commands "$smtpscope" -r "$pcap" -o /dev/null --commands
	# the decoder alone, without the message parser: its cost is the ratio
	run_once smtpscope_no_email "$smtpscope" -r "$pcap" -o /dev/null --no-email
done
for n in $names; do
	summarize "$n"
done
nids_line=$(cat "$out/nids_alone.out" 2>/dev/null || true)
echo "   nids_alone: $nids_line"
sed 's/^/   /' "$out/nids_alone.err" 2>/dev/null || true
n_packets=$(echo "$nids_line" | sed -n 's/.*packets=\([0-9]*\).*/\1/p')
n_sessions=$(echo "$nids_line" | sed -n 's/.*sessions=\([0-9]*\).*/\1/p')
n_bytes=$(echo "$nids_line" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
if [ -n "$n_bytes" ] && [ "$n_bytes" = "$gen_payload" ] &&
   [ "$n_sessions" = "$gen_sessions" ] && [ "$n_packets" = "$gen_packets" ]; then
	echo "   check: libnids saw every session, packet and payload byte the generator wrote"
else
	echo "   check: MISMATCH: generator wrote sessions=$gen_sessions packets=$gen_packets payload_bytes=$gen_payload"
fi
: "${n_packets:=$gen_packets}"
: "${n_sessions:=$gen_sessions}"
[ "$have_smtpscope" = 1 ] ||
	echo "   smtpscope: $smtpscope not found (build it with make): skipped"

# ---- memory: one session, 5 KB body against 5 MB body ----
# mem_line NAME CMD...: CMD is run with the pcap file appended
echo "== memory: one session with a 5 KB body, one with a 5 MB body"
bench/gen "$out/single-5k.pcap" --single 5120 2>"$out/single-5k.gen.log"
bench/gen "$out/single-5m.pcap" --single 5242880 2>"$out/single-5m.gen.log"
mem_line() {
	tool=$1
	shift
	r5k=- r5m=-
	if bench/runstat "$out/mem.stat" "$@" "$out/single-5k.pcap" >/dev/null \
		2>"$out/mem-5k.err"; then
		r5k=$(kv "$out/mem.stat" maxrss_kb)
	else
		failed=1
		echo "   $tool on single-5k.pcap FAILED, see $out/mem-5k.err"
	fi
	if bench/runstat "$out/mem.stat" "$@" "$out/single-5m.pcap" >/dev/null \
		2>"$out/mem-5m.err"; then
		r5m=$(kv "$out/mem.stat" maxrss_kb)
	else
		failed=1
		echo "   $tool on single-5m.pcap FAILED, see $out/mem-5m.err"
	fi
	echo "$tool $r5k $r5m" >>"$out/mem.txt"
	echo "   $tool: peak RSS $r5k KB (5 KB body), $r5m KB (5 MB body)"
}
: >"$out/mem.txt"
mem_line nids_alone bench/nids_alone
if [ "$have_smtpscope" = 1 ]; then
	mem_line smtpscope "$smtpscope" -o /dev/null -r
fi

# ---- load: concurrency and pipelining (issue 11) ----
# Captures from tools/craft/load-pcaps.py: N open sessions (banner, EHLO,
# then silence), and sessions pipelining unanswered NOOPs. Each is run
# BENCH_LOAD_RUNS times (default 3) by libnids alone and by smtpscope,
# best time and peak RSS counting; smtpscope's memory per session is its
# peak RSS less libnids' on the same file, over the sessions.
load_runs=${BENCH_LOAD_RUNS:-3}
: >"$out/load.txt"
load_case() { # NAME GENERATOR-ARGS...
	lc=$1
	shift
	if [ ! -f "$out/load-$lc.pcap" ]; then
		python3 tools/craft/load-pcaps.py "$@" "$out/load-$lc.pcap" ||
			{ failed=1; return 0; }
	fi
	for tool in nids smtpscope; do
		rm -f "$out/load-$lc-$tool.times" "$out/load-$lc-$tool.failed"
	done
	j=0
	while [ "$j" -lt "$load_runs" ]; do
		j=$((j + 1))
		run_once "load-$lc-nids" bench/nids_alone "$out/load-$lc.pcap"
		[ "$have_smtpscope" = 1 ] && run_once "load-$lc-smtpscope" \
			"$smtpscope" -r "$out/load-$lc.pcap" -o /dev/null \
			--idle-timeout 0
	done
	best() { sort -n "$out/load-$lc-$1.times" | head -n 1; }
	peak() { sort -n -k2 "$out/load-$lc-$1.times" | tail -n 1 | cut -d' ' -f2; }
	[ -f "$out/load-$lc-smtpscope.times" ] || return 0
	echo "$lc $(best nids | cut -d' ' -f1) $(peak nids)" \
		"$(best smtpscope | cut -d' ' -f1) $(peak smtpscope) $2" >>"$out/load.txt"
}
if [ "$have_smtpscope" = 1 ] && command -v python3 >/dev/null; then
	echo "== load: open sessions and unanswered pipelined commands, $load_runs rounds each"
	load_case open-1 open 1
	load_case open-1k open 1000
	load_case open-10k open 10000
	load_case open-100k open 100000
	load_case noops-1x1m pipeline 1 1000000
	load_case noops-1kx4100 pipeline 1000 4100
fi

# ---- summary ----
echo
echo "== summary: $pcap, $(awk -v b="$file_bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }'), $n_packets packets, $n_sessions sessions"
awk -v bytes="$file_bytes" -v pkts="$n_packets" -v sess="$n_sessions" '
	BEGIN {
		printf "%-20s %9s %9s %10s %9s %9s %10s\n", "command", "best s",
		       "MB/s", "kpkt/s", "sess/s", "vs nids", "peak RSS"
	}
	$2 == "FAILED" {
		printf "%-20s %9s\n", $1, "FAILED"
		next
	}
	{
		if ($1 == "nids_alone")
			base = $2
		ratio = base > 0 ? sprintf("%.2f", base / $2) : "-"
		printf "%-20s %9.3f %9.1f %10.1f %9.0f %9s %7.1f MB\n", $1, $2,
		       bytes / 1e6 / $2, pkts / 1e3 / $2, sess / $2, ratio,
		       $3 / 1024
	}' "$results"
echo "(vs nids: speed of the command over the speed of libnids alone;"
echo " smtpscope_commands is smtpscope --commands, smtpscope_no_email"
echo " is smtpscope --no-email: the decoder without the message parser)"
# the parser's cost: the median of the rounds' ratios (each round ran
# both commands within seconds), and the ratio of the best times
if [ -s "$out/smtpscope.times" ] && [ -s "$out/smtpscope_no_email.times" ]; then
	paste -d ' ' "$out/smtpscope.times" "$out/smtpscope_no_email.times" |
		awk '{ print $1 / $3 }' | sort -n |
		awk -v res="$results" '{ r[NR] = $1 }
		END {
			m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
			while ((getline l < res) > 0) {
				split(l, f, " ")
				if (f[1] == "smtpscope") t = f[2]
				if (f[1] == "smtpscope_no_email") d = f[2]
			}
			printf "message parser cost: smtpscope takes %.2fx the time of --no-email", m
			printf " (median of %d rounds, %.2fx to %.2fx; %.2fx on best times;", NR, r[1], r[NR], t / d
			printf " target: at most 1.15x)\n"
		}'
fi
if [ -s "$out/load.txt" ]; then
	echo
	echo "== load (best of $load_runs; ours/session: smtpscope's peak RSS less libnids', per session, beyond one session's)"
	awk '
		BEGIN { printf "%-14s %9s %9s %7s %11s %11s %12s\n", "capture",
			"nids s", "ours s", "x nids", "nids RSS", "ours RSS",
			"ours/session" }
		$1 == "open-1" { base = $5 - $3 }
		{ per = "-"
		  if ($1 ~ /^open-/ && $1 != "open-1" && $6 > 1)
			per = sprintf("%.0f B", (($5 - $3) - base) * 1024 / $6)
		  printf "%-14s %9.3f %9.3f %7.2f %8.1f MB %8.1f MB %12s\n",
			 $1, $2, $4, $4 / $2, $3 / 1024, $5 / 1024, per }' \
		"$out/load.txt"
	echo "(targets, issue 11: 100k open sessions within 2x libnids' time and"
	echo " its RSS + 25%; at most 2 KiB a session; 1,000 x 4,100 NOOPs under"
	echo " 256 MiB; 1,000,000 NOOPs within 10x libnids' time)"
fi
awk '{ printf "peak RSS %-12s 5 KB body: %s KB   5 MB body: %s KB", $1, $2, $3
	if ($2 != "-" && $3 != "-")
		printf "   (%+d KB)", $3 - $2
	printf "\n" }' "$out/mem.txt"
exit "$failed"
