/* SPDX-License-Identifier: GPL-2.0-or-later */
/* decomp.h - gzip, zstd and lz4 captures, decompressed as they are read. */
#ifndef SMTPSCOPE_DECOMP_H
#define SMTPSCOPE_DECOMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* The bytes decomp_detect() needs to tell every compression. */
#define DECOMP_MAGIC_LEN 4

enum decomp_kind {
	DECOMP_NONE,
	DECOMP_GZIP, /* RFC 1952; members one after the other */
	DECOMP_ZSTD, /* RFC 8878; frames one after the other */
	DECOMP_LZ4,  /* the LZ4 frame format; frames one after the other */
};

/* The compression the first n bytes of a file announce, by magic number. */
enum decomp_kind decomp_detect(const uint8_t *head, size_t n);

struct decomp;

/*
 * Decompress what src holds from its current position. src stays the
 * caller's, and must outlive the decompressor.
 */
struct decomp *decomp_new(FILE *src, enum decomp_kind kind);
/*
 * Copy up to n of the first decompressed bytes to buf without consuming
 * them (before any read); their count, fewer at the end of the stream, or
 * -1 when decompressing fails first (decomp_error() says why).
 */
ssize_t decomp_peek(struct decomp *d, uint8_t *buf, size_t n);
/*
 * A stream reading the decompressed bytes; it owns d, which fclose()
 * frees. A damaged or cut compressed stream is a read error of the
 * stream (ferror()), after every byte decompressed before the damage.
 * NULL if the stream cannot be made; d is still the caller's then.
 */
FILE *decomp_fopen(struct decomp *d);
/* Why decompressing failed, in one line; NULL while it has not. */
const char *decomp_error(const struct decomp *d);
/* Decompressing failed because the file ends inside a compressed stream. */
int decomp_truncated(const struct decomp *d);
void decomp_free(struct decomp *d);

#endif
