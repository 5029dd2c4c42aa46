/* SPDX-License-Identifier: GPL-2.0-or-later */
/* util.c - allocation that aborts on failure, capped strings, wire escaping. */
#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(void)
{
	fputs("smtpscope: out of memory\n", stderr);
	abort();
}

void format_time(char *out, size_t n, int64_t ts)
{
	time_t sec = (time_t)(ts / 1000000);
	long usec = (long)(ts % 1000000);
	struct tm tm;

	if (usec < 0) {
		usec += 1000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+0000",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, usec);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("smtpscope: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void hex_encode(char *out, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[p[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void sb_reserve(struct sbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 64;

	if (n + 1 <= b->cap)
		return;
	while (cap < n + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void sb_append(struct sbuf *b, const void *data, size_t n)
{
	if (b->max && b->len + n > b->max) {
		b->truncated = 1;
		n = b->max > b->len ? b->max - b->len : 0;
	}
	sb_reserve(b, b->len + n);
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sb_reset(struct sbuf *b)
{
	b->len = 0;
	b->truncated = 0;
	if (b->p)
		b->p[0] = '\0';
}

void sb_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

const char *sb_str(const struct sbuf *b)
{
	return b->p ? b->p : "";
}

/*
 * Length of the valid UTF-8 sequence at p (RFC 3629), 0 if invalid; its
 * code point in *cp.
 */
static size_t utf8_len(const uint8_t *p, size_t n, uint32_t *cp)
{
	size_t len, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		*cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		*cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		*cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && *cp < 0x800) || (len == 4 && *cp < 0x10000) ||
	    (*cp >= 0xd800 && *cp <= 0xdfff) || *cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * Code points that move or hide text on a terminal although they are
 * valid UTF-8: C1 controls (U+009B is CSI), the line and paragraph
 * separators, and the bidirectional controls (Trojan Source,
 * CVE-2021-42574).
 */
static bool treacherous(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

enum esc_mode {
	ESC_WIRE, /* LF kept: it separates a multi-line reply's lines */
	ESC_JSON, /* ESC_WIRE's text escaped as json-c escapes a string */
	ESC_TEXT, /* one line for a person: LF and treacherous code points
		     escaped too */
};

/* Does the character at p need no escape? k: its UTF-8 length, 0 if bad. */
static bool plain(const uint8_t *p, size_t k, uint32_t cp, enum esc_mode m)
{
	if (k != 1)
		return k != 0 && !(m == ESC_TEXT && treacherous(cp));
	if (m == ESC_JSON && (*p == '"' || *p == '\\' || *p == '\n'))
		return false;
	if (*p == '\n')
		return m != ESC_TEXT;
	return *p >= 0x20 && *p != 0x7f;
}

static void escape(struct sbuf *out, const void *data, size_t n,
		   enum esc_mode m)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = data, *end = p + n;
	bool json = m == ESC_JSON;
	uint32_t cp = 0;

	while (p < end) {
		const uint8_t *run = p;
		size_t k = 0;

		/* copy the longest run that needs no escaping at once */
		for (; p < end; p += k) {
			k = utf8_len(p, end - p, &cp);
			if (!plain(p, k, cp, m))
				break;
		}
		if (p > run)
			sb_append(out, run, p - run);
		if (p >= end)
			break;
		if (json && (*p == '"' || *p == '\\' || *p == '\n')) {
			char esc[2] = {'\\', *p == '\n' ? 'n' : (char)*p};

			sb_append(out, esc, 2);
		} else if (k > 1) {
			/* a treacherous code point (ESC_TEXT): \uHHHH */
			char esc[6] = {'\\',
				       'u',
				       hex[cp >> 12 & 15],
				       hex[cp >> 8 & 15],
				       hex[cp >> 4 & 15],
				       hex[cp & 15]};

			sb_append(out, esc, sizeof(esc));
			p += k;
			continue;
		} else {
			char esc[5] = {'\\', '\\', 'x', hex[*p >> 4],
				       hex[*p & 15]};

			/* "\xHH", and its backslash escaped for JSON */
			sb_append(out, esc + !json, 5 - !json);
		}
		p++;
	}
	if (!out->p)
		sb_append(out, "", 0);
}

void wire_escape(struct sbuf *out, const void *data, size_t n)
{
	escape(out, data, n, ESC_WIRE);
}

void json_wire_escape(struct sbuf *out, const void *data, size_t n)
{
	escape(out, data, n, ESC_JSON);
}

void text_escape(struct sbuf *out, const void *data, size_t n)
{
	escape(out, data, n, ESC_TEXT);
}

char *wire_strndup(const void *data, size_t n)
{
	struct sbuf b = {0};

	if (!memchr(data, '\0', n))
		return xstrndup(data, n);
	wire_escape(&b, data, n);
	return b.p;
}

size_t utf8_valid(const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (!(k = utf8_len(p + i, n - i, &cp)))
			break;
		i += k;
	}
	return i;
}
