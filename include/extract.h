/* SPDX-License-Identifier: GPL-2.0-or-later */
/* extract.h - write messages and attachments to files as they stream. */
#ifndef SMTPSCOPE_EXTRACT_H
#define SMTPSCOPE_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One file being written; NULL when nothing is open. */
struct ex_file;

/* Check that dir can take files; -1 with a reason in err (256 bytes). */
int ex_check_dir(const char *dir, char *err);
/*
 * Start a file in dir under the hidden temporary name ".<tmp>.tmp":
 * nothing partial ever stands under a final name.
 */
struct ex_file *ex_open(const char *dir, const char *tmp);
/*
 * Append n bytes. Errors are counted, reported once on stderr, and the
 * file is then skipped: capture never stops.
 */
void ex_write(struct ex_file *f, const uint8_t *p, size_t n);
/*
 * The content ended: rename to dir/<name> when complete, to
 * dir/<name>.partial when cut. *f is freed and set to NULL.
 */
void ex_close(struct ex_file **f, const char *name, bool complete);
/* Files written and write errors, for the stats event. */
void ex_counters(uint64_t *files, uint64_t *errors);

#endif
