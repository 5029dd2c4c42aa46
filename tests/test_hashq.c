/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_hashq.c - the hashing thread gives nettle's digests, in any order. */
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashq.h"

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
	if (hq_start() != 0) {
		report("thread_start", "pthread_create failed");
	} else {
		report("thread_interleaved", interleaved());
		report("thread_empty", empty());
		hq_stop();
	}
	report("stop_with_work", stop_with_work());
	printf("hashq: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
