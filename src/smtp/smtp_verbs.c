/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp_verbs.c - the command table, verb lookup, resync rules, state changes.
 */
#include <stdio.h>
#include <string.h>

#include "smtp_int.h"

const struct verb_row smtp_verbs[V_COUNT] = {
#define X(v, cmd, reply, resync, codes) {#v, cmd, reply, resync, codes},
    SMTP_VERB_LIST(X)
#undef X
#define X(v, name, reply, codes) {name, NULL, reply, RS_NEVER, codes},
	SMTP_PSEUDO_LIST(X)
#undef X
};

enum verb smtp_verb_lookup(const char *v, size_t n)
{
	size_t i, k;

	for (i = 0; i < V_UNKNOWN; i++) {
		const char *name = smtp_verbs[i].name;

		for (k = 0; k < n && name[k] && smtp_upper(v[k]) == name[k];
		     k++)
			;
		if (k == n && !name[k])
			return i;
	}
	return V_UNKNOWN;
}

static bool has_code(const char *codes, int code)
{
	char c[4];

	if (!codes)
		return false;
	snprintf(c, sizeof(c), "%03u", (unsigned)code % 1000u);
	for (; *codes; codes += codes[3] ? 4 : 3)
		if (!memcmp(codes, c, 3))
			return true;
	return false;
}

/*
 * A code some rows claim (221 for QUIT, 354 for DATA, 334 for AUTH...)
 * answers only those; any other fits any command (RFC 5321 4.2, 4.3.2).
 */
bool smtp_reply_fits(enum verb id, int code)
{
	bool claimed = false;
	size_t i;

	for (i = 0; i < V_COUNT; i++)
		if (has_code(smtp_verbs[i].codes, code)) {
			if (i == (size_t)id)
				return true;
			claimed = true;
		}
	return !claimed;
}

/* After a gap, a line that can only be a command (verb_row.resync). */
bool smtp_resync_command(const char *l, size_t n)
{
	size_t v, i;

	for (v = 0; v < n && l[v] != ' '; v++)
		;
	i = smtp_verb_lookup(l, v);
	if (i >= V_UNKNOWN)
		return false;
	switch (smtp_verbs[i].resync) {
	case RS_ALONE:
		return v == n;
	case RS_ARG:
		return n > v + 1;
	case RS_FROM:
		return smtp_ieq_prefix(l + v, n - v, " FROM:");
	case RS_TO:
		return smtp_ieq_prefix(l + v, n - v, " TO:");
	case RS_SIZE:
		return n > v + 1 && smtp_is_digit(l[v + 1]);
	default:
		return false;
	}
}

#ifdef SMTP_TRACE
static const char *const cstate_names[] = {
#define X(n) #n,
    SMTP_CSTATE_LIST(X)
#undef X
};
static const char *const sstate_names[] = {
#define X(n) #n,
    SMTP_SSTATE_LIST(X)
#undef X
};
#endif

void smtp_set_cstate(struct smtp_session *s, enum cstate to)
{
#ifdef SMTP_TRACE
	if (s->cstate != to)
		fprintf(stderr, "smtp %p: client %s -> %s\n", (void *)s,
			cstate_names[s->cstate], cstate_names[to]);
#endif
	s->cstate = to;
}

void smtp_set_sstate(struct smtp_session *s, enum sstate to)
{
#ifdef SMTP_TRACE
	if (s->sstate != to)
		fprintf(stderr, "smtp %p: server %s -> %s\n", (void *)s,
			sstate_names[s->sstate], sstate_names[to]);
#endif
	s->sstate = to;
}
