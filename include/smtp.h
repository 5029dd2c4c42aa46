/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp.h - incremental SMTP dialogue decoder: bytes in, callbacks out. */
#ifndef SMTPSCOPE_SMTP_H
#define SMTPSCOPE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
	X(SHUTDOWN, "shutdown")                                                \
	X(EVICTED, "evicted")                                                  \
	X(NO_GREETING, "no_greeting")                                          \
	X(NOT_SMTP, "not_smtp")

enum smtp_close {
#define X(name, str) SMTP_CLOSE_##name,
	SMTP_CLOSE_LIST(X)
#undef X
};

/*
 * Alert kinds, the one list: enum name, JSON kind, severity, one sentence
 * (what it means, what to do), and the RFC or advisory behind it.
 * docs/alerts.md is generated from it (make alerts-doc) and checked by a test.
 */
// clang-format off
#define SMTP_ALERT_LIST(X)						\
	X(REPLY_421, "reply_421", ERROR,				\
	  "The server answered 421: it is closing the connection (overloaded, shutting down or tired of errors); mail is delayed, look at the server's logs.", \
	  "RFC 5321 3.8, 4.2.3")					\
	X(REPLY_4XX, "reply_4xx", WARNING,				\
	  "The server answered with a temporary failure (4xx); the client should retry later, a lasting one delays mail.", \
	  "RFC 5321 4.2.1, RFC 3463")					\
	X(REPLY_5XX, "reply_5xx", ERROR,				\
	  "The server answered with a permanent failure (5xx); the command or recipient was refused, read the reply text.", \
	  "RFC 5321 4.2.1, RFC 3463")					\
	X(UNSOLICITED_REPLY, "unsolicited_reply", WARNING,		\
	  "The server sent a reply that no command asked for; the dialogue may be out of step or the server is misbehaving.", \
	  "RFC 5321 4.2, RFC 2920")					\
	X(UNKNOWN_COMMAND, "unknown_command", WARNING,			\
	  "The client sent a command verb that SMTP and its common extensions do not define; a broken client, a scanner or a non-SMTP protocol.", \
	  "RFC 5321 4.1")						\
	X(INVALID_REPLY, "invalid_reply", WARNING,			\
	  "The server sent a line that is not a valid SMTP reply (no three-digit code from 200 to 599, or a multi-line reply whose codes differ).", \
	  "RFC 5321 4.2")						\
	X(BDAT_INVALID, "bdat_invalid", ERROR,				\
	  "A BDAT command has a chunk size that is not a valid number (negative, not numeric, over 2^64 or with trailing junk); the server should refuse it.", \
	  "RFC 3030 2")							\
	X(BDAT_MISSING_LAST, "bdat_missing_last", WARNING,		\
	  "A command arrived while a BDAT transfer was open without LAST; the message was closed incomplete.", \
	  "RFC 3030 2, 4")						\
	X(STARTTLS_INJECTION, "starttls_injection", CRITICAL,		\
	  "The client sent more data after STARTTLS before the server's 220: plaintext command injection; a vulnerable server runs those commands inside TLS.", \
	  "RFC 3207 4, CVE-2011-0411")					\
	X(STARTTLS_NOT_TLS, "starttls_not_tls", WARNING,		\
	  "The server accepted STARTTLS (220) but the client then sent SMTP in clear, not a TLS handshake: a broken or stripping middlebox, or a capture with the decrypted session spliced in; the session was decoded on in clear.", \
	  "RFC 3207 4, 4.2")						\
	X(STARTTLS_FAILED, "starttls_failed", WARNING,			\
	  "The server refused STARTTLS; the session went on in clear text, check the server's TLS set-up.", \
	  "RFC 3207 4")							\
	X(CLEARTEXT_MAIL, "cleartext_mail", INFO,			\
	  "A message was sent in clear text although the server offered STARTTLS; the client did not use the encryption it was offered.", \
	  "RFC 3207, RFC 8314")						\
	X(AUTH_PLAINTEXT, "auth_plaintext", WARNING,			\
	  "The client sent AUTH credentials over a connection that is not encrypted; anyone on the path can read or replay them.", \
	  "RFC 4954 4, 14")						\
	X(AUTH_FAILURE, "auth_failure", WARNING,			\
	  "The server rejected the client's credentials (535).",	\
	  "RFC 4954 6")							\
	X(AUTH_BRUTEFORCE, "auth_bruteforce", CRITICAL,			\
	  "Repeated AUTH failures in one session or from one client address: password guessing; block the client.", \
	  "RFC 4954 6, MITRE ATT&CK T1110")				\
	X(SMTP_SMUGGLING, "smtp_smuggling", CRITICAL,			\
	  "A non-standard end-of-data sequence inside DATA is followed by an SMTP command: SMTP smuggling, a second message hidden in the first.", \
	  "RFC 5321 4.1.1.4, CVE-2023-51764, CVE-2023-51765, CVE-2023-51766") \
	X(NONSTANDARD_DATA_END, "nonstandard_data_end", INFO,		\
	  "The server accepted a message whose end of data was not <CR><LF>.<CR><LF> (a bare LF before or after the dot): the non-standard ending SMTP smuggling relies on works on this server.", \
	  "RFC 5321 4.1.1.4, CVE-2023-51764")				\
	X(LINE_TOO_LONG, "line_too_long", WARNING,			\
	  "A command or reply line over 512 octets, or a message text line over 1000; servers may cut or refuse it.", \
	  "RFC 5321 4.5.3.1")						\
	X(BARE_LF, "bare_lf", WARNING,					\
	  "A line ended with a bare LF instead of CRLF; servers read such lines differently, the basis of SMTP smuggling.", \
	  "RFC 5321 2.3.8, 4.1.1.4")					\
	X(BARE_CR, "bare_cr", WARNING,					\
	  "A bare CR (not followed by LF) appeared in a line; servers read it differently, the basis of SMTP smuggling.", \
	  "RFC 5321 2.3.8, 4.1.1.4")					\
	X(NUL_BYTE, "nul_byte", WARNING,				\
	  "A NUL byte appeared in a command or reply line; a broken peer or an attempt to confuse parsers.", \
	  "RFC 5321 2.3.8, 4.5.2")					\
	X(COMMAND_OUT_OF_SEQUENCE, "command_out_of_sequence", WARNING,	\
	  "A command came out of order (RCPT before MAIL, DATA without an accepted recipient, MAIL inside a transaction).", \
	  "RFC 5321 4.1.4")						\
	X(EARLY_TALKER, "early_talker", WARNING,			\
	  "The client spoke before the server's greeting, as spam bots do.", \
	  "RFC 5321 3.1, Postfix postscreen")				\
	X(PIPELINING_NOT_OFFERED, "pipelining_not_offered", WARNING,	\
	  "The client sent commands without waiting for replies although the server did not advertise PIPELINING.", \
	  "RFC 2920 3")							\
	X(EXCESSIVE_PENDING, "excessive_pending", WARNING,		\
	  "The client has too many commands waiting for replies; a flood or a client out of step with the server.", \
	  "RFC 2920 3.1")						\
	X(VRFY_EXPN_PROBE, "vrfy_expn_probe", WARNING,			\
	  "The client used VRFY or EXPN: address harvesting or reconnaissance.", \
	  "RFC 5321 3.5, 7.3")						\
	X(VRFY_ENABLED, "vrfy_enabled", WARNING,			\
	  "The server confirmed an address to VRFY (250, 251 or 252): anyone can enumerate its users; most sites disable VRFY.", \
	  "RFC 5321 3.5.3, 7.3")					\
	X(EXPN_ENABLED, "expn_enabled", WARNING,			\
	  "The server expanded a mailing list to EXPN (250, 251 or 252): anyone can read its members; most sites disable EXPN.", \
	  "RFC 5321 3.5.3, 7.3")					\
	X(BANNER_DISCLOSES_SOFTWARE, "banner_discloses_software", INFO,	\
	  "The server's 220 banner or EHLO greeting names its mail software (and often its version): an attacker knows which vulnerabilities to try.", \
	  "RFC 5321 4.2, 7.9")						\
	X(AUTH_WITHOUT_TLS, "auth_without_tls", WARNING,		\
	  "The server offers AUTH PLAIN or LOGIN before TLS: a client may send its password in clear text; offer them only after STARTTLS.", \
	  "RFC 4954 4, 14; RFC 3207 4.1")				\
	X(STARTTLS_NOT_OFFERED, "starttls_not_offered", WARNING,	\
	  "A server on port 25 or 587 did not offer STARTTLS in its EHLO reply: mail to and from it travels in clear text.", \
	  "RFC 3207; RFC 8314 3.3")					\
	X(OPEN_RELAY, "open_relay", CRITICAL,				\
	  "The server accepted a recipient in a domain that is not local (--local-domains) from a client outside the trusted networks that did not authenticate: it relays for anyone, spammers' favourite.", \
	  "RFC 5321 3.6.2, 7.1; RFC 2505")				\
	X(RELAY_DENIED, "relay_denied", INFO,				\
	  "The server refused to relay (relay access denied, or 5.7.1 for a domain that is not local): someone tried, perhaps probing for an open relay.", \
	  "RFC 5321 3.6.2; RFC 2505")					\
	X(NO_GREETING, "no_greeting", ERROR,				\
	  "The connection was established but the server never sent its 220 greeting before the client gave up or the session timed out: an overloaded, hung or tarpitting server.", \
	  "RFC 5321 3.1, 4.5.3.2")					\
	X(NOT_SMTP, "not_smtp", ERROR,					\
	  "The server's first bytes are not an SMTP reply (a TLS record, an HTTP or SSH banner, another protocol): the wrong service on an SMTP port, or implicit TLS where STARTTLS was expected.", \
	  "RFC 5321 4.2")						\
	X(SLOW_REPLY, "slow_reply", WARNING,				\
	  "The server took long to answer (a tarpit, greylisting, an overloaded content filter or a slow DNS check): past a tenth of RFC 5321's timeout for that command, or --slow-reply.", \
	  "RFC 5321 4.5.3.2")						\
	X(CLIENT_GAVE_UP, "client_gave_up", WARNING,			\
	  "The client closed the connection while a command still waited for its reply (not after QUIT): it stopped waiting for a tarpit, greylisting, an overloaded content filter or a hung server; the mail is retried later, or lost.", \
	  "RFC 5321 4.5.3.2")						\
	X(ETRN_REQUEST, "etrn_request", INFO,				\
	  "The client asked the server to deliver the mail it queues for a domain (ETRN); from a client that is not that domain's mail server it probes which domains the server holds mail for.", \
	  "RFC 1985")							\
	X(TOO_MANY_RECIPIENTS, "too_many_recipients", WARNING,		\
	  "A transaction has more recipients than the configured limit; bulk mail or spam.", \
	  "RFC 5321 4.5.3.1.8")						\
	X(MIME_HEADER_LIMIT, "mime_header_limit", WARNING,		\
	  "A message's header section, one header field or an address list went over the analyzer's cap; the rest was not read, a way to hide content from filters.", \
	  "RFC 5322 2.1.1, 3.6")					\
	X(MIME_DEPTH_LIMIT, "mime_depth_limit", WARNING,		\
	  "MIME parts are nested deeper, or are more numerous, than the analyzer's cap; those parts were not inspected, a known filter evasion.", \
	  "RFC 2046 5.1")						\
	X(MALFORMED_MIME, "malformed_mime", WARNING,			\
	  "The MIME structure is broken (a multipart without a usable boundary, a part cut before its closing boundary, invalid base64); clients and filters may read it differently.", \
	  "RFC 2045 6.8, RFC 2046 5.1.1")				\
	X(ATTACHMENT_EXECUTABLE, "attachment_executable", WARNING,	\
	  "An attachment is executable or macro-enabled, by file name or by content (MZ, ELF, #!, Office VBA); a common malware carrier.", \
	  "RFC 2183, MITRE ATT&CK T1566.001")				\
	X(HEADER_FROM_MISMATCH, "header_from_mismatch", INFO,		\
	  "The envelope sender's domain (MAIL FROM) is not the From header's domain; normal for lists and forwarders, also what spoofing looks like.", \
	  "RFC 5321 3.3, RFC 5322 3.6.2, RFC 7489 3.1")			\
	X(MISSING_DATE_OR_MSGID, "missing_date_or_msgid", INFO,		\
	  "The message has no Date or no Message-ID header field; RFC 5322 requires Date and expects Message-ID, bulk tools often omit them.", \
	  "RFC 5322 3.6")						\
	X(GAP, "gap", WARNING,						\
	  "Bytes are missing from the stream (capture loss); the decoder skipped them and resynchronised, an open message is incomplete.", \
	  "capture loss")						\
	X(MEMCAP_REACHED, "memcap_reached", ERROR,			\
	  "The analyzer's session memory reached --memcap: connections are being shed (half-open first, then the sessions idle longest) and end as evicted; their traffic goes unanalysed. Raise --memcap or look for a flood.", \
	  "analyzer limit (Suricata stream.memcap)")
// clang-format on

enum smtp_alert_kind {
#define X(name, str, sev, text, ref) SMTP_ALERT_##name,
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
	const char *detail;		/* what exactly was seen, or NULL */
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
	bool gap;	/* bytes of the body were lost: size and hash partial */
	uint64_t size;	/* message octets, unstuffed */
	uint8_t sha256[32];
	/* set for the transaction callback (and the body callback with
	 * message_at_body_end): */
	const char *subject;   /* Subject, RFC 2047 decoded to UTF-8; or NULL */
	const struct msg *msg; /* the message parser's findings, or NULL */
	int64_t ts_start, ts_end;
};

struct smtp_tls {
	bool offered, requested, accepted, implicit;
	bool cleartext; /* accepted, but the client went on in clear */
	/* from the cleartext hellos (0 / NULL: not seen): the highest
	 * version the client offered, the one the server chose, and the
	 * server name the client asked for (SNI) */
	unsigned client_version, version;
	char *sni;
};
/* A TLS version as Suricata names it ("TLS 1.3"); buf: 8 bytes for others. */
const char *smtp_tls_version_str(unsigned v, char *buf);

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
	const char *auth_user; /* only with show_auth_user; NULL otherwise */
	uint32_t transactions;
	uint32_t commands;
	uint32_t replies[4]; /* 2xx, 3xx, 4xx, 5xx */
	uint64_t bytes_client, bytes_server;
	int64_t ts_start, ts_end;
	enum smtp_close close;
	bool midstream;
	uint64_t gaps, gap_bytes; /* holes reported by smtp_gap() */
	/* how long the server took (microseconds; -1: not seen) */
	int64_t greeting_us;	 /* from the connection to the greeting */
	int64_t slowest_us;	 /* the slowest reply's latency ... */
	const char *slowest_cmd; /* ... and what it answered */
	int64_t median_us;	 /* the median reply latency */
	uint32_t replies_timed;	 /* replies the median is over */
};

/*
 * Callbacks: pointers given to them are valid only during the call.
 * Any member may be NULL.
 */
struct msg_part;
struct smtp_callbacks {
	/* A command line arrived (real commands and <auth> lines). */
	void (*command)(void *user, const struct smtp_cmd *cmd);
	/* A reply arrived, paired with the command it answers. */
	void (*reply)(void *user, const struct smtp_cmd *cmd,
		      const struct smtp_reply *reply);
	/* Message octets as they stream (unstuffed; for extraction). */
	void (*body_data)(void *user, const struct smtp_txn *txn,
			  const uint8_t *p, size_t n);
	/*
	 * Decoded content of each MIME leaf part of the message as it
	 * streams, then its end (message.h's struct msg_hooks; only with
	 * part_content).
	 */
	void (*part_data)(void *user, const struct smtp_txn *txn,
			  const struct msg_part *part, unsigned index,
			  const uint8_t *p, size_t n);
	void (*part_end)(void *user, const struct smtp_txn *txn,
			 const struct msg_part *part, unsigned index);
	/* A message body ended (complete or cut). */
	void (*body)(void *user, const struct smtp_txn *txn);
	void (*alert)(void *user, const struct smtp_alert *alert);
	void (*transaction)(void *user, const struct smtp_txn *txn);
	void (*session)(void *user, const struct smtp_session_info *info);
};

struct smtp_session;
struct msg;

struct smtp_options {
	bool implicit_tls;   /* port 465: the stream is TLS from the start */
	int64_t ts_start;    /* time of the connection's first packet, or -1 */
	bool midstream;	     /* the capture began after the connection did */
	bool show_auth_user; /* decode the PLAIN/LOGIN user name (never more) */
	bool no_message;     /* skip the message parser (headers, MIME) */
	bool part_content;   /* call part_data/part_end (extraction); the
			      * parser then runs in the packet path */
	bool message_at_body_end; /* subject and msg are wanted by the body
				   * callback: the parser is waited for there
				   * (otherwise it runs on the hashing thread
				   * and they are set for the transaction) */
	unsigned max_recipients;  /* too_many_recipients above this; 0: 100 */
	unsigned max_pending;	  /* excessive_pending above this; 0: 100 */
	unsigned auth_failures;	  /* auth_bruteforce at this many; 0: 5 */
	/* slow_reply above this many microseconds; 0: by command, a tenth
	 * of RFC 5321 4.5.3.2's timeouts */
	int64_t slow_reply_us;
};

/* A new session; never returns NULL (aborts on out of memory). */
struct smtp_session *smtp_session_new(const struct smtp_callbacks *cb,
				      void *user,
				      const struct smtp_options *opt);
/* Feed bytes of one direction, in order; any split gives the same events. */
void smtp_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *buf,
	       size_t len, int64_t ts);
/*
 * A hole in one direction: len bytes (0 when unknown) that will never be
 * seen. Raises a gap alert, closes an open message as incomplete and
 * resynchronises on the next server reply, as Zeek does after a gap.
 */
void smtp_gap(struct smtp_session *s, enum smtp_dir dir, uint64_t len,
	      int64_t ts);
/*
 * dir sent a FIN or a RST (the first one counts): which side ended the
 * connection, for client_gave_up. Called before the packet's data.
 */
void smtp_closing(struct smtp_session *s, enum smtp_dir dir, bool reset,
		  int64_t ts);
/* End the session: flush what is pending, emit the session event. */
void smtp_end(struct smtp_session *s, enum smtp_close reason, int64_t ts);
void smtp_session_free(struct smtp_session *s);
/*
 * Bytes s holds beyond its struct, for --memcap: line and reply buffers,
 * the pending queue and its arguments, live transactions and their
 * recipients, the message parser's struct. O(1).
 */
size_t smtp_mem(const struct smtp_session *s);

const char *smtp_alert_kind_str(enum smtp_alert_kind kind);
enum smtp_severity smtp_alert_severity(enum smtp_alert_kind kind);
const char *smtp_alert_text(enum smtp_alert_kind kind);
const char *smtp_alert_ref(enum smtp_alert_kind kind);
const char *smtp_severity_str(enum smtp_severity sev);
const char *smtp_close_str(enum smtp_close c);

/*
 * What a reply means (src/smtp/smtp_replies.c, docs/replies.md): a basic
 * code (RFC 5321 4.2; unknown ones by their class), an enhanced status
 * code "5.1.1" (RFC 3463 and the IANA registry; an unknown detail by its
 * subject); NULL when nothing is known.
 */
const char *smtp_code_meaning(int code);
const char *smtp_enhanced_meaning(const char *enhanced);
/* The more precise of the two into out (its length; 0: none). */
size_t smtp_explain(int code, const char *enhanced, char *out, size_t n);
/* docs/replies.md */
void smtp_replies_doc(FILE *out);
const char *smtp_status_str(enum smtp_status st);

#endif
