/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message_json.c - the "email" object of an smtp_transaction event. */
#include "message_json.h"

#include <stdbool.h>
#include <string.h>

#include "message_int.h"
#include "util.h"

/*
 * The email object is written as text at once (util.h struct jw): it is
 * most of an event.
 */

static void add_strs(struct jw *w, const char *key, char *const *v, size_t n)
{
	size_t i;

	if (!n)
		return;
	jw_open(w, key, '[');
	for (i = 0; i < n; i++)
		jw_str(w, NULL, v[i]);
	jw_close(w, ']');
}

/* {"address":[…]} and, for From, the first display name. */
static void add_addrs(struct jw *w, const struct msg *m, enum msg_hdr h,
		      const char *key)
{
	const struct msg_addr *a;
	size_t n = msg_addrs(m, h, &a), i;

	if (!n)
		return;
	jw_open(w, key, '{');
	jw_open(w, "address", '[');
	for (i = 0; i < n; i++)
		jw_str(w, NULL, a[i].address);
	jw_close(w, ']');
	if (h == MSG_HDR_FROM && a[0].name[0])
		jw_str(w, "display_name", a[0].name);
	jw_close(w, '}');
}

/* The envelope's format (util.h format_time), to the second. */
static void iso_time(char *out, size_t n, int64_t ts)
{
	format_time(out, n, ts / 1000000 * 1000000);
}

static void part_json(struct jw *w, const struct msg_part *p)
{
	char hex[65];

	jw_open(w, NULL, '{');
	jw_str(w, "type", p->type);
	jw_str(w, "charset", p->charset);
	jw_str(w, "encoding", p->encoding);
	jw_str(w, "disposition", p->disposition);
	jw_str(w, "name", p->filename);
	jw_int(w, "depth", p->depth);
	jw_int(w, "parent", p->parent);
	if (p->leaf) {
		jw_int(w, "size", (int64_t)p->size);
		hex_encode(hex, p->sha256, 32);
		if (!p->truncated)
			jw_str(w, "sha256", hex);
	}
	if (p->truncated)
		jw_bool(w, "truncated", true);
	jw_close(w, '}');
}

static void attachment_json(struct jw *w, const struct msg_part *p)
{
	char hex[65];

	jw_open(w, NULL, '{');
	jw_open(w, "file", '{');
	jw_str(w, "name", p->filename);
	jw_str(w, "mime_type", p->type);
	jw_int(w, "size", (int64_t)p->size);
	if (!p->truncated) {
		jw_open(w, "hash", '{');
		hex_encode(hex, p->sha256, 32);
		jw_str(w, "sha256", hex);
		jw_close(w, '}');
	}
	jw_close(w, '}');
	if (p->executable)
		jw_bool(w, "executable", true);
	if (p->truncated)
		jw_bool(w, "truncated", true);
	jw_close(w, '}');
}

/* The members of the email object, into an open object. */
static void email_members(struct jw *w, const struct msg *m)
{
	const struct msg_part *parts;
	const char *raw, *xm;
	char *const *v;
	size_t n, i;
	char t[96];
	int64_t ts;

	add_addrs(w, m, MSG_HDR_FROM, "from");
	add_addrs(w, m, MSG_HDR_SENDER, "sender");
	add_addrs(w, m, MSG_HDR_REPLY_TO, "reply_to");
	add_addrs(w, m, MSG_HDR_TO, "to");
	add_addrs(w, m, MSG_HDR_CC, "cc");
	add_addrs(w, m, MSG_HDR_BCC, "bcc");
	jw_str(w, "subject", msg_subject(m));
	raw = msg_header(m, MSG_HDR_SUBJECT);
	if (raw && strcmp(raw, msg_subject(m)))
		jw_str(w, "subject_raw", raw);
	jw_str(w, "message_id", msg_header(m, MSG_HDR_MESSAGE_ID));
	if (msg_date(m, &ts)) {
		iso_time(t, sizeof(t), ts);
		jw_str(w, "origination_timestamp", t);
	} else {
		jw_str(w, "date", msg_header(m, MSG_HDR_DATE));
	}
	jw_str(w, "in_reply_to", msg_header(m, MSG_HDR_IN_REPLY_TO));
	if (msg_references_count(m))
		jw_int(w, "references_count", msg_references_count(m));
	jw_str(w, "return_path", msg_header(m, MSG_HDR_RETURN_PATH));
	xm = msg_header(m, MSG_HDR_X_MAILER);
	jw_str(w, "x_mailer", xm ? xm : msg_header(m, MSG_HDR_USER_AGENT));
	jw_str(w, "user_agent", msg_header(m, MSG_HDR_USER_AGENT));
	jw_str(w, "x_originating_ip", msg_header(m, MSG_HDR_X_ORIGINATING_IP));
	n = msg_multi(m, MSG_HDR_AUTH_RESULTS, &v);
	add_strs(w, "authentication_results", v, n);
	n = msg_multi(m, MSG_HDR_RECEIVED, &v);
	add_strs(w, "received", v, n);
	n = msg_path(m, &v);
	add_strs(w, "path", v, n);
	jw_int(w, "header_count", msg_header_count(m));
	jw_bool(w, "eight_bit", msg_8bit(m));
	n = msg_parts(m, &parts);
	if (n)
		jw_str(w, "content_type", parts[0].type);
	for (i = 0; i < n && !parts[i].attachment; i++)
		;
	if (i < n) {
		jw_open(w, "attachments", '[');
		for (; i < n; i++)
			if (parts[i].attachment)
				attachment_json(w, &parts[i]);
		jw_close(w, ']');
	}
	if (n) {
		jw_open(w, "parts", '[');
		for (i = 0; i < n; i++)
			part_json(w, &parts[i]);
		jw_close(w, ']');
	}
	n = msg_urls(m, &v);
	add_strs(w, "urls", v, n);
	if (msg_urls_dropped(m))
		jw_int(w, "urls_dropped", (int64_t)msg_urls_dropped(m));
}

void msg_render(struct msg *m)
{
	struct jw w = {0};

	w.b = m->json; /* rendered twice (msg_end() twice): same room */
	sb_reset(&w.b);
	sb_reserve(&w.b, 2048); /* one allocation, for most messages */
	jw_open(&w, NULL, '{');
	email_members(&w, m);
	jw_close(&w, '}');
	m->json = w.b;
}

void msg_email_write(struct jw *w, const char *key, const struct msg *m,
		     const char *local_id)
{
	if (m->json.len) { /* rendered: reopened to add local_id */
		jw_open_raw(w, key, m->json.p, m->json.len);
	} else {
		jw_open(w, key, '{');
		email_members(w, m);
	}
	jw_str(w, "local_id", local_id);
	jw_close(w, '}');
}
