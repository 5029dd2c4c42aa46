/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp_txn.c - mail transactions and the unanswered-command queue. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashq.h"
#include "smtp_int.h"

/* ---- transactions ---- */

struct txn *smtp_txn_new(struct smtp_session *s, int64_t ts)
{
	struct txn *t = xcalloc(1, sizeof(*t));

	t->mem = sizeof(*t);
	s->mem += t->mem;
	t->pub.index = ++s->n_txn;
	t->pub.ts_start = ts;
	t->pub.ts_end = ts;
	/* at the tail: a client pipelining MAILs keeps thousands alive */
	t->prev = s->txns_tail;
	if (t->prev)
		t->prev->next = t;
	else
		s->txns = t;
	s->txns_tail = t;
	return t;
}

static void saved_free(struct smtp_saved_reply *r)
{
	free(r->text);
	r->text = NULL;
}

void smtp_save_reply(struct smtp_saved_reply *dst, const struct smtp_reply *r)
{
	saved_free(dst);
	dst->code = r->code;
	memcpy(dst->enhanced, r->enhanced, sizeof(dst->enhanced));
	dst->text = wire_strndup(r->text, r->text_len < SMTP_SAVED_MAX
					      ? r->text_len
					      : SMTP_SAVED_MAX);
}

static enum smtp_status txn_status(const struct txn *t)
{
	const struct smtp_txn *p = &t->pub;
	size_t i;

	if (p->gap)
		return SMTP_STATUS_INCOMPLETE;
	if (p->body_done && p->data_reply.code)
		return p->data_reply.code < 400 ? SMTP_STATUS_QUEUED
						: SMTP_STATUS_REJECTED;
	if (p->has_body)
		return SMTP_STATUS_INCOMPLETE;
	if (p->mail_reply.code >= 400 || t->data_cmd_code >= 400)
		return SMTP_STATUS_REJECTED;
	if (p->n_rcpts && !p->accepted_rcpts) {
		for (i = 0; i < p->n_rcpts; i++)
			if (!p->rcpts[i].code)
				break;
		if (i == p->n_rcpts)
			return SMTP_STATUS_REJECTED;
	}
	return t->reset ? SMTP_STATUS_RESET : SMTP_STATUS_ABORTED;
}

void smtp_txn_free(struct txn *t)
{
	struct smtp_txn *p = &t->pub;
	size_t i;

	smtp_body_free(t); /* first: the parser's end reads mail_from */
	free(p->mail_from);
	for (i = 0; i < p->n_params; i++) {
		free(p->params[i].key);
		free(p->params[i].value);
	}
	free(p->params);
	for (i = 0; i < p->n_rcpts; i++) {
		free(p->rcpts[i].address);
		free(p->rcpts[i].text);
	}
	free(p->rcpts);
	saved_free(&p->mail_reply);
	saved_free(&p->data_reply);
	free(p->queue_id);
	free(t);
}

void smtp_txn_unref(struct smtp_session *s, struct txn *t)
{
	if (t && !--t->refs && t->detached)
		smtp_txn_emit(s, t);
}

/* The transaction t's nested MAIL kept: it is over, or t is. */
static void nested_end(struct smtp_session *s, struct txn *t)
{
	struct txn *o = t->nested;

	if (!o)
		return;
	t->nested = o->nested_in = NULL;
	o->detached = true;
	smtp_txn_unref(s, o);
}

/*
 * RFC 5321 4.1.1.2: a MAIL inside a transaction is refused (Postfix:
 * 503 nested MAIL command) and the transaction goes on as if it had not
 * been sent: the one it opened is void, the open one current again. A
 * MAIL the server took ends the one before. With commands pipelined
 * after the refused MAIL (they went to the new one), it ends too.
 */
void smtp_txn_nested_reply(struct smtp_session *s, struct txn *t, int code)
{
	struct txn *o = t->nested;

	if (!o)
		return;
	if (code / 100 == 2 || code == 0 || s->cur != t || t->refs > 1 ||
	    t->pub.index != s->n_txn) {
		nested_end(s, t);
		return;
	}
	t->nested = o->nested_in = NULL;
	o->refs--;
	s->cur = o;
	t->void_ = t->detached = true;
	s->n_txn--; /* its number goes to the next transaction */
}

void smtp_txn_emit(struct smtp_session *s, struct txn *t)
{
	/* what it kept is older: it goes first */
	nested_end(s, t);
	if (t->nested_in) {
		t->nested_in->nested = NULL;
		t->nested_in = NULL;
	}
	if (t->prev)
		t->prev->next = t->next;
	else
		s->txns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		s->txns_tail = t->prev;
	if (s->cur == t)
		s->cur = NULL;
	s->mem -= t->mem;
	if (t->void_) {
		smtp_txn_free(t);
		return;
	}
	smtp_body_cleartext(s, t, t->pub.ts_end);
	t->pub.helo = s->helo;
	t->pub.status = txn_status(t);
	if (!t->pub.body_done && !t->pub.data_reply.code)
		t->pub.ts_end = s->ts_last;
	if (t->pub.has_body) {
		if (!t->hash)
			t->hash = hq_new(); /* an empty body */
		hq_digest(t->hash_all ? t->hash_all : t->hash, t->pub.sha256);
	}
	smtp_body_results(s, t);
	if (s->cb->transaction)
		s->cb->transaction(s->user, &t->pub);
	smtp_txn_free(t);
}

/* The client is done with t; emit it once nothing pending refers to it. */
void smtp_txn_detach(struct smtp_session *s, struct txn *t, bool reset)
{
	if (!t)
		return;
	t->detached = true;
	t->reset = reset;
	if (s->cur == t)
		s->cur = NULL;
	if (!t->refs)
		smtp_txn_emit(s, t);
}

/* Postfix "queued as X", Exim "id=X", Sendmail "X Message accepted". */
char *smtp_queue_id(const char *text)
{
	const char *p, *e;

	if ((p = strstr(text, "queued as ")))
		p += 10;
	else if ((p = strstr(text, "id=")))
		p += 3;
	else if ((e = strstr(text, " Message accepted"))) {
		for (p = e; p > text && p[-1] != ' '; p--)
			;
		return p < e ? wire_strndup(p, e - p) : NULL;
	} else {
		return NULL;
	}
	for (e = p; *e && *e != ' ' && *e != '\n' && *e != ')'; e++)
		;
	return e > p ? wire_strndup(p, e - p) : NULL;
}

/* ---- the pending queue (RFC 2920: replies come back in order) ---- */

struct pending *smtp_pend_at(struct smtp_session *s, size_t i)
{
	return &s->pend[(s->pend_head + i) & (s->pend_cap - 1)];
}

const char *smtp_pend_verb(const struct pending *p)
{
	return p->id == V_UNKNOWN && p->text ? p->text : smtp_verbs[p->id].name;
}

const char *smtp_pend_arg(const struct pending *p)
{
	return p->id != V_MESSAGE && p->text ? p->text + strlen(p->text) + 1
					     : "";
}

/* p leaves the queue: what it holds is freed, its transaction told. */
void smtp_pend_release(struct smtp_session *s, struct pending *p)
{
	struct txn *t = p->txn;

	if (p->text)
		s->mem -= p->id == V_MESSAGE ? sizeof(struct smuggle)
					     : strlen(p->text) + p->arg_len + 2;
	free(p->text); /* or the smuggle of a <message> */
	p->text = NULL;
	p->txn = NULL;
	smtp_txn_unref(s, t);
}

/* The head entry leaves the queue; an empty big ring is given back. */
void smtp_pend_pop(struct smtp_session *s)
{
	s->pend_head = (s->pend_head + 1) & (s->pend_cap - 1);
	if (--s->pend_len == 0 && s->pend_cap > 8) {
		free(s->pend);
		s->pend = NULL;
		s->pend_cap = s->pend_head = 0;
	}
}

void smtp_cmd_view(const struct pending *p, struct smtp_cmd *c)
{
	c->seq = p->seq;
	c->verb = smtp_pend_verb(p);
	c->arg = smtp_pend_arg(p);
	c->arg_len = p->arg_len;
	c->pipelined = p->pipelined;
	c->known = p->id < V_UNKNOWN;
	c->ts = p->ts;
	c->line = NULL;
	c->line_len = 0;
}

void smtp_pend_drop_oldest(struct smtp_session *s)
{
	struct pending *p = smtp_pend_at(s, 0);
	struct smtp_cmd c;
	struct smtp_reply none = {0};

	smtp_cmd_view(p, &c);
	none.text = none.raw = "";
	if (s->cb->reply)
		s->cb->reply(s->user, &c, &none);
	smtp_pend_release(s, p);
	smtp_pend_pop(s);
}

struct pending *smtp_pend_last_message(struct smtp_session *s)
{
	uint64_t first = s->pend_pushed - s->pend_len; /* of the head */
	struct pending *p;

	if (!s->last_msg || s->last_msg - 1 < first)
		return NULL;
	p = smtp_pend_at(s, s->last_msg - 1 - first);
	return p->id == V_MESSAGE ? p : NULL;
}

struct pending *smtp_pend_push(struct smtp_session *s, enum verb id,
			       const char *verb, size_t vlen, const char *arg,
			       size_t alen, int64_t ts)
{
	struct pending *p;
	size_t i, vkeep;

	if (s->pend_len == SMTP_PENDING_HARD)
		smtp_pend_drop_oldest(s);
	if (s->pend_len == s->pend_cap) {
		size_t cap = s->pend_cap ? s->pend_cap * 2 : 4;
		struct pending *n = xmalloc(cap * sizeof(*n));

		for (i = 0; i < s->pend_len; i++)
			n[i] = *smtp_pend_at(s, i);
		free(s->pend);
		s->pend = n;
		s->pend_cap = cap;
		s->pend_head = 0;
	}
	p = smtp_pend_at(s, s->pend_len);
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->ts = ts;
	/* pipelined: something the client sent is still unanswered (only
	 * the greeting, always first, is not the client's) */
	p->pipelined =
	    s->pend_len > (s->pend_len && smtp_pend_at(s, 0)->id == V_GREETING);
	if (alen > SMTP_ARG_MAX)
		alen = SMTP_ARG_MAX;
	vkeep =
	    id == V_UNKNOWN ? (vlen < SMTP_VERB_MAX ? vlen : SMTP_VERB_MAX) : 0;
	if (vkeep || alen) {
		p->text = xmalloc(vkeep + alen + 2);
		s->mem += vkeep + alen + 2;
		memcpy(p->text, verb, vkeep);
		p->text[vkeep] = '\0';
		memcpy(p->text + vkeep + 1, arg, alen);
		p->text[vkeep + 1 + alen] = '\0';
	}
	p->arg_len = alen;
	s->pend_len++;
	s->pend_pushed++;
	if (id == V_MESSAGE)
		s->last_msg = s->pend_pushed;
	return p;
}

struct pending *smtp_pend_pseudo(struct smtp_session *s, enum verb id,
				 int64_t ts)
{
	return smtp_pend_push(s, id, "", 0, "", 0, ts);
}

void smtp_pend_attach(struct pending *p, struct txn *t)
{
	if (t) {
		p->txn = t;
		t->refs++;
	}
}
