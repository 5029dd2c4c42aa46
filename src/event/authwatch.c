/* SPDX-License-Identifier: GPL-2.0-or-later */
/* authwatch.c - AUTH failures per client address across sessions (brute force).
 */
#include "authwatch.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define AW_SLOTS  4096 /* addresses tracked; the table is wiped when full */
#define AW_IP_MAX 48   /* an IPv6 address in text */

struct aw_entry {
	char ip[AW_IP_MAX];
	unsigned n;  /* failures kept, at most limit */
	int64_t *ts; /* their times, oldest first */
	uint64_t *session;
};

struct authwatch {
	unsigned limit;
	int64_t window;
	struct aw_entry *slot;
	unsigned used;
};

struct authwatch *aw_new(unsigned limit, int64_t window_us)
{
	struct authwatch *aw = xcalloc(1, sizeof(*aw));

	aw->limit = limit ? limit : 1;
	aw->window = window_us;
	aw->slot = xcalloc(AW_SLOTS, sizeof(*aw->slot));
	return aw;
}

static void wipe(struct authwatch *aw)
{
	unsigned i;

	for (i = 0; i < AW_SLOTS; i++) {
		free(aw->slot[i].ts);
		free(aw->slot[i].session);
	}
	memset(aw->slot, 0, AW_SLOTS * sizeof(*aw->slot));
	aw->used = 0;
}

void aw_free(struct authwatch *aw)
{
	if (!aw)
		return;
	wipe(aw);
	free(aw->slot);
	free(aw);
}

static struct aw_entry *lookup(struct authwatch *aw, const char *ip)
{
	uint32_t h = 2166136261u;
	const char *p;
	unsigned i;

	for (p = ip; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (i = h % AW_SLOTS;; i = (i + 1) % AW_SLOTS) {
		struct aw_entry *e = &aw->slot[i];

		if (!e->ip[0]) {
			if (aw->used * 4 >= AW_SLOTS * 3) {
				/* bounded memory: forget everyone, start over
				 */
				wipe(aw);
				return lookup(aw, ip);
			}
			aw->used++;
			strncpy(e->ip, ip, AW_IP_MAX - 1);
			e->ts = xcalloc(aw->limit, sizeof(*e->ts));
			e->session = xcalloc(aw->limit, sizeof(*e->session));
			return e;
		}
		if (!strcmp(e->ip, ip))
			return e;
	}
}

bool aw_failure(struct authwatch *aw, const char *ip, uint64_t session,
		int64_t ts, unsigned *count, unsigned *sessions)
{
	struct aw_entry *e = lookup(aw, ip);
	unsigned i, k, distinct = 0;

	if (e->n == aw->limit) { /* keep the newest limit - 1 */
		memmove(e->ts, e->ts + 1, (e->n - 1) * sizeof(*e->ts));
		memmove(e->session, e->session + 1,
			(e->n - 1) * sizeof(*e->session));
		e->n--;
	}
	e->ts[e->n] = ts;
	e->session[e->n] = session;
	e->n++;
	if (e->n < aw->limit || ts - e->ts[0] > aw->window)
		return false;
	for (i = 0; i < e->n; i++) {
		for (k = 0; k < i && e->session[k] != e->session[i]; k++)
			;
		distinct += k == i;
	}
	if (distinct < 2)
		return false;
	*count = e->n;
	*sessions = distinct;
	e->n = 0;
	return true;
}
