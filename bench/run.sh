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
#   BENCH_LOAD_RUNS     rounds of the load table (default 3)
#   BENCH_DEPTH_RUNS    rounds of the pipelining-depth curve (default 3)
#   BENCH_SIZE_RUNS     rounds of the message-size curve (default 3)
#   BENCH_1G=1          adds a 1 GB message to it (1 GB of disk while it runs)
#   BENCH_CONC_RUNS     rounds of the concurrency curve (default 1)
#   BENCH_CONC_MB       its file size in MB (default 700: 200,000 sessions)
#   BENCH_CONC_1M=1     adds 1,000,000 sessions at once (BENCH_CONC_1M_MB,
#                       default 3600: a 4 GB file and 10+ GB of memory)
#   BENCH_COMPETE_RUNS  rounds with and without a competing busy loop
#                       (default 3)

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
# BENCH_LOAD_RUNS times (default 3) by libnids alone and by smtpscope
# (no --memcap: the 100k open sessions would be shed by the default),
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
			--idle-timeout 0 --memcap 0
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

# ---- curves (issue 11): depth, size, concurrency, a competing process ----
# Each prints its table as it ends, and again at the end (curves.txt).
# time_once NAME CMD...: one run; "wall_s cpu_s maxrss_kb" to NAME.t
time_once() {
	tn=$1
	shift
	[ -f "$out/$tn.failed" ] && return 0
	if ! bench/runstat "$out/$tn.stat" "$@" >/dev/null 2>"$out/$tn.err"; then
		echo "   $tn: FAILED, see $out/$tn.err"
		tail -n 3 "$out/$tn.err" | sed 's/^/     /'
		: >"$out/$tn.failed"
		failed=1
		return 0
	fi
	echo "$(kv "$out/$tn.stat" wall_s) $(kv "$out/$tn.stat" cpu_s)" \
		"$(kv "$out/$tn.stat" maxrss_kb)" >>"$out/$tn.t"
}
# best NAME: "best-wall cpu-of-that-run peak-rss" of NAME.t ("- - -": none)
best() {
	if [ -s "$out/$1.t" ] && [ ! -f "$out/$1.failed" ]; then
		sort -n "$out/$1.t" | head -n 1 | cut -d' ' -f1,2 | tr '\n' ' '
		sort -n -k3 "$out/$1.t" | tail -n 1 | cut -d' ' -f3
	else
		echo "- - -"
	fi
}
fresh() {
	for fn in "$@"; do
		rm -f "$out/$fn.t" "$out/$fn.failed"
	done
}
: >"$out/curves.txt"
have_py=0
command -v python3 >/dev/null && have_py=1

# Pipelining depth: one session, M unanswered NOOPs (load-pcaps.py). The
# decoder's cost per command is smtpscope's time beyond the M=1 run's.
if [ "$have_smtpscope" = 1 ] && [ "$have_py" = 1 ]; then
	dr=${BENCH_DEPTH_RUNS:-3}
	echo "== depth: 1 session pipelining M unanswered NOOPs, best of $dr"
	for m in 1 100 10000 1000000; do
		[ -f "$out/depth-$m.pcap" ] ||
			python3 tools/craft/load-pcaps.py pipeline 1 "$m" \
				"$out/depth-$m.pcap" || failed=1
		fresh "depth-$m-nids" "depth-$m-ours"
		j=0
		while [ "$j" -lt "$dr" ]; do
			j=$((j + 1))
			time_once "depth-$m-nids" bench/nids_alone "$out/depth-$m.pcap"
			time_once "depth-$m-ours" "$smtpscope" -r "$out/depth-$m.pcap" \
				-o /dev/null
		done
		echo "$m $(best "depth-$m-nids") $(best "depth-$m-ours")"
	done >"$out/depth.txt"
	awk 'BEGIN { printf "%-10s %8s %8s %7s %14s %9s %9s\n", "commands",
		"nids s", "ours s", "x nids", "ours/command", "nids RSS",
		"ours RSS" }
	$2 == "-" || $5 == "-" { printf "%-10s FAILED\n", $1; next }
	{ if ($1 == 1) base = $5
	  per = $1 > 100 ? sprintf("%.3f us", ($5 - base) / ($1 - 1) * 1e6) : "-"
	  printf "%-10s %8.3f %8.3f %7.2f %14s %6.1f MB %6.1f MB\n", $1, $2,
		 $5, $5 / $2, per, $4 / 1024, $7 / 1024 }' "$out/depth.txt" |
		tee -a "$out/curves.txt"
	echo "(ours/command: the time beyond the 1-command run over the commands;" \
	     "target, issue 11: 1,000,000 within 10x libnids' time)" |
		tee -a "$out/curves.txt"
fi

# Message size: one session, one text/plain message of S bytes (bench/gen
# --single); BENCH_1G=1 adds 1 GB (1 GB of disk, a minute or two).
if [ "$have_smtpscope" = 1 ]; then
	sr=${BENCH_SIZE_RUNS:-3}
	sizes="1024 1048576 104857600"
	[ "${BENCH_1G:-0}" = 1 ] && sizes="$sizes 1073741824"
	echo "== size: 1 session, 1 message of S bytes, best of $sr"
	for sz in $sizes; do
		[ -f "$out/size-$sz.pcap" ] ||
			bench/gen "$out/size-$sz.pcap" --single "$sz" \
				2>"$out/size-$sz.gen.log" || failed=1
		cat "$out/size-$sz.pcap" >/dev/null
		fresh "size-$sz-nids" "size-$sz-ours"
		j=0
		while [ "$j" -lt "$sr" ]; do
			j=$((j + 1))
			time_once "size-$sz-nids" bench/nids_alone "$out/size-$sz.pcap"
			time_once "size-$sz-ours" "$smtpscope" -r "$out/size-$sz.pcap" \
				-o /dev/null
		done
		echo "$sz $(best "size-$sz-nids") $(best "size-$sz-ours")"
	done >"$out/size.txt"
	[ "${BENCH_1G:-0}" = 1 ] && rm -f "$out/size-1073741824.pcap"
	awk 'BEGIN { printf "%-12s %8s %8s %7s %12s %9s %9s\n", "bytes",
		"nids s", "ours s", "x nids", "ours/byte", "nids RSS",
		"ours RSS" }
	$2 == "-" || $5 == "-" { printf "%-12s FAILED\n", $1; next }
	{ if ($1 == 1024) base = $5
	  per = $1 > 1024 ? sprintf("%.2f ns", ($5 - base) / ($1 - 1024) * 1e9) : "-"
	  printf "%-12s %8.3f %8.3f %7.2f %12s %6.1f MB %6.1f MB\n", $1, $2,
		 $5, $5 / $2, per, $4 / 1024, $7 / 1024 }' "$out/size.txt" |
		tee -a "$out/curves.txt"
	echo "(ours/byte: the time beyond the 1 KB run over the bytes beyond it)" |
		tee -a "$out/curves.txt"
fi

# Concurrency: the same BENCH_CONC_MB (default 700: about 200,000 sessions
# of one 1 KB message each, bench/gen --msg-size 1024) with N sessions
# open at once. Both get the same libnids table (smtpscope --max-sessions
# 300000, or 1100000 for 1M; no --memcap: nothing shed). BENCH_CONC_1M=1 adds 1,000,000 at once
# (BENCH_CONC_1M_MB, default 3600: a 4 GB file, 10+ GB of memory).
if [ "$have_smtpscope" = 1 ]; then
	cr=${BENCH_CONC_RUNS:-1}
	cmb=${BENCH_CONC_MB:-700}
	ns="1000 10000 100000"
	[ "${BENCH_CONC_1M:-0}" = 1 ] && ns="$ns 1000000"
	echo "== concurrency: ${cmb} MB of 1 KB messages, N sessions at once, best of $cr"
	for n in $ns; do
		mb=$cmb max=300000
		if [ "$n" = 1000000 ]; then
			mb=${BENCH_CONC_1M_MB:-3600} max=1100000
		fi
		f="$out/conc-$n.pcap"
		st="$(bench/gen --version) $mb $n"
		if [ ! -f "$f" ] || [ "$(cat "$f.stamp" 2>/dev/null)" != "$st" ]; then
			bench/gen "$f" "$mb" --active "$n" --msg-size 1024 \
				2>"$f.gen.log" || failed=1
			echo "$st" >"$f.stamp"
		fi
		sess=$(kv "$f.gen.log" sessions)
		cat "$f" >/dev/null
		fresh "conc-$n-nids" "conc-$n-ours"
		j=0
		while [ "$j" -lt "$cr" ]; do
			j=$((j + 1))
			time_once "conc-$n-nids" bench/nids_alone "$f" \
				$((max + max / 3 + 16))
			time_once "conc-$n-ours" "$smtpscope" -r "$f" -o /dev/null \
				--max-sessions "$max" --memcap 0
		done
		[ "$n" = 1000000 ] && rm -f "$f" "$f.stamp"
		echo "$n $sess $(best "conc-$n-nids") $(best "conc-$n-ours")"
	done >"$out/conc.txt"
	awk 'BEGIN { printf "%-9s %8s %8s %8s %7s %10s %10s %7s %12s\n",
		"at once", "sessions", "nids s", "ours s", "x nids",
		"nids RSS", "ours RSS", "x RSS", "ours/session" }
	$3 == "-" || $6 == "-" { printf "%-9s FAILED\n", $1; next }
	{ own = ($8 - $5) * 1024
	  per = n0 ? sprintf("%.0f B", (own - own0) / ($1 - n0)) : "-"
	  if (!n0) { n0 = $1; own0 = own }
	  printf "%-9s %8s %8.2f %8.2f %7.2f %7.0f MB %7.0f MB %7.2f %12s\n",
		 $1, $2, $3, $6, $6 / $3, $5 / 1024, $8 / 1024, $8 / $5, per }' \
		"$out/conc.txt" | tee -a "$out/curves.txt"
	echo "(ours/session: smtpscope's RSS beyond libnids', its growth from the" \
	     "first row over the sessions added; targets, issue 11: at 100k," \
	     "time <= 2x and RSS <= 1.25x libnids alone)" | tee -a "$out/curves.txt"
fi

# A competing process: the main file, each command quiet and then with one
# busy shell loop on the machine (pinned nowhere), in rounds.
if [ "$have_smtpscope" = 1 ]; then
	kr=${BENCH_COMPETE_RUNS:-3}
	kn="nids ours inline noemail"
	echo "== competing process: $pcap, each command quiet and beside one busy loop, best of $kr"
	for c in $kn; do
		fresh "k-$c-quiet" "k-$c-busy"
	done
	kcmd() { # NAME: the command line of a contender
		case $1 in
		nids) echo bench/nids_alone "$pcap" ;;
		ours) echo "$smtpscope" -r "$pcap" -o /dev/null ;;
		inline) echo "$smtpscope" -r "$pcap" -o /dev/null --hash-inline ;;
		noemail) echo "$smtpscope" -r "$pcap" -o /dev/null --no-email ;;
		esac
	}
	tick=$(getconf CLK_TCK)
	ncpu=$(getconf _NPROCESSORS_ONLN)
	: >"$out/k-share.t"
	j=0
	while [ "$j" -lt "$kr" ]; do
		j=$((j + 1))
		for c in $kn; do
			# shellcheck disable=SC2046
			time_once "k-$c-quiet" $(kcmd "$c")
		done
		sh -c 'while :; do :; done' &
		spin=$!
		t0=$(date +%s.%N)
		for c in $kn; do
			# shellcheck disable=SC2046
			time_once "k-$c-busy" $(kcmd "$c")
		done
		t1=$(date +%s.%N)
		# the loop's share of the machine while the busy runs ran
		awk -v t0="$t0" -v t1="$t1" -v tick="$tick" -v n="$ncpu" \
			'{ printf "%.3f\n", ($14 + $15) / tick / (t1 - t0) / n }' \
			"/proc/$spin/stat" >>"$out/k-share.t" 2>/dev/null || true
		kill "$spin"
		wait "$spin" 2>/dev/null || true
	done
	for c in $kn; do
		echo "$c $(best "k-$c-quiet") $(best "k-$c-busy")"
	done >"$out/compete.txt"
	share=$(sort -n "$out/k-share.t" | awk '{ s[NR] = $1 } END { print NR ? s[int((NR + 1) / 2)] : 0 }')
	awk -v share="$share" '
	BEGIN { printf "%-22s %8s %8s %9s %9s %9s\n", "command", "quiet s",
		"busy s", "slowdown", "quiet cpu", "busy cpu"
		name["nids"] = "libnids alone"; name["ours"] = "smtpscope"
		name["inline"] = "smtpscope --hash-inline"
		name["noemail"] = "smtpscope --no-email" }
	$2 == "-" || $5 == "-" { printf "%-22s FAILED\n", name[$1]; next }
	{ printf "%-22s %8.3f %8.3f %8.2fx %8.2fs %8.2fs\n", name[$1], $2, $5,
		 $5 / $2, $3, $6
	  if ($1 == "nids") nslow = $5 / $2 }
	END { printf "busy loop: %.0f%% of the machine (median of rounds);", share * 100
	      printf " target, issue 11: smtpscope slowdown <= %.2fx", nslow + share
	      printf " (libnids alone'"'"'s plus that share)\n" }' \
		"$out/compete.txt" | tee -a "$out/curves.txt"
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
if [ -s "$out/curves.txt" ]; then
	echo
	echo "== curves (issue 11)"
	cat "$out/curves.txt"
fi
exit "$failed"
