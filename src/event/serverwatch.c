/* SPDX-License-Identifier: GPL-2.0-or-later */
/* serverwatch.c - a server's posture alerts once per server per interval. */
#include "serverwatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SW_SLOTS  4096 /* (server, kind) pairs; wiped at 3/4 full */
#define SW_IP_MAX 48

struct sw_entry {
	char ip[SW_IP_MAX]; /* "" : free */
	int kind;
	int64_t ts; /* when it was last said */
};

struct serverwatch {
	int64_t interval;
	struct sw_entry *slot;
	unsigned used;
};

struct serverwatch *sw_new(int64_t interval_us)
{
	struct serverwatch *sw = xcalloc(1, sizeof(*sw));

	sw->interval = interval_us;
	sw->slot = xcalloc(SW_SLOTS, sizeof(*sw->slot));
	return sw;
}

void sw_free(struct serverwatch *sw)
{
	if (!sw)
		return;
	free(sw->slot);
	free(sw);
}

static unsigned slot_of(const char *ip, int kind)
{
	uint32_t h = 2166136261u ^ (uint32_t)kind;

	for (; *ip; ip++)
		h = (h ^ (uint8_t)*ip) * 16777619u;
	return h & (SW_SLOTS - 1);
}

bool sw_first(struct serverwatch *sw, const char *server, int kind, int64_t ts)
{
	unsigned i = slot_of(server, kind);
	struct sw_entry *e;

	for (;; i = (i + 1) & (SW_SLOTS - 1)) {
		e = &sw->slot[i];
		if (!e->ip[0])
			break;
		if (e->kind == kind && !strcmp(e->ip, server)) {
			if (ts >= e->ts && ts - e->ts < sw->interval)
				return false;
			e->ts = ts;
			return true;
		}
	}
	if (sw->used >= SW_SLOTS / 4 * 3) {
		memset(sw->slot, 0, SW_SLOTS * sizeof(*sw->slot));
		sw->used = 0;
		e = &sw->slot[slot_of(server, kind)];
	}
	snprintf(e->ip, sizeof(e->ip), "%s", server);
	e->kind = kind;
	e->ts = ts;
	sw->used++;
	return true;
}
