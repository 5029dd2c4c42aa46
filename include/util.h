/* SPDX-License-Identifier: GPL-2.0-or-later */
/* util.h - allocation that aborts on failure, capped growable strings. */
#ifndef SMTPSCOPE_UTIL_H
#define SMTPSCOPE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Microseconds since the epoch as 2024-01-01T12:00:00.000000+0000. */
void format_time(char *out, size_t n, int64_t ts);
/* "smtpscope: " and the message on stderr, then exit(code). */
void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);
/* n octets as 2n lower-case hex digits and a NUL (out: 2n + 1 bytes). */
void hex_encode(char *out, const uint8_t *p, size_t n);

/* A growable byte string, always NUL-terminated once anything is added. */
struct sbuf {
	char *p;
	size_t len, cap;
	size_t max;    /* bytes kept at most; the rest is dropped */
	int truncated; /* something was dropped */
};

void sb_append_slow(struct sbuf *b, const void *data, size_t n);
/* Appends n octets (up to max, if set). */
static inline void sb_append(struct sbuf *b, const void *data, size_t n)
{
	if (!b->max && b->len + n < b->cap) { /* room: the common case */
		if (n)
			memcpy(b->p + b->len, data, n);
		b->len += n;
		b->p[b->len] = '\0';
		return;
	}
	sb_append_slow(b, data, n);
}
/* Room for n octets (and the NUL) without a reallocation. */
void sb_reserve(struct sbuf *b, size_t n);
void sb_reset(struct sbuf *b);
void sb_free(struct sbuf *b);
/* Contents as a C string ("" when empty). */
const char *sb_str(const struct sbuf *b);

/*
 * Escape wire bytes for output: valid UTF-8 is kept, every other byte and
 * every control character but LF becomes \xHH. The one place wire text
 * is escaped.
 */
void wire_escape(struct sbuf *out, const void *data, size_t n);
/*
 * wire_escape() for a line a person reads (-T, --transcript): LF is
 * escaped too, and so are the code points that move or hide text on a
 * terminal (C1 controls, bidirectional controls, U+2028/U+2029), as
 * \uHHHH. One wire line stays one line, whatever it holds.
 */
void text_escape(struct sbuf *out, const void *data, size_t n);
/*
 * wire_escape()'s text as the inside of a JSON string, escaped the way
 * json-c escapes it (without escaping '/'), in one pass.
 */
void json_wire_escape(struct sbuf *out, const void *data, size_t n);

/*
 * A JSON writer: an event or an object written as text as it is built,
 * in the order written, as json-c would print it (JSON_C_TO_STRING_PLAIN
 * | NOSLASHESCAPE): no allocation per member, no table per object. Every
 * string goes through json_wire_escape(): what reaches a line is valid
 * UTF-8 JSON whatever the wire held.
 */
struct jw {
	struct sbuf b;
	unsigned depth;
	unsigned char more[16]; /* depth d has a member already: a comma */
	unsigned char keyed;	/* jw_key_wire() wrote the next one's key */
};

/* Empties w for a new text (its room is kept). */
void jw_reset(struct jw *w);
/* '{' or '[' as a member (key; NULL in an array or at the top). */
void jw_open(struct jw *w, const char *key, char c);
void jw_close(struct jw *w, char c);
/* Wire text as a string member; NULL: nothing is written. */
void jw_str(struct jw *w, const char *key, const char *s);
void jw_strn(struct jw *w, const char *key, const void *s, size_t n);
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_bool(struct jw *w, const char *key, int v);
/* A value already written as JSON text (an object jw rendered). */
void jw_raw(struct jw *w, const char *key, const char *json, size_t n);
/* An object already written as JSON text ("{…}", n >= 2), left open. */
void jw_open_raw(struct jw *w, const char *key, const char *json, size_t n);
/* A member's key that is wire text (escaped like a value); the next
 * call writes its value (key NULL). */
void jw_key_wire(struct jw *w, const char *key, size_t n);

/*
 * Wire text kept as a C string: a copy, or, when it holds a NUL (which
 * would cut it short), its wire_escape(). Either way its JSON and its
 * transcript text are those of the wire bytes.
 */
char *wire_strndup(const void *data, size_t n);
/* Length of the longest valid UTF-8 prefix of data. */
size_t utf8_valid(const void *data, size_t n);

#endif
