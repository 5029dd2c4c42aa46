/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp.c - the SMTP dialogue state machine (RFC 5321, 2920, 3030, 3207, 4954). */
#include "smtp.h"

#include <nettle/base64.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_int.h"

static const char *const verb_names[] = {
#define X(v) #v,
	SMTP_VERB_LIST(X)
#undef X
	"",
	"<greeting>",
	"<message>",
	"<auth>",
	"<unsolicited>",
};

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

int smtp_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
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

/* ---- transactions ---- */

struct txn *smtp_txn_new(struct smtp_session *s, int64_t ts)
{
	struct txn *t = xcalloc(1, sizeof(*t));
	struct txn **pp = &s->txns;

	t->pub.index = ++s->n_txn;
	t->pub.ts_start = ts;
	t->pub.ts_end = ts;
	t->subject.max = SMTP_SUBJECT_MAX;
	sha256_init(&t->sha);
	while (*pp)
		pp = &(*pp)->next;
	*pp = t;
	return t;
}

static void saved_free(struct smtp_saved_reply *r)
{
	free(r->text);
	r->text = NULL;
}

static void save_reply(struct smtp_saved_reply *dst, const struct smtp_reply *r)
{
	saved_free(dst);
	dst->code = r->code;
	memcpy(dst->enhanced, r->enhanced, sizeof(dst->enhanced));
	dst->text =
	    xstrndup(r->text, r->text_len < SMTP_SAVED_MAX ? r->text_len
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

static void txn_free(struct txn *t)
{
	struct smtp_txn *p = &t->pub;
	size_t i;

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
	sb_free(&t->subject);
	free(t);
}

static void txn_emit(struct smtp_session *s, struct txn *t)
{
	struct txn **pp = &s->txns;

	while (*pp != t)
		pp = &(*pp)->next;
	*pp = t->next;
	if (s->cur == t)
		s->cur = NULL;
	t->pub.helo = s->helo;
	t->pub.status = txn_status(t);
	if (!t->pub.body_done && !t->pub.data_reply.code)
		t->pub.ts_end = s->ts_last;
	t->pub.subject = t->subject.len ? t->subject.p : NULL;
	if (s->cb->transaction)
		s->cb->transaction(s->user, &t->pub);
	txn_free(t);
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
		txn_emit(s, t);
}

/* Postfix "queued as X", Exim "id=X", Sendmail "X Message accepted". */
static char *queue_id(const char *text)
{
	const char *p, *e;

	if ((p = strstr(text, "queued as ")))
		p += 10;
	else if ((p = strstr(text, "id=")))
		p += 3;
	else if ((e = strstr(text, " Message accepted"))) {
		for (p = e; p > text && p[-1] != ' '; p--)
			;
		return p < e ? xstrndup(p, e - p) : NULL;
	} else {
		return NULL;
	}
	for (e = p; *e && *e != ' ' && *e != '\n' && *e != ')'; e++)
		;
	return e > p ? xstrndup(p, e - p) : NULL;
}

/* ---- the pending queue (RFC 2920: replies come back in order) ---- */

static struct pending *pend_at(struct smtp_session *s, size_t i)
{
	return &s->pend[(s->pend_head + i) % s->pend_cap];
}

static void pend_release(struct smtp_session *s, struct pending *p)
{
	struct txn *t = p->txn;

	p->txn = NULL;
	if (t && !--t->refs && t->detached)
		txn_emit(s, t);
}

static void cmd_view(const struct pending *p, struct smtp_cmd *c)
{
	c->seq = p->seq;
	c->verb = p->verb;
	c->arg = p->arg;
	c->arg_len = p->arg_len;
	c->pipelined = p->pipelined;
	c->known = p->id < V_UNKNOWN;
	c->ts = p->ts;
	c->line = NULL;
	c->line_len = 0;
}

static void pend_drop_oldest(struct smtp_session *s)
{
	struct pending *p = pend_at(s, 0);
	struct smtp_cmd c;
	struct smtp_reply none = {0};

	cmd_view(p, &c);
	none.text = none.raw = "";
	if (s->cb->reply)
		s->cb->reply(s->user, &c, &none);
	pend_release(s, p);
	s->pend_head = (s->pend_head + 1) % s->pend_cap;
	s->pend_len--;
}

static struct pending *pend_push(struct smtp_session *s, enum verb id,
				 const char *verb, size_t vlen, const char *arg,
				 size_t alen, int64_t ts)
{
	struct pending *p;
	size_t i;

	if (s->pend_len == SMTP_PENDING_HARD)
		pend_drop_oldest(s);
	if (s->pend_len == s->pend_cap) {
		size_t cap = s->pend_cap ? s->pend_cap * 2 : 4;
		struct pending *n = xcalloc(cap, sizeof(*n));

		for (i = 0; i < s->pend_len; i++)
			n[i] = *pend_at(s, i);
		free(s->pend);
		s->pend = n;
		s->pend_cap = cap;
		s->pend_head = 0;
	}
	p = pend_at(s, s->pend_len);
	memset(p, 0, offsetof(struct pending, verb));
	p->id = id;
	p->ts = ts;
	/* pipelined: something the client sent is still unanswered */
	for (i = 0; i < s->pend_len; i++)
		if (pend_at(s, i)->id != V_GREETING)
			p->pipelined = true;
	if (vlen > SMTP_VERB_MAX)
		vlen = SMTP_VERB_MAX;
	for (i = 0; i < vlen; i++)
		p->verb[i] = id < V_UNKNOWN ? smtp_upper(verb[i]) : verb[i];
	p->verb[vlen] = '\0';
	if (alen > SMTP_ARG_MAX)
		alen = SMTP_ARG_MAX;
	memcpy(p->arg, arg, alen);
	p->arg[alen] = '\0';
	p->arg_len = alen;
	s->pend_len++;
	return p;
}

struct pending *smtp_pend_pseudo(struct smtp_session *s, enum verb id,
				   int64_t ts)
{
	const char *name = verb_names[id];

	return pend_push(s, id, name, strlen(name), "", 0, ts);
}

void smtp_pend_attach(struct pending *p, struct txn *t)
{
	if (t) {
		p->txn = t;
		t->refs++;
	}
}

/* ---- client commands ---- */

enum verb smtp_verb_lookup(const char *v, size_t n)
{
	size_t i, k;

	for (i = 0; i < V_UNKNOWN; i++) {
		const char *name = verb_names[i];

		for (k = 0; k < n && name[k] && smtp_upper(v[k]) == name[k]; k++)
			;
		if (k == n && !name[k])
			return i;
	}
	return V_UNKNOWN;
}

/* "FROM:<addr> PARAMS" or "TO:<addr> PARAMS"; returns the params. */
static const char *parse_path(const char *a, size_t n, const char *prefix,
			      char **addr)
{
	const char *p = a, *end = a + n, *s, *e;
	size_t plen = strlen(prefix);

	if (smtp_ieq_prefix(a, n, prefix))
		p += plen;
	while (p < end && *p == ' ')
		p++;
	if (p < end && *p == '<') {
		s = ++p;
		while (p < end && *p != '>')
			p++;
		e = p;
		if (p < end)
			p++;
	} else {
		s = p;
		while (p < end && *p != ' ')
			p++;
		e = p;
	}
	*addr = xstrndup(s, e - s);
	while (p < end && *p == ' ')
		p++;
	return p;
}

static void parse_params(struct smtp_txn *t, const char *p, const char *end)
{
	while (p < end) {
		const char *k = p, *eq = NULL;
		struct smtp_param *prm;
		size_t i;

		while (p < end && *p != ' ') {
			if (*p == '=' && !eq)
				eq = p;
			p++;
		}
		if (p > k) {
			t->params = xrealloc(t->params, (t->n_params + 1) *
							    sizeof(*t->params));
			prm = &t->params[t->n_params++];
			prm->key = xstrndup(k, (eq ? eq : p) - k);
			for (i = 0; prm->key[i]; i++)
				prm->key[i] = smtp_upper(prm->key[i]);
			prm->value = eq ? xstrndup(eq + 1, p - eq - 1) : NULL;
		}
		while (p < end && *p == ' ')
			p++;
	}
}

/* BDAT <size> [LAST] (RFC 3030 2); false when the size is not valid. */
static bool parse_bdat(const char *a, size_t n, uint64_t *size, bool *last)
{
	size_t i = 0;
	uint64_t v = 0;

	if (!n || !is_digit(a[0]))
		return false;
	for (; i < n && is_digit(a[i]); i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (a[i] - '0');
	}
	while (i < n && a[i] == ' ')
		i++;
	*last = false;
	if (n - i == 4 && smtp_ieq_prefix(a + i, 4, "LAST"))
		*last = true, i += 4;
	if (i != n)
		return false;
	*size = v;
	return true;
}


/* ---- AUTH (RFC 4954) ---- */

/*
 * With show_auth_user only: the user name of PLAIN ("authzid NUL authcid
 * NUL password", RFC 4616) or LOGIN (the first response). The password is
 * decoded into a local buffer, never kept, and wiped.
 */
static void auth_user(struct smtp_session *s, const char *b64, size_t n)
{
	struct base64_decode_ctx ctx;
	uint8_t out[SMTP_ARG_MAX];
	size_t len = sizeof(out), i, start = 0;

	if (!s->opt.show_auth_user || s->auth_user[0] ||
	    n > (sizeof(out) / 3) * 4)
		return;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &len, out, n, b64) ||
	    !base64_decode_final(&ctx))
		len = 0;
	if (!strcmp(s->auth_mech, "PLAIN")) {
		for (i = 0; i < len && out[i]; i++)
			;
		start = i + 1; /* the authcid follows the first NUL */
		for (i = start; i < len && out[i]; i++)
			;
	} else {
		i = len;
	}
	if (start < len && i > start) {
		size_t k = i - start < SMTP_USER_MAX ? i - start : SMTP_USER_MAX;

		memcpy(s->auth_user, out + start, k);
		s->auth_user[k] = '\0';
	}
	memset(out, 0, sizeof(out));
}

static void auth_reply(struct smtp_session *s, struct pending *p,
		       const struct smtp_cmd *c, const struct smtp_reply *r)
{
	if (r->code == 334) {
		s->auth_wait = true;
		return;
	}
	s->auth_code = r->code;
	s->auth_result = r->code == 235 ? "success" :
			 p->id == V_AUTHDATA && !strcmp(p->arg, "*") ?
						  "cancelled" :
						  "failure";
	if (r->code != 535)
		return;
	smtp_alert_raise(s, SMTP_ALERT_AUTH_FAILURE, c, r, r->ts,
			 "mechanism %s", s->auth_mech);
	if (++s->auth_failures >= s->opt.auth_failures &&
	    !(s->seen & SEEN_BRUTE)) {
		s->seen |= SEEN_BRUTE;
		smtp_alert_raise(s, SMTP_ALERT_AUTH_BRUTEFORCE, c, r, r->ts,
				 "%u failed AUTH attempts in this session",
				 s->auth_failures);
	}
}

/* ---- client commands ---- */

/* Once-per-session anomalies of a line; where says whose line it is. */
static void line_anomalies(struct smtp_session *s, const struct line *l,
			   bool bare_lf, const char *where, size_t limit,
			   const struct smtp_cmd *c, int64_t ts)
{
	size_t len = l->total + (bare_lf ? 1 : 2);

	if (len > limit && !(s->seen & SEEN_LONG)) {
		s->seen |= SEEN_LONG;
		smtp_alert_raise(s, SMTP_ALERT_LINE_TOO_LONG, c, NULL, ts,
				 "%s line of %zu octets (limit %zu)%s", where,
				 len, limit,
				 l->total > SMTP_LINE_MAX ?
					 "; the decoder kept its first 4096" :
					 "");
	}
	if (bare_lf && !(s->seen & SEEN_BARE_LF)) {
		s->seen |= SEEN_BARE_LF;
		smtp_alert_raise(s, SMTP_ALERT_BARE_LF, c, NULL, ts,
				 "%s line ended with a bare LF", where);
	}
	if (l->bare_cr && !(s->seen & SEEN_BARE_CR)) {
		s->seen |= SEEN_BARE_CR;
		smtp_alert_raise(s, SMTP_ALERT_BARE_CR, c, NULL, ts,
				 "bare CR in a %s line", where);
	}
	if (l->nul && !(s->seen & SEEN_NUL)) {
		s->seen |= SEEN_NUL;
		smtp_alert_raise(s, SMTP_ALERT_NUL_BYTE, c, NULL, ts,
				 "NUL byte in a %s line", where);
	}
}

static struct pending *last_message(struct smtp_session *s)
{
	size_t i;

	for (i = s->pend_len; i-- > 0;)
		if (pend_at(s, i)->id == V_MESSAGE)
			return pend_at(s, i);
	return NULL;
}

/* Checks every command gets before its own meaning is applied. */
static void command_checks(struct smtp_session *s, struct pending *p,
			   const struct smtp_cmd *c, int64_t ts)
{
	struct pending *m;

	/* judged when the greeting comes: it may never have been captured */
	if (s->pend_len > 1 && pend_at(s, 0)->id == V_GREETING &&
	    !s->early_verb[0])
		memcpy(s->early_verb, p->verb, sizeof(s->early_verb));
	/* only when we saw what the server offered (its HELO/EHLO reply) */
	if (p->pipelined && s->ext_known && !s->pipelining &&
	    !(s->seen & SEEN_PIPELINING) &&
	    pend_at(s, 0)->id != V_GREETING && !s->tls_wait) {
		s->seen |= SEEN_PIPELINING;
		smtp_alert_raise(s, SMTP_ALERT_PIPELINING_NOT_OFFERED, c, NULL,
				 ts, "%s sent before earlier commands were "
				     "answered",
				 p->verb);
	}
	if (s->pend_len > s->opt.max_pending && !(s->seen & SEEN_PENDING)) {
		s->seen |= SEEN_PENDING;
		smtp_alert_raise(s, SMTP_ALERT_EXCESSIVE_PENDING, c, NULL, ts,
				 "%zu commands waiting for replies (limit %u)",
				 s->pend_len, s->opt.max_pending);
	}
	if (s->tls_wait)
		smtp_alert_raise(s, SMTP_ALERT_STARTTLS_INJECTION, c, NULL, ts,
				 "%s sent after STARTTLS, before the server's "
				 "reply",
				 p->verb[0] ? p->verb : "an empty line");
	/* a command right after an unusual end of data: smuggling */
	if (s->after_end.seq && p->id < V_UNKNOWN && (m = last_message(s)))
		m->smuggle = s->after_end;
	s->after_end.seq = NULL;
	if (s->bdat_open && p->id != V_BDAT) {
		smtp_alert_raise(s, SMTP_ALERT_BDAT_MISSING_LAST, c, NULL, ts,
				 "%s arrived after BDAT chunks without LAST",
				 p->verb);
		smtp_body_end(s, false, ts);
	}
}

static void add_rcpt(struct smtp_session *s, struct pending *p,
		     const struct smtp_cmd *c, const char *arg, size_t alen,
		     int64_t ts)
{
	struct smtp_txn *t;
	struct smtp_rcpt *r;

	if (!s->cur || s->cur->pub.mail_reply.code >= 400)
		smtp_alert_raise(s, SMTP_ALERT_COMMAND_OUT_OF_SEQUENCE, c,
				 NULL, ts,
				 s->cur ? "RCPT after a refused MAIL" :
					  "RCPT before MAIL");
	if (!s->cur)
		s->cur = smtp_txn_new(s, ts);
	t = &s->cur->pub;
	if (t->n_rcpts + t->dropped_rcpts >= s->opt.max_recipients &&
	    !s->cur->too_many) {
		s->cur->too_many = true;
		smtp_alert_raise(s, SMTP_ALERT_TOO_MANY_RECIPIENTS, c, NULL, ts,
				 "more than %u recipients in transaction %u",
				 s->opt.max_recipients, t->index);
	}
	if (t->n_rcpts == SMTP_MAX_RCPTS) {
		t->dropped_rcpts++;
		return;
	}
	t->rcpts = xrealloc(t->rcpts, (t->n_rcpts + 1) * sizeof(*r));
	r = &t->rcpts[t->n_rcpts++];
	memset(r, 0, sizeof(*r));
	parse_path(arg, alen, "TO:", &r->address);
	smtp_pend_attach(p, s->cur);
}

static void start_bdat(struct smtp_session *s, struct pending *p,
		       const struct smtp_cmd *c, const char *arg, size_t alen,
		       int64_t ts)
{
	uint64_t size;
	bool last;

	if (!parse_bdat(arg, alen, &size, &last)) {
		/* stay in command mode: the server's refusal is parsed */
		smtp_alert_raise(s, SMTP_ALERT_BDAT_INVALID, c, NULL, ts,
				 "chunk size \"%.*s\" is not valid", (int)alen,
				 arg);
		smtp_pend_attach(p, s->cur);
		return;
	}
	if (!s->cur)
		s->cur = smtp_txn_new(s, ts);
	if (!s->bdat_open) {
		s->cur->pub.bdat = true;
		s->cur->pub.has_body = true;
		smtp_body_start(s);
	}
	smtp_pend_attach(p, s->cur);
	s->bdat_open = !last;
	s->chunk_left = size;
	s->chunk_last = last;
	s->cstate = C_CHUNK;
	if (!size)
		smtp_feed_chunk(s, NULL, 0, ts); /* BDAT 0 LAST */
}

static void client_line(struct smtp_session *s, struct line *l, bool bare_lf,
			int64_t ts)
{
	char masked[SMTP_VERB_MAX + sizeof(AUTH_MASK) + 1];
	char masked_line[2 * SMTP_VERB_MAX + sizeof(AUTH_MASK) + 2];
	char *line = l->buf;
	size_t len = l->len, vlen, alen;
	struct pending *p;
	struct smtp_cmd c;
	const char *arg;
	enum verb id;

	if (s->auth_wait) {
		/* RFC 4954 4: a SASL response; "*" cancels. Never stored. */
		bool cancel = len == 1 && line[0] == '*';

		s->auth_wait = false;
		if (!cancel && s->auth_steps++ == 0)
			auth_user(s, line, len);
		p = smtp_pend_pseudo(s, V_AUTHDATA, ts);
		strcpy(p->arg, cancel ? "*" : AUTH_MASK);
		p->arg_len = strlen(p->arg);
		cmd_view(p, &c);
		c.line = p->arg;
		c.line_len = p->arg_len;
		if (s->cb->command)
			s->cb->command(s->user, &c);
		return;
	}

	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	id = smtp_verb_lookup(line, vlen);
	arg = line + vlen;
	alen = len - vlen;
	while (alen && *arg == ' ')
		arg++, alen--;
	if (id == V_AUTH) {
		/* keep the mechanism; mask an initial response */
		size_t m;

		for (m = 0; m < alen && arg[m] != ' '; m++)
			;
		for (s->auth_steps = 0; s->auth_steps < m &&
					s->auth_steps < SMTP_VERB_MAX;
		     s->auth_steps++)
			s->auth_mech[s->auth_steps] =
				smtp_upper(arg[s->auth_steps]);
		s->auth_mech[s->auth_steps] = '\0';
		s->auth_steps = 0;
		if (m < alen) {
			auth_user(s, arg + m + 1, alen - m - 1);
			s->auth_steps = 1;
			if (m > SMTP_VERB_MAX)
				m = SMTP_VERB_MAX;
			memcpy(masked, arg, m);
			memcpy(masked + m, " " AUTH_MASK, sizeof(AUTH_MASK) + 1);
			arg = masked;
			alen = m + sizeof(AUTH_MASK);
			/* the line as shown: verb as sent, masked argument */
			if (vlen > SMTP_VERB_MAX)
				vlen = SMTP_VERB_MAX;
			memcpy(masked_line, line, vlen);
			masked_line[vlen] = ' ';
			memcpy(masked_line + vlen + 1, masked, alen);
			line = masked_line;
			len = vlen + 1 + alen;
		}
	}
	p = pend_push(s, id, line, vlen, arg, alen, ts);
	p->seq = ++s->seq;
	s->commands++;
	cmd_view(p, &c);
	c.line = line;
	c.line_len = len;
	if (s->cb->command)
		s->cb->command(s->user, &c);
	line_anomalies(s, l, bare_lf, "command", SMTP_CMD_LINE_LIMIT, &c, ts);
	command_checks(s, p, &c, ts);

	switch (id) {
	case V_HELO:
	case V_EHLO:
	case V_LHLO:
		free(s->helo);
		s->helo = xstrndup(arg, alen);
		/* RFC 5321 4.1.4: a new greeting resets the transaction */
		smtp_txn_detach(s, s->cur, true);
		break;
	case V_MAIL:
		if (s->cur && s->cur->pub.mail_from &&
		    (s->cur->pub.mail_reply.code == 0 ||
		     s->cur->pub.mail_reply.code / 100 == 2))
			smtp_alert_raise(s, SMTP_ALERT_COMMAND_OUT_OF_SEQUENCE,
					 &c, NULL, ts,
					 "MAIL inside an open transaction");
		smtp_txn_detach(s, s->cur, false);
		s->cur = smtp_txn_new(s, ts);
		arg = parse_path(arg, alen, "FROM:", &s->cur->pub.mail_from);
		parse_params(&s->cur->pub, arg, line + len);
		smtp_pend_attach(p, s->cur);
		break;
	case V_RCPT:
		add_rcpt(s, p, &c, arg, alen, ts);
		break;
	case V_DATA:
		/*
		 * Go to body mode now: a client sends the body only after
		 * 354, and a refusal with no body seen returns to commands.
		 */
		smtp_pend_attach(p, s->cur);
		s->cstate = C_BODY;
		smtp_body_start(s);
		break;
	case V_BDAT:
		start_bdat(s, p, &c, arg, alen, ts);
		break;
	case V_RSET:
		smtp_txn_detach(s, s->cur, true);
		break;
	case V_QUIT:
		s->quit_sent = true;
		smtp_txn_detach(s, s->cur, false);
		break;
	case V_AUTH:
		if (!s->tls.accepted)
			smtp_alert_raise(s, SMTP_ALERT_AUTH_PLAINTEXT, &c, NULL,
					 ts, "AUTH %s without TLS",
					 s->auth_mech);
		break;
	case V_STARTTLS:
		s->tls.requested = true;
		s->tls_wait = true;
		break;
	default:
		break;
	}
}

/* ---- server replies ---- */

static size_t parse_enhanced(const char *t, size_t n, int code, char *out)
{
	size_t i = 0, parts, digits;

	if (n < 5 || t[0] != '0' + code / 100 || t[1] != '.')
		return 0;
	i = 2;
	for (parts = 0; parts < 2; parts++) {
		for (digits = 0; i < n && is_digit(t[i]) && digits < 3; i++)
			digits++;
		if (!digits || (i < n && is_digit(t[i])))
			return 0;
		if (parts == 0) {
			if (i >= n || t[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && t[i] != ' ')
		return 0;
	if (out) {
		memcpy(out, t, i);
		out[i] = '\0';
	}
	return i;
}

static void reply_reset(struct smtp_session *s)
{
	sb_reset(&s->rtext);
	sb_reset(&s->rraw);
	s->rcode = 0;
	s->renh[0] = '\0';
	s->rlines = 0;
	s->rinvalid = false;
	s->rbadcode = 0;
}

static void save_extensions(struct smtp_session *s, const char *text)
{
	const char *p = strchr(text, '\n'), *e; /* line 1 is the domain */
	size_t n;

	while (s->n_ext)
		free(s->ext[--s->n_ext]);
	s->tls.offered = false;
	s->pipelining = false;
	while (p && s->n_ext < SMTP_MAX_EXT) {
		p++;
		e = strchr(p, '\n');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n) {
			s->ext[s->n_ext++] =
				xstrndup(p, n < SMTP_EXT_MAX ? n : SMTP_EXT_MAX);
			if (smtp_ieq_prefix(p, n, "STARTTLS") &&
			    (n == 8 || p[8] == ' '))
				s->tls.offered = true;
			if (smtp_ieq_prefix(p, n, "PIPELINING") &&
			    (n == 10 || p[10] == ' '))
				s->pipelining = true;
		}
		p = e;
	}
}

static void message_reply(struct smtp_session *s, struct pending *p,
			  const struct smtp_cmd *c, const struct smtp_reply *r)
{
	struct txn *t = p->txn;

	if (t) {
		save_reply(&t->pub.data_reply, r);
		t->pub.queue_id = queue_id(r->text);
		t->pub.ts_end = r->ts;
		smtp_txn_detach(s, t, false);
	}
	if (p->smuggle.seq)
		smtp_alert_raise(
			s, SMTP_ALERT_SMTP_SMUGGLING, c, r, r->ts,
			"%s ended the data at body offset %llu and SMTP "
			"commands followed at once; the server answered %d to "
			"it: %s",
			p->smuggle.seq, (unsigned long long)p->smuggle.offset,
			r->code,
			r->code / 100 == 2 ?
				"it took the sequence as end of data, what "
				"follows is a second message" :
				"it refused the message");
}

/* Every recipient has its reply (none was lost in a gap). */
static bool all_answered(const struct smtp_txn *t)
{
	size_t i;

	for (i = 0; i < t->n_rcpts; i++)
		if (!t->rcpts[i].code)
			return false;
	return true;
}

/* What a reply means for the state, by the command it answers. */
static void reply_effect(struct smtp_session *s, struct pending *p,
			 const struct smtp_cmd *c, const struct smtp_reply *r)
{
	struct txn *t = p->txn;
	int code = r->code;

	switch (p->id) {
	case V_GREETING:
		free(s->banner);
		s->banner = xstrndup(r->text, r->text_len);
		if (s->early_verb[0])
			smtp_alert_raise(s, SMTP_ALERT_EARLY_TALKER, c, r, r->ts,
					 "%s sent before the server's greeting",
					 s->early_verb);
		break;
	case V_HELO:
		if (code / 100 == 2) {
			save_extensions(s, ""); /* HELO: no extensions */
			s->ext_known = true;
		}
		break;
	case V_EHLO:
	case V_LHLO:
		if (code / 100 == 2) {
			save_extensions(s, r->text);
			s->ext_known = true;
		}
		break;
	case V_MAIL:
		if (t)
			save_reply(&t->pub.mail_reply, r);
		break;
	case V_RCPT:
		if (t) {
			/* replies come in order: the oldest unanswered one */
			struct smtp_rcpt *rc = t->pub.rcpts;
			size_t i;

			for (i = 0; i < t->pub.n_rcpts && rc[i].code; i++)
				;
			if (i < t->pub.n_rcpts) {
				rc[i].code = code;
				memcpy(rc[i].enhanced, r->enhanced,
				       sizeof(rc[i].enhanced));
				rc[i].text = xstrndup(
					r->text, r->text_len < SMTP_SAVED_MAX ?
							 r->text_len :
							 SMTP_SAVED_MAX);
				if (code / 100 == 2)
					t->pub.accepted_rcpts++;
			}
		}
		break;
	case V_DATA:
		if (!t || (!t->pub.accepted_rcpts && all_answered(&t->pub)))
			smtp_alert_raise(s, SMTP_ALERT_COMMAND_OUT_OF_SEQUENCE,
					 c, r, r->ts,
					 "DATA without an accepted recipient");
		if (t) {
			t->data_cmd_code = code;
			/* a refused DATA ends the transaction: keep its reply */
			if (code != 354 && !t->pub.has_body) {
				save_reply(&t->pub.data_reply, r);
				t->pub.ts_end = r->ts;
			}
		}
		if (code != 354 && s->cstate == C_BODY &&
		    s->bstate == B_BOL && !(s->cur && s->cur->pub.has_body))
			s->cstate = C_CMD; /* refused before any body */
		break;
	case V_BDAT:
		if (t && (code / 100 != 2 || t->pub.body_done) &&
		    !t->pub.data_reply.code) {
			save_reply(&t->pub.data_reply, r);
			t->pub.queue_id = queue_id(r->text);
			t->pub.ts_end = r->ts;
		}
		if (t && t->pub.body_done)
			smtp_txn_detach(s, t, false);
		break;
	case V_MESSAGE:
		message_reply(s, p, c, r);
		break;
	case V_STARTTLS:
		s->tls_wait = false;
		if (code == 220) {
			s->tls.accepted = true;
			s->cstate = C_TLS;
			s->sstate = S_TLS;
		} else {
			smtp_alert_raise(s, SMTP_ALERT_STARTTLS_FAILED, c, r,
					 r->ts, "STARTTLS answered %d", code);
		}
		break;
	case V_AUTH:
	case V_AUTHDATA:
		auth_reply(s, p, c, r);
		break;
	case V_VRFY:
	case V_EXPN:
		smtp_alert_raise(s, SMTP_ALERT_VRFY_EXPN_PROBE, c, r, r->ts,
				 "%s %s answered %d", p->verb, p->arg, code);
		break;
	default:
		break;
	}
}

static void reply_done(struct smtp_session *s, int64_t ts)
{
	struct pending *p, unsolicited;
	struct smtp_reply r;
	struct smtp_cmd c;
	int code = s->rcode;
	bool resync = s->cstate == C_RESYNC;

	r.code = code;
	memcpy(r.enhanced, s->renh, sizeof(r.enhanced));
	r.text = sb_str(&s->rtext);
	r.text_len = s->rtext.len;
	r.raw = sb_str(&s->rraw);
	r.raw_len = s->rraw.len;
	r.lines = s->rlines;
	r.ts = ts;

	if (s->pend_len) {
		p = pend_at(s, 0);
	} else {
		memset(&unsolicited, 0, offsetof(struct pending, verb));
		unsolicited.id = V_UNSOLICITED;
		unsolicited.ts = ts;
		strcpy(unsolicited.verb, verb_names[V_UNSOLICITED]);
		unsolicited.arg[0] = '\0';
		unsolicited.arg_len = 0;
		p = &unsolicited;
	}
	if (code >= 200 && code <= 599)
		s->replies[code / 100 - 2]++;
	cmd_view(p, &c);
	if (s->cb->reply)
		s->cb->reply(s->user, &c, &r);
	reply_effect(s, p, &c, &r);
	if (s->rinvalid)
		smtp_alert_raise(s, SMTP_ALERT_INVALID_REPLY, &c, &r, ts,
				 s->rbadcode ? "a multi-line reply mixes codes "
					       "%d and %d" :
					       NULL,
				 code, s->rbadcode);
	if (code == 421)
		smtp_alert_raise(s, SMTP_ALERT_REPLY_421, &c, &r, ts, NULL);
	else if (code / 100 == 4)
		smtp_alert_raise(s, SMTP_ALERT_REPLY_4XX, &c, &r, ts, NULL);
	else if (code / 100 == 5)
		smtp_alert_raise(s, SMTP_ALERT_REPLY_5XX, &c, &r, ts, NULL);
	/* a 354 nothing asked for (a DATA lost in a gap): a body follows */
	if (p->id == V_UNSOLICITED && code == 354 &&
	    (s->cstate == C_CMD || s->cstate == C_RESYNC)) {
		resync = false;
		s->cstate = C_BODY;
		smtp_body_start(s);
		if (s->cur) {
			sha256_init(&s->cur->sha);
			s->cur->pub.body_done = false;
			s->cur->pub.bdat = false;
		}
	}
	/* after a gap replies answer what was lost: not unsolicited */
	if (p->id == V_UNSOLICITED && code != 421 && !resync)
		smtp_alert_raise(s, SMTP_ALERT_UNSOLICITED_REPLY, &c, &r, ts,
				 NULL);
	if (p->id == V_UNKNOWN && p->verb[0])
		smtp_alert_raise(s, SMTP_ALERT_UNKNOWN_COMMAND, &c, &r, ts,
				 NULL);
	if (p != &unsolicited) {
		s->pend_head = (s->pend_head + 1) % s->pend_cap;
		s->pend_len--;
		pend_release(s, p);
	}
	reply_reset(s);
	/*
	 * A reply after a client gap: commands start at the next line, or
	 * a body if the reply was 354.
	 */
	if (resync && s->cstate == C_RESYNC) {
		if (code == 354) {
			s->cstate = C_BODY;
			smtp_body_start(s);
		} else if (s->cline.total) {
			s->resync_done = true; /* after the line under way */
		} else {
			s->cstate = C_CMD;
		}
	}
}

static bool reply_start(const char *line, size_t len)
{
	return len >= 3 && is_digit(line[0]) && is_digit(line[1]) &&
	       is_digit(line[2]) &&
	       (len == 3 || line[3] == ' ' || line[3] == '-');
}

static void server_line(struct smtp_session *s, struct line *l, bool bare_lf,
			int64_t ts)
{
	const char *line = l->buf;
	size_t len = l->len, tlen, e;
	bool valid = reply_start(line, len), more;
	int code = valid ? (line[0] - '0') * 100 + (line[1] - '0') * 10 +
				   (line[2] - '0') :
			   0;
	const char *text;

	if (s->sstate == S_RESYNC) {
		if (!valid)
			return; /* still inside what the gap cut */
		s->sstate = S_REPLY;
	}
	line_anomalies(s, l, bare_lf, "reply", SMTP_REPLY_LINE_LIMIT, NULL,
		       ts);
	more = valid && len > 3 && line[3] == '-';
	text = valid ? line + (len > 3 ? 4 : 3) : line;
	tlen = len - (text - line);
	if (code < 200 || code > 599)
		valid = false, more = false;
	if (s->rlines) {
		sb_append(&s->rraw, "\n", 1);
		sb_append(&s->rtext, "\n", 1);
		if (valid && code != s->rcode && !s->rbadcode) {
			s->rbadcode = code;
			s->rinvalid = true;
		}
	} else {
		s->rcode = code;
		s->rinvalid = !valid;
		if (valid && parse_enhanced(text, tlen, code, s->renh) == 0)
			s->renh[0] = '\0';
	}
	s->rlines++;
	sb_append(&s->rraw, line, len);
	if (valid && s->renh[0] &&
	    (e = parse_enhanced(text, tlen, code, NULL)) > 0 &&
	    e == strlen(s->renh) && !memcmp(text, s->renh, e)) {
		text += e;
		tlen -= e;
		while (tlen && *text == ' ')
			text++, tlen--;
	}
	sb_append(&s->rtext, text, tlen);
	if (!more)
		reply_done(s, ts);
}

/* ---- line assembly ---- */

/*
 * Take bytes up to and including a LF into l; returns the bytes consumed
 * and sets *done when a line is complete. Bytes past SMTP_LINE_MAX are
 * counted and skipped until the line ends.
 */
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
	l->len = l->total = 0;
	l->cr = l->bare_cr = l->nul = false;
}

/*
 * A line what came after a gap (or before the capture began) may be
 * anything: a line that can only be a command ends the resync, and a lone
 * "." the message the gap cut. The rest is dropped.
 */
static bool resync_command(const char *l, size_t n)
{
	static const char *const alone[] = {"DATA", "QUIT", "RSET", "NOOP",
					    "STARTTLS"};
	size_t i;

	for (i = 0; i < sizeof(alone) / sizeof(alone[0]); i++)
		if (n == strlen(alone[i]) && smtp_ieq_prefix(l, n, alone[i]))
			return true;
	return smtp_ieq_prefix(l, n, "MAIL FROM:") ||
	       smtp_ieq_prefix(l, n, "RCPT TO:") ||
	       (n > 5 && (smtp_ieq_prefix(l, n, "EHLO ") ||
			  smtp_ieq_prefix(l, n, "HELO ") ||
			  smtp_ieq_prefix(l, n, "AUTH "))) ||
	       (n > 5 && smtp_ieq_prefix(l, n, "BDAT ") && is_digit(l[5]));
}

static void resync_line(struct smtp_session *s, struct line *l, bool bare_lf,
			int64_t ts)
{
	struct pending *m;

	if (l->len == 1 && l->buf[0] == '.' && s->cur && s->cur->pub.gap) {
		/* the end of the message the gap cut: its reply is coming */
		s->cstate = C_CMD;
		m = smtp_pend_pseudo(s, V_MESSAGE, ts);
		smtp_pend_attach(m, s->cur);
		s->cur->pub.body_done = false;
		smtp_txn_detach(s, s->cur, false);
		return;
	}
	if (resync_command(l->buf, l->len)) {
		s->cstate = C_CMD;
		client_line(s, l, bare_lf, ts);
		return;
	}
	if (s->resync_done) /* a server reply came: the next line is ours */
		s->cstate = C_CMD;
}

static void feed_client(struct smtp_session *s, const uint8_t *buf, size_t len,
			int64_t ts)
{
	bool done, bare_lf;
	size_t n;

	while (len) {
		switch (s->cstate) {
		case C_CMD:
			n = line_take(&s->cline, buf, len, &done, &bare_lf);
			if (done) {
				client_line(s, &s->cline, bare_lf, ts);
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
			n = line_take(&s->cline, buf, len, &done, &bare_lf);
			if (done) {
				resync_line(s, &s->cline, bare_lf, ts);
				line_reset(&s->cline);
			}
			break;
		default: /* C_TLS: opaque, counted only */
			n = len;
			break;
		}
		buf += n;
		len -= n;
	}
}

static void feed_server(struct smtp_session *s, const uint8_t *buf, size_t len,
			int64_t ts)
{
	bool done, bare_lf;
	size_t n;

	while (len && s->sstate != S_TLS) {
		n = line_take(&s->sline, buf, len, &done, &bare_lf);
		if (done) {
			server_line(s, &s->sline, bare_lf, ts);
			line_reset(&s->sline);
		}
		buf += n;
		len -= n;
	}
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
	if (s->opt.implicit_tls) {
		s->tls.implicit = s->tls.accepted = true;
		s->cstate = C_TLS;
		s->sstate = S_TLS;
	} else if (s->opt.midstream) {
		/* the dialogue is already going: find a reply, then a line */
		s->cstate = C_RESYNC;
		s->sstate = S_RESYNC;
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
		if (s->pend_len && pend_at(s, 0)->id == V_GREETING)
			pend_at(s, 0)->ts = ts;
	}
	s->ts_last = ts;
	s->bytes[dir] += len;
	if (dir == SMTP_FROM_CLIENT)
		feed_client(s, buf, len, ts);
	else
		feed_server(s, buf, len, ts);
}

/* Forget every unanswered command: their replies can no longer be paired. */
static void drop_pending(struct smtp_session *s)
{
	while (s->pend_len) {
		struct pending *p = pend_at(s, 0);

		if (p->id == V_GREETING) {
			pend_release(s, p);
			s->pend_head = (s->pend_head + 1) % s->pend_cap;
			s->pend_len--;
			continue;
		}
		pend_drop_oldest(s);
	}
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
	smtp_alert_raise(s, SMTP_ALERT_GAP, NULL, NULL, ts,
			 "%llu bytes missing from the %s stream%s",
			 (unsigned long long)len,
			 dir == SMTP_FROM_CLIENT ? "client" : "server",
			 in_body ? " inside a message, which is incomplete" :
				   "");
	if (s->cstate == C_TLS)
		return; /* opaque anyway */
	if (in_body) {
		smtp_body_end(s, false, ts);
		s->cur->pub.gap = true; /* still its transaction: a reply may come */
	}
	if (dir == SMTP_FROM_CLIENT) {
		/* what the client sent in the hole is unknown */
		line_reset(&s->cline);
		s->auth_wait = false;
		s->resync_done = false;
		s->cstate = C_RESYNC;
	} else {
		line_reset(&s->sline);
		if (s->rlines)
			reply_reset(s);
		s->sstate = S_RESYNC;
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
		line_take(&s->sline, (const uint8_t *)"\n", 1, &done,
			  &bare_lf);
		server_line(s, &s->sline, false, ts);
	} else if (s->rlines) {
		reply_done(s, ts);
	}
	if ((s->cstate == C_BODY && s->cur && s->cur->pub.has_body) ||
	    s->cstate == C_CHUNK || s->bdat_open)
		smtp_body_end(s, false, ts);
	drop_pending(s);
	while (s->txns) {
		s->txns->detached = true;
		txn_emit(s, s->txns);
	}
	if (reason == SMTP_CLOSE_FIN && s->quit_sent)
		reason = SMTP_CLOSE_QUIT;

	memset(&info, 0, sizeof(info));
	info.banner = s->banner;
	info.helo = s->helo;
	info.extensions = (const char *const *)s->ext;
	info.n_extensions = s->n_ext;
	info.tls = s->tls;
	info.auth_mechanism = s->auth_mech[0] ? s->auth_mech : NULL;
	info.auth_result = s->auth_result;
	info.auth_code = s->auth_code;
	info.auth_user = s->auth_user[0] ? s->auth_user : NULL;
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
	if (s->cb->session)
		s->cb->session(s->user, &info);
}

void smtp_session_free(struct smtp_session *s)
{
	struct txn *t;

	if (!s)
		return;
	while ((t = s->txns)) {
		s->txns = t->next;
		txn_free(t);
	}
	while (s->n_ext)
		free(s->ext[--s->n_ext]);
	free(s->pend);
	free(s->banner);
	free(s->helo);
	sb_free(&s->rtext);
	sb_free(&s->rraw);
	free(s);
}
