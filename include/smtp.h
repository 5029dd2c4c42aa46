/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp.h - incremental SMTP dialogue decoder: bytes in, callbacks out. */
#ifndef SMTPSCOPE_SMTP_H
#define SMTPSCOPE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Who sent the bytes given to smtp_feed(). */
enum smtp_dir { SMTP_FROM_CLIENT = 0, SMTP_FROM_SERVER = 1 };

/* How a session ended: enum name, JSON string. */
#define SMTP_CLOSE_LIST(X)                                                     \
	X(QUIT, "quit")                                                        \
	X(FIN, "fin")                                                          \
	X(RESET, "reset")                                                      \
	X(TIMEOUT, "timeout")                                                  \
	X(EOF, "eof")                                                          \
	X(GAP, "gap")                                                          \
	X(SHUTDOWN, "shutdown")

enum smtp_close {
#define X(name, str) SMTP_CLOSE_##name,
	SMTP_CLOSE_LIST(X)
#undef X
};

/* Alert kinds: enum name, JSON kind, severity, one sentence. */
#define SMTP_ALERT_LIST(X)                                                     \
	X(REPLY_421, "reply_421", ERROR,                                       \
	  "The server answered 421: service not available, it is closing "     \
	  "the connection.")                                                   \
	X(REPLY_4XX, "reply_4xx", WARNING,                                     \
	  "The server answered with a temporary failure (4xx); the client "    \
	  "should retry later.")                                               \
	X(REPLY_5XX, "reply_5xx", ERROR,                                       \
	  "The server answered with a permanent failure (5xx).")               \
	X(UNSOLICITED_REPLY, "unsolicited_reply", WARNING,                     \
	  "The server sent a reply that no command asked for.")                \
	X(UNKNOWN_COMMAND, "unknown_command", WARNING,                         \
	  "The client sent a command verb that SMTP and its common "           \
	  "extensions do not define.")                                         \
	X(INVALID_REPLY, "invalid_reply", WARNING,                             \
	  "The server sent a line that is not a valid SMTP reply (no "         \
	  "three-digit code from 200 to 599).")

enum smtp_alert_kind {
#define X(name, str, sev, text) SMTP_ALERT_##name,
	SMTP_ALERT_LIST(X)
#undef X
	    SMTP_ALERT_COUNT
};

enum smtp_severity {
	SMTP_SEV_INFO,
	SMTP_SEV_WARNING,
	SMTP_SEV_ERROR,
	SMTP_SEV_CRITICAL,
};

/* Transaction outcome: enum name, JSON string. */
#define SMTP_STATUS_LIST(X)                                                    \
	X(QUEUED, "queued")                                                    \
	X(REJECTED, "rejected")                                                \
	X(ABORTED, "aborted")                                                  \
	X(RESET, "reset")                                                      \
	X(INCOMPLETE, "incomplete")

enum smtp_status {
#define X(name, str) SMTP_STATUS_##name,
	SMTP_STATUS_LIST(X)
#undef X
};

#define SMTP_ENHANCED_MAX 16 /* "5.123.123" and NUL, rounded up */

/* One complete (possibly multi-line) reply. Strings are NUL-terminated. */
struct smtp_reply {
	int code; /* 0: no reply (command never answered) */
	char enhanced[SMTP_ENHANCED_MAX]; /* RFC 3463 status, or "" */
	const char *text; /* lines joined with '\n', codes stripped */
	size_t text_len;
	const char *raw; /* lines as on the wire, joined with '\n' */
	size_t raw_len;
	unsigned lines;
	int64_t ts; /* microseconds since the epoch, packet time */
};

/*
 * One command, or a pseudo-command in angle brackets (<greeting>,
 * <message>, <auth>, <unsolicited>). Strings are NUL-terminated.
 */
struct smtp_cmd {
	uint32_t seq;	  /* 1-based order in the session; 0 for pseudo */
	const char *verb; /* upper-cased; unknown verbs as sent */
	const char *arg;  /* rest of the line; AUTH responses masked */
	size_t arg_len;
	const char *line; /* the line as sent (AUTH masked); command cb only */
	size_t line_len;
	bool pipelined; /* sent while an earlier command was unanswered */
	bool known;	/* verb is in the command table */
	int64_t ts;
};

struct smtp_alert {
	enum smtp_alert_kind kind;
	const struct smtp_cmd *cmd;	/* may be NULL */
	const struct smtp_reply *reply; /* may be NULL */
	int64_t ts;
};

struct smtp_param {
	char *key;   /* upper-cased */
	char *value; /* NULL for a keyword without '=' */
};

struct smtp_rcpt {
	char *address;
	int code; /* 0 while unanswered */
	char enhanced[SMTP_ENHANCED_MAX];
	char *text;
};

/* A copied reply kept beyond the callback that delivered it. */
struct smtp_saved_reply {
	int code;
	char enhanced[SMTP_ENHANCED_MAX];
	char *text;
};

struct smtp_txn {
	uint32_t index; /* 1-based within the session */
	const char *helo;
	char *mail_from;
	struct smtp_param *params;
	size_t n_params;
	struct smtp_saved_reply mail_reply;
	struct smtp_rcpt *rcpts;
	size_t n_rcpts;
	size_t accepted_rcpts;
	size_t dropped_rcpts; /* beyond SMTP_MAX_RCPTS, counted only */
	struct smtp_saved_reply data_reply;
	char *queue_id;
	enum smtp_status status;
	bool has_body;	/* some message octets were seen */
	bool body_done; /* the end-of-data marker was seen */
	bool bdat;	/* sent with BDAT rather than DATA */
	uint64_t size;	/* message octets, unstuffed */
	uint8_t sha256[32];
	char *subject; /* raw Subject header value, unfolded; or NULL */
	int64_t ts_start, ts_end;
};

struct smtp_tls {
	bool offered, requested, accepted, implicit;
};

/* Session summary, delivered once by smtp_end(). */
struct smtp_session_info {
	const char *banner;
	const char *helo;
	const char *const *extensions;
	size_t n_extensions;
	struct smtp_tls tls;
	const char *auth_mechanism; /* NULL: no AUTH */
	const char *auth_result;    /* "success", "failure", "cancelled" */
	int auth_code;
	uint32_t transactions;
	uint32_t commands;
	uint32_t replies[4]; /* 2xx, 3xx, 4xx, 5xx */
	uint64_t bytes_client, bytes_server;
	int64_t ts_start, ts_end;
	enum smtp_close close;
};

/*
 * Callbacks: pointers given to them are valid only during the call.
 * Any member may be NULL.
 */
struct smtp_callbacks {
	/* A command line arrived (real commands and <auth> lines). */
	void (*command)(void *user, const struct smtp_cmd *cmd);
	/* A reply arrived, paired with the command it answers. */
	void (*reply)(void *user, const struct smtp_cmd *cmd,
		      const struct smtp_reply *reply);
	/* A message body ended (complete or cut). */
	void (*body)(void *user, const struct smtp_txn *txn);
	void (*alert)(void *user, const struct smtp_alert *alert);
	void (*transaction)(void *user, const struct smtp_txn *txn);
	void (*session)(void *user, const struct smtp_session_info *info);
};

struct smtp_session;

struct smtp_options {
	bool implicit_tls; /* port 465: the stream is TLS from the start */
	int64_t ts_start;  /* time of the connection's first packet, or -1 */
};

/* A new session; never returns NULL (aborts on out of memory). */
struct smtp_session *smtp_session_new(const struct smtp_callbacks *cb,
				      void *user,
				      const struct smtp_options *opt);
/* Feed bytes of one direction, in order; any split gives the same events. */
void smtp_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *buf,
	       size_t len, int64_t ts);
/* End the session: flush what is pending, emit the session event. */
void smtp_end(struct smtp_session *s, enum smtp_close reason, int64_t ts);
void smtp_session_free(struct smtp_session *s);

const char *smtp_alert_kind_str(enum smtp_alert_kind kind);
enum smtp_severity smtp_alert_severity(enum smtp_alert_kind kind);
const char *smtp_alert_text(enum smtp_alert_kind kind);
const char *smtp_severity_str(enum smtp_severity sev);
const char *smtp_close_str(enum smtp_close c);
const char *smtp_status_str(enum smtp_status st);

#endif
