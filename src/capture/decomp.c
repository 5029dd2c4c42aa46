/* SPDX-License-Identifier: GPL-2.0-or-later */
/* decomp.c - read gzip, zstd and lz4 streams as a FILE, a buffer at a time. */
#include "decomp.h"

#include <errno.h>
#include <lz4frame.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "util.h"

/*
 * Compressed bytes read at a time, and decompressed bytes held. Memory
 * stays bounded whatever the file's size: these, zlib's 32 KiB window, a
 * zstd window (at most 128 MiB, zstd's default limit) or an lz4 block (at
 * most 4 MiB, and the 64 KiB before it).
 */
#define DECOMP_IN_BUF  65536
#define DECOMP_OUT_BUF 65536
#define DECOMP_ERRBUF  160

struct decomp {
	FILE *src;
	enum decomp_kind kind;
	union {
		z_stream z;
		ZSTD_DStream *zs;
		LZ4F_dctx *lz;
	} u;
	int inited;    /* u holds a context to free */
	int inside;    /* between the start and the end of a member/frame */
	int eof;       /* src has no more */
	int end;       /* every byte decompressed, cleanly */
	int truncated; /* failed: src ends inside a member or frame */
	char err[DECOMP_ERRBUF]; /* failed: why; "" while it has not */
	uint8_t in[DECOMP_IN_BUF];
	size_t ipos, ilen;
	uint8_t out[DECOMP_OUT_BUF];
	size_t opos, olen;
};

static const char *const kind_names[] = {
    [DECOMP_NONE] = "uncompressed",
    [DECOMP_GZIP] = "gzip",
    [DECOMP_ZSTD] = "zstd",
    [DECOMP_LZ4] = "lz4",
};

enum decomp_kind decomp_detect(const uint8_t *head, size_t n)
{
	if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		return DECOMP_GZIP;
	if (n >= 4 && !memcmp(head, "\x28\xb5\x2f\xfd", 4))
		return DECOMP_ZSTD;
	if (n >= 4 && !memcmp(head, "\x04\x22\x4d\x18", 4))
		return DECOMP_LZ4;
	return DECOMP_NONE;
}

static void fail(struct decomp *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	if (!d->err[0]) /* never "" once failed */
		snprintf(d->err, sizeof(d->err), "%s error",
			 kind_names[d->kind]);
}

struct decomp *decomp_new(FILE *src, enum decomp_kind kind)
{
	struct decomp *d = xcalloc(1, sizeof(*d));

	d->src = src;
	d->kind = kind;
	switch (kind) {
	case DECOMP_GZIP:
		/* 15 + 16: a gzip header and trailer, the largest window */
		if (inflateInit2(&d->u.z, 15 + 16) != Z_OK)
			fail(d, "cannot start zlib: %s",
			     d->u.z.msg ? d->u.z.msg : "out of memory");
		else
			d->inited = 1;
		break;
	case DECOMP_ZSTD:
		d->u.zs = ZSTD_createDStream();
		if (!d->u.zs)
			fail(d, "cannot start zstd: out of memory");
		d->inited = d->u.zs != NULL;
		break;
	case DECOMP_LZ4:
		if (LZ4F_isError(LZ4F_createDecompressionContext(&d->u.lz,
								 LZ4F_VERSION)))
			fail(d, "cannot start lz4: out of memory");
		else
			d->inited = 1;
		break;
	case DECOMP_NONE:
		fail(d, "not compressed");
		break;
	}
	return d;
}

void decomp_free(struct decomp *d)
{
	if (!d)
		return;
	if (d->inited) {
		switch (d->kind) {
		case DECOMP_GZIP:
			inflateEnd(&d->u.z);
			break;
		case DECOMP_ZSTD:
			ZSTD_freeDStream(d->u.zs);
			break;
		case DECOMP_LZ4:
			LZ4F_freeDecompressionContext(d->u.lz);
			break;
		case DECOMP_NONE:
			break;
		}
	}
	free(d);
}

const char *decomp_error(const struct decomp *d)
{
	return d->err[0] ? d->err : NULL;
}

int decomp_truncated(const struct decomp *d)
{
	return d->truncated;
}

static void read_input(struct decomp *d)
{
	d->ipos = 0;
	d->ilen = fread(d->in, 1, sizeof(d->in), d->src);
	if (d->ilen)
		return;
	if (ferror(d->src))
		fail(d, "error reading the file: %s", strerror(errno));
	else
		d->eof = 1;
}

/* One call of the decompressor on what in holds, into the room of out. */
static void run_codec(struct decomp *d)
{
	size_t r;
	int rc;

	switch (d->kind) {
	case DECOMP_GZIP:
		d->u.z.next_in = d->in + d->ipos;
		d->u.z.avail_in = (uInt)(d->ilen - d->ipos);
		d->u.z.next_out = d->out + d->olen;
		d->u.z.avail_out = (uInt)(sizeof(d->out) - d->olen);
		rc = inflate(&d->u.z, Z_NO_FLUSH);
		d->ipos = d->ilen - d->u.z.avail_in;
		d->olen = sizeof(d->out) - d->u.z.avail_out;
		if (rc == Z_STREAM_END) {
			/* the next member, if any, starts afresh */
			d->inside = 0;
			inflateReset(&d->u.z);
		} else if (rc == Z_OK || rc == Z_BUF_ERROR) {
			d->inside = 1;
		} else {
			fail(d, "corrupt gzip stream: %s",
			     d->u.z.msg ? d->u.z.msg : zError(rc));
		}
		break;
	case DECOMP_ZSTD: {
		ZSTD_inBuffer ib = {d->in, d->ilen, d->ipos};
		ZSTD_outBuffer ob = {d->out, sizeof(d->out), d->olen};

		r = ZSTD_decompressStream(d->u.zs, &ob, &ib);
		d->ipos = ib.pos;
		d->olen = ob.pos;
		if (ZSTD_isError(r))
			fail(d, "corrupt zstd stream: %s",
			     ZSTD_getErrorName(r));
		else /* 0: a frame ended, and all of it is in out */
			d->inside = r != 0;
		break;
	}
	case DECOMP_LZ4: {
		size_t dst = sizeof(d->out) - d->olen, src = d->ilen - d->ipos;

		r = LZ4F_decompress(d->u.lz, d->out + d->olen, &dst,
				    d->in + d->ipos, &src, NULL);
		d->ipos += src;
		d->olen += dst;
		if (LZ4F_isError(r))
			fail(d, "corrupt lz4 stream: %s", LZ4F_getErrorName(r));
		else /* 0: a frame ended; the next call starts another */
			d->inside = r != 0;
		break;
	}
	case DECOMP_NONE:
		break;
	}
}

/*
 * Decompress once more into out. At the end of the file the decompressor
 * runs on no input while inside a member or frame, for what it still
 * holds; when nothing comes, the file was cut.
 */
static void step(struct decomp *d)
{
	size_t ipos = d->ipos, olen = d->olen;

	if (d->ipos == d->ilen && !d->eof) {
		read_input(d);
		if (d->err[0])
			return;
		ipos = 0;
	}
	if (d->ipos == d->ilen && d->eof && !d->inside) {
		d->end = 1;
		return;
	}
	run_codec(d);
	if (d->err[0] || d->ipos != ipos || d->olen != olen)
		return;
	if (d->eof) {
		d->truncated = 1;
		fail(d, "the %s stream is truncated", kind_names[d->kind]);
	} else {
		fail(d, "corrupt %s stream: no progress", kind_names[d->kind]);
	}
}

/* Decompress until out holds at least want bytes, the end or a failure. */
static void fill(struct decomp *d, size_t want)
{
	if (d->opos == d->olen)
		d->opos = d->olen = 0;
	while (d->olen - d->opos < want && !d->end && !d->err[0])
		step(d);
}

ssize_t decomp_peek(struct decomp *d, uint8_t *buf, size_t n)
{
	size_t have;

	if (n > sizeof(d->out))
		n = sizeof(d->out);
	fill(d, n);
	have = d->olen - d->opos;
	if (have < n && d->err[0])
		return -1;
	if (have > n)
		have = n;
	memcpy(buf, d->out + d->opos, have);
	return (ssize_t)have;
}

static ssize_t cookie_read(void *cookie, char *buf, size_t size)
{
	struct decomp *d = cookie;
	size_t n;

	fill(d, 1);
	n = d->olen - d->opos;
	if (!n && d->err[0]) {
		errno = EIO;
		return -1;
	}
	if (n > size)
		n = size;
	memcpy(buf, d->out + d->opos, n);
	d->opos += n;
	return (ssize_t)n;
}

static int cookie_close(void *cookie)
{
	decomp_free(cookie);
	return 0;
}

FILE *decomp_fopen(struct decomp *d)
{
	static const cookie_io_functions_t io = {.read = cookie_read,
						 .close = cookie_close};

	return fopencookie(d, "rb", io);
}
