/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message_hdr.c - header field syntax: RFC 2047 words, addresses, RFC 2231. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message_int.h"

#define CHARSET_MAX    64
#define PARAM_SECTIONS 32 /* RFC 2231 continuations kept */

static bool is_wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Names mail uses that iconv does not know. */
static const char *charset_alias(const char *cs)
{
	if (!strcasecmp(cs, "ks_c_5601-1987"))
		return "CP949";
	if (!strcasecmp(cs, "x-sjis"))
		return "SHIFT_JIS";
	if (!strcasecmp(cs, "gb2312"))
		return "GB18030"; /* a superset, as mailers mean it */
	return cs;
}

bool msg_to_utf8(struct sbuf *out, const char *charset, const char *in,
		 size_t n)
{
	char cs[CHARSET_MAX], buf[256], *ip = (char *)in, *op;
	size_t i, il = n, ol;
	iconv_t cd;

	/* RFC 2231 5: a language may follow the charset after '*' */
	for (i = 0; charset[i] && charset[i] != '*' && i < sizeof(cs) - 1; i++)
		cs[i] = charset[i];
	cs[i] = '\0';
	if (!cs[0])
		return false;
	if (!strcasecmp(cs, "utf-8") || !strcasecmp(cs, "us-ascii") ||
	    !strcasecmp(cs, "utf8") || !strcasecmp(cs, "ascii")) {
		sb_append(out, in, n); /* bad bytes are escaped on output */
		return true;
	}
	cd = iconv_open("UTF-8", charset_alias(cs));
	if (cd == (iconv_t)-1)
		return false;
	while (il) {
		op = buf;
		ol = sizeof(buf);
		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 &&
		    errno != E2BIG) {
			/* an invalid or cut sequence: U+FFFD for one octet */
			sb_append(out, buf, op - buf);
			sb_append(out, "\xef\xbf\xbd", 3);
			ip++;
			il--;
			continue;
		}
		sb_append(out, buf, op - buf);
	}
	op = buf;
	ol = sizeof(buf);
	iconv(cd, NULL, NULL, &op, &ol); /* shift back (ISO-2022-JP) */
	sb_append(out, buf, op - buf);
	iconv_close(cd);
	return true;
}

/* An encoded word at p (RFC 2047 2): its parts and whole length, or 0. */
static size_t enc_word(const char *p, size_t n, char *cs, char *enc,
		       const char **text, size_t *tlen)
{
	size_t i = 2, c0;

	if (n < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	for (c0 = i; i < n && p[i] != '?'; i++)
		if (is_wsp(p[i]) || i - c0 >= CHARSET_MAX - 1)
			return 0;
	if (i == c0 || i + 3 >= n || p[i + 2] != '?')
		return 0;
	memcpy(cs, p + c0, i - c0);
	cs[i - c0] = '\0';
	*enc = (char)toupper((unsigned char)p[i + 1]);
	if (*enc != 'B' && *enc != 'Q')
		return 0;
	i += 3;
	*text = p + i;
	for (; i + 1 < n; i++) {
		if (p[i] == '?' && p[i + 1] == '=') {
			*tlen = (size_t)(p + i - *text);
			return i + 2;
		}
		if (is_wsp(p[i]))
			return 0;
	}
	return 0;
}

static void word_bytes(struct sbuf *b, char enc, const char *t, size_t n)
{
	unsigned acc = 0, bits = 0;
	size_t i;
	int v, h, l;

	for (i = 0; i < n; i++) {
		char c = t[i];

		if (enc == 'B') {
			if ((v = b64val((unsigned char)c)) < 0)
				continue;
			acc = (acc << 6 | (unsigned)v) & 0xffffff;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				c = (char)(acc >> bits & 0xff);
				sb_append(b, &c, 1);
			}
		} else if (c == '_') {
			sb_append(b, " ", 1);
		} else if (c == '=' && i + 2 < n &&
			   (h = hexval((unsigned char)t[i + 1])) >= 0 &&
			   (l = hexval((unsigned char)t[i + 2])) >= 0) {
			c = (char)(h << 4 | l);
			sb_append(b, &c, 1);
			i += 2;
		} else {
			sb_append(b, &c, 1);
		}
	}
}

static void flush_words(struct sbuf *out, struct sbuf *bytes, const char *cs)
{
	if (!bytes->len)
		return;
	if (!msg_to_utf8(out, cs, bytes->p, bytes->len))
		sb_append(out, bytes->p, bytes->len);
	sb_reset(bytes);
}

void msg_decode_2047(struct sbuf *out, const char *in, size_t n)
{
	struct sbuf bytes = {0};
	char cs[CHARSET_MAX], cur[CHARSET_MAX] = "", enc;
	const char *text;
	size_t i = 0, j, w, tlen;
	bool last_enc = false;

	sb_append(out, "", 0);
	while (i < n) {
		w = enc_word(in + i, n - i, cs, &enc, &text, &tlen);
		if (w) {
			if (strcasecmp(cs, cur)) {
				flush_words(out, &bytes, cur);
				strcpy(cur, cs);
			}
			word_bytes(&bytes, enc, text, tlen);
			last_enc = true;
			i += w;
			continue;
		}
		if (is_wsp((unsigned char)in[i])) {
			for (j = i; j < n && is_wsp((unsigned char)in[j]); j++)
				;
			/* RFC 2047 6.2: space between two words is dropped */
			if (last_enc && j < n &&
			    enc_word(in + j, n - j, cs, &enc, &text, &tlen)) {
				i = j;
				continue;
			}
			flush_words(out, &bytes, cur);
			sb_append(out, in + i, j - i);
			last_enc = false;
			i = j;
			continue;
		}
		flush_words(out, &bytes, cur);
		sb_append(out, in + i, 1);
		last_enc = false;
		i++;
	}
	flush_words(out, &bytes, cur);
	sb_free(&bytes);
}

/* ---- addresses (RFC 5322 3.4) ---- */

struct mbox {
	struct sbuf phrase, spec, angle, comment, group;
	bool has_angle, in_group;
};

/* Skip a comment at p ('('); its text goes to keep if keep is empty. */
static const char *comment(const char *p, struct sbuf *keep)
{
	int depth = 0;
	bool take = keep && !keep->len;

	do {
		if (*p == '\\' && p[1]) {
			if (take)
				sb_append(keep, p + 1, 1);
			p += 2;
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		else if (take && depth == 1)
			sb_append(keep, p, 1);
		p++;
	} while (*p && depth > 0);
	return p;
}

static void trim_space(struct sbuf *b)
{
	while (b->len && b->p[b->len - 1] == ' ')
		b->p[--b->len] = '\0';
}

static char *dup_sb(const struct sbuf *b)
{
	return xstrndup(sb_str(b), b->len);
}

static void mbox_finish(struct mbox *mb, struct msg_addr *out, size_t max,
			size_t *n, size_t *dropped)
{
	const struct sbuf *addr = mb->has_angle ? &mb->angle : &mb->spec;
	const struct sbuf *name = mb->has_angle ? &mb->phrase : &mb->comment;
	struct sbuf dec = {0};

	trim_space(&mb->phrase);
	if (addr->len || mb->has_angle) {
		if (*n >= max) {
			(*dropped)++;
		} else {
			msg_decode_2047(&dec, sb_str(name), name->len);
			out[*n].name = dup_sb(&dec);
			out[*n].address = dup_sb(addr);
			out[*n].group =
			    mb->in_group ? dup_sb(&mb->group) : NULL;
			(*n)++;
			sb_free(&dec);
		}
	}
	sb_reset(&mb->phrase);
	sb_reset(&mb->spec);
	sb_reset(&mb->angle);
	sb_reset(&mb->comment);
	mb->has_angle = false;
}

/* <…>: the addr-spec without comments, spaces or an obsolete route. */
static const char *angle(const char *p, struct sbuf *out)
{
	const char *colon;

	for (p++; *p && *p != '>';) {
		if (*p == '(') {
			p = comment(p, NULL);
		} else if (*p == '"') {
			sb_append(out, p++, 1);
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					sb_append(out, p++, 1);
				sb_append(out, p++, 1);
			}
			if (*p)
				sb_append(out, p++, 1);
		} else {
			if (!is_wsp((unsigned char)*p))
				sb_append(out, p, 1);
			p++;
		}
	}
	/* RFC 5322 4.4 obs-route: "@a,@b:user@c" */
	if (out->len && out->p[0] == '@' && (colon = strchr(out->p, ':'))) {
		size_t skip = (size_t)(colon + 1 - out->p);

		memmove(out->p, colon + 1, out->len - skip + 1);
		out->len -= skip;
	}
	return *p ? p + 1 : p;
}

size_t msg_parse_addrs(const char *v, struct msg_addr *out, size_t max,
		       size_t *dropped)
{
	struct mbox mb = {0};
	const char *p = v;
	size_t n = 0;

	for (;;) {
		char c = *p;

		if (!c || c == ',' || (c == ';' && mb.in_group)) {
			mbox_finish(&mb, out, max, &n, dropped);
			if (c == ';') {
				mb.in_group = false;
				sb_reset(&mb.group);
			}
			if (!c)
				break;
			p++;
		} else if (c == '(') {
			p = comment(p, &mb.comment);
		} else if (c == '"') {
			sb_append(&mb.spec, p++, 1);
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					sb_append(&mb.spec, p++, 1);
				sb_append(&mb.phrase, p, 1);
				sb_append(&mb.spec, p++, 1);
			}
			sb_append(&mb.spec, "\"", 1);
			if (*p)
				p++;
		} else if (c == '<') {
			sb_reset(&mb.angle);
			p = angle(p, &mb.angle);
			mb.has_angle = true;
		} else if (c == ':' && !mb.has_angle && !mb.in_group) {
			trim_space(&mb.phrase);
			sb_reset(&mb.group);
			msg_decode_2047(&mb.group, sb_str(&mb.phrase),
					mb.phrase.len);
			sb_reset(&mb.phrase);
			sb_reset(&mb.spec);
			sb_reset(&mb.comment);
			mb.in_group = true;
			p++;
		} else if (is_wsp((unsigned char)c)) {
			if (mb.phrase.len &&
			    mb.phrase.p[mb.phrase.len - 1] != ' ')
				sb_append(&mb.phrase, " ", 1);
			p++;
		} else {
			sb_append(&mb.phrase, p, 1);
			sb_append(&mb.spec, p++, 1);
		}
	}
	sb_free(&mb.phrase);
	sb_free(&mb.spec);
	sb_free(&mb.angle);
	sb_free(&mb.comment);
	sb_free(&mb.group);
	return n;
}

/* ---- Content-* values (RFC 2045 5.1, RFC 2231) ---- */

void msg_token(const char *v, char *out, size_t n)
{
	size_t i = 0;
	int depth;

	/* white space and comments (RFC 5322 3.2.2) may come first */
	for (;;) {
		while (is_wsp((unsigned char)*v))
			v++;
		if (*v != '(')
			break;
		for (depth = 0; *v; v++) {
			if (*v == '\\' && v[1])
				v++;
			else if (*v == '(')
				depth++;
			else if (*v == ')' && --depth == 0) {
				v++;
				break;
			}
		}
	}
	for (; *v && *v != ';' && *v != '(' && !is_wsp((unsigned char)*v) &&
	       i + 1 < n;
	     v++)
		out[i++] = (char)tolower((unsigned char)*v);
	out[i] = '\0';
}

struct section {
	bool set, ext;
	struct sbuf val;
};

/* One "attr=value" at p; returns where the next one starts. */
static const char *param_next(const char *p, struct sbuf *attr,
			      struct sbuf *val)
{
	sb_reset(attr);
	sb_reset(val);
	while (*p && (is_wsp((unsigned char)*p) || *p == ';'))
		p++;
	while (*p == '(')
		p = comment(p, NULL);
	while (*p && *p != '=' && *p != ';') {
		if (!is_wsp((unsigned char)*p))
			sb_append(attr, p, 1);
		p++;
	}
	if (*p != '=')
		return p;
	for (p++; is_wsp((unsigned char)*p); p++)
		;
	sb_append(val, "", 0);
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			sb_append(val, p, 1);
		}
		if (*p)
			p++;
	} else {
		for (; *p && *p != ';' && !is_wsp((unsigned char)*p); p++)
			sb_append(val, p, 1);
	}
	while (*p && *p != ';')
		p++;
	return p;
}

static void pct_decode(struct sbuf *out, const char *s)
{
	int h, l;
	char c;

	for (; *s; s++) {
		if (*s == '%' && (h = hexval((unsigned char)s[1])) >= 0 &&
		    (l = hexval((unsigned char)s[2])) >= 0) {
			c = (char)(h << 4 | l);
			s += 2;
		} else {
			c = *s;
		}
		sb_append(out, &c, 1);
	}
}

bool msg_param(const char *v, const char *name, struct sbuf *out)
{
	struct section sec[PARAM_SECTIONS] = {0};
	struct sbuf attr = {0}, val = {0}, plain = {0}, bytes = {0};
	size_t nlen = strlen(name), i;
	char cs[CHARSET_MAX] = "";
	bool have_plain = false, have_sec = false, ok = false;
	const char *p = strchr(v, ';');

	while (p && *p) {
		const char *a, *rest;
		char *end;
		unsigned long k = 0;
		bool ext;

		p = param_next(p, &attr, &val);
		a = sb_str(&attr);
		if (!val.p || attr.len < nlen || strncasecmp(a, name, nlen))
			continue;
		rest = a + nlen;
		if (!*rest) {
			if (!have_plain)
				sb_append(&plain, val.p, val.len);
			have_plain = true;
			continue;
		}
		if (*rest++ != '*')
			continue;
		ext = true;
		if (*rest) {
			if (!isdigit((unsigned char)*rest))
				continue;
			k = strtoul(rest, &end, 10);
			ext = *end == '*';
			if ((*end && strcmp(end, "*")) || k >= PARAM_SECTIONS)
				continue;
		}
		if (sec[k].set)
			continue;
		sec[k].set = true;
		sec[k].ext = ext;
		sb_append(&sec[k].val, val.p, val.len);
		have_sec = true;
	}
	if (have_sec && sec[0].set) {
		for (i = 0; i < PARAM_SECTIONS && sec[i].set; i++) {
			const char *s = sb_str(&sec[i].val);

			if (!sec[i].ext) {
				sb_append(&bytes, s, sec[i].val.len);
				continue;
			}
			if (i == 0) { /* charset'language'value */
				const char *q1 = strchr(s, '\''), *q2;

				q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
				if (q2) {
					size_t l = (size_t)(q1 - s);

					if (l >= sizeof(cs))
						l = sizeof(cs) - 1;
					memcpy(cs, s, l);
					cs[l] = '\0';
					s = q2 + 1;
				}
			}
			pct_decode(&bytes, s);
		}
		sb_reset(out);
		sb_append(out, "", 0);
		if (!cs[0] || !msg_to_utf8(out, cs, sb_str(&bytes), bytes.len))
			sb_append(out, sb_str(&bytes), bytes.len);
		ok = true;
	} else if (have_plain) {
		sb_reset(out);
		msg_decode_2047(out, sb_str(&plain), plain.len);
		ok = true;
	}
	for (i = 0; i < PARAM_SECTIONS; i++)
		sb_free(&sec[i].val);
	sb_free(&attr);
	sb_free(&val);
	sb_free(&plain);
	sb_free(&bytes);
	return ok;
}

/* ---- Date (RFC 5322 3.3, with the obsolete zones of 4.3) ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (is_wsp((unsigned char)*p))
			p++;
		if (*p != '(')
			return p;
		p = comment(p, NULL);
	}
}

static bool number(const char **pp, long *v, int maxdig)
{
	const char *p = *pp;
	int n = 0;

	*v = 0;
	while (isdigit((unsigned char)*p) && n < maxdig) {
		*v = *v * 10 + (*p++ - '0');
		n++;
	}
	*pp = p;
	return n > 0;
}

bool msg_parse_date(const char *v, int64_t *ts)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const struct {
		const char *name;
		int off; /* minutes */
	} zones[] = {{"UT", 0},	       {"GMT", 0},	 {"Z", 0},
		     {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60},
		     {"CDT", -5 * 60}, {"MST", -7 * 60}, {"MDT", -6 * 60},
		     {"PST", -8 * 60}, {"PDT", -7 * 60}};
	const char *p = skip_cfws(v), *mp;
	long day, year, hh, mm, ss = 0, z;
	char mon[4];
	int off = 0, i, sign;

	if (isalpha((unsigned char)*p)) { /* day-of-week "," */
		while (isalpha((unsigned char)*p))
			p++;
		p = skip_cfws(p);
		if (*p == ',')
			p++;
		p = skip_cfws(p);
	}
	if (!number(&p, &day, 2))
		return false;
	p = skip_cfws(p);
	for (i = 0; i < 3 && p[i]; i++)
		mon[i] = (char)tolower((unsigned char)p[i]);
	mon[i] = '\0';
	if (strlen(mon) < 3 || !(mp = strstr(months, mon)) || (mp - months) % 3)
		return false;
	p += 3;
	p = skip_cfws(p);
	if (!number(&p, &year, 4))
		return false;
	if (year < 50) /* RFC 5322 4.3 */
		year += 2000;
	else if (year < 1000)
		year += 1900;
	p = skip_cfws(p);
	if (!number(&p, &hh, 2) || *p++ != ':' || !number(&p, &mm, 2))
		return false;
	if (*p == ':') {
		p++;
		if (!number(&p, &ss, 2))
			return false;
	}
	p = skip_cfws(p);
	if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!number(&p, &z, 4))
			return false;
		off = sign * (int)(z / 100 * 60 + z % 100);
	} else {
		for (i = 0; i < (int)(sizeof(zones) / sizeof(zones[0])); i++)
			if (!strncasecmp(p, zones[i].name,
					 strlen(zones[i].name)) &&
			    !isalpha((unsigned char)p[strlen(zones[i].name)]))
				off = zones[i].off;
	}
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return false;
	*ts = days_from_civil(year, (unsigned)((mp - months) / 3 + 1),
			      (unsigned)day) *
		  86400 +
	      hh * 3600 + mm * 60 + ss - off * 60;
	*ts *= 1000000;
	return true;
}

/* ---- Received (RFC 5321 4.4) ---- */

static bool ip_ok(const char *s, size_t n, char *out, size_t outn)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];

	if (n >= 5 && !strncasecmp(s, "IPv6:", 5)) {
		s += 5;
		n -= 5;
	}
	if (!n || n >= sizeof(buf) || n >= outn)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, bin) != 1 &&
	    (!memchr(buf, ':', n) || inet_pton(AF_INET6, buf, bin) != 1))
		return false;
	memcpy(out, buf, n + 1);
	return true;
}

static bool ipchar(int c)
{
	return isxdigit(c) || c == '.' || c == ':';
}

bool msg_received_ip(const char *v, char *out, size_t n)
{
	const char *p = skip_cfws(v), *end, *q, *r;
	int pass;

	if (strncasecmp(p, "from", 4) || !is_wsp((unsigned char)p[4]))
		return false;
	end = p + strlen(p);
	for (q = p + 4; q + 4 <= end; q++)
		if (is_wsp((unsigned char)q[0]) &&
		    !strncasecmp(q + 1, "by", 2) &&
		    is_wsp((unsigned char)q[3])) {
			end = q;
			break;
		}
	/*
	 * "from helo (rdns [192.0.2.1])": the address the receiver saw is
	 * in brackets in the comment; a bracket before it is the HELO name.
	 */
	for (pass = 0; pass < 2; pass++) {
		int depth = 0;

		for (q = p; q < end; q++) {
			depth += *q == '(' ? 1 : *q == ')' ? -1 : 0;
			if (*q == '[' && (pass || depth > 0) &&
			    (r = memchr(q, ']', (size_t)(end - q))) &&
			    ip_ok(q + 1, (size_t)(r - q - 1), out, n))
				return true;
		}
	}
	for (q = p + 4; q < end; q = r) {
		while (q < end && !ipchar((unsigned char)*q))
			q++;
		for (r = q; r < end && ipchar((unsigned char)*r); r++)
			;
		if (r > q && ip_ok(q, (size_t)(r - q), out, n))
			return true;
	}
	return false;
}

unsigned msg_count_ids(const char *v)
{
	unsigned n = 0;
	const char *p;

	for (p = v; (p = strchr(p, '<')); p++)
		if (strchr(p, '>'))
			n++;
	return n;
}
