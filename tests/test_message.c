/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_message.c - message parser tests: real MIME, fed at every split. */
#include <json-c/json.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "message_json.h"
#include "util.h"

static int passed, failed;
static char why[1024]; /* the first failed expectation of a case */

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
}

static void eq_str(const char *what, const char *got, const char *want)
{
	if (!got || !want ? got != want : strcmp(got, want) != 0)
		fail("%s: got \"%s\", want \"%s\"", what, got ? got : "(null)",
		     want ? want : "(null)");
}

static void eq_int(const char *what, long long got, long long want)
{
	if (got != want)
		fail("%s: got %lld, want %lld", what, got, want);
}

static void sha_hex(char *out, const void *p, size_t n)
{
	struct sha256_ctx c;
	uint8_t d[32];
	size_t i;

	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, 32, d);
	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void part_sha(char *out, const struct msg_part *p)
{
	size_t i;

	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", p->sha256[i]);
}

static void b64enc(struct sbuf *out, const uint8_t *p, size_t n, size_t wrap)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, col = 0;
	char q[4];

	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = a[v >> 18 & 63];
		q[1] = a[v >> 12 & 63];
		q[2] = i + 1 < n ? a[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? a[v & 63] : '=';
		sb_append(out, q, 4);
		col += 4;
		if (wrap && col >= wrap) {
			sb_append(out, "\r\n", 2);
			col = 0;
		}
	}
	if (col)
		sb_append(out, "\r\n", 2);
}

/* The email object as smtpscope writes it (a static buffer). */
static const char *email_text(const struct msg *m, const char *local_id)
{
	static struct jw w;

	jw_reset(&w);
	msg_email_write(&w, NULL, m, local_id);
	return w.b.p;
}

/* Everything the parser found, as one string: splits must not change it. */
static void summary(struct sbuf *out, const struct msg *m)
{
	const struct msg_alert *a;
	size_t n = msg_alerts(m, &a), i;
	const char *s = email_text(m, NULL);

	sb_reset(out);
	sb_append(out, s, strlen(s));
	for (i = 0; i < n; i++) {
		sb_append(out, "\n", 1);
		sb_append(out, msg_alert_kind_str(a[i].kind),
			  strlen(msg_alert_kind_str(a[i].kind)));
		sb_append(out, ": ", 2);
		sb_append(out, a[i].detail, strlen(a[i].detail));
	}
}

/*
 * What the content hooks (struct msg_hooks) delivered for each part: every
 * parse checks that the octets of each part with content arrive whole, in
 * order (size and SHA-256 those of the part), and that it ends once.
 */
#define HOOKED_MAX 300
static struct hooked {
	struct sha256_ctx sha;
	uint64_t size;
	unsigned ends;
	bool late; /* data after its end */
} hooked[HOOKED_MAX];

static void hook_data(void *user, const struct msg_part *part, unsigned index,
		      const uint8_t *p, size_t n)
{
	(void)user;
	(void)part;
	if (index >= HOOKED_MAX)
		return;
	hooked[index].late |= hooked[index].ends > 0;
	sha256_update(&hooked[index].sha, n, p);
	hooked[index].size += n;
}

static void hook_end(void *user, const struct msg_part *part, unsigned index)
{
	const struct msg *m = user;
	const struct msg_part *parts;
	size_t n = msg_parts(m, &parts);

	if (index >= n || part != &parts[index])
		fail("hook end: part %u is not the parser's", index);
	else if (index < HOOKED_MAX)
		hooked[index].ends++;
}

static void check_hooked(const struct msg *m)
{
	const struct msg_part *p;
	size_t n = msg_parts(m, &p), i;
	uint8_t d[32];

	for (i = 0; i < n && i < HOOKED_MAX; i++) {
		if (!hooked[i].ends) {
			if (p[i].leaf)
				fail("hook: leaf part %zu never ended", i);
			if (hooked[i].size)
				fail("hook: data for part %zu, no end", i);
			continue;
		}
		sha256_digest(&hooked[i].sha, 32, d);
		if (hooked[i].ends != 1 || hooked[i].late)
			fail("hook: part %zu ended %u times%s", i,
			     hooked[i].ends,
			     hooked[i].late ? ", data after" : "");
		else if (hooked[i].size != p[i].size ||
			 memcmp(d, p[i].sha256, 32))
			fail("hook: part %zu: %llu octets, the part has %llu "
			     "(or a different hash)",
			     i, (unsigned long long)hooked[i].size,
			     (unsigned long long)p[i].size);
	}
}

/* A parser whose content hooks record into hooked[], cleared. */
static struct msg *hooked_msg(const struct msg_limits *lim)
{
	struct msg *m = msg_new(lim);
	struct msg_hooks h = {hook_data, hook_end, m};
	size_t i;

	memset(hooked, 0, sizeof(hooked));
	for (i = 0; i < HOOKED_MAX; i++)
		sha256_init(&hooked[i].sha);
	msg_set_hooks(m, &h);
	return m;
}

static struct msg *parse(const char *text, size_t len, size_t cut, size_t step,
			 const struct msg_limits *lim)
{
	struct msg *m = hooked_msg(lim);
	size_t i;

	if (cut) {
		msg_feed(m, (const uint8_t *)text, cut);
		msg_feed(m, (const uint8_t *)text + cut, len - cut);
	} else if (step) {
		for (i = 0; i < len; i += step)
			msg_feed(m, (const uint8_t *)text + i,
				 len - i < step ? len - i : step);
	} else {
		msg_feed(m, (const uint8_t *)text, len);
	}
	msg_end(m, true);
	check_hooked(m);
	return m;
}

static int alert_count(const struct msg *m, const char *kind)
{
	const struct msg_alert *a;
	size_t n = msg_alerts(m, &a), i;
	int c = 0;

	for (i = 0; i < n; i++)
		c += !strcmp(msg_alert_kind_str(a[i].kind), kind);
	return c;
}

static const struct msg_part *attachment(const struct msg *m, int k)
{
	const struct msg_part *p;
	size_t n = msg_parts(m, &p), i;

	for (i = 0; i < n; i++)
		if (p[i].attachment && !k--)
			return &p[i];
	return NULL;
}

typedef void (*check_fn)(struct msg *m);

/*
 * Parse whole, byte by byte, in 7-octet steps and (for small messages)
 * cut at every offset; every way must give the same summary. Then check.
 */
static void run_lim(const char *name, const char *text,
		    const struct msg_limits *lim, check_fn check)
{
	size_t len = strlen(text), cut;
	struct sbuf want = {0}, got = {0};
	struct msg *m = parse(text, len, 0, 0, lim), *k;

	why[0] = '\0';
	summary(&want, m);
	k = parse(text, len, 0, 1, lim);
	summary(&got, k);
	msg_free(k);
	if (strcmp(sb_str(&want), sb_str(&got)))
		fail("byte by byte differs:\n%s\n---\n%s", sb_str(&want),
		     sb_str(&got));
	k = parse(text, len, 0, 7, lim);
	summary(&got, k);
	msg_free(k);
	if (strcmp(sb_str(&want), sb_str(&got)))
		fail("7-octet pieces differ");
	for (cut = 1; len < 20000 && cut < len && !why[0]; cut++) {
		k = parse(text, len, cut, 0, lim);
		summary(&got, k);
		msg_free(k);
		if (strcmp(sb_str(&want), sb_str(&got)))
			fail("cut at %zu differs:\n%s\n---\n%s", cut,
			     sb_str(&want), sb_str(&got));
	}
	if (check)
		check(m);
	if (getenv("MSG_TEST_VERBOSE"))
		fprintf(stderr, "%s: %s\n", name, sb_str(&want));
	msg_free(m);
	sb_free(&want);
	sb_free(&got);
	if (why[0]) {
		printf("FAIL message/%s: %s\n", name, why);
		failed++;
	} else {
		printf("PASS message/%s\n", name);
		passed++;
	}
}

static void run(const char *name, const char *text, check_fn check)
{
	run_lim(name, text, NULL, check);
}

/* ---- multipart/mixed with a text body, a base64 and a q-p part ---- */

static uint8_t blob[700]; /* attachment bytes: every octet value */
static char mixed[8192];

static void make_mixed(void)
{
	struct sbuf b64 = {0};
	size_t i;

	for (i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 7 + 3);
	b64enc(&b64, blob, sizeof(blob), 76);
	snprintf(mixed, sizeof(mixed),
		 "Return-Path: <alice@example.org>\r\n"
		 "Received: from mail.example.org (mail.example.org "
		 "[192.0.2.10])\r\n"
		 "\tby mx.example.net (Postfix) with ESMTPS id 4XyZ;\r\n"
		 "\tMon, 23 Nov 2026 10:00:02 +0000\r\n"
		 "Received: from [10.1.2.3] (unknown [198.51.100.7])\r\n"
		 "\tby mail.example.org with ESMTPSA; Mon, 23 Nov 2026 "
		 "10:00:01 +0000\r\n"
		 "Authentication-Results: mx.example.net; spf=pass "
		 "smtp.mailfrom=example.org\r\n"
		 "From: Alice Example <alice@example.org>\r\n"
		 "To: bob@example.net\r\n"
		 "Subject: Quarterly report\r\n"
		 "Date: Mon, 23 Nov 2026 11:00:00 +0100\r\n"
		 "Message-ID: <abc123@example.org>\r\n"
		 "References: <a@x> <b@x>\r\n\t<c@x>\r\n"
		 "X-Mailer: Thunderbird 128\r\n"
		 "MIME-Version: 1.0\r\n"
		 "Content-Type: multipart/mixed; boundary=\"==b1==\"\r\n"
		 "\r\n"
		 "This is a multi-part message in MIME format.\r\n"
		 "--==b1==\r\n"
		 "Content-Type: text/plain; charset=UTF-8\r\n"
		 "Content-Transfer-Encoding: 7bit\r\n"
		 "\r\n"
		 "Hello Bob,\r\nsee http://example.com/report and "
		 "https://example.org/a?b=c.\r\n"
		 "--==b1==\r\n"
		 "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
		 "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
		 "Content-Transfer-Encoding: base64\r\n"
		 "\r\n"
		 "%s"
		 "--==b1==\r\n"
		 "Content-Type: text/plain; charset=iso-8859-1\r\n"
		 "Content-Transfer-Encoding: quoted-printable\r\n"
		 "Content-Disposition: attachment; filename=notes.txt\r\n"
		 "\r\n"
		 "caf=E9 =3D ok   \r\n"
		 "soft=\r\n"
		 "break\r\n"
		 "--==b1==--\r\n"
		 "epilogue\r\n",
		 sb_str(&b64));
	sb_free(&b64);
}

static void check_mixed(struct msg *m)
{
	const struct msg_part *p, *a;
	const struct msg_addr *ad;
	char *const *v;
	char want[65], got[65];
	size_t n;
	int64_t ts;

	eq_str("subject", msg_subject(m), "Quarterly report");
	eq_int("from count", (long long)msg_addrs(m, MSG_HDR_FROM, &ad), 1);
	eq_str("from", ad[0].address, "alice@example.org");
	eq_str("from name", ad[0].name, "Alice Example");
	eq_str("message-id", msg_header(m, MSG_HDR_MESSAGE_ID),
	       "<abc123@example.org>");
	eq_str("x-mailer", msg_header(m, MSG_HDR_X_MAILER), "Thunderbird 128");
	eq_int("references", msg_references_count(m), 3);
	eq_int("headers", msg_header_count(m), 13);
	eq_int("date ok", msg_date(m, &ts), 1);
	eq_int("date", ts, 1795428000LL * 1000000); /* 2026-11-23T10:00Z */
	n = msg_multi(m, MSG_HDR_RECEIVED, &v);
	eq_int("received", (long long)n, 2);
	n = msg_path(m, &v);
	eq_int("path", (long long)n, 2);
	if (n == 2) {
		eq_str("path[0]", v[0], "192.0.2.10");
		eq_str("path[1]", v[1], "198.51.100.7");
	}
	n = msg_parts(m, &p);
	eq_int("parts", (long long)n, 4);
	if (n == 4) {
		eq_str("root type", p[0].type, "multipart/mixed");
		eq_str("text charset", p[1].charset, "utf-8");
		eq_str("pdf encoding", p[2].encoding, "base64");
		sha_hex(want, "caf\xe9 = ok\r\nsoftbreak", 20);
		part_sha(got, &p[3]);
		eq_str("q-p sha256", got, want);
		eq_int("q-p size", (long long)p[3].size, 20);
		eq_int("text size", (long long)p[1].size, 72);
	}
	a = attachment(m, 0);
	if (!a) {
		fail("no attachment");
		return;
	}
	eq_str("attachment name", a->filename, "report.pdf");
	eq_str("attachment type", a->type, "application/pdf");
	eq_int("attachment size", (long long)a->size, sizeof(blob));
	sha_hex(want, blob, sizeof(blob));
	part_sha(got, a);
	eq_str("attachment sha256", got, want);
	eq_str("second attachment",
	       attachment(m, 1) ? attachment(m, 1)->filename : NULL,
	       "notes.txt");
	n = msg_urls(m, &v);
	eq_int("urls", (long long)n, 2);
	if (n == 2) {
		eq_str("url 0", v[0], "http://example.com/report");
		eq_str("url 1", v[1], "https://example.org/a?b=c");
	}
	eq_int("alerts",
	       (long long)msg_alerts(m, &(const struct msg_alert *){0}), 0);
	eq_int("8bit", msg_8bit(m), 0);
	msg_check_from(m, "bounce@mail.example.org");
	eq_int("aligned from", alert_count(m, "header_from_mismatch"), 0);
	msg_check_from(m, "x@evil.test");
	eq_int("from mismatch", alert_count(m, "header_from_mismatch"), 1);
}

/* ---- nested multipart/alternative, HTML URLs, dedup ---- */

static const char nested[] =
    "From: news@example.com\r\n"
    "To: a@example.net\r\n"
    "Subject: nested\r\n"
    "Date: Tue, 24 Nov 2026 08:00:00 GMT\r\n"
    "Message-ID: <n1@example.com>\r\n"
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Visit https://example.com/x (now)\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<a href=3D\"https://example.com/x\">x</a> <a href=3D\"http://exa=\r\n"
    "mple.net/y\">y</a>\r\n"
    "--inner--\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: image/png\r\n"
    "Content-Disposition: inline; filename=\"logo.png\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "iVBORw0KGgo=\r\n"
    "--outer--\r\n";

static void check_nested(struct msg *m)
{
	const struct msg_part *p;
	char *const *v;
	size_t n = msg_parts(m, &p);

	eq_int("parts", (long long)n, 5);
	if (n == 5) {
		eq_str("1 type", p[1].type, "multipart/alternative");
		eq_int("1 parent", p[1].parent, 0);
		eq_str("2 type", p[2].type, "text/plain");
		eq_int("2 depth", p[2].depth, 2);
		eq_int("2 parent", p[2].parent, 1);
		eq_str("3 type", p[3].type, "text/html");
		eq_int("3 parent", p[3].parent, 1);
		eq_str("4 type", p[4].type, "image/png");
		eq_int("4 parent", p[4].parent, 0);
		eq_int("4 size", (long long)p[4].size, 8);
		eq_int("4 attachment", p[4].attachment, 1);
	}
	n = msg_urls(m, &v);
	eq_int("urls", (long long)n, 2);
	if (n == 2) {
		eq_str("url 0", v[0], "https://example.com/x");
		eq_str("url 1", v[1], "http://example.net/y");
	}
	eq_int("alerts", alert_count(m, "malformed_mime"), 0);
}

/* ---- an attached message: its headers must not win ---- */

static const char inner_msg[] =
    "From: Mallory <mallory@evil.test>\r\n"
    "Subject: Inner subject\r\n"
    "Message-ID: <inner@evil.test>\r\n"
    "Content-Type: multipart/mixed; boundary=ib\r\n"
    "\r\n"
    "--ib\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "inner text\r\n"
    "--ib\r\n"
    "Content-Type: application/octet-stream; name=run.exe\r\n"
    "\r\n"
    "MZ\x90\r\n"
    "--ib--\r\n";

static char eml[4096];

static void make_eml(void)
{
	snprintf(eml, sizeof(eml),
		 "From: Bob <bob@example.net>\r\n"
		 "To: alice@example.org\r\n"
		 "Subject: Fwd: look\r\n"
		 "Date: 24 Nov 2026 09:00 -0500\r\n"
		 "Message-ID: <outer@example.net>\r\n"
		 "Content-Type: multipart/mixed; boundary=ob\r\n"
		 "\r\n"
		 "--ob\r\n"
		 "Content-Type: text/plain\r\n"
		 "\r\n"
		 "see attached\r\n"
		 "--ob\r\n"
		 "Content-Type: message/rfc822\r\n"
		 "Content-Disposition: attachment; filename=\"fwd.eml\"\r\n"
		 "\r\n"
		 "%s"
		 "\r\n"
		 "--ob--\r\n",
		 inner_msg);
}

static void check_eml(struct msg *m)
{
	const struct msg_part *p;
	const struct msg_addr *a;
	char want[65], got[65];
	size_t n;

	eq_str("subject", msg_subject(m), "Fwd: look");
	eq_str("message-id", msg_header(m, MSG_HDR_MESSAGE_ID),
	       "<outer@example.net>");
	n = msg_addrs(m, MSG_HDR_FROM, &a);
	eq_int("from", (long long)n, 1);
	if (n)
		eq_str("from", a[0].address, "bob@example.net");
	eq_int("headers", msg_header_count(m), 6);
	n = msg_parts(m, &p);
	eq_int("parts", (long long)n, 6);
	if (n != 6)
		return;
	eq_str("eml type", p[2].type, "message/rfc822");
	eq_str("eml name", p[2].filename, "fwd.eml");
	/* the embedded message as sent, up to the CRLF before --ob */
	eq_int("eml size", (long long)p[2].size, sizeof(inner_msg) - 1);
	sha_hex(want, inner_msg, sizeof(inner_msg) - 1);
	part_sha(got, &p[2]);
	eq_str("eml sha256", got, want);
	eq_str("inner root", p[3].type, "multipart/mixed");
	eq_int("inner depth", p[3].depth, 2);
	eq_int("inner parent", p[3].parent, 2);
	eq_str("inner exe", p[5].filename, "run.exe");
	eq_int("inner exe size", p[5].size, 3);
	eq_int("exe alert", alert_count(m, "attachment_executable"), 1);
	eq_int("malformed", alert_count(m, "malformed_mime"), 0);
}

/* ---- RFC 2047 subjects, folded headers ---- */

static const char words[] =
    "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n"
    "To: =?UTF-8?B?0JjQstCw0L0=?= <ivan@example.ru>\r\n"
    "Subject: =?UTF-8?B?Q2Fmw6kgbcOpbnU=?= =?utf-8?q?_=E2=82=AC5?=\r\n"
    "  and\r\n"
    "\t =?iso-8859-1?q?=A3?= sterling\r\n"
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <w@example.com>\r\n"
    "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
    " bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n"
    " cccc\r\n"
    "User-Agent: Mutt/2.2\r\n"
    "\r\n"
    "body\r\n";

static void check_words(struct msg *m)
{
	const struct msg_addr *a;

	eq_str("subject", msg_subject(m),
	       "Caf\xc3\xa9 m\xc3\xa9nu \xe2\x82\xac"
	       "5  and  \xc2\xa3 sterling");
	eq_str("raw subject", msg_header(m, MSG_HDR_SUBJECT),
	       "=?UTF-8?B?Q2Fmw6kgbcOpbnU=?= =?utf-8?q?_=E2=82=AC5?=  and  "
	       "=?iso-8859-1?q?=A3?= sterling");
	if (msg_addrs(m, MSG_HDR_FROM, &a) == 1)
		eq_str("from name", a[0].name, "Andr\xc3\xa9 Pirard");
	if (msg_addrs(m, MSG_HDR_TO, &a) == 1)
		eq_str("to name", a[0].name,
		       "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd");
	eq_str("user-agent", msg_header(m, MSG_HDR_USER_AGENT), "Mutt/2.2");
	eq_int("headers", msg_header_count(m), 7);
	eq_int("alerts",
	       (long long)msg_alerts(m, &(const struct msg_alert *){0}), 0);
}

/* ---- RFC 2231 file names ---- */

static const char r2231[] =
    "From: a@example.com\r\n"
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <f@example.com>\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=UTF-8''%E2%82%AC%20rates;\r\n"
    " filename*1=\" for 2026\";\r\n"
    " filename*2*=%2Epdf\r\n"
    "\r\n"
    "x\r\n"
    "--b\r\n"
    "Content-Type: application/msword;\r\n"
    "\tname=\"=?ISO-8859-1?Q?r=E9sum=E9.doc?=\"\r\n"
    "\r\n"
    "y\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Disposition: attachment; filename*=iso-8859-1'fr'%E9t%E9.txt\r\n"
    "\r\n"
    "z\r\n"
    "--b--\r\n";

static void check_2231(struct msg *m)
{
	const struct msg_part *a;

	a = attachment(m, 0);
	eq_str("continued", a ? a->filename : NULL,
	       "\xe2\x82\xac rates for 2026.pdf");
	a = attachment(m, 1);
	eq_str("encoded word", a ? a->filename : NULL,
	       "r\xc3\xa9sum\xc3\xa9.doc");
	a = attachment(m, 2);
	eq_str("latin-1", a ? a->filename : NULL, "\xc3\xa9t\xc3\xa9.txt");
}

/* ---- address lists ---- */

static const char addrs[] =
    "From: \"Doe, John\" <john@example.com>\r\n"
    "To: (the boss) boss@example.org (Big Boss), \"Smith, J.\"\r\n"
    " <j.smith@example.net>, Team: a@example.com, \"b, c\" "
    "<b@example.com>;,\r\n"
    " undisclosed-recipients:;, <@relay.example:route@example.net>\r\n"
    "Cc: \"quoted local\"@example.com, Mary <mary (home) @ example.org>\r\n"
    "Reply-To: =?UTF-8?Q?Z=C3=BCrich_Office?= <zh@example.ch>\r\n"
    "Sender: list@example.com\r\n"
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <ad@example.com>\r\n"
    "\r\n"
    "hi\r\n";

static void check_addrs(struct msg *m)
{
	const struct msg_addr *a;
	size_t n;

	n = msg_addrs(m, MSG_HDR_FROM, &a);
	eq_int("from", (long long)n, 1);
	if (n == 1) {
		eq_str("from name", a[0].name, "Doe, John");
		eq_str("from addr", a[0].address, "john@example.com");
	}
	n = msg_addrs(m, MSG_HDR_TO, &a);
	eq_int("to", (long long)n, 5);
	if (n == 5) {
		eq_str("to0", a[0].address, "boss@example.org");
		eq_str("to0 name", a[0].name, "the boss");
		eq_str("to1", a[1].address, "j.smith@example.net");
		eq_str("to1 name", a[1].name, "Smith, J.");
		eq_str("to2", a[2].address, "a@example.com");
		eq_str("to2 group", a[2].group, "Team");
		eq_str("to3", a[3].address, "b@example.com");
		eq_str("to3 name", a[3].name, "b, c");
		eq_str("to3 group", a[3].group, "Team");
		eq_str("to4 route", a[4].address, "route@example.net");
		eq_str("to4 group", a[4].group, NULL);
	}
	n = msg_addrs(m, MSG_HDR_CC, &a);
	eq_int("cc", (long long)n, 2);
	if (n == 2) {
		eq_str("cc0", a[0].address, "\"quoted local\"@example.com");
		eq_str("cc1", a[1].address, "mary@example.org");
		eq_str("cc1 name", a[1].name, "Mary");
	}
	n = msg_addrs(m, MSG_HDR_REPLY_TO, &a);
	if (n == 1)
		eq_str("reply-to name", a[0].name, "Z\xc3\xbcrich Office");
	n = msg_addrs(m, MSG_HDR_SENDER, &a);
	eq_int("sender", (long long)n, 1);
}

/* ---- executables by name and by content ---- */

static char execs[8192];

static void make_execs(void)
{
	struct sbuf mz = {0}, zip = {0}, ole = {0};
	static const uint8_t zipb[] =
	    "PK\3\4\x14\0\0\0\x08\0....xl/vbaProject.binXX";
	static const uint8_t oleb[] = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
				      "................_\0V\0B\0A\0_\0P\0R\0O"
				      "\0J\0E\0C\0T\0";

	b64enc(&mz, (const uint8_t *)"MZ\x90\0\3\0\0\0\4\0", 10, 76);
	b64enc(&zip, zipb, sizeof(zipb) - 1, 76);
	b64enc(&ole, oleb, sizeof(oleb) - 1, 76);
	snprintf(
	    execs, sizeof(execs),
	    "From: x@example.com\r\n"
	    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
	    "Message-ID: <e@example.com>\r\n"
	    "Content-Type: multipart/mixed; boundary=e\r\n"
	    "\r\n"
	    "--e\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"Invoice.PDF.exe\"\r\n"
	    "\r\n"
	    "not really\r\n"
	    "--e\r\n"
	    "Content-Type: application/octet-stream; name=data.bin\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n%s"
	    "--e\r\n"
	    "Content-Type: application/zip; name=report.xlsx\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n%s"
	    "--e\r\n"
	    "Content-Type: application/msword; name=letter.doc\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n%s"
	    "--e\r\n"
	    "Content-Type: text/plain; name=script.txt\r\n"
	    "\r\n"
	    "#!/bin/sh\r\n"
	    "--e\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "#! not an attachment\r\n"
	    "--e--\r\n",
	    sb_str(&mz), sb_str(&zip), sb_str(&ole));
	sb_free(&mz);
	sb_free(&zip);
	sb_free(&ole);
}

static void check_execs(struct msg *m)
{
	const struct msg_part *p;
	size_t n = msg_parts(m, &p);

	eq_int("parts", (long long)n, 7);
	eq_int("alerts", alert_count(m, "attachment_executable"), 5);
	if (n == 7) {
		eq_int("by name", p[1].executable, 1);
		eq_int("MZ", p[2].executable, 1);
		eq_int("zip macro", p[3].executable, 1);
		eq_int("ole macro", p[4].executable, 1);
		eq_int("#!", p[5].executable, 1);
		eq_int("body text", p[6].executable, 0);
	}
}

/* ---- broken MIME ---- */

static const char unclosed[] =
    "From: x@example.com\r\n"
    "Content-Type: multipart/mixed; boundary=u\r\n"
    "\r\n"
    "--u\r\n"
    "Content-Type: multipart/alternative; boundary=v\r\n"
    "\r\n"
    "--v\r\n"
    "\r\n"
    "text\r\n"
    "--u\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "cut here\r\n";

static void check_unclosed(struct msg *m)
{
	const struct msg_part *p;
	size_t n = msg_parts(m, &p);

	/* v closed by u's boundary, then u never closed */
	eq_int("malformed", alert_count(m, "malformed_mime"), 2);
	eq_int("missing", alert_count(m, "missing_date_or_msgid"), 1);
	eq_int("parts", (long long)n, 4);
	if (n == 4) {
		eq_int("last truncated", p[3].truncated, 1);
		eq_int("first leaf whole", p[2].truncated, 0);
		eq_int("first leaf size", (long long)p[2].size, 4);
	}
}

static const char noboundary[] = "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
				 "Message-ID: <nb@example.com>\r\n"
				 "Content-Type: multipart/mixed\r\n"
				 "Content-Transfer-Encoding: base64\r\n"
				 "\r\n"
				 "aGVsbG8=\r\n";

static void check_noboundary(struct msg *m)
{
	const struct msg_part *p;

	eq_int("malformed", alert_count(m, "malformed_mime"), 1);
	if (msg_parts(m, &p) == 1)
		eq_int("as a leaf", (long long)p[0].size, 5);
}

/* ---- caps ---- */

static char deep[16384];

static void make_deep(void)
{
	size_t n = 0;
	int i;

	n += (size_t)snprintf(deep + n, sizeof(deep) - n,
			      "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
			      "Message-ID: <d@example.com>\r\n");
	for (i = 0; i < 24; i++)
		n += (size_t)snprintf(
		    deep + n, sizeof(deep) - n,
		    "Content-Type: multipart/mixed; boundary=d%d\r\n\r\n"
		    "--d%d\r\n",
		    i, i);
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "\r\ndeep\r\n");
	for (i = 23; i >= 0; i--)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "--d%d--\r\n",
				      i);
}

static void check_deep(struct msg *m)
{
	const struct msg_part *p;

	eq_int("depth alert", alert_count(m, "mime_depth_limit"), 1);
	eq_int("malformed", alert_count(m, "malformed_mime"), 0);
	eq_int("parts", (long long)msg_parts(m, &p), 17);
}

/*
 * Unencoded text that fills the decoding buffer exactly at the end of a
 * line's octets, again and again: the line end that follows must start
 * the next buffer (it once overflowed this one).
 */
static char fill_text[7000], fill_msg[9000];

static void make_fill(void)
{
	size_t n = 0, k, i;

	while (n + 3100 < sizeof(fill_text)) {
		/* 47 lines of 62 octets and CRLF, one of 64: 3072 octets */
		for (k = 0; k < 48; k++) {
			for (i = 0; i < (k < 47 ? 62u : 64u); i++)
				fill_text[n++] = (char)('a' + (k + i) % 26);
			if (k < 47) {
				fill_text[n++] = '\r';
				fill_text[n++] = '\n';
			}
		}
		fill_text[n++] = '\r';
		fill_text[n++] = '\n';
		memcpy(fill_text + n, "x\r\n", 3); /* off the boundary again */
		n += 3;
	}
	fill_text[n] = '\0';
	snprintf(fill_msg, sizeof(fill_msg),
		 "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
		 "Message-ID: <fill@example.com>\r\n"
		 "Content-Type: multipart/mixed; boundary=f\r\n"
		 "\r\n"
		 "--f\r\n"
		 "Content-Type: text/plain; charset=us-ascii\r\n"
		 "\r\n"
		 "%s\r\n"
		 "--f\r\n"
		 "Content-Type: text/plain\r\n"
		 "Content-Transfer-Encoding: quoted-printable\r\n"
		 "\r\n"
		 "q=3Dp\r\n"
		 "--f--\r\n",
		 fill_text);
}

static void check_fill(struct msg *m)
{
	const struct msg_part *p;
	char want[65], got[65];

	if (msg_parts(m, &p) != 3) {
		eq_int("parts", (long long)msg_parts(m, &p), 3);
		return;
	}
	eq_int("size", (long long)p[1].size, (long long)strlen(fill_text));
	sha_hex(want, fill_text, strlen(fill_text));
	part_sha(got, &p[1]);
	eq_str("sha256", got, want);
	eq_int("q-p size", (long long)p[2].size, 3);
}

static char bighdr[8192];

static void make_bighdr(void)
{
	size_t n = 0;
	int i;

	n += (size_t)snprintf(bighdr + n, sizeof(bighdr) - n,
			      "Subject: first\r\n");
	for (i = 0; i < 60; i++)
		n += (size_t)snprintf(bighdr + n, sizeof(bighdr) - n,
				      "X-Filler-%02d: %s\r\n", i,
				      "0123456789012345678901234567890123");
	snprintf(bighdr + n, sizeof(bighdr) - n,
		 "Message-ID: <late@example.com>\r\n"
		 "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
		 "\r\nbody with http://example.com/ok\r\n");
}

static void check_bighdr(struct msg *m)
{
	char *const *v;

	eq_int("limit alert", alert_count(m, "mime_header_limit"), 1);
	eq_str("subject kept", msg_subject(m), "first");
	eq_str("message-id lost", msg_header(m, MSG_HDR_MESSAGE_ID), NULL);
	eq_int("body still read", (long long)msg_urls(m, &v), 1);
}

static const struct msg_limits small = {.header_bytes = 1024, .urls = 2};

static const char manyurls[] =
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <u@example.com>\r\n"
    "\r\n"
    "http://a.example/ http://b.example/ http://a.example/ "
    "HTTPS://c.example/ http://d.example/\r\n";

static void check_manyurls(struct msg *m)
{
	char *const *v;

	eq_int("urls kept", (long long)msg_urls(m, &v), 2);
	eq_int("urls dropped", (long long)msg_urls_dropped(m), 2);
}

/* ---- plain messages: bare LF, 8bit, no body ---- */

static const char barelf[] = "From: x@example.com\n"
			     "Subject: caf\xc3\xa9\n"
			     "\n"
			     "line one\n"
			     "line two\n";

static void check_barelf(struct msg *m)
{
	const struct msg_part *p;
	char want[65], got[65];

	eq_str("subject", msg_subject(m), "caf\xc3\xa9");
	eq_int("8bit", msg_8bit(m), 1);
	eq_int("missing", alert_count(m, "missing_date_or_msgid"), 1);
	if (msg_parts(m, &p) == 1) {
		eq_str("type", p[0].type, "text/plain");
		sha_hex(want, "line one\nline two\n", 18);
		part_sha(got, &p[0]);
		eq_str("sha256", got, want);
	}
}

/* ---- the "email" object: ECS names that users rely on ---- */

static const char *jget(struct json_object *o, const char *path)
{
	char key[64];
	const char *p = path, *dot;
	size_t n;

	while (o && *p) {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		else if (!json_object_object_get_ex(o, key, &o))
			o = NULL;
		p += n + (dot != NULL);
	}
	return o ? json_object_get_string(o) : NULL;
}

/* The email object's text, parsed back by json-c: it must be JSON. */
static struct json_object *email_parsed(const struct msg *m,
					const char *local_id)
{
	struct json_object *o = json_tokener_parse(email_text(m, local_id));

	if (!o)
		eq_str("email object", "not JSON", "JSON");
	return o;
}

/* msg_render() (on the hashing thread in smtpscope) changes nothing. */
static void same_rendered(struct msg *m, const char *local_id)
{
	const char *t = email_text(m, local_id);
	char *before = xstrndup(t, strlen(t));

	msg_render(m);
	eq_str("email object rendered first", email_text(m, local_id), before);
	free(before);
}

static void check_json(struct msg *m)
{
	struct json_object *o = email_parsed(m, "4XyZ");
	char want[65];

	sha_hex(want, blob, sizeof(blob));
	eq_str("from.address.0", jget(o, "from.address.0"),
	       "alice@example.org");
	eq_str("from.display_name", jget(o, "from.display_name"),
	       "Alice Example");
	eq_str("to.address.0", jget(o, "to.address.0"), "bob@example.net");
	eq_str("subject", jget(o, "subject"), "Quarterly report");
	eq_str("message_id", jget(o, "message_id"), "<abc123@example.org>");
	eq_str("origination_timestamp", jget(o, "origination_timestamp"),
	       "2026-11-23T10:00:00.000000+0000");
	eq_str("x_mailer", jget(o, "x_mailer"), "Thunderbird 128");
	eq_str("path.1", jget(o, "path.1"), "198.51.100.7");
	eq_str("received.0", jget(o, "received.0"),
	       "from mail.example.org (mail.example.org [192.0.2.10]) by "
	       "mx.example.net (Postfix) with ESMTPS id 4XyZ; Mon, 23 Nov "
	       "2026 10:00:02 +0000");
	eq_str("authentication_results.0", jget(o, "authentication_results.0"),
	       "mx.example.net; spf=pass smtp.mailfrom=example.org");
	eq_str("attachments.0.file.name", jget(o, "attachments.0.file.name"),
	       "report.pdf");
	eq_str("attachments.0.file.mime_type",
	       jget(o, "attachments.0.file.mime_type"), "application/pdf");
	eq_str("attachments.0.file.size", jget(o, "attachments.0.file.size"),
	       "700");
	eq_str("attachments.0.file.hash.sha256",
	       jget(o, "attachments.0.file.hash.sha256"), want);
	eq_str("content_type", jget(o, "content_type"), "multipart/mixed");
	eq_str("header_count", jget(o, "header_count"), "13");
	eq_str("eight_bit", jget(o, "eight_bit"), "false");
	eq_str("urls.1", jget(o, "urls.1"), "https://example.org/a?b=c");
	eq_str("local_id", jget(o, "local_id"), "4XyZ");
	json_object_put(o);
	same_rendered(m, "4XyZ");
	same_rendered(m, NULL);
}

/*
 * Every kind of octet in a string: the email object, written as text,
 * must escape it as json-c does for the rest of the event.
 */
static const char escapes[] =
    "Subject: q\"b\\s/t\tc\001d\177e\303\251f\377g <h>\r\n"
    "From: \"Quote \\\"Q\\\" Name\" <q@example.org>\r\n"
    "\r\n"
    "body\r\n";

static void check_escapes(struct msg *m)
{
	struct json_object *o;
	struct sbuf w = {0};
	const char *text = email_text(m, "id\"1");
	const char *subj = msg_subject(m), *want;
	char *expect;
	size_t n;

	if (!subj) {
		eq_str("subject", "(none)", "a subject");
		return;
	}
	wire_escape(&w, subj, strlen(subj));
	o = json_object_new_string_len(sb_str(&w), (int)w.len);
	want = json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(want) + 16;
	expect = xmalloc(n);
	snprintf(expect, n, "\"subject\":%s,", want);
	eq_int("subject as json-c writes it", strstr(text, expect) != NULL, 1);
	free(expect);
	json_object_put(o);
	sb_free(&w);
	o = email_parsed(m, "id\"1");
	eq_str("display name", jget(o, "from.display_name"),
	       "Quote \"Q\" Name");
	eq_str("local_id", jget(o, "local_id"), "id\"1");
	json_object_put(o);
}

/* ---- multipart/digest: parts are messages by default ---- */

static const char digest[] =
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <dg@example.com>\r\n"
    "Subject: digest\r\n"
    "Content-Type: multipart/digest; boundary=\"dg\"\r\n"
    "\r\n"
    "--dg\r\n"
    "\r\n"
    "Subject: one\r\n"
    "\r\n"
    "first\r\n"
    "--dg\r\n"
    "\r\n"
    "Subject: two\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>https://two.example/</p>\r\n"
    "--dg--\r\n";

static void check_digest(struct msg *m)
{
	const struct msg_part *p;
	char *const *v;
	size_t n = msg_parts(m, &p);

	eq_str("subject", msg_subject(m), "digest");
	eq_int("parts", (long long)n, 5);
	if (n == 5) {
		eq_str("1 type", p[1].type, "message/rfc822");
		eq_int("1 size", (long long)p[1].size, 21);
		eq_str("2 type", p[2].type, "text/plain");
		eq_int("2 parent", p[2].parent, 1);
		eq_str("4 type", p[4].type, "text/html");
	}
	eq_int("urls", (long long)msg_urls(m, &v), 1);
	eq_int("alerts",
	       (long long)msg_alerts(m, &(const struct msg_alert *){0}), 0);
}

/* ---- Received chain with IPv6, obsolete date syntax ---- */

static const char chain[] =
    "Received: by mx2.example.net (Postfix, from userid 0) id 1; "
    "Wed, 25 Nov 2026 12:00:03 +0000\r\n"
    "Received: from client.example.org (client.example.org\r\n"
    " [IPv6:2001:db8::25]) by mx.example.net with ESMTP id 2\r\n"
    "Received: from relay (relay.example.com 203.0.113.9) by x; Wed, 25 Nov "
    "2026 11:59:00 +0000\r\n"
    "X-Originating-IP: [192.0.2.55]\r\n"
    "Date: 25 Nov 26 07:00 EST\r\n"
    "Message-Id: <chain@example.com>\r\n"
    "In-Reply-To: <prev@example.com>\r\n"
    "From: <>\r\n"
    "\r\n"
    "x\r\n";

static void check_chain(struct msg *m)
{
	char *const *v;
	size_t n = msg_path(m, &v);
	int64_t ts = 0;

	eq_int("path", (long long)n, 2);
	if (n == 2) {
		eq_str("path 0", v[0], "2001:db8::25");
		eq_str("path 1", v[1], "203.0.113.9");
	}
	eq_str("x-originating-ip", msg_header(m, MSG_HDR_X_ORIGINATING_IP),
	       "[192.0.2.55]");
	eq_int("date ok", msg_date(m, &ts), 1);
	eq_int("date", ts, 1795608000LL * 1000000); /* 12:00Z */
	eq_str("in-reply-to", msg_header(m, MSG_HDR_IN_REPLY_TO),
	       "<prev@example.com>");
	eq_int("no missing alert", alert_count(m, "missing_date_or_msgid"), 0);
	msg_check_from(m, "someone@example.org"); /* From has no domain */
	eq_int("no mismatch", alert_count(m, "header_from_mismatch"), 0);
}

/* ---- a message written by Python's email package ---- */

/* Generated with Python 3.11.7 email package (policy.SMTP), parts */
/* checked against its own parser: type, file name, decoded size, SHA-256. */
static const char py_msg[] =
    "From: =?utf-8?q?D=C5=93=2C_J=C3=B6hn?= <john@example.com>\r\n"
    "To: a@example.org, \"Smith, Ann\" <ann@example.org>\r\n"
    "Cc: Grp: c1@example.org, c2@example.org;\r\n"
    "Subject: =?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4g4oCU?= lange Betreffzeile "
    "lange\r\n"
    " Betreffzeile lange Betreffzeile lange Betreffzeile lange Betreffzeile "
    "lange\r\n"
    " Betreffzeile \r\n"
    "Date: Thu, 26 Nov 2026 10:11:12 +0100\r\n"
    "Message-ID: <py1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; "
    "boundary=\"===============4531609120558558933==\"\r\n"
    "\r\n"
    "--===============4531609120558558933==\r\n"
    "Content-Type: multipart/alternative;\r\n"
    " boundary=\"===============9185390303565873768==\"\r\n"
    "\r\n"
    "--===============9185390303565873768==\r\n"
    "Content-Type: text/plain; charset=\"utf-8\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Plain =C3=BCn=C3=AFcode text, see https://example.com/=C3=A4?x=3D1\r\n"
    "long line long line long line long line long line long line long line "
    "long li=\r\n"
    "ne long line long line long line long line long line long line long line "
    "long=\r\n"
    " line long line long line long line long line long line long line long "
    "line l=\r\n"
    "ong line long line long line long line long line long line long "
    "line=20\r\n"
    "\r\n"
    "--===============9185390303565873768==\r\n"
    "Content-Type: text/html; charset=\"utf-8\"\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "<html><body><a href=\"https://example.com/html\">x</a> "
    "\303\251</body></html>\r\n"
    "\r\n"
    "--===============9185390303565873768==--\r\n"
    "\r\n"
    "--===============4531609120558558933==\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=utf-8''Pr%C3%BCfbericht%202026%20%E2%80%93%20final%20version%"
    "20w;\r\n"
    " filename*1*=ith%20a%20very%20long%20name.pdf\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "AB8+XXybutn4FzZVdJOy0fAPLk1si6rJ6AcmRWSDosHg/"
    "x49XHuaudj3FjVUc5Kx0O8OLUxriqnI\r\n"
    "5wYlRGOCocDf/h08W3qZuNf2FTRTcpGwz+4NLEtqiajH5gUkQ2KBoL/e/"
    "Rw7WnmYt9b1FDNScZCv\r\n"
    "zu0MK0ppiKfG5QQjQmGAn77d/Bs6WXiXttX0EzJRcI+uzewLKkloh6bF5AMiQWB/"
    "nr3c+xo5WHeW\r\n"
    "tdTzEjFQb46tzOsKKUhnhqXE4wIhQF9+nbzb+hk4V3aVtNPyETBPbo2sy+"
    "oJKEdmhaTD4gEgP159\r\n"
    "nLva+Rg3VnWUs9LxEC9ObYyryukIJ0ZlhKPC4QAfPl18m7rZ+"
    "Bc2VXSTstHwDy5NbIuqyegHJkVk\r\n"
    "g6LB4P8ePVx7mrnY9xY1VHOSsdDvDi1Ma4qpyOcGJURjgqHA3/4dPFt6mbjX9hU0U3KRsM/"
    "uDSxL\r\n"
    "aomox+YFJENigaC/"
    "3v0cO1p5mLfW9RQzUnGQr87tDCtKaYinxuUEI0JhgJ++3fwbOll4l7bV9BMy\r\n"
    "UXCPrs3sCypJaIemxeQDIkFgf5693PsaOVh3lrXU8xIxUG+OrczrCilIZ4alxOMCIUBffp282/"
    "oZ\r\n"
    "OFd2lbTT8hEwT26NrMvqCShHZoWkw+"
    "IBID9efZy72vkYN1Z1lLPS8RAvTm2Mq8rpCCdGZYSjwuEA\r\n"
    "Hz5dfJu62fgXNlV0k7LR8A8uTWyLqsnoByZFZIOiweD/"
    "Hj1ce5q52PcWNVRzkrHQ7w4tTGuKqcjn\r\n"
    "BiVEY4KhwN/+HTxbepm41/"
    "YVNFNykbDP7g0sS2qJqMfmBSRDYoGgv979HDtaeZi31vUUM1JxkK/O\r\n"
    "7QwrSmmIp8blBCNCYYCfvt38GzpZeJe21fQTMlFwj67N7AsqSWiHpsXkAyJBYH+"
    "evdz7GjlYd5a1\r\n"
    "1PMSMVBvjq3M6wopSGeGpcTjAiFAX36dvNv6GThXdpW00/IRME9ujazL6gkoR2aFpMPiASA/"
    "Xn2c\r\n"
    "u9r5GDdWdZSz0vEQL05tjKvK6QgnRmWEo8LhAB8+"
    "XXybutn4FzZVdJOy0fAPLk1si6rJ6AcmRWSD\r\n"
    "osHg/x49XHuaudj3FjVUc5Kx0O8OLUxriqnI5wYlRGOCocDf/"
    "h08W3qZuNf2FTRTcpGwz+4NLEtq\r\n"
    "iajH5gUkQ2KBoL/e/Rw7WnmYt9b1FDNScZCvzu0MK0ppiKfG5QQjQmGAn77d/"
    "Bs6WXiXttX0EzJR\r\n"
    "cI+uzewLKkloh6bF5AMiQWB/"
    "nr3c+xo5WHeWtdTzEjFQb46tzOsKKUhnhqXE4wIhQF9+nbzb+hk4\r\n"
    "V3aVtNPyETBPbo2sy+oJKEdmhaTD4gEgP159nLva+"
    "Rg3VnWUs9LxEC9ObYyryukIJ0ZlhKPC4QAf\r\n"
    "Pl18m7rZ+"
    "Bc2VXSTstHwDy5NbIuqyegHJkVkg6LB4P8ePVx7mrnY9xY1VHOSsdDvDi1Ma4qpyOcG\r\n"
    "JURjgqHA3/4dPFt6mbjX9hU0U3KRsM/uDSxLaomox+YFJENigaC/"
    "3v0cO1p5mLfW9RQzUnGQr87t\r\n"
    "DCtKaYinxuUEI0JhgJ++"
    "3fwbOll4l7bV9BMyUXCPrs3sCypJaIemxeQDIkFgf5693PsaOVh3lrXU\r\n"
    "8xIxUG+OrczrCilIZ4alxOMCIUBffp282/"
    "oZOFd2lbTT8hEwT26NrMvqCShHZoWkw+IBID9efZy7\r\n"
    "2vkYN1Z1lLPS8RAvTm2Mq8rpCCdGZYSjwuEAHz5dfJu62fgXNlV0k7LR8A8uTWyLqsnoByZFZI"
    "Oi\r\n"
    "weD/Hj1ce5q52PcWNVRzkrHQ7w4tTGuKqcjnBiVEY4KhwN/+HTxbepm41/"
    "YVNFNykbDP7g0sS2qJ\r\n"
    "qMfmBSRDYoGgv979HDtaeZi31vUUM1JxkK/"
    "O7QwrSmmIp8blBCNCYYCfvt38GzpZeJe21fQTMlFw\r\n"
    "j67N7AsqSWiHpsXkAyJBYH+"
    "evdz7GjlYd5a11PMSMVBvjq3M6wopSGeGpcTjAiFAX36dvNv6GThX\r\n"
    "dpW00/IRME9ujazL6gkoR2aFpMPiASA/"
    "Xn2cu9r5GDdWdZSz0vEQL05tjKvK6QgnRmWEo8LhAB8+\r\n"
    "XXybutn4FzZVdJOy0fAPLk1si6rJ6AcmRWSDosHg/"
    "x49XHuaudj3FjVUc5Kx0O8OLUxriqnI5wYl\r\n"
    "RGOCocDf/h08W3qZuNf2FTRTcpGwz+4NLEtqiajH5gUkQ2KBoL/e/"
    "Rw7WnmYt9b1FDNScZCvzu0M\r\n"
    "K0ppiKfG5QQjQmGAn77d/Bs6WXiXttX0EzJRcI+uzewLKkloh6bF5AMiQWB/"
    "nr3c+xo5WHeWtdTz\r\n"
    "EjFQb46tzOsKKUhnhqXE4wIhQF9+nbzb+hk4V3aVtNPyETBPbo2sy+"
    "oJKEdmhaTD4gEgP159nLva\r\n"
    "+Rg3VnWUs9LxEC9ObYyryukIJ0ZlhKPC4QAfPl18m7rZ+"
    "Bc2VXSTstHwDy5NbIuqyegHJkVkg6LB\r\n"
    "4P8ePVx7mrnY9xY1VHOSsdDvDi1Ma4qpyOcGJURjgqHA3/4dPFt6mbjX9hU0U3KRsM/"
    "uDSxLaomo\r\n"
    "x+YFJENigaC/"
    "3v0cO1p5mLfW9RQzUnGQr87tDCtKaYinxuUEI0JhgJ++3fwbOll4l7bV9BMyUXCP\r\n"
    "rs3sCypJaIemxeQDIkFgf5693PsaOVh3lrXU8xIxUG+OrczrCilIZ4alxOMCIUBffp282/"
    "oZOFd2\r\n"
    "lbTT8hEwT26NrMvqCShHZoWkw+"
    "IBID9efZy72vkYN1Z1lLPS8RAvTm2Mq8rpCCdGZYSjwuEAHz5d\r\n"
    "fJu62fgXNlV0k7LR8A8uTWyLqsnoByZFZIOiweD/"
    "Hj1ce5q52PcWNVRzkrHQ7w4tTGuKqcjnBiVE\r\n"
    "Y4KhwN/+HTxbepm41/YVNFNykbDP7g0sS2qJqMfmBSRDYoGgv979HDtaeZi31vUUM1JxkK/"
    "O7Qwr\r\n"
    "SmmIp8blBCNCYYCfvt38GzpZeJe21fQTMlFwj67N7AsqSWiHpsXkAyJBYH+"
    "evdz7GjlYd5a11PMS\r\n"
    "MVBvjq3M6wopSGeGpcTjAiFAX36dvNv6GThXdpW00/IRME9ujazL6gkoR2aFpMPiASA/"
    "Xn2cu9r5\r\n"
    "GDdWdZSz0vEQL05tjKvK6QgnRmWEo8LhAB8+"
    "XXybutn4FzZVdJOy0fAPLk1si6rJ6AcmRWSDosHg\r\n"
    "/x49XHuaudj3FjVUc5Kx0O8OLUxriqnI5wYlRGOCocDf/"
    "h08W3qZuNf2FTRTcpGwz+4NLEtqiajH\r\n"
    "5gUkQ2KBoL/e/Rw7WnmYt9b1FDNScZCvzu0MK0ppiKfG5QQjQmGAn77d/"
    "Bs6WXiXttX0EzJRcI+u\r\n"
    "zewLKkloh6bF5AMiQWB/"
    "nr3c+xo5WHeWtdTzEjFQb46tzOsKKUhnhqXE4wIhQF9+nbzb+hk4V3aV\r\n"
    "tNPyETBPbo2sy+oJKEdmhaTD4gEgP159nLva+"
    "Rg3VnWUs9LxEC9ObYyryukIJ0ZlhKPC4QAfPl18\r\n"
    "m7rZ+"
    "Bc2VXSTstHwDy5NbIuqyegHJkVkg6LB4P8ePVx7mrnY9xY1VHOSsdDvDi1Ma4qpyOcGJURj\r"
    "\n"
    "gqHA3/4dPFt6mbjX9hU0U3KRsM/uDSxLaomox+YFJENigaC/"
    "3v0cO1p5mLfW9RQzUnGQr87tDCtK\r\n"
    "aYinxuUEI0JhgJ++"
    "3fwbOll4l7bV9BMyUXCPrs3sCypJaIemxeQDIkFgf5693PsaOVh3lrXU8xIx\r\n"
    "UG+OrczrCilIZ4alxOMCIUBffp282/"
    "oZOFd2lbTT8hEwT26NrMvqCShHZoWkw+IBID9efZy72vkY\r\n"
    "N1Z1lLPS8RAvTm2Mq8rpCCdGZYSjwuEAHz5dfJu62fgXNlV0k7LR8A8uTWyLqsnoByZFZIOiwe"
    "D/\r\n"
    "Hj1ce5q52PcWNVRzkrHQ7w4tTGuKqcjnBiVEY4KhwN/+HTxbepm41/"
    "YVNFNykbDP7g0sS2qJqMfm\r\n"
    "BSRDYoGgv979HDtaeZi31vUUM1JxkK/"
    "O7QwrSmmIp8blBCNCYYCfvt38GzpZeJe21fQTMlFwj67N\r\n"
    "7AsqSWiHpsXkAyJBYH+"
    "evdz7GjlYd5a11PMSMVBvjq3M6wopSGeGpcTjAiFAX36dvNv6GThXdpW0\r\n"
    "0/IRME9ujazL6gkoR2aFpMPiASA/"
    "Xn2cu9r5GDdWdZSz0vEQL05tjKvK6QgnRmWEo8LhAB8+XXyb\r\n"
    "utn4FzZVdJOy0fAPLk1si6rJ6AcmRWSDosHg/"
    "x49XHuaudj3FjVUc5Kx0O8OLUxriqnI5wYlRGOC\r\n"
    "ocDf/h08W3qZuNf2FTRTcpGwz+4NLEtqiajH5gUkQ2KBoL/e/"
    "Rw7WnmYt9b1FDNScZCvzu0MK0pp\r\n"
    "iKfG5QQjQmGAn77d/Bs6WXiXttX0EzJRcI+uzewLKkloh6bF5AMiQWB/"
    "nr3c+xo5WHeWtdTzEjFQ\r\n"
    "b46tzOsKKUhnhqXE4wIhQF9+nbzb+hk4V3aVtNPyETBPbo2sy+oJKEdmhaTD4gEgP159nLva+"
    "Rg3\r\n"
    "VnWUs9LxEC9ObYyryukIJ0ZlhKPC4QAfPl18m7rZ+"
    "Bc2VXSTstHwDy5NbIuqyegHJkVkg6LB4P8e\r\n"
    "PVx7mrnY9xY1VHOSsdDvDi1Ma4qpyOcGJURjgqHA3/4dPFt6mbjX9hU0U3KRsM/"
    "uDSxLaomox+YF\r\n"
    "JENigaC/"
    "3v0cO1p5mLfW9RQzUnGQr87tDCtKaYinxuUEI0JhgJ++3fwbOll4l7bV9BMyUXCPrs3s\r\n"
    "CypJaIemxeQDIkFgf5693PsaOVh3lrXU8xIxUG+OrczrCilIZ4alxOMCIUBffp282/"
    "oZOFd2lbTT\r\n"
    "8hEwT26NrMvqCShHZoWkw+"
    "IBID9efZy72vkYN1Z1lLPS8RAvTm2Mq8rpCCdGZYSjwuEAHz5dfJu6\r\n"
    "2fgXNlV0k7LR8A8uTWyLqsnoByZFZIOiweD/"
    "Hj1ce5q52PcWNVRzkrHQ7w4tTGuKqcjnBiVEY4Kh\r\n"
    "wN/+HTxbepm41/YVNFNykbDP7g0sS2qJqMfmBSRDYoGgv979HDtaeZi31vUUM1JxkK/"
    "O7QwrSmmI\r\n"
    "p8blBCNCYYCfvt38GzpZeJe21fQTMlFwj67N7AsqSWiHpsXkAyJBYH+"
    "evdz7GjlYd5a11PMSMVBv\r\n"
    "jq3M6wopSGeGpcTjAiFAX36dvNv6GThXdpW00/IRME9ujazL6gkoR2aFpMPiASA/"
    "Xn2cu9r5GDdW\r\n"
    "dZSz0vEQL05tjKvK6QgnRmWEo8LhAB8+XXybutn4FzZVdJOy0fAPLk1si6rJ6AcmRWSDosHg/"
    "x49\r\n"
    "XHuaudj3FjVUc5Kx0O8OLUxriqnI5wYlRGOCocDf/"
    "h08W3qZuNf2FTRTcpGwz+4NLEtqiajH5gUk\r\n"
    "Q2KBoL/e/Rw7WnmYt9b1FDNScZCvzu0MK0ppiKfG5QQjQmGAn77d/"
    "Bs6WXiXttX0EzJRcI+uzewL\r\n"
    "Kkloh6bF5AMiQWB/"
    "nr3c+xo5WHeWtdTzEjFQb46tzOsKKUhnhqXE4wIhQF9+nbzb+hk4V3aVtNPy\r\n"
    "ETBPbo2sy+oJKEdmhaTD4gEgP159nLva+"
    "Rg3VnWUs9LxEC9ObYyryukIJ0ZlhKPC4QAfPl18m7rZ\r\n"
    "+Bc2VXSTstHwDy5NbIuqyegHJkVkg6LB4P8ePVx7mrnY9xY1VHOSsdDvDi1Ma4qpyOcGJURjgq"
    "HA\r\n"
    "3/4dPFt6mbjX9hU0U3KRsM/uDSxLaomox+YFJENigaC/"
    "3v0cO1p5mLfW9RQzUnGQr87tDCtKaYin\r\n"
    "xuUEI0JhgJ++"
    "3fwbOll4l7bV9BMyUXCPrs3sCypJaIemxeQDIkFgf5693PsaOVh3lrXU8xIxUG+O\r\n"
    "rczrCilIZ4alxOMCIUBffp282/"
    "oZOFd2lbTT8hEwT26NrMvqCShHZoWkw+IBID9efZy72vkYN1Z1\r\n"
    "lLPS8RAvTm2Mq8rpCCdGZYSjwuEAHz5dfJu62fgXNlV0k7LR8A8uTWyLqsnoByZFZIOiweD/"
    "Hj1c\r\n"
    "e5q52PcWNVRzkrHQ7w4tTGuKqcjnBiVEY4KhwN/+HTxbepm41/"
    "YVNFNykbDP7g0sS2qJqMfmBSRD\r\n"
    "YoGgv979HDtaeZi31vUUM1JxkK/"
    "O7QwrSmmIp8blBCNCYYCfvt38GzpZeJe21fQTMlFwj67N7Asq\r\n"
    "SWiHpsXkAyJBYH+evdz7GjlYd5a11PMSMVBvjq3M6wopSGeGpcTjAiFAX36dvNv6GThXdpW00/"
    "IR\r\n"
    "ME9ujazL6gkoR2aFpMPiASA/"
    "Xn2cu9r5GDdWdZSz0vEQL05tjKvK6QgnRmWEo8LhAB8+XXybutn4\r\n"
    "FzZVdJOy0fAPLk1si6rJ6AcmRWSDosHg/"
    "x49XHuaudj3FjVUc5Kx0O8OLUxriqnI5wYlRGOCocDf\r\n"
    "/h08W3qZuNf2FTRTcpGwz+4NLEtqiajH5gUkQ2KBoL/e/"
    "Rw7WnmYt9b1FDNScZCvzu0MK0ppiKfG\r\n"
    "5QQjQmGAn77d/Bs6WXiXttX0EzJRcI+uzewLKkloh6bF5AMiQWB/"
    "nr3c+xo5WHeWtdTzEjFQb46t\r\n"
    "zOsKKUhnhqXE4wIhQF9+nbzb+hk4V3aVtNPyETBPbo2sy+oJKEdmhaTD4gEgP159nLva+"
    "Rg3VnWU\r\n"
    "s9LxEC9ObYyryukIJ0ZlhKPC4QAfPl18m7rZ+"
    "Bc2VXSTstHwDy5NbIuqyegHJkVkg6LB4P8ePVx7\r\n"
    "mrnY9xY1VHOSsdDvDi1Ma4qpyOcGJURjgqHA3/4dPFt6mbjX9hU0U3KRsM/"
    "uDSxLaomox+YFJENi\r\n"
    "gaC/3v0cO1p5mLfW9RQzUnGQr87tDCtKaYinxuUEI0JhgJ++3fwbOlk=\r\n"
    "\r\n"
    "--===============4531609120558558933==\r\n"
    "Content-Type: text/plain; charset=\"utf-8\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "caf=C3=A9 notes\r\n"
    "\r\n"
    "--===============4531609120558558933==\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Disposition: attachment\r\n"
    "\r\n"
    "From: Inner Person <inner@inner.test>\r\n"
    "To: x@inner.test\r\n"
    "Subject: Inner =?utf-8?b?w5xuw69jb2Rl?= subject\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; "
    "boundary=\"===============1840018729287401494==\"\r\n"
    "\r\n"
    "--===============1840018729287401494==\r\n"
    "Content-Type: text/plain; charset=\"utf-8\"\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "inner body http://inner.test/link\r\n"
    "\r\n"
    "--===============1840018729287401494==\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"tool.exe\"\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "TVoAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzND"
    "U2\r\n"
    "Nzg5Ojs8PT4/"
    "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5v\r\n"
    "cHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+"
    "QkZKTlJWWl5iZmpucnZ6foKGio6Slpqeo\r\n"
    "qaqrrK2ur7CxsrO0tba3uLm6u7y9vr/"
    "AwcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3+Dh\r\n"
    "4uPk5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/"
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBka\r\n"
    "GxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+"
    "P0BBQkNERUZHSElKS0xNTk9QUVJT\r\n"
    "VFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+"
    "AgYKDhIWGh4iJiouM\r\n"
    "jY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/"
    "wMHCw8TF\r\n"
    "xsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/"
    "P3+\r\n"
    "/wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NT"
    "Y3\r\n"
    "ODk6Ozw9Pj9AQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm"
    "9w\r\n"
    "cXJzdHV2d3h5ent8fX5/"
    "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+goaKjpKWmp6ip\r\n"
    "qqusra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyMnKy8zNzs/"
    "Q0dLT1NXW19jZ2tvc3d7f4OHi\r\n"
    "4+Tl5ufo6err7O3u7/Dx8vP09fb3+Pn6+/z9/v8=\r\n"
    "\r\n"
    "--===============1840018729287401494==--\r\n"
    "\r\n"
    "--===============4531609120558558933==--\r\n";

static const struct py_part {
	const char *type, *name;
	long long size; /* -1: a container */
	const char *sha256;
} py_parts[] = {
    {"multipart/mixed", NULL, -1, NULL},
    {"multipart/alternative", NULL, -1, NULL},
    {"text/plain", NULL, 356,
     "ee0a953e1f7321ba802679464223b66a1064390cf4b48fc621fac69af0585e60"},
    {"text/html", NULL, 71,
     "e403cd7a0c55f165eb027164e59fee987aad024ef09a0aa729c6a3a6873a0523"},
    {"application/pdf",
     "Pr\303\274fbericht 2026 \342\200\223 final version with a very long "
     "name.pdf",
     5000, "11013d0e177469e6b385980a5a34d5b464ff15299481d5b4fe88922180606221"},
    {"text/plain", "notes.txt", 520,
     "4780e000aa6308b00fed413a8c027234bf9c9c8eb59f71f652bc79d6e7573898"},
    {"message/rfc822", NULL, -1, NULL},
    {"multipart/mixed", NULL, -1, NULL},
    {"text/plain", NULL, 35,
     "0ac84100fdb74c1dbefc7a49fcbf6f041b5b3f757724551e42a204d3b3993488"},
    {"application/octet-stream", "tool.exe", 770,
     "25b9d1a09a320f0469ddeacff677ac2f37ed41454da17978c953c84ae9be7281"},
};
static const char py_subject[] =
    "Gr\303\274\303\237e aus K\303\266ln \342\200\224 lange Betreffzeile lange "
    "Betreffzeile lange Betreffzeile lange Betreffzeile lange Betreffzeile "
    "lange Betreffzeile";

static void check_python(struct msg *m)
{
	const struct msg_part *p;
	size_t n = msg_parts(m, &p), i;
	char got[65], what[64];

	eq_str("subject", msg_subject(m), py_subject);
	eq_int("parts", (long long)n, sizeof(py_parts) / sizeof(py_parts[0]));
	for (i = 0; i < n && i < sizeof(py_parts) / sizeof(py_parts[0]); i++) {
		snprintf(what, sizeof(what), "part %zu type", i);
		eq_str(what, p[i].type, py_parts[i].type);
		snprintf(what, sizeof(what), "part %zu name", i);
		eq_str(what, p[i].filename, py_parts[i].name);
		if (py_parts[i].size < 0)
			continue;
		snprintf(what, sizeof(what), "part %zu size", i);
		eq_int(what, (long long)p[i].size, py_parts[i].size);
		snprintf(what, sizeof(what), "part %zu sha256", i);
		part_sha(got, &p[i]);
		eq_str(what, got, py_parts[i].sha256);
	}
	eq_int("executable", alert_count(m, "attachment_executable"), 1);
	eq_int("malformed", alert_count(m, "malformed_mime"), 0);
}

/* ---- 50 MB of base64, streamed: memory does not grow ---- */

static void test_big(void)
{
	static const char head[] =
	    "From: big@example.com\r\n"
	    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
	    "Message-ID: <big@example.com>\r\n"
	    "Content-Type: multipart/mixed; boundary=big\r\n"
	    "\r\n"
	    "--big\r\n"
	    "Content-Type: application/octet-stream; name=big.bin\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n";
	const size_t total = 50u << 20; /* decoded octets */
	uint8_t raw[57 * 1024];
	struct sbuf enc = {0};
	struct sha256_ctx c;
	struct msg *m = msg_new(NULL);
	const struct msg_part *a;
	size_t done = 0, mem1 = 0, i, piece = 0;
	uint8_t d[32];
	char want[65], got[65];

	why[0] = '\0';
	sha256_init(&c);
	msg_feed(m, (const uint8_t *)head, sizeof(head) - 1);
	while (done < total) {
		for (i = 0; i < sizeof(raw); i++)
			raw[i] = (uint8_t)((done + i) * 2654435761u >> 13);
		sha256_update(&c, sizeof(raw), raw);
		sb_reset(&enc);
		b64enc(&enc, raw, sizeof(raw), 76);
		/* odd pieces, so lines are cut everywhere */
		for (i = 0; i < enc.len; i += piece) {
			piece = 4093 + (i % 3);
			msg_feed(m, (const uint8_t *)enc.p + i,
				 enc.len - i < piece ? enc.len - i : piece);
		}
		done += sizeof(raw);
		if (!mem1 && done >= (1u << 20))
			mem1 = msg_mem(m);
	}
	if (msg_mem(m) != mem1)
		fail("memory grew from %zu to %zu", mem1, msg_mem(m));
	if (mem1 > 64 * 1024)
		fail("%zu bytes held for one message", mem1);
	msg_feed(m, (const uint8_t *)"--big--\r\n", 9);
	msg_end(m, true);
	sha256_digest(&c, 32, d);
	for (i = 0; i < 32; i++)
		sprintf(want + 2 * i, "%02x", d[i]);
	a = attachment(m, 0);
	if (!a) {
		fail("no attachment");
	} else {
		eq_int("size", (long long)a->size, (long long)done);
		part_sha(got, a);
		eq_str("sha256", got, want);
	}
	msg_free(m);
	sb_free(&enc);
	if (why[0]) {
		printf("FAIL message/big_base64_50mb: %s\n", why);
		failed++;
	} else {
		printf("PASS message/big_base64_50mb\n");
		passed++;
	}
}

/* ---- cut messages ---- */

static void test_cut(void)
{
	struct msg *m = msg_new(NULL);
	const struct msg_part *p;

	why[0] = '\0';
	msg_feed(m, (const uint8_t *)"From: a@b\r\nSubject: cut", 23);
	msg_end(m, false);
	eq_str("subject", msg_subject(m), "cut");
	eq_int("no missing alert", alert_count(m, "missing_date_or_msgid"), 0);
	eq_int("parts", (long long)msg_parts(m, &p), 1);
	msg_free(m);
	if (why[0]) {
		printf("FAIL message/cut_in_headers: %s\n", why);
		failed++;
	} else {
		printf("PASS message/cut_in_headers\n");
		passed++;
	}
}

/*
 * A message cut at every offset (a gap, a reset): each part that began
 * still ends exactly once through the hooks, with all its octets.
 */
static void test_cut_hooks(const char *name, const char *text)
{
	size_t len = strlen(text), cut;
	struct msg *m;

	why[0] = '\0';
	for (cut = 0; cut <= len && !why[0]; cut++) {
		m = hooked_msg(NULL);
		msg_feed(m, (const uint8_t *)text, cut);
		msg_end(m, false);
		check_hooked(m);
		if (why[0]) {
			char w[sizeof(why)];

			memcpy(w, why, sizeof(w));
			why[0] = '\0';
			fail("cut at %zu: %.900s", cut, w);
		}
		msg_free(m);
	}
	if (why[0]) {
		printf("FAIL message/%s: %s\n", name, why);
		failed++;
	} else {
		printf("PASS message/%s\n", name);
		passed++;
	}
}

/* A comment before the type (RFC 5322 3.2.2); &amp; in an HTML href. */
static const char commented[] =
    "From: a@b.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "Message-ID: <c@b.test>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: (a comment) multipart/mixed; boundary=\"XX\"\r\n\r\n"
    "--XX\r\nContent-Type: text/html\r\n\r\n"
    "<a href=\"https://a.test/p?x=1&amp;y=2\">link</a>\r\n"
    "--XX--\r\n";

static void check_commented(struct msg *m)
{
	const struct msg_part *p;
	char *const *v;
	size_t n = msg_parts(m, &p);

	eq_int("parts", (long long)n, 2);
	if (n == 2) {
		eq_str("0 type", p[0].type, "multipart/mixed");
		eq_str("1 type", p[1].type, "text/html");
	}
	n = msg_urls(m, &v);
	eq_int("urls", (long long)n, 1);
	if (n == 1)
		eq_str("url 0", v[0], "https://a.test/p?x=1&y=2");
}

int main(void)
{
	make_mixed();
	make_eml();
	make_execs();
	make_deep();
	make_bighdr();
	make_fill();
	run("multipart_mixed", mixed, check_mixed);
	run("nested_alternative", nested, check_nested);
	run("attached_eml", eml, check_eml);
	run("rfc2047_folded", words, check_words);
	run("rfc2231_filenames", r2231, check_2231);
	run("address_lists", addrs, check_addrs);
	run("executables", execs, check_execs);
	run("unclosed_multipart", unclosed, check_unclosed);
	run("multipart_without_boundary", noboundary, check_noboundary);
	run("depth_limit", deep, check_deep);
	run_lim("header_limit", bighdr, &small, check_bighdr);
	run_lim("url_cap", manyurls, &small, check_manyurls);
	run("bare_lf_8bit", barelf, check_barelf);
	run("decode_buffer_filled_at_line_ends", fill_msg, check_fill);
	run("python_email_package", py_msg, check_python);
	run("email_json_names", mixed, check_json);
	run("email_json_escapes", escapes, check_escapes);
	run("multipart_digest", digest, check_digest);
	run("received_chain_dates", chain, check_chain);
	run("comment_before_type_html_amp", commented, check_commented);
	test_cut();
	test_cut_hooks("hooks_cut_anywhere_mixed", mixed);
	test_cut_hooks("hooks_cut_anywhere_attached_eml", eml);
	test_big();
	printf("message: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
