/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp_body.c - message bodies: DATA dot-stuffing, BDAT chunks, smuggling. */
#include <stdlib.h>
#include <string.h>

#include "hashq.h"
#include "message.h"
#include "message_json.h"
#include "smtp_int.h"

void smtp_body_start(struct smtp_session *s)
{
	s->bstate = B_BOL;
	s->blinelen = 0;
	s->blast = '\n';
	s->bol_bare = false;
	s->crstate = CR_NONE;
	s->look.seq = NULL;
	s->looklen = 0;
}

static void part_data(void *user, const struct msg_part *part, unsigned index,
		      const uint8_t *p, size_t n)
{
	struct smtp_session *s = user;

	s->cb->part_data(s->user, &s->cur->pub, part, index, p, n);
}

static void part_end(void *user, const struct msg_part *part, unsigned index)
{
	struct smtp_session *s = user;

	s->cb->part_end(s->user, &s->cur->pub, part, index);
}

/*
 * Part content hooks (extraction) run in the packet path: then the
 * parser does too. Otherwise it is fed on the hashing thread.
 */
static bool parse_inline(const struct smtp_session *s)
{
	return s->opt.part_content && (s->cb->part_data || s->cb->part_end);
}

/* The message parser of a new body; it runs only within s->cur. */
static struct msg *message_new(struct smtp_session *s)
{
	struct msg *m = msg_new(NULL);
	struct msg_hooks h = {NULL, NULL, s};

	if (s->opt.part_content && s->cb->part_data)
		h.data = part_data;
	if (s->opt.part_content && s->cb->part_end)
		h.end = part_end;
	msg_set_hooks(m, &h);
	return m;
}

/*
 * The parser's end: msg_end(), the From check, the email object. It runs
 * on the hashing thread after the body's last octet (hq_end), or at once
 * when the parser runs in the packet path.
 */
static void close_msg(struct txn *t, bool complete)
{
	msg_end(t->msg, complete);
	if (t->pub.mail_from)
		msg_check_from(t->msg, t->pub.mail_from);
	msg_render(t->msg);
}

static void close_whole(void *t)
{
	close_msg(t, true);
}

static void close_cut(void *t)
{
	close_msg(t, false);
}

/* The parser's findings are read: waited for if it ran behind. */
static void message_close(struct txn *t)
{
	if (!t->msg_open)
		return;
	t->msg_open = false;
	if (t->hash)
		hq_sync(t->hash);
	t->pub.subject = msg_subject(t->msg);
	t->pub.msg = t->msg;
}

static void feed(void *m, const uint8_t *p, size_t n)
{
	msg_feed(m, p, n);
}

static void body_data(struct smtp_session *s, const uint8_t *p, size_t n,
		      int64_t ts)
{
	struct txn *t = s->cur;

	if (!n)
		return;
	if (!t)
		t = s->cur = smtp_txn_new(s, ts);
	t->pub.has_body = true;
	t->pub.size += n;
	if (t->hash_ended) { /* a second body (BDAT, then DATA): its own */
		message_close(t);
		hq_free(t->hash);
		t->hash = NULL;
		t->hash_ended = false;
	}
	if (!s->opt.no_message && !t->msg) {
		t->msg = message_new(s);
		t->msg_inline = parse_inline(s);
		/* what the parser grows, on its thread, its limits bound */
		t->mem += msg_mem(t->msg);
		s->mem += msg_mem(t->msg);
	}
	if (!t->hash) {
		t->hash = hq_new();
		if (t->msg && !parse_inline(s))
			hq_tee(t->hash, feed, t->msg);
	}
	hq_update(t->hash, p, n);
	if (s->cb->body_data)
		s->cb->body_data(s->user, &t->pub, p, n);
	if (t->msg && parse_inline(s))
		msg_feed(t->msg, p, n);
}

static uint64_t body_size(const struct smtp_session *s)
{
	return s->cur ? s->cur->pub.size : 0;
}

/*
 * What the parser allocated as it ran on the hashing thread is freed
 * there; the struct, the packet path's, goes home to be freed: no thread
 * frees into the other's malloc arena (they would fight over its lock).
 */
static void free_msg(void *m)
{
	msg_release(m);
	hq_free_home(m);
}

void smtp_body_free(struct txn *t)
{
	hq_free(t->hash_all);
	hq_free(t->hash); /* first: it may still feed t->msg */
	if (t->msg_inline)
		msg_free(t->msg); /* it ran here */
	else if (t->msg)
		hq_call(free_msg, t->msg);
}

void smtp_body_results(struct smtp_session *s, struct txn *t)
{
	static const enum smtp_alert_kind kinds[] = {
#define X(k, name) [MSG_ALERT_##k] = SMTP_ALERT_##k,
	    MSG_ALERT_LIST(X)
#undef X
	};
	const struct msg_alert *a;
	size_t i, n;

	if (!t->msg)
		return;
	message_close(t);
	n = msg_alerts(t->msg, &a);
	for (i = 0; i < n; i++)
		smtp_alert_raise(s, kinds[a[i].kind], NULL, NULL, s->ts_last,
				 "message %u: %s", t->pub.index,
				 a[i].detail ? a[i].detail : "");
}

void smtp_body_end(struct smtp_session *s, bool complete, int64_t ts)
{
	struct txn *t = s->cur;

	smtp_set_cstate(s, C_CMD);
	if (!t)
		t = s->cur = smtp_txn_new(s, ts);
	t->pub.has_body = true;
	t->pub.body_done = complete;
	t->pub.ts_end = ts;
	if (t->msg) {
		message_close(t); /* a body before this one, not read yet */
		t->msg_open = true;
		complete = complete && !t->pub.gap;
		if (t->hash && !parse_inline(s)) {
			hq_end(t->hash, complete ? close_whole : close_cut, t);
		} else {
			if (t->hash)
				hq_finish(t->hash);
			close_msg(t,
				  complete); /* its hooks run within s->cur */
		}
		if (s->opt.message_at_body_end) /* a transcript: Subject */
			message_close(t);
	} else if (t->hash) {
		hq_finish(t->hash);
	}
	if (t->hash) /* the digest is read when the transaction is written */
		t->hash_ended = true;
	if (s->cb->body)
		s->cb->body(s->user, &t->pub);
	/* a message that may be text of one before it: once it is not */
	if (complete && !s->tls.accepted && s->tls.offered)
		t->cleartext = true;
	if (t->cleartext && !s->shadow)
		smtp_body_cleartext(s, t, ts);
}

void smtp_body_cleartext(struct smtp_session *s, struct txn *t, int64_t ts)
{
	if (!t->cleartext)
		return;
	t->cleartext = false;
	smtp_alert_raise(s, SMTP_ALERT_CLEARTEXT_MAIL, NULL, NULL, ts,
			 "message %u (%llu bytes) sent without STARTTLS",
			 t->pub.index, (unsigned long long)t->pub.size);
}

/* Does text look like the start of an SMTP command line? */
static bool looks_like_command(const char *p, size_t n)
{
	size_t v = 0;

	while (v < n && p[v] != ' ' && p[v] != '\r' && p[v] != '\n')
		v++;
	return v >= 4 && smtp_verb_lookup(p, v) < V_UNKNOWN;
}

/* A CR-style sequence: judge it by the bytes that follow it. */
static void look_done(struct smtp_session *s, int64_t ts)
{
	if (s->look.seq && looks_like_command(s->lookbuf, s->looklen))
		smtp_alert_raise(
		    s, SMTP_ALERT_SMTP_SMUGGLING, NULL, NULL, ts,
		    "%s at body offset %llu followed by \"%.*s\"; the "
		    "decoder kept reading the message (only <CR><LF>.<CR>"
		    "<LF> ends DATA), a server that accepts this sequence "
		    "reads a second, hidden message",
		    s->look.seq, (unsigned long long)s->look.offset,
		    (int)strcspn(s->lookbuf, "\r\n") < (int)s->looklen
			? (int)strcspn(s->lookbuf, "\r\n")
			: (int)s->looklen,
		    s->lookbuf);
	s->look.seq = NULL;
	s->looklen = 0;
}

static void look_feed(struct smtp_session *s, const uint8_t *p, size_t n,
		      int64_t ts)
{
	size_t i;

	for (i = 0; i < n && s->look.seq; i++) {
		s->lookbuf[s->looklen++] = (char)p[i];
		if (p[i] == '\n' || s->looklen == SMTP_LOOK_MAX)
			look_done(s, ts);
	}
}

static void look_start(struct smtp_session *s, const char *seq, uint64_t offset,
		       int64_t ts)
{
	if (s->look.seq)
		look_done(s, ts);
	s->look.seq = seq;
	s->look.offset = offset;
	s->looklen = 0;
}

static void body_anomaly(struct smtp_session *s, unsigned flag,
			 enum smtp_alert_kind kind, int64_t ts,
			 unsigned long long offset)
{
	if (s->seen & flag)
		return;
	s->seen |= flag;
	smtp_alert_raise(s, kind, NULL, NULL, ts,
			 "in the message body, at offset %llu", offset);
}

static void cr_candidate(struct smtp_session *s, uint8_t third, uint64_t offset,
			 const uint8_t *rest, size_t n, int64_t ts)
{
	look_start(s, third == '\r' ? "<CR>.<CR>" : "<CR>.<LF>", offset, ts);
	look_feed(s, rest, n, ts);
}

/*
 * Bare CRs of a run of body lines, and the CR-style smuggling sequences
 * <CR>.<CR> and <CR>.<LF> (a dot after a CR is never at a line start, so
 * both lie inside runs). s->crstate carries a sequence cut by a feed.
 */
static void scan_cr(struct smtp_session *s, const uint8_t *run, size_t n,
		    uint64_t base, int64_t ts)
{
	const uint8_t *end = run + n, *q = run;

	if (!n)
		return;
	if (s->crstate == CR_CR) {
		s->crstate = CR_NONE;
		if (run[0] != '\n') {
			body_anomaly(s, SEEN_BARE_CR, SMTP_ALERT_BARE_CR, ts,
				     base - 1);
			if (run[0] == '.' && n == 1)
				s->crstate = CR_CR_DOT;
			else if (run[0] == '.' &&
				 (run[1] == '\r' || run[1] == '\n'))
				cr_candidate(s, run[1], base - 1, run + 2,
					     n - 2, ts);
		}
	} else if (s->crstate == CR_CR_DOT) {
		s->crstate = CR_NONE;
		if (run[0] == '\r' || run[0] == '\n')
			cr_candidate(s, run[0], base - 2, run + 1, n - 1, ts);
	}
	while ((q = memchr(q, '\r', end - q))) {
		if (q + 1 == end) {
			s->crstate = CR_CR;
			break;
		}
		if (q[1] != '\n') {
			body_anomaly(s, SEEN_BARE_CR, SMTP_ALERT_BARE_CR, ts,
				     base + (q - run));
			if (q[1] == '.' && q + 2 == end)
				s->crstate = CR_CR_DOT;
			else if (q[1] == '.' && (q[2] == '\r' || q[2] == '\n'))
				cr_candidate(s, q[2], base + (q - run), q + 3,
					     end - q - 3, ts);
		}
		q++;
	}
}

/* A body line ends at nl (body offset given): length and bare-LF checks. */
static void line_end(struct smtp_session *s, const uint8_t *line,
		     const uint8_t *nl, uint64_t offset, int64_t ts)
{
	uint8_t before = nl > line ? nl[-1] : s->blast;
	size_t len = s->blinelen + (size_t)(nl - line) + 1;

	s->bol_bare = before != '\r';
	if (s->bol_bare)
		body_anomaly(s, SEEN_BARE_LF, SMTP_ALERT_BARE_LF, ts, offset);
	if (len + (s->bol_bare ? 1 : 0) > SMTP_TEXT_LINE_LIMIT &&
	    !(s->seen & SEEN_LONG)) {
		s->seen |= SEEN_LONG;
		smtp_alert_raise(s, SMTP_ALERT_LINE_TOO_LONG, NULL, NULL, ts,
				 "a message text line of %zu octets (limit "
				 "%d)",
				 len + (s->bol_bare ? 1 : 0),
				 SMTP_TEXT_LINE_LIMIT);
	}
	s->blinelen = 0;
}

static void shadow_start(struct smtp_session *s, const char *nl);

/* The body ended at a dot line; remember a non-standard ending. */
static void data_end(struct smtp_session *s, const char *seq, int64_t ts)
{
	struct pending *m;

	if (s->look.seq)
		look_done(s, ts);
	s->after_end.seq = seq;
	s->after_end.offset = body_size(s);
	s->after_end.ended = true;
	smtp_body_end(s, true, ts);
	if (seq)
		shadow_start(s, strstr(seq, ".<CR>") ? "\r\n" : "\n");
	m = smtp_pend_pseudo(s, V_MESSAGE, ts);
	smtp_pend_attach(m, s->cur);
	if (seq)
		s->shadow->first = s->pend_pushed;
	if (seq) { /* judged by the reply, and by what follows it */
		m->smuggle = xmalloc(sizeof(*m->smuggle));
		*m->smuggle = s->after_end;
	}
	/* the client is done with it: a MAIL now starts the next one */
	smtp_txn_detach(s, s->cur, false);
}

/*
 * DATA: un-stuff dots and find the end (RFC 5321 4.1.1.4, 4.5.2). Lines
 * end at LF, as real servers read them, so <LF>.<LF> and <LF>.<CR><LF>
 * end the body too; such endings are remembered for the smuggling check.
 * Runs of lines that do not start with a dot go to body_data() at once.
 */
size_t smtp_feed_body(struct smtp_session *s, const uint8_t *buf, size_t len,
		      int64_t ts)
{
	const uint8_t *p = buf, *end = buf + len, *run, *nl;
	uint64_t base;

	while (p < end) {
		switch (s->bstate) {
		case B_BOL:
		case B_TEXT:
			run = p;
			base = body_size(s);
			while (p < end) {
				if (s->bstate == B_BOL) {
					if (*p == '.')
						break;
					s->bstate = B_TEXT;
				}
				nl = memchr(p, '\n', end - p);
				if (!nl) {
					s->blinelen += end - p;
					p = end;
					break;
				}
				line_end(s, p, nl, base + (nl - run), ts);
				p = nl + 1;
				s->bstate = B_BOL;
			}
			if (s->look.seq)
				look_feed(s, run, p - run, ts);
			scan_cr(s, run, p - run, base, ts);
			body_data(s, run, p - run, ts);
			if (p > run)
				s->blast = p[-1];
			if (p < end) { /* a dot at the start of a line */
				s->bstate = B_DOT;
				s->blast = '.';
				p++;
			}
			break;
		case B_DOT:
			if (*p == '\r') {
				s->bstate = B_DOT_CR;
				p++;
			} else if (*p == '\n') {
				p++;
				data_end(s,
					 s->bol_bare ? "<LF>.<LF>"
						     : "<CR><LF>.<LF>",
					 ts);
				return p - buf;
			} else {
				/* a stuffed dot, dropped: the line goes on */
				s->bstate = B_TEXT;
				s->blinelen = 1;
			}
			break;
		case B_DOT_CR:
			if (*p == '\n') {
				p++;
				data_end(s,
					 s->bol_bare ? "<LF>.<CR><LF>" : NULL,
					 ts);
				return p - buf;
			}
			/* ".<CR>" and no LF: the dot was stuffing */
			look_start(s,
				   s->bol_bare ? "<LF>.<CR>" : "<CR><LF>.<CR>",
				   body_size(s), ts);
			body_anomaly(s, SEEN_BARE_CR, SMTP_ALERT_BARE_CR, ts,
				     body_size(s));
			body_data(s, (const uint8_t *)"\r", 1, ts);
			s->blast = '\r';
			s->blinelen = 2;
			s->bstate = B_TEXT;
			break;
		}
	}
	return len;
}

size_t smtp_feed_chunk(struct smtp_session *s, const uint8_t *buf, size_t len,
		       int64_t ts)
{
	size_t n = len < s->chunk_left ? len : s->chunk_left;

	body_data(s, buf, n, ts);
	s->chunk_left -= n;
	if (!s->chunk_left) {
		smtp_set_cstate(s, s->chunk_last ? C_CMD : C_BDAT_OPEN);
		if (s->chunk_last) {
			smtp_body_end(s, true, ts);
			smtp_txn_detach(s, s->cur, false);
		}
	}
	return n;
}

/* ---- the other reading of an <LF>-style end of data (struct shadow) ---- */

enum { SH_TEXT, SH_BOL, SH_DOT, SH_DOT_CR };

void smtp_smuggle_alert(struct smtp_session *s, const struct smuggle *sm,
			const struct smtp_cmd *c, const struct smtp_reply *r)
{
	if (!sm->followed && r->code / 100 == 2)
		smtp_alert_raise(
		    s, SMTP_ALERT_NONSTANDARD_DATA_END, c, r, r->ts,
		    "the server answered %d to a message ended "
		    "by %s at body offset %llu",
		    r->code, sm->seq, (unsigned long long)sm->offset);
	else if (sm->followed)
		smtp_alert_raise(
		    s, SMTP_ALERT_SMTP_SMUGGLING, c, r, r->ts,
		    "%s ended the data at body offset %llu and SMTP "
		    "commands followed at once; the server answered %d to "
		    "it: %s",
		    sm->seq, (unsigned long long)sm->offset, r->code,
		    r->code / 100 == 2
			? "it took the sequence as end of data, what "
			  "follows is a second message"
			: "it refused the message");
}

/*
 * The body ended at an <LF>-style sequence whose dot line ended with nl:
 * the other reading takes that line as a stuffed dot (the line ending
 * stays) and reads on. Called before the body's end, after its octets.
 */
static void shadow_start(struct smtp_session *s, const char *nl)
{
	struct txn *t = s->cur;
	struct shadow *w;

	smtp_shadow_settle(s); /* one at a time: the decoder's reading */
	smtp_body_cleartext(s, t, t->pub.ts_end); /* a message either way */
	w = xcalloc(1, sizeof(*w));
	w->txn = t;
	t->refs++;
	w->hash = t->hash ? hq_fork(t->hash) : hq_new();
	w->size = t->pub.size;
	w->n_txn = s->n_txn;
	w->crlf = nl[0] == '\r';
	hq_update(w->hash, (const uint8_t *)nl, strlen(nl));
	w->size += strlen(nl);
	w->st = SH_BOL;
	s->shadow = w;
}

static void shadow_put(struct shadow *w, const uint8_t *p, size_t n)
{
	hq_update(w->hash, p, n);
	w->size += n;
}

/*
 * Client octets after the sequence, as the decoder consumed them: the
 * other reading's body (dots unstuffed) up to <CR><LF>.<CR><LF>.
 */
void smtp_shadow_feed(struct smtp_session *s, const uint8_t *buf, size_t len)
{
	struct shadow *w = s->shadow;
	const uint8_t *p = buf, *end = buf + len, *nl;

	while (p < end && !w->mark) {
		switch (w->st) {
		case SH_TEXT:
			nl = memchr(p, '\n', end - p);
			if (!nl) {
				shadow_put(w, p, end - p);
				w->crlf = end[-1] == '\r';
				p = end;
				break;
			}
			shadow_put(w, p, nl + 1 - p);
			w->crlf = nl > p ? nl[-1] == '\r' : w->crlf;
			p = nl + 1;
			w->st = SH_BOL;
			break;
		case SH_BOL:
			if (*p == '.') {
				p++; /* a stuffed dot, or the end */
				w->st = w->crlf ? SH_DOT : SH_TEXT;
			} else {
				w->st = SH_TEXT;
			}
			w->crlf = false;
			break;
		case SH_DOT:
			if (*p == '\r') {
				p++;
				w->st = SH_DOT_CR;
			} else {
				w->st = SH_TEXT;
			}
			break;
		case SH_DOT_CR:
			if (*p == '\n') {
				p++;
				w->mark = s->pend_pushed;
				w->n_txn_mark = s->n_txn;
				/* the decoder ended a line or a body here */
				w->aligned = p == end &&
					     smtp_in_commands(s->cstate) &&
					     !s->cline.total;
				hq_finish(w->hash);
				break;
			}
			shadow_put(w, (const uint8_t *)"\r", 1);
			w->crlf = true;
			w->st = SH_TEXT;
			break;
		}
	}
}

/* The reply to the message the shadow's sequence ended. */
bool smtp_shadow_message_reply(struct smtp_session *s, struct txn *t,
			       const struct smuggle *sm,
			       const struct smtp_reply *r)
{
	struct shadow *w = s->shadow;

	if (!w || w->txn != t || w->answered)
		return false;
	/* answered before the client sent <CR><LF>.<CR><LF>, or the two
	 * readings part ways there: the server took the sequence */
	if (!w->mark || !w->aligned) {
		smtp_shadow_settle(s);
		return false;
	}
	w->answered = true; /* the next reply tells */
	w->smuggle = *sm;
	smtp_save_reply(&w->r1, r);
	w->r1_raw = wire_strndup(
	    r->raw, r->raw_len < SMTP_SAVED_MAX ? r->raw_len : SMTP_SAVED_MAX);
	w->r1_lines = r->lines;
	w->r1_ts = r->ts;
	return true;
}

/* The message's reply, kept by smtp_shadow_message_reply(), as a reply. */
static void shadow_r1(const struct shadow *w, struct smtp_reply *r,
		      struct smtp_cmd *c)
{
	memset(r, 0, sizeof(*r));
	r->code = w->r1.code;
	memcpy(r->enhanced, w->r1.enhanced, sizeof(r->enhanced));
	r->text = w->r1.text;
	r->text_len = strlen(w->r1.text);
	r->raw = w->r1_raw;
	r->raw_len = strlen(w->r1_raw);
	r->lines = w->r1_lines;
	r->ts = w->r1_ts;
	memset(c, 0, sizeof(*c));
	c->verb = smtp_verbs[V_MESSAGE].name;
	c->arg = "";
	c->known = false;
	c->ts = w->txn->pub.ts_end;
}

void smtp_shadow_drop(struct smtp_session *s)
{
	struct shadow *w = s->shadow;

	if (!w)
		return;
	s->shadow = NULL;
	hq_free(w->hash);
	free(w->r1.text);
	free(w->r1_raw);
	free(w);
}

static void shadow_free(struct smtp_session *s)
{
	struct txn *t = s->shadow->txn;

	smtp_shadow_drop(s);
	smtp_txn_unref(s, t);
}

/* The decoder's reading stands: the server ended the data there. */
void smtp_shadow_settle(struct smtp_session *s)
{
	struct shadow *w = s->shadow;
	struct smtp_reply r;
	struct smtp_cmd c;

	if (!w)
		return;
	if (w->answered) {
		shadow_r1(w, &r, &c);
		smtp_smuggle_alert(s, &w->smuggle, &c, &r);
	}
	shadow_free(s);
}

/*
 * The other reading stands: what followed the sequence up to the mark
 * was message text. Its commands and transactions go, unanswered and
 * unwritten; the message takes the size and digest of all of it.
 */
static void shadow_take(struct smtp_session *s)
{
	struct shadow *w = s->shadow;
	struct txn *t = w->txn, *o, *next;
	uint32_t gone = w->n_txn_mark - w->n_txn, lines = 0;
	struct smtp_reply r;
	size_t i;
	struct smtp_cmd c;

	for (o = s->txns; o; o = o->next)
		if (o->pub.index > w->n_txn && o->pub.index <= w->n_txn_mark) {
			o->void_ = o->detached = true;
			if (s->cur == o)
				s->cur = NULL;
		} else if (o->pub.index > w->n_txn_mark) {
			o->pub.index -= gone;
		}
	s->n_txn -= gone;
	while (s->pend_len && s->pend_pushed - s->pend_len < w->mark) {
		struct pending *p = smtp_pend_at(s, 0);

		if (p->seq) /* a client line */
			lines++;
		smtp_pend_release(s, p);
		smtp_pend_pop(s);
	}
	/* numbered as the server counted them */
	s->commands -= lines < s->commands ? lines : s->commands;
	s->seq -= lines < s->seq ? lines : s->seq;
	for (i = 0; i < s->pend_len; i++)
		if (smtp_pend_at(s, i)->seq > lines)
			smtp_pend_at(s, i)->seq -= lines;
	for (o = s->txns; o; o = next) { /* void ones nothing refers to */
		next = o->next;
		if (o->void_ && !o->refs)
			smtp_txn_emit(s, o);
	}
	t->pub.size = w->size;
	t->hash_all = w->hash;
	w->hash = NULL;
	if (w->smuggle.followed) {
		shadow_r1(w, &r, &c);
		smtp_alert_raise(
		    s, SMTP_ALERT_SMTP_SMUGGLING, &c, &r, r.ts,
		    "%s at body offset %llu and SMTP commands after it; the "
		    "server did not take it as end of data: it read on to "
		    "<CR><LF>.<CR><LF> as one message of %llu bytes and "
		    "answered %d once (the commands were message text)",
		    w->smuggle.seq, (unsigned long long)w->smuggle.offset,
		    (unsigned long long)w->size, r.code);
	}
	shadow_free(s);
}

/*
 * A reply while a shadow waits. The one after the message's answers,
 * in the decoder's reading, the first line after the sequence; in the
 * other, the first after the mark. A code that only the second can get
 * (221 to QUIT, when the first is MAIL) says the server read on.
 */
void smtp_shadow_reply(struct smtp_session *s, int code)
{
	struct shadow *w = s->shadow;
	uint64_t head = s->pend_pushed - s->pend_len; /* pushed before it */
	struct pending *b;

	if (!w->answered)
		return;
	if (!s->pend_len || head < w->first || head >= w->mark ||
	    s->pend_pushed == w->mark) {
		smtp_shadow_settle(s);
		return;
	}
	b = smtp_pend_at(s, w->mark - head);
	if (!smtp_reply_fits(smtp_pend_at(s, 0)->id, code) &&
	    smtp_reply_fits(b->id, code))
		shadow_take(s);
	else
		smtp_shadow_settle(s);
}
