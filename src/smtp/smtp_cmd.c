/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp_cmd.c - client command lines: parsing, AUTH, checks, resync. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#include "smtp_int.h"

/* ---- client commands ---- */

/* SP, and HTAB as Postfix and Exim also take it, separate words. */
static bool is_sep(char c)
{
	return c == ' ' || c == '\t';
}

/* "FROM:<addr> PARAMS" or "TO:<addr> PARAMS"; returns the params. */
static const char *parse_path(const char *a, size_t n, const char *prefix,
			      char **addr)
{
	const char *p = a, *end = a + n, *s, *e;
	size_t plen = strlen(prefix);

	if (smtp_ieq_prefix(a, n, prefix))
		p += plen;
	while (p < end && is_sep(*p))
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
		while (p < end && !is_sep(*p))
			p++;
		e = p;
	}
	*addr = wire_strndup(s, e - s);
	while (p < end && is_sep(*p))
		p++;
	return p;
}

static void parse_params(struct smtp_txn *t, const char *p, const char *end)
{
	while (p < end) {
		const char *k = p, *eq = NULL;
		struct smtp_param *prm;
		size_t i, n;
		char *key;

		while (p < end && !is_sep(*p)) {
			if (*p == '=' && !eq)
				eq = p;
			p++;
		}
		if (p > k) {
			t->params = xrealloc(t->params, (t->n_params + 1) *
							    sizeof(*t->params));
			prm = &t->params[t->n_params++];
			/* upper-cased before a NUL in it is escaped */
			n = (eq ? eq : p) - k;
			key = xmalloc(n);
			for (i = 0; i < n; i++)
				key[i] = smtp_upper(k[i]);
			prm->key = wire_strndup(key, n);
			free(key);
			prm->value =
			    eq ? wire_strndup(eq + 1, p - eq - 1) : NULL;
		}
		while (p < end && is_sep(*p))
			p++;
	}
}

/* BDAT <size> [LAST] (RFC 3030 2); false when the size is not valid. */
static bool parse_bdat(const char *a, size_t n, uint64_t *size, bool *last)
{
	size_t i = 0;
	uint64_t v = 0;

	if (!n || !smtp_is_digit(a[0]))
		return false;
	for (; i < n && smtp_is_digit(a[i]); i++) {
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
 * SASL mechanisms: the response lines each takes in all (initial response
 * included) when it succeeds at once, so that responses a client sends
 * ahead of the server's 334 (pipelined, or a 334 lost) are known as
 * such; 0: as many as the server asks for.
 */
static const struct {
	const char *name;
	unsigned lines;
} mechanisms[] = {
    {"PLAIN", 1},
    {"LOGIN", 2},
    {"CRAM-MD5", 1},
    {"XOAUTH2", 1},
    {"OAUTHBEARER", 1},
    {"EXTERNAL", 1},
    {"ANONYMOUS", 1},
    {"DIGEST-MD5", 0},
    {"GSSAPI", 0},
    {"GS2-KRB5", 0},
    {"NTLM", 0},
    {"SCRAM-SHA-1", 0},
    {"SCRAM-SHA-1-PLUS", 0},
    {"SCRAM-SHA-256", 0},
    {"SCRAM-SHA-256-PLUS", 0},
    {"SCRAM-SHA-512", 0},
    {"SCRAM-SHA-512-PLUS", 0},
};

/*
 * Is the AUTH argument's first word a mechanism name? One we know, in any
 * case, or RFC 4422 3.1's upper-case letters, digits, '-' and '_' as
 * sent. Anything else (an initial response without a mechanism) may be a
 * credential and is masked. *lines: mechanisms[].lines, 0 if unknown.
 */
static bool mechanism_name(const char *m, size_t n, unsigned *lines)
{
	size_t i;

	*lines = 0;
	if (!n || n > SMTP_VERB_MAX)
		return false;
	for (i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++)
		if (strlen(mechanisms[i].name) == n &&
		    smtp_ieq_prefix(m, n, mechanisms[i].name)) {
			*lines = mechanisms[i].lines;
			return true;
		}
	for (i = 0; i < n; i++)
		if (!(m[i] >= 'A' && m[i] <= 'Z') && !smtp_is_digit(m[i]) &&
		    m[i] != '-' && m[i] != '_')
			return false;
	return true;
}

/* A SASL name of OAUTHBEARER's or SCRAM's: "=2C" is ',', "=3D" '='. */
static size_t sasl_name(uint8_t *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '=' && i + 2 < n && p[i + 1] == '2' &&
		    (p[i + 2] == 'C' || p[i + 2] == 'c'))
			p[k++] = ',', i += 2;
		else if (p[i] == '=' && i + 2 < n && p[i + 1] == '3' &&
			 (p[i + 2] == 'D' || p[i + 2] == 'd'))
			p[k++] = '=', i += 2;
		else
			p[k++] = p[i];
	}
	return k;
}

/* In "k1=v1,k2=v2" from p, the value of key (e.g. "a="); NULL if none. */
static uint8_t *attribute(uint8_t *p, uint8_t *end, const char *key,
			  uint8_t **vend)
{
	size_t klen = strlen(key);

	while (p < end) {
		uint8_t *e = memchr(p, ',', end - p);

		if (!e)
			e = end;
		if ((size_t)(e - p) >= klen && !memcmp(p, key, klen)) {
			*vend = e;
			return p + klen;
		}
		p = e + 1;
	}
	return NULL;
}

/*
 * With show_auth_user only: the user name in the first SASL response, and
 * nothing else of it: PLAIN's authcid (RFC 4616), LOGIN's first line,
 * CRAM-MD5's name before the digest (RFC 2195), XOAUTH2's "user=",
 * OAUTHBEARER's "a=" (RFC 7628 3.1), SCRAM's "n=" (RFC 5802 7). Other
 * mechanisms: none. The response is decoded into a local buffer, never
 * kept, and wiped.
 */
static void auth_user(struct smtp_session *s, const char *b64, size_t n)
{
	struct base64_decode_ctx ctx;
	uint8_t out[SMTP_LINE_MAX], *u = NULL, *e = NULL, *end, *c;
	const char *mech = s->auth_mech;
	size_t len = sizeof(out), k;

	if (!s->opt.show_auth_user || s->auth_user || n > (sizeof(out) / 3) * 4)
		return;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &len, out, n, b64) ||
	    !base64_decode_final(&ctx))
		len = 0;
	end = out + len;
	if (!strcmp(mech, "PLAIN")) {
		if ((u = memchr(out, '\0', len)) && ++u < end)
			e = memchr(u, '\0', end - u);
	} else if (!strcmp(mech, "LOGIN")) {
		u = out;
		e = end;
	} else if (!strcmp(mech, "CRAM-MD5")) {
		for (e = end; e > out && e[-1] != ' '; e--)
			;
		if (e > out)
			u = out, e--;
	} else if (!strcmp(mech, "XOAUTH2")) {
		if (len > 5 && !memcmp(out, "user=", 5)) {
			u = out + 5;
			e = memchr(u, 0x01, end - u);
		}
	} else if (!strcmp(mech, "OAUTHBEARER") ||
		   !strncmp(mech, "SCRAM-", 6)) {
		/* gs2-header: a flag, ",", an optional "a=", "," */
		if ((c = memchr(out, ',', len)) && ++c < end) {
			uint8_t *hend = memchr(c, ',', end - c);

			if (hend && mech[0] == 'O')
				u = attribute(c, hend, "a=", &e);
			else if (hend)
				u = attribute(hend + 1, end, "n=", &e);
		}
	}
	if (u && e && e > u) {
		k = sasl_name(u, e - u);
		if (k > SMTP_USER_MAX)
			k = SMTP_USER_MAX;
		s->auth_user = wire_strndup(u, k);
	}
	explicit_bzero(out, sizeof(out));
}

/* The exchange is over: the lines that follow are commands again. */
static void sasl_close(struct smtp_session *s)
{
	s->sasl.open = false;
	s->sasl.owed = 0;
	s->sasl.expect = s->sasl.sent = 0;
}

void smtp_auth_reply(struct smtp_session *s, struct pending *p,
		     const struct smtp_cmd *c, const struct smtp_reply *r)
{
	if (r->code == 334) {
		/* a challenge: the server reads the next line as a response;
		 * with no AUTH seen, its mechanism and first line are unknown
		 */
		if (!s->sasl.open && !s->sasl.sent)
			s->sasl.sent = 1;
		s->sasl.open = s->sasl.wary = true;
		s->sasl.owed++;
		return;
	}
	if (!s->sasl.open)
		return; /* a line the server took as a command after all */
	sasl_close(s);
	if (p->id == V_UNSOLICITED)
		return;
	s->auth_code = r->code;
	s->auth_result = r->code == 235 ? "success"
			 : p->id == V_AUTHDATA && !strcmp(smtp_pend_arg(p), "*")
			     ? "cancelled"
			     : "failure";
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

/* Base64 (RFC 4648 4), padded or not: what a SASL response looks like. */
static bool looks_base64(const char *l, size_t n)
{
	size_t i, pad = 0;

	while (n && is_sep(l[n - 1]))
		n--;
	if (n < 2)
		return false;
	for (i = 0; i < n; i++) {
		char c = l[i];

		if (c == '=' && i > 0)
			pad++;
		else if (pad ||
			 !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   smtp_is_digit(c) || c == '+' || c == '/'))
			return false;
	}
	return pad <= 2;
}

/*
 * May the server read this line as a SASL response? Then it is one for
 * us: while a 334 waits for an answer, while the mechanism takes more
 * lines than were sent (responses pipelined ahead of their 334), and, an
 * exchange being open, any line that is not a command. After an AUTH or a
 * gap, an unknown line that looks like base64 is taken for one too: the
 * AUTH or the 334 that made it one may have been lost.
 */
static bool sasl_response(const struct smtp_session *s, const char *line,
			  size_t len, enum verb id)
{
	const struct sasl *a = &s->sasl;

	if (a->open && (a->owed > 0 || a->sent < a->expect))
		return true;
	if (id != V_UNKNOWN)
		return false;
	return a->open || (a->wary && looks_base64(line, len));
}

/* A SASL response line: counted, its user name taken, never stored. */
static void sasl_line(struct smtp_session *s, const char *line, size_t len,
		      int64_t ts)
{
	/* RFC 4954 4: "*" cancels */
	bool cancel = len == 1 && line[0] == '*';
	struct pending *p;
	struct smtp_cmd c;

	if (s->sasl.open && !cancel && s->sasl.sent == 0)
		auth_user(s, line, len);
	s->sasl.sent++;
	s->sasl.owed--;
	p = smtp_pend_push(s, V_AUTHDATA, "", 0, cancel ? "*" : AUTH_MASK,
			   cancel ? 1 : sizeof(AUTH_MASK) - 1, ts);
	smtp_cmd_view(p, &c);
	c.line = c.arg;
	c.line_len = c.arg_len;
	if (s->cb->command)
		s->cb->command(s->user, &c);
}

/*
 * The AUTH line: the mechanism is kept, an initial response masked, and
 * the exchange opened. *line, *len, *arg, *alen then show the masked
 * line; shown: room for it.
 */
static void auth_command(struct smtp_session *s, const char **line, size_t *len,
			 size_t vlen, const char **arg, size_t *alen,
			 char *shown)
{
	const char *a = *arg;
	size_t m, i, rest;
	unsigned lines;
	bool named;

	for (m = 0; m < *alen && !is_sep(a[m]); m++)
		;
	for (rest = m; rest < *alen && is_sep(a[rest]); rest++)
		;
	named = mechanism_name(a, m, &lines);
	if (named) {
		for (i = 0; i < m; i++)
			s->auth_mech[i] = smtp_upper(a[i]);
		s->auth_mech[m] = '\0';
	} else {
		strcpy(s->auth_mech, AUTH_MASK);
	}
	s->sasl.open = s->sasl.wary = true;
	s->sasl.owed = 0;
	s->sasl.sent = 0;
	s->sasl.expect = lines;
	if (rest < *alen && named) {
		auth_user(s, a + rest, *alen - rest);
		s->sasl.sent = 1;
	}
	if (named && rest == *alen)
		return; /* nothing to mask */
	/* the line as shown: verb as sent, mechanism, the rest masked */
	if (vlen > SMTP_VERB_MAX)
		vlen = SMTP_VERB_MAX;
	memcpy(shown, *line, vlen);
	i = vlen;
	shown[i++] = ' ';
	*arg = shown + i;
	if (named) {
		memcpy(shown + i, a, m);
		i += m;
		shown[i++] = ' ';
	}
	memcpy(shown + i, AUTH_MASK, sizeof(AUTH_MASK));
	i += sizeof(AUTH_MASK) - 1;
	*alen = shown + i - *arg;
	*line = shown;
	*len = i;
}

/* ---- client commands ---- */

/* Once-per-session anomalies of a line; where says whose line it is. */
void smtp_line_anomalies(struct smtp_session *s, const struct line *l,
			 bool bare_lf, const char *where, size_t limit,
			 const struct smtp_cmd *c, int64_t ts)
{
	size_t len = l->total + (bare_lf ? 1 : 2);

	if (len > limit && !(s->seen & SEEN_LONG)) {
		s->seen |= SEEN_LONG;
		smtp_alert_raise(s, SMTP_ALERT_LINE_TOO_LONG, c, NULL, ts,
				 "%s line of %zu octets (limit %zu)%s", where,
				 len, limit,
				 l->total > SMTP_LINE_MAX
				     ? "; the decoder kept its first 4096"
				     : "");
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

/* Checks every command gets before its own meaning is applied. */
static void command_checks(struct smtp_session *s, struct pending *p,
			   const struct smtp_cmd *c, int64_t ts)
{
	struct pending *m;

	/* judged when the greeting comes: it may never have been captured */
	if (s->pend_len > 1 && smtp_pend_at(s, 0)->id == V_GREETING &&
	    !s->early_verb[0])
		snprintf(s->early_verb, sizeof(s->early_verb), "%s", c->verb);
	/* only when we saw what the server offered (its HELO/EHLO reply) */
	if (p->pipelined && s->ext_known && !s->pipelining &&
	    !(s->seen & SEEN_PIPELINING) &&
	    smtp_pend_at(s, 0)->id != V_GREETING && s->cstate != C_STARTTLS) {
		s->seen |= SEEN_PIPELINING;
		smtp_alert_raise(s, SMTP_ALERT_PIPELINING_NOT_OFFERED, c, NULL,
				 ts,
				 "%s sent before earlier commands were "
				 "answered",
				 c->verb);
	}
	if (s->pend_len > s->opt.max_pending && !(s->seen & SEEN_PENDING)) {
		s->seen |= SEEN_PENDING;
		smtp_alert_raise(s, SMTP_ALERT_EXCESSIVE_PENDING, c, NULL, ts,
				 "%zu commands waiting for replies (limit %u)",
				 s->pend_len, s->opt.max_pending);
	}
	if (s->cstate == C_STARTTLS)
		smtp_alert_raise(s, SMTP_ALERT_STARTTLS_INJECTION, c, NULL, ts,
				 "%s sent after STARTTLS, before the server's "
				 "reply",
				 c->verb[0] ? c->verb : "an empty line");
	/* a command right after an unusual end of data: smuggling */
	if (s->after_end.seq && p->id < V_UNKNOWN &&
	    (m = smtp_pend_last_message(s))) {
		if (!m->smuggle) {
			m->smuggle = xmalloc(sizeof(*m->smuggle));
			s->mem += sizeof(*m->smuggle);
		}
		*m->smuggle = s->after_end;
		m->smuggle->followed = true;
	}
	s->after_end.seq = NULL;
	if (s->cstate == C_BDAT_OPEN && p->id != V_BDAT) {
		smtp_alert_raise(s, SMTP_ALERT_BDAT_MISSING_LAST, c, NULL, ts,
				 "%s arrived after BDAT chunks without LAST",
				 c->verb);
		smtp_body_end(s, false, ts);
	}
}

/* ---- what each command does (the table's on_command) ---- */

/*
 * RSET, or a greeting: for the client the transaction is over (what it
 * sends next starts anew), for the server once it answers 2xx; a refusal
 * changes nothing (reply_effect). Until then the command keeps it.
 */
void cmd_rset(struct smtp_session *s, struct pending *p,
	      const struct smtp_cmd *c, const char *arg, size_t alen,
	      int64_t ts)
{
	(void)c, (void)arg, (void)alen, (void)ts;
	smtp_pend_attach(p, s->cur);
	s->cur = NULL;
}

void cmd_hello(struct smtp_session *s, struct pending *p,
	       const struct smtp_cmd *c, const char *arg, size_t alen,
	       int64_t ts)
{
	free(s->helo);
	s->helo = wire_strndup(arg, alen);
	/* RFC 5321 4.1.4: a new greeting resets the transaction */
	cmd_rset(s, p, c, arg, alen, ts);
}

void cmd_mail(struct smtp_session *s, struct pending *p,
	      const struct smtp_cmd *c, const char *arg, size_t alen,
	      int64_t ts)
{
	const char *end = arg + alen;
	struct txn *nested = NULL;
	bool open = s->cur && s->cur->pub.mail_from &&
		    (s->cur->pub.mail_reply.code == 0 ||
		     s->cur->pub.mail_reply.code / 100 == 2);

	if (open) {
		smtp_alert_raise(s, SMTP_ALERT_COMMAND_OUT_OF_SEQUENCE, c, NULL,
				 ts, "MAIL inside an open transaction");
		/* kept until the reply says if it goes on */
		nested = s->cur;
		nested->refs++;
		s->cur = NULL;
	} else {
		smtp_txn_detach(s, s->cur, false);
	}
	s->cur = smtp_txn_new(s, ts);
	if (open) {
		s->cur->nested = nested;
		nested->nested_in = s->cur;
	}
	arg = parse_path(arg, alen, "FROM:", &s->cur->pub.mail_from);
	parse_params(&s->cur->pub, arg, end);
	smtp_pend_attach(p, s->cur);
}

/*
 * Go to body mode now: a client sends the body only after 354, and a
 * refusal with no body seen returns to commands.
 */
void cmd_data(struct smtp_session *s, struct pending *p,
	      const struct smtp_cmd *c, const char *arg, size_t alen,
	      int64_t ts)
{
	(void)c, (void)arg, (void)alen, (void)ts;
	smtp_pend_attach(p, s->cur);
	smtp_set_cstate(s, C_BODY);
	smtp_body_start(s);
}

void cmd_quit(struct smtp_session *s, struct pending *p,
	      const struct smtp_cmd *c, const char *arg, size_t alen,
	      int64_t ts)
{
	(void)p, (void)c, (void)arg, (void)alen, (void)ts;
	s->quit_sent = true;
	smtp_txn_detach(s, s->cur, false);
}

void cmd_auth(struct smtp_session *s, struct pending *p,
	      const struct smtp_cmd *c, const char *arg, size_t alen,
	      int64_t ts)
{
	(void)p, (void)arg, (void)alen;
	if (!s->tls.accepted)
		smtp_alert_raise(s, SMTP_ALERT_AUTH_PLAINTEXT, c, NULL, ts,
				 "AUTH %s without TLS", s->auth_mech);
}

void cmd_starttls(struct smtp_session *s, struct pending *p,
		  const struct smtp_cmd *c, const char *arg, size_t alen,
		  int64_t ts)
{
	(void)p, (void)c, (void)arg, (void)alen, (void)ts;
	s->tls.requested = true;
	smtp_set_cstate(s, C_STARTTLS);
}

void cmd_rcpt(struct smtp_session *s, struct pending *p,
	      const struct smtp_cmd *c, const char *arg, size_t alen,
	      int64_t ts)
{
	struct smtp_txn *t;
	struct smtp_rcpt *r;
	size_t n;

	if (!s->cur || s->cur->pub.mail_reply.code >= 400)
		smtp_alert_raise(
		    s, SMTP_ALERT_COMMAND_OUT_OF_SEQUENCE, c, NULL, ts,
		    s->cur ? "RCPT after a refused MAIL" : "RCPT before MAIL");
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
	n = sizeof(*r) + (r->address ? strlen(r->address) + 1 : 0);
	s->cur->mem += n;
	s->mem += n;
	smtp_pend_attach(p, s->cur);
}

void cmd_bdat(struct smtp_session *s, struct pending *p,
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
	if (s->cstate != C_BDAT_OPEN) {
		s->cur->pub.bdat = true;
		s->cur->pub.has_body = true;
		smtp_body_start(s);
	}
	smtp_pend_attach(p, s->cur);
	s->chunk_left = size;
	s->chunk_last = last;
	smtp_set_cstate(s, C_CHUNK);
	if (!size)
		smtp_feed_chunk(s, NULL, 0, ts); /* BDAT 0 LAST */
}

void smtp_client_line(struct smtp_session *s, struct line *l, bool bare_lf,
		      int64_t ts)
{
	char shown[SMTP_VERB_MAX + SMTP_VERB_MAX + sizeof(AUTH_MASK) + 3];
	const char *line = l->buf, *arg;
	size_t len = l->len, vlen, alen;
	struct pending *p;
	struct smtp_cmd c;
	enum verb id;

	for (vlen = 0; vlen < len && !is_sep(line[vlen]); vlen++)
		;
	id = smtp_verb_lookup(line, vlen);
	if (sasl_response(s, line, len, id)) {
		sasl_line(s, line, len, ts);
		return;
	}
	arg = line + vlen;
	alen = len - vlen;
	while (alen && is_sep(*arg))
		arg++, alen--;
	if (id == V_AUTH)
		auth_command(s, &line, &len, vlen, &arg, &alen, shown);
	p = smtp_pend_push(s, id, line, vlen, arg, alen, ts);
	p->seq = ++s->seq;
	s->commands++;
	smtp_cmd_view(p, &c);
	c.line = line;
	c.line_len = len;
	if (s->cb->command)
		s->cb->command(s->user, &c);
	smtp_line_anomalies(s, l, bare_lf, "command", SMTP_CMD_LINE_LIMIT, &c,
			    ts);
	command_checks(s, p, &c, ts);

	if (smtp_verbs[id].on_command)
		smtp_verbs[id].on_command(s, p, &c, arg, alen, ts);
}

/* ---- after a gap ---- */

void smtp_resync_line(struct smtp_session *s, struct line *l, bool bare_lf,
		      int64_t ts)
{
	struct pending *m;

	if (l->len == 1 && l->buf[0] == '.' && s->cur && s->cur->pub.gap) {
		/* the end of the message the gap cut: its reply is coming */
		smtp_set_cstate(s, C_CMD);
		m = smtp_pend_pseudo(s, V_MESSAGE, ts);
		smtp_pend_attach(m, s->cur);
		s->cur->pub.body_done = false;
		smtp_txn_detach(s, s->cur, false);
		return;
	}
	if (smtp_resync_command(l->buf, l->len)) {
		smtp_set_cstate(s, C_CMD);
		smtp_client_line(s, l, bare_lf, ts);
		return;
	}
	if (s->cstate == C_RESYNC_NEXT) /* the next line is ours */
		smtp_set_cstate(s, C_CMD);
}
