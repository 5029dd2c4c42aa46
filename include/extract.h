/* SPDX-License-Identifier: GPL-2.0-or-later */
/* extract.h - write messages and attachments to files as they stream. */
#ifndef SMTPSCOPE_EXTRACT_H
#define SMTPSCOPE_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One file being written; NULL when nothing is open. */
struct ex_file;

/* What extraction did in this run, for the stats event. */
struct ex_stats {
	uint64_t files;	   /* files written (extracted_files) */
	uint64_t bytes;	   /* their content, in bytes */
	uint64_t errors;   /* create, write (a full disk), rename failures */
	uint64_t skipped;  /* dropped: over --extract-max-bytes */
	uint64_t existing; /* dropped: the final name was already taken */
};

/*
 * Open dir once, for the whole run (every file is created and renamed
 * relative to it, so a directory swapped in later is never written), and
 * set the budget: at most max_bytes of file content in the run (0: no
 * limit). -1 with "--extract DIR: why" in err (256 bytes) when dir cannot
 * take files, or when any user could plant names in it (world-writable
 * without the sticky bit).
 */
int ex_init(const char *dir, uint64_t max_bytes, char *err);
/*
 * Start a file under a new random hidden name ".<name>.<random>.tmp" in
 * the directory of ex_init() (dir only repeats it): nothing partial ever
 * stands under a final name, and nothing already there is ever opened.
 */
struct ex_file *ex_open(const char *dir, const char *name);
/*
 * Append n bytes. Errors (a full disk) are counted, reported on stderr
 * once for each cause, and the file is then dropped: capture never stops.
 * A file that would take the run over its budget is dropped the same way.
 */
void ex_write(struct ex_file *f, const uint8_t *p, size_t n);
/*
 * The content ended: rename to dir/<name> when complete, to
 * dir/<name>.partial when cut, never replacing what has that name. A
 * name of 64 hex digits (an attachment's SHA-256) already there is the
 * same content; any other taken name is reported once. *f is freed and
 * set to NULL.
 */
void ex_close(struct ex_file **f, const char *name, bool complete);
void ex_get_stats(struct ex_stats *st);

#endif
