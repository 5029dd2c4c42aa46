/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message.c - streaming message parser: header sections, MIME tree, parts. */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message_int.h"

static const char *const hdr_names[] = {
#define X(name, str) str,
    MSG_HDR_LIST(X)
#undef X
};

void *msg_alloc(struct msg *m, size_t n)
{
	m->held += n;
	return xcalloc(1, n);
}

char *msg_dup(struct msg *m, const char *s, size_t n)
{
	/* decoded text may hold a NUL: escaped, not cut at */
	char *d = wire_strndup(s, n);

	m->held += strlen(d) + 1;
	return d;
}

const char *msg_alert_kind_str(enum msg_alert_kind k)
{
	static const char *const names[] = {
#define X(k, name) name,
	    MSG_ALERT_LIST(X)
#undef X
	};

	return (unsigned)k < MSG_ALERT_COUNT ? names[k] : "?";
}

void msg_alert(struct msg *m, enum msg_alert_kind kind, const char *fmt, ...)
{
	char buf[DETAIL_MAX];
	va_list ap;
	int n;

	if (m->nalerts >= m->lim.alerts) {
		m->alerts_dropped++;
		return;
	}
	/* at the first one: by the thread that runs the parser */
	if (!m->alerts)
		m->alerts = msg_alloc(m, m->lim.alerts * sizeof(*m->alerts));
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	m->alerts[m->nalerts].kind = kind;
	m->alerts[m->nalerts].detail = msg_dup(m, buf, (size_t)n);
	m->nalerts++;
}

struct msg *msg_new(const struct msg_limits *lim)
{
	struct msg *m = xcalloc(1, sizeof(*m));

	if (lim)
		m->lim = *lim;
	if (!m->lim.header_bytes)
		m->lim.header_bytes = 65536;
	if (!m->lim.field_bytes)
		m->lim.field_bytes = 16384;
	if (!m->lim.depth)
		m->lim.depth = 16;
	if (m->lim.depth > DEPTH_HARD)
		m->lim.depth = DEPTH_HARD;
	if (!m->lim.parts)
		m->lim.parts = 256;
	if (!m->lim.addresses)
		m->lim.addresses = 100;
	if (!m->lim.received)
		m->lim.received = 32;
	if (!m->lim.urls)
		m->lim.urls = 100;
	if (!m->lim.alerts)
		m->lim.alerts = 32;
	m->fld.max = m->lim.field_bytes;
	m->cur.ctype.max = m->cur.disp.max = m->lim.field_bytes;
	m->cur.state = ES_HEADERS;
	m->cur.parent = m->cur.rec = -1;
	m->cur.top = true;
	m->first_line = true;
	return m;
}

void msg_set_hooks(struct msg *m, const struct msg_hooks *h)
{
	m->hooks = *h;
}

/* ---- results ---- */

static void strlower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int new_record(struct msg *m, const struct ent *e)
{
	struct msg_part *p;

	if (m->nparts >= m->lim.parts) {
		if (!m->over_parts)
			msg_alert(m, MSG_ALERT_MIME_DEPTH_LIMIT,
				  "more than %u MIME parts: the rest are not "
				  "recorded",
				  m->lim.parts);
		m->over_parts = true;
		return -1;
	}
	if (m->nparts == m->partcap) {
		size_t cap = m->partcap ? m->partcap * 2 : 4;

		if (cap > m->lim.parts)
			cap = m->lim.parts;
		m->parts = xrealloc(m->parts, cap * sizeof(*m->parts));
		m->sha = xrealloc(m->sha, cap * sizeof(*m->sha));
		m->held +=
		    (cap - m->partcap) * (sizeof(*m->parts) + sizeof(*m->sha));
		m->partcap = cap;
	}
	sha256_init(&m->sha[m->nparts]);
	p = &m->parts[m->nparts];
	memset(p, 0, sizeof(*p));
	p->parent = e->parent;
	p->depth = e->depth;
	return (int)m->nparts++;
}

static void add_multi(struct msg *m, enum msg_hdr h, const char *v)
{
	char ip[IP_MAX];

	if (m->nmulti[h] >= m->lim.received) {
		if (!m->over_received)
			msg_alert(
			    m, MSG_ALERT_MIME_HEADER_LIMIT,
			    "more than %u %s fields: the rest are not kept",
			    m->lim.received, hdr_names[h]);
		m->over_received = true;
		return;
	}
	if (!m->multi[h])
		m->multi[h] =
		    msg_alloc(m, m->lim.received * sizeof(*m->multi[h]));
	m->multi[h][m->nmulti[h]++] = msg_dup(m, v, strlen(v));
	if (h == MSG_HDR_RECEIVED && msg_received_ip(v, ip, sizeof(ip))) {
		if (!m->path)
			m->path =
			    msg_alloc(m, m->lim.received * sizeof(*m->path));
		m->path[m->npath++] = msg_dup(m, ip, strlen(ip));
	}
}

/* A complete field of the current entity's header section. */
static void field_done(struct msg *m)
{
	struct ent *e = &m->cur;
	char *name = m->fld.p, *v, *end;
	int h;

	m->fld_open = false;
	if (!name || !(v = strchr(name, ':')))
		return;
	if (m->fld.truncated && !m->over_field) {
		m->over_field = true;
		msg_alert(m, MSG_ALERT_MIME_HEADER_LIMIT,
			  "a header field longer than %zu octets was cut",
			  m->lim.field_bytes);
	}
	for (end = v; end > name && (end[-1] == ' ' || end[-1] == '\t');)
		end--;
	*end = '\0';
	for (v++; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v + strlen(v);
	     end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r');)
		end--;
	*end = '\0';
	if (e->top)
		m->header_count++;
	for (h = 0; h < MSG_HDR_COUNT; h++)
		if (!strcasecmp(name, hdr_names[h]))
			break;
	if (h == MSG_HDR_COUNT)
		return;
	if (h == MSG_HDR_CONTENT_TYPE && !e->ctype.len)
		sb_append(&e->ctype, v, strlen(v));
	else if (h == MSG_HDR_DISPOSITION && !e->disp.len)
		sb_append(&e->disp, v, strlen(v));
	else if (h == MSG_HDR_CTE && !e->cte[0])
		msg_token(v, e->cte, sizeof(e->cte));
	if (!e->top)
		return;
	if (h == MSG_HDR_RECEIVED || h == MSG_HDR_AUTH_RESULTS)
		add_multi(m, (enum msg_hdr)h, v);
	else if (!m->hdr[h])
		m->hdr[h] = msg_dup(m, v, strlen(v));
}

static void parse_addrs(struct msg *m, enum msg_hdr h)
{
	struct msg_addr *tmp;
	size_t dropped = 0;

	if (!m->hdr[h])
		return;
	tmp = msg_alloc(m, m->lim.addresses * sizeof(*tmp));
	m->naddrs[h] =
	    msg_parse_addrs(m->hdr[h], tmp, m->lim.addresses, &dropped);
	m->addrs[h] = tmp;
	for (size_t i = 0; i < m->naddrs[h]; i++)
		m->held += strlen(tmp[i].name) + strlen(tmp[i].address) + 2 +
			   (tmp[i].group ? strlen(tmp[i].group) + 1 : 0);
	if (dropped && !m->over_addrs) {
		m->over_addrs = true;
		msg_alert(m, MSG_ALERT_MIME_HEADER_LIMIT,
			  "%s has more than %u addresses: %zu not kept",
			  hdr_names[h], m->lim.addresses, dropped);
	}
}

/* The message's own header section is over (or cut, if !ended). */
static void top_done(struct msg *m, bool ended)
{
	static const enum msg_hdr addr_fields[] = {
	    MSG_HDR_FROM, MSG_HDR_SENDER, MSG_HDR_REPLY_TO,
	    MSG_HDR_TO,	  MSG_HDR_CC,	  MSG_HDR_BCC};
	struct sbuf b = {0};
	size_t i;

	if (m->top_done)
		return;
	m->top_done = true;
	if (m->hdr[MSG_HDR_SUBJECT]) {
		msg_decode_2047(&b, m->hdr[MSG_HDR_SUBJECT],
				strlen(m->hdr[MSG_HDR_SUBJECT]));
		m->subject = msg_dup(m, sb_str(&b), b.len);
		sb_free(&b);
	}
	for (i = 0; i < sizeof(addr_fields) / sizeof(addr_fields[0]); i++)
		parse_addrs(m, addr_fields[i]);
	if (m->hdr[MSG_HDR_DATE])
		m->have_date = msg_parse_date(m->hdr[MSG_HDR_DATE], &m->date);
	if (m->hdr[MSG_HDR_REFERENCES])
		m->refs = msg_count_ids(m->hdr[MSG_HDR_REFERENCES]);
	if (ended && (!m->hdr[MSG_HDR_DATE] || !m->hdr[MSG_HDR_MESSAGE_ID]))
		msg_alert(m, MSG_ALERT_MISSING_DATE_OR_MSGID,
			  "no %s header field",
			  !m->hdr[MSG_HDR_DATE] ? (!m->hdr[MSG_HDR_MESSAGE_ID]
						       ? "Date nor Message-ID"
						       : "Date")
						: "Message-ID");
}

/* ---- entities ---- */

static void ent_start(struct msg *m, unsigned depth, int parent, bool digest)
{
	struct ent *e = &m->cur;
	struct sbuf ct = e->ctype, di = e->disp;

	sb_reset(&ct);
	sb_reset(&di);
	memset(e, 0, sizeof(*e));
	e->ctype = ct;
	e->disp = di;
	e->depth = depth;
	e->parent = parent;
	e->rec = -1;
	e->digest = digest;
	e->state = ES_HEADERS;
	if (depth > m->lim.depth) {
		if (!m->over_depth)
			msg_alert(
			    m, MSG_ALERT_MIME_DEPTH_LIMIT,
			    "MIME parts nested deeper than %u: not parsed",
			    m->lim.depth);
		m->over_depth = true;
		e->state = ES_SKIP;
	}
}

static char *opt_dup(struct msg *m, const char *s)
{
	return s && *s ? msg_dup(m, s, strlen(s)) : NULL;
}

static void push_frame(struct msg *m, bool rfc822, const char *boundary,
		       size_t blen)
{
	struct frame *f;

	if (!m->fr) /* most messages have no container: no room for them */
		m->fr = xcalloc(FRAMES, sizeof(*m->fr));
	f = &m->fr[m->nfr++];
	memset(f, 0, sizeof(*f));
	f->rfc822 = rfc822;
	f->rec = m->cur.rec;
	f->depth = m->cur.depth;
	f->digest = !rfc822 && !strcmp(m->parts && m->cur.rec >= 0
					   ? m->parts[m->cur.rec].type
					   : "",
				       "multipart/digest");
	memcpy(f->boundary, boundary, blen);
	f->blen = blen;
}

/* The header section is over; body says whether content follows. */
static void ent_headers_done(struct msg *m, bool body)
{
	struct ent *e = &m->cur;
	struct sbuf b = {0};
	char type[TYPE_MAX], tok[TOKEN_MAX];
	struct msg_part *p = NULL;
	bool multi, rfc822;

	if (m->fld_open)
		field_done(m);
	if (e->top)
		top_done(m, body || m->complete);
	msg_token(sb_str(&e->ctype), type, sizeof(type));
	if (!strchr(type, '/')) /* RFC 2045 5.2 */
		strcpy(type, e->digest ? "message/rfc822" : "text/plain");
	e->rec = new_record(m, e);
	if (e->rec >= 0) {
		p = &m->parts[e->rec];
		p->type = msg_dup(m, type, strlen(type));
		if (msg_param(sb_str(&e->ctype), "charset", &b)) {
			p->charset = opt_dup(m, sb_str(&b));
			if (p->charset)
				strlower(p->charset);
		}
		p->encoding = opt_dup(m, e->cte);
		msg_token(sb_str(&e->disp), tok, sizeof(tok));
		p->disposition = opt_dup(m, tok);
		if (msg_param(sb_str(&e->disp), "filename", &b) ||
		    msg_param(sb_str(&e->ctype), "name", &b))
			p->filename = opt_dup(m, sb_str(&b));
		p->attachment =
		    (p->disposition && !strcmp(p->disposition, "attachment")) ||
		    p->filename;
	}
	multi = !strncmp(type, "multipart/", 10);
	rfc822 = (!strcmp(type, "message/rfc822") ||
		  !strcmp(type, "message/global")) &&
		 strcmp(e->cte, "base64") && strcmp(e->cte, "quoted-printable");
	if (multi && body) {
		sb_reset(&b);
		if (!msg_param(sb_str(&e->ctype), "boundary", &b) || !b.len) {
			msg_alert(m, MSG_ALERT_MALFORMED_MIME,
				  "%s without a boundary parameter", type);
		} else if (b.len > BOUNDARY_MAX) {
			msg_alert(m, MSG_ALERT_MALFORMED_MIME,
				  "%s boundary of %zu octets, over %d", type,
				  b.len, BOUNDARY_RFC);
		} else if (m->nfr >= FRAMES) {
			if (!m->over_depth)
				msg_alert(m, MSG_ALERT_MIME_DEPTH_LIMIT,
					  "MIME parts nested too deep");
			m->over_depth = true;
		} else {
			if (b.len > BOUNDARY_RFC)
				msg_alert(m, MSG_ALERT_MALFORMED_MIME,
					  "%s boundary of %zu octets, over %d",
					  type, b.len, BOUNDARY_RFC);
			push_frame(m, false, b.p, b.len);
			e->state = ES_SKIP; /* the preamble */
			sb_free(&b);
			return;
		}
	}
	sb_free(&b);
	if (p)
		p->leaf = !multi || body; /* a broken multipart: its octets */
	if (rfc822 && body && m->nfr < FRAMES) {
		push_frame(m, true, "", 0);
		ent_start(m, e->depth + 1, e->rec, false);
		return;
	}
	msg_leaf_start(m, type);
}

/*
 * The current entity ends: at a boundary, which owns the line end before
 * it (RFC 2046 5.1.1), or at the end of the message (eol: keep it).
 */
static void ent_end(struct msg *m, bool truncated, bool eol)
{
	struct ent *e = &m->cur;

	if (e->state == ES_HEADERS)
		ent_headers_done(m, false);
	if (e->state == ES_LEAF)
		msg_leaf_end(m, truncated, eol);
	e->state = ES_SKIP;
}

/* Octets of an embedded message (message/rfc822), as they pass. */
static void frame_octets(struct msg *m, struct frame *f, const uint8_t *p,
			 size_t n)
{
	if (!n)
		return;
	f->size += n;
	if (f->rec < 0)
		return;
	sha256_update(&m->sha[f->rec], n, p);
	if (m->hooks.data)
		m->hooks.data(m->hooks.user, &m->parts[f->rec],
			      (unsigned)f->rec, p, n);
}

static void frame_pop(struct msg *m, const char *why)
{
	struct frame *f = &m->fr[--m->nfr];
	struct msg_part *p = f->rec >= 0 ? &m->parts[f->rec] : NULL;

	if (f->rfc822) {
		if (m->ending && f->pend) /* the message's last line end */
			frame_octets(m, f,
				     (const uint8_t *)"\r\n" + 2 - f->pend,
				     f->pend);
		if (p) {
			p->size = f->size;
			p->truncated = m->ending && !m->complete;
			msg_check_exec(m, f->rec, NULL);
			msg_part_done(m, f->rec);
		}
		return;
	}
	if (why) {
		if (p)
			p->truncated = true;
		msg_alert(m, MSG_ALERT_MALFORMED_MIME,
			  "multipart boundary \"%.80s\" %s", f->boundary, why);
	}
}

/* "--boundary" (1) or "--boundary--" (2), then only white space. */
static int boundary(const struct frame *f, const uint8_t *s, size_t len)
{
	size_t i = f->blen + 2;
	int kind = 1;

	if (len < i || s[0] != '-' || s[1] != '-' ||
	    memcmp(s + 2, f->boundary, f->blen))
		return 0;
	if (len >= i + 2 && s[i] == '-' && s[i + 1] == '-') {
		kind = 2;
		i += 2;
	}
	for (; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return kind;
}

static void raw_line(struct msg *m, struct frame *f, const uint8_t *s,
		     size_t len, uint8_t eol)
{
	if (f->pend)
		frame_octets(m, f, (const uint8_t *)"\r\n" + 2 - f->pend,
			     f->pend);
	f->pend = eol;
	frame_octets(m, f, s, len);
}

static bool field_start_ok(const uint8_t *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && s[i] != ':'; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f)
			break;
	while (i < len && (s[i] == ' ' || s[i] == '\t')) /* obs-field */
		i++;
	return i > 0 && i < len && s[i] == ':';
}

static void header_line(struct msg *m, const uint8_t *s, size_t len,
			uint8_t eol, bool first, bool whole)
{
	struct ent *e = &m->cur;

	if (first && whole && !len) { /* the empty line */
		ent_headers_done(m, true);
		return;
	}
	e->hbytes += len + 2;
	if (e->hbytes > m->lim.header_bytes && !e->hdr_over) {
		e->hdr_over = true;
		if (m->fld_open)
			field_done(m);
		if (!m->over_header)
			msg_alert(m, MSG_ALERT_MIME_HEADER_LIMIT,
				  "header section over %zu octets: the rest is "
				  "not read",
				  m->lim.header_bytes);
		m->over_header = true;
	}
	if (e->hdr_over)
		return;
	if (!first || s[0] == ' ' || s[0] == '\t') { /* folded (2.2.3) */
		if (!m->fld_open)
			return;
		/* the fold's TAB as a space, or every Received shows \x09 */
		if (first && s[0] == '\t') {
			sb_append(&m->fld, " ", 1);
			s++;
			len--;
		}
		sb_append(&m->fld, s, len);
		return;
	}
	if (m->fld_open)
		field_done(m);
	if (!field_start_ok(s, len)) {
		if (e->top && m->first_line && len >= 5 &&
		    !memcmp(s, "From ", 5))
			return; /* an mbox separator */
		/* not a field: the body has begun without an empty line */
		ent_headers_done(m, true);
		if (e->state == ES_LEAF)
			msg_leaf_line(m, s, len, eol);
		return;
	}
	sb_reset(&m->fld);
	sb_append(&m->fld, s, len);
	m->fld_open = true;
}

/*
 * One line, or a piece of one: first says it starts a line, eol how the
 * line ended (0: not yet, or the end of the message), whole that s is the
 * complete line.
 */
static void process_line(struct msg *m, const uint8_t *s, size_t len,
			 uint8_t eol, bool first, bool whole)
{
	int k = -1, kind = 0, i;

	if (first && whole && m->nfr && len >= 2 && s[0] == '-' && s[1] == '-')
		for (i = (int)m->nfr - 1; i >= 0; i--)
			if (!m->fr[i].rfc822 &&
			    (kind = boundary(&m->fr[i], s, len))) {
				k = i;
				break;
			}
	/* the line is in the embedded messages that enclose frame k */
	for (i = 0; i < (k >= 0 ? k : (int)m->nfr); i++)
		if (m->fr[i].rfc822)
			raw_line(m, &m->fr[i], s, len, eol);
	if (k >= 0) {
		ent_end(m, false, false);
		while ((int)m->nfr > k + 1)
			frame_pop(m, "not closed before its parent's boundary");
		if (kind == 2) {
			m->cur.depth = m->fr[k].depth;
			frame_pop(m, NULL);
			m->cur.state = ES_SKIP; /* the epilogue */
		} else {
			ent_start(m, m->fr[k].depth + 1, m->fr[k].rec,
				  m->fr[k].digest);
		}
	} else if (m->cur.state == ES_HEADERS) {
		header_line(m, s, len, eol, first, whole);
	} else if (m->cur.state == ES_LEAF) {
		msg_leaf_line(m, s, len, eol);
	}
	m->first_line = false;
}

/* Any octet above 127: words OR-ed, one test per 64 octets. */
static bool has_8bit(const uint8_t *p, size_t n)
{
	uint64_t acc, w;
	size_t i, j;

	for (i = 0; i + 64 <= n; i += 64) {
		acc = 0;
		for (j = 0; j < 64; j += 8) {
			memcpy(&w, p + i + j, 8);
			acc |= w;
		}
		if (acc & 0x8080808080808080ULL)
			return true;
	}
	for (; i < n; i++)
		if (p[i] & 0x80)
			return true;
	return false;
}

/*
 * No boundary is open and the header sections are over: nothing but the
 * end of the message ends the entity, and line ends of base64 or of
 * unencoded content are plain octets. The rest goes on without lines.
 */
static bool streaming(const struct msg *m)
{
	return !m->nfr && m->cur.state != ES_HEADERS &&
	       (m->cur.state == ES_SKIP || m->cur.dec != D_QP);
}

static void stream(struct msg *m, const uint8_t *p, size_t n)
{
	bool cr;

	m->first_line = false;
	if (m->cur.state != ES_LEAF) {
		m->llen = 0;
		return;
	}
	if (m->llen) { /* a CR held back */
		msg_leaf_raw(m, m->line, m->llen);
		m->llen = 0;
	}
	/* a CR ending the message is no content (see msg_end) */
	cr = p[n - 1] == '\r';
	msg_leaf_raw(m, p, n - cr);
	if (cr) {
		m->line[0] = '\r';
		m->llen = 1;
	}
}

/*
 * Inside a multipart, whole lines none of which starts with '-' (none is
 * a boundary) of a base64 or unencoded leaf, of a preamble or of an
 * epilogue go on at once, their inner line ends as content (base64 skips
 * them), the last one held back as after any line.
 */
static bool bulk_ok(const struct msg *m)
{
	return m->cur.state == ES_SKIP ||
	       (m->cur.state == ES_LEAF && m->cur.dec != D_QP);
}

/* Octets of p (p[0] not '-') up to the first line starting with '-'. */
static size_t bulk_len(const uint8_t *p, size_t n)
{
	const uint8_t *q;
	size_t j = 1;

	while (j < n && (q = memchr(p + j, '-', n - j))) {
		j = (size_t)(q - p);
		if (p[j - 1] == '\n')
			return j;
		j++;
	}
	q = memrchr(p, '\n', n);
	return q ? (size_t)(q - p) + 1 : 0;
}

/* Whole lines (k octets, the last one '\n'): process_line() of each. */
static void bulk(struct msg *m, const uint8_t *p, size_t k)
{
	size_t len = k - 1;
	uint8_t eol = 1;
	unsigned i;

	if (len && p[len - 1] == '\r') {
		len--;
		eol = 2;
	}
	for (i = 0; i < m->nfr; i++)
		if (m->fr[i].rfc822)
			raw_line(m, &m->fr[i], p, len, eol);
	if (m->cur.state == ES_LEAF)
		msg_leaf_line(m, p, len, eol);
	m->first_line = false;
}

static void feed(struct msg *m, const uint8_t *p, size_t n)
{
	const uint8_t *lf;
	size_t take, room, len;
	uint8_t eol;

	if (!m->eightbit)
		m->eightbit = has_8bit(p, n);
	while (n) {
		if (streaming(m)) {
			stream(m, p, n);
			return;
		}
		if (!m->llen && !m->lcont && bulk_ok(m) && p[0] != '-' &&
		    (take = bulk_len(p, n))) {
			bulk(m, p, take);
			p += take;
			n -= take;
			continue;
		}
		if (!m->llen) { /* a whole line in p: no copy */
			lf = memchr(p, '\n', n < LINE_CAP ? n : LINE_CAP);
			if (lf) {
				len = (size_t)(lf - p);
				eol = 1;
				if (len && p[len - 1] == '\r') {
					len--;
					eol = 2;
				}
				process_line(m, p, len, eol, !m->lcont,
					     !m->lcont);
				m->lcont = false;
				take = (size_t)(lf - p) + 1;
				p += take;
				n -= take;
				continue;
			}
		}
		room = LINE_CAP - m->llen;
		lf = memchr(p, '\n', n < room ? n : room);
		take = lf ? (size_t)(lf - p) + 1 : (n < room ? n : room);
		memcpy(m->line + m->llen, p, take);
		m->llen += take;
		p += take;
		n -= take;
		if (lf) {
			len = m->llen - 1;
			eol = 1;
			if (len && m->line[len - 1] == '\r') {
				len--;
				eol = 2;
			}
			process_line(m, m->line, len, eol, !m->lcont,
				     !m->lcont);
			m->llen = 0;
			m->lcont = false;
		} else if (m->llen == LINE_CAP) {
			/* a CR may start the line end: keep it back */
			bool cr = m->line[LINE_CAP - 1] == '\r';

			process_line(m, m->line, LINE_CAP - cr, 0, !m->lcont,
				     false);
			m->llen = cr;
			m->line[0] = '\r';
			m->lcont = true;
		}
	}
}

void msg_feed(struct msg *m, const uint8_t *p, size_t n)
{
	if (m->done || !n)
		return;
	msg_out_begin(m);
	feed(m, p, n);
	msg_out_flush(m);
}

void msg_end(struct msg *m, bool complete)
{
	size_t len = m->llen;
	bool open = false;
	unsigned i;

	if (m->done)
		return;
	msg_out_begin(m);
	m->complete = complete;
	if (len) {
		if (m->line[len - 1] == '\r')
			len--;
		process_line(m, m->line, len, 0, !m->lcont, !m->lcont);
		m->llen = 0;
	}
	m->ending = true;
	for (i = 0; i < m->nfr; i++)
		open |= !m->fr[i].rfc822;
	ent_end(m, !complete || open, true);
	while (m->nfr)
		frame_pop(m, complete ? "never closed: the message ends inside "
					"the multipart"
				      : "never closed: the message was cut");
	m->done = true;
}

static const char *from_domain(const char *a)
{
	const char *at = strrchr(a, '@');

	return at && at[1] ? at + 1 : NULL;
}

/* Same domain, or one a subdomain of the other (DMARC relaxed, roughly). */
static bool domains_align(const char *a, size_t an, const char *b, size_t bn)
{
	if (an > bn)
		return domains_align(b, bn, a, an);
	if (an == bn)
		return !strncasecmp(a, b, an);
	return b[bn - an - 1] == '.' && !strncasecmp(a, b + bn - an, an);
}

void msg_check_from(struct msg *m, const char *envelope_from)
{
	const char *ed, *hd;
	size_t en;

	if (!envelope_from || !m->naddrs[MSG_HDR_FROM])
		return;
	ed = from_domain(envelope_from);
	hd = from_domain(m->addrs[MSG_HDR_FROM][0].address);
	if (!ed || !hd)
		return;
	en = strcspn(ed, "> \t");
	if (!domains_align(ed, en, hd, strlen(hd)))
		msg_alert(
		    m, MSG_ALERT_HEADER_FROM_MISMATCH,
		    "envelope sender domain %.*s, header From domain %.100s",
		    (int)(en > 100 ? 100 : en), ed, hd);
}

void msg_release(struct msg *m)
{
	size_t i, h;

	sb_free(&m->fld);
	sb_free(&m->json);
	sb_free(&m->cur.ctype);
	sb_free(&m->cur.disp);
	for (h = 0; h < MSG_HDR_COUNT; h++) {
		free(m->hdr[h]);
		for (i = 0; i < m->naddrs[h]; i++) {
			free(m->addrs[h][i].name);
			free(m->addrs[h][i].address);
			free(m->addrs[h][i].group);
		}
		free(m->addrs[h]);
		for (i = 0; i < m->nmulti[h]; i++)
			free(m->multi[h][i]);
		free(m->multi[h]);
	}
	free(m->subject);
	for (i = 0; i < m->npath; i++)
		free(m->path[i]);
	free(m->path);
	for (i = 0; i < m->nparts; i++) {
		free(m->parts[i].type);
		free(m->parts[i].charset);
		free(m->parts[i].encoding);
		free(m->parts[i].disposition);
		free(m->parts[i].filename);
	}
	free(m->parts);
	free(m->sha);
	for (i = 0; i < m->nurls; i++)
		free(m->urls[i]);
	free(m->urls);
	for (i = 0; i < m->nalerts; i++)
		free(m->alerts[i].detail);
	free(m->alerts);
	free(m->fr);
	/* the results are gone: zeroed, there are none */
	memset(&m->fld, 0,
	       offsetof(struct msg, out) - offsetof(struct msg, fld));
	m->llen = 0;
	m->done = true;
}

void msg_free(struct msg *m)
{
	if (!m)
		return;
	msg_release(m);
	free(m);
}

/* ---- accessors ---- */

const char *msg_header(const struct msg *m, enum msg_hdr h)
{
	if (h == MSG_HDR_RECEIVED || h == MSG_HDR_AUTH_RESULTS)
		return m->nmulti[h] ? m->multi[h][0] : NULL;
	return m->hdr[h];
}

const char *msg_subject(const struct msg *m)
{
	return m->subject;
}

size_t msg_addrs(const struct msg *m, enum msg_hdr h,
		 const struct msg_addr **out)
{
	*out = m->addrs[h];
	return m->naddrs[h];
}

size_t msg_multi(const struct msg *m, enum msg_hdr h, char *const **out)
{
	*out = m->multi[h];
	return m->nmulti[h];
}

size_t msg_path(const struct msg *m, char *const **out)
{
	*out = m->path;
	return m->npath;
}

bool msg_date(const struct msg *m, int64_t *ts)
{
	*ts = m->date;
	return m->have_date;
}

unsigned msg_header_count(const struct msg *m)
{
	return m->header_count;
}

unsigned msg_references_count(const struct msg *m)
{
	return m->refs;
}

bool msg_8bit(const struct msg *m)
{
	return m->eightbit;
}

void msg_part_done(struct msg *m, int rec)
{
	sha256_digest(&m->sha[rec], sizeof(m->parts[rec].sha256),
		      m->parts[rec].sha256);
	if (m->hooks.end)
		m->hooks.end(m->hooks.user, &m->parts[rec], (unsigned)rec);
}

size_t msg_parts(const struct msg *m, const struct msg_part **out)
{
	*out = m->parts;
	return m->nparts;
}

size_t msg_urls(const struct msg *m, char *const **out)
{
	*out = m->urls;
	return m->nurls;
}

size_t msg_urls_dropped(const struct msg *m)
{
	return m->urls_dropped;
}

size_t msg_alerts(const struct msg *m, const struct msg_alert **out)
{
	*out = m->alerts;
	return m->nalerts;
}

size_t msg_alerts_dropped(const struct msg *m)
{
	return m->alerts_dropped;
}

size_t msg_mem(const struct msg *m)
{
	return sizeof(*m) + m->held + m->fld.cap + m->json.cap +
	       m->cur.ctype.cap + m->cur.disp.cap +
	       (m->fr ? FRAMES * sizeof(*m->fr) : 0);
}
