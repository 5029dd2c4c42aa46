/* SPDX-License-Identifier: GPL-2.0-or-later */
/* util.h - allocation that aborts on failure, capped growable strings. */
#ifndef SMTPSCOPE_UTIL_H
#define SMTPSCOPE_UTIL_H

#include <stddef.h>
#include <stdint.h>

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

void sb_append(struct sbuf *b, const void *data, size_t n);
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
 * Wire text kept as a C string: a copy, or, when it holds a NUL (which
 * would cut it short), its wire_escape(). Either way its JSON and its
 * transcript text are those of the wire bytes.
 */
char *wire_strndup(const void *data, size_t n);
/* Length of the longest valid UTF-8 prefix of data. */
size_t utf8_valid(const void *data, size_t n);

#endif
