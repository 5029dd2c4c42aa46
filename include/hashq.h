/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hashq.h - SHA-256 on a second thread: the packet path only copies. */
#ifndef SMTPSCOPE_HASHQ_H
#define SMTPSCOPE_HASHQ_H

#include <stddef.h>
#include <stdint.h>

/*
 * One SHA-256 being computed. Its octets are copied into chunks that a
 * worker thread hashes in order while the caller goes on; the digest is
 * waited for only when it is asked for. Without hq_start() (or if the
 * thread cannot be started) everything is hashed at once, in the caller:
 * the digests are the same either way.
 */
struct hq_job;

/* Start the worker: 0, or an errno value (hashing stays in the caller). */
int hq_start(void);
/* Wait for the queued work, stop the worker, free the chunk pool. */
void hq_stop(void);

struct hq_job *hq_new(void);
void hq_update(struct hq_job *j, const uint8_t *p, size_t n);
/* No more octets: hand the rest to the worker (does not wait). */
void hq_finish(struct hq_job *j);
/* The digest (32 octets), waiting for the worker if it must. */
void hq_digest(struct hq_job *j, uint8_t *out);
/* Waits for the worker to be done with j, then frees it; NULL is fine. */
void hq_free(struct hq_job *j);

#endif
