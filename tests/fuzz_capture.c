/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_capture.c - libFuzzer harness: capture file bytes to JSON events. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "authwatch.h"
#include "capture.h"
#include "event.h"
#include "output.h"
#include "reassembly.h"

/* What main() would set up with --commands --session-transcript -T. */
static struct ev_ctx ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	if (out_add(&ctx.sinks, "file:/dev/null", err) < 0 ||
	    !(ctx.transcript = fopen("/dev/null", "w"))) {
		fprintf(stderr, "fuzz_capture: cannot open /dev/null\n");
		abort();
	}
	ctx.commands = true;
	ctx.session_transcript = true;
	return 0;
}

/*
 * One input is one capture file (pcap or pcapng, compressed or not), read
 * from memory by the same code as smtpscope -r, then reassembled and
 * decoded. libnids is global: rs_init() and rs_finish() set it up and tear
 * it down for each input (nids_init() after nids_exit() starts from an
 * empty flow table).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t ports[] = {25, 465, 587, 2525};
	struct cap_options co = {.file = "fuzz", .snaplen = 262144, .quiet = 1};
	struct rs_options ro = {.max_sessions = 64,
				.idle_timeout = INT64_C(300000000),
				.tls_port = 465};
	char err[CAP_ERRBUF];
	struct cap *c;
	size_t i;

	if (size < 4)
		return 0;
	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		ro.ports[ro.n_ports++] = ports[i];
	ro.smtp.ts_start = -1;
	ro.smtp.message_at_body_end = true; /* as with -T */
	/* content detection and tunnel stepping for half the inputs */
	ro.detect = data[size - 1] & 1;
	co.fp = fmemopen((void *)data, size, "rb");
	if (!co.fp)
		return 0;
	c = cap_open(&co, err); /* it owns co.fp, even on failure */
	if (!c)
		return 0;
	ctx.aw = aw_new(5, INT64_C(600000000));
	if (rs_init(&ro, &ctx, err) < 0) {
		fprintf(stderr, "fuzz_capture: %s\n", err);
		abort();
	}
	cap_run(c, rs_packet, NULL, NULL, err);
	rs_finish(SMTP_CLOSE_EOF);
	cap_close(c);
	aw_free(ctx.aw);
	ctx.aw = NULL;
	out_flush(ctx.sinks);
	fflush(ctx.transcript);
	return 0;
}
