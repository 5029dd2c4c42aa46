# SPDX-License-Identifier: GPL-2.0-or-later
# bench/bench.mk: Makefile fragment (include it from the main Makefile) for the benchmark tools.
#
#   make bench        build smtpscope and the tools, then run bench/run.sh
#   make bench-tools  build bench/gen, bench/nids_alone and bench/runstat only
#   make bench-clean  remove the tools and bench/out/
#
# It also works alone: make -f bench/bench.mk (builds the tools)
# Paths are relative to the repository root. The default goal of the
# including Makefile is left as it was.

BENCH_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

BENCH_CC ?= $(CC)
BENCH_CFLAGS ?= -O2 -Wall -Wextra -Werror
BENCH_PCAP_CFLAGS := $(shell pkg-config --cflags libpcap 2>/dev/null)
BENCH_PCAP_LIBS := $(shell pkg-config --libs libpcap 2>/dev/null || echo -lpcap)
# Debian's libnids.so records its own dependencies (libnet, glib, gthread),
# so -lnids plus libpcap is enough to link against the shared library.
BENCH_NIDS_LIBS ?= -lnids $(BENCH_PCAP_LIBS)

BENCH_TOOLS := bench/gen bench/nids_alone bench/runstat

bench/gen: bench/gen.c
	$(BENCH_CC) $(BENCH_CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o $@ $<

bench/runstat: bench/runstat.c
	$(BENCH_CC) $(BENCH_CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o $@ $<

bench/nids_alone: bench/nids_alone.c
	$(BENCH_CC) $(BENCH_CFLAGS) $(CPPFLAGS) $(BENCH_PCAP_CFLAGS) $(LDFLAGS) \
		-o $@ $< $(BENCH_NIDS_LIBS)

.PHONY: bench bench-tools bench-clean

bench-tools: $(BENCH_TOOLS)

bench: smtpscope $(BENCH_TOOLS)
	sh bench/run.sh

bench-clean:
	rm -f $(BENCH_TOOLS)
	rm -rf bench/out

ifeq ($(firstword $(MAKEFILE_LIST)),bench/bench.mk)
.DEFAULT_GOAL := bench-tools
else
.DEFAULT_GOAL := $(BENCH_SAVED_DEFAULT_GOAL)
endif
