/* SPDX-License-Identifier: GPL-2.0-or-later */
/* extract.h - write each message to DIR/<session>-<n>.eml as it streams. */
#ifndef SMTPSCOPE_EXTRACT_H
#define SMTPSCOPE_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One message being written; NULL when nothing is open. */
struct ex_file;

/* Check that dir can take files; -1 with a reason in err (256 bytes). */
int ex_check_dir(const char *dir, char *err);
/*
 * Append n bytes of message txn of session to its file, opening it (under
 * a temporary name) on the first bytes. Errors are counted, reported once
 * on stderr, and the message is then skipped: capture never stops.
 */
void ex_write(struct ex_file **f, const char *dir, uint64_t session,
	      uint32_t txn, const uint8_t *p, size_t n);
/* The message ended: rename to .eml when complete, .eml.partial if cut. */
void ex_close(struct ex_file **f, bool complete);
/* Files written and write errors, for the stats event. */
void ex_counters(uint64_t *files, uint64_t *errors);

#endif
