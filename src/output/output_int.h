/* SPDX-License-Identifier: GPL-2.0-or-later */
/* output_int.h - the interface between output.c and the one module per sink. */
#ifndef SMTPSCOPE_OUTPUT_INT_H
#define SMTPSCOPE_OUTPUT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "output.h"
#include "util.h"

#define OUT_QUEUE_MAX (1024 * 1024) /* bytes a sink may hold back */
#define OUT_ERR_MAX   256	    /* the err buffer of out_add and open */
#define OUT_CLOSE_MS  2000	    /* a socket sink's last try at exit */

/* What a connect op says. */
enum { OUT_DOWN = -1, OUT_UP = 0, OUT_PENDING = 1 };

/*
 * The generic part of a sink, the first member of each module's own
 * struct. output.c owns the list, the pacing of reconnections, the
 * warnings and the counter; the module owns its connection.
 */
struct sink {
	const struct sink_ops *ops;
	const char *name; /* in messages: a path or a host (module storage) */
	bool up;	  /* connected; always true for sinks without connect */
	bool warned;	  /* told once that it is down */
	time_t retry;	  /* wall time of the next connection attempt */
	uint64_t dropped;
	uint64_t reported; /* dropped, as of the last stats event */
	bool write_error;  /* a file lost an event: the run exits 1 */
	bool reader_gone;  /* stdout's reader went away (EPIPE): stop */
	struct sink *next;
};

struct sink_ops {
	/* What it is: a file (-o FILE, stdout; not a socket sink); one that
	 * uses each event's key (a partition key: the flow) */
	bool is_file, keyed;
	/* Give stdout to the transcript too; NULL: it never writes stdout. */
	void (*share_stdout)(struct sink *s);
	/* Parse spec and make the sink; NULL with a reason in err. */
	struct sink *(*open)(const char *spec, char *err);
	/*
	 * One connection attempt: OUT_UP, OUT_PENDING (in progress: not
	 * announced as back) or OUT_DOWN with *why. NULL: never down.
	 */
	int (*connect)(struct sink *s, const char **why);
	/* One event; counts what it drops, calls out_sink_down if gone. */
	void (*write)(struct sink *s, const char *line, size_t len,
		      const char *key, size_t klen);
	/* Write what is held back now; NULL: nothing is held back. */
	void (*flush)(struct sink *s);
	/* Drop the connection; what it held back is lost and counted. */
	void (*disconnect)(struct sink *s);
	/* SIGHUP (log rotation); NULL: nothing to reopen. */
	void (*reopen)(struct sink *s);
	/*
	 * Last bounded try for what is held back, then free it all; what is
	 * still held is counted with out_sink_lost_at_exit.
	 */
	void (*close)(struct sink *s);
};

extern const struct sink_ops out_file_ops, out_syslog_ops, out_dgram_ops,
    out_stream_ops, out_redis_ops, out_kafka_ops;

/* The connection is lost: disconnect, tell once (why may be NULL). */
void out_sink_down(struct sink *s, const char *why);
/* Tell once, on stderr, that s is down and its events are dropped. */
void out_sink_warn(struct sink *s, const char *why);
/* s works again: say so if it was reported down ("connected again"). */
void out_sink_up(struct sink *s, const char *how);
/*
 * At close: count n events lost now, and say on stderr how many drops the
 * last stats event could not show (these, and any after it, itself too).
 */
void out_sink_lost_at_exit(struct sink *s, uint64_t n);
/* Events in the unsent bytes of a queue: one per newline. */
uint64_t out_lines(const char *p, size_t n);
/* Milliseconds of the monotonic clock, for the deadlines of close. */
int64_t out_now_ms(void);

/* A unix socket sink: unix:, unix-stream:, and syslog's transport. */
struct unix_sink {
	struct sink s;
	int type; /* SOCK_DGRAM or SOCK_STREAM */
	int fd;	  /* -1 while down */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sbuf queue; /* stream: whole lines not yet sent */
};

/* Fill u for path; -1 with a reason in err. */
int out_unix_init(struct unix_sink *u, int type, const char *path,
		  const char *spec, char *err);
int out_unix_connect(struct sink *s, const char **why);
void out_unix_send_dgram(struct unix_sink *u, const char *p, size_t n);
void out_unix_disconnect(struct sink *s);
/* Close, after a last try (OUT_CLOSE_MS) for what a stream holds back. */
void out_unix_close(struct unix_sink *u);

#endif
