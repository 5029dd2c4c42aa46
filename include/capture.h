/* SPDX-License-Identifier: GPL-2.0-or-later */
/* capture.h - packets from a file or an interface, link layers stripped. */
#ifndef SMTPSCOPE_CAPTURE_H
#define SMTPSCOPE_CAPTURE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CAP_ERRBUF 512

struct cap_options {
	const char *file; /* "-" is standard input */
	FILE *fp; /* a seekable stream to read instead, named file; closed
		   * by cap_close() (fuzzing) */
	const char *iface;
	const char *filter;	  /* BPF expression, or NULL */
	const char *ports_filter; /* ANDed with filter when there is one */
	int snaplen;
	int buffer_kb;	/* kernel buffer, live only; 0: default */
	uint64_t count; /* stop after this many packets; 0: no limit */
	int quiet;	/* no warnings on stderr (time stamps) */
};

struct cap_stats {
	uint64_t packets, bytes;
	uint64_t ipv4, ipv6;
	uint64_t other; /* not IP, or a link layer we could not read */
	uint64_t cut;	/* shorter than on the wire (snaplen) */
	uint64_t kernel_recv, kernel_drop, if_drop; /* live only */
	int truncated; /* the file ended inside a packet */
};

/* Called for each IP packet: version 4 or 6, the IP header first. */
typedef void (*cap_ip_fn)(void *user, int version, const uint8_t *ip,
			  size_t caplen, size_t wirelen, int64_t ts,
			  uint64_t pktno);

/* A live capture woke up without a packet; now is the wall clock. */
typedef void (*cap_idle_fn)(void *user, int64_t now);

struct cap;

/* Open the source; on failure NULL and a one-line reason in err. */
struct cap *cap_open(const struct cap_options *opt, char *err);
/*
 * Read until the end, the count, or cap_break(); -1 on a read error.
 * Live, idle (if not NULL) runs at least twice a second; never for files.
 */
int cap_run(struct cap *c, cap_ip_fn fn, cap_idle_fn idle, void *user,
	    char *err);
/* Stop cap_run() from a signal handler. */
void cap_break(struct cap *c);
void cap_get_stats(struct cap *c, struct cap_stats *st);
/* A file's read position and size (0: unknown); false when live. */
bool cap_progress(const struct cap *c, uint64_t *pos, uint64_t *size);
void cap_close(struct cap *c);
/* Print the capture interfaces (-D); -1 with err on failure. */
int cap_list_interfaces(char *err);

#endif
