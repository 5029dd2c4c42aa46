/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message.h - streaming RFC 5322 / MIME parser: octets in, facts out. */
#ifndef SMTPSCOPE_MESSAGE_H
#define SMTPSCOPE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Caps on what one message may cost. A zero member takes the default.
 * Reaching a cap raises an alert once and parsing goes on.
 */
struct msg_limits {
	size_t header_bytes; /* one header section; default 65536 */
	size_t field_bytes;  /* one unfolded header field kept; default 16384 */
	unsigned depth;	     /* MIME nesting; default 16, at most 32 */
	unsigned parts;	     /* MIME parts recorded; default 256 */
	unsigned addresses;  /* addresses per address field; default 100 */
	unsigned received;   /* Received / Authentication-Results; default 32 */
	unsigned urls;	     /* distinct URLs kept; default 100 */
	unsigned alerts;     /* alerts kept; default 32 */
};

/* Top-level header fields of interest: enum name, field name. */
#define MSG_HDR_LIST(X)                                                        \
	X(SUBJECT, "Subject")                                                  \
	X(FROM, "From")                                                        \
	X(SENDER, "Sender")                                                    \
	X(REPLY_TO, "Reply-To")                                                \
	X(TO, "To")                                                            \
	X(CC, "Cc")                                                            \
	X(BCC, "Bcc")                                                          \
	X(DATE, "Date")                                                        \
	X(MESSAGE_ID, "Message-ID")                                            \
	X(IN_REPLY_TO, "In-Reply-To")                                          \
	X(REFERENCES, "References")                                            \
	X(RETURN_PATH, "Return-Path")                                          \
	X(USER_AGENT, "User-Agent")                                            \
	X(X_MAILER, "X-Mailer")                                                \
	X(X_ORIGINATING_IP, "X-Originating-IP")                                \
	X(AUTH_RESULTS, "Authentication-Results")                              \
	X(RECEIVED, "Received")                                                \
	X(CONTENT_TYPE, "Content-Type")                                        \
	X(CTE, "Content-Transfer-Encoding")                                    \
	X(DISPOSITION, "Content-Disposition")

enum msg_hdr {
#define X(name, str) MSG_HDR_##name,
	MSG_HDR_LIST(X)
#undef X
	    MSG_HDR_COUNT
};

/* One mailbox of an address field. Strings are UTF-8 (names decoded). */
struct msg_addr {
	char *name;    /* display name, RFC 2047 decoded; "" if none */
	char *address; /* addr-spec, comments and whitespace removed */
	char *group;   /* name of the group it is in, or NULL */
};

/* One MIME entity, in the order met; parts[0] is the message itself. */
struct msg_part {
	int parent;	    /* index of the enclosing part, -1 for the root */
	unsigned depth;	    /* 0 for the root */
	char *type;	    /* "type/subtype", lower case */
	char *charset;	    /* lower case, or NULL */
	char *encoding;	    /* Content-Transfer-Encoding, lower case, or NULL */
	char *disposition;  /* "inline", "attachment", …, or NULL */
	char *filename;	    /* RFC 2231 / 2047 decoded, UTF-8, or NULL */
	uint64_t size;	    /* decoded octets (leaves only) */
	uint8_t sha256[32]; /* of the decoded octets (leaves only; set
			     * when the part ends) */
	bool leaf;	    /* has content of its own (not multipart) */
	bool attachment;    /* disposition attachment, or a file name */
	bool executable;    /* attachment_executable was raised for it */
	bool truncated;	    /* the message ended before the part did */
};

/* An alert for the caller to turn into an smtp_alert event. */
/*
 * What the parser alerts on. Each is an smtp_alert kind of the same name
 * too (include/smtp.h), which says what it means: the decoder maps them
 * by these names, so one missing there does not build.
 */
#define MSG_ALERT_LIST(X)                                                      \
	X(MIME_HEADER_LIMIT, "mime_header_limit")                              \
	X(MIME_DEPTH_LIMIT, "mime_depth_limit")                                \
	X(MALFORMED_MIME, "malformed_mime")                                    \
	X(ATTACHMENT_EXECUTABLE, "attachment_executable")                      \
	X(HEADER_FROM_MISMATCH, "header_from_mismatch")                        \
	X(MISSING_DATE_OR_MSGID, "missing_date_or_msgid")

enum msg_alert_kind {
#define X(k, name) MSG_ALERT_##k,
	MSG_ALERT_LIST(X)
#undef X
	    MSG_ALERT_COUNT
};

const char *msg_alert_kind_str(enum msg_alert_kind k);

struct msg_alert {
	enum msg_alert_kind kind;
	char *detail; /* one line saying what exactly was seen */
};

struct msg;

/*
 * Optional: the content of each recorded part as it streams (for
 * extraction): a leaf's decoded octets, an embedded message's octets.
 * Several parts stream at once when an embedded message holds parts of
 * its own. part points into the parser's results: its type, filename and
 * attachment flag are known at its first data; size, sha256 and truncated
 * are set when end is called (also for a part without content).
 */
struct msg_hooks {
	void (*data)(void *user, const struct msg_part *part, unsigned index,
		     const uint8_t *p, size_t n);
	void (*end)(void *user, const struct msg_part *part, unsigned index);
	void *user;
};

/* A new parser; lim NULL takes the defaults. Never returns NULL. */
struct msg *msg_new(const struct msg_limits *lim);
/* Hooks called from msg_feed() and msg_end(); h is copied. */
void msg_set_hooks(struct msg *m, const struct msg_hooks *h);
/*
 * The message octets (unstuffed), in order, in any split: the results do
 * not depend on how the message is cut. Memory stays bounded by the caps.
 */
void msg_feed(struct msg *m, const uint8_t *p, size_t n);
/* The message ended; complete false if it was cut (gap, abort). */
void msg_end(struct msg *m, bool complete);
/*
 * header_from_mismatch (info) when the domain of the envelope sender
 * (MAIL FROM, without brackets) is not the header From's domain or one
 * of its sub- or parent domains. Call after msg_end().
 */
void msg_check_from(struct msg *m, const char *envelope_from);
/*
 * Free what the parser allocated as it ran (all but m itself, which
 * msg_new() allocated), leaving a message with no results: the thread
 * that ran the parser calls it, the one that made m frees m.
 */
void msg_release(struct msg *m);
void msg_free(struct msg *m);

/* Raw value of the first top-level field h, unfolded; NULL if absent. */
const char *msg_header(const struct msg *m, enum msg_hdr h);
/* The Subject, RFC 2047 decoded to UTF-8; NULL if absent. */
const char *msg_subject(const struct msg *m);
/* Mailboxes of From, Sender, Reply-To, To, Cc or Bcc. */
size_t msg_addrs(const struct msg *m, enum msg_hdr h,
		 const struct msg_addr **out);
/* All Received (or Authentication-Results) values, in order, capped. */
size_t msg_multi(const struct msg *m, enum msg_hdr h, char *const **out);
/* IP addresses of the Received chain, newest first. */
size_t msg_path(const struct msg *m, char *const **out);
/* Date as microseconds since the epoch; false if absent or unparsable. */
bool msg_date(const struct msg *m, int64_t *ts);
unsigned msg_header_count(const struct msg *m); /* top-level fields */
unsigned msg_references_count(const struct msg *m);
bool msg_8bit(const struct msg *m); /* an octet above 127 anywhere */
size_t msg_parts(const struct msg *m, const struct msg_part **out);
/* Distinct http(s) URLs of text/plain and text/html parts, capped. */
size_t msg_urls(const struct msg *m, char *const **out);
size_t msg_urls_dropped(const struct msg *m);
size_t msg_alerts(const struct msg *m, const struct msg_alert **out);
size_t msg_alerts_dropped(const struct msg *m); /* beyond lim.alerts */
/* Bytes the parser holds now: bounded by the caps, whatever the size. */
size_t msg_mem(const struct msg *m);

#endif
