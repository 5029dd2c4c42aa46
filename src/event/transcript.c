/* SPDX-License-Identifier: GPL-2.0-or-later */
/* transcript.c - the human view: C:/S: lines per session, as with telnet. */
#include "transcript.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Text kept per session; sessions interleave, so blocks print at the end. */
#define TR_SESSION_MAX (1024 * 1024)

static void tr_line(struct tr *f, char margin, const char *who,
		    const char *text, size_t n)
{
	struct sbuf *b = &f->text;
	char pre[5] = {margin, ' ', who[0], ':', ' '};

	b->max = TR_SESSION_MAX;
	sb_append(b, pre, sizeof(pre));
	text_escape(b, text, n);
	sb_append(b, "\n", 1);
}

void tr_command(struct tr *f, const struct smtp_cmd *c)
{
	tr_line(f, ' ', "C", c->line, c->line_len);
}

void tr_reply(struct tr *f, const struct smtp_cmd *c,
	      const struct smtp_reply *r)
{
	const char *p = r->raw, *end = r->raw + r->raw_len, *nl;
	char margin = r->code >= 400 || !r->code ? '!' : ' ', note[200];
	char meaning[160];
	unsigned shown = 0;
	int n;

	(void)c;
	for (;;) {
		nl = memchr(p, '\n', end - p);
		tr_line(f, margin, "S", p,
			nl ? (size_t)(nl - p) : (size_t)(end - p));
		shown++;
		if (!nl)
			break;
		p = nl + 1;
	}
	/* an error reply: what its code means, on a line of its own */
	if (r->code >= 400 &&
	    smtp_explain(r->code, r->enhanced, meaning, sizeof(meaning))) {
		if (r->enhanced[0])
			n = snprintf(note, sizeof(note), "!      (%s) %s\n",
				     r->enhanced, meaning);
		else
			n = snprintf(note, sizeof(note), "!      (%d) %s\n",
				     r->code, meaning);
		sb_append(&f->text, note,
			  (size_t)n < sizeof(note) ? (size_t)n
						   : sizeof(note) - 1);
	}
	/* the decoder keeps the start of a long reply: say what is missing */
	if (r->lines > shown) {
		n = snprintf(note, sizeof(note),
			     "! ** %u more lines of this reply not kept\n",
			     r->lines - shown);
		sb_append(&f->text, note, n);
	}
}

void tr_body(struct tr *f, const struct smtp_txn *t)
{
	char head[96];
	struct sbuf line = {0};
	int n;

	n = snprintf(head, sizeof(head), "[message: %" PRIu64 " bytes%s",
		     t->size, t->body_done ? "" : ", cut short");
	sb_append(&line, head, n);
	if (t->subject) {
		sb_append(&line, ", Subject: ", 11);
		sb_append(&line, t->subject, strlen(t->subject));
	}
	sb_append(&line, "]", 1);
	tr_line(f, ' ', "C", sb_str(&line), line.len);
	if (t->body_done && !t->bdat)
		tr_line(f, ' ', "C", ".", 1);
	sb_free(&line);
}

void tr_alert(struct tr *f, const struct smtp_alert *a)
{
	struct sbuf *b = &f->text;
	const char *kind = smtp_alert_kind_str(a->kind);

	if (a->kind == SMTP_ALERT_REPLY_421 ||
	    a->kind == SMTP_ALERT_REPLY_4XX || a->kind == SMTP_ALERT_REPLY_5XX)
		return;
	b->max = TR_SESSION_MAX;
	sb_append(b, "! ** ", 5);
	sb_append(b, kind, strlen(kind));
	if (a->detail) {
		sb_append(b, ": ", 2);
		text_escape(b, a->detail, strlen(a->detail));
	}
	sb_append(b, "\n", 1);
}

static void fmt_endpoint(char *out, size_t n, const char *ip, uint16_t port)
{
	if (strchr(ip, ':'))
		snprintf(out, n, "[%s]:%u", ip, port);
	else
		snprintf(out, n, "%s:%u", ip, port);
}

/*
 * The dialogue with colours, as grep and git use them: a 5xx reply and
 * an alert red, a 4xx yellow (and the meaning line under each in its
 * reply's colour), client lines dim. The text itself has none.
 */
static void put_colored(FILE *out, const char *p)
{
	const char *color = NULL, *nl;

	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if (!strncmp(p, "! S: 5", 6) || !strncmp(p, "! S: 0", 6) ||
		    !strncmp(p, "! ** ", 5))
			color = "\033[31m";
		else if (!strncmp(p, "! S: 4", 6))
			color = "\033[33m";
		else if (!strncmp(p, "  C: ", 5))
			color = "\033[2m";
		else if (strncmp(p, "!      (", 8)) /* a meaning: as above */
			color = NULL;
		if (color)
			fprintf(out, "%s%.*s\033[0m\n", color, (int)(nl - p),
				p);
		else
			fprintf(out, "%.*s\n", (int)(nl - p), p);
		if (!*nl)
			break;
	}
}

void tr_end(const struct tr *f, FILE *out, const struct tr_head *h,
	    const struct smtp_session_info *si)
{
	char t[40], cl[64], sv[64];
	int64_t d = si->ts_end - si->ts_start;

	format_time(t, sizeof(t), si->ts_start);
	fmt_endpoint(cl, sizeof(cl), h->src_ip, h->src_port);
	fmt_endpoint(sv, sizeof(sv), h->dest_ip, h->dest_port);
	fprintf(out, "=== session %" PRIu64 "  %s  %s -> %s%s%s%s%s%s%s ===\n",
		h->session, t, cl, sv, h->tunnel ? "  (tunnel " : "",
		h->tunnel ? h->tunnel : "", h->tunnel_target[0] ? " to " : "",
		h->tunnel ? h->tunnel_target : "", h->tunnel ? ")" : "",
		si->midstream ? "  (capture began mid-session)" : "");
	if (h->color)
		put_colored(out, sb_str(&f->text));
	else
		fputs(sb_str(&f->text), out);
	if (f->text.truncated)
		fputs("  ... (transcript truncated)\n", out);
	if (si->tls.accepted && !si->tls.cleartext)
		fprintf(out,
			"  [TLS: %" PRIu64 " client and %" PRIu64
			" server bytes in all, encrypted part not shown]\n",
			si->bytes_client, si->bytes_server);
	fprintf(out,
		"--- end: %s, duration %" PRId64 ".%06" PRId64
		" s, %u message(s), %u error repl%s ---\n\n",
		smtp_close_str(si->close), d / 1000000, d % 1000000,
		f->messages, f->errors, f->errors == 1 ? "y" : "ies");
}

void tr_free(struct tr *t)
{
	sb_free(&t->text);
}
