/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp_tls.c - the cleartext start of TLS: whether it is TLS, its hellos. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_int.h"

/*
 * What is kept of each side's first bytes: a ClientHello with many
 * extensions fits, and a stripped STARTTLS shows its SMTP lines.
 */
#define TLS_PEEK_MAX 4096

struct tls_peek {
	uint8_t buf[2][TLS_PEEK_MAX];
	size_t len[2];
	bool check;   /* after STARTTLS: the client may not start TLS */
	bool decided; /* the client's first byte said TLS */
	bool done[2]; /* that side's hello was read (or cannot be) */
};

/* TLS 1.0-1.3 and SSL 3.0 as Suricata's EVE names them. */
const char *smtp_tls_version_str(unsigned v, char *buf)
{
	static const char *const names[] = {"SSLv3", "TLS 1.0", "TLS 1.1",
					    "TLS 1.2", "TLS 1.3"};

	if (v >= 0x0300 && v <= 0x0304)
		return names[v - 0x0300];
	snprintf(buf, 8, "0x%04x", v & 0xffff);
	return buf;
}

void smtp_tls_start(struct smtp_session *s, bool check)
{
	if (s->peek)
		return;
	s->peek = xcalloc(1, sizeof(*s->peek));
	s->peek->check = check;
}

void smtp_tls_free(struct smtp_session *s)
{
	free(s->peek);
	s->peek = NULL;
}

/* A bounds-checked reader over one handshake message. */
struct cur {
	const uint8_t *p, *end;
	bool bad;
};

static unsigned take(struct cur *c, size_t n)
{
	unsigned v = 0;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return 0;
	}
	while (n--)
		v = v << 8 | *c->p++;
	return v;
}

static void skip(struct cur *c, size_t n)
{
	if (c->bad || (size_t)(c->end - c->p) < n)
		c->bad = true;
	else
		c->p += n;
}

/* RFC 8701: GREASE values are not versions. */
static bool grease(unsigned v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/*
 * The hello of one side (RFC 8446 4.1.2, 4.1.3; RFC 5246 7.4.1): its
 * version (the highest offered by a ClientHello, the chosen one of a
 * ServerHello, supported_versions first) and the client's server name
 * (RFC 6066 3). What is cut short is left out.
 */
static void parse_hello(struct smtp_session *s, int side)
{
	struct tls_peek *pk = s->peek;
	struct cur c = {pk->buf[side], pk->buf[side] + pk->len[side], false};
	unsigned type, legacy, best = 0, ext, elen, n, v;
	struct cur e, l;

	if (take(&c, 1) != 0x16)
		return;
	skip(&c, 2);
	n = take(&c, 2); /* the record: the hello may go on in the next */
	if (n < (size_t)(c.end - c.p))
		c.end = c.p + n;
	type = take(&c, 1);
	if (type != (side == SMTP_FROM_CLIENT ? 1u : 2u))
		return;
	skip(&c, 3);
	legacy = take(&c, 2);
	skip(&c, 32);	       /* random */
	skip(&c, take(&c, 1)); /* session id */
	if (side == SMTP_FROM_CLIENT) {
		skip(&c, take(&c, 2)); /* cipher suites */
		skip(&c, take(&c, 1)); /* compression methods */
	} else {
		skip(&c, 3); /* cipher suite, compression method */
	}
	if (c.bad)
		return;
	best = legacy;
	n = take(&c, 2);
	if (!c.bad && n < (size_t)(c.end - c.p))
		c.end = c.p + n;
	while (!c.bad && c.p < c.end) {
		ext = take(&c, 2);
		elen = take(&c, 2);
		if (c.bad || elen > (size_t)(c.end - c.p))
			break;
		e.p = c.p;
		e.end = c.p + elen;
		e.bad = false;
		c.p += elen;
		if (ext == 43 && side == SMTP_FROM_SERVER) {
			v = take(&e, 2);
			if (!e.bad)
				best = v;
		} else if (ext == 43) { /* supported_versions: a list */
			n = take(&e, 1);
			for (best = 0; !e.bad && n >= 2; n -= 2)
				if (!grease(v = take(&e, 2)) && !e.bad &&
				    v > best)
					best = v;
			if (!best)
				best = legacy;
		} else if (ext == 0 && side == SMTP_FROM_CLIENT &&
			   !s->tls.sni) { /* server_name */
			skip(&e, 2);
			if (take(&e, 1) != 0)
				continue; /* not a host_name */
			n = take(&e, 2);
			l = e;
			skip(&e, n);
			if (!e.bad && n)
				s->tls.sni = wire_strndup((const char *)l.p,
							  n < 255 ? n : 255);
		}
	}
	if (side == SMTP_FROM_CLIENT)
		s->tls.client_version = best;
	else
		s->tls.version = best;
}

/* Can that side's hello be read now: all of its record, or all we keep? */
static bool hello_ready(const struct tls_peek *pk, int side)
{
	size_t len = pk->len[side];

	return len >= TLS_PEEK_MAX ||
	       (len >= 5 &&
		len >= 5 + (size_t)(pk->buf[side][3] << 8 | pk->buf[side][4]));
}

/*
 * After STARTTLS was accepted: a client whose first byte is no TLS
 * record (a handshake, 0x16, or an SSLv2 hello with its high bit) never
 * started TLS, and the dialogue goes on in clear. The bytes kept of both
 * sides are decoded again as SMTP, the server's first (they came first).
 */
static void not_tls(struct smtp_session *s, const uint8_t *rest, size_t n,
		    int64_t ts)
{
	struct tls_peek *pk = s->peek;

	s->peek = NULL;
	s->tls.cleartext = true;
	smtp_set_cstate(s, C_CMD);
	smtp_set_sstate(s, S_REPLY);
	smtp_alert_raise(s, SMTP_ALERT_STARTTLS_NOT_TLS, NULL, NULL, ts,
			 "the client's first bytes after the server's 220 are "
			 "not a TLS record (0x%02x): the dialogue goes on in "
			 "clear",
			 pk->buf[SMTP_FROM_CLIENT][0]);
	smtp_feed_side(s, SMTP_FROM_SERVER, pk->buf[SMTP_FROM_SERVER],
		       pk->len[SMTP_FROM_SERVER], ts);
	smtp_feed_side(s, SMTP_FROM_CLIENT, pk->buf[SMTP_FROM_CLIENT],
		       pk->len[SMTP_FROM_CLIENT], ts);
	free(pk);
	smtp_feed_side(s, SMTP_FROM_CLIENT, rest, n, ts); /* beyond the kept */
}

void smtp_tls_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *p,
		   size_t n, int64_t ts)
{
	struct tls_peek *pk = s->peek;
	size_t kept;
	int side;

	if (!pk || pk->done[dir])
		return;
	kept = TLS_PEEK_MAX - pk->len[dir];
	if (kept > n)
		kept = n;
	memcpy(pk->buf[dir] + pk->len[dir], p, kept);
	pk->len[dir] += kept;
	if (!pk->decided) {
		if (!pk->len[SMTP_FROM_CLIENT]) {
			/* the server spoke first: not TLS's way */
			if (pk->len[SMTP_FROM_SERVER] == TLS_PEEK_MAX)
				pk->decided = true;
			return;
		}
		if (pk->check && pk->buf[SMTP_FROM_CLIENT][0] != 0x16 &&
		    !(pk->buf[SMTP_FROM_CLIENT][0] & 0x80)) {
			not_tls(s, p + kept, n - kept, ts);
			return;
		}
		pk->decided = true;
	}
	for (side = 0; side < 2; side++) {
		if (!pk->done[side] && hello_ready(pk, side)) {
			parse_hello(s, side);
			pk->done[side] = true;
		}
	}
	if (pk->done[0] && pk->done[1])
		smtp_tls_free(s);
}
