/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp_int.h - the decoder's private state, shared by its files. */
#ifndef SMTPSCOPE_SMTP_INT_H
#define SMTPSCOPE_SMTP_INT_H

#include <nettle/sha2.h>

#include "smtp.h"
#include "util.h"

/* Named caps: every buffer is bounded, whatever the peer sends. */
#define SMTP_LINE_MAX	  4096 /* bytes of one line kept; the rest skipped */
#define SMTP_REPLY_MAX	  8192 /* bytes of one reply's text kept */
#define SMTP_VERB_MAX	  20   /* bytes of a verb kept */
#define SMTP_ARG_MAX	  1000 /* bytes of a command argument kept */
#define SMTP_PENDING_HARD 4096 /* unanswered commands remembered at most */
#define SMTP_MAX_RCPTS	  1024 /* recipients kept per transaction */
#define SMTP_MAX_EXT	  64   /* EHLO extensions kept */
#define SMTP_EXT_MAX	  128  /* bytes of one extension line kept */
#define SMTP_SAVED_MAX	  512  /* bytes of a reply text kept in a txn */
#define SMTP_USER_MAX	  256  /* bytes of an AUTH user name kept */
#define SMTP_TIMED_MAX	  512  /* reply latencies kept for the median */
#define SMTP_LOOK_MAX	  12   /* bytes looked at after a smuggling sequence */

/* RFC 5321 4.5.3.1: line limits, CRLF included. */
#define SMTP_CMD_LINE_LIMIT   512
#define SMTP_REPLY_LINE_LIMIT 512
#define SMTP_TEXT_LINE_LIMIT  1000

#define AUTH_MASK "********"

/*
 * The command table (smtp_verbs.c), one row per verb: what its command
 * line does (after the checks every command gets), what its reply does,
 * whether a line of it after a gap is surely a command (resync), and the
 * reply codes only this kind of command gets (codes). The parser, the
 * reply pairing and the resync all read it; docs/decoder.md says how to
 * add a verb. The pseudo-commands that replies answer follow the verbs.
 */
// clang-format off
#define SMTP_VERB_LIST(X)						\
	/* verb     on_command    on_reply         resync    codes */	\
	X(HELO,     cmd_hello,    reply_hello,     RS_ARG,   NULL)		\
	X(EHLO,     cmd_hello,    reply_ehlo,      RS_ARG,   NULL)		\
	X(LHLO,     cmd_hello,    reply_ehlo,      RS_NEVER, NULL)		\
	X(MAIL,     cmd_mail,     reply_mail,      RS_FROM,  NULL)		\
	X(RCPT,     cmd_rcpt,     reply_rcpt,      RS_TO,    "251 252")	\
	X(DATA,     cmd_data,     reply_data,      RS_ALONE, "354")	\
	X(BDAT,     cmd_bdat,     reply_bdat,      RS_SIZE,  NULL)		\
	X(RSET,     cmd_rset,     reply_rset,      RS_ALONE, NULL)		\
	X(NOOP,     NULL,         NULL,            RS_ALONE, NULL)		\
	X(QUIT,     cmd_quit,     NULL,            RS_ALONE, "221")	\
	X(VRFY,     NULL,         reply_probe,     RS_NEVER, "251 252")	\
	X(EXPN,     NULL,         reply_probe,     RS_NEVER, "252")	\
	X(HELP,     NULL,         NULL,            RS_NEVER, "211 214")	\
	X(STARTTLS, cmd_starttls, reply_starttls,  RS_ALONE, "220")	\
	X(AUTH,     cmd_auth,     smtp_auth_reply, RS_ARG,   "334 235")	\
	X(ETRN,     NULL,         reply_etrn,      RS_NEVER, "251 252 253 458 459") \
	X(TURN,     NULL,         NULL,            RS_NEVER, NULL)		\
	X(ATRN,     NULL,         NULL,            RS_NEVER, NULL)		\
	X(SEND,     NULL,         NULL,            RS_NEVER, NULL)		\
	X(SOML,     NULL,         NULL,            RS_NEVER, NULL)		\
	X(SAML,     NULL,         NULL,            RS_NEVER, NULL)		\
	X(XCLIENT,  NULL,         NULL,            RS_NEVER, NULL)		\
	X(XFORWARD, NULL,         NULL,            RS_NEVER, NULL)
#define SMTP_PSEUDO_LIST(X)						\
	X(UNKNOWN,     "",              NULL,            NULL)		\
	X(GREETING,    "<greeting>",    reply_greeting,  "220")		\
	X(MESSAGE,     "<message>",     reply_message,   NULL)		\
	X(AUTHDATA,    "<auth>",        smtp_auth_reply, "334 235")	\
	X(UNSOLICITED, "<unsolicited>", reply_unsolicited, NULL)
// clang-format on

// clang-format off
enum verb {
#define X(v, cmd, reply, resync, codes) V_##v,
	SMTP_VERB_LIST(X)
#undef X
	/* pseudo-commands: what else a reply can answer; UNKNOWN first */
#define X(v, name, reply, codes) V_##v,
	SMTP_PSEUDO_LIST(X)
#undef X
	V_COUNT
};
// clang-format on

/* After a gap, a line of this verb is surely a command when it is: */
enum resync {
	RS_NEVER, /* (never: it may be message text) */
	RS_ALONE, /* the verb alone */
	RS_ARG,	  /* the verb, one space and an argument */
	RS_FROM,  /* "MAIL FROM:" */
	RS_TO,	  /* "RCPT TO:" */
	RS_SIZE,  /* the verb, one space and a digit */
};

struct smtp_session;
struct pending;
typedef void smtp_on_command(struct smtp_session *s, struct pending *p,
			     const struct smtp_cmd *c, const char *arg,
			     size_t alen, int64_t ts);
typedef void smtp_on_reply(struct smtp_session *s, struct pending *p,
			   const struct smtp_cmd *c,
			   const struct smtp_reply *r);

struct verb_row {
	const char *name;
	smtp_on_command *on_command; /* or NULL: nothing but the checks */
	smtp_on_reply *on_reply;     /* or NULL: nothing but the reset rule */
	enum resync resync;
	const char *codes; /* "NNN NNN": codes only this kind gets, or NULL */
};

extern const struct verb_row smtp_verbs[V_COUNT];

/* the handlers the table names */
smtp_on_command cmd_hello, cmd_mail, cmd_rcpt, cmd_data, cmd_bdat, cmd_rset,
    cmd_quit, cmd_starttls, cmd_auth;
smtp_on_reply reply_rset, reply_hello, reply_ehlo, reply_mail, reply_rcpt,
    reply_data, reply_bdat, reply_probe, reply_starttls, smtp_auth_reply,
    reply_etrn, reply_greeting, reply_message, reply_unsolicited;

/*
 * Where the client's side stands. Every change goes through
 * smtp_set_cstate() (traced as old -> new with -DSMTP_TRACE).
 */
#define SMTP_CSTATE_LIST(X)                                                    \
	X(CMD)	       /* command lines */                                     \
	X(STARTTLS)    /* STARTTLS sent, its reply not seen: a line now is     \
			  injected (commands still parsed) */                  \
	X(BDAT_OPEN)   /* between BDAT chunks, LAST not sent: a line that      \
			  is not BDAT ends the message cut */                  \
	X(BODY)	       /* DATA body, dot-stuffed */                            \
	X(CHUNK)       /* BDAT chunk octets */                                 \
	X(TLS)	       /* after STARTTLS: opaque */                            \
	X(RESYNC)      /* after a gap: lines dropped until one is surely a     \
			  command, or a server reply came */                   \
	X(RESYNC_NEXT) /* a reply came after the gap: the line after the       \
			  one under way is a command */

enum cstate {
#define X(n) C_##n,
	SMTP_CSTATE_LIST(X)
#undef X
};

/* The server's side; changed through smtp_set_sstate(). */
#define SMTP_SSTATE_LIST(X)                                                    \
	X(REPLY)  /* reply lines */                                            \
	X(TLS)	  /* opaque */                                                 \
	X(RESYNC) /* after a gap: dropped until a line that starts a reply */

enum sstate {
#define X(n) S_##n,
	SMTP_SSTATE_LIST(X)
#undef X
};

/* Where the DATA body scanner stands: dot-stuffing, RFC 5321 4.5.2. */
enum bstate { B_BOL, B_TEXT, B_DOT, B_DOT_CR };
/* The bare-CR scan between feeds: after a CR, after a bare CR and a dot. */
enum crstate { CR_NONE, CR_CR, CR_CR_DOT };

/* Which line anomalies were already reported (once per session each). */
enum {
	SEEN_LONG = 1 << 0,
	SEEN_BARE_LF = 1 << 1,
	SEEN_BARE_CR = 1 << 2,
	SEEN_NUL = 1 << 3,
	SEEN_PIPELINING = 1 << 4,
	SEEN_PENDING = 1 << 5,
	SEEN_EARLY = 1 << 6,
	SEEN_BRUTE = 1 << 7,
	/* the server's posture, said once a session */
	SEEN_VRFY_OK = 1 << 8,
	SEEN_EXPN_OK = 1 << 9,
	SEEN_SOFTWARE = 1 << 10,
	SEEN_AUTH_CLEAR = 1 << 11,
	SEEN_NO_STARTTLS = 1 << 12,
};

struct txn {
	struct smtp_txn pub;
	struct txn *next, *prev; /* live transactions, oldest first */
	unsigned refs;		 /* pending commands that belong to it */
	size_t rcpts_answered;	 /* recipients whose reply came */
	/* a MAIL sent inside an open transaction: that one, kept until the
	 * reply says whether the server ended it (2xx) or kept it; and the
	 * other way round */
	struct txn *nested, *nested_in;
	bool void_;    /* never a transaction (a refused nested MAIL) */
	bool detached; /* the client moved on (RSET, MAIL, QUIT) */
	bool reset;
	bool too_many;		 /* too_many_recipients was raised */
	bool cleartext;		 /* cleartext_mail is due, when it is written */
	int data_cmd_code;	 /* reply to DATA itself (354 or a refusal) */
	struct hq_job *hash;	 /* SHA-256 of the body, read at the end */
	struct hq_job *hash_all; /* or of all the server read (smtp_shadow) */
	bool hash_ended;	 /* its body ended: another one starts afresh */
	struct msg *msg;	 /* headers and MIME of the body (message.c) */
	bool msg_open;		 /* its body ended, its findings not read yet */
	bool msg_inline;	 /* the parser runs in the packet path */
	size_t mem;		 /* its part of smtp_session.mem */
};

/* A smuggling sequence seen in a body, waiting for what follows it. */
struct smuggle {
	const char *seq; /* "<LF>.<CR><LF>" ... */
	uint64_t offset; /* in the unstuffed body */
	bool ended;	 /* the decoder ended the message there */
	bool followed;	 /* by a command before the message's reply */
};

/*
 * After a body the decoder ended at <LF>.<LF> or <LF>.<CR><LF>: the other
 * reading, a server's that does not end DATA there (Postfix with
 * smtpd_forbid_bare_newline) and reads on as the same message to the next
 * <CR><LF>.<CR><LF>. The replies say which reading the server had
 * (smtp_shadow_reply); until then the message is not written.
 */
struct shadow {
	struct txn *txn;     /* the message ended there (one reference) */
	struct hq_job *hash; /* its SHA-256 going on past the sequence */
	uint64_t size;	     /* its size so */
	uint64_t first;	     /* pend_pushed after its <message>: later
				entries are text in the other reading */
	uint64_t mark;	     /* pend_pushed at <CR><LF>.<CR><LF>, or 0 */
	uint32_t n_txn;	     /* s->n_txn at the sequence, and at the mark */
	uint32_t n_txn_mark;
	uint8_t st;    /* the dot-stuffing scan (smtp_shadow_feed) */
	bool crlf;     /* the line before ended with <CR><LF> */
	bool aligned;  /* the decoder was at a command line's start
			  at the mark, as the other reading is */
	bool answered; /* the message's reply came (r1, smuggle) */
	struct smuggle smuggle;
	struct smtp_saved_reply r1;
	char *r1_raw;
	unsigned r1_lines;
	int64_t r1_ts;
};

/*
 * A command waiting for its reply: a few dozen bytes, since a client may
 * pipeline thousands. The verb of a known command is the table's; the
 * text of an unknown verb and an argument are in one allocation.
 */
struct pending {
	int64_t ts;
	struct txn *txn;
	union {
		char *text; /* "VERB\0ARG": VERB empty when known; NULL */
		struct smuggle *smuggle; /* <message>: smuggling to judge by
					    its reply; NULL */
	};
	uint32_t seq;
	uint16_t arg_len;
	uint8_t id; /* enum verb */
	bool pipelined;
};

/*
 * An AUTH exchange (RFC 4954 4), from the AUTH line to its final reply.
 * Every client line the server may read as a SASL response is one for us
 * too, and is never shown: the response lines are credentials.
 */
struct sasl {
	bool open;	 /* AUTH sent, its final (non-334) reply not seen */
	int owed;	 /* 334 challenges minus response lines sent; < 0 when
			    the client sent its responses ahead (pipelined) */
	unsigned expect; /* response lines the mechanism takes in all */
	unsigned sent;	 /* response lines sent in this exchange */
	bool wary;	 /* an AUTH or a client gap was seen in this session: an
			    unknown line that looks like base64 may be a response */
};

/*
 * A line being assembled. A line that a feed holds whole is read in a
 * scratch buffer; only one cut by the end of a feed is kept, on the heap,
 * until its end comes: an idle session holds no line buffer.
 */
struct line {
	char *buf;    /* the line, NUL-terminated, once complete */
	char *heap;   /* the start of a line cut by a feed; NULL */
	size_t cap;   /* of heap */
	size_t len;   /* bytes kept */
	size_t total; /* bytes of the line, cap or not, without CR LF */
	bool cr;      /* the last byte seen was a CR */
	bool bare_cr, nul;
};

struct smtp_session {
	const struct smtp_callbacks *cb;
	void *user;
	struct smtp_options opt;

	enum cstate cstate;
	enum sstate sstate;
	struct line cline, sline;

	/* the reply being assembled */
	struct sbuf rtext, rraw;
	int rcode;
	char renh[SMTP_ENHANCED_MAX];
	unsigned rlines;
	bool rinvalid;
	int rbadcode; /* a continuation line's differing code */

	/* commands waiting for their replies, oldest first (a ring whose
	 * size is a power of two) */
	struct pending *pend;
	size_t pend_cap, pend_head, pend_len;
	/* bytes held by pending entries and live transactions (smtp_mem) */
	size_t mem;
	/* reply latencies (microseconds): the first SMTP_TIMED_MAX kept for
	 * the median, the greeting's and the slowest's */
	uint32_t *lat;
	uint16_t n_lat;
	bool slow_said; /* slow_reply raised (once a session) */
	bool not_smtp;	/* the server's first bytes were not a reply */
	int64_t greet_us, slow_us;
	uint8_t slow_id;      /* the slowest reply's command (enum verb) */
	uint64_t pend_pushed; /* entries ever pushed */
	uint64_t last_msg;    /* pend_pushed when the last <message> was */
	uint32_t seq;

	struct sasl sasl;      /* the AUTH exchange under way, if any */
	struct tls_peek *peek; /* the start of TLS being read; NULL */
	/* a fact for the close reason, not a state: lines after QUIT are
	 * parsed as before it */
	bool quit_sent;
	/* the first FIN or RST: its side (-1: none yet), kind and time */
	int8_t closer;
	bool closer_rst;
	int64_t close_ts;
	char early_verb[SMTP_VERB_MAX + 1]; /* a command before the greeting */
	bool pipelining; /* the server advertised PIPELINING */
	bool ext_known;	 /* a HELO/EHLO reply was seen */
	unsigned seen;	 /* SEEN_* flags */
	unsigned auth_failures;

	/* message body */
	enum bstate bstate;
	uint64_t chunk_left;
	bool chunk_last;
	size_t blinelen;      /* length of the body line being scanned */
	uint8_t blast;	      /* the body byte before the current one */
	bool bol_bare;	      /* the line before the dot ended with a bare LF */
	enum crstate crstate; /* a CR sequence cut by a feed (scan_cr) */
	struct smuggle look;  /* a CR-style sequence: looking at what follows */
	char lookbuf[SMTP_LOOK_MAX];
	size_t looklen;
	struct smuggle after_end; /* an LF-style end: is a command next? */
	struct shadow *shadow;	  /* that end read the other way; NULL */

	struct txn *cur;	      /* receives MAIL/RCPT/DATA */
	struct txn *txns, *txns_tail; /* all live transactions */
	uint32_t n_txn;

	/* session summary */
	char *banner;
	char *helo;
	char **ext; /* n_ext of them, allocated with the array */
	size_t n_ext;
	struct smtp_tls tls;
	char auth_mech[SMTP_VERB_MAX + 1];
	const char *auth_result;
	int auth_code;
	char *auth_user; /* NULL: none */
	uint32_t commands;
	uint32_t replies[4];
	uint64_t bytes[2];
	uint64_t gaps, gap_bytes;
	int64_t ts_first, ts_last;
	bool ended;
};

static inline int smtp_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

static inline bool smtp_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* smtp_verbs.c: the command table */
enum verb smtp_verb_lookup(const char *v, size_t n);
/* Could a reply code answer a command id (see verb_row.codes)? */
bool smtp_reply_fits(enum verb id, int code);
/* A line after a gap that can only be a command. */
bool smtp_resync_command(const char *l, size_t n);
void smtp_set_cstate(struct smtp_session *s, enum cstate to);
void smtp_set_sstate(struct smtp_session *s, enum sstate to);
/* Command lines are parsed (not a body, chunk, TLS or resync). */
static inline bool smtp_in_commands(enum cstate c)
{
	return c == C_CMD || c == C_STARTTLS || c == C_BDAT_OPEN;
}

/* smtp.c: alerts, line assembly, the public API */
void smtp_alert_raise(struct smtp_session *s, enum smtp_alert_kind kind,
		      const struct smtp_cmd *cmd,
		      const struct smtp_reply *reply, int64_t ts,
		      const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
bool smtp_ieq_prefix(const char *s, size_t n, const char *prefix);

/* smtp_txn.c: transactions and the pending queue */
struct txn *smtp_txn_new(struct smtp_session *s, int64_t ts);
/* The client is done with t; it is emitted once nothing pending needs it. */
void smtp_txn_detach(struct smtp_session *s, struct txn *t, bool reset);
void smtp_txn_emit(struct smtp_session *s, struct txn *t);
/* A pending reference to t is gone: emit it if detached and unreferenced. */
void smtp_txn_unref(struct smtp_session *s, struct txn *t);
/* The reply to the MAIL that began t, for a MAIL inside a transaction. */
void smtp_txn_nested_reply(struct smtp_session *s, struct txn *t, int code);
void smtp_txn_free(struct txn *t);
void smtp_save_reply(struct smtp_saved_reply *dst, const struct smtp_reply *r);
char *smtp_queue_id(const char *text);
struct pending *smtp_pend_at(struct smtp_session *s, size_t i);
struct pending *smtp_pend_push(struct smtp_session *s, enum verb id,
			       const char *verb, size_t vlen, const char *arg,
			       size_t alen, int64_t ts);
struct pending *smtp_pend_pseudo(struct smtp_session *s, enum verb id,
				 int64_t ts);
void smtp_pend_attach(struct pending *p, struct txn *t);
void smtp_pend_release(struct smtp_session *s, struct pending *p);
/* The head entry leaves the queue (released first). */
void smtp_pend_pop(struct smtp_session *s);
/* Report the oldest command unanswered and forget it. */
void smtp_pend_drop_oldest(struct smtp_session *s);
void smtp_cmd_view(const struct pending *p, struct smtp_cmd *c);
/* The verb and the argument of a pending command, NUL-terminated. */
const char *smtp_pend_verb(const struct pending *p);
const char *smtp_pend_arg(const struct pending *p);
/* The last <message> still pending, or NULL. */
struct pending *smtp_pend_last_message(struct smtp_session *s);

/* smtp_cmd.c: client command lines */
void smtp_client_line(struct smtp_session *s, struct line *l, bool bare_lf,
		      int64_t ts);
void smtp_resync_line(struct smtp_session *s, struct line *l, bool bare_lf,
		      int64_t ts);
void smtp_line_anomalies(struct smtp_session *s, const struct line *l,
			 bool bare_lf, const char *where, size_t limit,
			 const struct smtp_cmd *c, int64_t ts);

/* smtp_reply.c: server replies */
void smtp_server_line(struct smtp_session *s, struct line *l, bool bare_lf,
		      int64_t ts);
void smtp_reply_done(struct smtp_session *s, int64_t ts);
void smtp_reply_reset(struct smtp_session *s);
/* The session's timing, for its end. */
void smtp_timing(const struct smtp_session *s, struct smtp_session_info *si);

/* smtp.c: bytes of one side, decoded as if they had just come */
void smtp_feed_side(struct smtp_session *s, enum smtp_dir dir,
		    const uint8_t *buf, size_t len, int64_t ts);

/* smtp_tls.c: the cleartext start of TLS (after STARTTLS: check it is) */
void smtp_tls_start(struct smtp_session *s, bool check);
void smtp_tls_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *p,
		   size_t n, int64_t ts);
void smtp_tls_free(struct smtp_session *s);

/* smtp_body.c */
void smtp_body_start(struct smtp_session *s);
size_t smtp_feed_body(struct smtp_session *s, const uint8_t *buf, size_t len,
		      int64_t ts);
size_t smtp_feed_chunk(struct smtp_session *s, const uint8_t *buf, size_t len,
		       int64_t ts);
void smtp_body_end(struct smtp_session *s, bool complete, int64_t ts);
/*
 * The message parser's findings, for the transaction event: its end,
 * waited for if it ran behind, and its alerts raised.
 */
void smtp_body_results(struct smtp_session *s, struct txn *t);
/* Frees what the body of t holds: its hash and its message parser. */
void smtp_body_free(struct txn *t);
/* cleartext_mail for t, if due (raised once). */
void smtp_body_cleartext(struct smtp_session *s, struct txn *t, int64_t ts);
/* The shadow reading (struct shadow): client octets, replies, the end. */
void smtp_shadow_feed(struct smtp_session *s, const uint8_t *p, size_t n);
bool smtp_shadow_message_reply(struct smtp_session *s, struct txn *t,
			       const struct smuggle *sm,
			       const struct smtp_reply *r);
void smtp_shadow_reply(struct smtp_session *s, int code);
void smtp_shadow_settle(struct smtp_session *s);
/* Free it, its transaction left alone (the session is being freed). */
void smtp_shadow_drop(struct smtp_session *s);
/* What the reply r to a message ended by sm's sequence says. */
void smtp_smuggle_alert(struct smtp_session *s, const struct smuggle *sm,
			const struct smtp_cmd *c, const struct smtp_reply *r);

#endif
