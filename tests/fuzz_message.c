/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_message.c - libFuzzer harness: message bytes to the email object. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "message_json.h"
#include "util.h"

static void on_data(void *u, const struct msg_part *p, unsigned index,
		    const uint8_t *d, size_t n)
{
	/* touch what the parser hands out: an over-read trips ASan */
	volatile uint8_t x = n ? d[0] ^ d[n - 1] : 0;

	(void)u;
	(void)index;
	(void)x;
	(void)strlen(p->type);
}

static void on_end(void *u, const struct msg_part *p, unsigned index)
{
	volatile uint8_t x = p->sha256[index % 32];

	(void)u;
	(void)x;
}

/*
 * One input is one message as the server received it (dot-stuffing
 * removed). It is fed in pieces of changing sizes, since the parser must
 * not depend on the split; an odd-sized input runs with tiny caps, so
 * that every limit is reached, and other bits of the size choose the
 * content hooks, a cut message and a queue id.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct msg_limits tiny = {.header_bytes = 256,
					       .field_bytes = 64,
					       .depth = 3,
					       .parts = 4,
					       .addresses = 3,
					       .received = 2,
					       .urls = 2,
					       .alerts = 2};
	struct msg_hooks h = {.data = on_data, .end = on_end};
	struct msg *m = msg_new(size & 1 ? &tiny : NULL);
	static struct jw w;
	struct json_tokener *tok;
	struct json_object *o;
	size_t off = 0, n, step = 1;

	if (size & 8)
		msg_set_hooks(m, &h);
	while (off < size) {
		n = size - off < step ? size - off : step;
		msg_feed(m, data + off, n);
		off += n;
		step = step * 7 % 4093 + 1;
	}
	msg_end(m, !(size & 2));
	msg_check_from(m, "sender@example.org");
	msg_render(m);
	jw_reset(&w);
	msg_email_write(&w, NULL, m, size & 4 ? "4XyZ" : NULL);
	/* whatever the message, the object is strict JSON in UTF-8 */
	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, w.b.p, (int)w.b.len);
	if (!o || json_tokener_get_parse_end(tok) != w.b.len)
		abort();
	json_object_put(o);
	json_tokener_free(tok);
	msg_free(m);
	return 0;
}
