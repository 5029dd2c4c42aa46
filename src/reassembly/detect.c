/* SPDX-License-Identifier: GPL-2.0-or-later */
/* detect.c - is a TCP connection SMTP? Its first bytes, tunnels stepped over.
 */
#include "detect.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>

/* What a tunnel handshake says so far. */
enum tun_result {
	TUN_MORE,    /* a handshake so far: more bytes needed */
	TUN_NOT,     /* not a tunnel handshake */
	TUN_REFUSED, /* a handshake the proxy refused, or broke off */
	TUN_OK,	     /* done: the tunnel starts after cons[] bytes */
};

/* The handshake found: bytes of each side it took, and where it went. */
struct tun {
	size_t cons_c, cons_s;
	enum det_tunnel kind;
	char target[DET_TARGET];
};

/* First lines, as far as telling SMTP goes. */
enum line_kind {
	L_MORE,	 /* too few bytes to tell */
	L_OTHER, /* neither an SMTP reply nor an SMTP command */
	L_REPLY, /* "ddd" then SP, '-' or the end of the line (RFC 5321 4.2) */
	L_HELO,	 /* EHLO or HELO */
	L_VERB,	 /* another command only an SMTP client sends */
};

/*
 * The commands that tell an SMTP client. Left out on purpose: the verbs
 * FTP, POP3 or NNTP clients also send first (QUIT, NOOP, HELP, AUTH, USER):
 * an FTP server greets with 220 too.
 */
static const struct {
	const char *word; /* a ':' at its end needs nothing after it */
	enum line_kind kind;
} det_verbs[] = {
    {"EHLO", L_HELO},	  {"HELO", L_HELO}, {"MAIL FROM:", L_VERB},
    {"RCPT TO:", L_VERB}, {"DATA", L_VERB}, {"BDAT", L_VERB},
    {"STARTTLS", L_VERB}, {"RSET", L_VERB}, {"VRFY", L_VERB},
    {"EXPN", L_VERB},	  {"ETRN", L_VERB},
};

static const char *const det_tunnel_names[] = {
#define X(e, s) s,
    DET_TUNNEL_LIST(X)
#undef X
};

const char *det_tunnel_str(enum det_tunnel t)
{
	return (size_t)t < sizeof(det_tunnel_names) / sizeof(*det_tunnel_names)
		   ? det_tunnel_names[t]
		   : NULL;
}

bool det_tunnel_start(uint8_t c)
{
	return c == 'C' || c == 4 || c == 5;
}

void det_init(struct det *d, bool listed, int client)
{
	memset(d, 0, offsetof(struct det, buf));
	d->listed = listed;
	d->client = (int8_t)(listed ? client : -1);
	d->first = -1;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* The kind of the line at p (n bytes held, more may come). */
static enum line_kind line_kind(const uint8_t *p, size_t n)
{
	bool viable = false;
	size_t i;

	if (!n)
		return L_MORE;
	if (p[0] >= '2' && p[0] <= '5') {
		for (i = 1; i < 3; i++) {
			if (i >= n)
				return L_MORE;
			if (!is_digit(p[i]))
				return L_OTHER;
		}
		if (n < 4)
			return L_MORE;
		return strchr(" -\r\n", p[3]) && p[3] ? L_REPLY : L_OTHER;
	}
	for (i = 0; i < sizeof(det_verbs) / sizeof(*det_verbs); i++) {
		const char *w = det_verbs[i].word;
		size_t m = strlen(w), k = n < m ? n : m;

		if (strncasecmp((const char *)p, w, k))
			continue;
		if (n < m || (n == m && w[m - 1] != ':')) {
			viable = true;
			continue;
		}
		if (w[m - 1] == ':' || (p[m] && strchr(" \r\n", p[m])))
			return det_verbs[i].kind;
	}
	return viable ? L_MORE : L_OTHER;
}

/* The offset of the line after the first one at p, 0 if not there yet. */
static size_t next_line(const uint8_t *p, size_t n)
{
	const uint8_t *lf = memchr(p, '\n', n < DET_LINE ? n : DET_LINE);

	return lf ? (size_t)(lf - p) + 1 : 0;
}

/* "host:port" with every byte outside printable ASCII made a '?'. */
static void set_target(struct tun *t, const uint8_t *host, size_t n,
		       unsigned port, bool v6)
{
	char *o = t->target;
	size_t i, max = DET_TARGET - 16;

	if (n > max)
		n = max;
	if (v6)
		*o++ = '[';
	for (i = 0; i < n; i++)
		*o++ = host[i] > 0x20 && host[i] < 0x7f ? (char)host[i] : '?';
	if (v6)
		*o++ = ']';
	if (port <= 65535)
		snprintf(o, 8, ":%u", port);
	else
		*o = '\0';
}

/* Just past the empty line that ends a header block; 0 if none yet. */
static size_t header_end(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/*
 * HTTP CONNECT (RFC 9110 9.3.6): "CONNECT host:port HTTP/1.x", headers, an
 * empty line; any 2xx answer (headers, an empty line) starts the tunnel.
 */
static enum tun_result http_connect(const uint8_t *c, size_t cl,
				    const uint8_t *s, size_t sl, struct tun *t)
{
	static const char method[] = "CONNECT ", proto[] = "HTTP/1.";

	size_t i, hend, a, send, lend;

	for (i = 0; i < cl && i < 8; i++)
		if (c[i] != (uint8_t)method[i])
			return TUN_NOT;
	if (cl < 8)
		return TUN_MORE;
	if (!(hend = header_end(c, cl)))
		return cl >= DET_BUF ? TUN_NOT : TUN_MORE;
	for (a = 8; a < hend && c[a] != ' ' && c[a] != '\r' && c[a] != '\n';
	     a++)
		;
	/* "HTTP/1.x" ends the request line; some clients put junk before it */
	lend = (const uint8_t *)memchr(c, '\n', hend) - c;
	if (a == 8 || a - 8 > 255 || c[a] != ' ' ||
	    !memmem(c + a, lend - a, " HTTP/1.", 8))
		return TUN_NOT;
	for (i = 0; i < sl && i < 7; i++)
		if (s[i] != (uint8_t)proto[i])
			return TUN_NOT;
	if (sl < 13)
		return TUN_MORE;
	if (!is_digit(s[7]) || s[8] != ' ' || !is_digit(s[9]) ||
	    !is_digit(s[10]) || !is_digit(s[11]) || !strchr(" \r\n", s[12]) ||
	    !s[12])
		return TUN_REFUSED; /* an HTTP answer, but a broken one */
	if (s[9] != '2')
		return TUN_REFUSED; /* 407, 403, 502...: no tunnel */
	if (!(send = header_end(s, sl)))
		return sl >= DET_BUF ? TUN_REFUSED : TUN_MORE;
	t->kind = DET_TUNNEL_HTTP;
	t->cons_c = hend;
	t->cons_s = send;
	/* the authority as written ("host:port"): no port parsing needed */
	set_target(t, c + 8, a - 8, 65536, false);
	return TUN_OK;
}

/* A NUL-terminated field of at most 255 bytes at p[at]: its end, or 0. */
static size_t nul_end(const uint8_t *p, size_t n, size_t at, bool *more)
{
	size_t i;

	for (i = at; i < n && i < at + 256; i++)
		if (!p[i])
			return i + 1;
	*more = i < at + 256;
	return 0;
}

/*
 * SOCKS4 and 4a: VN 4, CD 1 (CONNECT), port, IPv4, user id, NUL (4a: IP
 * 0.0.0.x, then the host name, NUL); the answer is 8 bytes, CD 90 granted.
 */
static enum tun_result socks4(const uint8_t *c, size_t cl, const uint8_t *s,
			      size_t sl, struct tun *t)
{
	size_t end, hend = 0;
	bool more = false, a4;
	unsigned port;
	char ip[16];

	if (cl < 2)
		return TUN_MORE;
	if (c[1] != 1)
		return TUN_NOT;
	if (cl < 9)
		return TUN_MORE;
	if (!(end = nul_end(c, cl, 8, &more)))
		return more ? TUN_MORE : TUN_NOT;
	a4 = !c[4] && !c[5] && !c[6] && c[7];
	if (a4 && !(hend = nul_end(c, cl, end, &more)))
		return more ? TUN_MORE : TUN_NOT;
	if (!sl)
		return TUN_MORE;
	if (s[0] != 0 && s[0] != 4) /* VN is 0; some proxies say 4 */
		return TUN_NOT;
	if (sl < 8)
		return sl >= 2 && (s[1] < 90 || s[1] > 93) ? TUN_NOT : TUN_MORE;
	if (s[1] != 90)
		return s[1] > 90 && s[1] <= 93 ? TUN_REFUSED : TUN_NOT;
	port = (unsigned)c[2] << 8 | c[3];
	t->kind = DET_TUNNEL_SOCKS4;
	t->cons_c = a4 ? hend : end;
	t->cons_s = 8;
	if (a4) {
		set_target(t, c + end, hend - end - 1, port, false);
	} else {
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", c[4], c[5], c[6], c[7]);
		set_target(t, (const uint8_t *)ip, strlen(ip), port, false);
	}
	return TUN_OK;
}

/*
 * A SOCKS5 address (RFC 1928 5): ATYP, then 4 bytes, a length and a name,
 * or 16 bytes, then the port. Its length, or 0 when n is too short (*bad:
 * an unknown ATYP).
 */
static size_t socks5_addr(const uint8_t *p, size_t n, bool *bad)
{
	size_t len;

	if (n < 2)
		return 0;
	switch (p[0]) {
	case 1:
		len = 1 + 4 + 2;
		break;
	case 3:
		len = 1 + 1 + (size_t)p[1] + 2;
		break;
	case 4:
		len = 1 + 16 + 2;
		break;
	default:
		*bad = true;
		return 0;
	}
	return n >= len ? len : 0;
}

static void socks5_target(struct tun *t, const uint8_t *p, size_t len)
{
	unsigned port = (unsigned)p[len - 2] << 8 | p[len - 1];
	char ip[INET6_ADDRSTRLEN];

	if (p[0] == 3) {
		set_target(t, p + 2, p[1], port, false);
		return;
	}
	inet_ntop(p[0] == 1 ? AF_INET : AF_INET6, p + 1, ip, sizeof(ip));
	set_target(t, (const uint8_t *)ip, strlen(ip), port, p[0] == 4);
}

/*
 * SOCKS5 (RFC 1928): the methods offered and the one chosen; for
 * username/password (RFC 1929) the sub-negotiation, whose password is
 * skipped, never kept; the CONNECT request, the reply "succeeded". A
 * client may send all of it before any answer.
 */
static enum tun_result socks5(const uint8_t *c, size_t cl, const uint8_t *s,
			      size_t sl, struct tun *t)
{
	size_t ci, si = 2, alen, req;
	bool bad = false;
	uint8_t method;

	if (cl < 2)
		return TUN_MORE;
	if (!c[1])
		return TUN_NOT;
	ci = 2 + (size_t)c[1];
	if (cl < ci)
		return TUN_MORE;
	if (!sl)
		return TUN_MORE;
	if (s[0] != 5)
		return TUN_NOT;
	if (sl < 2)
		return TUN_MORE;
	method = s[1];
	if (!memchr(c + 2, method, c[1]))
		return method == 0xff ? TUN_REFUSED : TUN_NOT;
	/* from here the proxy speaks SOCKS: what goes wrong ends it */
	if (method == 2) {
		size_t ulen, plen;

		if (cl < ci + 2)
			return TUN_MORE;
		ulen = c[ci + 1];
		if (c[ci] != 1 || cl < ci + 2 + ulen + 1)
			return c[ci] != 1 ? TUN_REFUSED : TUN_MORE;
		plen = c[ci + 2 + ulen];
		ci += 3 + ulen + plen;
		if (cl < ci)
			return TUN_MORE;
		if (sl < si + 2)
			return TUN_MORE;
		if (s[si + 1] != 0)
			return TUN_REFUSED; /* authentication failed */
		si += 2;
	} else if (method != 0) {
		return TUN_REFUSED; /* GSSAPI and the rest wrap the stream */
	}
	if (cl < ci + 4)
		return TUN_MORE;
	if (c[ci] != 5 || c[ci + 1] != 1 || c[ci + 2] != 0)
		return TUN_REFUSED; /* BIND or UDP ASSOCIATE, or garbage */
	if (!(alen = socks5_addr(c + ci + 3, cl - ci - 3, &bad)))
		return bad ? TUN_REFUSED : TUN_MORE;
	req = ci + 3;
	ci += 3 + alen;
	if (sl < si + 4)
		return TUN_MORE;
	if (s[si] != 5 || s[si + 1] != 0)
		return TUN_REFUSED; /* the connection was not made */
	bad = false;
	if (!(alen = socks5_addr(s + si + 3, sl - si - 3, &bad)))
		return bad ? TUN_REFUSED : TUN_MORE;
	si += 3 + alen;
	t->kind = DET_TUNNEL_SOCKS5;
	t->cons_c = ci;
	t->cons_s = si;
	socks5_target(t, c + req, ci - req);
	return TUN_OK;
}

static enum tun_result tunnel(const struct det *d, int cs, struct tun *t)
{
	const uint8_t *c = d->buf[cs], *s = d->buf[!cs];
	size_t cl = d->len[cs], sl = d->len[!cs];

	if (!cl)
		return TUN_MORE;
	switch (c[0]) {
	case 'C':
		return http_connect(c, cl, s, sl, t);
	case 4:
		return socks4(c, cl, s, sl, t);
	case 5:
		return socks5(c, cl, s, sl, t);
	default:
		return TUN_NOT;
	}
}

/* The kind of side's first line after the tunnel, L_OTHER if it is lost. */
static enum line_kind first_kind(const struct det *d, int side)
{
	size_t n = (size_t)(d->len[side] - d->skip[side]);
	enum line_kind k = line_kind(d->buf[side] + d->skip[side], n);

	if (k == L_MORE && (d->full[side] || n >= DET_LINE))
		return L_OTHER;
	return k;
}

/*
 * Only one side seen so far, and it sent EHLO/HELO then another SMTP
 * command: an SMTP client (a one-sided capture sees nothing else).
 */
static bool lone_client(const struct det *d, int x)
{
	const uint8_t *p = d->buf[x] + d->skip[x];
	size_t n = (size_t)(d->len[x] - d->skip[x]), next;
	enum line_kind k;

	if (d->len[!x] != d->skip[!x] || line_kind(p, n) != L_HELO ||
	    !(next = next_line(p, n)))
		return false;
	k = line_kind(p + next, n - next);
	return k == L_HELO || k == L_VERB;
}

/*
 * SMTP: one side's first line is a reply and the other's an SMTP command
 * (a 220 greeting answered by EHLO/HELO; or, from the middle of a session,
 * a command answered by a reply). The server is the side that replies,
 * whichever port it has.
 */
static enum det_verdict smtp_stage(struct det *d)
{
	enum line_kind k[2];
	int x;

	k[0] = first_kind(d, 0);
	k[1] = first_kind(d, 1);
	for (x = 0; x < 2; x++) {
		if (d->client >= 0 && x != d->client)
			continue;
		if ((k[x] == L_HELO || k[x] == L_VERB) &&
		    (k[!x] == L_REPLY || lone_client(d, x))) {
			d->client = (int8_t)x;
			return DET_SMTP;
		}
	}
	if (k[0] == L_OTHER || k[1] == L_OTHER)
		return DET_NOT_SMTP;
	if (k[0] != L_MORE && k[1] != L_MORE)
		return DET_NOT_SMTP; /* two replies, two commands, or reversed
				      */
	return DET_MORE;
}

static enum det_verdict evaluate(struct det *d)
{
	if (!d->stepped) {
		int cs = d->listed ? d->client : d->first;
		struct tun t;

		memset(&t, 0, sizeof(t));
		switch (d->first == cs ? tunnel(d, cs, &t) : TUN_NOT) {
		case TUN_MORE:
			return DET_MORE;
		case TUN_REFUSED:
			return DET_NOT_SMTP;
		case TUN_OK:
			d->skip[cs] = (uint16_t)t.cons_c;
			d->skip[!cs] = (uint16_t)t.cons_s;
			d->tunnel = t.kind;
			memcpy(d->target, t.target, sizeof(d->target));
			d->client = (int8_t)cs;
			break;
		case TUN_NOT:
			break;
		}
		d->stepped = true;
	}
	if (d->listed)
		return DET_SMTP;
	return smtp_stage(d);
}

enum det_verdict det_give_up(const struct det *d)
{
	return d->listed ? DET_SMTP : DET_NOT_SMTP;
}

/*
 * The table is full: arrivals of one side in a row become one chunk, with
 * the time and packet of the last (the decoder ends a line, and emits its
 * event, when its last byte comes). Many small segments then still fit.
 */
static void compact(struct det *d)
{
	unsigned i, j = 0;

	for (i = 0; i < d->nchunks; i++) {
		if (j && d->chunk[j - 1].side == d->chunk[i].side)
			d->chunk[j - 1] = d->chunk[i];
		else
			d->chunk[j++] = d->chunk[i];
	}
	d->nchunks = (uint8_t)j;
}

enum det_verdict det_push(struct det *d, int side, const uint8_t *p, size_t n,
			  int64_t ts, uint64_t pkt)
{
	size_t k = (size_t)(DET_BUF - d->len[side]);
	enum det_verdict v;
	bool same;

	d->kept = 0;
	if (!n)
		return DET_MORE;
	same = d->nchunks && d->chunk[d->nchunks - 1].side == side &&
	       d->chunk[d->nchunks - 1].ts == ts &&
	       d->chunk[d->nchunks - 1].pkt == pkt;
	if (!same && d->nchunks == DET_CHUNKS)
		compact(d);
	same = d->nchunks && d->chunk[d->nchunks - 1].side == side &&
	       (same || d->nchunks == DET_CHUNKS);
	if (!same && d->nchunks == DET_CHUNKS)
		k = 0;
	if (k > n)
		k = n;
	if (k) {
		if (d->first < 0)
			d->first = (int8_t)side;
		memcpy(d->buf[side] + d->len[side], p, k);
		d->len[side] += (uint16_t)k;
		if (!same)
			d->chunk[d->nchunks++].side = (uint8_t)side;
		d->chunk[d->nchunks - 1].end = d->len[side];
		d->chunk[d->nchunks - 1].ts = ts;
		d->chunk[d->nchunks - 1].pkt = pkt;
		d->kept = k;
	}
	if (k < n)
		d->full[side] = true;
	v = d->first < 0 ? DET_MORE : evaluate(d);
	/* no room left: decide on what is held */
	return v == DET_MORE && k < n ? det_give_up(d) : v;
}

void det_replay(const struct det *d,
		void (*fn)(void *user, int side, const uint8_t *p, size_t n,
			   int64_t ts, uint64_t pkt),
		void *user)
{
	size_t at[2] = {d->skip[0], d->skip[1]};
	unsigned i;

	for (i = 0; i < d->nchunks; i++) {
		int side = d->chunk[i].side;
		size_t end = d->chunk[i].end;

		if (end > at[side]) {
			fn(user, side, d->buf[side] + at[side], end - at[side],
			   d->chunk[i].ts, d->chunk[i].pkt);
			at[side] = end;
		}
	}
}
