/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp.c - the SMTP decoder: tables, line assembly and the public API. */
#include "smtp.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_int.h"

static const struct {
	const char *kind;
	enum smtp_severity sev;
	const char *text;
	const char *ref;
} alert_table[] = {
#define X(name, str, sev, text, ref) {str, SMTP_SEV_##sev, text, ref},
    SMTP_ALERT_LIST(X)
#undef X
};

static const char *const close_names[] = {
#define X(name, str) str,
    SMTP_CLOSE_LIST(X)
#undef X
};

static const char *const status_names[] = {
#define X(name, str) str,
    SMTP_STATUS_LIST(X)
#undef X
};

const char *smtp_alert_kind_str(enum smtp_alert_kind k)
{
	return alert_table[k].kind;
}

enum smtp_severity smtp_alert_severity(enum smtp_alert_kind k)
{
	return alert_table[k].sev;
}

const char *smtp_alert_text(enum smtp_alert_kind k)
{
	return alert_table[k].text;
}

const char *smtp_alert_ref(enum smtp_alert_kind k)
{
	return alert_table[k].ref;
}

const char *smtp_severity_str(enum smtp_severity sev)
{
	static const char *const names[] = {"info", "warning", "error",
					    "critical"};
	return names[sev];
}

const char *smtp_close_str(enum smtp_close c)
{
	return close_names[c];
}

const char *smtp_status_str(enum smtp_status st)
{
	return status_names[st];
}

bool smtp_ieq_prefix(const char *s, size_t n, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i]; i++)
		if (i >= n || smtp_upper((unsigned char)s[i]) != prefix[i])
			return false;
	return true;
}

/* Alerts are rare: formatting their detail here costs nothing. */
void smtp_alert_raise(struct smtp_session *s, enum smtp_alert_kind kind,
		      const struct smtp_cmd *cmd,
		      const struct smtp_reply *reply, int64_t ts,
		      const char *fmt, ...)
{
	struct smtp_alert a = {kind, cmd, reply, NULL, ts};
	char detail[512];
	va_list ap;

	if (!s->cb->alert)
		return;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
		a.detail = detail;
	}
	s->cb->alert(s->user, &a);
}

/* ---- line assembly ---- */

/*
 * Take bytes up to and including a LF into l; returns the bytes consumed
 * and sets *done when a line is complete. Bytes past SMTP_LINE_MAX are
 * counted and skipped until the line ends.
 */
/* A complete line is handled before the next is taken: one buffer will do. */
static _Thread_local char line_scratch[SMTP_LINE_MAX + 1];

static size_t line_take(struct line *l, const uint8_t *buf, size_t len,
			bool *done, bool *bare_lf)
{
	const uint8_t *nl = memchr(buf, '\n', len), *cr;
	size_t n = nl ? (size_t)(nl - buf) : len, keep = n, i;

	if (l->cr && n) /* a CR ended the previous piece, and no LF follows */
		l->bare_cr = true;
	for (cr = buf; (cr = memchr(cr, '\r', n - (cr - buf)));)
		if (++cr < buf + n)
			l->bare_cr = true;
	if (n)
		l->cr = buf[n - 1] == '\r';
	if (!l->nul && memchr(buf, '\0', n))
		l->nul = true;
	if (keep > SMTP_LINE_MAX - l->len)
		keep = SMTP_LINE_MAX - l->len;
	if (!l->heap && nl) {
		l->buf = line_scratch; /* whole in this feed: the common case */
	} else if (keep || !nl) {
		if (l->len + keep + 1 > l->cap) {
			l->cap =
			    l->len + keep + 1 < 128 ? 128 : SMTP_LINE_MAX + 1;
			l->heap = xrealloc(l->heap, l->cap);
		}
		l->buf = l->heap;
	}
	memcpy(l->buf + l->len, buf, keep);
	l->len += keep;
	l->total += n;
	*done = nl != NULL;
	if (*done) {
		*bare_lf = !l->cr;
		/* the CR before LF is the terminator, not part of the line */
		if (l->cr)
			l->total--;
		for (i = l->len; i > 0 && l->buf[i - 1] == '\r'; i--)
			;
		l->len = i;
		l->buf[l->len] = '\0';
	}
	return nl ? n + 1 : n;
}

static void line_reset(struct line *l)
{
	free(l->heap);
	l->heap = l->buf = NULL;
	l->cap = 0;
	l->len = l->total = 0;
	l->cr = l->bare_cr = l->nul = false;
}

static void feed_client(struct smtp_session *s, const uint8_t *buf, size_t len,
			int64_t ts)
{
	bool done, bare_lf;
	size_t n;

	while (len) {
		struct shadow *w = s->shadow;

		switch (s->cstate) {
		case C_CMD:
		case C_STARTTLS:
		case C_BDAT_OPEN:
			n = line_take(&s->cline, buf, len, &done, &bare_lf);
			if (done) {
				smtp_client_line(s, &s->cline, bare_lf, ts);
				line_reset(&s->cline);
			}
			break;
		case C_BODY:
			n = smtp_feed_body(s, buf, len, ts);
			break;
		case C_CHUNK:
			n = smtp_feed_chunk(s, buf, len, ts);
			break;
		case C_RESYNC:
		case C_RESYNC_NEXT:
			n = line_take(&s->cline, buf, len, &done, &bare_lf);
			if (done) {
				smtp_resync_line(s, &s->cline, bare_lf, ts);
				line_reset(&s->cline);
			}
			break;
		default: /* C_TLS: opaque but for its first bytes */
			smtp_tls_feed(s, SMTP_FROM_CLIENT, buf, len, ts);
			n = len;
			break;
		}
		if (w && w == s->shadow) /* begun before these octets */
			smtp_shadow_feed(s, buf, n);
		buf += n;
		len -= n;
	}
}

/* What the server's first bytes look like, when they are not SMTP. */
static void not_smtp(struct smtp_session *s, const uint8_t *buf, size_t len,
		     int64_t ts)
{
	char seen[48];
	size_t i, n = len < 24 ? len : 24;

	for (i = 0; i < n; i++) /* shown as text: control bytes as '.' */
		seen[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '.';
	seen[n] = '\0';
	s->not_smtp = true;
	smtp_alert_raise(
	    s, SMTP_ALERT_NOT_SMTP, NULL, NULL, ts, "%s: \"%s\"",
	    buf[0] == 0x16 && len > 1 && buf[1] == 0x03 ? "a TLS record"
	    : len >= 5 && !memcmp(buf, "HTTP/", 5)	? "an HTTP reply"
	    : len >= 4 && !memcmp(buf, "SSH-", 4)	? "an SSH banner"
	    : len >= 3 && !memcmp(buf, "+OK", 3)	? "a POP3 greeting"
	    : len >= 4 && !memcmp(buf, "* OK", 4)	? "an IMAP greeting"
							: "not a reply",
	    seen);
}

static void feed_server(struct smtp_session *s, const uint8_t *buf, size_t len,
			int64_t ts)
{
	uint64_t before = s->bytes[SMTP_FROM_SERVER] - len;
	bool done, bare_lf;
	size_t n, i;

	/* the first bytes of a connection seen from its start: a reply? */
	for (i = 0; before + i < 3 && i < len && s->sstate == S_REPLY &&
		    s->pend_len && smtp_pend_at(s, 0)->id == V_GREETING;
	     i++)
		if (!smtp_is_digit(buf[i])) {
			not_smtp(s, buf, len, ts);
			break;
		}
	if (s->not_smtp)
		return; /* nothing more of it is read */

	while (len && s->sstate != S_TLS) {
		n = line_take(&s->sline, buf, len, &done, &bare_lf);
		if (done) {
			smtp_server_line(s, &s->sline, bare_lf, ts);
			line_reset(&s->sline);
		}
		buf += n;
		len -= n;
	}
	if (len) /* what follows a 220 to STARTTLS */
		smtp_tls_feed(s, SMTP_FROM_SERVER, buf, len, ts);
}

void smtp_feed_side(struct smtp_session *s, enum smtp_dir dir,
		    const uint8_t *buf, size_t len, int64_t ts)
{
	if (dir == SMTP_FROM_CLIENT)
		feed_client(s, buf, len, ts);
	else
		feed_server(s, buf, len, ts);
}

/* ---- public API ---- */

struct smtp_session *smtp_session_new(const struct smtp_callbacks *cb,
				      void *user,
				      const struct smtp_options *opt)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->cb = cb;
	s->user = user;
	if (opt)
		s->opt = *opt;
	else
		s->opt.ts_start = -1;
	if (!s->opt.max_recipients)
		s->opt.max_recipients = 100;
	if (!s->opt.max_pending)
		s->opt.max_pending = 100;
	if (!s->opt.auth_failures)
		s->opt.auth_failures = 5;
	s->rtext.max = SMTP_REPLY_MAX;
	s->rraw.max = SMTP_REPLY_MAX;
	s->ts_first = s->opt.ts_start;
	s->closer = -1;
	s->greet_us = s->slow_us = -1;
	if (s->opt.implicit_tls) {
		s->tls.implicit = s->tls.accepted = true;
		smtp_set_cstate(s, C_TLS);
		smtp_set_sstate(s, S_TLS);
		smtp_tls_start(s, false);
	} else if (s->opt.midstream) {
		/* the dialogue is already going: find a reply, then a line */
		smtp_set_cstate(s, C_RESYNC);
		smtp_set_sstate(s, S_RESYNC);
		s->sasl.wary = true;
	} else {
		smtp_pend_pseudo(s, V_GREETING, s->ts_first);
	}
	return s;
}

void smtp_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *buf,
	       size_t len, int64_t ts)
{
	if (s->ended || !len)
		return;
	if (s->ts_first < 0) {
		s->ts_first = ts;
		if (s->pend_len && smtp_pend_at(s, 0)->id == V_GREETING)
			smtp_pend_at(s, 0)->ts = ts;
	}
	s->ts_last = ts;
	s->bytes[dir] += len;
	if (s->not_smtp)
		return;
	if (dir == SMTP_FROM_CLIENT)
		feed_client(s, buf, len, ts);
	else
		feed_server(s, buf, len, ts);
}

/* Forget every unanswered command: their replies can no longer be paired. */
static void drop_pending(struct smtp_session *s)
{
	while (s->pend_len) {
		struct pending *p = smtp_pend_at(s, 0);

		if (p->id == V_GREETING) {
			smtp_pend_release(s, p);
			smtp_pend_pop(s);
			continue;
		}
		smtp_pend_drop_oldest(s);
	}
}

void smtp_closing(struct smtp_session *s, enum smtp_dir dir, bool reset,
		  int64_t ts)
{
	if (s->closer >= 0 || s->ended)
		return;
	s->closer = (int8_t)dir;
	s->closer_rst = reset;
	s->close_ts = ts;
}

/*
 * The client closed first with a command unanswered, and not after
 * QUIT (a client that said QUIT meant to go): it stopped waiting. The
 * oldest command it waited for is named, and for how long.
 */
static void gave_up(struct smtp_session *s)
{
	struct pending *p = NULL;
	struct smtp_cmd c;
	size_t i, n = 0;
	int64_t waited;

	/* encrypted from STARTTLS on, or bytes lost: replies unseen */
	if (s->closer != SMTP_FROM_CLIENT || s->quit_sent || s->tls.accepted ||
	    s->opt.implicit_tls || s->gaps)
		return;
	for (i = 0; i < s->pend_len; i++) {
		struct pending *q = smtp_pend_at(s, i);

		if (q->id == V_GREETING) /* no_greeting says it */
			continue;
		if (!p)
			p = q;
		n++;
	}
	/* sent with the FIN itself: it hung up, it did not wait */
	if (!p || (waited = s->close_ts - p->ts) <= 0)
		return;
	smtp_cmd_view(p, &c);
	smtp_alert_raise(s, SMTP_ALERT_CLIENT_GAVE_UP, &c, NULL, s->close_ts,
			 "the client closed the connection (%s) %lld.%03lld s "
			 "after %s, still unanswered (%zu command%s waiting)",
			 s->closer_rst ? "RST" : "FIN",
			 (long long)(waited / 1000000),
			 (long long)(waited % 1000000 / 1000),
			 p->id == V_MESSAGE ? "the end of its message" : c.verb,
			 n, n == 1 ? "" : "s");
}

void smtp_gap(struct smtp_session *s, enum smtp_dir dir, uint64_t len,
	      int64_t ts)
{
	bool in_body = dir == SMTP_FROM_CLIENT &&
		       (s->cstate == C_BODY || s->cstate == C_CHUNK);

	if (s->ended)
		return;
	if (s->ts_first < 0)
		s->ts_first = ts;
	s->ts_last = ts;
	s->gaps++;
	s->gap_bytes += len;
	smtp_shadow_settle(s); /* no reading can be told from a hole */
	smtp_alert_raise(
	    s, SMTP_ALERT_GAP, NULL, NULL, ts,
	    "%llu bytes missing from the %s stream%s", (unsigned long long)len,
	    dir == SMTP_FROM_CLIENT ? "client" : "server",
	    in_body ? " inside a message, which is incomplete" : "");
	if (s->cstate == C_TLS) {
		smtp_tls_free(s); /* its hellos are no longer whole */
		return;		  /* opaque anyway */
	}
	if (in_body) {
		smtp_body_end(s, false, ts);
		s->cur->pub.gap =
		    true; /* still its transaction: a reply may come */
	}
	if (dir == SMTP_FROM_CLIENT) {
		/* what the client sent in the hole is unknown */
		line_reset(&s->cline);
		/* responses may be in the hole: none is expected unasked, the
		 * next one may not be the first (no user name taken from it),
		 * and an unknown line that looks like one is one */
		if (!s->sasl.sent)
			s->sasl.sent = 1;
		s->sasl.expect = s->sasl.sent;
		s->sasl.wary = true;
		smtp_set_cstate(s, C_RESYNC);
	} else {
		line_reset(&s->sline);
		if (s->rlines)
			smtp_reply_reset(s);
		smtp_set_sstate(s, S_RESYNC);
	}
	drop_pending(s);
}

void smtp_end(struct smtp_session *s, enum smtp_close reason, int64_t ts)
{
	struct smtp_session_info info;
	bool done, bare_lf;

	if (s->ended)
		return;
	s->ended = true;
	if (s->ts_first < 0)
		s->ts_first = ts;
	if (ts > s->ts_last)
		s->ts_last = ts;
	/* a reply cut by the end still counts */
	if (s->sline.total && s->sstate == S_REPLY) {
		line_take(&s->sline, (const uint8_t *)"\n", 1, &done, &bare_lf);
		smtp_server_line(s, &s->sline, false, ts);
	} else if (s->rlines) {
		smtp_reply_done(s, ts);
	}
	if ((s->cstate == C_BODY && s->cur && s->cur->pub.has_body) ||
	    s->cstate == C_CHUNK || s->cstate == C_BDAT_OPEN)
		smtp_body_end(s, false, ts);
	smtp_shadow_settle(s); /* no reply told: the decoder's reading */
	gave_up(s);
	drop_pending(s);
	while (s->txns) {
		s->txns->detached = true;
		smtp_txn_emit(s, s->txns);
	}
	if (reason == SMTP_CLOSE_FIN && s->quit_sent)
		reason = SMTP_CLOSE_QUIT;
	/* established, and the server never said a word: nor did the
	 * client (a one-sided capture shows the client's commands) */
	if (!s->bytes[SMTP_FROM_SERVER] && !s->opt.midstream &&
	    !s->opt.implicit_tls && !s->commands && !s->gaps &&
	    reason != SMTP_CLOSE_SHUTDOWN && reason != SMTP_CLOSE_EOF) {
		smtp_alert_raise(
		    s, SMTP_ALERT_NO_GREETING, NULL, NULL, ts,
		    "no 220 in %lld.%03lld s; the connection "
		    "ended (%s)",
		    (long long)((ts - s->ts_first) / 1000000),
		    (long long)((ts - s->ts_first) % 1000000 / 1000),
		    smtp_close_str(reason));
		reason = SMTP_CLOSE_NO_GREETING;
	}
	if (s->not_smtp)
		reason = SMTP_CLOSE_NOT_SMTP;

	memset(&info, 0, sizeof(info));
	info.banner = s->banner;
	info.helo = s->helo;
	info.extensions = (const char *const *)s->ext;
	info.n_extensions = s->n_ext;
	info.tls = s->tls;
	info.auth_mechanism = s->auth_mech[0] ? s->auth_mech : NULL;
	info.auth_result = s->auth_result;
	info.auth_code = s->auth_code;
	info.auth_user = s->auth_user;
	info.transactions = s->n_txn;
	info.commands = s->commands;
	memcpy(info.replies, s->replies, sizeof(info.replies));
	info.bytes_client = s->bytes[SMTP_FROM_CLIENT];
	info.bytes_server = s->bytes[SMTP_FROM_SERVER];
	info.ts_start = s->ts_first;
	info.ts_end = s->ts_last;
	info.close = reason;
	info.midstream = s->opt.midstream;
	info.gaps = s->gaps;
	info.gap_bytes = s->gap_bytes;
	smtp_timing(s, &info);
	if (s->cb->session)
		s->cb->session(s->user, &info);
}

size_t smtp_mem(const struct smtp_session *s)
{
	return s->mem + s->cline.cap + s->sline.cap + s->rtext.cap +
	       s->rraw.cap + s->pend_cap * sizeof(*s->pend);
}

void smtp_session_free(struct smtp_session *s)
{
	struct txn *t;

	if (!s)
		return;
	smtp_shadow_drop(s);
	while ((t = s->txns)) {
		s->txns = t->next;
		smtp_txn_free(t);
	}
	while (s->n_ext)
		free(s->ext[--s->n_ext]);
	free(s->ext);
	free(s->auth_user);
	free(s->lat);
	line_reset(&s->cline);
	line_reset(&s->sline);
	while (s->pend_len) {
		struct pending *p = smtp_pend_at(s, 0);

		free(p->text);
		smtp_pend_pop(s);
	}
	free(s->pend);
	smtp_tls_free(s);
	free(s->tls.sni);
	free(s->banner);
	free(s->helo);
	sb_free(&s->rtext);
	sb_free(&s->rraw);
	free(s);
}
