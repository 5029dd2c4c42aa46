/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_hashq.c - the hashing thread gives nettle's digests, in any order. */
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashq.h"
#include "util.h"

#define JOBS 40

static int passed, failed;

static void report(const char *name, const char *why)
{
	if (why) {
		printf("FAIL hashq/%s: %s\n", name, why);
		failed++;
	} else {
		printf("PASS hashq/%s\n", name);
		passed++;
	}
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/*
 * JOBS hashes fed interleaved in pieces of 0 to 70000 octets (lines,
 * packets, more than a record), 64 MB in all so the ring wraps several
 * times; each is digested or freed at a random point, new ones started.
 * Every digest must be nettle's of the same octets, fed at once.
 */
static const char *interleaved(void)
{
	static uint8_t data[1 << 20];
	static char why[200];
	struct hq_job *job[JOBS];
	struct sha256_ctx ref[JOBS];
	uint8_t got[32], want[32];
	size_t fed = 0, off, n;
	unsigned i, k, digests = 0;

	why[0] = '\0';
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rnd();
	for (k = 0; k < JOBS; k++) {
		job[k] = hq_new();
		sha256_init(&ref[k]);
	}
	while (fed < (64u << 20)) {
		k = rnd() % JOBS;
		n = rnd() % 4 ? rnd() % 200 : rnd() % 70000;
		off = rnd() % (sizeof(data) - n);
		hq_update(job[k], data + off, n);
		sha256_update(&ref[k], n, data + off);
		fed += n;
		if (rnd() % 10)
			continue;
		if (rnd() % 4) {
			hq_finish(job[k]);
			hq_digest(job[k], got);
			sha256_digest(&ref[k], 32, want);
			if (memcmp(got, want, 32)) {
				snprintf(why, sizeof(why),
					 "job %u: wrong digest after %zu "
					 "octets fed in all",
					 k, fed);
				break;
			}
			digests++;
		}
		hq_free(job[k]); /* also without a digest */
		job[k] = hq_new();
		sha256_init(&ref[k]);
	}
	for (k = 0; k < JOBS; k++)
		hq_free(job[k]);
	if (why[0])
		return why;
	if (digests < 300) {
		snprintf(why, sizeof(why), "only %u digests checked", digests);
		return why;
	}
	return NULL;
}

/* What a tee was given: a running SHA-256 of it, its length, where. */
struct tee {
	struct sha256_ctx ctx;
	uint64_t n;
	unsigned off_main; /* calls made on another thread */
	uint64_t at_end;   /* n when its hq_end() call ran; -1 before */
};

static void end_fn(void *arg)
{
	struct tee *t = arg;

	t->at_end = t->n;
}

static pthread_t main_thread;

static void tee_fn(void *arg, const uint8_t *p, size_t n)
{
	struct tee *t = arg;

	sha256_update(&t->ctx, n, p);
	t->n += n;
	if (!pthread_equal(pthread_self(), main_thread))
		t->off_main++;
}

/* An hq_call(): what its tee must have had by then. */
struct check {
	struct tee *tee;
	uint64_t want;
};

static unsigned calls, calls_wrong;

static void check_call(void *arg)
{
	struct check *c = arg;

	calls++;
	if (c->tee->n != c->want)
		calls_wrong++;
	/* the main thread's block: freed there (at its next hq_new(),
	 * hq_call() or hq_stop()), as the parser's struct is */
	hq_free_home(c);
}

/*
 * Tees on jobs fed interleaved: after hq_sync() (and hq_free(), which
 * must not drop a record still open) each tee has had exactly the octets
 * given after hq_tee(), in order. With the thread, some of the calls
 * must have been made on it: that is the point of a tee.
 */
static const char *tees(bool threaded)
{
	static uint8_t data[1 << 16];
	static char why[200];
	struct hq_job *job[JOBS];
	struct tee tee[JOBS];
	struct sha256_ctx ref[JOBS], a, b;
	uint8_t da[32], db[32];
	uint64_t want[JOBS];
	size_t fed = 0, off, n;
	unsigned i, k, syncs = 0, off_main = 0, made = 0;

	main_thread = pthread_self();
	calls = calls_wrong = 0;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rnd();
	for (k = 0; k < JOBS; k++) {
		job[k] = hq_new();
		hq_update(job[k], data, 10 + k); /* before the tee: not its */
		memset(&tee[k], 0, sizeof(tee[k]));
		sha256_init(&tee[k].ctx);
		hq_tee(job[k], tee_fn, &tee[k]);
		sha256_init(&ref[k]);
		want[k] = 0;
	}
	while (fed < (16u << 20)) {
		k = rnd() % JOBS;
		n = rnd() % 4 ? rnd() % 200 : rnd() % 20000;
		off = rnd() % (sizeof(data) - n);
		hq_update(job[k], data + off, n);
		sha256_update(&ref[k], n, data + off);
		want[k] += n;
		fed += n;
		if (rnd() % 8 == 0) { /* it must see the octets before it */
			struct check *c = xmalloc(sizeof(*c));

			c->tee = &tee[k];
			c->want = want[k];
			hq_call(check_call, c);
			made++;
		}
		if (rnd() % 16)
			continue;
		hq_sync(job[k]);
		a = tee[k].ctx;
		b = ref[k];
		sha256_digest(&a, 32, da);
		sha256_digest(&b, 32, db);
		if (tee[k].n != want[k] || memcmp(da, db, 32)) {
			snprintf(why, sizeof(why),
				 "job %u: its tee had %llu octets, not the "
				 "%llu given since hq_tee(), or others",
				 k, (unsigned long long)tee[k].n,
				 (unsigned long long)want[k]);
			break;
		}
		syncs++;
	}
	for (k = 0; k < JOBS; k++) {
		/* hq_end(): its call after the last octet, waited for */
		tee[k].at_end = (uint64_t)-1;
		hq_end(job[k], end_fn, &tee[k]);
		hq_update(job[k], data, 10); /* ignored: it is finished */
		hq_sync(job[k]);
		if (!why[0] && tee[k].at_end != want[k])
			snprintf(why, sizeof(why),
				 "job %u: its end call ran at %lld octets, "
				 "not after all %llu (or not before hq_sync)",
				 k, (long long)tee[k].at_end,
				 (unsigned long long)want[k]);
		hq_free(job[k]);
		if (!why[0] && tee[k].n != want[k])
			snprintf(why, sizeof(why),
				 "job %u: hq_free() left %llu octets unpassed",
				 k, (unsigned long long)(want[k] - tee[k].n));
		off_main += tee[k].off_main;
	}
	if (why[0])
		return why;
	if (syncs < 100)
		return "too few syncs checked";
	/* a last record: when it is done, every call before it is */
	job[0] = hq_new();
	hq_update(job[0], data, 1);
	hq_free(job[0]);
	if (calls != made || calls_wrong) {
		snprintf(why, sizeof(why),
			 "%u of %u hq_call()s run, %u before the octets "
			 "given before them",
			 calls, made, calls_wrong);
		return why;
	}
	if (threaded && !off_main)
		return "no tee call was made on the hashing thread";
	if (!threaded && off_main)
		return "a tee call off the caller's thread without hq_start()";
	return NULL;
}

/* The empty input, and a digest asked for twice. */
static const char *empty(void)
{
	static const uint8_t e3[4] = {0xe3, 0xb0, 0xc4, 0x42};
	struct hq_job *j = hq_new();
	uint8_t a[32], b[32];

	hq_digest(j, a);
	hq_digest(j, b);
	hq_free(j);
	if (memcmp(a, e3, 4))
		return "SHA-256 of nothing is not e3b0c442...";
	if (memcmp(a, b, 32))
		return "a second digest differs";
	return NULL;
}

/*
 * A job fed while the worker runs and digested after hq_stop(): the
 * records still in the ring when it stopped must be hashed all the same,
 * and a new start must begin from a clean ring.
 */
static const char *stop_with_work(void)
{
	static uint8_t data[3000];
	struct sha256_ctx ref;
	struct hq_job *j;
	uint8_t got[32], want[32];
	unsigned i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rnd();
	for (i = 0; i < 200; i++) {
		if (hq_start() != 0)
			return "pthread_create failed";
		usleep(i % 7 * 20); /* the worker polling, at various points */
		j = hq_new();
		hq_update(j, data, sizeof(data));
		hq_stop();
		hq_update(j, data, 100); /* inline now */
		hq_digest(j, got);
		hq_free(j);
		sha256_init(&ref);
		sha256_update(&ref, sizeof(data), data);
		sha256_update(&ref, 100, data);
		sha256_digest(&ref, 32, want);
		if (memcmp(got, want, 32))
			return "a digest after hq_stop() misses octets";
	}
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	report("inline_interleaved", interleaved());
	report("inline_empty", empty());
	report("inline_tee", tees(false));
	if (hq_start() != 0) {
		report("thread_start", "pthread_create failed");
	} else {
		report("thread_interleaved", interleaved());
		report("thread_empty", empty());
		report("thread_tee", tees(true));
		hq_stop();
	}
	report("stop_with_work", stop_with_work());
	printf("hashq: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
