/* SPDX-License-Identifier: GPL-2.0-or-later */
/* event.c - JSON events (schema v1) built from the decoder's callbacks. */
#include "event.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "authwatch.h"
#include "relaycheck.h"
#include "serverwatch.h"
#include "output.h"
#include "extract.h"
#include "message_json.h"
#include "transcript.h"

#define FLOW_ID_MASK ((UINT64_C(1) << 51) - 1)

/* FNV-1a, then a final mix: fixed seed, so runs are reproducible. */
static uint64_t hash64(uint64_t h, const void *data, size_t n)
{
	const uint8_t *p = data;

	while (n--) {
		h ^= *p++;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* Community ID v1 (seed 0, TCP): the flow hash Zeek and Suricata share. */
static void community_id(char *out, size_t alen, const uint8_t *a,
			 const uint8_t *b, uint16_t pa, uint16_t pb)
{
	struct sha1_ctx ctx;
	uint8_t digest[SHA1_DIGEST_SIZE], buf[2];
	char b64[BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE) + 1];
	int c = memcmp(a, b, alen);

	if (c > 0 || (c == 0 && pa > pb)) {
		const uint8_t *t = a;
		uint16_t tp = pa;

		a = b;
		b = t;
		pa = pb;
		pb = tp;
	}
	sha1_init(&ctx);
	buf[0] = 0;
	buf[1] = 0;
	sha1_update(&ctx, 2, buf); /* seed */
	sha1_update(&ctx, alen, a);
	sha1_update(&ctx, alen, b);
	buf[0] = 6; /* TCP */
	buf[1] = 0; /* padding */
	sha1_update(&ctx, 2, buf);
	buf[0] = pa >> 8;
	buf[1] = pa & 0xff;
	sha1_update(&ctx, 2, buf);
	buf[0] = pb >> 8;
	buf[1] = pb & 0xff;
	sha1_update(&ctx, 2, buf);
	sha1_digest(&ctx, sizeof(digest), digest);
	base64_encode_raw(b64, sizeof(digest), digest);
	b64[sizeof(b64) - 1] = '\0';
	snprintf(out, 48, "1:%s", b64);
}

void ev_flow_init(struct ev_flow *f, struct ev_ctx *ctx, uint64_t session,
		  int family, const uint8_t *caddr, const uint8_t *saddr,
		  uint16_t cport, uint16_t sport, int64_t ts)
{
	size_t alen = family == AF_INET6 ? 16 : 4, i;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	uint8_t le[12]; /* the ports and time, little-endian on any host */

	memset(f, 0, sizeof(*f));
	f->ctx = ctx;
	f->session = session;
	f->src_port = cport;
	f->dest_port = sport;
	f->ts_start = ts;
	inet_ntop(family, caddr, f->src_ip, sizeof(f->src_ip));
	inet_ntop(family, saddr, f->dest_ip, sizeof(f->dest_ip));
	for (i = 0; i < 2; i++) {
		le[i] = (uint8_t)(cport >> 8 * i);
		le[2 + i] = (uint8_t)(sport >> 8 * i);
	}
	for (i = 0; i < 8; i++)
		le[4 + i] = (uint8_t)((uint64_t)ts >> 8 * i);
	h = hash64(h, caddr, alen);
	h = hash64(h, saddr, alen);
	h = hash64(h, le, sizeof(le));
	f->flow_id = mix64(h) & FLOW_ID_MASK;
	community_id(f->community_id, alen, caddr, saddr, cport, sport);
}

void ev_flow_free(struct ev_flow *f)
{
	size_t i;

	/* cut by the end of the run before the decoder ended them */
	ex_close(&f->ex, f->ex_name, false);
	for (i = 0; i < f->nparts; i++)
		ex_close(&f->parts[i].ex, f->parts[i].name, false);
	free(f->parts);
	tr_free(&f->tr);
}

/* ---- JSON helpers ---- */

/* Wire text as a JSON string: escaped once, in wire_escape(). */
static struct json_object *jstr(const char *s, size_t n)
{
	static struct sbuf b; /* reused: events are built one at a time */
	size_t i;

	/* the common case, printable ASCII, needs no escaping */
	for (i = 0; i < n && (uint8_t)s[i] >= 0x20 && (uint8_t)s[i] < 0x7f; i++)
		;
	if (i == n)
		return json_object_new_string_len(s, (int)n);
	sb_reset(&b);
	wire_escape(&b, s, n);
	return json_object_new_string_len(b.p, (int)b.len);
}

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static void add_str(struct json_object *o, const char *key, const char *s)
{
	if (s)
		add(o, key, jstr(s, strlen(s)));
}

static void add_int(struct json_object *o, const char *key, int64_t v)
{
	add(o, key, json_object_new_int64(v));
}

static struct json_object *envelope(const struct ev_flow *f, const char *type,
				    int64_t ts)
{
	struct json_object *o = json_object_new_object();
	char t[40];

	format_time(t, sizeof(t), ts);
	add(o, "timestamp", json_object_new_string(t));
	add_int(o, "flow_id", (int64_t)f->flow_id);
	add(o, "event_type", json_object_new_string(type));
	add(o, "src_ip", json_object_new_string(f->src_ip));
	add_int(o, "src_port", f->src_port);
	add(o, "dest_ip", json_object_new_string(f->dest_ip));
	add_int(o, "dest_port", f->dest_port);
	add(o, "proto", json_object_new_string("TCP"));
	add(o, "app_proto", json_object_new_string("smtp"));
	add(o, "community_id", json_object_new_string(f->community_id));
	if (f->ctx->pcap_cnt)
		add_int(o, "pcap_cnt", (int64_t)f->ctx->pcap_cnt);
	return o;
}

static struct json_object *smtp_obj(struct json_object *ev,
				    const struct ev_flow *f)
{
	struct json_object *s = json_object_new_object();

	add_int(s, "session", (int64_t)f->session);
	add_str(s, "tunnel", f->tunnel);
	add(ev, "smtp", s);
	return s;
}

/*
 * The line as written: valid UTF-8 whatever a string in it held. Every
 * string is escaped when it is added (jstr, the email text), so this
 * finds nothing; it is the guarantee that one forgotten string cannot
 * make a strict JSON reader drop the line. Bytes outside strings are
 * json-c's ASCII, so an invalid byte is inside a string, and becomes
 * the "\\xHH" jstr would have written.
 */
static const char *valid_line(const char *line, size_t *n)
{
	static struct sbuf b;
	size_t ok = utf8_valid(line, *n);

	if (ok == *n)
		return line;
	sb_reset(&b);
	while (ok < *n) {
		sb_append(&b, line, ok);
		json_wire_escape(&b, line + ok, 1);
		line += ok + 1;
		*n -= ok + 1;
		ok = utf8_valid(line, *n);
	}
	sb_append(&b, line, *n);
	*n = b.len;
	return b.p;
}

static void emit(struct ev_ctx *ctx, struct json_object *o)
{
	struct json_object *fid;
	const char *line, *key = "";
	size_t n;

	if (ev_json(ctx)) {
		line = json_object_to_json_string_ext(
		    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		n = strlen(line);
		line = valid_line(line, &n);
		/* the flow as a string only for a sink that partitions by it */
		if (out_keyed(ctx->sinks) &&
		    json_object_object_get_ex(o, "flow_id", &fid))
			key = json_object_get_string(fid);
		out_write(ctx->sinks, line, n, key, strlen(key));
		ctx->written++;
	}
	json_object_put(o);
}

static struct json_object *reply_obj(const struct smtp_reply *r)
{
	struct json_object *o = json_object_new_object();

	add_int(o, "code", r->code);
	if (r->enhanced[0])
		add_str(o, "enhanced", r->enhanced);
	add(o, "text", jstr(r->text, r->text_len));
	add_int(o, "lines", r->lines);
	return o;
}

static struct json_object *saved_obj(const struct smtp_saved_reply *r)
{
	struct json_object *o = json_object_new_object();

	add_int(o, "code", r->code);
	if (r->enhanced[0])
		add_str(o, "enhanced", r->enhanced);
	add_str(o, "text", r->text ? r->text : "");
	return o;
}

static void add_command(struct json_object *s, const struct smtp_cmd *c)
{
	if (c->seq)
		add_int(s, "seq", c->seq);
	add(s, "command", jstr(c->verb, strlen(c->verb)));
	add(s, "argument", jstr(c->arg, c->arg_len));
	if (c->seq)
		add(s, "pipelined", json_object_new_boolean(c->pipelined));
}

/* ---- decoder callbacks ---- */

/* The dialogue is collected for -T, and for --transcript in the JSON. */
static bool tr_on(const struct ev_flow *f)
{
	return f->ctx->transcript || f->ctx->session_transcript;
}

/* The collected dialogue as an array of lines, without the margin. */
static struct json_object *transcript_json(const struct ev_flow *f)
{
	struct json_object *a = json_object_new_array();
	const char *p = sb_str(&f->tr.text), *nl;

	for (; (nl = strchr(p, '\n')); p = nl + 1)
		if (nl - p > 2) /* already escaped by the transcript */
			json_object_array_add(
			    a, json_object_new_string_len(p + 2, nl - p - 2));
	return a;
}

static void on_command(void *user, const struct smtp_cmd *c)
{
	struct ev_flow *f = user;

	if (tr_on(f))
		tr_command(&f->tr, c);
}

static void on_alert(void *user, const struct smtp_alert *a);

/*
 * RCPT's reply and relaying: accepted for a domain not local, from a
 * client neither trusted nor authenticated, is an open relay (with
 * --local-domains); refused as relaying, a probe.
 */
static void check_relay(struct ev_flow *f, const struct smtp_cmd *c,
			const struct smtp_reply *r)
{
	const struct relaycheck *rc = f->ctx->relay;
	const char *a = c->arg, *end, *at;
	struct smtp_alert al = {0};
	char detail[400];
	bool local;

	if (strcmp(c->verb, "RCPT") || !r->lines)
		return;
	/* "TO:<user@domain> params", or without the brackets */
	if (strchr(a, '<'))
		a = strchr(a, '<') + 1;
	else if (strchr(a, ':'))
		a = strchr(a, ':') + 1;
	end = a + strcspn(a, "> ");
	for (at = NULL; a < end; a++)
		if (*a == '@')
			at = a;
	if (!at || at + 1 >= end)
		return;
	local = rc && rc_local(rc, at + 1, (size_t)(end - at - 1));
	al.cmd = c;
	al.reply = r;
	al.ts = r->ts;
	al.detail = detail;
	if (r->code / 100 == 2 && rc && !local && !f->authed &&
	    !rc_trusted(rc, f->src_ip)) {
		al.kind = SMTP_ALERT_OPEN_RELAY;
		snprintf(detail, sizeof(detail),
			 "server %s:%u accepted mail for %.*s from client %s, "
			 "not trusted and not authenticated (%d%s%s)",
			 f->dest_ip, f->dest_port, (int)(end - at - 1), at + 1,
			 f->src_ip, r->code, r->enhanced[0] ? " " : "",
			 r->enhanced);
		on_alert(f, &al);
	} else if (r->code / 100 == 5 &&
		   (strcasestr(r->text, "relay") ||
		    (rc && !local && !strcmp(r->enhanced, "5.7.1")))) {
		al.kind = SMTP_ALERT_RELAY_DENIED;
		snprintf(detail, sizeof(detail),
			 "server %s:%u refused to relay for %.*s from client "
			 "%s (%d%s%s)",
			 f->dest_ip, f->dest_port, (int)(end - at - 1), at + 1,
			 f->src_ip, r->code, r->enhanced[0] ? " " : "",
			 r->enhanced);
		on_alert(f, &al);
	}
}

static void on_reply(void *user, const struct smtp_cmd *c,
		     const struct smtp_reply *r)
{
	struct ev_flow *f = user;
	struct json_object *ev, *s;

	if (r->code >= 400 && r->code <= 599)
		f->tr.errors++;
	if (r->code == 235)
		f->authed = true;
	if (tr_on(f) && r->lines)
		tr_reply(&f->tr, c, r);
	if (f->ctx->commands && ev_json(f->ctx)) {
		ev = envelope(f, "smtp_command", r->lines ? r->ts : c->ts);
		s = smtp_obj(ev, f);
		add_command(s, c);
		if (r->lines) {
			add(s, "reply", reply_obj(r));
			add_int(s, "latency_us", r->ts - c->ts);
		}
		emit(f->ctx, ev);
	}
	check_relay(f, c, r);
}

static void on_body_data(void *user, const struct smtp_txn *t, const uint8_t *p,
			 size_t n)
{
	struct ev_flow *f = user;

	if (!f->ctx->extract_dir)
		return;
	if (!f->ex) {
		/* flow_id: in every event, and not reused by a later run */
		snprintf(f->ex_name, sizeof(f->ex_name), "%" PRIu64 "-%u.eml",
			 f->flow_id, t->index);
		f->ex = ex_open(f->ex_name);
	}
	ex_write(f->ex, p, n);
}

/* --extract-attachments: the file of part index, opened at its first use. */
static struct ev_part_file *part_file(struct ev_flow *f,
				      const struct smtp_txn *t, unsigned index)
{
	struct ev_part_file *pf;
	size_t i;

	for (i = 0; i < f->nparts; i++)
		if (f->parts[i].index == index)
			return &f->parts[i];
	f->parts = xrealloc(f->parts, (f->nparts + 1) * sizeof(*f->parts));
	pf = &f->parts[f->nparts++];
	pf->index = index;
	snprintf(pf->name, sizeof(pf->name), "%" PRIu64 "-%u-part%u",
		 f->flow_id, t->index, index);
	pf->ex = ex_open(pf->name);
	return pf;
}

/*
 * Each attachment decoded, named by its SHA-256; one cut short is
 * FLOWID-N-partK.partial (K: its index in email.parts).
 */
static void on_part_data(void *user, const struct smtp_txn *t,
			 const struct msg_part *part, unsigned index,
			 const uint8_t *p, size_t n)
{
	struct ev_flow *f = user;

	if (f->ctx->extract_attachments && part->attachment)
		ex_write(part_file(f, t, index)->ex, p, n);
}

static void on_part_end(void *user, const struct smtp_txn *t,
			const struct msg_part *part, unsigned index)
{
	struct ev_flow *f = user;
	struct ev_part_file *pf;
	char hex[65];

	if (!f->ctx->extract_attachments || !part->attachment)
		return;
	/* a part without content is an empty file */
	pf = part_file(f, t, index);
	/* the hash of part of a file would mislead: a cut one keeps the
	 * name that says which message and part it is */
	hex_encode(hex, part->sha256, sizeof(part->sha256));
	ex_close(&pf->ex, part->truncated ? pf->name : hex, !part->truncated);
	*pf = f->parts[--f->nparts];
}

static void on_body(void *user, const struct smtp_txn *t)
{
	struct ev_flow *f = user;

	ex_close(&f->ex, f->ex_name, t->body_done && !t->gap);
	if (tr_on(f))
		tr_body(&f->tr, t);
}

static void write_alert(struct ev_flow *f, const struct smtp_alert *a)
{
	struct json_object *ev, *s, *al;

	ev = envelope(f, "smtp_alert", a->ts);
	s = smtp_obj(ev, f);
	al = json_object_new_object();
	add_str(al, "kind", smtp_alert_kind_str(a->kind));
	add_str(al, "severity",
		smtp_severity_str(smtp_alert_severity(a->kind)));
	add_str(al, "message", smtp_alert_text(a->kind));
	add_str(al, "detail", a->detail);
	add(s, "alert", al);
	if (a->cmd)
		add_command(s, a->cmd);
	if (a->reply && a->reply->lines)
		add(s, "reply", reply_obj(a->reply));
	emit(f->ctx, ev);
}

/*
 * The server's posture is the server's, not the session's: said once per
 * server per interval; STARTTLS is expected on 25 and 587 only.
 */
static bool posture_due(const struct ev_flow *f, const struct smtp_alert *a)
{
	switch (a->kind) {
	case SMTP_ALERT_STARTTLS_NOT_OFFERED:
		if (f->dest_port != 25 && f->dest_port != 587)
			return false;
		/* fall through */
	case SMTP_ALERT_VRFY_ENABLED:
	case SMTP_ALERT_EXPN_ENABLED:
	case SMTP_ALERT_BANNER_DISCLOSES_SOFTWARE:
	case SMTP_ALERT_AUTH_WITHOUT_TLS:
		return !f->ctx->sw ||
		       sw_first(f->ctx->sw, f->dest_ip, a->kind, a->ts);
	default:
		return true;
	}
}

static void on_alert(void *user, const struct smtp_alert *a)
{
	struct ev_flow *f = user;
	unsigned count, sessions;
	struct smtp_alert b;
	char detail[160];

	if (!posture_due(f, a))
		return;
	f->ctx->alerts++;
	if (tr_on(f))
		tr_alert(&f->tr, a);
	if (ev_json(f->ctx))
		write_alert(f, a);
	/* one client guessing passwords over many connections */
	if (a->kind != SMTP_ALERT_AUTH_FAILURE || !f->ctx->aw ||
	    !aw_failure(f->ctx->aw, f->src_ip, f->session, a->ts, &count,
			&sessions))
		return;
	snprintf(detail, sizeof(detail),
		 "%u failed AUTH attempts from %s in %u sessions within the "
		 "window",
		 count, f->src_ip, sessions);
	b = *a;
	b.kind = SMTP_ALERT_AUTH_BRUTEFORCE;
	b.detail = detail;
	if (tr_on(f))
		tr_alert(&f->tr, &b);
	if (ev_json(f->ctx))
		write_alert(f, &b);
}

static void on_transaction(void *user, const struct smtp_txn *t)
{
	static struct sbuf key; /* reused: events are built one at a time */
	struct ev_flow *f = user;
	struct json_object *ev, *s, *arr, *o;
	char hex[65];
	size_t i;

	if (t->has_body) /* counted when written: a message is one */
		f->tr.messages++;
	if (!ev_json(f->ctx))
		return;
	ev = envelope(f, "smtp_transaction", t->ts_end);
	s = smtp_obj(ev, f);
	add_int(s, "transaction", t->index);
	add_str(s, "helo", t->helo);
	add_str(s, "mail_from", t->mail_from);
	o = json_object_new_object();
	for (i = 0; i < t->n_params; i++) {
		const struct smtp_param *prm = &t->params[i];

		/* a key is wire text as much as a value */
		sb_reset(&key);
		wire_escape(&key, prm->key, strlen(prm->key));
		add(o, key.p,
		    prm->value ? jstr(prm->value, strlen(prm->value))
			       : json_object_new_boolean(1));
	}
	add(s, "mail_params", o);
	if (t->mail_reply.code)
		add(s, "mail_reply", saved_obj(&t->mail_reply));
	arr = json_object_new_array();
	for (i = 0; i < t->n_rcpts; i++) {
		const struct smtp_rcpt *r = &t->rcpts[i];

		o = json_object_new_object();
		add_str(o, "address", r->address);
		if (r->code) {
			add_int(o, "code", r->code);
			if (r->enhanced[0])
				add_str(o, "enhanced", r->enhanced);
			add_str(o, "text", r->text);
		}
		json_object_array_add(arr, o);
	}
	add(s, "rcpt_to", arr);
	add_int(s, "accepted_rcpts", (int64_t)t->accepted_rcpts);
	if (t->dropped_rcpts)
		add_int(s, "dropped_rcpts", (int64_t)t->dropped_rcpts);
	if (t->data_reply.code)
		add(s, "data_reply", saved_obj(&t->data_reply));
	add_str(s, "queue_id", t->queue_id);
	add_str(s, "status", smtp_status_str(t->status));
	if (t->has_body) {
		add_str(s, "body", t->bdat ? "bdat" : "data");
		add_int(s, "size", (int64_t)t->size);
		if (t->gap)
			add(s, "gap", json_object_new_boolean(1));
		hex_encode(hex, t->sha256, 32);
		if (!t->gap) /* the hash of part of a message would mislead */
			add_str(s, "sha256", hex);
	}
	if (t->msg) {
		/* strings of the email object are escaped by the parser */
		add(ev, "email", msg_email_json(t->msg, t->queue_id));
	}
	emit(f->ctx, ev);
}

static void on_session(void *user, const struct smtp_session_info *si)
{
	struct ev_flow *f = user;
	struct json_object *ev, *s, *o;
	char ver[8];
	size_t i;

	f->ctx->no_greeting += si->close == SMTP_CLOSE_NO_GREETING;
	f->ctx->not_smtp += si->close == SMTP_CLOSE_NOT_SMTP;
	if (f->ctx->transcript) {
		struct tr_head h = {f->session,	      f->src_ip,    f->dest_ip,
				    f->src_port,      f->dest_port, f->tunnel,
				    f->tunnel_target, f->ctx->color};

		tr_end(&f->tr, f->ctx->transcript, &h, si);
	}
	if (!ev_json(f->ctx))
		return;
	ev = envelope(f, "smtp_session", si->ts_end);
	s = smtp_obj(ev, f);
	if (f->tunnel_target[0])
		add_str(s, "tunnel_target", f->tunnel_target);
	add_str(s, "banner", si->banner);
	add_str(s, "helo", si->helo);
	o = json_object_new_array();
	for (i = 0; i < si->n_extensions; i++)
		json_object_array_add(
		    o, jstr(si->extensions[i], strlen(si->extensions[i])));
	add(s, "extensions", o);
	o = json_object_new_object();
	add(o, "offered", json_object_new_boolean(si->tls.offered));
	add(o, "requested", json_object_new_boolean(si->tls.requested));
	add(o, "accepted", json_object_new_boolean(si->tls.accepted));
	if (si->tls.implicit)
		add(o, "implicit", json_object_new_boolean(1));
	if (si->tls.cleartext)
		add(o, "cleartext", json_object_new_boolean(1));
	if (si->tls.client_version)
		add_str(o, "client_version",
			smtp_tls_version_str(si->tls.client_version, ver));
	if (si->tls.version)
		add_str(o, "version",
			smtp_tls_version_str(si->tls.version, ver));
	add_str(o, "sni", si->tls.sni);
	add(s, "tls", o);
	if (si->auth_mechanism) {
		o = json_object_new_object();
		add_str(o, "mechanism", si->auth_mechanism);
		add_str(o, "result", si->auth_result);
		if (si->auth_code)
			add_int(o, "code", si->auth_code);
		add_str(o, "user", si->auth_user);
		add(s, "auth", o);
	}
	add_int(s, "transactions", si->transactions);
	add_int(s, "commands", si->commands);
	o = json_object_new_object();
	add_int(o, "2xx", si->replies[0]);
	add_int(o, "3xx", si->replies[1]);
	add_int(o, "4xx", si->replies[2]);
	add_int(o, "5xx", si->replies[3]);
	add(s, "replies", o);
	o = json_object_new_object();
	add_int(o, "client", (int64_t)si->bytes_client);
	add_int(o, "server", (int64_t)si->bytes_server);
	add(s, "bytes", o);
	add_int(s, "duration_us", si->ts_end - si->ts_start);
	if (si->replies_timed) {
		o = json_object_new_object();
		if (si->greeting_us >= 0)
			add_int(o, "greeting_us", si->greeting_us);
		add_str(o, "slowest_command", si->slowest_cmd);
		add_int(o, "slowest_us", si->slowest_us);
		add_int(o, "median_us", si->median_us);
		add_int(o, "replies", si->replies_timed);
		add(s, "timing", o);
	}
	add_str(s, "close", smtp_close_str(si->close));
	if (f->ctx->session_transcript)
		add(s, "transcript", transcript_json(f));
	if (si->midstream)
		add(s, "midstream", json_object_new_boolean(1));
	if (si->gaps) {
		o = json_object_new_object();
		add_int(o, "count", (int64_t)si->gaps);
		add_int(o, "bytes", (int64_t)si->gap_bytes);
		add(s, "gaps", o);
	}
	emit(f->ctx, ev);
}

const struct smtp_callbacks ev_smtp_callbacks = {
    .command = on_command,
    .reply = on_reply,
    .body_data = on_body_data,
    .part_data = on_part_data,
    .part_end = on_part_end,
    .body = on_body,
    .alert = on_alert,
    .transaction = on_transaction,
    .session = on_session,
};

void ev_write_stats(struct ev_ctx *ctx, int64_t ts, struct json_object *stats)
{
	struct json_object *o = json_object_new_object();
	char t[40];

	format_time(t, sizeof(t), ts);
	add(o, "timestamp", json_object_new_string(t));
	add(o, "event_type", json_object_new_string("stats"));
	add(o, "stats", stats);
	emit(ctx, o);
}
