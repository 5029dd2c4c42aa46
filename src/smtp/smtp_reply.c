/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp_reply.c - server replies: parsing, pairing, their effects. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hashq.h"
#include "smtp_int.h"

/* ---- server replies ---- */

static size_t parse_enhanced(const char *t, size_t n, int code, char *out)
{
	size_t i = 0, parts, digits;

	if (n < 5 || t[0] != '0' + code / 100 || t[1] != '.')
		return 0;
	i = 2;
	for (parts = 0; parts < 2; parts++) {
		for (digits = 0; i < n && smtp_is_digit(t[i]) && digits < 3;
		     i++)
			digits++;
		if (!digits || (i < n && smtp_is_digit(t[i])))
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

void smtp_reply_reset(struct smtp_session *s)
{
	/* a session between replies holds no reply buffer */
	sb_free(&s->rtext);
	sb_free(&s->rraw);
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
	free(s->ext);
	s->ext = NULL;
	s->tls.offered = false;
	s->pipelining = false;
	while (p && s->n_ext < SMTP_MAX_EXT) {
		p++;
		e = strchr(p, '\n');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n) {
			/* grown by doublings: an EHLO reply has a few lines */
			if (!(s->n_ext & (s->n_ext - 1)))
				s->ext = xrealloc(
				    s->ext, (s->n_ext ? 2 * s->n_ext : 1) *
						sizeof(*s->ext));
			s->ext[s->n_ext++] = wire_strndup(
			    p, n < SMTP_EXT_MAX ? n : SMTP_EXT_MAX);
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

void reply_message(struct smtp_session *s, struct pending *p,
		   const struct smtp_cmd *c, const struct smtp_reply *r)
{
	struct txn *t = p->txn;

	if (t) {
		smtp_save_reply(&t->pub.data_reply, r);
		free(t->pub.queue_id); /* a second reply to a body */
		t->pub.queue_id = smtp_queue_id(r->text);
		t->pub.ts_end = r->ts;
		smtp_txn_detach(s, t, false);
	}
	if (p->smuggle && !smtp_shadow_message_reply(s, t, p->smuggle, r))
		smtp_smuggle_alert(s, p->smuggle, c, r);
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

/* ---- what each reply does (the table's on_reply) ---- */

/*
 * The reply to RSET or a greeting: 2xx ends the transaction the command
 * kept; a refusal changes nothing, the transaction goes on.
 */
void reply_rset(struct smtp_session *s, struct pending *p,
		const struct smtp_cmd *c, const struct smtp_reply *r)
{
	struct txn *t = p->txn;

	(void)c;
	if (!t)
		return;
	if (r->code / 100 != 2 && r->code && !s->cur && !t->detached)
		s->cur = t;
	else if (r->code / 100 == 2 || !r->code)
		smtp_txn_detach(s, t, true);
}

/* ---- the server's posture (what it says, nothing sent) ---- */

/* Mail software that names itself in banners, as admins grep for it. */
static const char *const software[] = {
    "Postfix",
    "Exim",
    "Sendmail",
    "Microsoft ESMTP MAIL Service",
    "Microsoft Exchange",
    "Exchange Server",
    "qmail",
    "OpenSMTPD",
    "hMailServer",
    "MDaemon",
    "Zimbra",
    "IceWarp",
    "Kerio",
    "Haraka",
    "Courier",
    "Domino",
    "Axigen",
    "CommuniGate",
    "SmarterMail",
    "MailEnable",
    "Mercury/32",
    "ArGoSoft",
    "XMail",
    "Apache James",
    "MailSite",
    "Merak",
    "Cyrus",
    "Sun Java System",
    "Oracle Communications",
    "VPOP3",
    "WinGate",
    "Halon",
};

/* A banner or EHLO greeting line that names its software. */
static void check_software(struct smtp_session *s, const struct smtp_cmd *c,
			   const struct smtp_reply *r, const char *line,
			   size_t n)
{
	size_t i, k, len;

	if (s->seen & SEEN_SOFTWARE)
		return;
	for (i = 0; i < sizeof(software) / sizeof(software[0]); i++) {
		len = strlen(software[i]);
		for (k = 0; k + len <= n; k++)
			if (!strncasecmp(line + k, software[i], len))
				break;
		if (k + len > n)
			continue;
		s->seen |= SEEN_SOFTWARE;
		smtp_alert_raise(s, SMTP_ALERT_BANNER_DISCLOSES_SOFTWARE, c, r,
				 r->ts, "%s names %s: \"%.*s\"",
				 c->verb[0] == '<' ? "the banner"
						   : "the EHLO greeting",
				 software[i], (int)(n < 120 ? n : 120), line);
		return;
	}
}

/* An EHLO reply in clear text: AUTH offered, STARTTLS not. */
static void check_ehlo_posture(struct smtp_session *s, const struct smtp_cmd *c,
			       const struct smtp_reply *r)
{
	size_t i;

	if (s->tls.accepted)
		return;
	for (i = 0; i < s->n_ext && !(s->seen & SEEN_AUTH_CLEAR); i++) {
		const char *e = s->ext[i];

		if ((smtp_ieq_prefix(e, strlen(e), "AUTH ") ||
		     smtp_ieq_prefix(e, strlen(e), "AUTH=")) &&
		    (strcasestr(e, "PLAIN") || strcasestr(e, "LOGIN"))) {
			s->seen |= SEEN_AUTH_CLEAR;
			smtp_alert_raise(s, SMTP_ALERT_AUTH_WITHOUT_TLS, c, r,
					 r->ts, "offered before TLS: %s", e);
		}
	}
	if (!s->tls.offered && !(s->seen & SEEN_NO_STARTTLS)) {
		s->seen |= SEEN_NO_STARTTLS;
		smtp_alert_raise(s, SMTP_ALERT_STARTTLS_NOT_OFFERED, c, r,
				 r->ts, "%u extensions, no STARTTLS",
				 (unsigned)s->n_ext);
	}
}

void reply_hello(struct smtp_session *s, struct pending *p,
		 const struct smtp_cmd *c, const struct smtp_reply *r)
{
	reply_rset(s, p, c, r);
	if (r->code / 100 == 2) {
		save_extensions(s, ""); /* HELO: no extensions */
		s->ext_known = true;
	}
}

void reply_ehlo(struct smtp_session *s, struct pending *p,
		const struct smtp_cmd *c, const struct smtp_reply *r)
{
	reply_rset(s, p, c, r);
	if (r->code / 100 == 2) {
		save_extensions(s, r->text);
		s->ext_known = true;
		check_software(s, c, r, r->text, strcspn(r->text, "\n"));
		if (p->id == V_EHLO)
			check_ehlo_posture(s, c, r);
	}
}

void reply_greeting(struct smtp_session *s, struct pending *p,
		    const struct smtp_cmd *c, const struct smtp_reply *r)
{
	(void)p;
	free(s->banner);
	s->banner = wire_strndup(r->text, r->text_len);
	if (r->code == 220)
		check_software(s, c, r, r->text, strcspn(r->text, "\n"));
	if (s->early_verb[0])
		smtp_alert_raise(s, SMTP_ALERT_EARLY_TALKER, c, r, r->ts,
				 "%s sent before the server's greeting",
				 s->early_verb);
}

void reply_mail(struct smtp_session *s, struct pending *p,
		const struct smtp_cmd *c, const struct smtp_reply *r)
{
	(void)c;
	if (p->txn) {
		smtp_save_reply(&p->txn->pub.mail_reply, r);
		smtp_txn_nested_reply(s, p->txn, r->code);
	}
}

/*
 * Replies come in order: the n-th answers the n-th recipient, an invalid
 * one (code 0) too, so none is answered twice.
 */
void reply_rcpt(struct smtp_session *s, struct pending *p,
		const struct smtp_cmd *c, const struct smtp_reply *r)
{
	struct txn *t = p->txn;
	struct smtp_rcpt *rc;

	(void)s, (void)c;
	if (!t || t->rcpts_answered >= t->pub.n_rcpts)
		return;
	rc = &t->pub.rcpts[t->rcpts_answered++];
	rc->code = r->code;
	memcpy(rc->enhanced, r->enhanced, sizeof(rc->enhanced));
	rc->text = wire_strndup(r->text, r->text_len < SMTP_SAVED_MAX
					     ? r->text_len
					     : SMTP_SAVED_MAX);
	if (r->code / 100 == 2)
		t->pub.accepted_rcpts++;
}

void reply_data(struct smtp_session *s, struct pending *p,
		const struct smtp_cmd *c, const struct smtp_reply *r)
{
	struct txn *t = p->txn;

	if (!t || (!t->pub.accepted_rcpts && all_answered(&t->pub)))
		smtp_alert_raise(s, SMTP_ALERT_COMMAND_OUT_OF_SEQUENCE, c, r,
				 r->ts, "DATA without an accepted recipient");
	if (t) {
		t->data_cmd_code = r->code;
		/* a refused DATA ends the transaction: keep its reply */
		if (r->code != 354 && !t->pub.has_body) {
			smtp_save_reply(&t->pub.data_reply, r);
			t->pub.ts_end = r->ts;
		}
	}
	if (r->code != 354 && s->cstate == C_BODY && s->bstate == B_BOL &&
	    !(s->cur && s->cur->pub.has_body))
		smtp_set_cstate(s, C_CMD); /* refused before any body */
}

void reply_bdat(struct smtp_session *s, struct pending *p,
		const struct smtp_cmd *c, const struct smtp_reply *r)
{
	struct txn *t = p->txn;

	(void)c;
	if (t && (r->code / 100 != 2 || t->pub.body_done) &&
	    !t->pub.data_reply.code) {
		smtp_save_reply(&t->pub.data_reply, r);
		free(t->pub.queue_id); /* an invalid reply came first */
		t->pub.queue_id = smtp_queue_id(r->text);
		t->pub.ts_end = r->ts;
	}
	if (t && t->pub.body_done)
		smtp_txn_detach(s, t, false);
}

void reply_starttls(struct smtp_session *s, struct pending *p,
		    const struct smtp_cmd *c, const struct smtp_reply *r)
{
	(void)p;
	if (r->code == 220) {
		s->tls.accepted = true;
		smtp_set_cstate(s, C_TLS);
		smtp_set_sstate(s, S_TLS);
		smtp_tls_start(s, true);
		return;
	}
	if (s->cstate == C_STARTTLS)
		smtp_set_cstate(s, C_CMD);
	smtp_alert_raise(s, SMTP_ALERT_STARTTLS_FAILED, c, r, r->ts,
			 "STARTTLS answered %d", r->code);
}

void reply_unsolicited(struct smtp_session *s, struct pending *p,
		       const struct smtp_cmd *c, const struct smtp_reply *r)
{
	/* a 334 asks for a response whatever asked for it; a final reply
	 * whose AUTH a gap took ends the exchange */
	if (r->code == 334 || s->sasl.open)
		smtp_auth_reply(s, p, c, r);
}

/* RFC 1985 3: what the server said it would do with its queue. */
void reply_etrn(struct smtp_session *s, struct pending *p,
		const struct smtp_cmd *c, const struct smtp_reply *r)
{
	static const struct {
		int code;
		const char *meaning;
	} said[] = {
	    {250, "queuing for the node started"},
	    {251, "no messages waiting for the node"},
	    {252, "pending messages for the node started"},
	    {253, "pending messages for the node started"},
	    {458, "unable to queue messages for the node"},
	    {459, "node not allowed"},
	};
	const char *meaning = "refused";
	size_t i;

	(void)p;
	for (i = 0; i < sizeof(said) / sizeof(said[0]); i++)
		if (said[i].code == r->code)
			meaning = said[i].meaning;
	smtp_alert_raise(s, SMTP_ALERT_ETRN_REQUEST, c, r, r->ts,
			 "ETRN %s answered %d: %s", c->arg[0] ? c->arg : "-",
			 r->code, meaning);
}

void reply_probe(struct smtp_session *s, struct pending *p,
		 const struct smtp_cmd *c, const struct smtp_reply *r)
{
	unsigned flag = p->id == V_VRFY ? SEEN_VRFY_OK : SEEN_EXPN_OK;

	smtp_alert_raise(s, SMTP_ALERT_VRFY_EXPN_PROBE, c, r, r->ts,
			 "%s %s answered %d", c->verb, c->arg, r->code);
	/* the server told: users can be enumerated */
	if (r->code >= 250 && r->code <= 252 && !(s->seen & flag)) {
		s->seen |= flag;
		smtp_alert_raise(s,
				 p->id == V_VRFY ? SMTP_ALERT_VRFY_ENABLED
						 : SMTP_ALERT_EXPN_ENABLED,
				 c, r, r->ts, "%s %s answered %d", c->verb,
				 c->arg, r->code);
	}
}

/* ---- timing ---- */

/*
 * A tenth of RFC 5321 4.5.3.2's timeouts: the client's patience is the
 * server's budget, and a reply taking a tenth of it is worth a look.
 */
static int64_t slow_threshold(const struct smtp_session *s, enum verb id)
{
	if (s->opt.slow_reply_us)
		return s->opt.slow_reply_us;
	switch (id) {
	case V_DATA: /* initiation: 2 minutes */
		return 12 * 1000000;
	case V_MESSAGE: /* data termination: 10 minutes */
		return 60 * 1000000;
	default: /* greeting, MAIL, RCPT, and the rest: 5 minutes */
		return 30 * 1000000;
	}
}

static void time_reply(struct smtp_session *s, const struct pending *p,
		       const struct smtp_reply *r)
{
	int64_t lat = r->ts - p->ts;

	if (p->ts < 0 || lat < 0 || !r->lines)
		return;
	if (p->id == V_GREETING && s->greet_us < 0)
		s->greet_us = lat;
	if (lat > s->slow_us) {
		s->slow_us = lat;
		s->slow_id = p->id;
	}
	if (s->n_lat < SMTP_TIMED_MAX) {
		/* grown by doublings from 4: a short session keeps little */
		if (s->n_lat >= 4 && !(s->n_lat & (s->n_lat - 1))) {
			s->lat =
			    xrealloc(s->lat, 2 * s->n_lat * sizeof(*s->lat));
			s->mem += s->n_lat * sizeof(*s->lat);
		} else if (!s->lat) {
			s->lat = xmalloc(4 * sizeof(*s->lat));
			s->mem += 4 * sizeof(*s->lat);
		}
		s->lat[s->n_lat++] =
		    lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
	}
	if (lat > slow_threshold(s, p->id) && !s->slow_said) {
		struct smtp_cmd c;

		s->slow_said = true;
		smtp_cmd_view(p, &c);
		smtp_alert_raise(
		    s, SMTP_ALERT_SLOW_REPLY, &c, r, r->ts,
		    "%s answered %d after %lld.%03lld s (over %lld "
		    "s)",
		    c.verb, r->code, (long long)(lat / 1000000),
		    (long long)(lat % 1000000 / 1000),
		    (long long)(slow_threshold(s, p->id) / 1000000));
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void smtp_timing(const struct smtp_session *s, struct smtp_session_info *si)
{
	uint32_t *v;

	si->greeting_us = s->greet_us;
	si->slowest_us = s->slow_us;
	/* an unknown verb is not kept: it may be anything the client sent */
	si->slowest_cmd = s->slow_us < 0 ? NULL
			  : s->slow_id == V_UNKNOWN
			      ? "unknown"
			      : smtp_verbs[s->slow_id].name;
	si->replies_timed = s->n_lat;
	si->median_us = -1;
	if (!s->n_lat)
		return;
	v = xmalloc(s->n_lat * sizeof(*v));
	memcpy(v, s->lat, s->n_lat * sizeof(*v));
	qsort(v, s->n_lat, sizeof(*v), cmp_u32);
	/* the lower middle of an even count: a latency that was seen */
	si->median_us = v[(s->n_lat - 1) / 2];
	free(v);
}

void smtp_reply_done(struct smtp_session *s, int64_t ts)
{
	char meaning[160] = "";
	struct pending *p, unsolicited;
	struct smtp_reply r;
	struct smtp_cmd c;
	int code = s->rcode;
	bool resync = s->cstate == C_RESYNC || s->cstate == C_RESYNC_NEXT;

	r.code = code;
	memcpy(r.enhanced, s->renh, sizeof(r.enhanced));
	r.text = sb_str(&s->rtext);
	r.text_len = s->rtext.len;
	r.raw = sb_str(&s->rraw);
	r.raw_len = s->rraw.len;
	r.lines = s->rlines;
	r.ts = ts;

	if (s->shadow) /* which reading the server had */
		smtp_shadow_reply(s, code);
	if (s->pend_len) {
		p = smtp_pend_at(s, 0);
	} else {
		memset(&unsolicited, 0, sizeof(unsolicited));
		unsolicited.id = V_UNSOLICITED;
		unsolicited.ts = ts;
		p = &unsolicited;
	}
	if (code >= 200 && code <= 599)
		s->replies[code / 100 - 2]++;
	smtp_cmd_view(p, &c);
	if (s->cb->reply)
		s->cb->reply(s->user, &c, &r);
	if (p != &unsolicited)
		time_reply(s, p, &r);
	if (smtp_verbs[p->id].on_reply)
		smtp_verbs[p->id].on_reply(s, p, &c, &r);
	if (s->rinvalid && s->rbadcode)
		smtp_alert_raise(s, SMTP_ALERT_INVALID_REPLY, &c, &r, ts,
				 "a multi-line reply mixes codes %d and %d",
				 code, s->rbadcode);
	else if (s->rinvalid)
		smtp_alert_raise(s, SMTP_ALERT_INVALID_REPLY, &c, &r, ts,
				 "a reply line that does not start with a code "
				 "from 200 to 599");
	if (code / 100 == 4 || code / 100 == 5) {
		smtp_explain(code, r.enhanced, meaning, sizeof(meaning));
		smtp_alert_raise(s,
				 code == 421	   ? SMTP_ALERT_REPLY_421
				 : code / 100 == 4 ? SMTP_ALERT_REPLY_4XX
						   : SMTP_ALERT_REPLY_5XX,
				 &c, &r, ts, "%d%s%s to %s: %s", code,
				 r.enhanced[0] ? " " : "", r.enhanced,
				 c.verb[0] ? c.verb : "an empty line", meaning);
	}
	/* a 354 nothing asked for (a DATA lost in a gap): a body follows */
	if (p->id == V_UNSOLICITED && code == 354 &&
	    (smtp_in_commands(s->cstate) || s->cstate == C_RESYNC ||
	     s->cstate == C_RESYNC_NEXT)) {
		resync = false;
		smtp_set_cstate(s, C_BODY);
		smtp_body_start(s);
		if (s->cur) {
			hq_free(s->cur->hash); /* a new body */
			s->cur->hash = NULL;
			s->cur->pub.body_done = false;
			s->cur->pub.bdat = false;
		}
	}
	/* after a gap replies answer what was lost: not unsolicited */
	if (p->id == V_UNSOLICITED && code != 421 && !resync)
		smtp_alert_raise(s, SMTP_ALERT_UNSOLICITED_REPLY, &c, &r, ts,
				 "%d with no command waiting for a reply",
				 code);
	if (p->id == V_UNKNOWN && c.verb[0])
		smtp_alert_raise(s, SMTP_ALERT_UNKNOWN_COMMAND, &c, &r, ts,
				 "a verb of no SMTP standard or extension, "
				 "answered %d",
				 code);
	if (p != &unsolicited) {
		smtp_pend_release(s, p);
		smtp_pend_pop(s);
	}
	smtp_reply_reset(s);
	/*
	 * A reply after a client gap: commands start at the next line, or
	 * a body if the reply was 354.
	 */
	if (resync && (s->cstate == C_RESYNC || s->cstate == C_RESYNC_NEXT)) {
		if (code == 354) {
			smtp_set_cstate(s, C_BODY);
			smtp_body_start(s);
		} else if (s->cline.total) {
			/* after the line under way */
			smtp_set_cstate(s, C_RESYNC_NEXT);
		} else {
			smtp_set_cstate(s, C_CMD);
		}
	}
}

static bool reply_start(const char *line, size_t len)
{
	return len >= 3 && smtp_is_digit(line[0]) && smtp_is_digit(line[1]) &&
	       smtp_is_digit(line[2]) &&
	       (len == 3 || line[3] == ' ' || line[3] == '-');
}

void smtp_server_line(struct smtp_session *s, struct line *l, bool bare_lf,
		      int64_t ts)
{
	const char *line = l->buf;
	size_t len = l->len, tlen, e;
	bool valid = reply_start(line, len), more;
	int code = valid ? (line[0] - '0') * 100 + (line[1] - '0') * 10 +
			       (line[2] - '0')
			 : 0;
	const char *text;

	if (s->sstate == S_RESYNC) {
		if (!valid)
			return; /* still inside what the gap cut */
		smtp_set_sstate(s, S_REPLY);
	}
	smtp_line_anomalies(s, l, bare_lf, "reply", SMTP_REPLY_LINE_LIMIT, NULL,
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
		smtp_reply_done(s, ts);
}
