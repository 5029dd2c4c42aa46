/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pcapng.c - read pcapng files block by block, whatever their link types. */
#include "pcapng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Block types (draft-ietf-opsawg-pcapng, section 10.1) */
#define BT_SHB 0x0A0D0D0AU
#define BT_IDB 1U
#define BT_PB  2U /* obsolete Packet Block, appendix A */
#define BT_SPB 3U
#define BT_EPB 6U

#define OPT_ENDOFOPT 0
#define IF_TSRESOL   9
#define IF_TSOFFSET  14

/* Blocks larger than this are refused, as libpcap does by default. */
#define PCAPNG_MAX_BLOCK (16U * 1024 * 1024)
/* Interfaces in one section, at most. */
#define PCAPNG_MAX_IFACES 65536U
/* The snapshot length of an interface that gives none, or too large one. */
#define PCAPNG_MAX_SNAPLEN 262144U

struct pcapng_if {
	uint16_t linktype;
	uint32_t snaplen;
	uint64_t tsresol; /* time stamp units per second */
	int shift;	  /* tsresol is 2^shift; -1: a power of 10 */
	int64_t tsoffset; /* seconds added to every time stamp */
};

struct pcapng {
	FILE *fp;
	int big;       /* the current section is big-endian */
	int bad_magic; /* the last SHB read had no byte-order magic */
	uint8_t *buf;  /* the current block, after type and length */
	size_t bufsize;
	uint32_t btype;	       /* of the current block */
	uint32_t blen;	       /* of its body: no header, no trailer */
	struct pcapng_if *ifs; /* of the current section */
	unsigned nif, capif;
	/* what pcapng_open() read past the interfaces, for pcapng_next() */
	int pending;
	enum pcapng_status pend_status;
	struct pcapng_pkt pend_pkt;
	char pend_err[PCAPNG_ERRBUF];
};

static uint16_t get16(const struct pcapng *r, const uint8_t *p)
{
	return r->big ? (uint16_t)(p[0] << 8 | p[1])
		      : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t get32(const struct pcapng *r, const uint8_t *p)
{
	return r->big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			    (uint32_t)p[2] << 8 | p[3]
		      : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
			    (uint32_t)p[1] << 8 | p[0];
}

static uint64_t get64(const struct pcapng *r, const uint8_t *p)
{
	uint64_t a = get32(r, p), b = get32(r, p + 4);

	return r->big ? a << 32 | b : b << 32 | a;
}

/* 1: all n bytes read; PCAPNG_END: none and eof_ok; an error otherwise. */
static int read_exact(struct pcapng *r, void *p, size_t n, int eof_ok,
		      char *err)
{
	size_t got = fread(p, 1, n, r->fp);

	if (got == n)
		return 1;
	if (ferror(r->fp)) {
		snprintf(err, PCAPNG_ERRBUF, "error reading the file: %s",
			 strerror(errno));
		return PCAPNG_ERROR;
	}
	if (!got && eof_ok)
		return PCAPNG_END;
	snprintf(err, PCAPNG_ERRBUF,
		 "truncated pcapng file; tried to read %zu bytes, only got %zu",
		 n, got);
	return PCAPNG_TRUNCATED;
}

/*
 * Read one whole block into buf; 1, PCAPNG_END at the end of the file, or
 * an error. A Section Header Block sets the byte order of what follows.
 */
static int read_block(struct pcapng *r, char *err)
{
	static const uint8_t shb[4] = {0x0A, 0x0D, 0x0D, 0x0A};
	uint8_t hdr[12];
	size_t got = 8;
	uint32_t len;
	int rc;

	rc = read_exact(r, hdr, 8, 1, err);
	if (rc != 1)
		return rc;
	if (!memcmp(hdr, shb, 4)) {
		/* the byte-order magic decides how to read the length */
		rc = read_exact(r, hdr + 8, 4, 0, err);
		if (rc != 1)
			return rc;
		got = 12;
		if (!memcmp(hdr + 8, "\x1A\x2B\x3C\x4D", 4)) {
			r->big = 1;
		} else if (!memcmp(hdr + 8, "\x4D\x3C\x2B\x1A", 4)) {
			r->big = 0;
		} else {
			r->bad_magic = 1;
			snprintf(err, PCAPNG_ERRBUF,
				 "section header block without the "
				 "byte-order magic");
			return PCAPNG_ERROR;
		}
	}
	r->btype = get32(r, hdr);
	len = get32(r, hdr + 4);
	if (len < 12 || len % 4) {
		snprintf(err, PCAPNG_ERRBUF,
			 "block of type %u has a length of %u, %s", r->btype,
			 len,
			 len < 12 ? "less than 12" : "not a multiple of 4");
		return PCAPNG_ERROR;
	}
	if (len > PCAPNG_MAX_BLOCK) {
		snprintf(err, PCAPNG_ERRBUF,
			 "block of type %u has a length of %u, more than the "
			 "maximum %u",
			 r->btype, len, PCAPNG_MAX_BLOCK);
		return PCAPNG_ERROR;
	}
	if (r->btype == BT_SHB && len < 28) {
		snprintf(err, PCAPNG_ERRBUF,
			 "section header block has a length of %u, less than "
			 "28",
			 len);
		return PCAPNG_ERROR;
	}
	if (r->bufsize < len) {
		r->buf = xrealloc(r->buf, len);
		r->bufsize = len;
	}
	memcpy(r->buf, hdr + 8, got - 8);
	rc = read_exact(r, r->buf + got - 8, len - got, 0, err);
	if (rc != 1)
		return rc;
	if (get32(r, r->buf + len - 12) != len) {
		snprintf(err, PCAPNG_ERRBUF,
			 "block of type %u has a length of %u in its header "
			 "and %u in its trailer",
			 r->btype, len, get32(r, r->buf + len - 12));
		return PCAPNG_ERROR;
	}
	r->blen = len - 12;
	return 1;
}

static int bad_block(const struct pcapng *r, char *err, const char *why)
{
	snprintf(err, PCAPNG_ERRBUF, "block of type %u: %s", r->btype, why);
	return PCAPNG_ERROR;
}

/* The options of an IDB: if_tsresol and if_tsoffset (section 4.2). */
static int idb_options(struct pcapng *r, struct pcapng_if *f, const uint8_t *o,
		       size_t left, char *err)
{
	while (left >= 4) {
		uint16_t code = get16(r, o), olen = get16(r, o + 2);
		size_t padded = ((size_t)olen + 3) & ~(size_t)3;
		const uint8_t *v = o + 4;

		if (padded > left - 4)
			return bad_block(r, err,
					 "an option overruns the block");
		if (code == OPT_ENDOFOPT)
			break;
		if (code == IF_TSRESOL) {
			if (olen != 1)
				return bad_block(r, err,
						 "if_tsresol is not 1 byte");
			if (*v & 0x80) {
				if ((*v & 0x7f) > 63)
					return bad_block(
					    r, err, "if_tsresol is too fine");
				f->shift = *v & 0x7f;
				f->tsresol = (uint64_t)1 << f->shift;
			} else {
				int i;

				if (*v > 19)
					return bad_block(
					    r, err, "if_tsresol is too fine");
				f->shift = -1;
				f->tsresol = 1;
				for (i = 0; i < *v; i++)
					f->tsresol *= 10;
			}
		} else if (code == IF_TSOFFSET) {
			if (olen != 8)
				return bad_block(r, err,
						 "if_tsoffset is not 8 bytes");
			f->tsoffset = (int64_t)get64(r, v);
		}
		o += 4 + padded;
		left -= 4 + padded;
	}
	return 0;
}

static int add_interface(struct pcapng *r, char *err)
{
	struct pcapng_if *f;

	if (r->blen < 8)
		return bad_block(r, err, "too short");
	if (r->nif == PCAPNG_MAX_IFACES)
		return bad_block(r, err, "too many interfaces in a section");
	if (r->nif == r->capif) {
		r->capif = r->capif ? r->capif * 2 : 4;
		r->ifs = xrealloc(r->ifs, r->capif * sizeof(*r->ifs));
	}
	f = &r->ifs[r->nif];
	f->linktype = get16(r, r->buf);
	f->snaplen = get32(r, r->buf + 4);
	if (!f->snaplen || f->snaplen > PCAPNG_MAX_SNAPLEN)
		f->snaplen = PCAPNG_MAX_SNAPLEN;
	f->tsresol = 1000000;
	f->shift = -1;
	f->tsoffset = 0;
	if (idb_options(r, f, r->buf + 8, r->blen - 8, err) < 0)
		return PCAPNG_ERROR;
	r->nif++;
	return 0;
}

/* frac * 10^6 / 2^shift for frac < 2^shift, without overflow. */
static uint64_t scale_bin(uint64_t frac, int shift)
{
	uint64_t hi, lo;

	if (shift < 32)
		return frac * 1000000 >> shift;
	hi = (frac >> 32) * 1000000;
	lo = (frac & 0xffffffff) * 1000000;
	return (hi + (lo >> 32)) >> (shift - 32);
}

/*
 * Microseconds since the epoch, as libpcap computes them: whole seconds
 * plus the offset, the fraction scaled down by truncation. A time that
 * does not fit (a wild if_tsoffset, or 2^64 units of a second each)
 * saturates to INT64_MIN or INT64_MAX, out of any sane range.
 */
static int64_t ts_usec(const struct pcapng_if *f, uint64_t t)
{
	uint64_t whole = t / f->tsresol, frac = t % f->tsresol;
	int64_t sec, us;

	if (f->shift >= 0)
		frac = scale_bin(frac, f->shift);
	else if (f->tsresol >= 1000000)
		frac /= f->tsresol / 1000000;
	else
		frac *= 1000000 / f->tsresol;
	/* exact sums (GCC/clang builtins): only too large can overflow */
	if (__builtin_add_overflow(whole, f->tsoffset, &sec))
		return INT64_MAX;
	if (__builtin_mul_overflow(sec, 1000000, &us))
		return sec < 0 ? INT64_MIN : INT64_MAX;
	if (__builtin_add_overflow(us, frac, &us))
		return INT64_MAX;
	return us;
}

static int no_interface(char *err, uint32_t iface)
{
	snprintf(err, PCAPNG_ERRBUF,
		 "a packet on interface %u, which no interface description "
		 "block of its section declares",
		 iface);
	return PCAPNG_ERROR;
}

/* A packet block into pkt (sections 4.3, 4.4 and appendix A). */
static int packet_block(struct pcapng *r, struct pcapng_pkt *pkt, char *err)
{
	const uint8_t *b = r->buf;
	const struct pcapng_if *f;
	uint32_t iface, caplen, len, room;
	uint64_t t = 0;

	if (r->btype == BT_SPB) {
		if (r->blen < 4)
			return bad_block(r, err, "too short");
		if (!r->nif)
			return no_interface(err, 0);
		iface = 0;
		len = get32(r, b);
		room = r->blen - 4;
		/* no captured length: what the block and snaplen hold */
		caplen = len < room ? len : room;
		b += 4;
	} else {
		if (r->blen < 20)
			return bad_block(r, err, "too short");
		iface = r->btype == BT_EPB ? get32(r, b) : get16(r, b);
		if (iface >= r->nif)
			return no_interface(err, iface);
		t = (uint64_t)get32(r, b + 4) << 32 | get32(r, b + 8);
		caplen = get32(r, b + 12);
		len = get32(r, b + 16);
		if (caplen > r->blen - 20)
			return bad_block(r, err,
					 "the packet overruns the block");
		b += 20;
	}
	f = &r->ifs[iface];
	/* like libpcap on a classic file: bytes beyond snaplen dropped */
	if (caplen > f->snaplen)
		caplen = f->snaplen;
	pkt->data = b;
	pkt->caplen = caplen;
	pkt->len = len;
	pkt->ts = ts_usec(f, t);
	pkt->linktype = f->linktype;
	return PCAPNG_PACKET;
}

/* Act on the block just read: 0, PCAPNG_PACKET or an error. */
static int handle_block(struct pcapng *r, struct pcapng_pkt *pkt, char *err)
{
	uint16_t major;

	switch (r->btype) {
	case BT_SHB:
		major = get16(r, r->buf + 4);
		if (major != 1) {
			snprintf(err, PCAPNG_ERRBUF,
				 "unsupported pcapng version %u.%u", major,
				 get16(r, r->buf + 6));
			return PCAPNG_ERROR;
		}
		r->nif = 0; /* each section declares its own interfaces */
		return 0;
	case BT_IDB:
		return add_interface(r, err);
	case BT_EPB:
	case BT_SPB:
	case BT_PB:
		return packet_block(r, pkt, err);
	default:
		return 0; /* statistics, name resolution, custom: skipped */
	}
}

static enum pcapng_status next_block(struct pcapng *r, struct pcapng_pkt *pkt,
				     char *err)
{
	int rc;

	for (;;) {
		rc = read_block(r, err);
		if (rc != 1)
			return (enum pcapng_status)rc;
		rc = handle_block(r, pkt, err);
		if (rc)
			return (enum pcapng_status)rc;
	}
}

struct pcapng *pcapng_open(FILE *fp, char *err)
{
	struct pcapng *r = xcalloc(1, sizeof(*r));
	enum pcapng_status st;
	int rc;

	r->fp = fp;
	rc = read_block(r, err);
	if (rc == 1 && r->btype != BT_SHB) {
		r->bad_magic = 1;
		rc = PCAPNG_ERROR;
	}
	if (rc == PCAPNG_END || rc == PCAPNG_TRUNCATED)
		snprintf(err, PCAPNG_ERRBUF,
			 "truncated capture file (incomplete header)");
	else if (r->bad_magic)
		snprintf(err, PCAPNG_ERRBUF,
			 "not a pcap or pcapng capture file");
	if (rc != 1 || handle_block(r, NULL, err) < 0)
		goto fail;
	/* up to the first packet: the interfaces it may come from */
	st = next_block(r, &r->pend_pkt, err);
	if (!r->nif) {
		if (st == PCAPNG_END || st == PCAPNG_PACKET)
			snprintf(err, PCAPNG_ERRBUF,
				 "no interface description block before the "
				 "first packet");
		else if (st == PCAPNG_TRUNCATED)
			snprintf(err, PCAPNG_ERRBUF,
				 "truncated capture file (incomplete header)");
		goto fail;
	}
	r->pending = 1;
	r->pend_status = st;
	if (st < 0)
		snprintf(r->pend_err, sizeof(r->pend_err), "%s", err);
	return r;
fail:
	pcapng_free(r);
	return NULL;
}

unsigned pcapng_ifcount(const struct pcapng *r)
{
	return r->nif;
}

uint16_t pcapng_linktype(const struct pcapng *r, unsigned i)
{
	return i < r->nif ? r->ifs[i].linktype : 0;
}

enum pcapng_status pcapng_next(struct pcapng *r, struct pcapng_pkt *pkt,
			       char *err)
{
	if (r->pending) {
		r->pending = 0;
		if (r->pend_status == PCAPNG_PACKET)
			*pkt = r->pend_pkt;
		else if (r->pend_status < 0)
			snprintf(err, PCAPNG_ERRBUF, "%s", r->pend_err);
		return r->pend_status;
	}
	return next_block(r, pkt, err);
}

void pcapng_free(struct pcapng *r)
{
	if (!r)
		return;
	free(r->ifs);
	free(r->buf);
	free(r);
}
