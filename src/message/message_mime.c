/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message_mime.c - MIME part content: base64 / q-p decoding, hashes, URLs. */
#include <ctype.h>
#include <string.h>

#include "message_int.h"

/* ---- executable content (by name, then by magic numbers) ---- */

static const char *exec_ext(const char *name)
{
	static const char *const exts[] = {
	    "exe",  "scr",  "bat",  "cmd",  "com",  "pif",  "js",   "jse",
	    "vbs",  "vbe",  "wsf",  "wsh",  "ps1",  "psm1", "jar",  "msi",
	    "msp",  "dll",  "hta",  "cpl",  "lnk",  "reg",  "docm", "dotm",
	    "xlsm", "xltm", "xlam", "pptm", "potm", "ppsm", "ppam", "sldm",
	    "apk",  "app",  "sh",   "iso",  "img",  "vhd",  "chm",  "gadget"};
	const char *dot;
	char ext[16];
	size_t n, i;

	if (!name || !(dot = strrchr(name, '.')))
		return NULL;
	/* Windows ignores trailing dots and spaces: "x.exe. " runs */
	for (n = strlen(dot + 1); n && (dot[n] == ' ' || dot[n] == '.'); n--)
		;
	if (!n || n >= sizeof(ext))
		return NULL;
	for (i = 0; i < n; i++)
		ext[i] = (char)tolower((unsigned char)dot[1 + i]);
	ext[n] = '\0';
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (!strcmp(ext, exts[i]))
			return exts[i];
	return NULL;
}

static const char *exec_magic(const struct ent *e, bool attachment)
{
	if (e->nmagic >= 2 && !memcmp(e->magic, "MZ", 2))
		return "a Windows executable (MZ)";
	if (e->nmagic >= 4 && !memcmp(e->magic,
				      "\x7f"
				      "ELF",
				      4))
		return "an ELF executable";
	if (attachment && e->nmagic >= 2 && !memcmp(e->magic, "#!", 2))
		return "a script (#!)";
	if (e->macro)
		return "an Office document with VBA macros";
	return NULL;
}

void msg_check_exec(struct msg *m, int rec, const struct ent *e)
{
	struct msg_part *p = &m->parts[rec];
	const char *ext = exec_ext(p->filename), *magic = NULL;

	if (!ext && e && (p->attachment || strncmp(p->type, "text/", 5)))
		magic = exec_magic(e, p->attachment);
	if (!ext && !magic)
		return;
	p->executable = true;
	if (ext)
		msg_alert(m, MSG_ALERT_ATTACHMENT_EXECUTABLE,
			  "part %d (%s) named \"%.100s\": .%s file", rec,
			  p->type, p->filename, ext);
	else
		msg_alert(m, MSG_ALERT_ATTACHMENT_EXECUTABLE,
			  "part %d (%s%s%.100s%s) is %s", rec, p->type,
			  p->filename ? " \"" : "",
			  p->filename ? p->filename : "",
			  p->filename ? "\"" : "", magic);
}

/* ---- decoded content ---- */

static const char zip_marker[] = "vbaProject.bin";
/* "_VBA_PROJECT" as an OLE directory entry name (UTF-16LE) */
static const char ole_marker[] = "_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T";

/* Longest prefix of pat that ends the text pat[0..k) + c. */
static size_t pat_step(const char *pat, size_t k, char c)
{
	size_t j, s;

	if (pat[k] == c)
		return k + 1;
	for (j = k; j > 0; j--) { /* candidate match length j */
		s = k + 1 - j;	  /* it starts at s in pat[0..k) + c */
		if (!memcmp(pat, pat + s, j - 1) && pat[j - 1] == c)
			return j;
	}
	return 0;
}

static void url_end(struct msg *m, struct ent *e)
{
	size_t n = e->ulen, i, pre;

	e->inurl = false;
	/* an HTML href writes & as &amp; */
	for (i = 0; i + 5 <= n; i++)
		if (!memcmp(e->url + i, "&amp;", 5)) {
			memmove(e->url + i + 1, e->url + i + 5, n - i - 5);
			n -= 4;
		}
	pre = e->url[4] == 's' ? 8 : 7;
	while (n > pre && strchr(".,;:!?)]}'*", e->url[n - 1]))
		n--;
	if (n <= pre)
		return;
	for (i = 0; i < m->nurls; i++)
		if (strlen(m->urls[i]) == n && !memcmp(m->urls[i], e->url, n))
			return;
	if (m->nurls >= m->lim.urls) {
		m->urls_dropped++;
		return;
	}
	if (!m->urls)
		m->urls = msg_alloc(m, m->lim.urls * sizeof(*m->urls));
	m->urls[m->nurls++] = msg_dup(m, e->url, n);
}

/* RFC 3986 characters, and octets above 127: IRIs in UTF-8 (RFC 3987). */
static bool url_char(uint8_t c)
{
	return c >= 0x80 || (c > 0x20 && c < 0x7f && !strchr("\"<>`{}|\\^", c));
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Byte k of the piece, lowered; k < 0 reaches back into e->win. */
static uint8_t back(const struct ent *e, const uint8_t *p, long k)
{
	return k >= 0 ? lower(p[k]) : (uint8_t)(e->win >> (8 * (-k - 1)));
}

/*
 * URLs start at "http://" or "https://". Text is scanned for '/' with
 * memchr, not byte by byte; e->win keeps the last 8 bytes of the previous
 * piece (lowered) for a scheme cut by a piece boundary.
 */
static void url_scan(struct msg *m, struct ent *e, const uint8_t *p, size_t n)
{
	size_t i = 0, k;
	const uint8_t *q;
	long j;

	while (i < n) {
		if (e->inurl) {
			for (; i < n && url_char(p[i]); i++)
				if (e->ulen < URL_MAX)
					e->url[e->ulen++] = (char)p[i];
			if (i == n)
				break;
			url_end(m, e);
		}
		q = memchr(p + i, '/', n - i);
		if (!q)
			break;
		j = q - p;
		i = (size_t)j + 1;
		if (back(e, p, j - 1) != '/' || back(e, p, j - 2) != ':')
			continue;
		if (back(e, p, j - 3) == 'p' && back(e, p, j - 4) == 't' &&
		    back(e, p, j - 5) == 't' && back(e, p, j - 6) == 'h') {
			memcpy(e->url, "http://", 7);
			e->ulen = 7;
			e->inurl = true;
		} else if (back(e, p, j - 3) == 's' &&
			   back(e, p, j - 4) == 'p' &&
			   back(e, p, j - 5) == 't' &&
			   back(e, p, j - 6) == 't' &&
			   back(e, p, j - 7) == 'h') {
			memcpy(e->url, "https://", 8);
			e->ulen = 8;
			e->inurl = true;
		}
	}
	for (k = n > 8 ? n - 8 : 0; k < n; k++)
		e->win = e->win << 8 | lower(p[k]);
}

/* Decoded octets of the current leaf. */
static void sink(struct msg *m, const uint8_t *p, size_t n)
{
	struct ent *e = &m->cur;
	const uint8_t *q;
	size_t i = 0;

	if (!n)
		return;
	e->size += n;
	if (e->rec >= 0) {
		sha256_update(&m->sha[e->rec], n, p);
		if (m->hooks.data)
			m->hooks.data(m->hooks.user, &m->parts[e->rec],
				      (unsigned)e->rec, p, n);
	}
	if (e->nmagic < sizeof(e->magic)) {
		for (; i < n && e->nmagic < sizeof(e->magic); i++)
			e->magic[e->nmagic++] = p[i];
		if (e->nmagic == sizeof(e->magic)) {
			if (!memcmp(e->magic, "PK\3\4", 4)) {
				e->pat = zip_marker;
				e->patlen = sizeof(zip_marker) - 1;
			} else if (!memcmp(e->magic,
					   "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
					   8)) {
				e->pat = ole_marker;
				e->patlen = sizeof(ole_marker);
			}
		}
	}
	if (e->pat && !e->macro)
		for (; i < n; i++) {
			if (!e->pati) { /* only the first octet starts it */
				q = memchr(p + i, e->pat[0], n - i);
				if (!q)
					break;
				i = (size_t)(q - p);
			}
			e->pati = pat_step(e->pat, e->pati, (char)p[i]);
			if (e->pati == e->patlen) {
				e->macro = true;
				break;
			}
		}
	if (e->text)
		url_scan(m, e, p, n);
}

/*
 * base64 alphabet values; what else an octet is in base64 text: white
 * space or a line end (met only when content goes on raw), '=', or bad.
 */
#define B64_SKIP 0x40
#define B64_PAD	 0x41
#define B64_BAD	 0xff

static const uint8_t b64_val[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x40, 0x40, 0xff,
    0xff, 0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x40, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0xff, 0xff, 0x3f,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff,
    0xff, 0x41, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
    0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24,
    0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30,
    0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff,
};

static int hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void put(struct msg *m, struct obuf *o, uint8_t c)
{
	o->b[o->n++] = c;
	if (o->n == DECODE_BUF) {
		sink(m, o->b, o->n);
		o->n = 0;
	}
}

/* base64 bits so far, as octets: at '=' and at the end of the part. */
static void b64_flush(struct msg *m, struct obuf *o)
{
	struct ent *e = &m->cur;

	if (e->nacc >= 2)
		put(m, o, (uint8_t)(e->acc >> (e->nacc == 2 ? 4 : 10)));
	if (e->nacc == 3)
		put(m, o, (uint8_t)(e->acc >> 2));
	e->acc = e->nacc = 0;
}

static void qp_ws_flush(struct msg *m, struct obuf *o)
{
	struct ent *e = &m->cur;
	size_t i;

	for (i = 0; i < e->qwn; i++)
		put(m, o, e->qws[i]);
	e->qwn = 0;
}

static void qp_byte(struct msg *m, struct obuf *o, uint8_t c)
{
	struct ent *e = &m->cur;
	int v;

	switch (e->qs) {
	case 1:
		if ((v = hex(c)) >= 0) {
			e->qx = v;
			e->qs = 2;
			return;
		}
		if (c == ' ' || c == '\t') {
			e->qs = 3;
			return;
		}
		put(m, o, '='); /* RFC 2045 6.7 note (1): keep it */
		e->qs = 0;
		break;
	case 2:
		e->qs = 0;
		if ((v = hex(c)) >= 0) {
			put(m, o, (uint8_t)(e->qx << 4 | v));
			return;
		}
		put(m, o, '=');
		put(m, o, "0123456789ABCDEF"[e->qx]);
		break;
	case 3:
		if (c == ' ' || c == '\t')
			return;
		put(m, o, '=');
		e->qs = 0;
		break;
	}
	if (c == '=') {
		qp_ws_flush(m, o);
		e->qs = 1;
	} else if (c == ' ' || c == '\t') {
		if (e->qwn == sizeof(e->qws))
			qp_ws_flush(m, o);
		e->qws[e->qwn++] = c;
	} else {
		qp_ws_flush(m, o);
		put(m, o, c);
	}
}

/* One line end of the encoded text (1 LF, 2 CRLF) between two lines. */
static void dec_eol(struct msg *m, struct obuf *o, uint8_t eol)
{
	struct ent *e = &m->cur;

	if (e->dec == D_BASE64)
		return;
	if (e->dec == D_QP) {
		e->qwn = 0; /* transport padding (RFC 2045 6.7 (3)) */
		if (e->qs == 1 || e->qs == 3) {
			e->qs = 0; /* a soft line break */
			return;
		}
		if (e->qs == 2) {
			put(m, o, '=');
			put(m, o, "0123456789ABCDEF"[e->qx]);
			e->qs = 0;
		}
	}
	if (eol == 2)
		put(m, o, '\r');
	put(m, o, '\n');
}

/* Three octets of a base64 quantum; o->n stays below the size, as put(). */
static void put3(struct msg *m, struct obuf *o, uint32_t w)
{
	if (o->n + 3 > DECODE_BUF) {
		sink(m, o->b, o->n);
		o->n = 0;
	}
	o->b[o->n] = (uint8_t)(w >> 16);
	o->b[o->n + 1] = (uint8_t)(w >> 8);
	o->b[o->n + 2] = (uint8_t)w;
	o->n += 3;
	if (o->n == DECODE_BUF) {
		sink(m, o->b, o->n);
		o->n = 0;
	}
}

/*
 * Whole quanta from p[*i], while every symbol is in the alphabet and
 * they fit in o (its size is a multiple of 3): the common case, with no
 * test per octet.
 */
static void b64_quanta(struct msg *m, struct obuf *o, const uint8_t *p,
		       size_t n, size_t *i)
{
	size_t k = (n - *i) / 4, room = (DECODE_BUF - o->n) / 3;
	const uint8_t *s = p + *i;
	uint8_t *q = o->b + o->n;
	uint32_t w;

	if (k > room)
		k = room;
	for (; k; k--, s += 4, q += 3) {
		w = (uint32_t)b64_val[s[0]] << 18 |
		    (uint32_t)b64_val[s[1]] << 12 |
		    (uint32_t)b64_val[s[2]] << 6 | b64_val[s[3]];
		if ((b64_val[s[0]] | b64_val[s[1]] | b64_val[s[2]] |
		     b64_val[s[3]]) >= 64)
			break;
		q[0] = (uint8_t)(w >> 16);
		q[1] = (uint8_t)(w >> 8);
		q[2] = (uint8_t)w;
	}
	*i = (size_t)(s - p);
	o->n = (size_t)(q - o->b);
	if (o->n == DECODE_BUF) {
		sink(m, o->b, o->n);
		o->n = 0;
	}
}

static void b64_data(struct msg *m, struct obuf *o, const uint8_t *p, size_t n)
{
	struct ent *e = &m->cur;
	uint32_t acc = e->acc;
	unsigned nacc = e->nacc;
	size_t i = 0, at;
	uint8_t v;

	while (i < n) {
		if (!nacc && i + 4 <= n) {
			at = i;
			b64_quanta(m, o, p, n, &i);
			if (i > at)
				continue; /* more quanta, or room again */
		}
		v = b64_val[p[i++]];
		if (v < 64) {
			acc = acc << 6 | v;
			if (++nacc < 4)
				continue;
			put3(m, o, acc);
			acc = nacc = 0;
		} else if (v == B64_PAD) {
			e->acc = acc;
			e->nacc = nacc;
			b64_flush(m, o);
			acc = nacc = 0;
		} else if (v == B64_BAD) {
			e->b64bad = true;
		}
	}
	e->acc = acc;
	e->nacc = nacc;
}

/* Octets that need no decoding, through the buffer (or past it: many). */
static void copy_out(struct msg *m, struct obuf *o, const uint8_t *p, size_t n)
{
	size_t k;

	if (o->n + n > DECODE_BUF) {
		k = DECODE_BUF - o->n;
		memcpy(o->b + o->n, p, k);
		sink(m, o->b, DECODE_BUF);
		o->n = 0;
		p += k;
		n -= k;
		if (n >= DECODE_BUF) {
			sink(m, p, n);
			return;
		}
	}
	memcpy(o->b + o->n, p, n);
	o->n += n;
	if (o->n == DECODE_BUF) { /* full: put() writes at o->n */
		sink(m, o->b, o->n);
		o->n = 0;
	}
}

static void dec_data(struct msg *m, struct obuf *o, const uint8_t *p, size_t n)
{
	struct ent *e = &m->cur;
	size_t i;

	switch (e->dec) {
	case D_IDENTITY:
		copy_out(m, o, p, n);
		break;
	case D_BASE64:
		b64_data(m, o, p, n);
		break;
	case D_QP:
		for (i = 0; i < n; i++)
			qp_byte(m, o, p[i]);
		break;
	}
}

void msg_out_begin(struct msg *m)
{
	static _Thread_local uint8_t b[DECODE_BUF];

	m->out.b = b;
}

void msg_out_flush(struct msg *m)
{
	sink(m, m->out.b, m->out.n);
	m->out.n = 0;
}

void msg_leaf_line(struct msg *m, const uint8_t *s, size_t len, uint8_t eol)
{
	struct ent *e = &m->cur;

	if (e->pend)
		dec_eol(m, &m->out, e->pend);
	e->pend = eol;
	dec_data(m, &m->out, s, len);
}

void msg_leaf_raw(struct msg *m, const uint8_t *p, size_t n)
{
	struct ent *e = &m->cur;

	if (e->pend)
		dec_eol(m, &m->out, e->pend);
	e->pend = 0;
	dec_data(m, &m->out, p, n);
}

/* Content follows: decode it as C-T-E says, look for URLs in text. */
void msg_leaf_start(struct msg *m, const char *type)
{
	struct ent *e = &m->cur;

	e->state = ES_LEAF;
	e->dec = !strcmp(e->cte, "base64")	       ? D_BASE64
		 : !strcmp(e->cte, "quoted-printable") ? D_QP
						       : D_IDENTITY;
	e->text = !strcmp(type, "text/plain") || !strcmp(type, "text/html");
	m->out.n = 0;
}

/* The leaf ends; eol: its last line end is content (end of message). */
void msg_leaf_end(struct msg *m, bool truncated, bool eol)
{
	struct ent *e = &m->cur;
	struct obuf *o = &m->out;
	struct msg_part *p;

	if (eol && e->pend)
		dec_eol(m, o, e->pend);
	e->pend = 0;
	if (e->dec == D_BASE64) {
		b64_flush(m, o);
		if (e->b64bad)
			msg_alert(m, MSG_ALERT_MALFORMED_MIME,
				  "part %d: characters outside the base64 "
				  "alphabet",
				  e->rec);
	} else if (e->dec == D_QP) {
		if (e->qs == 2) {
			put(m, o, '=');
			put(m, o, "0123456789ABCDEF"[e->qx]);
		}
	}
	sink(m, o->b, o->n);
	o->n = 0;
	if (e->inurl)
		url_end(m, e);
	if (e->rec >= 0) {
		p = &m->parts[e->rec];
		p->size = e->size;
		p->truncated = truncated;
		msg_check_exec(m, e->rec, e);
		msg_part_done(m, e->rec);
	}
}
