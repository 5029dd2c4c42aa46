/* SPDX-License-Identifier: GPL-2.0-or-later */
/* extract.c - write each message to DIR/<session>-<n>.eml as it streams. */
#include "extract.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

struct ex_file {
	FILE *fp;      /* NULL after an error: the rest is skipped */
	char *tmp;     /* where it is written */
	char *final;   /* where it goes when complete, without ".partial" */
	bool failed;
};

static uint64_t files_written, write_errors;

int ex_check_dir(const char *dir, char *err)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		snprintf(err, 256, "--extract %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, 256, "--extract %s: not a directory", dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, 256, "--extract %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static char *path_of(const char *dir, const char *prefix, uint64_t session,
		     uint32_t txn, const char *suffix)
{
	size_t n = strlen(dir) + 64;
	char *p = xmalloc(n);

	snprintf(p, n, "%s/%s%" PRIu64 "-%u.eml%s", dir, prefix, session, txn,
		 suffix);
	return p;
}

static void failure(struct ex_file *f, const char *what, const char *path)
{
	/* one line per failed message; never more than that */
	fprintf(stderr, "smtpscope: extract: %s %s: %s\n", what, path,
		strerror(errno));
	write_errors++;
	f->failed = true;
	if (f->fp) {
		fclose(f->fp);
		f->fp = NULL;
		unlink(f->tmp);
	}
}

void ex_write(struct ex_file **fp, const char *dir, uint64_t session,
	      uint32_t txn, const uint8_t *p, size_t n)
{
	struct ex_file *f = *fp;

	if (!f) {
		f = *fp = xcalloc(1, sizeof(*f));
		/* a hidden temporary name: nothing partial under a final one */
		f->tmp = path_of(dir, ".", session, txn, ".tmp");
		f->final = path_of(dir, "", session, txn, "");
		f->fp = fopen(f->tmp, "wb");
		if (!f->fp)
			failure(f, "cannot create", f->tmp);
	}
	if (f->failed || !n)
		return;
	if (fwrite(p, 1, n, f->fp) != n)
		failure(f, "cannot write", f->tmp);
}

void ex_close(struct ex_file **fp, bool complete)
{
	struct ex_file *f = *fp;
	char *partial;

	if (!f)
		return;
	if (!f->failed && fclose(f->fp) != 0) {
		f->fp = NULL;
		failure(f, "cannot write", f->tmp);
	}
	f->fp = NULL;
	if (!f->failed) {
		partial = complete ? NULL : xmalloc(strlen(f->final) + 9);
		if (partial)
			sprintf(partial, "%s.partial", f->final);
		if (rename(f->tmp, partial ? partial : f->final) < 0) {
			failure(f, "cannot rename", f->tmp);
			unlink(f->tmp);
		} else {
			files_written++;
		}
		free(partial);
	}
	free(f->tmp);
	free(f->final);
	free(f);
	*fp = NULL;
}

void ex_counters(uint64_t *files, uint64_t *errors)
{
	*files = files_written;
	*errors = write_errors;
}
