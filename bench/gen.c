/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/gen.c: deterministic generator of a pcap of many interleaved SMTP
 * sessions. */

/*
 * Usage:
 *   gen OUT.pcap SIZE_MB [--active N] [--seed N] [--burst N] [--msg-size N]
 *   gen OUT.pcap --single BODYBYTES
 *   gen --version
 *
 * Writes a classic pcap (DLT_EN10MB, microsecond timestamps, starting at
 * 2026-01-01T00:00:00Z) of SMTP sessions over IPv4/TCP to 192.0.2.25:25.
 * Every session has a full 3-way handshake, segments of at most 1448
 * payload bytes (TCP timestamps on, MTU 1500), delayed ACKs every second
 * full segment, correct seq/ack numbers, IP and TCP checksums, and a FIN
 * close. Up to --active sessions (default 2000) are open at once; their
 * packets are interleaved at random, a long write going out in bursts
 * that grow like a congestion window (up to --burst data segments).
 *
 * New sessions are started while the bytes committed by all sessions
 * started so far (their full size is known when they start) are below
 * SIZE_MB * 10^6, then the open ones are finished: the file ends up
 * about SIZE_MB large.
 *
 * With --msg-size every session sends one text/plain message of N body
 * bytes to one recipient (the load benchmarks: many small sessions).
 *
 * The same arguments always give the same file. Totals go to stderr.
 */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GEN_VERSION 2

#define MSS	     1448
#define ETH_HLEN     14
#define IP_HLEN	     20
#define TCP_HLEN     32 /* 20 + NOP NOP TIMESTAMP */
#define SYN_TCP_HLEN 40 /* 20 + MSS SACK_PERM TIMESTAMP NOP WSCALE */
#define REC_HLEN     16
#define REC_MAX	     (REC_HLEN + ETH_HLEN + IP_HLEN + SYN_TCP_HLEN + MSS)
#define PKT_OVERHEAD (REC_HLEN + ETH_HLEN + IP_HLEN + TCP_HLEN)

#define START_TIME    1767225600ULL /* 2026-01-01T00:00:00Z */
#define SERVER_IP     0xc0000219u   /* 192.0.2.25 */
#define SERVER_PORT   25
#define WSCALE	      7
#define RCV_WIN_FIELD 2048 /* 2048 << 7 = 256 KiB */
#define SYN_WIN	      64240

#define POOL_SIZE     (8u << 20)
#define B64_LINE      78 /* 76 base64 characters and CRLF */
#define B64_POOL_SIZE (B64_LINE * 65536u)
#define OBUF_SIZE     (8u << 20)
#define TEXT_CAP      6144
#define MAX_PIECES    64

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_PSH 0x08
#define TH_ACK 0x10

enum { C = 0, S = 1 }; /* client, server: index of a side */

enum { P_NONE, P_TEXT, P_BASE64 }; /* where a piece's bytes come from */

enum { ST_SYN, ST_SYNACK, ST_ACK, ST_DATA, ST_FINACK, ST_LASTACK };

/* A stretch of bytes one side writes; a flight ends at a piece with end set. */
struct piece {
	uint32_t off; /* offset in the session's text, or in the cyclic pool */
	uint32_t len;
	uint8_t dir;  /* C: client to server, S: server to client */
	uint8_t pool; /* bytes come from a pool: P_TEXT, P_BASE64 */
	uint8_t end;  /* last piece of a flight: the sender then waits */
};

struct sess {
	uint32_t ip[2];
	uint16_t port[2];
	uint32_t seq[2]; /* next sequence number each side sends */
	uint32_t tsoff[2];
	uint32_t tsval[2]; /* last TSval each side sent */
	uint16_t ipid[2];
	uint8_t st;
	uint8_t unacked; /* data segments not yet acked by the receiver */
	uint16_t cwnd;
	uint16_t npieces, cur;
	uint32_t pos;	      /* bytes of pieces[cur] already sent */
	struct piece *pieces; /* npieces of them */
	uint32_t textlen;
	char text[TEXT_CAP]; /* textlen of them: built in a scratch one */
};

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(((rnd() >> 32) * n) >> 32);
}

static double rnd_unit(void)
{
	return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- output ---- */

static FILE *out;
static const char *out_name;
static uint8_t *obuf;
static size_t opos;
static uint64_t now_us; /* capture clock, microseconds since START_TIME */
static uint64_t n_packets, file_bytes, payload_bytes[2];

static void die(const char *msg)
{
	fprintf(stderr, "gen: %s: %s\n", msg, strerror(errno));
	exit(1);
}

static void flush_out(void)
{
	if (opos && fwrite(obuf, 1, opos, out) != opos)
		die(out_name);
	file_bytes += opos;
	opos = 0;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void put32le(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* Ones' complement sum in native byte order (RFC 1071); p starts at an even
 * offset. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t v;

	while (len >= 8) {
		memcpy(&v, p, 8);
		sum += (v & 0xffffffffu) + (v >> 32);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint8_t tail[8] = {0};

		memcpy(tail, p, len);
		memcpy(&v, tail, 8);
		sum += (v & 0xffffffffu) + (v >> 32);
	}
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- text pool: RFC 5322 body lines, dot-stuffed, each ending in CRLF ---- */

static char *pool;
static uint32_t *line_start;
static uint32_t n_lines;

static const char *const syll[] = {
    "ba",   "be",  "bi", "co", "cu", "da", "de", "di", "fa",   "fo",
    "ga",   "ge",  "ha", "hi", "jo", "ka", "ke", "la", "le",   "li",
    "lo",   "ma",  "me", "mi", "mo", "na", "ne", "ni", "no",   "pa",
    "pe",   "po",  "ra", "re", "ri", "ro", "sa", "se", "si",   "so",
    "ta",   "te",  "ti", "to", "va", "ve", "vi", "za", "ther", "tion",
    "ment", "ing", "st", "an", "en", "in", "on", "un",
};

static const char *const utf8_words[] = {
    "caf\xc3\xa9",
    "na\xc3\xafve",
    "r\xc3\xa9sum\xc3\xa9",
    "gr\xc3\xbc\xc3\x9f"
    "e",
    "\xc3\xa0",
    "fa\xc3\xa7"
    "ade",
    "\xe2\x82\xac"
    "42",
};

static const char *const common_words[] = {
    "the",    "and",	 "of",	     "to",	"a",	  "in",	     "is",
    "for",    "that",	 "on",	     "with",	"as",	  "it",	     "be",
    "this",   "are",	 "we",	     "you",	"will",	  "please",  "meeting",
    "report", "invoice", "attached", "regards", "thanks", "project", "update",
};

static int make_word(char *w)
{
	uint32_t r = rnd_below(100);
	int n = 0, k, i;

	if (r < 45) {
		const char *s = common_words[rnd_below(NELEM(common_words))];
		n = strlen(s);
		memcpy(w, s, n);
		return n;
	}
	if (r < 46) {
		const char *s = utf8_words[rnd_below(NELEM(utf8_words))];
		n = strlen(s);
		memcpy(w, s, n);
		return n;
	}
	k = 1 + rnd_below(4);
	for (i = 0; i < k; i++) {
		const char *s = syll[rnd_below(NELEM(syll))];
		int l = strlen(s);

		memcpy(w + n, s, l);
		n += l;
	}
	if (r > 95 && n < 12)
		w[n++] = r & 1 ? ',' : '.';
	return n;
}

static void make_pool(void)
{
	uint32_t pos = 0, cap_lines = POOL_SIZE / 2;
	char w[64];

	pool = malloc(POOL_SIZE);
	line_start = malloc(sizeof(*line_start) * cap_lines);
	if (!pool || !line_start)
		die("malloc");
	for (;;) {
		uint32_t r = rnd_below(100), target, len = 0;
		char line[96];

		if (r < 8)
			target = 0; /* paragraph break */
		else
			target = 20 + rnd_below(59); /* at most 78 */
		if (r >= 8 && r < 10) {
			line[len++] = '.'; /* a line that starts with a dot */
			target--;	   /* stuffed, it is still <= 78 */
		}
		while (len < target) {
			int n = make_word(w);
			int sep = len > 1 || (len == 1 && line[0] != '.');

			if (len + sep + n > target)
				break;
			if (sep)
				line[len++] = ' ';
			memcpy(line + len, w, n);
			len += n;
		}
		/* dot-stuffing (RFC 5321 4.5.2) + CRLF */
		if (pos + len + 3 > POOL_SIZE)
			break;
		line_start[n_lines++] = pos;
		if (len && line[0] == '.')
			pool[pos++] = '.';
		memcpy(pool + pos, line, len);
		pos += len;
		pool[pos++] = '\r';
		pool[pos++] = '\n';
	}
	/* pad the tail with empty lines so the pool is exactly POOL_SIZE long
	 */
	while (pos + 2 <= POOL_SIZE) {
		line_start[n_lines++] = pos;
		pool[pos++] = '\r';
		pool[pos++] = '\n';
	}
	if (pos != POOL_SIZE) { /* odd remainder: widen the last empty line */
		pool[pos - 2] = ' ';
		pool[pos - 1] = '\r';
		pool[pos] = '\n';
	}
}

/* ---- base64 pool: lines of an attachment (random octets, encoded) ---- */

static char *b64pool;

static void make_b64_pool(void)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t pos = 0, v;
	int i;

	b64pool = malloc(B64_POOL_SIZE);
	if (!b64pool)
		die("malloc");
	while (pos < B64_POOL_SIZE) {
		for (i = 0; i < 76;
		     i += 4) { /* 3 random octets, 4 characters */
			v = (uint32_t)rnd() & 0xffffff;
			b64pool[pos++] = alpha[v >> 18];
			b64pool[pos++] = alpha[(v >> 12) & 63];
			b64pool[pos++] = alpha[(v >> 6) & 63];
			b64pool[pos++] = alpha[v & 63];
		}
		b64pool[pos++] = '\r';
		b64pool[pos++] = '\n';
	}
}

/* Bytes of whole lines from pool line `first`, at least `want` long. */
static uint32_t body_len(uint32_t first, uint64_t want)
{
	uint64_t start = line_start[first], target = start + want;
	uint64_t wraps = target / POOL_SIZE;
	uint32_t rem = target % POOL_SIZE, lo = 0, hi = n_lines;

	while (lo < hi) { /* first line start >= rem */
		uint32_t mid = lo + (hi - lo) / 2;

		if (line_start[mid] < rem)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n_lines)
		return (uint32_t)((wraps + 1) * POOL_SIZE - start);
	return (uint32_t)(wraps * POOL_SIZE + line_start[lo] - start);
}

/* ---- session script ---- */

static const char *const first_names[] = {
    "alice",   "bob",	  "carol",	"dave",	   "erin",    "frank",
    "grace",   "heidi",	  "ivan",	"judy",	   "mallory", "oscar",
    "peggy",   "rupert",  "sybil",	"trent",   "victor",  "walter",
    "noreply", "billing", "newsletter", "support",
};

static const char *const domains[] = {
    "example.org",	"example.com",	     "mail.example.net", "corp.example",
    "shop.example.com", "lists.example.org", "bank.example",
};

static const char *const subjects[] = {
    "Quarterly report", "Re: meeting tomorrow", "Invoice",
    "Your order",	"Fwd: holiday photos",	"Weekly newsletter",
    "Password reset",	"Re: Re: project plan", "Build failed",
    "Lunch?",		"Contract draft",
};

static const char ehlo_reply[] = "250-mx.example.net\r\n"
				 "250-PIPELINING\r\n"
				 "250-SIZE 52428800\r\n"
				 "250-VRFY\r\n"
				 "250-ETRN\r\n"
				 "250-STARTTLS\r\n"
				 "250-ENHANCEDSTATUSCODES\r\n"
				 "250-8BITMIME\r\n"
				 "250-DSN\r\n"
				 "250-SMTPUTF8\r\n"
				 "250 CHUNKING\r\n";

static uint64_t n_sessions, n_transactions, n_rcpt, n_rcpt_rejected;
static unsigned int burst_max = 16; /* data segments in one burst, at most */
static unsigned int peak_active;

static uint32_t vtext_add(struct sess *s, const char *fmt, va_list ap)
{
	uint32_t off = s->textlen;
	int n = vsnprintf(s->text + off, TEXT_CAP - off, fmt, ap);

	if (n < 0 || (uint32_t)n >= TEXT_CAP - off) {
		fprintf(stderr, "gen: session text overflow\n");
		exit(1);
	}
	s->textlen += n;
	return off;
}

/* Appends to the session text; returns the offset where it went. */
static __attribute__((format(printf, 2, 3))) uint32_t
text_add(struct sess *s, const char *fmt, ...)
{
	va_list ap;
	uint32_t off;

	va_start(ap, fmt);
	off = vtext_add(s, fmt, ap);
	va_end(ap);
	return off;
}

static void piece_add(struct sess *s, int dir, int is_pool, uint32_t off,
		      uint32_t len, int end)
{
	struct piece *p;

	if (s->npieces == MAX_PIECES) {
		fprintf(stderr, "gen: too many pieces\n");
		exit(1);
	}
	p = &s->pieces[s->npieces++];
	p->off = off;
	p->len = len;
	p->dir = dir;
	p->pool = is_pool;
	p->end = end;
}

/* Side dir writes a line (or lines); end closes its flight. */
static __attribute__((format(printf, 4, 5))) void
say(struct sess *s, int dir, int end, const char *fmt, ...)
{
	va_list ap;
	uint32_t off;

	va_start(ap, fmt);
	off = vtext_add(s, fmt, ap);
	va_end(ap);
	piece_add(s, dir, 0, off, s->textlen - off, end);
}

/* Message size: 1 KiB..1 MiB, 1 KiB * 1024^(u^2): median ~6 KB, mean ~84 KB. */
static uint64_t draw_msg_size(void)
{
	double u = rnd_unit(), x = 10.0 * u * u;
	int e = (int)x;
	double f = x - e;
	double p2 = 1.0 + f * (0.6951 + f * (0.2262 + f * 0.0782)); /* ~2^f */

	return (uint64_t)(1024.0 * (double)(1u << e) * p2);
}

/* A sender: its address in addr, "Name <address>" in hdr. */
static void rand_sender(char *addr, size_t addr_sz, char *hdr, size_t hdr_sz)
{
	const char *name = first_names[rnd_below(NELEM(first_names))];

	snprintf(addr, addr_sz, "%s%u@%s", name, rnd_below(1000),
		 domains[rnd_below(NELEM(domains))]);
	snprintf(hdr, hdr_sz, "%c%s Example <%s>", name[0] - 'a' + 'A',
		 name + 1, addr);
}

static void make_queue_id(char *id)
{
	static const char hex[] = "0123456789ABCDEF";
	int i;

	for (i = 0; i < 10; i++)
		id[i] = hex[rnd_below(16)];
	id[10] = 0;
}

/* One more piece of the message being built (sent after DATA). */
static void mpiece(struct piece *m, int *n, int pool, uint32_t off,
		   uint32_t len)
{
	m[*n].pool = (uint8_t)pool;
	m[*n].off = off;
	m[*n].len = len;
	(*n)++;
}

/*
 * The rest of a multipart message's header (from hoff) and its first
 * part, text/plain from the pool, at least want octets with the header;
 * returns the header's length.
 */
static uint32_t multipart_open(struct sess *s, struct piece *m, int *nm,
			       uint32_t hoff, const char *subtype,
			       const char *tag, uint32_t boundary,
			       uint64_t want)
{
	uint32_t hlen, first;

	text_add(s,
		 "Content-Type: multipart/%s; "
		 "boundary=\"=_%s_%08x\"\r\n\r\n"
		 "--=_%s_%08x\r\n"
		 "Content-Type: text/plain; charset=utf-8\r\n"
		 "Content-Transfer-Encoding: 8bit\r\n\r\n",
		 subtype, tag, boundary, tag, boundary);
	hlen = s->textlen - hoff;
	mpiece(m, nm, P_NONE, hoff, hlen);
	first = rnd_below(n_lines);
	mpiece(m, nm, P_TEXT, line_start[first],
	       body_len(first, want > hlen ? want - hlen : 1));
	return hlen;
}

/* Builds the whole dialogue of session number idx; returns its estimated bytes
 * in the file. */
static uint64_t sess_init(struct sess *s, uint64_t idx, uint64_t single_body)
{
	uint32_t ip24 = (uint32_t)((idx * 0x9e3779u + 0x123456u) & 0xffffffu);
	int pipelining = rnd_below(100) < 70;
	int ntx = single_body ? 1 : 1 + (rnd_below(100) < 15);
	char helo[64], from[64], from_hdr[96], date[64];
	uint64_t est = 0;
	time_t t;
	struct tm tm;
	int tx, i;

	s->ip[C] = 0x0a000000u | ip24;
	s->ip[S] = SERVER_IP;
	s->port[C] = 1024 + rnd_below(64512);
	s->port[S] = SERVER_PORT;
	s->seq[C] = (uint32_t)rnd();
	s->seq[S] = (uint32_t)rnd();
	s->tsoff[C] = (uint32_t)rnd();
	s->tsoff[S] = (uint32_t)rnd();
	s->tsval[C] = s->tsval[S] = 0;
	s->ipid[C] = (uint16_t)rnd();
	s->ipid[S] = (uint16_t)rnd();
	s->st = ST_SYN;
	s->unacked = 0;
	s->cwnd =
	    burst_max < 10 ? burst_max : 10; /* initial window: 10 segments */
	s->npieces = s->cur = 0;
	s->pos = 0;
	s->textlen = 0;

	t = (time_t)(START_TIME + now_us / 1000000);
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(helo, sizeof(helo), "host-10-%u-%u-%u.%s", (ip24 >> 16) & 255,
		 (ip24 >> 8) & 255, ip24 & 255,
		 domains[rnd_below(NELEM(domains))]);

	say(s, S, 1, "220 mx.example.net ESMTP Postfix (Debian/GNU)\r\n");
	say(s, C, 1, "EHLO %s\r\n", helo);
	say(s, S, 1, "%s", ehlo_reply);

	for (tx = 0; tx < ntx; tx++) {
		int nrcpt = single_body ? 1 : 1 + rnd_below(5), nok = 0;
		char rcpt[5][64], qid[11];
		int rejected[5];
		uint32_t hoff, hlen, first, off, lines, boundary, kind;
		uint32_t total;
		uint64_t msg;
		struct piece m[8];
		int nm;

		rand_sender(from, sizeof(from), from_hdr, sizeof(from_hdr));
		for (i = 0; i < nrcpt; i++) {
			snprintf(rcpt[i], sizeof(rcpt[i]), "%s%u@example.net",
				 first_names[rnd_below(NELEM(first_names))],
				 rnd_below(100000));
			rejected[i] = rnd_below(100) < 12;
			nok += !rejected[i];
		}
		if (!nok) {
			rejected[rnd_below(nrcpt)] = 0;
			nok = 1;
		}

		/* the message: headers in the text, body from the pool */
		hoff =
		    text_add(s, "Date: %s\r\nFrom: %s\r\nTo: ", date, from_hdr);
		for (i = 0; i < nrcpt; i++)
			text_add(s, "%s<%s>", i ? ",\r\n " : "", rcpt[i]);
		text_add(s,
			 "\r\nSubject: %s #%u\r\n"
			 "Message-ID: <%08x.%08x@%s>\r\n"
			 "MIME-Version: 1.0\r\n",
			 subjects[rnd_below(NELEM(subjects))], rnd_below(10000),
			 (uint32_t)rnd(), (uint32_t)rnd(),
			 strchr(from, '@') + 1);
		msg = single_body ? single_body : draw_msg_size();
		kind = single_body ? 0 : rnd_below(100);
		boundary = (uint32_t)rnd();
		nm = 0;
		if (kind < 50) { /* text/plain */
			text_add(s,
				 "Content-Type: text/plain; charset=utf-8\r\n"
				 "Content-Transfer-Encoding: 8bit\r\n\r\n");
			hlen = s->textlen - hoff;
			if (single_body)
				msg += hlen;
			mpiece(m, &nm, P_NONE, hoff, hlen);
			first = rnd_below(n_lines);
			mpiece(
			    m, &nm, P_TEXT, line_start[first],
			    body_len(first, msg > hlen + 1 ? msg - hlen : 1));
		} else if (kind < 80) { /* multipart/alternative: text, HTML */
			hlen = multipart_open(s, m, &nm, hoff, "alternative",
					      "alt", boundary, msg / 3);
			off = text_add(
			    s,
			    "--=_alt_%08x\r\n"
			    "Content-Type: text/html; charset=utf-8\r\n"
			    "Content-Transfer-Encoding: 8bit\r\n\r\n"
			    "<html><body><p>Read it at "
			    "<a href=\"https://www.example.com/m/%08x\">"
			    "https://www.example.com/m/%08x</a> or "
			    "http://shop.example.com/o?id=%u</p><pre>\r\n",
			    boundary, boundary, boundary, rnd_below(100000));
			mpiece(m, &nm, P_NONE, off, s->textlen - off);
			first = rnd_below(n_lines);
			mpiece(m, &nm, P_TEXT, line_start[first],
			       body_len(first, msg - msg / 3));
			off = text_add(s,
				       "</pre></body></html>\r\n"
				       "--=_alt_%08x--\r\n",
				       boundary);
			mpiece(m, &nm, P_NONE, off, s->textlen - off);
		} else { /* multipart/mixed: a short text, a base64 attachment
			  */
			hlen = multipart_open(s, m, &nm, hoff, "mixed", "mix",
					      boundary, 200 + rnd_below(1500));
			i = (int)rnd_below(100000);
			off = text_add(
			    s,
			    "--=_mix_%08x\r\n"
			    "Content-Type: application/pdf; "
			    "name=\"report-%d.pdf\"\r\n"
			    "Content-Disposition: attachment; "
			    "filename=\"report-%d.pdf\"\r\n"
			    "Content-Transfer-Encoding: base64\r\n\r\n",
			    boundary, i, i);
			mpiece(m, &nm, P_NONE, off, s->textlen - off);
			lines = (uint32_t)(msg / B64_LINE) + 1;
			mpiece(m, &nm, P_BASE64,
			       rnd_below(B64_POOL_SIZE / B64_LINE) * B64_LINE,
			       lines * B64_LINE);
			off = text_add(s, "--=_mix_%08x--\r\n", boundary);
			mpiece(m, &nm, P_NONE, off, s->textlen - off);
		}
		total = 0;
		for (i = 0; i < nm; i++)
			total += m[i].len;

		if (pipelining) {
			say(s, C, 0, "MAIL FROM:<%s> SIZE=%u BODY=8BITMIME\r\n",
			    from, total);
			for (i = 0; i < nrcpt; i++)
				say(s, C, 0, "RCPT TO:<%s>\r\n", rcpt[i]);
			say(s, C, 1, "DATA\r\n");
			say(s, S, 0, "250 2.1.0 Ok\r\n");
			for (i = 0; i < nrcpt; i++) {
				if (rejected[i])
					say(s, S, 0,
					    "550 5.1.1 <%s>: Recipient address "
					    "rejected: User unknown in virtual "
					    "mailbox table\r\n",
					    rcpt[i]);
				else
					say(s, S, 0, "250 2.1.5 Ok\r\n");
			}
			say(s, S, 1, "354 End data with <CR><LF>.<CR><LF>\r\n");
		} else {
			say(s, C, 1, "MAIL FROM:<%s>\r\n", from);
			say(s, S, 1, "250 2.1.0 Ok\r\n");
			for (i = 0; i < nrcpt; i++) {
				say(s, C, 1, "RCPT TO:<%s>\r\n", rcpt[i]);
				if (rejected[i])
					say(s, S, 1,
					    "550 5.1.1 <%s>: Recipient address "
					    "rejected: User unknown in virtual "
					    "mailbox table\r\n",
					    rcpt[i]);
				else
					say(s, S, 1, "250 2.1.5 Ok\r\n");
			}
			say(s, C, 1, "DATA\r\n");
			say(s, S, 1, "354 End data with <CR><LF>.<CR><LF>\r\n");
		}
		for (i = 0; i < nm; i++)
			piece_add(s, C, m[i].pool, m[i].off, m[i].len, 0);
		say(s, C, 1, ".\r\n");
		make_queue_id(qid);
		say(s, S, 1, "250 2.0.0 Ok: queued as %s\r\n", qid);
		n_transactions++;
		n_rcpt += nrcpt;
		n_rcpt_rejected += nrcpt - nok;
	}
	say(s, C, 1, "QUIT\r\n");
	say(s, S, 1, "221 2.0.0 Bye\r\n");

	/* estimate of the file bytes: payload, data segments, delayed ACKs,
	 * handshake */
	for (i = 0; i < s->npieces; i++) {
		uint32_t fl = 0;

		while (!s->pieces[i].end)
			fl += s->pieces[i++].len;
		fl += s->pieces[i].len;
		est +=
		    fl + (uint64_t)(fl + MSS - 1) / MSS * PKT_OVERHEAD * 3 / 2;
	}
	est += 5 * (PKT_OVERHEAD + 8);
	n_sessions++;
	return est;
}

/* ---- packets ---- */

/*
 * Writes one packet from side d of session s; payload bytes are taken from
 * the current flight when data is set. Returns 1 when that flight ended.
 */
static int emit(struct sess *s, int d, uint8_t flags, int data)
{
	int syn = flags & TH_SYN, thl = syn ? SYN_TCP_HLEN : TCP_HLEN;
	uint8_t *rec, *eth, *ip, *tcp, *pl, pseudo[12];
	uint32_t plen = 0, caplen, tsval;
	int flight_end = 0;
	uint64_t sum;

	if (opos + REC_MAX > OBUF_SIZE)
		flush_out();
	rec = obuf + opos;
	eth = rec + REC_HLEN;
	ip = eth + ETH_HLEN;
	tcp = ip + IP_HLEN;
	pl = tcp + thl;

	while (data) {
		struct piece *p = &s->pieces[s->cur];
		uint32_t take = p->len - s->pos;

		if (take > MSS - plen)
			take = MSS - plen;
		if (p->pool) {
			const char *base = p->pool == P_TEXT ? pool : b64pool;
			uint32_t size =
			    p->pool == P_TEXT ? POOL_SIZE : B64_POOL_SIZE;
			uint32_t at =
			    (uint32_t)(((uint64_t)p->off + s->pos) % size);
			uint32_t left = take, n;

			while (left) {
				n = size - at < left ? size - at : left;
				memcpy(pl + plen + (take - left), base + at, n);
				left -= n;
				at = 0;
			}
		} else {
			memcpy(pl + plen, s->text + p->off + s->pos, take);
		}
		plen += take;
		s->pos += take;
		if (s->pos == p->len) {
			s->cur++;
			s->pos = 0;
			if (p->end) {
				flight_end = 1;
				break;
			}
		}
		if (plen == MSS)
			break;
	}
	if (flight_end)
		flags |= TH_PSH;
	if (flight_end && s->cur == s->npieces)
		flags |= TH_FIN;

	caplen = ETH_HLEN + IP_HLEN + thl + plen;
	now_us += 1 + caplen / 125 + (rnd() & 1); /* ~1 Gbit/s link */

	put32le(rec, (uint32_t)(START_TIME + now_us / 1000000));
	put32le(rec + 4, (uint32_t)(now_us % 1000000));
	put32le(rec + 8, caplen);
	put32le(rec + 12, caplen);

	/* Ethernet: locally administered MACs, one per side */
	memcpy(eth,
	       d == C ? "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
		      : "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02",
	       12);
	eth[12] = 0x08;
	eth[13] = 0x00;

	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, IP_HLEN + thl + plen);
	put16(ip + 4, s->ipid[d]++);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = d == C ? 57 : 64;
	ip[9] = 6;
	put16(ip + 10, 0);
	put32(ip + 12, s->ip[d]);
	put32(ip + 16, s->ip[!d]);
	sum = csum_add(0, ip, IP_HLEN);
	{
		uint16_t c = csum_fold(sum);

		memcpy(ip + 10, &c, 2);
	}

	put16(tcp, s->port[d]);
	put16(tcp + 2, s->port[!d]);
	put32(tcp + 4, s->seq[d]);
	put32(tcp + 8, (flags & TH_ACK) ? s->seq[!d] : 0);
	tcp[12] = (thl / 4) << 4;
	tcp[13] = flags;
	put16(tcp + 14, syn ? SYN_WIN : RCV_WIN_FIELD);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	tsval = s->tsoff[d] + (uint32_t)(now_us / 1000);
	if (syn) {
		uint8_t *o = tcp + 20;

		o[0] = 2; /* MSS 1460 */
		o[1] = 4;
		put16(o + 2, 1460);
		o[4] = 4; /* SACK permitted */
		o[5] = 2;
		o[6] = 8; /* timestamps */
		o[7] = 10;
		put32(o + 8, tsval);
		put32(o + 12, s->tsval[!d]);
		o[16] = 1; /* NOP */
		o[17] = 3; /* window scale */
		o[18] = 3;
		o[19] = WSCALE;
	} else {
		uint8_t *o = tcp + 20;

		o[0] = 1;
		o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		put32(o + 4, tsval);
		put32(o + 8, s->tsval[!d]);
	}
	s->tsval[d] = tsval;

	put32(pseudo, s->ip[d]);
	put32(pseudo + 4, s->ip[!d]);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, thl + plen);
	sum = csum_add(0, pseudo, 12);
	sum = csum_add(sum, tcp, thl + plen);
	{
		uint16_t c = csum_fold(sum);

		memcpy(tcp + 16, &c, 2);
	}

	s->seq[d] += plen + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
	payload_bytes[d] += plen;
	opos += REC_HLEN + caplen;
	n_packets++;
	return flight_end;
}

/* One turn of session s: one packet, or a burst of a long flight. Returns 1
 * when done. */
static int step(struct sess *s)
{
	unsigned int n;

	switch (s->st) {
	case ST_SYN:
		emit(s, C, TH_SYN, 0);
		s->st = ST_SYNACK;
		return 0;
	case ST_SYNACK:
		emit(s, S, TH_SYN | TH_ACK, 0);
		s->st = ST_ACK;
		return 0;
	case ST_ACK:
		emit(s, C, TH_ACK, 0);
		s->st = ST_DATA;
		return 0;
	case ST_DATA:
		for (n = 0;;) {
			int d = s->pieces[s->cur].dir;

			if (emit(s, d, TH_ACK, 1)) {
				/* the peer's answer carries the ACK */
				s->unacked = 0;
				if (s->cur == s->npieces)
					s->st = ST_FINACK;
				return 0;
			}
			if (++s->unacked >= 2) {
				emit(s, !d, TH_ACK, 0); /* delayed ACK */
				s->unacked = 0;
			}
			if (++n >= s->cwnd) {
				s->cwnd = s->cwnd * 2 > burst_max ? burst_max
								  : s->cwnd * 2;
				return 0;
			}
		}
	case ST_FINACK:
		/* the last flight (221) carried the server's FIN */
		emit(s, C, TH_FIN | TH_ACK, 0);
		s->st = ST_LASTACK;
		return 0;
	default:
		emit(s, S, TH_ACK, 0);
		return 1;
	}
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: gen OUT.pcap SIZE_MB [--active N] [--seed N] [--burst N]\n"
	    "                            [--msg-size N]\n"
	    "       gen OUT.pcap --single BODYBYTES\n"
	    "       gen --version\n");
	exit(2);
}

static uint64_t parse_num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	uint64_t limit = 0, single = 0, seed = 1, committed = 0, idx = 0;
	unsigned int max_active = 2000, nactive = 0, i;
	uint64_t fixed = 0;
	struct sess **act;
	static struct sess scratch;
	static struct piece scratch_pieces[MAX_PIECES];
	struct timespec t0, t1;
	double secs;
	int a;

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("smtpscope-bench-gen %d\n", GEN_VERSION);
		return 0;
	}
	if (argc < 3)
		usage();
	out_name = argv[1];
	if (!strcmp(argv[2], "--single")) {
		if (argc != 4)
			usage();
		single = parse_num(argv[3]);
		if (!single || single > UINT64_C(4) << 30)
			usage();
		max_active = 1;
	} else {
		limit = parse_num(argv[2]) * 1000000;
		for (a = 3; a < argc; a++) {
			if (a + 1 >= argc)
				usage();
			if (!strcmp(argv[a], "--active"))
				max_active = parse_num(argv[++a]);
			else if (!strcmp(argv[a], "--seed"))
				seed = parse_num(argv[++a]);
			else if (!strcmp(argv[a], "--burst"))
				burst_max = parse_num(argv[++a]);
			else if (!strcmp(argv[a], "--msg-size"))
				fixed = parse_num(argv[++a]);
			else
				usage();
		}
		if (!max_active || !burst_max || burst_max > 4096 ||
		    fixed > 1000000000)
			usage();
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rng_state = 0x9e3779b97f4a7c15ULL ^ (seed * 0xbf58476d1ce4e5b9ULL);
	if (!rng_state)
		rng_state = 1;
	make_pool();
	make_b64_pool();

	out = fopen(out_name, "wb");
	obuf = malloc(OBUF_SIZE);
	act = calloc(max_active, sizeof(*act));
	if (!out)
		die(out_name);
	if (!obuf || !act)
		die("malloc");
	setvbuf(out, NULL, _IONBF, 0);

	/* pcap global header: classic, microseconds, snaplen 262144, Ethernet
	 */
	put32le(obuf, 0xa1b2c3d4);
	obuf[4] = 2;
	obuf[5] = 0;
	obuf[6] = 4;
	obuf[7] = 0;
	put32le(obuf + 8, 0);
	put32le(obuf + 12, 0);
	put32le(obuf + 16, 262144);
	put32le(obuf + 20, 1);
	opos = 24;

	for (;;) {
		/* open sessions up to max_active while under the size budget */
		while (nactive < max_active &&
		       (single ? idx < 1 : committed < limit)) {
			struct sess *s;

			/* built full size, kept at its size: a million fit */
			scratch.pieces = scratch_pieces;
			committed +=
			    sess_init(&scratch, idx++, single ? single : fixed);
			s = malloc(offsetof(struct sess, text) +
				   scratch.textlen);
			if (!s)
				die("malloc");
			memcpy(s, &scratch,
			       offsetof(struct sess, text) + scratch.textlen);
			s->pieces =
			    malloc(scratch.npieces * sizeof(*s->pieces));
			if (!s->pieces)
				die("malloc");
			memcpy(s->pieces, scratch_pieces,
			       scratch.npieces * sizeof(*s->pieces));
			act[nactive++] = s;
		}
		if (nactive > peak_active)
			peak_active = nactive;
		if (!nactive)
			break;
		i = rnd_below(nactive);
		if (step(act[i])) {
			free(act[i]->pieces);
			free(act[i]);
			act[i] = act[--nactive];
		}
	}
	flush_out();
	if (fclose(out))
		die(out_name);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	fprintf(
	    stderr,
	    "gen: sessions=%llu transactions=%llu rcpt=%llu rcpt_rejected=%llu "
	    "packets=%llu payload_bytes=%llu c2s_bytes=%llu s2c_bytes=%llu "
	    "file_bytes=%llu capture_secs=%.3f peak_active=%u\n",
	    (unsigned long long)n_sessions, (unsigned long long)n_transactions,
	    (unsigned long long)n_rcpt, (unsigned long long)n_rcpt_rejected,
	    (unsigned long long)n_packets,
	    (unsigned long long)(payload_bytes[C] + payload_bytes[S]),
	    (unsigned long long)payload_bytes[C],
	    (unsigned long long)payload_bytes[S],
	    (unsigned long long)file_bytes, now_us / 1e6, peak_active);
	fprintf(stderr, "gen: wrote %s in %.3f s (%.0f MB/s)\n", out_name, secs,
		file_bytes / 1e6 / (secs > 0 ? secs : 1e-9));
	for (i = 0; i < nactive; i++) {
		free(act[i]->pieces);
		free(act[i]);
	}
	free(act);
	free(obuf);
	free(pool);
	free(b64pool);
	free(line_start);
	return 0;
}
