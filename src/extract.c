/* SPDX-License-Identifier: GPL-2.0-or-later */
/* extract.c - write messages and attachments to files as they stream. */
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
	FILE *fp;  /* NULL after an error: the rest is skipped */
	char *dir;
	char *tmp; /* where it is written */
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

static char *path_of(const char *dir, const char *prefix, const char *name,
		     const char *suffix)
{
	size_t n = strlen(dir) + strlen(prefix) + strlen(name) +
		   strlen(suffix) + 2;
	char *p = xmalloc(n);

	snprintf(p, n, "%s/%s%s%s", dir, prefix, name, suffix);
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

struct ex_file *ex_open(const char *dir, const char *tmp)
{
	struct ex_file *f = xcalloc(1, sizeof(*f));

	f->dir = xstrndup(dir, strlen(dir));
	f->tmp = path_of(dir, ".", tmp, ".tmp");
	f->fp = fopen(f->tmp, "wb");
	if (!f->fp)
		failure(f, "cannot create", f->tmp);
	return f;
}

void ex_write(struct ex_file *f, const uint8_t *p, size_t n)
{
	if (f->failed || !n)
		return;
	if (fwrite(p, 1, n, f->fp) != n)
		failure(f, "cannot write", f->tmp);
}

void ex_close(struct ex_file **fp, const char *name, bool complete)
{
	struct ex_file *f = *fp;
	char *final;

	if (!f)
		return;
	if (!f->failed && fclose(f->fp) != 0) {
		f->fp = NULL; /* closed all the same */
		failure(f, "cannot write", f->tmp);
		unlink(f->tmp);
	}
	f->fp = NULL;
	if (!f->failed) {
		final = path_of(f->dir, "", name, complete ? "" : ".partial");
		if (rename(f->tmp, final) < 0) {
			failure(f, "cannot rename", f->tmp);
			unlink(f->tmp);
		} else {
			files_written++;
		}
		free(final);
	}
	free(f->dir);
	free(f->tmp);
	free(f);
	*fp = NULL;
}

void ex_counters(uint64_t *files, uint64_t *errors)
{
	*files = files_written;
	*errors = write_errors;
}
