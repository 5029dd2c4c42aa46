/* SPDX-License-Identifier: GPL-2.0-or-later */
/* event.c - JSON events (schema v1) built from the decoder's callbacks. */
#include "event.h"

#include <arpa/inet.h>
#include <inttypes.h>
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

/* The event being written: events are built one at a time. */
static struct jw J;

static struct jw *envelope(const struct ev_flow *f, const char *type,
			   int64_t ts)
{
	struct jw *w = &J;
	char t[40];

	jw_reset(w);
	jw_open(w, NULL, '{');
	format_time(t, sizeof(t), ts);
	jw_str(w, "timestamp", t);
	jw_int(w, "flow_id", (int64_t)f->flow_id);
	jw_str(w, "event_type", type);
	jw_str(w, "src_ip", f->src_ip);
	jw_int(w, "src_port", f->src_port);
	jw_str(w, "dest_ip", f->dest_ip);
	jw_int(w, "dest_port", f->dest_port);
	jw_str(w, "proto", "TCP");
	jw_str(w, "app_proto", "smtp");
	jw_str(w, "community_id", f->community_id);
	if (f->ctx->pcap_cnt)
		jw_int(w, "pcap_cnt", (int64_t)f->ctx->pcap_cnt);
	return w;
}

/* The event's "smtp" object, left open for the caller's members. */
static void smtp_obj(struct jw *w, const struct ev_flow *f)
{
	jw_open(w, "smtp", '{');
	jw_int(w, "session", (int64_t)f->session);
	jw_str(w, "tunnel", f->tunnel);
}

/*
 * The line as written: valid UTF-8 whatever a string in it held. Every
 * string is escaped when it is added (jw_str, the email text), so this
 * finds nothing; it is the guarantee that one forgotten string cannot
 * make a strict JSON reader drop the line. Bytes outside strings are
 * ASCII, so an invalid byte is inside a string, and becomes the "\\xHH"
 * jw_str would have written.
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

/*
 * Closes the event's objects and writes it; flow: its flow_id keys it for
 * a sink that partitions by the flow (the stats event has none).
 */
static void emit(struct ev_ctx *ctx, struct jw *w, const struct ev_flow *flow)
{
	const char *line;
	char key[24] = "";
	size_t n;

	if (!ev_json(ctx))
		return;
	while (w->depth)
		jw_close(w, '}');
	n = w->b.len;
	line = valid_line(w->b.p, &n);
	if (flow && out_keyed(ctx->sinks))
		snprintf(key, sizeof(key), "%" PRIu64, flow->flow_id);
	out_write(ctx->sinks, line, n, key, strlen(key));
	ctx->written++;
}

static void reply_obj(struct jw *w, const char *key, const struct smtp_reply *r)
{
	jw_open(w, key, '{');
	jw_int(w, "code", r->code);
	if (r->enhanced[0])
		jw_str(w, "enhanced", r->enhanced);
	jw_strn(w, "text", r->text, r->text_len);
	jw_int(w, "lines", r->lines);
	jw_close(w, '}');
}

static void saved_obj(struct jw *w, const char *key,
		      const struct smtp_saved_reply *r)
{
	jw_open(w, key, '{');
	jw_int(w, "code", r->code);
	if (r->enhanced[0])
		jw_str(w, "enhanced", r->enhanced);
	jw_str(w, "text", r->text ? r->text : "");
	jw_close(w, '}');
}

static void add_command(struct jw *w, const struct smtp_cmd *c)
{
	if (c->seq)
		jw_int(w, "seq", c->seq);
	jw_str(w, "command", c->verb);
	jw_strn(w, "argument", c->arg, c->arg_len);
	if (c->seq)
		jw_bool(w, "pipelined", c->pipelined);
}

/* A parameter key as written (its escaped form), and where it was. */
struct pkey {
	size_t off, len, index;
	const char *text;
};

static int pkey_cmp(const void *a, const void *b)
{
	const struct pkey *x = a, *y = b;
	int c = x->len == y->len
		    ? memcmp(x->text + x->off, y->text + y->off, x->len)
		    : (x->len < y->len ? -1 : 1);

	if (c)
		return c;
	return x->index < y->index ? -1 : 1;
}

/*
 * MAIL's parameters as an object. A key is wire text as much as a value;
 * a key given twice is one member, where it first came, with the last
 * value (what a JSON reader would keep of two, and what the events
 * always said).
 */
static void mail_params(struct jw *w, const struct smtp_txn *t)
{
	static struct sbuf keys;
	static struct pkey *pk;
	static size_t *last, cap;
	size_t i, j, n = t->n_params;

	jw_open(w, "mail_params", '{');
	if (n > cap) {
		pk = xrealloc(pk, n * sizeof(*pk));
		last = xrealloc(last, n * sizeof(*last));
		cap = n;
	}
	sb_reset(&keys);
	for (i = 0; i < n; i++) {
		pk[i].off = keys.len;
		json_wire_escape(&keys, t->params[i].key,
				 strlen(t->params[i].key));
		pk[i].len = keys.len - pk[i].off;
		pk[i].index = i;
		last[i] = SIZE_MAX; /* not the first of its key */
	}
	for (i = 0; i < n; i++)
		pk[i].text = keys.p;
	if (n)
		qsort(pk, n, sizeof(*pk), pkey_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1;
		     j < n && pk[j].len == pk[i].len &&
		     !memcmp(keys.p + pk[j].off, keys.p + pk[i].off, pk[i].len);
		     j++)
			;
		last[pk[i].index] = pk[j - 1].index;
	}
	for (i = 0; i < n; i++) {
		const struct smtp_param *prm;

		if (last[i] == SIZE_MAX)
			continue;
		prm = &t->params[last[i]];
		jw_key_wire(w, t->params[i].key, strlen(t->params[i].key));
		if (prm->value)
			jw_strn(w, NULL, prm->value, strlen(prm->value));
		else
			jw_bool(w, NULL, 1);
	}
	jw_close(w, '}');
}

/* ---- decoder callbacks ---- */

/* The dialogue is collected for -T, and for --transcript in the JSON. */
static bool tr_on(const struct ev_flow *f)
{
	return f->ctx->transcript || f->ctx->session_transcript;
}

/* The collected dialogue as an array of lines, without the margin. */
static void transcript_json(struct jw *w, const struct ev_flow *f)
{
	const char *p = sb_str(&f->tr.text), *nl;

	jw_open(w, "transcript", '[');
	/* escaped by the transcript: printable, so written as it is */
	for (; (nl = strchr(p, '\n')); p = nl + 1)
		if (nl - p > 2)
			jw_strn(w, NULL, p + 2, (size_t)(nl - p - 2));
	jw_close(w, ']');
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
	struct jw *w;

	if (r->code >= 400 && r->code <= 599)
		f->tr.errors++;
	if (r->code == 235)
		f->authed = true;
	if (tr_on(f) && r->lines)
		tr_reply(&f->tr, c, r);
	if (f->ctx->commands && ev_json(f->ctx)) {
		w = envelope(f, "smtp_command", r->lines ? r->ts : c->ts);
		smtp_obj(w, f);
		add_command(w, c);
		if (r->lines) {
			reply_obj(w, "reply", r);
			jw_int(w, "latency_us", r->ts - c->ts);
		}
		emit(f->ctx, w, f);
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
	struct jw *w = envelope(f, "smtp_alert", a->ts);

	smtp_obj(w, f);
	jw_open(w, "alert", '{');
	jw_str(w, "kind", smtp_alert_kind_str(a->kind));
	jw_str(w, "severity", smtp_severity_str(smtp_alert_severity(a->kind)));
	jw_str(w, "message", smtp_alert_text(a->kind));
	jw_str(w, "detail", a->detail);
	jw_close(w, '}');
	if (a->cmd)
		add_command(w, a->cmd);
	if (a->reply && a->reply->lines)
		reply_obj(w, "reply", a->reply);
	emit(f->ctx, w, f);
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
	struct ev_flow *f = user;
	struct jw *w;
	char hex[65];
	size_t i;

	if (t->has_body) /* counted when written: a message is one */
		f->tr.messages++;
	if (!ev_json(f->ctx))
		return;
	w = envelope(f, "smtp_transaction", t->ts_end);
	smtp_obj(w, f);
	jw_int(w, "transaction", t->index);
	jw_str(w, "helo", t->helo);
	jw_str(w, "mail_from", t->mail_from);
	mail_params(w, t);
	if (t->mail_reply.code)
		saved_obj(w, "mail_reply", &t->mail_reply);
	jw_open(w, "rcpt_to", '[');
	for (i = 0; i < t->n_rcpts; i++) {
		const struct smtp_rcpt *r = &t->rcpts[i];

		jw_open(w, NULL, '{');
		jw_str(w, "address", r->address);
		if (r->code) {
			jw_int(w, "code", r->code);
			if (r->enhanced[0])
				jw_str(w, "enhanced", r->enhanced);
			jw_str(w, "text", r->text);
		}
		jw_close(w, '}');
	}
	jw_close(w, ']');
	jw_int(w, "accepted_rcpts", (int64_t)t->accepted_rcpts);
	if (t->dropped_rcpts)
		jw_int(w, "dropped_rcpts", (int64_t)t->dropped_rcpts);
	if (t->data_reply.code)
		saved_obj(w, "data_reply", &t->data_reply);
	jw_str(w, "queue_id", t->queue_id);
	jw_str(w, "status", smtp_status_str(t->status));
	if (t->has_body) {
		jw_str(w, "body", t->bdat ? "bdat" : "data");
		jw_int(w, "size", (int64_t)t->size);
		if (t->gap)
			jw_bool(w, "gap", 1);
		hex_encode(hex, t->sha256, 32);
		if (!t->gap) /* the hash of part of a message would mislead */
			jw_str(w, "sha256", hex);
	}
	jw_close(w, '}'); /* smtp */
	/* strings of the email object are escaped by the parser */
	if (t->msg)
		msg_email_write(w, "email", t->msg, t->queue_id);
	emit(f->ctx, w, f);
}

static void on_session(void *user, const struct smtp_session_info *si)
{
	struct ev_flow *f = user;
	struct jw *w;
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
	w = envelope(f, "smtp_session", si->ts_end);
	smtp_obj(w, f);
	if (f->tunnel_target[0])
		jw_str(w, "tunnel_target", f->tunnel_target);
	jw_str(w, "banner", si->banner);
	jw_str(w, "helo", si->helo);
	jw_open(w, "extensions", '[');
	for (i = 0; i < si->n_extensions; i++)
		jw_str(w, NULL, si->extensions[i]);
	jw_close(w, ']');
	jw_open(w, "tls", '{');
	jw_bool(w, "offered", si->tls.offered);
	jw_bool(w, "requested", si->tls.requested);
	jw_bool(w, "accepted", si->tls.accepted);
	if (si->tls.implicit)
		jw_bool(w, "implicit", 1);
	if (si->tls.cleartext)
		jw_bool(w, "cleartext", 1);
	if (si->tls.client_version)
		jw_str(w, "client_version",
		       smtp_tls_version_str(si->tls.client_version, ver));
	if (si->tls.version)
		jw_str(w, "version",
		       smtp_tls_version_str(si->tls.version, ver));
	jw_str(w, "sni", si->tls.sni);
	jw_close(w, '}');
	if (si->auth_mechanism) {
		jw_open(w, "auth", '{');
		jw_str(w, "mechanism", si->auth_mechanism);
		jw_str(w, "result", si->auth_result);
		if (si->auth_code)
			jw_int(w, "code", si->auth_code);
		jw_str(w, "user", si->auth_user);
		jw_close(w, '}');
	}
	jw_int(w, "transactions", si->transactions);
	jw_int(w, "commands", si->commands);
	jw_open(w, "replies", '{');
	jw_int(w, "2xx", si->replies[0]);
	jw_int(w, "3xx", si->replies[1]);
	jw_int(w, "4xx", si->replies[2]);
	jw_int(w, "5xx", si->replies[3]);
	jw_close(w, '}');
	jw_open(w, "bytes", '{');
	jw_int(w, "client", (int64_t)si->bytes_client);
	jw_int(w, "server", (int64_t)si->bytes_server);
	jw_close(w, '}');
	jw_int(w, "duration_us", si->ts_end - si->ts_start);
	if (si->replies_timed) {
		jw_open(w, "timing", '{');
		if (si->greeting_us >= 0)
			jw_int(w, "greeting_us", si->greeting_us);
		jw_str(w, "slowest_command", si->slowest_cmd);
		jw_int(w, "slowest_us", si->slowest_us);
		jw_int(w, "median_us", si->median_us);
		jw_int(w, "replies", si->replies_timed);
		jw_close(w, '}');
	}
	jw_str(w, "close", smtp_close_str(si->close));
	if (f->ctx->session_transcript)
		transcript_json(w, f);
	if (si->midstream)
		jw_bool(w, "midstream", 1);
	if (si->gaps) {
		jw_open(w, "gaps", '{');
		jw_int(w, "count", (int64_t)si->gaps);
		jw_int(w, "bytes", (int64_t)si->gap_bytes);
		jw_close(w, '}');
	}
	emit(f->ctx, w, f);
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

void ev_write_stats(struct ev_ctx *ctx, int64_t ts, const char *stats, size_t n)
{
	struct jw *w = &J;
	char t[40];

	jw_reset(w);
	jw_open(w, NULL, '{');
	format_time(t, sizeof(t), ts);
	jw_str(w, "timestamp", t);
	jw_str(w, "event_type", "stats");
	jw_raw(w, "stats", stats, n);
	emit(ctx, w, NULL);
}
