/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ip6map.c - IPv6 flows translated to IPv4 for libnids (SIIT-like). */
#include "ip6map.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define IP6MAP_BASE 0xf0000000u /* 240.0.0.0 */
#define IP6MAP_MAX  (1u << 24)	/* addresses mapped at most */

struct ip6map {
	uint8_t (*addr)[16]; /* index -> IPv6 address */
	uint32_t n, cap;
	uint32_t *slots; /* open addressing: index + 1, 0 empty */
	uint32_t nslots;
};

struct ip6map *ip6map_new(void)
{
	return xcalloc(1, sizeof(struct ip6map));
}

void ip6map_free(struct ip6map *m)
{
	if (!m)
		return;
	free(m->addr);
	free(m->slots);
	free(m);
}

static uint32_t hash16(const uint8_t *a)
{
	uint32_t h = 2166136261u;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

static void rehash(struct ip6map *m)
{
	uint32_t i, j, n = m->nslots ? m->nslots * 2 : 1024;

	free(m->slots);
	m->slots = xcalloc(n, sizeof(*m->slots));
	m->nslots = n;
	for (i = 0; i < m->n; i++) {
		for (j = hash16(m->addr[i]) & (n - 1); m->slots[j];
		     j = (j + 1) & (n - 1))
			;
		m->slots[j] = i + 1;
	}
}

/* Index of a, added when new; -1 when the table is full. */
static long intern(struct ip6map *m, const uint8_t *a)
{
	uint32_t j;

	if (m->n * 2 >= m->nslots)
		rehash(m);
	for (j = hash16(a) & (m->nslots - 1); m->slots[j];
	     j = (j + 1) & (m->nslots - 1))
		if (!memcmp(m->addr[m->slots[j] - 1], a, 16))
			return m->slots[j] - 1;
	if (m->n == IP6MAP_MAX)
		return -1;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->addr = xrealloc(m->addr, (size_t)m->cap * 16);
	}
	memcpy(m->addr[m->n], a, 16);
	m->slots[j] = m->n + 1;
	return m->n++;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

size_t ip6map_translate(struct ip6map *m, const uint8_t *ip6, size_t len,
			uint8_t *out)
{
	size_t off = 40, plen, wire;
	uint8_t next;
	long s, d;

	if (len < 40 || ip6[0] >> 4 != 6)
		return 0;
	wire = 40 + (size_t)(ip6[4] << 8 | ip6[5]); /* without link padding */
	if (len > wire)
		len = wire;
	next = ip6[6];
	/* skip hop-by-hop, routing and destination options (RFC 8200 4) */
	while (next == 0 || next == 43 || next == 60) {
		if (len < off + 8)
			return 0;
		next = ip6[off];
		off += (size_t)(ip6[off + 1] + 1) * 8;
	}
	if (next != 6 || len <= off || wire < off)
		return 0;
	plen = len - off;
	if (wire - off > 65535 - 20)
		return 0;
	s = intern(m, ip6 + 8);
	d = intern(m, ip6 + 24);
	if (s < 0 || d < 0)
		return 0;
	memset(out, 0, 20);
	out[0] = 0x45;
	/* the length on the wire: a packet cut by the snaplen stays cut */
	out[2] = (uint8_t)((20 + wire - off) >> 8);
	out[3] = (uint8_t)(20 + wire - off);
	out[6] = 0x40;	 /* DF */
	out[8] = ip6[7]; /* hop limit */
	out[9] = 6;
	put32(out + 12, IP6MAP_BASE + (uint32_t)s);
	put32(out + 16, IP6MAP_BASE + (uint32_t)d);
	memcpy(out + 20, ip6 + off, plen);
	return 20 + plen;
}

int ip6map_lookup(const struct ip6map *m, uint32_t v4, uint8_t v6[16])
{
	uint32_t i;

	if (!m || (v4 & 0xf0000000u) != IP6MAP_BASE)
		return 0;
	i = v4 - IP6MAP_BASE;
	if (i >= m->n)
		return 0;
	memcpy(v6, m->addr[i], 16);
	return 1;
}
