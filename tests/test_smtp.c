/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_smtp.c - decoder unit tests on byte strings, fed at every split. */
#include <inttypes.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	logf_(u, "alert %s cmd=%s code=%d\n", smtp_alert_kind_str(a->kind),
	      a->cmd ? a->cmd->verb : "-", a->reply ? a->reply->code : 0);
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
	for (i = 0; i < si->n_extensions; i++)
		logf_(u, "%s%s", i ? "," : "", si->extensions[i]);
	logf_(u, "\n");
}

static const struct smtp_callbacks cbs = {
    on_command, on_reply, on_body, on_alert, on_txn, on_session,
};

/* A dialogue: segments alternate as the test lists them. */
struct seg {
	enum smtp_dir dir;
	const char *data;
};

#define C(s)                                                                   \
	{                                                                      \
		SMTP_FROM_CLIENT, s                                            \
	}
#define S(s)                                                                   \
	{                                                                      \
		SMTP_FROM_SERVER, s                                            \
	}
#define END                                                                    \
	{                                                                      \
		SMTP_FROM_CLIENT, NULL                                         \
	}

/* split: 0 whole segments; k>0 split each segment at byte k; -1 bytewise */
static char *run(const struct seg *segs, enum smtp_close close, long split)
{
	struct sbuf log = {0};
	struct smtp_session *s = smtp_session_new(&cbs, &log, NULL);
	int64_t ts = 1000;
	const struct seg *g;

	for (g = segs; g->data; g++) {
		size_t len = strlen(g->data), i;
		uint8_t *copy = xmalloc(len ? len : 1);

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

static void result(const char *name, int ok, const char *why)
{
	if (ok) {
		passed++;
		printf("PASS unit/%s\n", name);
	} else {
		failed++;
		printf("FAIL unit/%s: %s\n", name, why);
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
	/* the unstuffed body is 65 bytes; its SHA-256 starts 0x... */
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
	    "body size=62 done=1 subject=Hello  world\n",
	    "reply <message> 250 enh=2.0.0 lines=1 text=Ok: queued as 4AB12C\n",
	    sha,
	    "session close=quit helo=client.test banner=mx.test ESMTP ready "
	    "tls=000 auth=-/-/0 txns=1 cmds=5 replies=6/1/0/0",
	    NULL,
	};
	struct sha256_ctx ctx;
	uint8_t dg[32];

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
	    "alert reply_5xx cmd=RCPT code=550\n",
	    "reply RCPT 454 enh=4.7.1",
	    "alert reply_4xx cmd=RCPT code=454\n",
	    "reply DATA 354",
	    "txn 1 status=queued from=a@c rcpt=b@mx:250:2.1.5 "
	    "rcpt=x@mx:550:5.1.1 rcpt=y@mx:454:4.7.1 accepted=1 data=250 "
	    "queue=Q1 size=4",
	    "session close=quit helo=c banner=mx ESMTP tls=100",
	    "ext=PIPELINING,SIZE 1000,STARTTLS\n",
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
	    "alert reply_5xx cmd=FROBNICATE code=500\n",
	    "alert unknown_command cmd=FROBNICATE code=500\n",
	    "cmd ||seq=2 pip=0 known=0 line=\n",
	    "reply <unsolicited> 421 enh=4.7.0",
	    "alert reply_421 cmd=<unsolicited> code=421\n",
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
	    "body size=33 done=0 subject=cut\n",
	    "txn 1 status=incomplete from=a@c rcpt=b@mx:250: accepted=1 data=0",
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
	    "body size=23 done=1 subject=x\n",
	    "reply BDAT 250 enh=2.0.0 lines=1 text=Ok: queued as B7\n",
	    "txn 1 status=queued from=a@c rcpt=b@mx:250: accepted=1 "
	    "data=250 queue=B7 size=23",
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
	    "alert invalid_reply cmd=<unsolicited> code=0\n",
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

static void test_escape(void)
{
	struct sbuf b = {0};
	const char in[] = "ok \xc3\xa9 \xff\x01\tend \xe2\x82";

	wire_escape(&b, in, sizeof(in) - 1);
	result("wire_escape",
	       !strcmp(b.p, "ok \xc3\xa9 \\xff\\x01\\x09end \\xe2\\x82"), b.p);
	sb_free(&b);
}

int main(void)
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
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
