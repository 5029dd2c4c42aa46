/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hashq.h - SHA-256 (and a tee) on a second thread: the packet path copies. */
#ifndef SMTPSCOPE_HASHQ_H
#define SMTPSCOPE_HASHQ_H

#include <stddef.h>
#include <stdint.h>

/*
 * One SHA-256 being computed. Its octets are copied into a ring that a
 * worker thread hashes (and passes to a tee, if the job has one) in order
 * while the caller goes on; the digest is waited for only when it is
 * asked for. Without hq_start() (or if the thread cannot be started)
 * everything is done at once, in the caller: the results are the same
 * either way.
 */
struct hq_job;

/* Start the worker: 0, or an errno value (hashing stays in the caller). */
int hq_start(void);
/* Wait for the queued work, stop the worker, free the ring. */
void hq_stop(void);

struct hq_job *hq_new(void);
void hq_update(struct hq_job *j, const uint8_t *p, size_t n);
/* No more octets: hand the rest to the worker (does not wait). */
void hq_finish(struct hq_job *j);
/* The digest (32 octets), waiting for the worker if it must. */
void hq_digest(struct hq_job *j, uint8_t *out);
/*
 * Each octet given to j from now on is also passed to fn(arg, ...), in
 * order, on the hashing thread: work that can be done behind the packet
 * path (the message parser). arg is the thread's until hq_sync() or
 * hq_free() returns.
 */
void hq_tee(struct hq_job *j, void (*fn)(void *arg, const uint8_t *p, size_t n),
	    void *arg);
/*
 * hq_finish(), and fn(arg) on the hashing thread after the last octet
 * (at once without the thread): a tee's end, behind the packet path.
 * hq_sync() and hq_digest() wait for it too.
 */
void hq_end(struct hq_job *j, void (*fn)(void *arg), void *arg);
/*
 * Until every octet given to j was passed to its tee and its end call
 * made (at once for a job without either).
 */
void hq_sync(struct hq_job *j);
/*
 * fn(arg) on the hashing thread, after the octets given before (at once
 * without the thread): a tee's last work, such as freeing its state, off
 * the packet path.
 */
void hq_call(void (*fn)(void *arg), void *arg);
/*
 * A new job whose SHA-256 starts where j's stands now (after the octets
 * given to j so far); j goes on unchanged. No tee.
 */
struct hq_job *hq_fork(struct hq_job *j);
/*
 * In a call on the hashing thread: p, a block malloc()ed by the packet
 * path, is freed by the packet path at its next hq_new(), hq_call() or
 * hq_stop(), so that each thread frees what it allocated (a free into
 * the other thread's malloc arena takes its lock). At once when called
 * on the packet path (without the thread, or helping it). NULL is fine.
 */
void hq_free_home(void *p);
/* Waits for the worker to be done with j, then frees it; NULL is fine. */
void hq_free(struct hq_job *j);

#endif
