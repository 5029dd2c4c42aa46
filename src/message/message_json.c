/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message_json.c - the "email" object of an smtp_transaction event. */
#include "message_json.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "message_int.h"
#include "util.h"

/*
 * The email object is written as text at once, not built of json-c
 * objects (one allocation each, a hash table per object): it is most of
 * an event. The text is what json-c would print (members in the order
 * written, JSON_C_TO_STRING_PLAIN | NOSLASHESCAPE).
 */
struct jw {
	struct sbuf b;
	unsigned depth;
	bool more[8]; /* depth d has a member already: a comma first */
};

/* A member's key (none in an array), after a comma if one came before. */
static void jw_key(struct jw *w, const char *key)
{
	if (w->more[w->depth])
		sb_append(&w->b, ",", 1);
	w->more[w->depth] = true;
	if (key) {
		sb_append(&w->b, "\"", 1);
		sb_append(&w->b, key, strlen(key));
		sb_append(&w->b, "\":", 2);
	}
}

static void jw_open(struct jw *w, const char *key, char c)
{
	jw_key(w, key);
	sb_append(&w->b, &c, 1);
	w->more[++w->depth] = false;
}

static void jw_close(struct jw *w, char c)
{
	w->depth--;
	sb_append(&w->b, &c, 1);
}

/* Wire text (util.h wire_escape), as a JSON string; NULL: nothing. */
static void add_str(struct jw *w, const char *key, const char *s)
{
	if (!s)
		return;
	jw_key(w, key);
	sb_append(&w->b, "\"", 1);
	json_wire_escape(&w->b, s, strlen(s));
	sb_append(&w->b, "\"", 1);
}

static void add_int(struct jw *w, const char *key, int64_t v)
{
	char n[24];

	jw_key(w, key);
	sb_append(&w->b, n, (size_t)snprintf(n, sizeof(n), "%" PRId64, v));
}

static void add_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	sb_append(&w->b, v ? "true" : "false", v ? 4 : 5);
}

static void add_strs(struct jw *w, const char *key, char *const *v, size_t n)
{
	size_t i;

	if (!n)
		return;
	jw_open(w, key, '[');
	for (i = 0; i < n; i++)
		add_str(w, NULL, v[i]);
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
		add_str(w, NULL, a[i].address);
	jw_close(w, ']');
	if (h == MSG_HDR_FROM && a[0].name[0])
		add_str(w, "display_name", a[0].name);
	jw_close(w, '}');
}

/* The envelope's format: ISO 8601, UTC, microseconds, +0000. */
static void iso_time(char *out, size_t n, int64_t ts)
{
	time_t sec = (time_t)(ts / 1000000);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.000000+0000",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
}

static void part_json(struct jw *w, const struct msg_part *p)
{
	char hex[65];

	jw_open(w, NULL, '{');
	add_str(w, "type", p->type);
	add_str(w, "charset", p->charset);
	add_str(w, "encoding", p->encoding);
	add_str(w, "disposition", p->disposition);
	add_str(w, "name", p->filename);
	add_int(w, "depth", p->depth);
	add_int(w, "parent", p->parent);
	if (p->leaf) {
		add_int(w, "size", (int64_t)p->size);
		hex_encode(hex, p->sha256, 32);
		if (!p->truncated)
			add_str(w, "sha256", hex);
	}
	if (p->truncated)
		add_bool(w, "truncated", true);
	jw_close(w, '}');
}

static void attachment_json(struct jw *w, const struct msg_part *p)
{
	char hex[65];

	jw_open(w, NULL, '{');
	jw_open(w, "file", '{');
	add_str(w, "name", p->filename);
	add_str(w, "mime_type", p->type);
	add_int(w, "size", (int64_t)p->size);
	if (!p->truncated) {
		jw_open(w, "hash", '{');
		hex_encode(hex, p->sha256, 32);
		add_str(w, "sha256", hex);
		jw_close(w, '}');
	}
	jw_close(w, '}');
	if (p->executable)
		add_bool(w, "executable", true);
	if (p->truncated)
		add_bool(w, "truncated", true);
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
	add_str(w, "subject", msg_subject(m));
	raw = msg_header(m, MSG_HDR_SUBJECT);
	if (raw && strcmp(raw, msg_subject(m)))
		add_str(w, "subject_raw", raw);
	add_str(w, "message_id", msg_header(m, MSG_HDR_MESSAGE_ID));
	if (msg_date(m, &ts)) {
		iso_time(t, sizeof(t), ts);
		add_str(w, "origination_timestamp", t);
	} else {
		add_str(w, "date", msg_header(m, MSG_HDR_DATE));
	}
	add_str(w, "in_reply_to", msg_header(m, MSG_HDR_IN_REPLY_TO));
	if (msg_references_count(m))
		add_int(w, "references_count", msg_references_count(m));
	add_str(w, "return_path", msg_header(m, MSG_HDR_RETURN_PATH));
	xm = msg_header(m, MSG_HDR_X_MAILER);
	add_str(w, "x_mailer", xm ? xm : msg_header(m, MSG_HDR_USER_AGENT));
	add_str(w, "user_agent", msg_header(m, MSG_HDR_USER_AGENT));
	add_str(w, "x_originating_ip", msg_header(m, MSG_HDR_X_ORIGINATING_IP));
	n = msg_multi(m, MSG_HDR_AUTH_RESULTS, &v);
	add_strs(w, "authentication_results", v, n);
	n = msg_multi(m, MSG_HDR_RECEIVED, &v);
	add_strs(w, "received", v, n);
	n = msg_path(m, &v);
	add_strs(w, "path", v, n);
	add_int(w, "header_count", msg_header_count(m));
	add_bool(w, "eight_bit", msg_8bit(m));
	n = msg_parts(m, &parts);
	if (n)
		add_str(w, "content_type", parts[0].type);
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
		add_int(w, "urls_dropped", (int64_t)msg_urls_dropped(m));
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

struct json_object *msg_email_json(const struct msg *m, const char *local_id)
{
	struct jw w = {0};
	struct json_object *o;

	if (m->json.len) { /* rendered: all but its closing brace */
		sb_reserve(&w.b, m->json.len + 128);
		sb_append(&w.b, m->json.p, m->json.len - 1);
		w.depth = 1;
		w.more[1] = m->json.len > 2;
	} else {
		sb_reserve(&w.b, 2048);
		jw_open(&w, NULL, '{');
		email_members(&w, m);
	}
	add_str(&w, "local_id", local_id);
	jw_close(&w, '}');
	/* printed as it is, freed with the object */
	o = json_object_new_object();
	json_object_set_serializer(o, json_object_userdata_to_json_string,
				   (void *)sb_str(&w.b),
				   json_object_free_userdata);
	return o;
}
