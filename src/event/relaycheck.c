/* SPDX-License-Identifier: GPL-2.0-or-later */
/* relaycheck.c - which domains are local, which client networks trusted. */
#include "relaycheck.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

struct rc_net {
	int family;
	uint8_t addr[16];
	unsigned bits;
};

struct relaycheck {
	char **domains;
	size_t n_domains;
	struct rc_net *nets;
	size_t n_nets;
};

static bool parse_net(const char *s, struct rc_net *net)
{
	char buf[64], *slash, *end;
	unsigned long bits;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->addr) == 1)
		net->family = AF_INET, net->bits = 32;
	else if (inet_pton(AF_INET6, buf, net->addr) == 1)
		net->family = AF_INET6, net->bits = 128;
	else
		return false;
	if (slash) {
		bits = strtoul(slash + 1, &end, 10);
		if (end == slash + 1 || *end || bits > net->bits)
			return false;
		net->bits = (unsigned)bits;
	}
	return true;
}

struct relaycheck *rc_new(const char *domains, const char *nets, char *err,
			  size_t n)
{
	struct relaycheck *rc = xcalloc(1, sizeof(*rc));
	char *copy, *tok, *save = NULL;

	if (domains) {
		copy = xstrndup(domains, strlen(domains));
		for (tok = strtok_r(copy, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			rc->domains =
			    xrealloc(rc->domains, (rc->n_domains + 1) *
						      sizeof(*rc->domains));
			rc->domains[rc->n_domains++] =
			    xstrndup(tok, strlen(tok));
		}
		free(copy);
	}
	if (nets) {
		save = NULL;
		copy = xstrndup(nets, strlen(nets));
		for (tok = strtok_r(copy, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			rc->nets = xrealloc(rc->nets, (rc->n_nets + 1) *
							  sizeof(*rc->nets));
			if (!parse_net(tok, &rc->nets[rc->n_nets])) {
				snprintf(err, n,
					 "--trusted-nets: '%s' is not an "
					 "address or a CIDR block",
					 tok);
				free(copy);
				rc_free(rc);
				return NULL;
			}
			rc->n_nets++;
		}
		free(copy);
	}
	return rc;
}

void rc_free(struct relaycheck *rc)
{
	size_t i;

	if (!rc)
		return;
	for (i = 0; i < rc->n_domains; i++)
		free(rc->domains[i]);
	free(rc->domains);
	free(rc->nets);
	free(rc);
}

/* The domain itself, or under a listed ".domain". */
bool rc_local(const struct relaycheck *rc, const char *domain, size_t len)
{
	size_t i, k;

	for (i = 0; i < rc->n_domains; i++) {
		const char *d = rc->domains[i];

		k = strlen(d);
		if (d[0] == '.' && len > k &&
		    !strncasecmp(domain + len - k, d, k))
			return true;
		if (d[0] == '.' && len == k - 1 &&
		    !strncasecmp(domain, d + 1, len))
			return true;
		if (k == len && !strncasecmp(domain, d, len))
			return true;
	}
	return false;
}

bool rc_trusted(const struct relaycheck *rc, const char *ip)
{
	uint8_t a[16];
	int family;
	size_t i;

	if (inet_pton(AF_INET, ip, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, ip, a) == 1)
		family = AF_INET6;
	else
		return false;
	for (i = 0; i < rc->n_nets; i++) {
		const struct rc_net *net = &rc->nets[i];
		unsigned full = net->bits / 8, rest = net->bits % 8;

		if (net->family != family || memcmp(a, net->addr, full))
			continue;
		if (rest && ((a[full] ^ net->addr[full]) &
			     (uint8_t)(0xff << (8 - rest))))
			continue;
		return true;
	}
	return false;
}
