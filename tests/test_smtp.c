/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_smtp.c - decoder unit tests on byte strings, fed at every split. */
#include <inttypes.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashq.h"
#include "message.h"
#include "smtp.h"
#include "util.h"

static int passed, failed;

/* Every callback appends one line to the log; tests compare logs. */
static void logf_(struct sbuf *log, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sb_append(log, buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void on_command(void *u, const struct smtp_cmd *c)
{
	logf_(u, "cmd %s|%s|seq=%u pip=%d known=%d line=%.*s\n", c->verb,
	      c->arg, c->seq, c->pipelined, c->known, (int)c->line_len,
	      c->line);
}

static void on_reply(void *u, const struct smtp_cmd *c,
		     const struct smtp_reply *r)
{
	logf_(u, "reply %s %d enh=%s lines=%u text=%s\n", c->verb, r->code,
	      r->enhanced, r->lines, r->text);
}

static void on_body(void *u, const struct smtp_txn *t)
{
	logf_(u, "body size=%" PRIu64 " done=%d subject=%s\n", t->size,
	      t->body_done, t->subject ? t->subject : "-");
}

static void on_alert(void *u, const struct smtp_alert *a)
{
	logf_(u, "alert %s cmd=%s code=%d detail=%s\n",
	      smtp_alert_kind_str(a->kind), a->cmd ? a->cmd->verb : "-",
	      a->reply ? a->reply->code : 0, a->detail ? a->detail : "-");
}

static void on_txn(void *u, const struct smtp_txn *t)
{
	size_t i;

	logf_(u, "txn %u status=%s from=%s", t->index,
	      smtp_status_str(t->status), t->mail_from ? t->mail_from : "-");
	for (i = 0; i < t->n_params; i++)
		logf_(u, " %s=%s", t->params[i].key,
		      t->params[i].value ? t->params[i].value : "(flag)");
	for (i = 0; i < t->n_rcpts; i++)
		logf_(u, " rcpt=%s:%d:%s", t->rcpts[i].address,
		      t->rcpts[i].code, t->rcpts[i].enhanced);
	logf_(u, " accepted=%zu data=%d queue=%s size=%" PRIu64 " sha=",
	      t->accepted_rcpts, t->data_reply.code,
	      t->queue_id ? t->queue_id : "-", t->size);
	for (i = 0; i < 4; i++)
		logf_(u, "%02x", t->sha256[i]);
	logf_(u, " subject=%s\n", t->subject ? t->subject : "-");
}

static void on_session(void *u, const struct smtp_session_info *si)
{
	size_t i;

	logf_(u,
	      "session close=%s helo=%s banner=%s tls=%d%d%d auth=%s/%s/%d "
	      "txns=%u cmds=%u replies=%u/%u/%u/%u bytes=%" PRIu64 "/%" PRIu64
	      " ext=",
	      smtp_close_str(si->close), si->helo ? si->helo : "-",
	      si->banner ? si->banner : "-", si->tls.offered, si->tls.requested,
	      si->tls.accepted, si->auth_mechanism ? si->auth_mechanism : "-",
	      si->auth_result ? si->auth_result : "-", si->auth_code,
	      si->transactions, si->commands, si->replies[0], si->replies[1],
	      si->replies[2], si->replies[3], si->bytes_client,
	      si->bytes_server);
	logf_(u, "user=%s mid=%d gaps=%" PRIu64 "/%" PRIu64 " ",
	      si->auth_user ? si->auth_user : "-", si->midstream, si->gaps,
	      si->gap_bytes);
	for (i = 0; i < si->n_extensions; i++)
		logf_(u, "%s%s", i ? "," : "", si->extensions[i]);
	logf_(u, "\n");
	if (si->tls.client_version || si->tls.version || si->tls.sni)
		logf_(u, "tls client=%04x server=%04x sni=%s\n",
		      si->tls.client_version, si->tls.version,
		      si->tls.sni ? si->tls.sni : "-");
}

static const struct smtp_callbacks cbs = {
    .command = on_command,
    .reply = on_reply,
    .body = on_body,
    .alert = on_alert,
    .transaction = on_txn,
    .session = on_session,
};

/* A dialogue: segments alternate as the test lists them. */
struct seg {
	enum smtp_dir dir;
	const char *data;
	uint64_t gap; /* with data "": a hole of this many bytes */
};

// clang-format off
#define C(s) { SMTP_FROM_CLIENT, s, 0 }
#define S(s) { SMTP_FROM_SERVER, s, 0 }
#define GAP(d, n) { d, "", n }
#define END { SMTP_FROM_CLIENT, NULL, 0 }
// clang-format on

/* split: 0 whole segments; k>0 split each segment at byte k; -1 bytewise */
static const struct smtp_options *run_opt; /* options of the next run() */

static char *run(const struct seg *segs, enum smtp_close close, long split)
{
	struct sbuf log = {0};
	struct smtp_session *s = smtp_session_new(&cbs, &log, run_opt);
	int64_t ts = 1000;
	const struct seg *g;

	for (g = segs; g->data; g++) {
		size_t len = strlen(g->data), i;
		uint8_t *copy = xmalloc(len ? len : 1);

		if (g->gap) {
			smtp_gap(s, g->dir, g->gap, ts);
			free(copy);
			ts += 10;
			continue;
		}

		/* a private copy: an over-read past the end trips ASan */
		memcpy(copy, g->data, len);
		if (split < 0) {
			for (i = 0; i < len; i++)
				smtp_feed(s, g->dir, copy + i, 1, ts);
		} else if (split > 0 && (size_t)split < len) {
			smtp_feed(s, g->dir, copy, split, ts);
			smtp_feed(s, g->dir, copy + split, len - split, ts);
		} else {
			smtp_feed(s, g->dir, copy, len, ts);
		}
		free(copy);
		ts += 10;
	}
	smtp_end(s, close, ts);
	smtp_session_free(s);
	if (!log.p)
		sb_append(&log, "", 0);
	return log.p;
}

static const char *suite = "unit"; /* "unit-thread": a second pass */

static void result(const char *name, int ok, const char *why)
{
	if (ok) {
		passed++;
		printf("PASS %s/%s\n", suite, name);
	} else {
		failed++;
		printf("FAIL %s/%s: %s\n", suite, name, why);
	}
}

/*
 * Run the dialogue whole, split at every byte, and byte by byte: the
 * logs must be identical, and contain every expected line in order.
 */
static void check(const char *name, const struct seg *segs,
		  enum smtp_close close, const char *const *expect,
		  const char *const *absent)
{
	char *ref = run(segs, close, 0), *other, why[4096];
	const char *p = ref;
	size_t maxlen = 0, i;
	long k;
	const struct seg *g;

	for (g = segs; g->data; g++)
		if (strlen(g->data) > maxlen)
			maxlen = strlen(g->data);
	for (k = -1; k < (long)maxlen; k++) {
		if (k == 0)
			continue;
		other = run(segs, close, k);
		if (strcmp(ref, other)) {
			snprintf(why, sizeof(why),
				 "split %ld gives other events:\n%s---\n%s", k,
				 ref, other);
			free(other);
			free(ref);
			result(name, 0, why);
			return;
		}
		free(other);
	}
	for (i = 0; expect[i]; i++) {
		const char *hit = strstr(p, expect[i]);

		if (!hit) {
			snprintf(why, sizeof(why),
				 "expected (in order) '%s' in:\n%s", expect[i],
				 ref);
			free(ref);
			result(name, 0, why);
			return;
		}
		p = hit + strlen(expect[i]);
	}
	for (i = 0; absent && absent[i]; i++) {
		if (strstr(ref, absent[i])) {
			snprintf(why, sizeof(why),
				 "'%s' must not appear in:\n%s", absent[i],
				 ref);
			free(ref);
			result(name, 0, why);
			return;
		}
	}
	free(ref);
	result(name, 1, NULL);
}

static void test_helo_dot_stuffing(void)
{
	static const struct seg d[] = {
	    S("220 mx.test ESMTP ready\r\n"),
	    C("HELO client.test\r\n"),
	    S("250 mx.test\r\n"),
	    C("MAIL FROM:<a@client.test> SIZE=120 BODY=8BITMIME\r\n"),
	    S("250 2.1.0 Ok\r\n"),
	    C("rcpt to:<b@mx.test>\r\n"),
	    S("250 2.1.5 Ok\r\n"),
	    C("DATA\r\n"),
	    S("354 End data with <CR><LF>.<CR><LF>\r\n"),
	    C("Subject: Hello\r\n  world\r\nFrom: a@client.test\r\n\r\n"
	      "..leading dot\r\n.\r\n"),
	    S("250 2.0.0 Ok: queued as 4AB12C\r\n"),
	    C("QUIT\r\n"),
	    S("221 2.0.0 Bye\r\n"),
	    END,
	};
	/* the unstuffed body (62 bytes): its SHA-256, computed here, must be
	 * the decoder's */
	static const char body[] = "Subject: Hello\r\n  world\r\nFrom: "
				   "a@client.test\r\n\r\n.leading dot\r\n";
	static char sha[256];
	const char *expect[] = {
	    "reply <greeting> 220 enh= lines=1 text=mx.test ESMTP ready\n",
	    "cmd HELO|client.test|seq=1 pip=0 known=1",
	    "cmd RCPT|to:<b@mx.test>|seq=3 pip=0 known=1 line=rcpt "
	    "to:<b@mx.test>\n",
	    "reply RCPT 250 enh=2.1.5 lines=1 text=Ok\n",
	    "reply DATA 354",
	    "body size=62 done=1 subject=-\n", /* see below */
	    "reply <message> 250 enh=2.0.0 lines=1 text=Ok: queued as 4AB12C\n",
	    sha,
	    "session close=quit helo=client.test banner=mx.test ESMTP ready "
	    "tls=000 auth=-/-/0 txns=1 cmds=5 replies=6/1/0/0",
	    NULL,
	};
	struct sha256_ctx ctx;
	uint8_t dg[32];
	struct smtp_options o = {.ts_start = -1, .message_at_body_end = true};

	sha256_init(&ctx);
	sha256_update(&ctx, strlen(body), (const uint8_t *)body);
	sha256_digest(&ctx, 32, dg);
	snprintf(
	    sha, sizeof(sha),
	    "txn 1 status=queued from=a@client.test SIZE=120 "
	    "BODY=8BITMIME rcpt=b@mx.test:250:2.1.5 accepted=1 data=250 "
	    "queue=4AB12C size=%zu sha=%02x%02x%02x%02x subject=Hello  world\n",
	    strlen(body), dg[0], dg[1], dg[2], dg[3]);
	check("helo_dot_stuffing", d, SMTP_CLOSE_FIN, expect, NULL);
	/* for a transcript: the Subject is known when the body ends */
	expect[5] = "body size=62 done=1 subject=Hello  world\n";
	run_opt = &o;
	check("subject_at_body_end", d, SMTP_CLOSE_FIN, expect, NULL);
	run_opt = NULL;
}

static void test_pipelining_rejections(void)
{
	static const struct seg d[] = {
	    S("220 mx ESMTP\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nRCPT TO:<x@mx>\r\n"
	      "RCPT TO:<y@mx>\r\nDATA\r\n"),
	    S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	      "550 5.1.1 <x@mx>: Recipient address rejected\r\n"
	      "454 4.7.1 <y@mx>: try later\r\n354 go\r\n"),
	    C("hi\r\n.\r\n"),
	    S("250 2.0.0 Ok: queued as Q1\r\n"),
	    C("QUIT\r\n"),
	    S("221 Bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "cmd MAIL|FROM:<a@c>|seq=2 pip=0",
	    "cmd RCPT|TO:<b@mx>|seq=3 pip=1",
	    "cmd DATA||seq=6 pip=1",
	    "reply RCPT 550 enh=5.1.1 lines=1 text=<x@mx>: Recipient address "
	    "rejected\n",
	    "alert reply_5xx cmd=RCPT code=550 detail=550 5.1.1 to RCPT: bad "
	    "destination mailbox "
	    "address\n",
	    "reply RCPT 454 enh=4.7.1",
	    "alert reply_4xx cmd=RCPT code=454 detail=454 4.7.1 to RCPT: "
	    "delivery not authorized, "
	    "message refused (temporary: try again later)\n",
	    "reply DATA 354",
	    "txn 1 status=queued from=a@c rcpt=b@mx:250:2.1.5 "
	    "rcpt=x@mx:550:5.1.1 rcpt=y@mx:454:4.7.1 accepted=1 data=250 "
	    "queue=Q1 size=4",
	    "session close=quit helo=c banner=mx ESMTP tls=100",
	    "gaps=0/0 PIPELINING,SIZE 1000,STARTTLS\n",
	    NULL,
	};

	check("pipelining_rejections", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_auth_masked(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 AUTH PLAIN LOGIN\r\n"),
	    C("AUTH PLAIN AHNlY3JldHVzZXIAc2VjcmV0cGFzcw==\r\n"),
	    S("535 5.7.8 Error: authentication failed\r\n"),
	    C("AUTH LOGIN\r\n"),
	    S("334 VXNlcm5hbWU6\r\n"),
	    C("c2VjcmV0dXNlcg==\r\n"),
	    S("334 UGFzc3dvcmQ6\r\n"),
	    C("c2VjcmV0cGFzcw==\r\n"),
	    S("235 2.7.0 Authentication successful\r\n"),
	    END,
	};
	const char *expect[] = {
	    "cmd AUTH|PLAIN ********|seq=2 pip=0 known=1 line=AUTH PLAIN "
	    "********\n",
	    "alert reply_5xx cmd=AUTH code=535",
	    "reply AUTH 334",
	    "cmd <auth>|********|seq=0",
	    "reply <auth> 334",
	    "cmd <auth>|********|seq=0",
	    "reply <auth> 235",
	    "session close=fin helo=c banner=mx tls=000 auth=LOGIN/success/235",
	    NULL,
	};
	const char *absent[] = {"c2Vj", "AHNl", NULL};

	check("auth_masked", d, SMTP_CLOSE_FIN, expect, absent);
}

static void test_starttls_opaque(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 STARTTLS\r\n"),
	    C("STARTTLS\r\n"),
	    S("220 2.0.0 Ready to start TLS\r\n"),
	    C("\x16\x03\x01\x02\x01MAIL FROM:<x@y>\r\n"),
	    S("\x16\x03\x03\x00\x7a 550 no\r\n"),
	    END,
	};
	const char *expect[] = {
	    "cmd STARTTLS||seq=2",
	    "reply STARTTLS 220 enh=2.0.0",
	    "session close=reset helo=c banner=mx tls=111 auth=-/-/0 txns=0 "
	    "cmds=2 replies=3/0/0/0 bytes=40/",
	    NULL,
	};
	const char *absent[] = {"MAIL", "550", NULL};

	check("starttls_opaque", d, SMTP_CLOSE_RESET, expect, absent);
}

static void test_unsolicited_unknown(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("FROBNICATE now\r\n"),
	    S("500 5.5.2 Error: command not recognized\r\n"),
	    C("\r\n"),
	    S("500 5.5.2 Error: bad syntax\r\n"),
	    S("421 4.7.0 mx Error: too many errors\r\n"),
	    END,
	};
	const char *expect[] = {
	    "cmd FROBNICATE|now|seq=1 pip=0 known=0",
	    "alert reply_5xx cmd=FROBNICATE code=500 detail=500 5.5.2 to "
	    "FROBNICATE: syntax error\n",
	    "alert unknown_command cmd=FROBNICATE code=500 detail=a verb of no "
	    "SMTP standard or extension, answered 500\n",
	    "cmd ||seq=2 pip=0 known=0 line=\n",
	    "reply <unsolicited> 421 enh=4.7.0",
	    "alert reply_421 cmd=<unsolicited> code=421 detail=421 4.7.0 to "
	    "<unsolicited>: other or undefined security status (temporary: "
	    "try again later)\n",
	    "session close=fin",
	    NULL,
	};
	/* an empty line is a command, not an unknown verb */
	const char *absent[] = {
	    "alert unknown_command cmd= ", "alert unsolicited_reply", NULL};

	check("unsolicited_unknown", d, SMTP_CLOSE_FIN, expect, absent);
}

static void test_mid_data_close(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\nMAIL FROM:<a@c>\r\n"),
	    S("250 mx\r\n250 ok\r\n"),
	    C("RCPT TO:<b@mx>\r\n"),
	    S("250 ok\r\n"),
	    C("DATA\r\n"),
	    S("354 go\r\n"),
	    C("Subject: cut\r\n\r\nline one\r\nline tw"),
	    END,
	};
	const char *expect[] = {
	    "body size=33 done=0 subject=-\n",
	    "txn 1 status=incomplete from=a@c rcpt=b@mx:250: accepted=1 data=0",
	    " subject=cut\n",
	    "session close=fin",
	    NULL,
	};

	check("mid_data_close", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_rset_and_rejected(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("HELO c\r\n"),
	    S("250 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\n"),
	    S("250 ok\r\n"),
	    C("RSET\r\n"),
	    S("250 ok\r\n"),
	    C("MAIL FROM:<bad\r\n"),
	    S("501 5.1.7 Bad sender address syntax\r\n"),
	    C("MAIL FROM:<a@c>\r\n"),
	    S("250 ok\r\n"),
	    C("RCPT TO:<x@mx>\r\n"),
	    S("550 5.1.1 no\r\n"),
	    C("DATA\r\n"),
	    S("554 5.5.1 Error: no valid recipients\r\n"),
	    C("NOOP\r\nQUIT\r\n"),
	    S("250 ok\r\n221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "txn 1 status=reset from=a@c accepted=0",
	    "txn 2 status=rejected from=bad accepted=0",
	    "reply DATA 554",
	    "cmd NOOP||seq=8",
	    "txn 3 status=rejected from=a@c rcpt=x@mx:550:5.1.1 accepted=0",
	    "session close=quit",
	    "txns=3 cmds=9",
	    NULL,
	};

	check("rset_and_rejected", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_bdat(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 CHUNKING\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nBDAT 14\r\nSubject: "
	      "x\r\n\r\n"),
	    S("250 ok\r\n250 ok\r\n250 2.0.0 14 octets\r\n"),
	    C("BDAT 9 LAST\r\n.\r\nQUIT\r\n"),
	    S("250 2.0.0 Ok: queued as B7\r\n"),
	    C("QUIT\r\n"),
	    S("221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "cmd BDAT|14|seq=4",
	    "reply BDAT 250 enh=2.0.0 lines=1 text=14 octets\n",
	    "cmd BDAT|9 LAST|seq=5",
	    "body size=23 done=1 subject=-\n",
	    "reply BDAT 250 enh=2.0.0 lines=1 text=Ok: queued as B7\n",
	    "txn 1 status=queued from=a@c rcpt=b@mx:250: accepted=1 "
	    "data=250 queue=B7 size=23",
	    " subject=x\n",
	    "session close=quit",
	    NULL,
	};

	check("bdat", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_bdat_zero_last(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nBDAT 0 LAST\r\n"),
	    S("250 ok\r\n250 ok\r\n250 Ok: queued as Z0\r\n"),
	    END,
	};
	const char *expect[] = {
	    "body size=0 done=1",
	    "txn 1 status=queued from=a@c rcpt=b@mx:250: accepted=1 "
	    "data=250 queue=Z0 size=0 sha=e3b0c442",
	    NULL,
	};

	check("bdat_zero_last", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_multiline_and_bare_lf(void)
{
	static const struct seg d[] = {
	    S("220-mx.test ESMTP\n220-second line\n220 third\n"),
	    C("HELP\n"),
	    S("214-2.0.0 commands:\r\n214-2.0.0 HELO EHLO\r\n214 2.0.0 "
	      "end\r\n"),
	    C("EXPN staff\r\n"),
	    S("502 5.5.1 EXPN not available\r\n"),
	    C("VRFY bob\r\n"),
	    S("252 2.0.0 bob\r\n"),
	    S("garbage from the server\r\n"),
	    END,
	};
	const char *expect[] = {
	    "reply <greeting> 220 enh= lines=3 text=mx.test ESMTP\nsecond "
	    "line\nthird\n",
	    "cmd HELP||seq=1",
	    "reply HELP 214 enh=2.0.0 lines=3 text=commands:\nHELO EHLO\nend\n",
	    "reply EXPN 502 enh=5.5.1",
	    "reply VRFY 252 enh=2.0.0 lines=1 text=bob\n",
	    "reply <unsolicited> 0 enh= lines=1 text=garbage from the server\n",
	    "alert invalid_reply cmd=<unsolicited> code=0 detail=a reply line "
	    "that does not start with a code from 200 to 599\n",
	    "alert unsolicited_reply",
	    "session close=eof helo=- banner=mx.test ESMTP\nsecond line\nthird "
	    "tls=000",
	    NULL,
	};

	check("multiline_and_bare_lf", d, SMTP_CLOSE_EOF, expect, NULL);
}

static void test_long_line_capped(void)
{
	static char line[20000], reply[12000];
	static struct seg d[] = {
	    S("220 mx\r\n"), C(line),	       S(reply),
	    C("QUIT\r\n"),   S("221 bye\r\n"), END,
	};
	const char *expect[] = {
	    "cmd NOOP|xxxxxxxx",
	    "reply NOOP 500",
	    "reply QUIT 221",
	    NULL,
	};

	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', sizeof(line) - 8);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	memcpy(reply, "500 ", 4);
	memset(reply + 4, 'y', sizeof(reply) - 7);
	memcpy(reply + sizeof(reply) - 3, "\r\n", 3);
	d[1].data = line;
	d[2].data = reply;
	/* too long to split at every byte: whole, bytewise and a few cuts */
	{
		char *a = run(d, SMTP_CLOSE_FIN, 0),
		     *b = run(d, SMTP_CLOSE_FIN, -1),
		     *c = run(d, SMTP_CLOSE_FIN, 4097);
		const char *p = a;
		size_t i;
		int ok = !strcmp(a, b) && !strcmp(a, c);

		for (i = 0; ok && expect[i]; i++) {
			p = strstr(p, expect[i]);
			ok = p != NULL;
		}
		/* the command line is kept up to its cap, not beyond */
		ok = ok && strlen(a) < 20000;
		result("long_line_capped", ok, a);
		free(a);
		free(b);
		free(c);
	}
}

static void test_queue_ids(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 OK\r\n250 Accepted\r\n354 Enter message\r\n"),
	    C("x\r\n.\r\n"),
	    S("250 OK id=1qAbCd-000Xyz-2B\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 OK\r\n250 Accepted\r\n354 Enter message\r\n"),
	    C("y\r\n.\r\n"),
	    S("250 2.0.0 3AB4cD9x012345 Message accepted for delivery\r\n"),
	    END,
	};
	const char *expect[] = {
	    "txn 1 status=queued from= rcpt=b@mx:250: accepted=1 data=250 "
	    "queue=1qAbCd-000Xyz-2B size=3",
	    "txn 2 status=queued from=a@c rcpt=b@mx:250: accepted=1 data=250 "
	    "queue=3AB4cD9x012345 size=3",
	    NULL,
	};

	check("queue_ids", d, SMTP_CLOSE_EOF, expect, NULL);
}

/* ---- protocol depth: alerts ---- */

static void test_starttls_injection_and_failure(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n"),
	    C("STARTTLS\r\nMAIL FROM:<evil@x>\r\n"),
	    S("454 4.7.0 TLS not available\r\n250 ok\r\n"),
	    C("QUIT\r\n"),
	    S("221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert starttls_injection cmd=MAIL code=0 detail=MAIL sent after "
	    "STARTTLS, before the server's reply\n",
	    "reply STARTTLS 454",
	    "alert starttls_failed cmd=STARTTLS code=454 detail=STARTTLS "
	    "answered 454\n",
	    "reply MAIL 250",
	    "session close=quit helo=c banner=mx tls=110",
	    NULL,
	};
	const char *absent[] = {"pipelining_not_offered", NULL};

	check("starttls_injection_and_failure", d, SMTP_CLOSE_FIN, expect,
	      absent);
}

/* The 2023 SMTP smuggling: <LF>.<LF>, then a second, hidden message. */
static void test_smuggling_lf(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 PIPELINING\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n"),
	    C("Subject: hi\r\n\r\nhello\n.\nMAIL FROM:<admin@bank>\r\n"
	      "RCPT TO:<b@mx>\r\nDATA\r\nSubject: fake\r\n\r\nx\r\n.\r\n"),
	    S("250 2.0.0 Ok: queued as A1\r\n250 ok\r\n250 ok\r\n354 go\r\n"
	      "250 2.0.0 Ok: queued as A2\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert bare_lf cmd=- code=0 detail=in the message body, at "
	    "offset 20\n",
	    "body size=21 done=1 subject=-\n",
	    "cmd MAIL|FROM:<admin@bank>|seq=5 pip=1",
	    "reply <message> 250",
	    "alert smtp_smuggling cmd=<message> code=250 detail=<LF>.<LF> "
	    "ended the data at body offset 21 and SMTP commands followed at "
	    "once; the server answered 250 to it: it took the sequence as "
	    "end of data, what follows is a second message\n",
	    "txn 1 status=queued from=a@c",
	    " subject=hi\n",
	    "txn 2 status=queued from=admin@bank rcpt=b@mx:250: accepted=1 "
	    "data=250 queue=A2 size=20",
	    NULL,
	};

	check("smuggling_lf", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_smuggling_crlf_lf(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n"),
	    C("hello\r\n.\nRSET\r\n"),
	    S("250 Ok: queued as Q\r\n250 ok\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert smtp_smuggling cmd=<message> code=250 "
	    "detail=<CR><LF>.<LF> ended the data at body offset 7",
	    NULL,
	};

	check("smuggling_crlf_lf", d, SMTP_CLOSE_FIN, expect, NULL);
}

/* <CR>.<CR>: not an end for us, but a server that takes it is fooled. */
static void test_smuggling_cr(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n"),
	    C("hello\r.\rMAIL FROM:<x@y>\r\nmore\r\n.\r\n"),
	    S("250 Ok: queued as Q\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert bare_cr cmd=- code=0 detail=in the message body, at "
	    "offset 5\n",
	    "alert smtp_smuggling cmd=- code=0 detail=<CR>.<CR> at body "
	    "offset 5 followed by \"MAIL FROM:<x\"; the decoder kept reading",
	    "body size=31 done=1",
	    "txn 1 status=queued from=a@c rcpt=b@mx:250: accepted=1 data=250 "
	    "queue=Q size=31",
	    NULL,
	};
	const char *absent[] = {"txn 2", NULL};

	check("smuggling_cr", d, SMTP_CLOSE_FIN, expect, absent);
}

/*
 * The same attack against a server that does not end DATA at <LF>.<LF>
 * (Postfix with smtpd_forbid_bare_newline = reject): one reply for all
 * of it up to <CR><LF>.<CR><LF>, then QUIT's. One message, refused; the
 * hidden commands were its text and are neither answered nor numbered.
 */
static void test_smuggling_refused(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 PIPELINING\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n"),
	    C("Subject: hi\r\n\r\nhello\n.\nMAIL FROM:<admin@bank>\r\n"
	      "RCPT TO:<b@mx>\r\nDATA\r\nSubject: fake\r\n\r\n..x\r\n.\r\n"
	      "QUIT\r\n"),
	    S("550 5.5.2 Error: bare <LF> received\r\n221 2.0.0 Bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "reply <message> 550",
	    "alert smtp_smuggling cmd=<message> code=550 detail=<LF>.<LF> "
	    "at body offset 21 and SMTP commands after it; the server did "
	    "not take it as end of data: it read on to <CR><LF>.<CR><LF> as "
	    "one message of 89 bytes and answered 550 once",
	    "txn 1 status=rejected from=a@c rcpt=b@mx:250: accepted=1 "
	    "data=550",
	    "size=89 sha=ec2d9cee subject=hi\nreply QUIT 221",
	    "txns=1 cmds=5 replies=5/1/0/1",
	    NULL,
	};
	const char *absent[] = {"txn 2", "unknown_command", "nonstandard",
				NULL};

	check("smuggling_refused", d, SMTP_CLOSE_FIN, expect, absent);
}

/*
 * Text after a bare-LF dot line, no command: a server that reads on
 * takes it as one message (221 can only answer the QUIT after it).
 */
static void test_lf_dot_read_on(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n"),
	    C("hello\n.\nmore text\r\n.\r\nQUIT\r\n"),
	    S("250 Ok: queued as Q\r\n221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "reply <message> 250",
	    "txn 1 status=queued from=a@c rcpt=b@mx:250: accepted=1 "
	    "data=250 queue=Q size=18",
	    "reply QUIT 221",
	    "txns=1 cmds=4",
	    NULL,
	};
	const char *absent[] = {"smtp_smuggling", "nonstandard",
				"unknown_command", "reply more", NULL};

	check("lf_dot_read_on", d, SMTP_CLOSE_FIN, expect, absent);
}

/*
 * The server answered the message before the client sent any
 * <CR><LF>.<CR><LF>: it took <LF>.<LF> as the end, whatever follows.
 */
static void test_smuggling_answered_first(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n"),
	    C("hello\n.\nMAIL FROM:<x@y>\r\n"),
	    S("250 Ok: queued as Q\r\n"),
	    C("RCPT TO:<b@mx>\r\nDATA\r\nhidden\r\n.\r\nQUIT\r\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n250 Ok: queued as R\r\n"
	      "221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert smtp_smuggling cmd=<message> code=250 detail=<LF>.<LF> "
	    "ended the data at body offset 6 and SMTP commands followed",
	    "txn 1 status=queued from=a@c",
	    "txn 2 status=queued from=x@y rcpt=b@mx:250: accepted=1 "
	    "data=250 queue=R size=8",
	    "reply QUIT 221",
	    "txns=2 cmds=7",
	    NULL,
	};

	check("smuggling_answered_first", d, SMTP_CLOSE_FIN, expect, NULL);
}

/*
 * The connection ends after the message's reply: nothing says the
 * server read on, the decoder's reading stands and is alerted on.
 */
static void test_smuggling_unanswered(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n"),
	    C("hello\n.\r\nMAIL FROM:<x@y>\r\nDATA\r\nhidden\r\n.\r\n"),
	    S("250 Ok: queued as Q\r\n"),
	    END,
	};
	const char *expect[] = {
	    "reply <message> 250",
	    "alert smtp_smuggling cmd=<message> code=250 "
	    "detail=<LF>.<CR><LF> ended the data at body offset 6",
	    "txn 1 status=queued from=a@c",
	    "size=6",
	    "txn 2",
	    NULL,
	};

	check("smuggling_unanswered", d, SMTP_CLOSE_FIN, expect, NULL);
}

/*
 * ETRN (RFC 1985): the verb's row names reply_etrn, which says what the
 * server will do with its queue; 253 and 458 are ETRN's codes only.
 */
static void test_etrn(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO relay.example\r\n"),
	    S("250-mx\r\n250 ETRN\r\n"),
	    C("ETRN example.org\r\n"),
	    S("253 OK, 3 pending messages for node example.org started\r\n"),
	    C("ETRN @other.example\r\n"),
	    S("459 Node other.example not allowed\r\n"),
	    C("ETRN\r\n"),
	    S("501 5.5.4 Syntax: ETRN domain\r\n"),
	    C("QUIT\r\n"),
	    S("221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "reply ETRN 253",
	    "alert etrn_request cmd=ETRN code=253 detail=ETRN example.org "
	    "answered 253: pending messages for the node started\n",
	    "alert etrn_request cmd=ETRN code=459 detail=ETRN @other.example "
	    "answered 459: node not allowed\n",
	    "alert reply_4xx cmd=ETRN code=459 detail=459 to ETRN: node not "
	    "allowed "
	    "(ETRN)\n",
	    "alert etrn_request cmd=ETRN code=501 detail=ETRN - answered 501: "
	    "refused\n",
	    "reply QUIT 221",
	    NULL,
	};
	const char *absent[] = {"unknown_command", NULL};

	check("etrn", d, SMTP_CLOSE_FIN, expect, absent);
}

/*
 * The server's posture from what it says: the banner names its software,
 * AUTH PLAIN/LOGIN offered in clear, no STARTTLS, VRFY and EXPN that
 * answer; each once a session (per server: the event layer).
 */
static void test_server_posture(void)
{
	static const struct seg d[] = {
	    S("220 mail.example.com ESMTP Exim 4.80 Mon, 01 Jan 2024\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mail.example.com Hello c\r\n250-SIZE 1000\r\n"
	      "250-AUTH=LOGIN PLAIN\r\n250 PIPELINING\r\n"),
	    C("VRFY bob\r\n"),
	    S("252 2.0.0 bob\r\n"),
	    C("EXPN staff\r\n"),
	    S("250-a@x\r\n250 b@x\r\n"),
	    C("VRFY carol\r\n"),
	    S("250 carol\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mail.example.com Hello c\r\n250 AUTH LOGIN\r\n"),
	    C("QUIT\r\n"),
	    S("221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert banner_discloses_software cmd=<greeting> code=220 "
	    "detail=the banner names Exim: \"mail.example.com ESMTP Exim "
	    "4.80 Mon, 01 Jan 2024\"\n",
	    "alert auth_without_tls cmd=EHLO code=250 detail=offered before "
	    "TLS: AUTH=LOGIN PLAIN\n",
	    "alert starttls_not_offered cmd=EHLO code=250 detail=3 "
	    "extensions, no STARTTLS\n",
	    "alert vrfy_enabled cmd=VRFY code=252 detail=VRFY bob answered "
	    "252\n",
	    "alert expn_enabled cmd=EXPN code=250 detail=EXPN staff "
	    "answered 250\n",
	    "reply QUIT 221",
	    NULL,
	};
	const char *absent[] = {"vrfy_enabled cmd=VRFY code=250",
				"detail=1 extensions", NULL};

	check("server_posture", d, SMTP_CLOSE_FIN, expect, absent);
}

/*
 * slow_reply: a reply later than the threshold after its command (each
 * segment here is 10 us after the one before), once a session.
 */
static void test_slow_reply(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\n"),
	    C("RCPT TO:<b@mx>\r\n"),
	    S("250 ok\r\n250 ok\r\n"),
	    C("RSET\r\n"),
	    C("NOOP\r\n"),
	    C("NOOP\r\n"),
	    S("250 ok\r\n250 ok\r\n250 ok\r\n"),
	    END,
	};
	const char *expect[] = {
	    "reply MAIL 250",
	    "alert slow_reply cmd=MAIL code=250 detail=MAIL answered 250 "
	    "after 0.000 s (over 0 s)\n",
	    "reply RCPT 250",
	    NULL,
	};
	const char *absent[] = {"slow_reply cmd=RCPT", "slow_reply cmd=RSET",
				NULL};
	struct smtp_options o = {.ts_start = -1, .slow_reply_us = 15};

	run_opt = &o;
	check("slow_reply", d, SMTP_CLOSE_FIN, expect, absent);
	run_opt = NULL;
}

/* A client that ends every line with LF alone is odd, not an attacker. */
static void test_bare_lf_client_no_smuggling(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\nRCPT TO:<b@mx>\nDATA\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n"),
	    C("line\n.\n"),
	    S("250 Ok: queued as Q\r\n"),
	    C("QUIT\n"),
	    S("221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert bare_lf cmd=MAIL code=0 detail=command line ended with a "
	    "bare LF\n",
	    "txn 1 status=queued from=a@c rcpt=b@mx:250: accepted=1 data=250 "
	    "queue=Q size=5",
	    "session close=quit",
	    NULL,
	};
	const char *absent[] = {"smtp_smuggling", NULL};

	check("bare_lf_client_no_smuggling", d, SMTP_CLOSE_FIN, expect, absent);
}

static void test_bdat_invalid_and_missing_last(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nBDAT -5\r\n"),
	    S("250 ok\r\n250 ok\r\n501 5.5.4 bad size\r\n"),
	    C("BDAT 99999999999999999999999 LAST\r\n"),
	    S("501 5.5.4 bad size\r\n"),
	    C("BDAT 10 junk\r\n"),
	    S("501 5.5.4 bad size\r\n"),
	    C("BDAT 3\r\nabcQUIT\r\n"),
	    S("250 3 octets\r\n221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert bdat_invalid cmd=BDAT code=0 detail=chunk size \"-5\" is "
	    "not valid\n",
	    "reply BDAT 501",
	    "alert bdat_invalid cmd=BDAT code=0 detail=chunk size "
	    "\"99999999999999999999999 LAST\" is not valid\n",
	    "alert bdat_invalid cmd=BDAT code=0 detail=chunk size \"10 "
	    "junk\" is not valid\n",
	    "cmd QUIT||seq=7",
	    "alert bdat_missing_last cmd=QUIT code=0 detail=QUIT arrived "
	    "after BDAT chunks without LAST\n",
	    "body size=3 done=0",
	    "txn 1 status=incomplete",
	    NULL,
	};

	check("bdat_invalid_and_missing_last", d, SMTP_CLOSE_FIN, expect, NULL);
}

/* DATA after BDAT chunks without LAST: the DATA body is hashed on its own. */
static void test_bdat_then_data(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nBDAT 3\r\nabc"),
	    S("250 ok\r\n250 ok\r\n250 3 octets\r\n"),
	    C("DATA\r\n"),
	    S("354 go\r\n"),
	    C("xy\r\n.\r\n"),
	    S("250 Ok: queued as Q1\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert bdat_missing_last cmd=DATA",
	    "txn 1 status=queued",
	    "size=7 sha=f168727c", /* SHA-256 of "xy\r\n" */
	    NULL,
	};

	check("bdat_then_data", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_sequence_and_pipelining(void)
{
	static const struct seg d[] = {
	    C("EHLO early\r\n"),
	    S("220 mx\r\n250 mx\r\n"),
	    C("RCPT TO:<x@mx>\r\n"),
	    S("503 5.5.1 need MAIL\r\n"),
	    C("MAIL FROM:<a@c>\r\nMAIL FROM:<b@c>\r\n"),
	    S("250 ok\r\n503 5.5.1 nested MAIL\r\n"),
	    C("DATA\r\n"),
	    S("554 5.5.1 no valid recipients\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert early_talker cmd=<greeting> code=220 detail=EHLO sent "
	    "before the server's greeting\n",
	    "alert command_out_of_sequence cmd=RCPT code=0 detail=RCPT before "
	    "MAIL\n",
	    "alert pipelining_not_offered cmd=MAIL code=0 detail=MAIL sent "
	    "before earlier commands were answered\n",
	    "alert command_out_of_sequence cmd=MAIL code=0 detail=MAIL inside "
	    "an open transaction\n",
	    "alert command_out_of_sequence cmd=DATA code=554 detail=DATA "
	    "without an accepted recipient\n",
	    NULL,
	};

	check("sequence_and_pipelining", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_line_anomalies(void)
{
	static char longcmd[700];
	static struct seg d[] = {
	    S("220 mx\r\n"),	   C("NOOP a\rb\r\n"),
	    S("250 ok\r\n"),	   C(NULL), /* the long line */
	    S("500 too long\r\n"), C("QUIT\r\n"),
	    S("221 bye\r\n"),	   END,
	};
	const char *expect[] = {
	    "alert bare_cr cmd=NOOP code=0 detail=bare CR in a command line\n",
	    "alert line_too_long cmd=NOOP code=0 detail=command line of 602 "
	    "octets (limit 512)\n",
	    "session close=quit",
	    NULL,
	};

	memcpy(longcmd, "NOOP ", 5);
	memset(longcmd + 5, 'x', 595);
	memcpy(longcmd + 600, "\r\n", 3);
	d[3].data = longcmd;
	check("line_anomalies", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_limits(void)
{
	static char rcpts[120 * 16 + 1], noops[110 * 6 + 1];
	static struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 PIPELINING\r\n"),
	    C("MAIL FROM:<a@c>\r\n"),
	    S("250 ok\r\n"),
	    C(NULL), /* 120 RCPTs */
	    C(NULL), /* 110 NOOPs */
	    END,
	};
	const char *expect[] = {
	    "alert excessive_pending cmd=RCPT code=0 detail=101 commands "
	    "waiting for replies (limit 100)\n",
	    "alert too_many_recipients cmd=RCPT code=0 detail=more than 100 "
	    "recipients in transaction 1\n",
	    NULL,
	};
	size_t i;

	for (i = 0; i < 120; i++)
		memcpy(rcpts + i * 16, "RCPT TO:<r@mx>\r\n", 16);
	for (i = 0; i < 110; i++)
		memcpy(noops + i * 6, "NOOP\r\n", 6);
	d[5].data = rcpts;
	d[6].data = noops;
	check("limits", d, SMTP_CLOSE_EOF, expect, NULL);
}

static void test_auth_user_and_bruteforce(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    /* "\0alice\0secret" */
	    C("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
	    S("535 5.7.8 no\r\n"),
	    C("AUTH LOGIN Ym9i\r\n"),
	    S("334 UGFzc3dvcmQ6\r\n"),
	    C("c2VjcmV0\r\n"),
	    S("535 5.7.8 no\r\n"),
	    C("AUTH PLAIN\r\n"),
	    S("334 \r\n"),
	    C("AGFsaWNlAHNlY3JldA==\r\n"),
	    S("535 5.7.8 no\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert auth_plaintext cmd=AUTH code=0 detail=AUTH PLAIN without "
	    "TLS\n",
	    "alert auth_failure cmd=AUTH code=535 detail=mechanism PLAIN\n",
	    "alert auth_failure cmd=<auth> code=535 detail=mechanism LOGIN\n",
	    "alert auth_failure cmd=<auth> code=535 detail=mechanism PLAIN\n",
	    "alert auth_bruteforce cmd=<auth> code=535 detail=3 failed AUTH "
	    "attempts in this session\n",
	    "auth=PLAIN/failure/535",
	    "user=alice mid=0",
	    NULL,
	};
	const char *absent[] = {"secret", "c2Vj", "AGFs", "Ym9i", NULL};
	struct smtp_options o = {
	    .ts_start = -1, .show_auth_user = true, .auth_failures = 3};

	run_opt = &o;
	check("auth_user_and_bruteforce", d, SMTP_CLOSE_FIN, expect, absent);
	run_opt = NULL;
}

static void test_auth_user_hidden_by_default(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),	       C("AUTH LOGIN\r\n"),
	    S("334 VXNlcm5hbWU6\r\n"), C("Ym9i\r\n"),
	    S("334 UGFzc3dvcmQ6\r\n"), C("c2VjcmV0\r\n"),
	    S("235 2.7.0 ok\r\n"),     END,
	};
	const char *expect[] = {"auth=LOGIN/success/235", "user=- mid=0", NULL};
	const char *absent[] = {"bob", "secret", NULL};
	struct smtp_options o = {.ts_start = -1, .show_auth_user = true};

	check("auth_user_hidden_by_default", d, SMTP_CLOSE_FIN, expect, absent);
	/* with the option: the LOGIN user name, and still no password */
	expect[1] = "user=bob mid=0";
	absent[0] = "secret";
	absent[1] = NULL;
	run_opt = &o;
	check("auth_login_user", d, SMTP_CLOSE_FIN, expect, absent);
	run_opt = NULL;
}

static void test_gap_in_body(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\nDATA\r\n"),
	    S("250 ok\r\n250 ok\r\n354 go\r\n"),
	    C("Subject: lost\r\n\r\nfirst part\r\n"),
	    GAP(SMTP_FROM_CLIENT, 1000),
	    C("rest of the line\r\nmore\r\n.\r\n"),
	    S("250 Ok: queued as G1\r\n"),
	    C("QUIT\r\n"),
	    S("221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert gap cmd=- code=0 detail=1000 bytes missing from the client "
	    "stream inside a message, which is incomplete\n",
	    "body size=29 done=0 subject=-\n",
	    /* the lone "." after the gap ends it: the reply is its own */
	    "reply <message> 250 enh= lines=1 text=Ok: queued as G1\n",
	    "txn 1 status=incomplete from=a@c rcpt=b@mx:250: accepted=1 "
	    "data=250 queue=G1 size=29",
	    " subject=lost\n",
	    "cmd QUIT||seq=4",
	    "reply QUIT 221",
	    "session close=quit",
	    "gaps=1/1000",
	    NULL,
	};
	const char *absent[] = {"unsolicited", NULL};

	check("gap_in_body", d, SMTP_CLOSE_FIN, expect, absent);
}

static void test_server_gap(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250-PIPE"),
	    GAP(SMTP_FROM_SERVER, 300),
	    S("LINING junk\r\n250 ok\r\n"),
	    C("QUIT\r\n"),
	    S("221 bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert gap cmd=- code=0 detail=300 bytes missing from the server "
	    "stream\n",
	    "reply EHLO 0 enh= lines=0",
	    "reply <unsolicited> 250 enh= lines=1 text=ok\n",
	    "reply QUIT 221",
	    NULL,
	};

	check("server_gap", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_midstream(void)
{
	static const struct seg d[] = {
	    C("ld\r\n"),
	    S(" 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"),
	    C("DATA\r\n"),
	    S("354 go\r\n"),
	    C("body\r\n.\r\n"),
	    S("250 Ok: queued as M1\r\n"),
	    END,
	};
	const char *expect[] = {
	    "reply <unsolicited> 250 enh=2.1.5",
	    "cmd DATA||seq=1",
	    "reply DATA 354",
	    "txn 1 status=queued from=- accepted=0 data=250 queue=M1 size=6",
	    "session close=fin helo=- banner=- tls=000",
	    "mid=1",
	    NULL,
	};
	const char *absent[] = {"unsolicited_reply", "cmd LD", NULL};
	struct smtp_options o = {.ts_start = -1, .midstream = true};

	run_opt = &o;
	check("midstream", d, SMTP_CLOSE_FIN, expect, absent);
	run_opt = NULL;
}

/* A client-only capture that began mid-session: commands are still seen. */
static void test_midstream_client_only(void)
{
	static const struct seg d[] = {
	    C("rt of a line\r\nMAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\n"
	      "DATA\r\n"),
	    C("Subject: one side\r\n\r\ntext\r\n.\r\nQUIT\r\n"),
	    END,
	};
	const char *expect[] = {
	    "cmd MAIL|FROM:<a@c>|seq=1",
	    "cmd DATA||seq=3",
	    "body size=27 done=1 subject=-\n",
	    "cmd QUIT||seq=4",
	    "txn 1 status=incomplete from=a@c rcpt=b@mx:0: accepted=0 data=0 "
	    "queue=- size=27",
	    " subject=one side\n",
	    "session close=quit",
	    "mid=1",
	    NULL,
	};
	const char *absent[] = {"early_talker", "cmd RT", "pipelining_not",
				NULL};
	struct smtp_options o = {.ts_start = -1, .midstream = true};

	run_opt = &o;
	check("midstream_client_only", d, SMTP_CLOSE_FIN, expect, absent);
	run_opt = NULL;
}

/* Challenge-response and token mechanisms go through the same pairing. */
static void test_auth_mechanisms(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 STARTTLS\r\n"),
	    C("STARTTLS\r\n"),
	    S("454 4.7.0 TLS not available\r\n"),
	    C("AUTH CRAM-MD5\r\n"),
	    S("334 "
	      "PDQxOTI5NDIzNDEuMTI4Mjg0NzJAc291cmNlZm91ci5hbmRyZXcuY211LmVkdT4="
	      "\r\n"),
	    C("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
	    S("535 5.7.8 bad\r\n"),
	    C("AUTH XOAUTH2 "
	      "dXNlcj1tZUB4LmV4YW1wbGUBYXV0aD1CZWFyZXIgeWEyOS50b2tlbgEB\r\n"),
	    S("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
	    C("\r\n"),
	    S("535 5.7.8 bad token\r\n"),
	    C("AUTH SCRAM-SHA-256 "
	      "biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM\r\n"),
	    S("334 "
	      "cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2oscz1R"
	      "U1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\r\n"),
	    C("*\r\n"),
	    S("501 5.7.0 cancelled\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert starttls_failed cmd=STARTTLS code=454",
	    "cmd AUTH|CRAM-MD5|seq=3",
	    "alert auth_plaintext cmd=AUTH code=0 detail=AUTH CRAM-MD5 without "
	    "TLS\n",
	    "cmd <auth>|********|seq=0",
	    "alert auth_failure cmd=<auth> code=535 detail=mechanism "
	    "CRAM-MD5\n",
	    "cmd AUTH|XOAUTH2 ********|seq=4",
	    "reply AUTH 334",
	    "cmd <auth>|********|seq=0",
	    "alert auth_failure cmd=<auth> code=535 detail=mechanism XOAUTH2\n",
	    "cmd AUTH|SCRAM-SHA-256 ********|seq=5",
	    "cmd <auth>|*|seq=0",
	    "reply <auth> 501",
	    "auth=SCRAM-SHA-256/cancelled/501",
	    NULL,
	};
	const char *absent[] = {"dGlt", "dXNl", "biws", "Bearer", NULL};

	check("auth_mechanisms", d, SMTP_CLOSE_FIN, expect, absent);
}

/*
 * Responses the server may read as SASL responses are masked whatever
 * brought them: pipelined ahead of the 334s, a 334 or the AUTH line lost,
 * tab separators; commands pipelined after a one-step AUTH stay commands.
 */
static void test_auth_pipelined(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n"),
	    C("AUTH LOGIN\r\ndXNlckBleGFtcGxlLnRlc3Q=\r\naHVudGVyMg==\r\n"),
	    S("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"
	      "235 2.7.0 Authentication successful\r\n"),
	    C("AUTH PLAIN\r\nAHVzZXIAaHVudGVyMg==\r\n"),
	    S("334 \r\n503 5.5.1 Error: already authenticated\r\n"),
	    C("auth\tplain\tAHVzZXIAaHVudGVyMg==\r\n"
	      "MAIL FROM:<a@c>\tSIZE=10\r\n"),
	    S("503 5.5.1 Error: already authenticated\r\n250 2.1.0 Ok\r\n"),
	    C("QUIT\r\n"),
	    S("221 2.0.0 Bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "cmd AUTH|LOGIN|seq=2 pip=0",
	    "cmd <auth>|********|seq=0",
	    "cmd <auth>|********|seq=0",
	    "reply AUTH 334",
	    "reply <auth> 334",
	    "reply <auth> 235",
	    "cmd AUTH|PLAIN|seq=3",
	    "cmd <auth>|********|seq=0",
	    "reply AUTH 334",
	    "reply <auth> 503",
	    "cmd AUTH|plain ********|seq=4 pip=0 known=1 line=auth plain "
	    "********\n",
	    "cmd MAIL|FROM:<a@c>\tSIZE=10|seq=5 pip=1",
	    "reply AUTH 503",
	    "reply MAIL 250",
	    "txn 1 status=aborted from=a@c SIZE=10",
	    "auth=PLAIN/failure/503",
	    NULL,
	};
	const char *absent[] = {"dXNl",	  "aHVu", "AHVz", "unknown_command",
				"Bearer", NULL};

	check("auth_pipelined", d, SMTP_CLOSE_FIN, expect, absent);
}

/* A refused AUTH: the server reads the pipelined responses as commands. */
static void test_auth_refused_pipelined(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 PIPELINING\r\n"),
	    C("AUTH LOGIN\r\ndXNlcg==\r\naHVudGVyMg==\r\n"),
	    S("503 5.5.1 Error: authentication not enabled\r\n"
	      "502 5.5.2 Error: command not recognized\r\n"
	      "502 5.5.2 Error: command not recognized\r\n"),
	    C("QUIT\r\n"),
	    S("221 2.0.0 Bye\r\n"),
	    END,
	};
	const char *expect[] = {
	    "reply AUTH 503", "reply <auth> 502",	"reply <auth> 502",
	    "reply QUIT 221", "auth=LOGIN/failure/503", NULL,
	};
	const char *absent[] = {"dXNl", "aHVu", "unknown_command", NULL};

	check("auth_refused_pipelined", d, SMTP_CLOSE_FIN, expect, absent);
}

/* Lost packets: a 334, the AUTH line, the user line. */
static void test_auth_lost_packets(void)
{
	static const struct seg lost_334[] = {
	    S("220 mx\r\n"),	       C("EHLO c\r\n"),
	    S("250 mx\r\n"),	       C("AUTH LOGIN\r\n"),
	    GAP(SMTP_FROM_SERVER, 18), C("dXNlcg==\r\n"),
	    S("334 UGFzc3dvcmQ6\r\n"), C("aHVudGVyMmh1bnRlcjI=\r\n"),
	    S("235 2.7.0 Ok\r\n"),     C("MAIL FROM:<a@c>\r\n"),
	    S("250 2.1.0 Ok\r\n"),     END,
	};
	static const struct seg lost_auth[] = {
	    S("220 mx\r\n"),	       C("EHLO c\r\n"),
	    S("250 mx\r\n"),	       GAP(SMTP_FROM_CLIENT, 12),
	    S("334 VXNlcm5hbWU6\r\n"), C("dXNlcg==\r\n"),
	    S("334 UGFzc3dvcmQ6\r\n"), C("aHVudGVyMmh1bnRlcjI=\r\n"),
	    S("235 2.7.0 Ok\r\n"),     C("MAIL FROM:<a@c>\r\n"),
	    S("250 2.1.0 Ok\r\n"),     END,
	};
	static const struct seg lost_user[] = {
	    S("220 mx\r\n"),	       C("EHLO c\r\n"),
	    S("250 mx\r\n"),	       C("AUTH LOGIN\r\n"),
	    S("334 VXNlcm5hbWU6\r\n"), GAP(SMTP_FROM_CLIENT, 10),
	    S("334 UGFzc3dvcmQ6\r\n"), C("aHVudGVyMmh1bnRlcjI=\r\n"),
	    S("235 2.7.0 Ok\r\n"),     C("MAIL FROM:<a@c>\r\n"),
	    S("250 2.1.0 Ok\r\n"),     END,
	};
	/* the gap is seen only once the password line is there */
	static const struct seg late_gap[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250 mx\r\n"),
	    GAP(SMTP_FROM_CLIENT, 12),
	    C("aHVudGVyMmh1bnRlcjI=\r\n"),
	    S("334 UGFzc3dvcmQ6\r\n"),
	    C("aHVudGVyMmh1bnRlcjI=\r\n"),
	    S("235 2.7.0 Ok\r\n"),
	    END,
	};
	const char *expect[] = {"cmd <auth>|********|seq=0", "reply <auth> 235",
				"cmd MAIL|FROM:<a@c>", "reply MAIL 250", NULL};
	const char *expect_late[] = {"reply <unsolicited> 334",
				     "cmd <auth>|********|seq=0",
				     "reply <auth> 235", NULL};
	const char *absent[] = {"dXNl", "aHVu", "unknown_command", NULL};
	const char *expect_user[] = {"reply <auth> 235", "user=- mid", NULL};
	const char *absent_user[] = {"hunter", "user=user", NULL};
	struct smtp_options o = {.ts_start = -1, .show_auth_user = true};

	check("auth_lost_334", lost_334, SMTP_CLOSE_FIN, expect, absent);
	check("auth_lost_auth_line", lost_auth, SMTP_CLOSE_FIN, expect, absent);
	check("auth_lost_user_line", lost_user, SMTP_CLOSE_FIN, expect, absent);
	check("auth_lost_then_password", late_gap, SMTP_CLOSE_FIN, expect_late,
	      absent);
	/* the password line is not the first response: no user taken */
	run_opt = &o;
	check("auth_lost_user_line_no_user", lost_user, SMTP_CLOSE_FIN,
	      expect_user, absent_user);
	check("auth_lost_auth_line_no_user", lost_auth, SMTP_CLOSE_FIN,
	      expect_user, absent_user);
	run_opt = NULL;
}

/* --show-auth-user: the user name of each mechanism, nothing more. */
static void test_auth_user_mechanisms(void)
{
	static const struct {
		const char *name, *auth, *response, *user;
	} cases[] = {
	    /* user=alice@x.test ^A auth=Bearer ya29.secret-token ^A ^A */
	    {"xoauth2",
	     "AUTH XOAUTH2 "
	     "dXNlcj1hbGljZUB4LnRlc3QBYXV0aD1CZWFyZXIgeWEyOS5zZWNyZXQtdG9rZW4BA"
	     "Q==\r\n",
	     NULL, "user=alice@x.test mid"},
	    /* n,a=bob=2Cjr@x.test,^Ahost=x^Aauth=Bearer secret-token^A^A */
	    {"oauthbearer", "AUTH OAUTHBEARER\r\n",
	     "bixhPWJvYj0yQ2pyQHgudGVzdCwBaG9zdD14AWF1dGg9QmVhcmVyIHNlY3JldC10b"
	     "2tlbgEB\r\n",
	     "user=bob,jr@x.test mid"},
	    /* carol 3dbc2c40c5b8b8c1a8ae0af0ff3c2bd3 */
	    {"cram-md5", "AUTH CRAM-MD5\r\n",
	     "Y2Fyb2wgM2RiYzJjNDBjNWI4YjhjMWE4YWUwYWYwZmYzYzJiZDM=\r\n",
	     "user=carol mid"},
	    /* n,,n=dave,r=fyko+d2lbbFgONRv9qkxdawL */
	    {"scram",
	     "AUTH SCRAM-SHA-256 "
	     "biwsbj1kYXZlLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM\r\n",
	     NULL, "user=dave mid"},
	    /* NTLM: no user taken */
	    {"ntlm",
	     "AUTH NTLM "
	     "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==\r\n",
	     NULL, "user=- mid"},
	};
	struct smtp_options o = {.ts_start = -1, .show_auth_user = true};
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seg d[] = {
		    S("220 mx\r\n"),
		    C("EHLO c\r\n"),
		    S("250 mx\r\n"),
		    C(cases[i].auth),
		    S(cases[i].response ? "334 \r\n" : "235 2.7.0 Ok\r\n"),
		    C(cases[i].response ? cases[i].response : ""),
		    S(cases[i].response ? "235 2.7.0 Ok\r\n" : ""),
		    END,
		};
		const char *expect[] = {"reply <", cases[i].user, NULL};
		const char *absent[] = {"token", "Bearer", "3dbc",
					"fyko",	 "secret", NULL};

		if (!cases[i].response)
			expect[0] = "reply AUTH 235";
		snprintf(name, sizeof(name), "auth_user_%s", cases[i].name);
		run_opt = &o;
		check(name, d, SMTP_CLOSE_FIN, expect, absent);
		run_opt = NULL;
	}
}

/* An AUTH argument that is no mechanism name is masked whole. */
static void test_auth_no_mechanism(void)
{
	static const struct seg d[] = {
	    S("220 mx\r\n"),
	    C("AUTH AHVzZXIAaHVudGVyMmh1bnRlcjI=\r\n"),
	    S("504 5.5.4 Unrecognized authentication type\r\n"),
	    END,
	};
	const char *expect[] = {"cmd AUTH|********|seq=1",
				"line=AUTH ********\n", "reply AUTH 504",
				"auth=********/failure/504", NULL};
	const char *absent[] = {"AHVz", NULL};

	check("auth_no_mechanism", d, SMTP_CLOSE_FIN, expect, absent);
}

/* Is out one line a terminal shows as it is: valid UTF-8, no control
 * character, no C1 or bidirectional control, no line separator? */
static const char *shown_safely(const char *out, size_t n)
{
	const uint8_t *p = (const uint8_t *)out;
	size_t i;

	if (utf8_valid(out, n) != n)
		return "not valid UTF-8";
	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return "a control character";
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f)
			return "a C1 control";
		if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x80 &&
		    ((p[i + 2] >= 0x8e && p[i + 2] <= 0x8f) ||
		     (p[i + 2] >= 0xa8 && p[i + 2] <= 0xae)))
			return "a bidi control or line separator";
		if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x81 &&
		    p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9)
			return "a bidi isolate";
		if (p[i] == 0xd8 && i + 1 < n && p[i + 1] == 0x9c)
			return "U+061C";
	}
	return NULL;
}

/*
 * Every byte, and every code point that moves text, through the three
 * escapes: text_escape() is one safe line, the JSON escape valid UTF-8
 * with no raw control, wire_escape() keeps only LF and valid UTF-8.
 */
static void test_escapes(void)
{
	static const uint32_t cps[] = {0x80,   0x85,   0x9b,   0x9f,   0x61c,
				       0x200e, 0x200f, 0x2028, 0x2029, 0x202a,
				       0x202e, 0x2066, 0x2069, 0xe9,   0x20ac};
	struct sbuf in = {0}, out = {0};
	const char *why = NULL;
	char msg[160];
	size_t i, k;
	int b;

	for (b = 0; b < 256; b++) {
		uint8_t c[3] = {'a', (uint8_t)b, 'z'};

		sb_reset(&out);
		text_escape(&out, c, 3);
		if ((why = shown_safely(out.p, out.len)))
			break;
		sb_reset(&out);
		json_wire_escape(&out, c, 3);
		if (utf8_valid(out.p, out.len) != out.len ||
		    memchr(out.p, '\n', out.len) ||
		    memchr(out.p, '\r', out.len)) {
			why = "JSON escape let a byte through";
			break;
		}
		sb_append(&in, c + 1, 1);
	}
	for (i = 0; !why && i < sizeof(cps) / sizeof(cps[0]); i++) {
		uint8_t u[4];

		if (cps[i] < 0x800) {
			u[0] = 0xc0 | cps[i] >> 6;
			u[1] = 0x80 | (cps[i] & 0x3f);
			k = 2;
		} else {
			u[0] = 0xe0 | cps[i] >> 12;
			u[1] = 0x80 | (cps[i] >> 6 & 0x3f);
			u[2] = 0x80 | (cps[i] & 0x3f);
			k = 3;
		}
		sb_reset(&out);
		text_escape(&out, u, k);
		why = shown_safely(out.p, out.len);
		/* letters pass unchanged; the rest become \uHHHH */
		if (!why && (cps[i] == 0xe9 || cps[i] == 0x20ac) &&
		    (out.len != k || memcmp(out.p, u, k)))
			why = "a letter was escaped";
		snprintf(msg, sizeof(msg), "\\u%04x", (unsigned)cps[i]);
		if (!why && cps[i] != 0xe9 && cps[i] != 0x20ac &&
		    strcmp(out.p, msg))
			why = "a treacherous code point is not \\uHHHH";
		sb_append(&in, u, k);
	}
	/* all of it at once: one line */
	sb_reset(&out);
	text_escape(&out, in.p, in.len);
	if (!why)
		why = shown_safely(out.p, out.len);
	snprintf(msg, sizeof(msg), "%s (byte/code point %d/%zu)",
		 why ? why : "", b, i);
	result("escapes", !why, msg);
	sb_free(&in);
	sb_free(&out);
}

/*
 * A refused MAIL inside a transaction changes nothing (Postfix: 503
 * nested MAIL command): one transaction, alice's, with bob as recipient,
 * queued. A nested MAIL the server takes ends the one before.
 */
static void test_nested_mail(void)
{
	static const struct seg refused[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250 mx\r\n"),
	    C("MAIL FROM:<alice@a.test>\r\n"),
	    S("250 2.1.0 Ok\r\n"),
	    C("MAIL FROM:<bob@b.test>\r\n"),
	    S("503 5.5.1 Error: nested MAIL command\r\n"),
	    C("RCPT TO:<bob@b.test>\r\n"),
	    S("250 2.1.5 Ok\r\n"),
	    C("DATA\r\n"),
	    S("354 End data with <CR><LF>.<CR><LF>\r\n"),
	    C("Subject: x\r\n\r\nhi\r\n.\r\n"),
	    S("250 2.0.0 Ok: queued as 3F1\r\n"),
	    C("MAIL FROM:<carol@c.test>\r\n"),
	    S("250 2.1.0 Ok\r\n"),
	    C("QUIT\r\n"),
	    S("221 2.0.0 Bye\r\n"),
	    END,
	};
	static const struct seg taken[] = {
	    S("220 mx\r\n"),	    C("EHLO c\r\n"),
	    S("250 mx\r\n"),	    C("MAIL FROM:<alice@a.test>\r\n"),
	    S("250 2.1.0 Ok\r\n"),  C("RCPT TO:<x@a.test>\r\n"),
	    S("250 2.1.5 Ok\r\n"),  C("MAIL FROM:<bob@b.test>\r\n"),
	    S("250 2.1.0 Ok\r\n"),  C("QUIT\r\n"),
	    S("221 2.0.0 Bye\r\n"), END,
	};
	const char *expect_refused[] = {
	    "alert command_out_of_sequence cmd=MAIL code=0 detail=MAIL "
	    "inside an open transaction",
	    "reply MAIL 503",
	    "reply RCPT 250",
	    "txn 1 status=queued from=alice@a.test rcpt=bob@b.test:250:2.1.5 "
	    "accepted=1 data=250 queue=3F1",
	    "txn 2 status=aborted from=carol@c.test",
	    "txns=2",
	    NULL,
	};
	const char *absent_refused[] = {"from=bob", "RCPT after a refused MAIL",
					"txn 3", NULL};
	const char *expect_taken[] = {
	    "reply MAIL 250",
	    "txn 1 status=aborted from=alice@a.test rcpt=x@a.test:250",
	    "txn 2 status=aborted from=bob@b.test",
	    NULL,
	};

	static const struct seg resets_refused[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250 mx\r\n"),
	    C("MAIL FROM:<alice@a.test>\r\n"),
	    S("250 2.1.0 Ok\r\n"),
	    C("RSET now\r\n"),
	    S("501 5.5.4 Syntax: RSET\r\n"),
	    C("EHLO\r\n"),
	    S("501 Syntax: EHLO hostname\r\n"),
	    C("RCPT TO:<bob@b.test>\r\n"),
	    S("250 2.1.5 Ok\r\n"),
	    C("RSET\r\n"),
	    S("250 2.0.0 Ok\r\n"),
	    C("QUIT\r\n"),
	    S("221 2.0.0 Bye\r\n"),
	    END,
	};
	const char *expect_resets[] = {
	    "reply RSET 501",
	    "reply EHLO 501",
	    "reply RCPT 250",
	    "reply RSET 250",
	    "txn 1 status=reset from=alice@a.test rcpt=bob@b.test:250",
	    "txns=1",
	    NULL,
	};
	const char *absent_resets[] = {"RCPT before MAIL", "txn 2", NULL};

	check("nested_mail_refused", refused, SMTP_CLOSE_FIN, expect_refused,
	      absent_refused);
	check("reset_refused", resets_refused, SMTP_CLOSE_FIN, expect_resets,
	      absent_resets);
	check("nested_mail_taken", taken, SMTP_CLOSE_FIN, expect_taken, NULL);
}

/* A TLS record holding one handshake message of type (1 or 2). */
static size_t tls_hello(uint8_t *out, int type, const uint8_t *ext, size_t elen)
{
	size_t n = 0, body, hs;

	out[n++] = 0x16, out[n++] = 3, out[n++] = 1;
	n += 2; /* record length */
	hs = n;
	out[n++] = type;
	n += 3; /* handshake length */
	body = n;
	out[n++] = 3, out[n++] = 3; /* legacy version: TLS 1.2 */
	memset(out + n, 0x5a, 32), n += 32;
	out[n++] = 0; /* session id */
	if (type == 1) {
		out[n++] = 0, out[n++] = 2, out[n++] = 0x13, out[n++] = 1;
		out[n++] = 1, out[n++] = 0; /* compression: null */
	} else {
		out[n++] = 0x13, out[n++] = 1, out[n++] = 0;
	}
	out[n++] = elen >> 8, out[n++] = elen & 0xff;
	memcpy(out + n, ext, elen), n += elen;
	out[3] = (n - hs) >> 8, out[4] = (n - hs) & 0xff;
	out[hs + 1] = 0, out[hs + 2] = (n - body) >> 8,
		 out[hs + 3] = (n - body) & 0xff;
	return n;
}

/*
 * After STARTTLS: the hellos give the versions and the server name; a
 * client that goes on in clear is decoded on, with starttls_not_tls.
 */
static void test_starttls_hellos(void)
{
	/* server_name mx.example.test; supported_versions GREASE, 1.3, 1.2 */
	static const uint8_t cext[] = {
	    0,	 0,   0,   20,	0,   18,   0,	 0,   15,  'm', 'x', '.',
	    'e', 'x', 'a', 'm', 'p', 'l',  'e',	 '.', 't', 'e', 's', 't',
	    0,	 43,  0,   7,	6,   0x3a, 0x3a, 3,   4,   3,	3};
	static const uint8_t sext[] = {0, 43, 0, 2, 3, 4};
	static uint8_t ch[512], sh[512];
	static char chs[1024], shs[1024];
	size_t nc = tls_hello(ch, 1, cext, sizeof(cext)),
	       ns = tls_hello(sh, 2, sext, sizeof(sext));
	struct seg tls[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 STARTTLS\r\n"),
	    C("STARTTLS\r\n"),
	    S("220 2.0.0 Ready to start TLS\r\n"),
	    C(chs),
	    S(shs),
	    END,
	};
	static const struct seg stripped[] = {
	    S("220 mx\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 STARTTLS\r\n"),
	    C("STARTTLS\r\n"),
	    S("220 2.0.0 Ready to start TLS\r\n"),
	    C("EHLO c\r\n"),
	    S("250-mx\r\n250 PIPELINING\r\n"),
	    C("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n"),
	    S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"),
	    C("QUIT\r\n"),
	    S("221 2.0.0 Bye\r\n"),
	    END,
	};
	const char *expect_tls[] = {"reply STARTTLS 220",
				    "tls client=0304 server=0304 "
				    "sni=mx.example.test\n",
				    NULL};
	const char *expect_stripped[] = {
	    "reply STARTTLS 220",
	    "alert starttls_not_tls cmd=- code=0 detail=the client's first "
	    "bytes after the server's 220 are not a TLS record (0x45)",
	    "cmd EHLO|c|seq=3",
	    "reply EHLO 250",
	    "reply MAIL 250",
	    "reply RCPT 250",
	    "txn 1 status=aborted from=a@b.test rcpt=c@d.test:250",
	    "reply QUIT 221",
	    "session close=quit helo=c banner=mx tls=011",
	    NULL,
	};

	/* the hellos hold NULs, which check()'s C strings cannot: they
	 * are fed directly, the ClientHello cut every 7 bytes */
	if (memchr(ch, 0, nc) || memchr(sh, 0, ns)) {
		struct sbuf log = {0};
		struct smtp_session *s;
		const char *pre[] = {"220 mx\r\n", "EHLO c\r\n",
				     "250-mx\r\n250 STARTTLS\r\n",
				     "STARTTLS\r\n", "220 2.0.0 Ready\r\n"};
		long split;
		int ok = 1;

		for (split = 0; split <= (long)nc && ok; split += 7) {
			size_t k;

			sb_reset(&log);
			s = smtp_session_new(&cbs, &log, NULL);
			for (k = 0; k < 5; k++)
				smtp_feed(s,
					  k % 2 ? SMTP_FROM_CLIENT
						: SMTP_FROM_SERVER,
					  (const uint8_t *)pre[k],
					  strlen(pre[k]), 1000 + k);
			/* the ClientHello in two pieces, the ServerHello */
			smtp_feed(s, SMTP_FROM_CLIENT, ch, split, 1010);
			smtp_feed(s, SMTP_FROM_CLIENT, ch + split, nc - split,
				  1011);
			smtp_feed(s, SMTP_FROM_SERVER, sh, ns, 1012);
			smtp_end(s, SMTP_CLOSE_FIN, 1020);
			smtp_session_free(s);
			ok = log.p && strstr(log.p, expect_tls[1]) &&
			     !strstr(log.p, "starttls_not_tls");
		}
		result("starttls_hellos", ok, log.p ? log.p : "no log");
		sb_free(&log);
	} else {
		memcpy(chs, ch, nc);
		memcpy(shs, sh, ns);
		check("starttls_hellos", tls, SMTP_CLOSE_FIN, expect_tls, NULL);
	}
	check("starttls_not_tls", stripped, SMTP_CLOSE_QUIT, expect_stripped,
	      NULL);
}

/*
 * A message ended by <CR><LF>.<LF>, nothing after it, taken by the
 * server (a real Sendmail does): nonstandard_data_end, no smuggling.
 * Refused, or standard: no alert.
 */
static void test_nonstandard_data_end(void)
{
	static const struct seg taken[] = {
	    S("220 mx\r\n"),
	    C("HELO c\r\n"),
	    S("250 mx\r\n"),
	    C("MAIL FROM:<a@b.test>\r\n"),
	    S("250 2.1.0 Ok\r\n"),
	    C("RCPT TO:<c@d.test>\r\n"),
	    S("250 2.1.5 Ok\r\n"),
	    C("DATA\r\n"),
	    S("354 go\r\n"),
	    C("Subject: x\r\n\r\nhi\r\n.\n"),
	    S("250 2.0.0 Ok: queued as 7A\r\n"),
	    C("QUIT\r\n"),
	    S("221 2.0.0 Bye\r\n"),
	    END,
	};
	static const struct seg refused[] = {
	    S("220 mx\r\n"),
	    C("HELO c\r\n"),
	    S("250 mx\r\n"),
	    C("MAIL FROM:<a@b.test>\r\n"),
	    S("250 2.1.0 Ok\r\n"),
	    C("RCPT TO:<c@d.test>\r\n"),
	    S("250 2.1.5 Ok\r\n"),
	    C("DATA\r\n"),
	    S("354 go\r\n"),
	    C("Subject: x\r\n\r\nhi\n.\n"),
	    S("550 5.5.2 Error: bare <LF> received\r\n"),
	    C("QUIT\r\n"),
	    S("221 2.0.0 Bye\r\n"),
	    END,
	};
	const char *expect_taken[] = {
	    "reply <message> 250",
	    "alert nonstandard_data_end cmd=<message> code=250 detail=the "
	    "server answered 250 to a message ended by <CR><LF>.<LF> at body "
	    "offset 18\n",
	    "txn 1 status=queued",
	    NULL,
	};
	const char *absent[] = {"smtp_smuggling", NULL};
	const char *expect_refused[] = {"reply <message> 550",
					"txn 1 status=rejected", NULL};
	const char *absent_refused[] = {"smtp_smuggling", "nonstandard", NULL};

	check("nonstandard_data_end", taken, SMTP_CLOSE_QUIT, expect_taken,
	      absent);
	check("nonstandard_data_end_refused", refused, SMTP_CLOSE_QUIT,
	      expect_refused, absent_refused);
}

static void test_invalid_multiline(void)
{
	static const struct seg d[] = {
	    S("220-mx\r\n221 other\r\n"),
	    END,
	};
	const char *expect[] = {
	    "alert invalid_reply cmd=<greeting> code=220 detail=a multi-line "
	    "reply mixes codes 220 and 221\n",
	    NULL,
	};

	check("invalid_multiline", d, SMTP_CLOSE_FIN, expect, NULL);
}

static void test_escape(void)
{
	struct sbuf b = {0};
	const char in[] = "ok \xc3\xa9 \xff\x01\tend \xe2\x82";

	wire_escape(&b, in, sizeof(in) - 1);
	result("wire_escape",
	       !strcmp(b.p, "ok \xc3\xa9 \\xff\\x01\\x09end \\xe2\\x82"), b.p);
	sb_free(&b);
}

static void all_tests(void)
{
	test_helo_dot_stuffing();
	test_pipelining_rejections();
	test_auth_masked();
	test_starttls_opaque();
	test_unsolicited_unknown();
	test_mid_data_close();
	test_rset_and_rejected();
	test_bdat();
	test_bdat_zero_last();
	test_multiline_and_bare_lf();
	test_long_line_capped();
	test_queue_ids();
	test_escape();
	test_starttls_injection_and_failure();
	test_smuggling_lf();
	test_smuggling_crlf_lf();
	test_smuggling_cr();
	test_smuggling_refused();
	test_etrn();
	test_server_posture();
	test_slow_reply();
	test_lf_dot_read_on();
	test_smuggling_answered_first();
	test_smuggling_unanswered();
	test_bare_lf_client_no_smuggling();
	test_bdat_invalid_and_missing_last();
	test_bdat_then_data();
	test_sequence_and_pipelining();
	test_line_anomalies();
	test_limits();
	test_auth_user_and_bruteforce();
	test_auth_user_hidden_by_default();
	test_gap_in_body();
	test_server_gap();
	test_midstream();
	test_invalid_multiline();
	test_midstream_client_only();
	test_auth_mechanisms();
	test_auth_pipelined();
	test_auth_refused_pipelined();
	test_auth_lost_packets();
	test_auth_user_mechanisms();
	test_auth_no_mechanism();
	test_escapes();
	test_nested_mail();
	test_starttls_hellos();
	test_nonstandard_data_end();
}

/*
 * The message parser's alerts become smtp_alerts of the same kind: the
 * names agree (the enums are matched by the build).
 */
static void test_message_alert_names(void)
{
	char why[256] = "";
	int k;

	for (k = 0; k < MSG_ALERT_COUNT && !why[0]; k++) {
		int j;

		for (j = 0; j < SMTP_ALERT_COUNT; j++)
			if (!strcmp(msg_alert_kind_str(k),
				    smtp_alert_kind_str(j)))
				break;
		if (j == SMTP_ALERT_COUNT)
			snprintf(why, sizeof(why), "%s is no smtp_alert kind",
				 msg_alert_kind_str(k));
	}
	result("message_alert_names", !why[0], why);
}

/* The table of reply meanings: exact codes, unknown details, junk. */
static void test_reply_meanings(void)
{
	static const struct {
		int code;
		const char *enh, *want;
	} cases[] = {
	    {550, "5.1.1", "bad destination mailbox address"},
	    {554, "5.7.1", "delivery not authorized, message refused"},
	    {454, "4.7.1",
	     "delivery not authorized, message refused "
	     "(temporary: try again later)"},
	    {451, "4.4.2", "bad connection (temporary: try again later)"},
	    {550, "5.7.99", "security or policy status"},
	    {550, "5.1.",
	     "not taken: mailbox unavailable (not found, no "
	     "access, or refused by policy)"},
	    {550, "x.y.z",
	     "not taken: mailbox unavailable (not found, no "
	     "access, or refused by policy)"},
	    {421, "", "service not available, closing the connection"},
	    {599, "", "permanent failure"},
	    {450, "",
	     "mailbox unavailable (busy or temporarily blocked): "
	     "not taken, try again later"},
	    {535, "5.7.8", "authentication credentials invalid"},
	};
	char got[200], why[512] = "";
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]) && !why[0]; i++) {
		smtp_explain(cases[i].code, cases[i].enh, got, sizeof(got));
		if (strcmp(got, cases[i].want))
			snprintf(why, sizeof(why), "%d %s: '%s', expected '%s'",
				 cases[i].code, cases[i].enh, got,
				 cases[i].want);
	}
	if (!why[0] && (smtp_enhanced_meaning("5.1.1.1") ||
			smtp_enhanced_meaning("5.1111.1") ||
			smtp_enhanced_meaning("") || smtp_code_meaning(99)))
		snprintf(why, sizeof(why), "junk has a meaning");
	result("reply_meanings", !why[0], why);
}

int main(void)
{
	test_message_alert_names();
	test_reply_meanings();
	/* bodies hashed and parsed in the caller */
	all_tests();
	/* and as smtpscope runs: on the hashing thread, behind the caller;
	 * every split must still give the same events */
	suite = "unit-thread";
	if (hq_start() != 0) {
		result("hashing_thread", 0, "cannot start it");
	} else {
		all_tests();
		hq_stop();
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
