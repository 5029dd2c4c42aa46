/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ip6map.h - IPv6 flows translated to IPv4 for libnids (SIIT-like). */
#ifndef SMTPSCOPE_IP6MAP_H
#define SMTPSCOPE_IP6MAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Each IPv6 address seen gets a stand-in IPv4 address in 240.0.0.0/4
 * (reserved, never on the wire), as SIIT/NAT64 translate headers; the
 * events map it back.
 */
struct ip6map;

struct ip6map *ip6map_new(void);
void ip6map_free(struct ip6map *m);
/*
 * Translate an IPv6 TCP packet into an IPv4 one in out (at least 65535
 * bytes); returns its length, or 0 if it cannot be (not TCP, fragmented,
 * too many addresses).
 */
size_t ip6map_translate(struct ip6map *m, const uint8_t *ip6, size_t len,
			uint8_t *out);
/* The IPv6 address behind a stand-in (network order); 0 if not one. */
int ip6map_lookup(const struct ip6map *m, uint32_t v4, uint8_t v6[16]);

#endif
