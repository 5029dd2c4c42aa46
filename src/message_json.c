/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message_json.c - the "email" object of an smtp_transaction event. */
#include "message_json.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

static struct json_object *jstr(const char *s)
{
	struct sbuf b = {0};
	struct json_object *o;

	wire_escape(&b, s, strlen(s));
	o = json_object_new_string_len(sb_str(&b), (int)b.len);
	sb_free(&b);
	return o;
}

static void add_str(struct json_object *o, const char *key, const char *s)
{
	if (s)
		json_object_object_add(o, key, jstr(s));
}

static void add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void add_strs(struct json_object *o, const char *key, char *const *v,
		     size_t n)
{
	struct json_object *a;
	size_t i;

	if (!n)
		return;
	a = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(a, jstr(v[i]));
	json_object_object_add(o, key, a);
}

/* {"address":[…]} and, for From, the first display name. */
static void add_addrs(struct json_object *o, const struct msg *m,
		      enum msg_hdr h, const char *key)
{
	const struct msg_addr *a;
	struct json_object *obj, *arr;
	size_t n = msg_addrs(m, h, &a), i;

	if (!n)
		return;
	obj = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, jstr(a[i].address));
	json_object_object_add(obj, "address", arr);
	if (h == MSG_HDR_FROM && a[0].name[0])
		add_str(obj, "display_name", a[0].name);
	json_object_object_add(o, key, obj);
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

static struct json_object *part_json(const struct msg_part *p)
{
	struct json_object *o = json_object_new_object();
	char hex[65];

	add_str(o, "type", p->type);
	add_str(o, "charset", p->charset);
	add_str(o, "encoding", p->encoding);
	add_str(o, "disposition", p->disposition);
	add_str(o, "name", p->filename);
	add_int(o, "depth", p->depth);
	add_int(o, "parent", p->parent);
	if (p->leaf) {
		add_int(o, "size", (int64_t)p->size);
		hex_encode(hex, p->sha256, 32);
		if (!p->truncated)
			add_str(o, "sha256", hex);
	}
	if (p->truncated)
		json_object_object_add(o, "truncated",
				       json_object_new_boolean(1));
	return o;
}

static struct json_object *attachment_json(const struct msg_part *p)
{
	struct json_object *o = json_object_new_object();
	struct json_object *f = json_object_new_object(), *h;
	char hex[65];

	add_str(f, "name", p->filename);
	add_str(f, "mime_type", p->type);
	add_int(f, "size", (int64_t)p->size);
	if (!p->truncated) {
		h = json_object_new_object();
		hex_encode(hex, p->sha256, 32);
		add_str(h, "sha256", hex);
		json_object_object_add(f, "hash", h);
	}
	json_object_object_add(o, "file", f);
	if (p->executable)
		json_object_object_add(o, "executable",
				       json_object_new_boolean(1));
	if (p->truncated)
		json_object_object_add(o, "truncated",
				       json_object_new_boolean(1));
	return o;
}

struct json_object *msg_email_json(const struct msg *m)
{
	struct json_object *o = json_object_new_object(), *arr;
	const struct msg_part *parts;
	const char *raw, *xm;
	char *const *v;
	size_t n, i;
	char t[96];
	int64_t ts;

	add_addrs(o, m, MSG_HDR_FROM, "from");
	add_addrs(o, m, MSG_HDR_SENDER, "sender");
	add_addrs(o, m, MSG_HDR_REPLY_TO, "reply_to");
	add_addrs(o, m, MSG_HDR_TO, "to");
	add_addrs(o, m, MSG_HDR_CC, "cc");
	add_addrs(o, m, MSG_HDR_BCC, "bcc");
	add_str(o, "subject", msg_subject(m));
	raw = msg_header(m, MSG_HDR_SUBJECT);
	if (raw && strcmp(raw, msg_subject(m)))
		add_str(o, "subject_raw", raw);
	add_str(o, "message_id", msg_header(m, MSG_HDR_MESSAGE_ID));
	if (msg_date(m, &ts)) {
		iso_time(t, sizeof(t), ts);
		add_str(o, "origination_timestamp", t);
	} else {
		add_str(o, "date", msg_header(m, MSG_HDR_DATE));
	}
	add_str(o, "in_reply_to", msg_header(m, MSG_HDR_IN_REPLY_TO));
	if (msg_references_count(m))
		add_int(o, "references_count", msg_references_count(m));
	add_str(o, "return_path", msg_header(m, MSG_HDR_RETURN_PATH));
	xm = msg_header(m, MSG_HDR_X_MAILER);
	add_str(o, "x_mailer", xm ? xm : msg_header(m, MSG_HDR_USER_AGENT));
	add_str(o, "user_agent", msg_header(m, MSG_HDR_USER_AGENT));
	add_str(o, "x_originating_ip", msg_header(m, MSG_HDR_X_ORIGINATING_IP));
	n = msg_multi(m, MSG_HDR_AUTH_RESULTS, &v);
	add_strs(o, "authentication_results", v, n);
	n = msg_multi(m, MSG_HDR_RECEIVED, &v);
	add_strs(o, "received", v, n);
	n = msg_path(m, &v);
	add_strs(o, "path", v, n);
	add_int(o, "header_count", msg_header_count(m));
	json_object_object_add(o, "eight_bit",
			       json_object_new_boolean(msg_8bit(m)));
	n = msg_parts(m, &parts);
	if (n)
		add_str(o, "content_type", parts[0].type);
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		if (parts[i].attachment)
			json_object_array_add(arr, attachment_json(&parts[i]));
	if (json_object_array_length(arr))
		json_object_object_add(o, "attachments", arr);
	else
		json_object_put(arr);
	if (n) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(arr, part_json(&parts[i]));
		json_object_object_add(o, "parts", arr);
	}
	n = msg_urls(m, &v);
	add_strs(o, "urls", v, n);
	if (msg_urls_dropped(m))
		add_int(o, "urls_dropped", (int64_t)msg_urls_dropped(m));
	return o;
}
