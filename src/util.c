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

static char *two_digits(char *p, char sep, int v)
{
	p[0] = sep;
	p[1] = (char)('0' + v / 10);
	p[2] = (char)('0' + v % 10);
	return p + 3;
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
	if (n >= 32 && tm.tm_year >= -1900 && tm.tm_year < 10000 - 1900) {
		/* the format below, without printf's cost (once an event) */
		char *p = out;
		int y = tm.tm_year + 1900;

		*p++ = (char)('0' + y / 1000);
		*p++ = (char)('0' + y / 100 % 10);
		*p++ = (char)('0' + y / 10 % 10);
		*p++ = (char)('0' + y % 10);
		p = two_digits(p, '-', tm.tm_mon + 1);
		p = two_digits(p, '-', tm.tm_mday);
		p = two_digits(p, 'T', tm.tm_hour);
		p = two_digits(p, ':', tm.tm_min);
		p = two_digits(p, ':', tm.tm_sec);
		*p++ = '.';
		for (int i = 5; i >= 0; i--, usec /= 10)
			p[i] = (char)('0' + usec % 10);
		memcpy(p + 6, "+0000", 6);
		return;
	}
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

void sb_append_slow(struct sbuf *b, const void *data, size_t n)
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

/* Is ASCII octet c written as it is? (plain() for one octet) */
static inline bool ascii_plain(uint8_t c, enum esc_mode m)
{
	if (c >= 0x20 && c != 0x7f)
		return !(m == ESC_JSON && (c == '"' || c == '\\'));
	return c == '\n' && m == ESC_WIRE;
}

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
			k = 1;
			if (*p < 0x80) { /* most text: no decoding */
				if (!ascii_plain(*p, m))
					break;
				continue;
			}
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

void jw_reset(struct jw *w)
{
	sb_reset(&w->b);
	w->depth = 0;
	w->more[0] = 0;
	w->keyed = 0;
}

/* A member's key (none in an array), after a comma if one came before. */
static void jw_key(struct jw *w, const char *key)
{
	if (w->keyed) { /* after jw_key_wire(): the value */
		w->keyed = 0;
		return;
	}
	if (w->more[w->depth])
		sb_append(&w->b, ",", 1);
	w->more[w->depth] = 1;
	if (key) {
		sb_append(&w->b, "\"", 1);
		sb_append(&w->b, key, strlen(key));
		sb_append(&w->b, "\":", 2);
	}
}

void jw_key_wire(struct jw *w, const char *key, size_t n)
{
	jw_key(w, NULL);
	sb_append(&w->b, "\"", 1);
	json_wire_escape(&w->b, key, n);
	sb_append(&w->b, "\":", 2);
	w->keyed = 1;
}

void jw_open(struct jw *w, const char *key, char c)
{
	jw_key(w, key);
	sb_append(&w->b, &c, 1);
	if (w->depth + 1 < sizeof(w->more))
		w->depth++;
	w->more[w->depth] = 0;
}

void jw_close(struct jw *w, char c)
{
	if (w->depth)
		w->depth--;
	sb_append(&w->b, &c, 1);
}

void jw_strn(struct jw *w, const char *key, const void *s, size_t n)
{
	jw_key(w, key);
	sb_append(&w->b, "\"", 1);
	json_wire_escape(&w->b, s, n);
	sb_append(&w->b, "\"", 1);
}

void jw_str(struct jw *w, const char *key, const char *s)
{
	if (s)
		jw_strn(w, key, s, strlen(s));
}

void jw_int(struct jw *w, const char *key, int64_t v)
{
	char d[24], *e = d + sizeof(d), *p = e;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	jw_key(w, key);
	sb_append(&w->b, p, (size_t)(e - p));
}

void jw_bool(struct jw *w, const char *key, int v)
{
	jw_key(w, key);
	sb_append(&w->b, v ? "true" : "false", v ? 4 : 5);
}

void jw_raw(struct jw *w, const char *key, const char *json, size_t n)
{
	jw_key(w, key);
	sb_append(&w->b, json, n);
}

void jw_open_raw(struct jw *w, const char *key, const char *json, size_t n)
{
	jw_key(w, key);
	sb_append(&w->b, json, n - 1);
	if (w->depth + 1 < sizeof(w->more))
		w->depth++;
	w->more[w->depth] = n > 2;
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
		uint64_t w;

		/* ASCII, eight octets at a time */
		if (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if (!(w & UINT64_C(0x8080808080808080))) {
				i += 8;
				continue;
			}
		}
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
