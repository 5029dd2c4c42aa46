/* SPDX-License-Identifier: GPL-2.0-or-later */
/* relaycheck.h - which domains are local, which client networks trusted. */
#ifndef SMTPSCOPE_RELAYCHECK_H
#define SMTPSCOPE_RELAYCHECK_H

#include <stdbool.h>
#include <stddef.h>

struct relaycheck;

/*
 * domains: "example.org,.example.net" (a leading dot: its subdomains
 * too); nets: "192.0.2.0/24,2001:db8::/32" (a bare address: /32 or
 * /128). Either may be NULL. NULL with the reason in err (size n).
 */
struct relaycheck *rc_new(const char *domains, const char *nets, char *err,
			  size_t n);
void rc_free(struct relaycheck *rc);
bool rc_local(const struct relaycheck *rc, const char *domain, size_t len);
bool rc_trusted(const struct relaycheck *rc, const char *ip);

#endif
