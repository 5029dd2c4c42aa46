/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message_int.h - helpers shared by the message module's files. */
#ifndef SMTPSCOPE_MESSAGE_INT_H
#define SMTPSCOPE_MESSAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#include "message.h"
#include "util.h"

/* Charset conversion to UTF-8 (iconv); false (nothing added) if unknown. */
bool msg_to_utf8(struct sbuf *out, const char *charset, const char *in,
		 size_t n);
/* RFC 2047: encoded words (B and Q) decoded to UTF-8, the rest copied. */
void msg_decode_2047(struct sbuf *out, const char *in, size_t n);
/*
 * RFC 5322 3.4 address list: up to max mailboxes into out (strings
 * allocated); *dropped counts those beyond max.
 */
size_t msg_parse_addrs(const char *v, struct msg_addr *out, size_t max,
		       size_t *dropped);
/* "type/subtype" of a Content-Type (or the token of a C-T-E), lower case. */
void msg_token(const char *v, char *out, size_t n);
/*
 * Parameter name of a Content-Type / Content-Disposition value, with
 * RFC 2231 continuations and charsets and RFC 2047 words, as UTF-8.
 */
bool msg_param(const char *v, const char *name, struct sbuf *out);
/* RFC 5322 3.3 date-time to microseconds since the epoch. */
bool msg_parse_date(const char *v, int64_t *ts);
/* The first IP address of a Received field's "from" clause. */
bool msg_received_ip(const char *v, char *out, size_t n);
/* Number of msg-ids ("<…>") in a References field. */
unsigned msg_count_ids(const char *v);

#define LINE_CAP     1024 /* a longer line is handled in pieces */
#define BOUNDARY_MAX 200  /* RFC 2046 5.1.1 says 70; some send more */
#define BOUNDARY_RFC 70
#define DEPTH_HARD   32 /* the most msg_limits.depth may say */
#define FRAMES	     (DEPTH_HARD + 2)
#define TYPE_MAX     128
#define TOKEN_MAX    64
#define QP_WS_MAX    80	  /* trailing white space held back in q-p */
#define URL_MAX	     1024 /* a longer URL is kept cut */
#define DETAIL_MAX   256
#define IP_MAX	     64
#define DECODE_BUF   3072 /* a multiple of 3 and of 64 */

/* What the entity being read does with its lines. */
enum ent_state {
	ES_HEADERS, /* its header section */
	ES_LEAF,    /* content, decoded and hashed */
	ES_SKIP,    /* preamble, epilogue, or beyond the caps */
};

enum dec { D_IDENTITY, D_BASE64, D_QP };

/* The one entity being read; parts are read one after the other. */
struct ent {
	enum ent_state state;
	unsigned depth;
	int parent, rec;
	bool top;    /* the message's own header section */
	bool digest; /* in a multipart/digest: default message/rfc822 */
	bool hdr_over;
	size_t hbytes;
	struct sbuf ctype, disp; /* raw Content-Type, Content-Disposition */
	char cte[TOKEN_MAX];
	/* content */
	enum dec dec;
	uint8_t pend; /* line end held back: 1 LF, 2 CRLF */
	uint32_t acc; /* base64 bits */
	unsigned nacc;
	bool b64bad;
	unsigned qs; /* q-p: 0 text, 1 "=", 2 "=X", 3 "=" then white space */
	int qx;
	uint8_t qws[QP_WS_MAX];
	size_t qwn;
	uint64_t size;
	uint8_t magic[8];
	unsigned nmagic;
	const char *pat; /* macro marker looked for in Office containers */
	size_t patlen, pati;
	bool macro;
	bool text; /* URLs are looked for */
	bool inurl;
	uint64_t win; /* the last 8 octets, lower case */
	size_t ulen;
	char url[URL_MAX];
};

/* An open container: a multipart's boundary or an embedded message. */
struct frame {
	bool rfc822;
	bool digest;
	int rec;
	unsigned depth;
	size_t blen;
	char boundary[BOUNDARY_MAX + 1];
	/* message/rfc822: its octets hashed as they pass (sha[rec]) */
	uint64_t size;
	uint8_t pend;
};

struct msg {
	struct msg_limits lim;
	struct msg_hooks hooks;
	bool done, complete, ending;
	bool eightbit;
	/* line assembly */
	uint8_t line[LINE_CAP];
	size_t llen;
	bool lcont; /* line[] continues a line already handed on */
	bool first_line;
	/* header field being unfolded */
	struct sbuf fld;
	bool fld_open;
	struct ent cur;
	struct frame *fr; /* FRAMES of them, at the first container */
	unsigned nfr;
	/* results */
	char *hdr[MSG_HDR_COUNT];
	char *subject;
	struct msg_addr *addrs[MSG_HDR_COUNT];
	size_t naddrs[MSG_HDR_COUNT];
	char **multi[MSG_HDR_COUNT];
	size_t nmulti[MSG_HDR_COUNT];
	char **path;
	size_t npath;
	bool have_date;
	int64_t date;
	unsigned header_count, refs;
	bool top_done;
	struct msg_part *parts;
	struct sha256_ctx *sha; /* of each part's octets, until it ends */
	size_t nparts, partcap;
	char **urls;
	size_t nurls, urls_dropped;
	struct msg_alert *alerts;
	size_t nalerts, alerts_dropped;
	/* each cap alerts once */
	bool over_header, over_field, over_depth, over_parts, over_addrs,
	    over_received;
	size_t held;	  /* bytes allocated for results */
	struct sbuf json; /* the email object, from msg_render() */
	/* decoded octets of the current leaf not yet sunk (hashed, hooked,
	 * scanned), a buffer at a time, in the calling thread's buffer
	 * (DECODE_BUF octets): all sunk before msg_feed() returns, so a
	 * message keeps none between calls, and a thread needs one buffer
	 * whatever the number of messages open */
	struct obuf {
		uint8_t *b;
		size_t n;
	} out;
};

void *msg_alloc(struct msg *m, size_t n); /* zeroed, counted in msg_mem */
char *msg_dup(struct msg *m, const char *s, size_t n);
/* Record an alert (capped at lim.alerts); detail cut at DETAIL_MAX. */
void msg_alert(struct msg *m, enum msg_alert_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* attachment_executable by name, or by content if e is the leaf's. */
void msg_check_exec(struct msg *m, int rec, const struct ent *e);
void msg_leaf_start(struct msg *m, const char *type);
/*
 * One line of content (or a piece: eol 0; or whole lines of base64 or
 * unencoded content, inner line ends included); its line end is held back.
 */
void msg_leaf_line(struct msg *m, const uint8_t *s, size_t len, uint8_t eol);
/*
 * Raw octets of a leaf that only the end of the message ends, base64 or
 * unencoded: line ends are content (or ignored), nothing held back.
 */
void msg_leaf_raw(struct msg *m, const uint8_t *p, size_t n);
void msg_leaf_end(struct msg *m, bool truncated, bool eol);
/* Around every call that may decode: the thread's buffer, then sunk. */
void msg_out_begin(struct msg *m);
void msg_out_flush(struct msg *m);
/* A part's content is over: its SHA-256 is final, the end hook called. */
void msg_part_done(struct msg *m, int rec);

#endif
