/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_smtp.c - libFuzzer harness: arbitrary dialogues into smtp_feed(). */
#include <stdint.h>
#include <string.h>

#include "message.h"
#include "smtp.h"

static void on_command(void *u, const struct smtp_cmd *c)
{
	(void)u;
	/* touch every byte the decoder hands out: an over-read trips ASan */
	volatile size_t n = strlen(c->verb) + strlen(c->arg) + c->line_len;
	(void)n;
}

static void on_reply(void *u, const struct smtp_cmd *c,
		     const struct smtp_reply *r)
{
	volatile size_t n = strlen(r->text) + strlen(r->raw) + strlen(c->arg);

	(void)u;
	(void)n;
}

static void on_alert(void *u, const struct smtp_alert *a)
{
	volatile size_t n = a->detail ? strlen(a->detail) : 0;

	(void)u;
	(void)n;
}

static void on_part_data(void *u, const struct smtp_txn *t,
			 const struct msg_part *p, unsigned index,
			 const uint8_t *d, size_t n)
{
	volatile uint8_t x = n ? d[0] ^ d[n - 1] : 0;

	(void)u;
	(void)t;
	(void)p;
	(void)index;
	(void)x;
}

static void on_part_end(void *u, const struct smtp_txn *t,
			const struct msg_part *p, unsigned index)
{
	volatile uint8_t x = p->sha256[0] ^ p->sha256[31];

	(void)u;
	(void)t;
	(void)index;
	(void)x;
}

/* the message parser's results, digests included */
static void on_transaction(void *u, const struct smtp_txn *t)
{
	const struct msg_part *p;
	volatile size_t n = 0, i, k;

	(void)u;
	if (!t->msg)
		return;
	k = msg_parts(t->msg, &p);
	for (i = 0; i < k; i++)
		n += strlen(p[i].type) + p[i].sha256[i % 32];
}

static const struct smtp_callbacks cbs = {
    .command = on_command,
    .reply = on_reply,
    .part_data = on_part_data,
    .part_end = on_part_end,
    .alert = on_alert,
    .transaction = on_transaction,
};

/*
 * Input: a stream of records, each one byte of header (bit 7: server
 * side, bit 6: a gap instead of data; bits 0-5: length) and its bytes.
 * The first byte picks the session options.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_options o = {.ts_start = -1};
	struct smtp_session *s;
	size_t i = 1;
	int64_t ts = 1;

	if (!size)
		return 0;
	o.midstream = data[0] & 1;
	o.show_auth_user = data[0] & 2;
	o.max_recipients = data[0] & 4 ? 2 : 0;
	o.max_pending = data[0] & 8 ? 2 : 0;
	o.auth_failures = data[0] & 16 ? 1 : 0;
	o.part_content = data[0] & 32;
	s = smtp_session_new(&cbs, NULL, &o);
	while (i < size) {
		uint8_t h = data[i++];
		size_t n = h & 63;
		enum smtp_dir dir =
		    h & 128 ? SMTP_FROM_SERVER : SMTP_FROM_CLIENT;

		if (n > size - i)
			n = size - i;
		if (h & 64)
			smtp_gap(s, dir, n, ts);
		else
			smtp_feed(s, dir, data + i, n, ts);
		i += n;
		ts += 7;
	}
	smtp_end(s, SMTP_CLOSE_EOF, ts);
	smtp_session_free(s);
	return 0;
}
