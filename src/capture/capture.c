/* SPDX-License-Identifier: GPL-2.0-or-later */
/* capture.c - packet sources, BPF, and every link layer down to IP. */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decomp.h"
#include "pcapng.h"
#include "util.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

/* The snapshot length BPF is compiled for when reading a pcapng file. */
#define CAP_FILE_SNAPLEN 262144
/* A live capture with no packet wakes up this often (milliseconds). */
#define CAP_IDLE_MS 500
/* LINKTYPE_RAW: the one link type we read whose DLT_ value differs. */
#define LINKTYPE_RAW 101
/*
 * Packet times we take, in microseconds: 1970-01-01T00:00:00 to
 * 9999-12-31T23:59:59.999999, the years format_time() prints in four
 * digits. Within it no difference of two times overflows an int64_t.
 */
#define CAP_TS_MIN 0
#define CAP_TS_MAX INT64_C(253402300799999999)
/*
 * A step back in time this large is worth a warning: not reordering, nor
 * captures of overlapping sessions laid end to end, but a clock set back
 * or files joined out of order.
 */
#define CAP_TS_BACK_WARN INT64_C(60000000)

/* One link type met in a pcapng file: can we read it, and its filter. */
struct cap_lt {
	int dlt;
	int supported;
	int filtered; /* prog holds the BPF program for this link type */
	struct bpf_program prog;
};

struct cap {
	pcap_t *p;	     /* libpcap: classic files and live capture */
	struct pcapng *ng;   /* our reader: pcapng files */
	FILE *fp;	     /* the pcapng file */
	FILE *raw;	     /* a compressed file, read through fp or p's */
	struct decomp *z;    /* its decompressor, freed with the stream on it */
	char *expr, *filter; /* the user's BPF expression, the full one */
	struct cap_lt *lts;  /* pcapng: each link type met so far */
	size_t nlts, last;
	int ncompiled; /* filters compiled for supported link types */
	int dlt;
	uint64_t count;
	cap_ip_fn fn;
	cap_idle_fn idle;
	void *user;
	struct cap_stats st;
	int live;
	const char *name; /* the file or interface, for warnings */
	int quiet;	  /* no warnings on stderr */
	int64_t last_ts;  /* the time of the packet before; -1: none yet */
	int warned_range, warned_back;
	int in_fd; /* the file read (its offset is the progress), or -1 */
	uint64_t in_size; /* its size, or 0: unknown (a pipe) */
	volatile sig_atomic_t stop;
};

/* A FILE giving back the bytes read to tell the format, then the rest. */
struct cap_replay {
	int fd;
	uint8_t head[DECOMP_MAGIC_LEN];
	size_t n, off;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* IP version from an ethertype; 0 if not IP. */
static int ethertype_ip(uint16_t type)
{
	return type == 0x0800 ? 4 : type == 0x86dd ? 6 : 0;
}

/* BSD address families of DLT_NULL/DLT_LOOP: INET, and INET6 of each BSD. */
static int family_ip(uint32_t af)
{
	return af == 2						? 4
	       : (af == 10 || af == 24 || af == 28 || af == 30) ? 6
								: 0;
}

/* Strip the link layer; returns the IP version (0: skip) and the offset. */
static int link_strip(int dlt, const uint8_t *pkt, size_t len, size_t *off)
{
	size_t o;
	uint16_t type;

	switch (dlt) {
	case DLT_EN10MB:
		if (len < 14)
			return 0;
		type = be16(pkt + 12);
		o = 14;
		/* 802.1Q, 802.1ad (QinQ) and the old 0x9100 tags */
		while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) &&
		       len >= o + 4) {
			type = be16(pkt + o + 2);
			o += 4;
		}
		*off = o;
		return ethertype_ip(type);
	case DLT_LINUX_SLL:
		if (len < 16)
			return 0;
		*off = 16;
		return ethertype_ip(be16(pkt + 14));
	case DLT_LINUX_SLL2:
		if (len < 20)
			return 0;
		*off = 20;
		return ethertype_ip(be16(pkt));
	case DLT_NULL:
		if (len < 4)
			return 0;
		*off = 4;
		{
			uint32_t af;

			memcpy(&af, pkt, 4); /* host byte order of the writer */
			if (!family_ip(af))
				af = __builtin_bswap32(af);
			return family_ip(af);
		}
	case DLT_LOOP:
		if (len < 4)
			return 0;
		*off = 4;
		return family_ip((uint32_t)pkt[0] << 24 | pkt[1] << 16 |
				 pkt[2] << 8 | pkt[3]);
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		if (len < 1)
			return 0;
		*off = 0;
		return pkt[0] >> 4 == 4 ? 4 : pkt[0] >> 4 == 6 ? 6 : 0;
	default:
		return 0;
	}
}

static int dlt_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return 1;
	default:
		return 0;
	}
}

/*
 * The time a packet is given. Whatever a file holds, what goes on is in
 * [CAP_TS_MIN, CAP_TS_MAX] and never goes back, so that no interval
 * computed later (idle timeout, latency, duration) overflows or spans
 * decades: a time out of range, or earlier than the packet before, takes
 * that packet's time (the epoch if there is none yet), as a clock that
 * only moves forward would. Each case is warned about once.
 */
static int64_t packet_time(struct cap *c, int64_t ts, int ok)
{
	unsigned long long n = (unsigned long long)c->st.packets;

	if (!ok || ts < CAP_TS_MIN || ts > CAP_TS_MAX) {
		if (!c->warned_range++ && !c->quiet)
			fprintf(stderr,
				"smtpscope: %s: packet %llu: time stamp out of "
				"range (not in 1970-9999); such packets take "
				"the time of the packet before\n",
				c->name, n);
		ts = c->last_ts >= 0 ? c->last_ts : CAP_TS_MIN;
	} else if (c->last_ts >= 0 && ts < c->last_ts) {
		if (c->last_ts - ts >= CAP_TS_BACK_WARN && !c->warned_back++ &&
		    !c->quiet)
			fprintf(stderr,
				"smtpscope: %s: packet %llu: time stamp %lld s "
				"earlier than the packet before; such packets "
				"take the time of the packet before\n",
				c->name, n,
				(long long)((c->last_ts - ts) / 1000000));
		ts = c->last_ts;
	}
	c->last_ts = ts;
	return ts;
}

/* Count a packet and hand its IP layer on; ts_ok 0: no valid time. */
static void deliver(struct cap *c, int dlt, const uint8_t *pkt, size_t caplen,
		    size_t len, int64_t ts, int ts_ok)
{
	size_t off = 0;
	int v;

	c->st.packets++;
	ts = packet_time(c, ts, ts_ok);
	/* a packet is never longer on the wire than captured */
	if (len < caplen)
		len = caplen;
	c->st.bytes += caplen;
	if (caplen < len)
		c->st.cut++;
	v = link_strip(dlt, pkt, caplen, &off);
	if (v == 4)
		c->st.ipv4++;
	else if (v == 6)
		c->st.ipv6++;
	else
		c->st.other++;
	if (v)
		c->fn(c->user, v, pkt + off, caplen - off,
		      len > off ? len - off : 0, ts, c->st.packets);
}

static void handler(u_char *user, const struct pcap_pkthdr *h,
		    const u_char *pkt)
{
	struct cap *c = (struct cap *)user;
	int64_t ts;
	int ok;

	/* a time_t from the file (32 bits) or the kernel: checked anyway */
	ok = !__builtin_mul_overflow(h->ts.tv_sec, 1000000, &ts) &&
	     !__builtin_add_overflow(ts, h->ts.tv_usec, &ts);
	deliver(c, c->dlt, pkt, h->caplen, h->len, ts, ok);
	if (c->count && c->st.packets >= c->count)
		pcap_breakloop(c->p);
}

/*
 * Without an expression no BPF at all: the ports are checked in code, for
 * every link layer. With one: (expression) and (ports).
 */
static char *full_filter(const char *expr, const char *ports)
{
	struct sbuf full = {0};

	if (!expr || !*expr)
		return NULL;
	sb_append(&full, "(", 1);
	sb_append(&full, expr, strlen(expr));
	sb_append(&full, ")", 1);
	if (ports && *ports) {
		sb_append(&full, " and (", 6);
		sb_append(&full, ports, strlen(ports));
		sb_append(&full, ")", 1);
	}
	return full.p;
}

static int set_filter(struct cap *c, char *err)
{
	struct bpf_program prog;

	if (!c->filter)
		return 0;
	if (pcap_compile(c->p, &prog, c->filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, CAP_ERRBUF, "bad filter '%s': %s", c->expr,
			 pcap_geterr(c->p));
		return -1;
	}
	if (pcap_setfilter(c->p, &prog) < 0) {
		snprintf(err, CAP_ERRBUF, "cannot set filter: %s",
			 pcap_geterr(c->p));
		pcap_freecode(&prog);
		return -1;
	}
	pcap_freecode(&prog);
	return 0;
}

static const char *dlt_name(int dlt)
{
	const char *name = pcap_datalink_val_to_name(dlt);

	return name ? name : "unknown";
}

/*
 * The filter for one link type of a pcapng file, compiled as libpcap would
 * for a file of that type alone. A link type we cannot read is counted,
 * not analysed: filtered if the expression compiles for it, else not.
 */
static int lt_compile(struct cap *c, struct cap_lt *l, char *err)
{
	pcap_t *dead;
	int rc = 0;

	if (!c->filter)
		return 0;
	dead = pcap_open_dead(l->dlt, CAP_FILE_SNAPLEN);
	if (!dead) {
		snprintf(err, CAP_ERRBUF, "cannot compile the filter");
		return -1;
	}
	if (pcap_compile(dead, &l->prog, c->filter, 1, PCAP_NETMASK_UNKNOWN) ==
	    0) {
		l->filtered = 1;
		if (l->supported)
			c->ncompiled++;
	} else if (l->supported) {
		if (c->ncompiled)
			snprintf(err, CAP_ERRBUF,
				 "bad filter '%s' for link type %s (%d): %s",
				 c->expr, dlt_name(l->dlt), l->dlt,
				 pcap_geterr(dead));
		else
			snprintf(err, CAP_ERRBUF, "bad filter '%s': %s",
				 c->expr, pcap_geterr(dead));
		rc = -1;
	}
	pcap_close(dead);
	return rc;
}

/* pcapng link types are LINKTYPE_ values; pcap_open_dead() wants DLT_. */
static int linktype_dlt(uint16_t linktype)
{
	return linktype == LINKTYPE_RAW ? DLT_RAW : linktype;
}

/* The index of a link type in c->lts, added when new; -1 with err. */
static long lt_index(struct cap *c, uint16_t linktype, char *err)
{
	int dlt = linktype_dlt(linktype);
	struct cap_lt *l;
	size_t i;

	if (c->nlts && c->lts[c->last].dlt == dlt)
		return (long)c->last;
	for (i = 0; i < c->nlts; i++)
		if (c->lts[i].dlt == dlt)
			return (long)(c->last = i);
	c->lts = xrealloc(c->lts, (c->nlts + 1) * sizeof(*c->lts));
	l = &c->lts[c->nlts];
	memset(l, 0, sizeof(*l));
	l->dlt = dlt;
	l->supported = dlt_supported(dlt);
	if (lt_compile(c, l, err) < 0)
		return -1;
	c->last = c->nlts++;
	return (long)c->last;
}

static pcap_t *open_live(const struct cap_options *o, char *err)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(o->iface, ebuf);
	int rc;

	if (!p) {
		snprintf(err, CAP_ERRBUF, "%s: %s", o->iface, ebuf);
		return NULL;
	}
	pcap_set_snaplen(p, o->snaplen);
	if (o->buffer_kb)
		pcap_set_buffer_size(p, o->buffer_kb * 1024);
	pcap_set_promisc(p, 1);
	pcap_set_timeout(p, 100);
	pcap_set_immediate_mode(p, 1);
	rc = pcap_activate(p);
	if (rc < 0) {
		const char *why = pcap_geterr(p);

		if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
			snprintf(err, CAP_ERRBUF, "%s: no such interface",
				 o->iface);
		else if (rc == PCAP_ERROR_PERM_DENIED)
			snprintf(err, CAP_ERRBUF,
				 "%s: permission denied (capturing needs root "
				 "or CAP_NET_RAW)",
				 o->iface);
		else
			snprintf(err, CAP_ERRBUF, "%s: %s", o->iface,
				 why && *why ? why : pcap_statustostr(rc));
		pcap_close(p);
		return NULL;
	}
	return p;
}

static ssize_t replay_read(void *cookie, char *buf, size_t size)
{
	struct cap_replay *r = cookie;
	size_t n = r->n - r->off;

	if (!n)
		return read(r->fd, buf, size);
	if (n > size)
		n = size;
	memcpy(buf, r->head + r->off, n);
	r->off += n;
	return (ssize_t)n;
}

static int replay_close(void *cookie)
{
	struct cap_replay *r = cookie;

	if (r->fd != STDIN_FILENO)
		close(r->fd);
	free(r);
	return 0;
}

/*
 * Open a capture file ("-": standard input) and read its first bytes into
 * head, which tell its format or its compression. Read with read(2), so
 * that no stdio buffer holds more; then seek back, or, on a pipe, replay
 * them through a cookie FILE that goes on with the descriptor.
 */
static FILE *open_input(const char *path, uint8_t *head, size_t *nhead,
			char *err)
{
	static const cookie_io_functions_t io = {.read = replay_read,
						 .close = replay_close};
	int fd =
	    strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	size_t n = 0;
	struct cap_replay *r;
	FILE *fp;

	if (fd < 0)
		goto fail;
	while (n < DECOMP_MAGIC_LEN) {
		ssize_t k = read(fd, head + n, DECOMP_MAGIC_LEN - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto fail;
		if (!k)
			break;
		n += (size_t)k;
	}
	*nhead = n;
	if (lseek(fd, -(off_t)n, SEEK_CUR) >= 0) {
		fp = fd == STDIN_FILENO ? stdin : fdopen(fd, "rb");
		if (!fp)
			goto fail;
		return fp;
	}
	r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	memcpy(r->head, head, n);
	r->n = n;
	fp = fopencookie(r, "rb", io);
	if (!fp) {
		free(r);
		goto fail;
	}
	return fp;
fail:
	snprintf(err, CAP_ERRBUF, "%s: %s", path, strerror(errno));
	if (fd > STDIN_FILENO)
		close(fd);
	return NULL;
}

/* The same on a stream opened by the caller, which must be seekable. */
static FILE *peek_input(FILE *fp, const char *name, uint8_t *head,
			size_t *nhead, char *err)
{
	size_t n = fread(head, 1, DECOMP_MAGIC_LEN, fp);

	*nhead = n;
	if (fseek(fp, -(long)n, SEEK_CUR) < 0) {
		snprintf(err, CAP_ERRBUF, "%s: %s", name, strerror(errno));
		fclose(fp);
		return NULL;
	}
	return fp;
}

static void close_input(FILE *fp)
{
	if (fp && fp != stdin)
		fclose(fp);
}

/*
 * A compressed capture (its magic number, never its name): read it
 * through a stream that decompresses it, and put its first decompressed
 * bytes in head, which tell its format. Both streams are the cap's to
 * close; NULL with the reason in err.
 */
static FILE *open_compressed(struct cap *c, FILE *fp, const char *path,
			     uint8_t *head, size_t *nhead, char *err)
{
	enum decomp_kind kind = decomp_detect(head, *nhead);
	ssize_t n;
	FILE *zfp;

	if (kind == DECOMP_NONE)
		return fp;
	c->raw = fp;
	c->z = decomp_new(fp, kind);
	n = decomp_peek(c->z, head, DECOMP_MAGIC_LEN);
	if (n < 0) {
		snprintf(err, CAP_ERRBUF, "%s: %s", path, decomp_error(c->z));
		goto fail;
	}
	*nhead = (size_t)n;
	zfp = decomp_fopen(c->z);
	if (!zfp) {
		snprintf(err, CAP_ERRBUF, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return zfp;
fail:
	decomp_free(c->z);
	c->z = NULL;
	return NULL;
}

/*
 * A reader failed on fp: if decompressing it failed, that is the reason,
 * which the reader only saw as a read error.
 */
static const char *compressed_failure(const struct cap *c, FILE *fp)
{
	return c->z && fp && ferror(fp) ? decomp_error(c->z) : NULL;
}

/* pcapng: our reader; the link types of the first interfaces checked. */
static int open_pcapng(struct cap *c, const char *path, char *err)
{
	char why[PCAPNG_ERRBUF];
	unsigned i, n;
	int any = 0;

	c->ng = pcapng_open(c->fp, why);
	if (!c->ng) {
		const char *zwhy = compressed_failure(c, c->fp);

		snprintf(err, CAP_ERRBUF, "%s: %s", path, zwhy ? zwhy : why);
		return -1;
	}
	n = pcapng_ifcount(c->ng);
	for (i = 0; i < n; i++)
		any |= dlt_supported(linktype_dlt(pcapng_linktype(c->ng, i)));
	if (!any) {
		int dlt = linktype_dlt(pcapng_linktype(c->ng, 0));

		snprintf(err, CAP_ERRBUF, "%s: unsupported link type %s (%d)",
			 path, dlt_name(dlt), dlt);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (lt_index(c, pcapng_linktype(c->ng, i), err) < 0)
			return -1;
	return 0;
}

static int open_classic(struct cap *c, FILE *fp, const char *path, char *err)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";

	c->p = pcap_fopen_offline(fp, ebuf);
	if (!c->p) {
		/* libpcap's reasons, in the user's words */
		const char *why = ebuf;

		if (strstr(ebuf, "unknown file format"))
			why = c->z ? "compressed, but not a pcap or pcapng "
				     "capture file"
				   : "not a pcap or pcapng capture file";
		else if (strstr(ebuf, "truncated"))
			why = "truncated capture file (incomplete header)";
		if (compressed_failure(c, fp))
			why = compressed_failure(c, fp);
		snprintf(err, CAP_ERRBUF, "%s: %s", path, why);
		close_input(fp); /* and c->z with it */
		c->z = NULL;
		return -1;
	}
	return 0;
}

struct cap *cap_open(const struct cap_options *o, char *err)
{
	struct cap *c = xcalloc(1, sizeof(*c));
	uint8_t head[DECOMP_MAGIC_LEN];
	size_t n = 0;

	c->count = o->count;
	c->in_fd = -1;
	c->name = o->iface ? o->iface : o->file;
	c->quiet = o->quiet;
	c->last_ts = -1;
	c->filter = full_filter(o->filter, o->ports_filter);
	if (c->filter)
		c->expr = xstrndup(o->filter, strlen(o->filter));
	if (o->iface) {
		c->p = open_live(o, err);
		c->live = 1;
		if (!c->p)
			goto fail;
	} else {
		FILE *fp = o->fp ? peek_input(o->fp, o->file, head, &n, err)
				 : open_input(o->file, head, &n, err);

		if (fp) {
			struct stat sb;

			c->in_fd = fileno(fp);
			if (c->in_fd >= 0 && !fstat(c->in_fd, &sb) &&
			    S_ISREG(sb.st_mode))
				c->in_size = (uint64_t)sb.st_size;
			fp = open_compressed(c, fp, o->file, head, &n, err);
		}
		if (!fp)
			goto fail;
		if (n == 4 && !memcmp(head, "\x0A\x0D\x0D\x0A", 4)) {
			c->fp = fp;
			if (open_pcapng(c, o->file, err) < 0)
				goto fail;
			return c;
		}
		if (open_classic(c, fp, o->file, err) < 0)
			goto fail;
	}
	c->dlt = pcap_datalink(c->p);
	if (!dlt_supported(c->dlt)) {
		snprintf(err, CAP_ERRBUF, "%s: unsupported link type %s (%d)",
			 o->iface ? o->iface : o->file, dlt_name(c->dlt),
			 c->dlt);
		goto fail;
	}
	if (set_filter(c, err) < 0)
		goto fail;
	return c;
fail:
	cap_close(c);
	return NULL;
}

/* A reader's failure, or the decompressor's under it, after the packets. */
static int reader_error(struct cap *c, FILE *fp, int truncated, const char *why,
			char *err)
{
	const char *zwhy = compressed_failure(c, fp);

	if (zwhy) {
		why = zwhy;
		truncated = decomp_truncated(c->z);
	}
	c->st.truncated = truncated;
	snprintf(err, CAP_ERRBUF, "%s after packet %llu: %s",
		 truncated ? "capture file truncated" : "read error",
		 (unsigned long long)c->st.packets, why);
	return -1;
}

static int run_pcapng(struct cap *c, char *err)
{
	char why[PCAPNG_ERRBUF];
	struct pcapng_pkt pk;
	enum pcapng_status st;
	struct cap_lt *l;
	long i;

	while (!c->stop && !(c->count && c->st.packets >= c->count)) {
		st = pcapng_next(c->ng, &pk, why);
		if (st == PCAPNG_END)
			break;
		if (st < 0)
			return reader_error(c, c->fp, st == PCAPNG_TRUNCATED,
					    why, err);
		i = lt_index(c, pk.linktype, err);
		if (i < 0)
			return -1;
		l = &c->lts[i];
		if (l->filtered) {
			struct pcap_pkthdr h = {.caplen = pk.caplen,
						.len = pk.len};

			h.ts.tv_sec = (time_t)(pk.ts / 1000000);
			h.ts.tv_usec = (suseconds_t)(pk.ts % 1000000);
			if (!pcap_offline_filter(&l->prog, &h, pk.data))
				continue;
		}
		/* out of range: pcapng saturates what would overflow */
		deliver(c, l->dlt, pk.data, pk.caplen, pk.len, pk.ts, 1);
	}
	return 0;
}

static int read_error(struct cap *c, char *err)
{
	const char *why = pcap_geterr(c->p);

	return reader_error(c, c->live ? NULL : pcap_file(c->p),
			    strstr(why, "truncated") != NULL, why, err);
}

static int64_t wall_clock(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/*
 * Live: non-blocking reads, and poll() on the descriptor with a timeout,
 * so that the idle callback runs at least every CAP_IDLE_MS even when no
 * packet comes (signals, timeouts, flushing). Immediate mode keeps
 * libpcap on TPACKET_V2: a packet wakes poll() at once, where a V3 block
 * would be handed over only when full or at its timeout.
 */
static int run_live(struct cap *c, char *err)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pollfd pfd = {.events = POLLIN};
	int64_t now, last_idle = wall_clock();
	int n, rc;

	pfd.fd = pcap_get_selectable_fd(c->p);
	if (pfd.fd >= 0 && pcap_setnonblock(c->p, 1, ebuf) < 0)
		pfd.fd = -1; /* blocking reads, ended by the 100 ms timeout */
	while (!c->stop) {
		n = pcap_dispatch(c->p, -1, handler, (u_char *)c);
		if (n == PCAP_ERROR_BREAK)
			break;
		if (n < 0)
			return read_error(c, err);
		if (n > 0 && pfd.fd >= 0)
			continue; /* the ring may hold more */
		rc = pfd.fd >= 0 ? poll(&pfd, 1, CAP_IDLE_MS) : 0;
		if (rc < 0 && errno != EINTR) {
			snprintf(err, CAP_ERRBUF, "poll: %s", strerror(errno));
			return -1;
		}
		/* not at every wake-up of a busy link: it flushes outputs */
		now = wall_clock();
		if (c->idle && !c->stop &&
		    (rc <= 0 || now - last_idle >= CAP_IDLE_MS * 1000)) {
			c->idle(c->user, now);
			last_idle = now;
		}
	}
	if (c->count && c->st.packets >= c->count)
		return 0;
	/* stopped by a signal: what the kernel holds was captured */
	pcap_setnonblock(c->p, 1, ebuf);
	for (n = 0;
	     n < 1000 && pcap_dispatch(c->p, -1, handler, (u_char *)c) > 0; n++)
		;
	return 0;
}

int cap_run(struct cap *c, cap_ip_fn fn, cap_idle_fn idle, void *user,
	    char *err)
{
	int rc;

	c->fn = fn;
	c->idle = idle;
	c->user = user;
	if (c->ng)
		return run_pcapng(c, err);
	if (c->live)
		return run_live(c, err);
	rc = pcap_loop(c->p, -1, handler, (u_char *)c);
	if (rc == PCAP_ERROR)
		return read_error(c, err);
	return 0;
}

bool cap_progress(const struct cap *c, uint64_t *pos, uint64_t *size)
{
	off_t at;

	if (!c || c->in_fd < 0)
		return false;
	at = lseek(c->in_fd, 0, SEEK_CUR);
	*pos = at < 0 ? 0 : (uint64_t)at;
	*size = c->in_size;
	return true;
}

void cap_break(struct cap *c)
{
	c->stop = 1;
	if (c->p)
		pcap_breakloop(c->p);
}

void cap_get_stats(struct cap *c, struct cap_stats *st)
{
	struct pcap_stat ps;

	if (c->live && pcap_stats(c->p, &ps) == 0) {
		c->st.kernel_recv = ps.ps_recv;
		c->st.kernel_drop = ps.ps_drop;
		c->st.if_drop = ps.ps_ifdrop;
	}
	*st = c->st;
}

void cap_close(struct cap *c)
{
	size_t i;

	if (!c)
		return;
	/* the decompressing stream first: it reads from c->raw */
	if (c->p)
		pcap_close(c->p);
	pcapng_free(c->ng);
	close_input(c->fp);
	close_input(c->raw);
	for (i = 0; i < c->nlts; i++)
		if (c->lts[i].filtered)
			pcap_freecode(&c->lts[i].prog);
	free(c->lts);
	free(c->filter);
	free(c->expr);
	free(c);
}

int cap_list_interfaces(char *err)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_if_t *all, *d;
	int i = 0;

	if (pcap_findalldevs(&all, ebuf) < 0) {
		snprintf(err, CAP_ERRBUF, "cannot list interfaces: %s", ebuf);
		return -1;
	}
	for (d = all; d; d = d->next)
		printf("%d.%s%s%s%s\n", ++i, d->name,
		       d->description ? " (" : "",
		       d->description ? d->description : "",
		       d->description ? ")" : "");
	pcap_freealldevs(all);
	return 0;
}
