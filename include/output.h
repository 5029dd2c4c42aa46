/* SPDX-License-Identifier: GPL-2.0-or-later */
/* output.h - the sinks of the events: files, syslog, unix, redis, kafka. */
#ifndef SMTPSCOPE_OUTPUT_H
#define SMTPSCOPE_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct out;

/*
 * Is spec one of ours (syslog, unix, unix-stream, redis://, kafka://)?
 * Files are added as "file:PATH", standard output as "file:-".
 */
bool out_is_sink(const char *spec);
/* Add a sink; NULL o makes a new set. -1 with a reason in err (256 bytes). */
int out_add(struct out **o, const char *spec, char *err);
/*
 * One event, without its newline; key (the flow) partitions Kafka. A
 * socket never blocks: a sink that cannot take it now drops it and
 * counts; one that is down reconnects, at most once a second. A file
 * (or stdout) gathers whole events and writes them with one write(2) per
 * 64 KB, or at once on a terminal; what fails is counted too.
 */
void out_write(struct out *o, const char *line, size_t len, const char *key,
	       size_t klen);
/* Write what the files hold back (a live capture is idle, exit). */
void out_flush(struct out *o);
/* Does a sink use the key (Kafka)? If not, any key will do. */
bool out_keyed(const struct out *o);
/* SIGHUP: flush, then reopen the file sinks (log rotation). */
void out_reopen(struct out *o);
/* -T prints on stdout too: keep events and transcripts in order. */
void out_share_stdout(struct out *o);
/* Did a file (or stdout) lose an event to a write error? */
bool out_write_error(const struct out *o);
/* Has standard output's reader gone away (EPIPE: "| head")? */
bool out_reader_gone(const struct out *o);
/*
 * Events dropped by all sinks, for a stats event: at exit, a sink says on
 * stderr what it dropped after the last call.
 */
uint64_t out_dropped(struct out *o);
void out_free(struct out *o);

#endif
