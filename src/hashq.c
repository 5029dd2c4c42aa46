/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hashq.c - SHA-256 (and a tee) on a second thread: the packet path copies. */
#include "hashq.h"

#include <nettle/sha2.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/*
 * One ring, one producer (the packet path). Records are a header and the
 * octets, 8-aligned, in the order given; each is hashed into its job's
 * context (and passed to its tee), in order, by the worker or, when the
 * caller needs a result the worker has not reached, or room, by the
 * caller itself (one record at a time, whoever holds busy): nobody waits
 * for a thread to wake up. A record without a job is a call (hq_call,
 * hq_end). Positions only grow; a job is done when rpos passes its last
 * record. Fewer than MIN_REC octets before the end of the ring are
 * skipped.
 */
#define RING	    (4u << 20)
#define MIN_REC	    64
#define BATCH	    (16u << 10) /* a sleeping worker is woken for this much */
#define SPIN_NS	    200000     /* idle time before the worker sleeps, at most */
#define SPIN_MIN_NS 3125       /* ... and at least (SPIN_NS / 64) */
#define REC_MAX	    (8u << 10) /* octets in a record before it is closed */
#define PUBLISH_MIN (4u << 10) /* closed octets handed over at once */

struct rec {
	struct hq_job *job; /* NULL: a struct call follows */
	uint64_t len;
};

struct call {
	void (*fn)(void *arg);
	void *arg;
};

/* A block going home: its first octets, once its owner is done with it. */
struct home {
	struct home *next;
};

static _Thread_local bool on_worker;

struct hq_job {
	struct sha256_ctx ctx; /* the worker's until it passes last */
	void (*tee)(void *arg, const uint8_t *p, size_t n); /* or NULL */
	void *arg;
	struct hq_job *from; /* hq_fork(): the job copied, until it is */
	uint64_t last;	     /* ring position after its last record */
	bool finished, done;
	bool sync; /* a tee or an end call: hq_sync() waits for them */
	uint8_t digest[SHA256_DIGEST_SIZE];
};

/* What each side writes often is on a cache line of its own. */
static struct {
	uint8_t *ring;
	pthread_t thread;
	bool running;
	uint64_t wpos_own; /* the producer's copy of wpos */
	atomic_bool stopping, worker_sleeps;
	pthread_mutex_t lock; /* with work: the worker sleeps */
	pthread_cond_t work;
	_Alignas(64) _Atomic uint64_t wpos; /* the producer's */
	_Alignas(64) _Atomic uint64_t rpos; /* and busy: the consumers' */
	atomic_flag busy;		    /* set while a record is hashed */
	/* blocks the worker hands back to the packet path to free */
	_Alignas(64) _Atomic(struct home *) home;
} q = {.busy = ATOMIC_FLAG_INIT,
       .lock = PTHREAD_MUTEX_INITIALIZER,
       .work = PTHREAD_COND_INITIALIZER};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Position of the next record at or after pos. */
static uint64_t rec_start(uint64_t pos)
{
	uint64_t left = RING - pos % RING;

	return left < MIN_REC ? pos + left : pos;
}

/*
 * Hash the next record: 1, or 0 if there is none, or -1 if the other
 * thread is hashing one (nobody sleeps on it: a record takes microseconds).
 */
static int hash_next(void)
{
	const struct rec *h;
	uint64_t r;

	if (atomic_flag_test_and_set(&q.busy))
		return -1;
	r = atomic_load(&q.rpos);
	if (r == atomic_load(&q.wpos)) {
		atomic_flag_clear(&q.busy);
		return 0;
	}
	r = rec_start(r);
	h = (const struct rec *)(q.ring + r % RING);
	if (!h->job) {
		struct call c;

		memcpy(&c, h + 1, sizeof(c));
		c.fn(c.arg);
	} else {
		sha256_update(&h->job->ctx, h->len, (const uint8_t *)(h + 1));
		if (h->job->tee)
			h->job->tee(h->job->arg, (const uint8_t *)(h + 1),
				    h->len);
	}
	atomic_store(&q.rpos, r + ((sizeof(*h) + h->len + 7) & ~(uint64_t)7));
	atomic_flag_clear(&q.busy);
	return 1;
}

static void *worker(void *arg)
{
	uint64_t idle_since = 0, spin_ns = SPIN_NS;
	unsigned spin = 0;

	(void)arg;
	on_worker = true;
	for (;;) {
		switch (hash_next()) {
		case 1:
			/* work came while it polled: polling paid */
			if (spin && spin_ns < SPIN_NS)
				spin_ns *= 2;
			spin = 0;
			continue;
		case -1:
			cpu_relax();
			continue;
		}
		if (atomic_load(&q.stopping))
			break;
		/*
		 * Sleeping and waking cost more than polling a while: data
		 * usually follows soon. The while adapts: halved each time
		 * polling found nothing (a slow link), doubled each time it
		 * found work. Polling yields the core now and then, so that
		 * on a busy machine the packet thread is not kept waiting.
		 */
		if (!spin++)
			idle_since = now_ns();
		if (spin % 64) {
			cpu_relax();
			continue;
		}
		if (now_ns() - idle_since < spin_ns) {
			sched_yield();
			continue;
		}
		if (spin_ns > SPIN_MIN_NS)
			spin_ns /= 2;
		pthread_mutex_lock(&q.lock);
		atomic_store(&q.worker_sleeps, true);
		while (atomic_load(&q.wpos) == atomic_load(&q.rpos) &&
		       !atomic_load(&q.stopping))
			pthread_cond_wait(&q.work, &q.lock);
		atomic_store(&q.worker_sleeps, false);
		pthread_mutex_unlock(&q.lock);
		spin = 0;
	}
	return NULL;
}

/*
 * The packet path frees the blocks handed back to it. The worker only
 * pushes, this side takes the whole list at once: no ABA, no lock.
 */
static void free_homes(void)
{
	struct home *h, *next;

	if (!atomic_load_explicit(&q.home, memory_order_relaxed))
		return;
	for (h = atomic_exchange(&q.home, NULL); h; h = next) {
		next = h->next;
		free(h);
	}
}

void hq_free_home(void *p)
{
	struct home *h = p;

	if (!p)
		return;
	if (!on_worker) { /* no thread, or the packet path helping */
		free(p);
		return;
	}
	h->next = atomic_load(&q.home);
	while (!atomic_compare_exchange_weak(&q.home, &h->next, h))
		;
}

int hq_start(void)
{
	sigset_t all, old;
	int rc;

	if (q.running)
		return 0;
	/* touched now: a fixed cost, not one that grows with the traffic */
	q.ring = xmalloc(RING);
	memset(q.ring, 0, RING);
	atomic_store(&q.stopping, false);
	/* signals are the main thread's: a stop must interrupt its reads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&q.thread, NULL, worker, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		free(q.ring);
		q.ring = NULL;
		return rc;
	}
	q.running = true;
	return 0;
}

static void wake_worker(void)
{
	pthread_mutex_lock(&q.lock);
	pthread_cond_signal(&q.work);
	pthread_mutex_unlock(&q.lock);
}

/* Wake a sleeping worker if a batch of work waits for it. */
static void kick(void)
{
	if (atomic_load(&q.worker_sleeps) &&
	    atomic_load(&q.wpos) - atomic_load(&q.rpos) >= BATCH)
		wake_worker();
}

static void publish(void);

/* Until the records before pos are hashed: help rather than wait. */
static void wait_for(uint64_t pos)
{
	if (atomic_load(&q.rpos) >= pos)
		return;
	publish(); /* pos may be beyond what the worker was given */
	kick();	   /* and it may have work enough to share */
	while (atomic_load(&q.rpos) < pos)
		if (hash_next() < 0)
			cpu_relax();
}

/*
 * The record being filled is not yet the worker's: octets for the same
 * job extend it, so small pieces (lines) cost a copy, not a record each.
 * Closed records are handed over (wpos) a batch at a time, or when a
 * digest or room is waited for.
 */
static struct {
	struct hq_job *job; /* NULL: none */
	uint64_t start, len;
} open_rec;
static uint64_t published; /* the last wpos stored */

/* Make the closed records the consumers'. */
static void publish(void)
{
	if (published == q.wpos_own)
		return;
	published = q.wpos_own;
	atomic_store(&q.wpos, published);
	kick();
}

/* The record being filled is complete. */
static void close_rec(void)
{
	struct rec *h;

	if (!open_rec.job)
		return;
	h = (struct rec *)(q.ring + open_rec.start % RING);
	h->job = open_rec.job;
	h->len = open_rec.len;
	q.wpos_own =
	    open_rec.start + ((sizeof(*h) + open_rec.len + 7) & ~(uint64_t)7);
	open_rec.job->last = q.wpos_own;
	open_rec.job = NULL;
	if (q.wpos_own - published >= PUBLISH_MIN)
		publish();
}

/* Append at most n octets to j's record; returns how many it took. */
static size_t put(struct hq_job *j, const uint8_t *p, size_t n)
{
	uint64_t left, end;

	if (open_rec.job != j || open_rec.len >= REC_MAX) {
		close_rec();
		open_rec.job = j;
		open_rec.start = rec_start(q.wpos_own);
		open_rec.len = 0;
	}
	left = RING - open_rec.start % RING - sizeof(struct rec) - open_rec.len;
	if (n > REC_MAX - open_rec.len)
		n = REC_MAX - open_rec.len;
	if (n > left)
		n = left;
	end = open_rec.start + sizeof(struct rec) + open_rec.len + n;
	/* room: the worker must have passed what this overwrites */
	if (end > RING)
		wait_for(end - RING);
	memcpy(q.ring + open_rec.start % RING + sizeof(struct rec) +
		   open_rec.len,
	       p, n);
	open_rec.len += n;
	if (n == left) /* the end of the ring */
		close_rec();
	return n;
}

void hq_call(void (*fn)(void *arg), void *arg)
{
	struct call c = {fn, arg};
	struct rec *h;
	uint64_t start, end;

	if (!q.running) {
		fn(arg);
		return;
	}
	free_homes();
	close_rec();
	start = rec_start(q.wpos_own);
	end = start + sizeof(*h) + sizeof(c);
	if (end > RING) /* room: as in put() */
		wait_for(end - RING);
	h = (struct rec *)(q.ring + start % RING);
	h->job = NULL;
	h->len = sizeof(c);
	memcpy(h + 1, &c, sizeof(c));
	q.wpos_own = end; /* 8-aligned: both are */
	if (q.wpos_own - published >= PUBLISH_MIN)
		publish();
}

void hq_stop(void)
{
	if (!q.running)
		return;
	close_rec();
	publish();
	pthread_mutex_lock(&q.lock);
	atomic_store(&q.stopping, true);
	pthread_cond_signal(&q.work);
	pthread_mutex_unlock(&q.lock);
	pthread_join(q.thread, NULL);
	/* the worker may have seen stopping before the last records */
	while (hash_next() > 0)
		;
	free_homes();
	q.running = false;
	free(q.ring);
	q.ring = NULL;
}

struct hq_job *hq_new(void)
{
	struct hq_job *j;

	free_homes();
	j = xcalloc(1, sizeof(*j));

	sha256_init(&j->ctx);
	return j;
}

void hq_update(struct hq_job *j, const uint8_t *p, size_t n)
{
	size_t k;

	if (j->finished || !n)
		return;
	if (!q.running) {
		sha256_update(&j->ctx, n, p);
		if (j->tee)
			j->tee(j->arg, p, n);
		return;
	}
	while (n) {
		k = put(j, p, n);
		p += k;
		n -= k;
	}
}

void hq_finish(struct hq_job *j)
{
	j->finished = true;
	if (open_rec.job == j)
		close_rec();
	/* its digest is wanted soon: have the worker at it by then */
	if (q.running && j->last > atomic_load(&q.rpos)) {
		publish();
		if (atomic_load(&q.worker_sleeps))
			wake_worker();
	}
}

/* Until the worker is done with every octet given to j. */
static void drain(struct hq_job *j)
{
	if (open_rec.job == j)
		close_rec();
	if (q.running)
		wait_for(j->last);
}

void hq_tee(struct hq_job *j, void (*fn)(void *arg, const uint8_t *p, size_t n),
	    void *arg)
{
	drain(j); /* octets given before are not fn's */
	j->tee = fn;
	j->arg = arg;
	j->sync = true;
}

void hq_end(struct hq_job *j, void (*fn)(void *arg), void *arg)
{
	hq_call(fn, arg); /* after the octets: their record is closed */
	if (q.running)
		j->last = q.wpos_own;
	j->sync = true;
	hq_finish(j);
}

void hq_sync(struct hq_job *j)
{
	if (j->sync)
		drain(j);
}

void hq_digest(struct hq_job *j, uint8_t *out)
{
	if (!j->done) {
		hq_finish(j);
		if (q.running)
			wait_for(j->last);
		sha256_digest(&j->ctx, sizeof(j->digest), j->digest);
		j->done = true;
	}
	memcpy(out, j->digest, sizeof(j->digest));
}

/* On the hashing thread, in order: the context j had at the fork. */
static void fork_ctx(void *arg)
{
	struct hq_job *n = arg;

	n->ctx = n->from->ctx;
	n->from = NULL;
}

struct hq_job *hq_fork(struct hq_job *j)
{
	struct hq_job *n = hq_new();

	n->from = j;
	hq_call(fork_ctx, n); /* after j's octets, before n's */
	if (q.running)
		j->last = n->last = q.wpos_own; /* neither freed before it */
	n->sync = true;
	return n;
}

void hq_free(struct hq_job *j)
{
	if (!j)
		return;
	drain(j); /* the worker may still read it, and a tee wants all */
	free(j);
}
