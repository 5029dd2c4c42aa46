/* SPDX-License-Identifier: GPL-2.0-or-later */
/* authwatch.h - AUTH failures per client address across sessions (brute force).
 */
#ifndef SMTPSCOPE_AUTHWATCH_H
#define SMTPSCOPE_AUTHWATCH_H

#include <stdbool.h>
#include <stdint.h>

struct authwatch;

/* limit failures within window_us trip the alarm; bounded memory. */
struct authwatch *aw_new(unsigned limit, int64_t window_us);
void aw_free(struct authwatch *aw);
/*
 * Record a failure of client ip in session at ts. True when it makes
 * limit failures within the window, from more than one session (one
 * session alone is the decoder's business); *count and *sessions say how
 * many. The address then starts afresh.
 */
bool aw_failure(struct authwatch *aw, const char *ip, uint64_t session,
		int64_t ts, unsigned *count, unsigned *sessions);

#endif
