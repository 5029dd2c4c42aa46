/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp.c - the SMTP dialogue state machine (RFC 5321, 2920, 3030, 3207, 4954).
 */
#include "smtp.h"

#include <nettle/sha2.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Named caps: every buffer is bounded, whatever the peer sends. */
#define SMTP_LINE_MAX	     4096 /* bytes of one line kept; the rest is skipped */
#define SMTP_REPLY_MAX	     8192 /* bytes of one reply's text kept */
#define SMTP_VERB_MAX	     20	  /* bytes of a verb kept */
#define SMTP_ARG_MAX	     1000 /* bytes of a command argument kept */
#define SMTP_MAX_PENDING     512  /* unanswered commands remembered */
#define SMTP_MAX_RCPTS	     1024 /* recipients kept per transaction */
#define SMTP_MAX_EXT	     64	  /* EHLO extensions kept */
#define SMTP_EXT_MAX	     128  /* bytes of one extension line kept */
#define SMTP_SAVED_MAX	     512 /* bytes of a reply text kept in a transaction */
#define SMTP_SUBJECT_MAX     998   /* RFC 5322 2.1.1 line limit */
#define SMTP_HEADER_SCAN_MAX 65536 /* header bytes scanned for Subject */

#define AUTH_MASK "********"

/* Verb table: one row per command (STYLE: adding a verb is one row). */
#define SMTP_VERB_LIST(X)                                                      \
	X(HELO)                                                                \
	X(EHLO) X(LHLO) X(MAIL) X(RCPT) X(DATA) X(BDAT) X(RSET) X(NOOP)        \
	    X(QUIT) X(VRFY) X(EXPN) X(HELP) X(STARTTLS) X(AUTH) X(ETRN)        \
		X(TURN) X(ATRN) X(SEND) X(SOML) X(SAML) X(XCLIENT) X(XFORWARD)

enum verb {
#define X(v) V_##v,
	SMTP_VERB_LIST(X)
#undef X
	    V_UNKNOWN,
	/* pseudo-commands: what else a reply can answer */
	V_GREETING,
	V_MESSAGE,
	V_AUTHDATA,
	V_UNSOLICITED,
};

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

enum cstate { C_CMD, C_BODY, C_CHUNK, C_TLS };
enum sstate { S_REPLY, S_TLS };
/* Where the DATA body scanner stands: dot-stuffing, RFC 5321 4.5.2. */
enum bstate { B_BOL, B_TEXT, B_DOT, B_DOT_CR };
enum hstate { H_LINE, H_DONE };
enum hmode { HM_OTHER, HM_SUBJECT };

struct txn {
	struct smtp_txn pub;
	struct txn *next; /* live transactions, oldest first */
	unsigned refs;	  /* pending commands that belong to it */
	bool detached;	  /* the client moved on (RSET, MAIL, QUIT) */
	bool reset;
	int data_cmd_code; /* reply to DATA itself (354 or a refusal) */
	struct sha256_ctx sha;
	struct sbuf subject;
};

struct pending {
	enum verb id;
	bool pipelined;
	uint32_t seq;
	int64_t ts;
	struct txn *txn;
	char verb[SMTP_VERB_MAX + 1];
	char arg[SMTP_ARG_MAX + 1];
	size_t arg_len;
};

struct line {
	char buf[SMTP_LINE_MAX + 1];
	size_t len;
	bool overflow;
};

struct smtp_session {
	const struct smtp_callbacks *cb;
	void *user;

	enum cstate cstate;
	enum sstate sstate;
	struct line cline, sline;

	/* the reply being assembled */
	struct sbuf rtext, rraw;
	int rcode;
	char renh[SMTP_ENHANCED_MAX];
	unsigned rlines;
	bool rinvalid;

	/* commands waiting for their replies, oldest first (a ring) */
	struct pending *pend;
	size_t pend_cap, pend_head, pend_len;
	uint32_t seq;

	bool auth_wait; /* a 334 asked for a SASL response line */
	bool quit_sent;

	/* message body */
	enum bstate bstate;
	uint64_t chunk_left;
	bool chunk_last;
	enum hstate hstate;
	enum hmode hmode;
	size_t hline, hbytes;
	char hpre[8];

	struct txn *cur;  /* receives MAIL/RCPT/DATA */
	struct txn *txns; /* all live transactions */
	uint32_t n_txn;

	/* session summary */
	char *banner;
	char *helo;
	char *ext[SMTP_MAX_EXT];
	size_t n_ext;
	struct smtp_tls tls;
	char auth_mech[SMTP_VERB_MAX + 1];
	const char *auth_result;
	int auth_code;
	uint32_t commands;
	uint32_t replies[4];
	uint64_t bytes[2];
	int64_t ts_first, ts_last;
	bool ended;
};

static const struct {
	const char *kind;
	enum smtp_severity sev;
	const char *text;
} alert_table[] = {
#define X(name, str, sev, text) {str, SMTP_SEV_##sev, text},
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

static int upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool ieq_prefix(const char *s, size_t n, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i]; i++)
		if (i >= n || upper((unsigned char)s[i]) != prefix[i])
			return false;
	return true;
}

static void alert(struct smtp_session *s, enum smtp_alert_kind kind,
		  const struct smtp_cmd *cmd, const struct smtp_reply *reply,
		  int64_t ts)
{
	struct smtp_alert a = {kind, cmd, reply, ts};

	if (s->cb->alert)
		s->cb->alert(s->user, &a);
}

/* ---- transactions ---- */

static struct txn *txn_new(struct smtp_session *s, int64_t ts)
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
static void txn_detach(struct smtp_session *s, struct txn *t, bool reset)
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

	if (s->pend_len == SMTP_MAX_PENDING)
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
	/* pipelined: an earlier real command is still unanswered */
	for (i = 0; i < s->pend_len; i++)
		if (pend_at(s, i)->seq)
			p->pipelined = true;
	if (vlen > SMTP_VERB_MAX)
		vlen = SMTP_VERB_MAX;
	for (i = 0; i < vlen; i++)
		p->verb[i] = id < V_UNKNOWN ? upper(verb[i]) : verb[i];
	p->verb[vlen] = '\0';
	if (alen > SMTP_ARG_MAX)
		alen = SMTP_ARG_MAX;
	memcpy(p->arg, arg, alen);
	p->arg[alen] = '\0';
	p->arg_len = alen;
	s->pend_len++;
	return p;
}

static struct pending *pend_pseudo(struct smtp_session *s, enum verb id,
				   int64_t ts)
{
	const char *name = verb_names[id];

	return pend_push(s, id, name, strlen(name), "", 0, ts);
}

static void pend_attach(struct pending *p, struct txn *t)
{
	if (t) {
		p->txn = t;
		t->refs++;
	}
}

/* ---- client commands ---- */

static enum verb verb_lookup(const char *v, size_t n)
{
	size_t i, k;

	for (i = 0; i < V_UNKNOWN; i++) {
		const char *name = verb_names[i];

		for (k = 0; k < n && name[k] && upper(v[k]) == name[k]; k++)
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

	if (ieq_prefix(a, n, prefix))
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
				prm->key[i] = upper(prm->key[i]);
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
	if (n - i == 4 && ieq_prefix(a + i, 4, "LAST"))
		*last = true, i += 4;
	if (i != n)
		return false;
	*size = v;
	return true;
}

static size_t feed_chunk(struct smtp_session *s, const uint8_t *buf, size_t len,
			 int64_t ts);

static void body_start(struct smtp_session *s)
{
	s->bstate = B_BOL;
	s->hstate = H_LINE;
	s->hmode = HM_OTHER;
	s->hline = s->hbytes = 0;
}

static void client_line(struct smtp_session *s, char *line, size_t len,
			int64_t ts)
{
	char masked[SMTP_VERB_MAX + sizeof(AUTH_MASK) + 1];
	char masked_line[2 * SMTP_VERB_MAX + sizeof(AUTH_MASK) + 2];
	struct pending *p;
	struct smtp_cmd c;
	const char *arg;
	size_t vlen, alen;
	enum verb id;

	if (s->auth_wait) {
		/* RFC 4954 4: a SASL response; "*" cancels. Never stored. */
		bool cancel = len == 1 && line[0] == '*';

		s->auth_wait = false;
		p = pend_pseudo(s, V_AUTHDATA, ts);
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
	id = verb_lookup(line, vlen);
	arg = line + vlen;
	alen = len - vlen;
	while (alen && *arg == ' ')
		arg++, alen--;
	if (id == V_AUTH) {
		/* keep the mechanism; mask an initial response */
		size_t m;

		for (m = 0; m < alen && arg[m] != ' '; m++)
			;
		if (m < alen) {
			if (m > SMTP_VERB_MAX)
				m = SMTP_VERB_MAX;
			memcpy(masked, arg, m);
			memcpy(masked + m, " " AUTH_MASK,
			       sizeof(AUTH_MASK) + 1);
			arg = masked;
			alen = m + sizeof(AUTH_MASK);
			/* the line as shown: verb as sent, masked argument */
			if (vlen > SMTP_VERB_MAX)
				vlen = SMTP_VERB_MAX;
			memmove(masked_line + vlen + 1, masked, alen);
			memcpy(masked_line, line, vlen);
			masked_line[vlen] = ' ';
			line = masked_line;
			len = vlen + 1 + alen;
		}
	}
	p = pend_push(s, id, line, vlen, arg, alen, ts);
	p->seq = ++s->seq;
	s->commands++;

	switch (id) {
	case V_HELO:
	case V_EHLO:
	case V_LHLO:
		free(s->helo);
		s->helo = xstrndup(arg, alen);
		/* RFC 5321 4.1.4: a new greeting resets the transaction */
		txn_detach(s, s->cur, true);
		break;
	case V_MAIL:
		txn_detach(s, s->cur, false);
		s->cur = txn_new(s, ts);
		arg = parse_path(arg, alen, "FROM:", &s->cur->pub.mail_from);
		parse_params(&s->cur->pub, arg, line + len);
		pend_attach(p, s->cur);
		break;
	case V_RCPT:
		if (!s->cur)
			s->cur = txn_new(s, ts);
		if (s->cur->pub.n_rcpts < SMTP_MAX_RCPTS) {
			struct smtp_txn *t = &s->cur->pub;
			struct smtp_rcpt *r;

			t->rcpts =
			    xrealloc(t->rcpts, (t->n_rcpts + 1) * sizeof(*r));
			r = &t->rcpts[t->n_rcpts++];
			memset(r, 0, sizeof(*r));
			parse_path(arg, alen, "TO:", &r->address);
			pend_attach(p, s->cur);
		} else {
			s->cur->pub.dropped_rcpts++;
		}
		break;
	case V_DATA:
		/*
		 * Go to body mode now: a client sends the body only after
		 * 354, and a refusal with no body seen returns to commands.
		 */
		pend_attach(p, s->cur);
		s->cstate = C_BODY;
		body_start(s);
		break;
	case V_BDAT: {
		uint64_t size;
		bool last;

		pend_attach(p, s->cur);
		if (!parse_bdat(arg, alen, &size, &last))
			break;
		if (!s->cur)
			s->cur = txn_new(s, ts);
		if (!s->cur->pub.has_body) {
			s->cur->pub.bdat = true;
			s->cur->pub.has_body = true;
			body_start(s);
		}
		if (p->txn != s->cur)
			pend_attach(p, s->cur);
		s->chunk_left = size;
		s->chunk_last = last;
		s->cstate = C_CHUNK;
		if (!size)
			feed_chunk(s, NULL, 0, ts); /* BDAT 0 LAST */
		break;
	}
	case V_RSET:
		txn_detach(s, s->cur, true);
		break;
	case V_QUIT:
		s->quit_sent = true;
		txn_detach(s, s->cur, false);
		break;
	case V_AUTH: {
		size_t m;

		for (m = 0; m < alen && arg[m] != ' ' && m < SMTP_VERB_MAX; m++)
			s->auth_mech[m] = upper(arg[m]);
		s->auth_mech[m] = '\0';
		break;
	}
	case V_STARTTLS:
		s->tls.requested = true;
		break;
	default:
		break;
	}
	cmd_view(p, &c);
	c.line = line;
	c.line_len = len;
	if (s->cb->command)
		s->cb->command(s->user, &c);
}

/* ---- message body (DATA dot-stuffing and BDAT chunks) ---- */

/* Scan the header section for Subject (unfolded, RFC 5322 2.2.3). */
static void header_tap(struct smtp_session *s, struct txn *t, const uint8_t *p,
		       size_t n)
{
	size_t i;

	for (i = 0; i < n && s->hstate != H_DONE; i++) {
		uint8_t c = p[i];

		if (++s->hbytes > SMTP_HEADER_SCAN_MAX) {
			s->hstate = H_DONE;
			break;
		}
		if (c == '\n') {
			if (!s->hline)
				s->hstate = H_DONE; /* the empty line */
			s->hline = 0;
			continue;
		}
		if (c == '\r')
			continue;
		if (s->hline < sizeof(s->hpre))
			s->hpre[s->hline] = c;
		s->hline++;
		if (s->hline == 1 && c != ' ' && c != '\t')
			s->hmode = HM_OTHER; /* a new field, not a fold */
		if (s->hline == 8 && s->hmode == HM_OTHER &&
		    ieq_prefix(s->hpre, 8, "SUBJECT:") && !t->subject.len) {
			s->hmode = HM_SUBJECT;
			continue;
		}
		if (s->hmode == HM_SUBJECT &&
		    (t->subject.len || (c != ' ' && c != '\t')))
			sb_append(&t->subject, &c, 1);
	}
}

static void body_data(struct smtp_session *s, const uint8_t *p, size_t n,
		      int64_t ts)
{
	struct txn *t = s->cur;

	if (!n)
		return;
	if (!t)
		t = s->cur = txn_new(s, ts);
	t->pub.has_body = true;
	t->pub.size += n;
	sha256_update(&t->sha, n, p);
	if (s->hstate != H_DONE)
		header_tap(s, t, p, n);
}

static void body_end(struct smtp_session *s, bool complete, int64_t ts)
{
	struct txn *t = s->cur;

	s->cstate = C_CMD;
	if (!t)
		t = s->cur = txn_new(s, ts);
	t->pub.has_body = true;
	t->pub.body_done = complete;
	t->pub.ts_end = ts;
	sha256_digest(&t->sha, sizeof(t->pub.sha256), t->pub.sha256);
	while (t->subject.len && (t->subject.p[t->subject.len - 1] == ' ' ||
				  t->subject.p[t->subject.len - 1] == '\t'))
		t->subject.p[--t->subject.len] = '\0';
	t->pub.subject = t->subject.len ? t->subject.p : NULL;
	if (s->cb->body)
		s->cb->body(s->user, &t->pub);
}

/*
 * DATA: un-stuff dots and find <CRLF>.<CRLF> (a bare LF ends lines too).
 * Runs of lines that do not start with a dot go to body_data() at once.
 */
static size_t feed_body(struct smtp_session *s, const uint8_t *buf, size_t len,
			int64_t ts)
{
	const uint8_t *p = buf, *end = buf + len, *run, *nl;

	while (p < end) {
		switch (s->bstate) {
		case B_BOL:
		case B_TEXT:
			run = p;
			while (p < end) {
				if (s->bstate == B_BOL) {
					if (*p == '.')
						break;
					s->bstate = B_TEXT;
				}
				nl = memchr(p, '\n', end - p);
				if (!nl) {
					p = end;
					break;
				}
				p = nl + 1;
				s->bstate = B_BOL;
			}
			body_data(s, run, p - run, ts);
			if (p < end) { /* a dot at the start of a line */
				s->bstate = B_DOT;
				p++;
			}
			break;
		case B_DOT:
			if (*p == '\r') {
				s->bstate = B_DOT_CR;
				p++;
			} else if (*p == '\n') {
				p++;
				goto done;
			} else {
				s->bstate = B_TEXT; /* a stuffed dot: drop it */
			}
			break;
		case B_DOT_CR:
			if (*p == '\n') {
				p++;
				goto done;
			}
			body_data(s, (const uint8_t *)"\r", 1, ts);
			s->bstate = B_TEXT;
			break;
		}
	}
	return len;
done : {
	struct pending *m;

	body_end(s, true, ts);
	m = pend_pseudo(s, V_MESSAGE, ts);
	pend_attach(m, s->cur);
	return p - buf;
}
}

static size_t feed_chunk(struct smtp_session *s, const uint8_t *buf, size_t len,
			 int64_t ts)
{
	size_t n = len < s->chunk_left ? len : s->chunk_left;

	body_data(s, buf, n, ts);
	s->chunk_left -= n;
	if (!s->chunk_left) {
		s->cstate = C_CMD;
		if (s->chunk_last)
			body_end(s, true, ts);
	}
	return n;
}

/* ---- server replies ---- */

/* RFC 3463: class.subject.detail, class matching the reply's. */
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
}

static void save_extensions(struct smtp_session *s, const char *text)
{
	const char *p = strchr(text, '\n'), *e; /* line 1 is the domain */
	size_t n;

	while (s->n_ext)
		free(s->ext[--s->n_ext]);
	s->tls.offered = false;
	while (p && s->n_ext < SMTP_MAX_EXT) {
		p++;
		e = strchr(p, '\n');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n) {
			s->ext[s->n_ext++] =
			    xstrndup(p, n < SMTP_EXT_MAX ? n : SMTP_EXT_MAX);
			if (ieq_prefix(p, n, "STARTTLS") &&
			    (n == 8 || p[8] == ' '))
				s->tls.offered = true;
		}
		p = e;
	}
}

/* What a reply means for the state, by the command it answers. */
static void reply_effect(struct smtp_session *s, struct pending *p,
			 const struct smtp_reply *r)
{
	struct txn *t = p->txn;
	int code = r->code;

	switch (p->id) {
	case V_GREETING:
		free(s->banner);
		s->banner = xstrndup(r->text, r->text_len);
		break;
	case V_EHLO:
	case V_LHLO:
		if (code / 100 == 2)
			save_extensions(s, r->text);
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
				    r->text, r->text_len < SMTP_SAVED_MAX
						 ? r->text_len
						 : SMTP_SAVED_MAX);
				if (code / 100 == 2)
					t->pub.accepted_rcpts++;
			}
		}
		break;
	case V_DATA:
		if (t) {
			t->data_cmd_code = code;
			/* a refused DATA ends the transaction: keep its reply */
			if (code != 354 && !t->pub.has_body) {
				save_reply(&t->pub.data_reply, r);
				t->pub.ts_end = r->ts;
			}
		}
		if (code != 354 && s->cstate == C_BODY && s->bstate == B_BOL &&
		    !(s->cur && s->cur->pub.has_body))
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
			txn_detach(s, t, false);
		break;
	case V_MESSAGE:
		if (t) {
			save_reply(&t->pub.data_reply, r);
			t->pub.queue_id = queue_id(r->text);
			t->pub.ts_end = r->ts;
			txn_detach(s, t, false);
		}
		break;
	case V_STARTTLS:
		if (code == 220) {
			s->tls.accepted = true;
			s->cstate = C_TLS;
			s->sstate = S_TLS;
		}
		break;
	case V_AUTH:
	case V_AUTHDATA:
		if (code == 334) {
			s->auth_wait = true;
		} else {
			s->auth_code = code;
			s->auth_result =
			    code == 235 ? "success"
			    : p->id == V_AUTHDATA && !strcmp(p->arg, "*")
				? "cancelled"
				: "failure";
		}
		break;
	default:
		break;
	}
}

static void reply_done(struct smtp_session *s, int64_t ts)
{
	struct smtp_reply r;
	struct pending *p, unsolicited;
	struct smtp_cmd c;
	int code = s->rcode;

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
	reply_effect(s, p, &r);
	cmd_view(p, &c);
	if (s->cb->reply)
		s->cb->reply(s->user, &c, &r);
	if (s->rinvalid)
		alert(s, SMTP_ALERT_INVALID_REPLY, &c, &r, ts);
	else if (code == 421)
		alert(s, SMTP_ALERT_REPLY_421, &c, &r, ts);
	else if (code / 100 == 4)
		alert(s, SMTP_ALERT_REPLY_4XX, &c, &r, ts);
	else if (code / 100 == 5)
		alert(s, SMTP_ALERT_REPLY_5XX, &c, &r, ts);
	if (p->id == V_UNSOLICITED && code != 421)
		alert(s, SMTP_ALERT_UNSOLICITED_REPLY, &c, &r, ts);
	if (p->id == V_UNKNOWN && p->verb[0])
		alert(s, SMTP_ALERT_UNKNOWN_COMMAND, &c, &r, ts);
	if (p != &unsolicited) {
		s->pend_head = (s->pend_head + 1) % s->pend_cap;
		s->pend_len--;
		pend_release(s, p);
	}
	reply_reset(s);
}

static void server_line(struct smtp_session *s, const char *line, size_t len,
			int64_t ts)
{
	bool valid = len >= 3 && is_digit(line[0]) && is_digit(line[1]) &&
		     is_digit(line[2]) &&
		     (len == 3 || line[3] == ' ' || line[3] == '-');
	int code = valid ? (line[0] - '0') * 100 + (line[1] - '0') * 10 +
			       (line[2] - '0')
			 : 0;
	bool more = valid && len > 3 && line[3] == '-';
	const char *text = valid ? line + (len > 3 ? 4 : 3) : line;
	size_t tlen = len - (text - line), e;

	if (code < 200 || code > 599)
		valid = false, more = false;
	if (s->rlines) {
		sb_append(&s->rraw, "\n", 1);
		sb_append(&s->rtext, "\n", 1);
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
 * skipped until the line ends.
 */
static size_t line_take(struct line *l, const uint8_t *buf, size_t len,
			bool *done)
{
	const uint8_t *nl = memchr(buf, '\n', len);
	size_t n = nl ? (size_t)(nl - buf) : len;
	size_t room = SMTP_LINE_MAX - l->len;

	if (n > room) {
		l->overflow = true;
		memcpy(l->buf + l->len, buf, room);
		l->len += room;
	} else {
		memcpy(l->buf + l->len, buf, n);
		l->len += n;
	}
	*done = nl != NULL;
	if (*done) {
		while (l->len && l->buf[l->len - 1] == '\r')
			l->len--;
		l->buf[l->len] = '\0';
	}
	return nl ? n + 1 : n;
}

static void feed_client(struct smtp_session *s, const uint8_t *buf, size_t len,
			int64_t ts)
{
	size_t n;
	bool done;

	while (len) {
		switch (s->cstate) {
		case C_CMD:
			n = line_take(&s->cline, buf, len, &done);
			if (done) {
				client_line(s, s->cline.buf, s->cline.len, ts);
				s->cline.len = 0;
				s->cline.overflow = false;
			}
			break;
		case C_BODY:
			n = feed_body(s, buf, len, ts);
			break;
		case C_CHUNK:
			n = feed_chunk(s, buf, len, ts);
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
	size_t n;
	bool done;

	while (len && s->sstate == S_REPLY) {
		n = line_take(&s->sline, buf, len, &done);
		if (done) {
			server_line(s, s->sline.buf, s->sline.len, ts);
			s->sline.len = 0;
			s->sline.overflow = false;
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
	s->rtext.max = SMTP_REPLY_MAX;
	s->rraw.max = SMTP_REPLY_MAX;
	s->ts_first = opt ? opt->ts_start : -1;
	if (opt && opt->implicit_tls) {
		s->tls.implicit = s->tls.accepted = true;
		s->cstate = C_TLS;
		s->sstate = S_TLS;
	} else {
		pend_pseudo(s, V_GREETING, s->ts_first);
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

void smtp_end(struct smtp_session *s, enum smtp_close reason, int64_t ts)
{
	struct smtp_session_info info;

	if (s->ended)
		return;
	s->ended = true;
	if (s->ts_first < 0)
		s->ts_first = ts;
	if (ts > s->ts_last)
		s->ts_last = ts;
	/* a reply cut by the end still counts */
	if (s->sline.len && s->sstate == S_REPLY)
		server_line(s, s->sline.buf, s->sline.len, ts);
	else if (s->rlines)
		reply_done(s, ts);
	if ((s->cstate == C_BODY && s->cur && s->cur->pub.has_body) ||
	    s->cstate == C_CHUNK)
		body_end(s, false, ts);
	/* commands never answered */
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
	info.transactions = s->n_txn;
	info.commands = s->commands;
	memcpy(info.replies, s->replies, sizeof(info.replies));
	info.bytes_client = s->bytes[SMTP_FROM_CLIENT];
	info.bytes_server = s->bytes[SMTP_FROM_SERVER];
	info.ts_start = s->ts_first;
	info.ts_end = s->ts_last;
	info.close = reason;
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
