/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pcapng.h - a small pcapng reader: any mix of link types, every section. */
#ifndef SMTPSCOPE_PCAPNG_H
#define SMTPSCOPE_PCAPNG_H

#include <stdint.h>
#include <stdio.h>

#define PCAPNG_ERRBUF 256

enum pcapng_status {
	PCAPNG_TRUNCATED = -2, /* the file ends inside a block */
	PCAPNG_ERROR = -1,     /* a malformed block, or a read error */
	PCAPNG_END = 0,
	PCAPNG_PACKET = 1,
};

/* One packet; data points into the reader, valid until the next call. */
struct pcapng_pkt {
	const uint8_t *data;
	uint32_t caplen, len;
	int64_t ts;	   /* microseconds, truncated as libpcap does; INT64_MIN
			    * or INT64_MAX: it does not fit */
	uint16_t linktype; /* LINKTYPE_ value of its interface */
};

struct pcapng;

/*
 * Read the Section Header Block and the blocks up to the first packet
 * from fp (the reader does not own it). NULL with a one-line reason in err
 * when the file is no pcapng or fails before its first interface is known;
 * later errors are returned by the first pcapng_next().
 */
struct pcapng *pcapng_open(FILE *fp, char *err);
/* Interfaces of the current section; after pcapng_open(), those before
 * the first packet. */
unsigned pcapng_ifcount(const struct pcapng *r);
uint16_t pcapng_linktype(const struct pcapng *r, unsigned i);
/* The next packet; on an error, a one-line reason in err. */
enum pcapng_status pcapng_next(struct pcapng *r, struct pcapng_pkt *pkt,
			       char *err);
void pcapng_free(struct pcapng *r);

#endif
