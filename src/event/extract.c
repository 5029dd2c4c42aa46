/* SPDX-License-Identifier: GPL-2.0-or-later */
/* extract.c - write messages and attachments to files as they stream. */
#include "extract.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/*
 * Whatever the umask: a message is never readable by other users; its
 * group may read it (a set-group-ID DIR hands files to an analysts' group).
 */
#define EX_MODE	    0640
#define EX_NAME_MAX 128 /* ".<name>.<16 hex>.tmp"; event.c's names are < 64 */
#define EX_TRIES    16	/* random temporary names tried before giving up */

struct ex_file {
	FILE *fp;      /* NULL once closed, and after an error */
	char name[64]; /* given to ex_open(), for messages */
	char tmp[EX_NAME_MAX];
	uint64_t size; /* bytes written, counted in the budget */
	bool failed;   /* dropped: the rest is skipped */
};

/* The run's directory, budget and counters: there is one per run. */
static struct {
	int fd;		    /* DIR, held open */
	const char *dir;    /* its path, for messages */
	uint64_t max_bytes; /* 0: no limit */
	uint64_t used;	    /* bytes in files written and being written */
	uint64_t seq;	    /* tells random names apart without getrandom */
	struct ex_stats st;
	bool budget_warned, existing_warned;
	uint8_t errno_warned[32]; /* a bit per errno value reported */
} ex = {.fd = -1};

int ex_init(const char *dir, uint64_t max_bytes, char *err)
{
	struct stat st;
	int fd;

	/*
	 * DIR itself may be a symbolic link the operator made: it is
	 * resolved once, here, and the descriptor is used from then on.
	 */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, 256, "--extract %s: %s", dir,
			 errno == ENOTDIR ? "not a directory"
					  : strerror(errno));
		goto fail;
	}
	/* anyone could plant a name there, or rename ours away */
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, 256,
			 "--extract %s: writable by every user and not sticky "
			 "(chmod o-w or +t)",
			 dir);
		goto fail;
	}
	if (faccessat(fd, ".", W_OK | X_OK, 0) < 0) {
		snprintf(err, 256, "--extract %s: %s", dir, strerror(errno));
		goto fail;
	}
	ex.fd = fd;
	ex.dir = dir;
	ex.max_bytes = max_bytes;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Unpredictable, so that names cannot be planted ahead of us. */
static uint64_t random64(void)
{
	struct timespec ts;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == sizeof(r))
		return r;
	/* no entropy yet (early boot): O_EXCL still makes a clash harmless */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 40) ^
	       ++ex.seq * UINT64_C(0x9e3779b97f4a7c15);
}

/* The temporary file goes, and its bytes leave the budget. */
static void drop(struct ex_file *f)
{
	f->failed = true;
	if (f->fp) {
		fclose(f->fp);
		f->fp = NULL;
	}
	unlinkat(ex.fd, f->tmp, 0);
	ex.used -= f->size;
	f->size = 0;
}

/*
 * Count a failure; one line for the first of each kind (errno): a full
 * disk or a read-only directory fails every message, and stderr must
 * not flood.
 */
static void report(const char *what, const char *name)
{
	int e = errno;
	bool seen = e > 0 && e < 256 && ex.errno_warned[e / 8] & 1 << e % 8;

	if (!seen)
		fprintf(stderr,
			"smtpscope: extract: %s %s/%s: %s (such failures are "
			"counted in stats.extract_errors)\n",
			what, ex.dir, name, strerror(e));
	if (e > 0 && e < 256)
		ex.errno_warned[e / 8] |= 1 << e % 8;
	ex.st.errors++;
}

static void failure(struct ex_file *f, const char *what, const char *name)
{
	report(what, name);
	drop(f);
}

struct ex_file *ex_open(const char *name)
{
	struct ex_file *f = xcalloc(1, sizeof(*f));
	int fd = -1, i;

	snprintf(f->name, sizeof(f->name), "%s", name);
	/*
	 * A fresh random name with O_EXCL, not O_TMPFILE: publishing an
	 * O_TMPFILE needs linkat() through /proc/self/fd (or
	 * CAP_DAC_READ_SEARCH), which a sensor that dropped root (-Z) or
	 * runs without /proc may lack, and not every filesystem has it. One
	 * path that works everywhere; O_EXCL|O_NOFOLLOW never opens what is
	 * already there (a symbolic link, a FIFO), O_NONBLOCK never waits.
	 */
	for (i = 0; i < EX_TRIES && fd < 0; i++) {
		snprintf(f->tmp, sizeof(f->tmp), ".%s.%016" PRIx64 ".tmp",
			 f->name, random64());
		fd = openat(ex.fd, f->tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				O_NONBLOCK | O_CLOEXEC,
			    EX_MODE);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd >= 0 && fchmod(fd, EX_MODE) == 0 && (f->fp = fdopen(fd, "wb")))
		return f;
	report("cannot create", f->tmp);
	f->failed = true;
	if (fd >= 0) {
		close(fd);
		unlinkat(ex.fd, f->tmp, 0);
	}
	return f;
}

static void over_budget(struct ex_file *f)
{
	if (!ex.budget_warned)
		fprintf(stderr,
			"smtpscope: warning: extract: --extract-max-bytes "
			"%" PRIu64 " reached: %s/%s and any other file that "
			"would go over it are not written (counted in "
			"stats.extract_skipped)\n",
			ex.max_bytes, ex.dir, f->name);
	ex.budget_warned = true;
	ex.st.skipped++;
	drop(f);
}

void ex_write(struct ex_file *f, const uint8_t *p, size_t n)
{
	if (f->failed || !n)
		return;
	if (ex.max_bytes && n > ex.max_bytes - ex.used) {
		over_budget(f);
		return;
	}
	ex.used += n;
	f->size += n;
	if (fwrite(p, 1, n, f->fp) != n)
		failure(f, "cannot write", f->tmp);
}

/* 64 hex digits: an attachment, named by its SHA-256 (see event.c). */
static bool named_by_content(const char *name)
{
	size_t n = strspn(name, "0123456789abcdef");

	return n == 64 && !name[n];
}

/*
 * The final name is taken. An attachment's hash name on a regular file
 * is the same content (a run over the same traffic): nothing to do. Any
 * other thing there - a message of that name, a symbolic link, a
 * directory, a FIFO - is left alone, and said once.
 */
static void name_taken(struct ex_file *f, const char *final)
{
	struct stat st;

	ex.st.existing++;
	if (!(named_by_content(final) &&
	      fstatat(ex.fd, final, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	      S_ISREG(st.st_mode)) &&
	    !ex.existing_warned) {
		fprintf(stderr,
			"smtpscope: warning: extract: %s/%s exists: not "
			"replaced (such files are counted in "
			"stats.extract_existing)\n",
			ex.dir, final);
		ex.existing_warned = true;
	}
	drop(f);
}

/* Rename without following or replacing anything at the final name. */
static void publish(struct ex_file *f, const char *final)
{
	int rc = renameat2(ex.fd, f->tmp, ex.fd, final, RENAME_NOREPLACE);

	if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
		/* no RENAME_NOREPLACE here: a link never replaces either */
		rc = linkat(ex.fd, f->tmp, ex.fd, final, 0);
		if (rc == 0)
			unlinkat(ex.fd, f->tmp, 0);
	}
	if (rc < 0) {
		if (errno == EEXIST)
			name_taken(f, final);
		else
			failure(f, "cannot rename", f->tmp);
		return;
	}
	ex.st.files++;
	ex.st.bytes += f->size;
}

void ex_close(struct ex_file **fp, const char *name, bool complete)
{
	struct ex_file *f = *fp;
	char final[EX_NAME_MAX];

	if (!f)
		return;
	if (!f->failed) {
		FILE *w = f->fp;

		f->fp = NULL; /* closed whatever fclose() says */
		if (fclose(w) != 0)
			failure(f, "cannot write", f->tmp);
	}
	if (!f->failed) {
		snprintf(final, sizeof(final), "%s%s", name,
			 complete ? "" : ".partial");
		publish(f, final);
	}
	free(f);
	*fp = NULL;
}

void ex_get_stats(struct ex_stats *st)
{
	*st = ex.st;
}
