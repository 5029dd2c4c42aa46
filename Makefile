# SPDX-License-Identifier: GPL-2.0-or-later
# Makefile - build smtpscope, run the demo, the tests and the benchmark.

CC ?= cc
PKGS := libpcap nettle hiredis rdkafka zlib libzstd liblz4
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# The tests read events back with json-c; smtpscope writes them itself.
JSONC_CFLAGS = $(shell pkg-config --cflags json-c 2>/dev/null)
JSONC_LIBS = $(shell pkg-config --libs json-c 2>/dev/null)
# libnids has no pkg-config file; Debian's libnids.so records its own needs.
NIDS_LIBS = -lnids

# -Werror in the builds make check makes, not in a user's plain build (a
# newer compiler may warn where ours does not).
WERROR ?=
WARN := -Wall -Wextra $(WERROR)
# header dependencies: build/*.d, read at the end
DEPFLAGS := -MMD -MP
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) -Iinclude $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS = $(NIDS_LIBS) $(PKG_LIBS) -pthread

# The test build: sanitizers on, no optimisation games.
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g $(SAN) -Iinclude $(PKG_CFLAGS)

# The race check: ThreadSanitizer on the hashing thread's hand-overs.
TSAN_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g -fsanitize=thread -Iinclude $(PKG_CFLAGS)

# src/ holds main, options and the shared pieces; each module its folder
# (docs/modules.md); public headers are in include/, private ones next to
# their module's sources.
MODULES := capture reassembly smtp message event output
SRCS := $(wildcard src/*.c $(MODULES:%=src/%/*.c))
OBJS := $(SRCS:src/%.c=build/%.o)
SAN_OBJS := $(SRCS:src/%.c=build/san/%.o)
TSAN_OBJS := $(SRCS:src/%.c=build/tsan/%.o)
LIB_SAN_OBJS := $(filter-out build/san/main.o,$(SAN_OBJS))
HDRS := $(wildcard include/*.h src/*.h $(MODULES:%=src/%/*.h))

.PHONY: all build-deps deps demo check check-build golden clean format bench alerts-doc replies-doc fuzz install

# A plain make builds and never installs: it only says what is missing.
all: build-deps smtpscope

build-deps:
	@sh tools/deps.sh --check

deps:
	@sh tools/deps.sh

smtpscope: $(OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LIBS)

# The flags the objects were built with: a change (WERROR, CFLAGS)
# rebuilds them.
build/flags: FORCE | build
	@echo '$(ALL_CFLAGS)' | cmp -s - $@ || echo '$(ALL_CFLAGS)' >$@

.PHONY: FORCE
FORCE:

build/%.o: src/%.c build/flags | build
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

build/san/%.o: src/%.c | build
	$(CC) $(SAN_CFLAGS) $(DEPFLAGS) -c -o $@ $<

build/tsan/%.o: src/%.c | build
	$(CC) $(TSAN_CFLAGS) $(DEPFLAGS) -c -o $@ $<

build:
	@for d in . san tsan; do mkdir -p $(MODULES:%=build/$$d/%); done

build/tsan: build

build/smtpscope-san: $(SAN_OBJS)
	$(CC) $(SAN) -o $@ $(SAN_OBJS) $(LIBS)

build/smtpscope-tsan: $(TSAN_OBJS)
	$(CC) -fsanitize=thread -o $@ $(TSAN_OBJS) $(LIBS)

build/test_%: tests/test_%.c $(LIB_SAN_OBJS)
	$(CC) $(SAN_CFLAGS) $(JSONC_CFLAGS) $(DEPFLAGS) -o $@ $< \
		$(LIB_SAN_OBJS) $(LIBS) $(JSONC_LIBS)

build/kafka_check: tests/kafka_check.c | build
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O1 -g -o $@ tests/kafka_check.c \
		$(shell pkg-config --libs rdkafka)

build/alerts-doc: tools/alerts-doc.c include/smtp.h | build
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ tools/alerts-doc.c

alerts-doc: build/alerts-doc
	build/alerts-doc >docs/alerts.md

build/replies-doc: tools/replies-doc.c build/smtp/smtp_replies.o | build
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ tools/replies-doc.c \
		build/smtp/smtp_replies.o

replies-doc: build/replies-doc
	build/replies-doc >docs/replies.md

PREFIX ?= /usr/local
DESTDIR ?=

OPTIONS_DOC_OBJS := build/options.o build/util.o build/smtp/smtp_replies.o
build/options-doc: tools/options-doc.c $(OPTIONS_DOC_OBJS) | build
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ tools/options-doc.c \
		$(OPTIONS_DOC_OBJS)

# the option and alert lists come from the code's tables
build/smtpscope.8: dist/smtpscope.8.in build/alerts-doc build/options-doc
	build/alerts-doc --man >build/alerts.man
	build/options-doc >build/options.man
	sed -e '/^ALERT_LIST$$/{r build/alerts.man' -e 'd}' \
		-e '/^OPTION_LIST$$/{r build/options.man' -e 'd}' \
		dist/smtpscope.8.in >$@

install: smtpscope build/smtpscope.8
	install -D -m 0755 smtpscope $(DESTDIR)$(PREFIX)/sbin/smtpscope
	install -D -m 0644 build/smtpscope.8 \
		$(DESTDIR)$(PREFIX)/share/man/man8/smtpscope.8
	install -D -m 0644 docs/alerts.md \
		$(DESTDIR)$(PREFIX)/share/doc/smtpscope/alerts.md
	sed 's|/usr/local/sbin|$(PREFIX)/sbin|' dist/smtpscope.service \
		>build/smtpscope.service
	install -D -m 0644 build/smtpscope.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/smtpscope.service
	install -D -m 0644 dist/smtpscope.logrotate \
		$(DESTDIR)/etc/logrotate.d/smtpscope
	test -e $(DESTDIR)/etc/default/smtpscope || install -D -m 0644 \
		dist/smtpscope.default $(DESTDIR)/etc/default/smtpscope
	install -D -m 0644 dist/filebeat.yml \
		$(DESTDIR)$(PREFIX)/share/doc/smtpscope/filebeat.yml
	install -D -m 0644 dist/vector.toml \
		$(DESTDIR)$(PREFIX)/share/doc/smtpscope/vector.toml

# demo and check install what they need (as root), before building
demo: deps
	@$(MAKE) --no-print-directory smtpscope
	@sh tools/demo.sh

check: deps
	@$(MAKE) --no-print-directory WERROR=-Werror check-build
	@sh tests/run.sh

check-build: smtpscope build/smtpscope-san build/smtpscope-tsan \
	build/test_smtp build/test_message build/test_hashq build/alerts-doc \
	build/replies-doc \
	build/smtpscope.8 build/kafka_check bench-tools fuzz-bins

golden: deps build/smtpscope-san
	@sh tests/golden.sh --update

# libFuzzer (clang) with ASan and UBSan: the decoder, the message parser,
# and capture files through the whole pipeline. make check replays each
# corpus and fuzzes each target briefly (tests/fuzz.sh); make fuzz-long
# fuzzes them for FUZZ_SECONDS each, in parallel with -j.
FUZZ_SECONDS ?= 120
FUZZ_TARGETS := smtp message capture
FUZZ_BINS := $(FUZZ_TARGETS:%=build/fuzz_%)
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	$(PKG_CFLAGS)
MESSAGE_SRCS := $(wildcard src/message/*.c) src/util.c
DECODER_SRCS := $(wildcard src/smtp/*.c) src/hashq.c $(MESSAGE_SRCS)
PIPELINE_SRCS := $(filter-out src/main.c,$(SRCS))
HAVE_CLANG = command -v clang >/dev/null || { echo "the fuzz targets" \
	"need clang and libFuzzer: sh tools/deps.sh"; exit 1; }

build/fuzz_smtp: tests/fuzz_smtp.c $(DECODER_SRCS) $(HDRS) | build
	@$(HAVE_CLANG)
	clang $(FUZZ_CFLAGS) -o $@ tests/fuzz_smtp.c $(DECODER_SRCS) \
		$(shell pkg-config --libs nettle) -pthread

build/fuzz_message: tests/fuzz_message.c $(MESSAGE_SRCS) $(HDRS) | build
	@$(HAVE_CLANG)
	clang $(FUZZ_CFLAGS) $(JSONC_CFLAGS) -o $@ tests/fuzz_message.c \
		$(MESSAGE_SRCS) $(shell pkg-config --libs nettle) $(JSONC_LIBS)

build/fuzz_capture: tests/fuzz_capture.c $(PIPELINE_SRCS) $(HDRS) | build
	@$(HAVE_CLANG)
	clang $(FUZZ_CFLAGS) -o $@ tests/fuzz_capture.c $(PIPELINE_SRCS) \
		$(LIBS)

# for check: without clang and libFuzzer the fuzz suite says SKIP, giving
# the reason written to build/fuzz-skip (tests/fuzz.sh)
FUZZ_PROBE = 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }'
fuzz-bins: | build
	@rm -f build/fuzz-skip; \
	if ! command -v clang >/dev/null; then \
		echo "clang is not installed (sh tools/deps.sh as root)" \
			>build/fuzz-skip; \
	elif ! echo $(FUZZ_PROBE) | clang -x c -fsanitize=fuzzer \
		-o build/fuzz-probe - 2>/dev/null; then \
		echo "clang cannot link libFuzzer (libclang-rt-14-dev:" \
			"sh tools/deps.sh as root)" >build/fuzz-skip; \
	else \
		$(MAKE) --no-print-directory $(FUZZ_BINS); \
	fi; rm -f build/fuzz-probe; \
	if [ -f build/fuzz-skip ]; then echo "fuzz: skipped:" \
		"$$(cat build/fuzz-skip)"; fi

.PHONY: fuzz-bins fuzz-long $(FUZZ_TARGETS:%=fuzz-long-%)

fuzz: fuzz-long

fuzz-long: $(FUZZ_TARGETS:%=fuzz-long-%)

$(FUZZ_TARGETS:%=fuzz-long-%): fuzz-long-%: build/fuzz_%
	@mkdir -p build/fuzz-corpus/$* build/fuzz-findings
	build/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-artifact_prefix=build/fuzz-findings/$*- \
		build/fuzz-corpus/$* tests/fuzz/$* tests/fuzz/regressions/$*

format:
	clang-format -i src/*.c $(MODULES:%=src/%/*.[ch]) include/*.h tests/*.c \
		tools/*.c bench/*.c

clean:
	rm -rf build smtpscope

-include $(wildcard build/*.d build/*/*.d build/san/*/*.d build/tsan/*/*.d)

-include bench/bench.mk
