/* SPDX-License-Identifier: GPL-2.0-or-later */
/* serverwatch.h - a server's posture alerts once per server per interval. */
#ifndef SMTPSCOPE_SERVERWATCH_H
#define SMTPSCOPE_SERVERWATCH_H

#include <stdbool.h>
#include <stdint.h>

struct serverwatch;

struct serverwatch *sw_new(int64_t interval_us);
void sw_free(struct serverwatch *sw);
/*
 * Is this alert kind about this server the first within the interval
 * (packet time)? It is then remembered. Bounded: when the table is full
 * it starts afresh (an alert may then come again sooner).
 */
bool sw_first(struct serverwatch *sw, const char *server, int kind, int64_t ts);

#endif
