/* SPDX-License-Identifier: GPL-2.0-or-later */
/* reassembly.c - libnids glue: one decoder session per TCP connection. */
#include "reassembly.h"

#include <nids.h>
#include <pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "detect.h"
#include "ip6map.h"
#include "util.h"

/*
 * libnids 1.26's private struct skbuff (tcp.h), one out-of-order segment
 * of half_stream.list, sorted by seq. Why a mirror: libnids never hands
 * out the segments it holds beyond a hole, and nids.h does not declare
 * their type; reading the queue when a connection ends is the only way to
 * report that hole (a gap) and deliver what follows it. The layout (48
 * bytes: seq at 40, fin at 36) was checked against tcp_queue() in Debian
 * 12's libnids.a; another libnids must be checked again before it builds.
 */
#if NIDS_MAJOR != 1 || NIDS_MINOR != 26
#error "struct nids_skbuff mirrors libnids 1.26's struct skbuff: check it"
#endif
struct nids_skbuff {
	struct nids_skbuff *next;
	struct nids_skbuff *prev;
	void *data;
	u_int len;
	u_int truesize;
	u_int urg_ptr;
	char fin;
	char urg;
	u_int seq;
	u_int ack;
};

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof(struct nids_skbuff) == 48 &&
		   offsetof(struct nids_skbuff, fin) == 36 &&
		   offsetof(struct nids_skbuff, seq) == 40,
	       "struct nids_skbuff: not libnids 1.26's layout");
#endif

/* libnids' own half_stream states (tcp.h), next to <netinet/tcp.h>'s. */
#define NIDS_FIN_SENT	   120
#define NIDS_FIN_CONFIRMED 121

/* How far ahead of the in-order data a segment may start (16 MiB). */
#define RS_WINDOW ((uint32_t)RS_WIN_MAX << RS_WSCALE)
/* Larger holes are implausible even when an ACK proves them. */
#define RS_HOLE_MAX (1u << 30)

#define RS_QUEUE_MAX   65535	   /* libnids prunes a queue beyond this */
#define RS_FILL_SEG    65000	   /* filler bytes per synthetic segment */
#define RS_WIN_MAX     65535	   /* window of synthetic packets... */
#define RS_WSCALE      8	   /* ...scaled by 2^8 */
#define RS_STALL_US    10000000	   /* a queue older than this: a hole */
#define RS_TOMBS       4096	   /* recently ended flows remembered */
#define RS_TOMB_US     60000000	   /* ... for this long without packets */
#define RS_CACHE       8192	   /* streams of sessions, by flow hash */
#define RS_GUESS_SHIFT 0x40000000u /* an unknown ISN, far from the known */
/*
 * --memcap's estimate (docs/reassembly.md): a session costs this much
 * beyond libnids' buffers and queues, which are counted as they are; a
 * half-open connection this much.
 */
#define RS_SESSION_COST 4096
#define RS_HALF_COST	512
#define RS_ALERT_US	60000000 /* one memcap_reached alert a minute */

/* A hole being filled: the next left bytes from offset at are filler. */
struct rs_hole {
	uint32_t at, left, len;
	bool reported;
};

/*
 * One connection we follow: an SMTP one (the event flow and its decoder),
 * or one being looked at (det) before it has a decoder. Index: libnids'
 * side (client: the SYN's sender), an smtp_dir once swap is applied.
 */
struct rs_session {
	struct ev_flow flow; /* set up with smtp */
	struct smtp_session *smtp;
	struct det *det; /* the first bytes, while undecided (detect.c) */
	bool listed;	 /* on an SMTP port (--ports): SMTP from the start */
	bool looked;	 /* its first bytes went by */
	bool swap;	 /* the SMTP client is libnids' server */
	bool dropped;	 /* not SMTP: nothing more is decoded */
	bool midstream;	 /* its SYN was synthesised */
	int64_t ts_start;
	struct tcp_stream *t;
	struct rs_session *prev, *next; /* open sessions, idle longest first */
	int64_t last;			/* packet time of its last data */
	struct rs_hole hole[2];
	int64_t stall[2];     /* packet time the queue was first seen; 0 */
	bool seen[2];	      /* a real packet of that side went by */
	bool guess[2];	      /* that side's sequence numbers are a guess */
	bool unseen_acked[2]; /* its data was acked but never captured */
	uint64_t qmem;	      /* libnids' buffers and queues, last counted */
};

/*
 * A connection libnids holds without a session: SYN seen, not established.
 * Kept oldest first; an entry whose stream was established or freed
 * meanwhile is stale, and dropped when met.
 */
struct rs_half {
	struct tuple4 addr;
	uint32_t isn; /* client.first_data_seq: tells a reused slot apart */
	struct tcp_stream *t;
};

/* A flow that ended: its late packets must not start a new session. */
struct rs_tomb {
	uint32_t a1, a2; /* endpoints in a fixed order */
	uint16_t p1, p2;
	int64_t ts;
};

/* A TCP packet as read before libnids sees it. */
struct rs_pkt {
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint32_t dlen;	  /* payload bytes */
	uint32_t iplen;	  /* IP total length */
	bool from_client; /* our orientation: the server has the SMTP port */
};

/* libnids is global state, so its glue is too; confined to this file. */
static struct {
	struct rs_options opt;
	struct ev_ctx *ctx;
	pcap_t *dead; /* a DLT_RAW handle: libnids sees bare IP */
	int64_t ts;   /* time of the packet being processed */
	enum smtp_close exit_reason;
	/* open sessions by last activity: the head has been idle longest */
	struct rs_session *head, *tail;
	int64_t last_sweep;
	struct rs_stats st;
	/* half-open connections: a ring, oldest first, with stale entries */
	struct rs_half *half;
	size_t half_cap, half_first, half_len;
	uint64_t n_half; /* alive (an upper bound; exact after compaction) */
	uint64_t mem;	 /* estimated bytes of sessions (half-open apart) */
	/* the packet being processed: its session, a half-open it may free,
	 * a stream it may create */
	struct rs_session *cur;
	struct tcp_stream *half_t;
	/* a connection found not SMTP by this packet: freed after it */
	struct tcp_stream *drop_t;
	struct tuple4 drop_addr;
	struct tuple4 half_addr, born_addr;
	uint32_t half_isn;
	bool born;
	bool alerted;
	int64_t alert_ts;  /* time of the last memcap_reached alert */
	struct ip6map *v6; /* IPv6 flows, translated for libnids */
	bool midstream;	   /* the handshake being synthesised lacks a SYN */
	int64_t nids_ts;   /* time of the last packet libnids saw, or -1 */
	struct pcap_pkthdr synh; /* header of synthetic packets */
	struct rs_tomb tombs[RS_TOMBS];
	/* libnids' own lookup (mkhash) is slow: a cache for sessions */
	struct tcp_stream *cache[RS_CACHE];
	uint8_t v6buf[65536];
	uint8_t synbuf[65536];
} rs;

static int smtp_port(uint16_t port)
{
	size_t i;

	for (i = 0; i < rs.opt.n_ports; i++)
		if (rs.opt.ports[i] == port)
			return 1;
	return 0;
}

/*
 * Packet time from then to now, 0 if now is earlier. The clock never goes
 * back (rs_packet), but a wild time must not overflow a subtraction.
 */
static int64_t since(int64_t now, int64_t then)
{
	int64_t d;

	if (now <= then)
		return 0;
	return __builtin_sub_overflow(now, then, &d) ? INT64_MAX : d;
}

/* Sequence number order, modulo 2^32 (RFC 9293 3.4). */
static bool before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool after(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) < 0;
}

/* The half that sends dir's data, and the half that receives it. */
static struct half_stream *snd_half(struct tcp_stream *t, int dir)
{
	return dir == SMTP_FROM_CLIENT ? &t->client : &t->server;
}

static struct half_stream *rcv_half(struct tcp_stream *t, int dir)
{
	return dir == SMTP_FROM_CLIENT ? &t->server : &t->client;
}

/* The next byte of dir that libnids expects (its EXP_SEQ). */
static uint32_t next_seq(struct tcp_stream *t, int dir)
{
	struct half_stream *r = rcv_half(t, dir);

	return snd_half(t, dir)->first_data_seq + (uint32_t)r->count +
	       (uint32_t)r->urg_count;
}

static struct nids_skbuff *queue(struct half_stream *h)
{
	return (struct nids_skbuff *)h->list;
}

/* A hash of a flow that does not depend on its direction. */
static uint32_t flow_hash(uint32_t a, uint16_t pa, uint32_t b, uint16_t pb)
{
	uint32_t h = (a ^ b) * 2654435761u ^ (uint32_t)(pa ^ pb) * 2246822519u;

	return h ^ h >> 15;
}

/* ---- recently ended flows ---- */

static struct rs_tomb tomb_key(uint32_t a, uint16_t pa, uint32_t b, uint16_t pb)
{
	struct rs_tomb k = {0};

	if (a < b || (a == b && pa < pb)) {
		k.a1 = a, k.p1 = pa, k.a2 = b, k.p2 = pb;
	} else {
		k.a1 = b, k.p1 = pb, k.a2 = a, k.p2 = pa;
	}
	return k;
}

static struct rs_tomb *tomb_slot(const struct rs_tomb *k)
{
	return &rs.tombs[flow_hash(k->a1, k->p1, k->a2, k->p2) &
			 (RS_TOMBS - 1)];
}

static bool tomb_same(const struct rs_tomb *a, const struct rs_tomb *b)
{
	return a->a1 == b->a1 && a->a2 == b->a2 && a->p1 == b->p1 &&
	       a->p2 == b->p2;
}

static void tomb_add(const struct tuple4 *a)
{
	struct rs_tomb k = tomb_key(a->saddr, a->source, a->daddr, a->dest);

	k.ts = rs.ts;
	*tomb_slot(&k) = k;
}

/* Is the flow a recent tombstone? A hit is refreshed; forget drops it. */
static bool tomb_hit(const struct rs_pkt *p, bool forget)
{
	struct rs_tomb k = tomb_key(p->saddr, p->sport, p->daddr, p->dport);
	struct rs_tomb *t = tomb_slot(&k);

	if (!t->ts || !tomb_same(t, &k))
		return false;
	if (forget || since(rs.ts, t->ts) > RS_TOMB_US) {
		t->ts = 0;
		return false;
	}
	t->ts = rs.ts;
	return true;
}

/* ---- sessions ---- */

/*
 * Open sessions are kept in order of last activity (packet time never
 * goes back): the idle sweep and eviction take them from the head.
 */
static void lru_unlink(struct rs_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		rs.head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		rs.tail = s->prev;
	s->prev = s->next = NULL;
}

static void lru_append(struct rs_session *s)
{
	s->prev = rs.tail;
	s->next = NULL;
	if (rs.tail)
		rs.tail->next = s;
	else
		rs.head = s;
	rs.tail = s;
}

/* s just sent data: it becomes the most recently active. */
static void touch(struct rs_session *s)
{
	s->last = rs.ts;
	if (s != rs.tail) {
		lru_unlink(s);
		lru_append(s);
	}
}

static void session_end(struct tcp_stream *t, enum smtp_close reason)
{
	struct rs_session *s = t->user;
	struct tcp_stream **c;

	if (!s)
		return;
	c = &rs.cache[flow_hash(t->addr.saddr, t->addr.source, t->addr.daddr,
				t->addr.dest) &
		      (RS_CACHE - 1)];
	if (*c == t)
		*c = NULL;
	lru_unlink(s);
	if (rs.cur == s)
		rs.cur = NULL;
	rs.mem -= RS_SESSION_COST + s->qmem;
	if (s->det) {
		free(s->det);
		rs.mem -= sizeof(struct det);
	}
	if (s->smtp) {
		smtp_end(s->smtp, reason, rs.ts);
		smtp_session_free(s->smtp);
		ev_flow_free(&s->flow);
	}
	free(s);
	t->user = NULL;
	rs.st.open--;
}

/* The event flow of a connection (IPv6 ones are mapped for libnids). */
static void flow_init(struct ev_flow *f, const struct tuple4 *a,
		      uint64_t session, int64_t ts)
{
	uint32_t caddr = a->saddr, saddr = a->daddr;
	uint8_t c6[16], s6[16];

	if (ip6map_lookup(rs.v6, ntohl(caddr), c6) &&
	    ip6map_lookup(rs.v6, ntohl(saddr), s6))
		ev_flow_init(f, rs.ctx, session, AF_INET6, c6, s6, a->source,
			     a->dest, ts);
	else
		ev_flow_init(f, rs.ctx, session, AF_INET,
			     (const uint8_t *)&caddr, (const uint8_t *)&saddr,
			     a->source, a->dest, ts);
}

/* The decoder of s, whose SMTP client is libnids' side client. */
static void smtp_start(struct rs_session *s, int client)
{
	struct tuple4 a = s->t->addr;
	struct smtp_options so = rs.opt.smtp;

	s->swap = client != SMTP_FROM_CLIENT;
	if (s->swap)
		a = (struct tuple4){a.dest, a.source, a.daddr, a.saddr};
	rs.st.sessions++;
	flow_init(&s->flow, &a, rs.st.sessions, s->ts_start);
	so.implicit_tls = s->listed && a.dest == rs.opt.tls_port;
	so.ts_start = s->ts_start;
	so.midstream = s->midstream;
	s->smtp = smtp_session_new(&ev_smtp_callbacks, &s->flow, &so);
}

/* listed: on an SMTP port, decoded from the start; else looked at first. */
static void session_start(struct tcp_stream *t, bool listed)
{
	struct rs_session *s = xcalloc(1, sizeof(*s));

	rs.st.open++;
	rs.mem += RS_SESSION_COST;
	s->t = t;
	s->last = rs.ts;
	s->ts_start = rs.ts;
	s->midstream = rs.midstream;
	s->listed = listed;
	lru_append(s);
	t->user = s;
	t->client.collect++;
	t->server.collect++;
	if (listed)
		smtp_start(s, SMTP_FROM_CLIENT);
}

static struct det *det_new(bool listed)
{
	struct det *d = xmalloc(sizeof(*d));

	det_init(d, listed, SMTP_FROM_CLIENT);
	rs.mem += sizeof(*d);
	return d;
}

static void det_free(struct rs_session *s)
{
	free(s->det);
	s->det = NULL;
	rs.mem -= sizeof(struct det);
}

/*
 * Not SMTP: nothing more is decoded. A connection under detection is
 * forgotten once the packet at hand is done (drop_pending): libnids stops
 * collecting it, and its late packets meet a tombstone. One on an SMTP
 * port whose tunnel handshake failed keeps its (silent) session.
 */
static void drop(struct rs_session *s)
{
	if (s->det)
		det_free(s);
	s->dropped = true;
	if (s->listed)
		return;
	rs.st.detect_not_smtp++;
	rs.drop_t = s->t;
	rs.drop_addr = s->t->addr;
}

/* Bytes held while undecided, to the decoder with their packet's number. */
static void replay_one(void *user, int side, const uint8_t *p, size_t n,
		       int64_t ts, uint64_t pkt)
{
	struct rs_session *s = user;
	uint64_t now = rs.ctx->pcap_cnt;

	rs.ctx->pcap_cnt = pkt;
	smtp_feed(s->smtp, side ^ s->swap, p, n, ts);
	rs.ctx->pcap_cnt = now;
}

/*
 * What the first bytes said. SMTP: the decoder gets every byte looked at,
 * in order, a tunnel handshake left out, then the rest of p (dir's).
 */
static void decide(struct rs_session *s, enum det_verdict v, int dir,
		   const uint8_t *p, size_t n)
{
	struct det *d = s->det;

	if (v == DET_MORE)
		return;
	if (v == DET_NOT_SMTP) {
		drop(s);
		return;
	}
	if (!s->smtp) {
		smtp_start(s, d->client >= 0 ? d->client : SMTP_FROM_CLIENT);
		rs.st.detect_smtp++;
	}
	if (d->tunnel != DET_TUNNEL_NONE) {
		s->flow.tunnel = det_tunnel_str(d->tunnel);
		memcpy(s->flow.tunnel_target, d->target,
		       sizeof(s->flow.tunnel_target));
		rs.st.tunnels++;
	}
	det_replay(d, replay_one, s);
	if (p && d->kept < n)
		smtp_feed(s->smtp, dir ^ s->swap, p + d->kept, n - d->kept,
			  rs.ts);
	det_free(s);
}

/*
 * In-order bytes of libnids' side dir. A connection on an SMTP port whose
 * client speaks first with what may start a tunnel handshake is looked at
 * until the handshake is over; one under detection, until it is told SMTP
 * or not.
 */
static void dfeed(struct rs_session *s, int dir, const uint8_t *p, size_t n)
{
	if (!n || s->dropped)
		return;
	if (!s->looked) {
		s->looked = true;
		if (!s->listed) {
			s->det = det_new(false);
			rs.st.detect_examined++;
		} else if (dir == SMTP_FROM_CLIENT && det_tunnel_start(p[0]) &&
			   s->t->addr.dest != rs.opt.tls_port) {
			s->det = det_new(true);
		}
	}
	if (!s->det) {
		smtp_feed(s->smtp, dir ^ s->swap, p, n, rs.ts);
		return;
	}
	decide(s, det_push(s->det, dir, p, n, rs.ts, rs.ctx->pcap_cnt), dir, p,
	       n);
}

/* A hole in dir: one seen while undecided decides. */
static void dgap(struct rs_session *s, int dir, uint32_t len)
{
	if (s->dropped)
		return;
	s->looked = true;
	if (s->det)
		decide(s, det_give_up(s->det), dir, NULL, 0);
	else if (!s->smtp)
		drop(s); /* under detection, a hole before any byte */
	if (s->smtp && !s->dropped)
		smtp_gap(s->smtp, dir ^ s->swap, len, rs.ts);
}

/* The connection found not SMTP by this packet: free it in libnids. */
static void drop_pending(void)
{
	struct tcp_stream *t = rs.drop_t;
	struct rs_session *s;

	rs.drop_t = NULL;
	if (!t || nids_find_tcp_stream(&rs.drop_addr) != t || !(s = t->user) ||
	    !s->dropped)
		return;
	session_end(t, SMTP_CLOSE_FIN); /* no decoder: no event */
	tomb_add(&rs.drop_addr);
	nids_free_tcp_stream(t);
}

/*
 * Bytes libnids delivered for dir, covering stream offsets [start, start +
 * n). A filler we injected is skipped, and the decoder told of the hole at
 * its place: bytes before it, smtp_gap(), bytes after it.
 */
static void feed(struct rs_session *s, int dir, const uint8_t *p, uint32_t n,
		 uint32_t start)
{
	struct rs_hole *h = &s->hole[dir];

	if (h->left && n) {
		uint32_t k = h->at - start;

		if ((int32_t)k > 0) {
			k = k < n ? k : n;
			dfeed(s, dir, p, k);
			p += k, n -= k, start += k;
		}
		if (n && start == h->at) {
			if (!h->reported)
				dgap(s, dir, h->len);
			h->reported = true;
			k = h->left < n ? h->left : n;
			p += k, n -= k;
			h->left -= k;
			h->at += k;
		}
	}
	if (n)
		dfeed(s, dir, p, n);
}

/* Hand over what libnids has; server.count_new is data sent by the client. */
static void deliver(struct tcp_stream *t)
{
	struct rs_session *s = t->user;
	struct half_stream *h;

	if (!s)
		return;
	touch(s);
	h = &t->server;
	if (h->count_new)
		feed(s, SMTP_FROM_CLIENT, (const uint8_t *)h->data,
		     (uint32_t)h->count_new,
		     (uint32_t)h->count - (uint32_t)h->count_new);
	h = &t->client;
	if (h->count_new)
		feed(s, SMTP_FROM_SERVER, (const uint8_t *)h->data,
		     (uint32_t)h->count_new,
		     (uint32_t)h->count - (uint32_t)h->count_new);
}

/*
 * The connection ends with segments still queued behind a hole: read them
 * from libnids' queue (no packets can be fed now). True if there was a
 * hole.
 */
static bool drain(struct tcp_stream *t, int dir)
{
	struct rs_session *s = t->user;
	struct nids_skbuff *q;
	uint32_t exp = next_seq(t, dir);
	bool gap = false;

	for (q = queue(rcv_half(t, dir)); q; q = q->next) {
		uint32_t end = q->seq + q->len;

		if (after(q->seq, exp)) {
			if (q->seq - exp > RS_WINDOW)
				break;
			dgap(s, dir, q->seq - exp);
			rs.st.gaps++;
			rs.st.gap_bytes += q->seq - exp;
			exp = q->seq;
			gap = true;
		}
		if (after(end, exp)) {
			dfeed(s, dir, (const uint8_t *)q->data + (exp - q->seq),
			      end - exp);
			exp = end;
		}
	}
	return gap;
}

/* Deliver, empty the queues, end: a stall at the end closes with "gap". */
static void finish(struct tcp_stream *t, enum smtp_close reason)
{
	struct rs_session *s = t->user;
	bool gap;

	if (!s)
		return;
	deliver(t);
	gap = drain(t, SMTP_FROM_CLIENT);
	gap |= drain(t, SMTP_FROM_SERVER);
	/* still undecided at its end: SMTP only on an SMTP port */
	if (s->det && s->listed) {
		decide(s, det_give_up(s->det), SMTP_FROM_CLIENT, NULL, 0);
	} else if (s->det) {
		det_free(s);
		s->dropped = true;
		rs.st.detect_undecided++;
	}
	if (gap && (reason == SMTP_CLOSE_EOF || reason == SMTP_CLOSE_TIMEOUT ||
		    reason == SMTP_CLOSE_SHUTDOWN))
		reason = SMTP_CLOSE_GAP;
	session_end(t, reason);
}

static void tcp_callback(struct tcp_stream *t, void **param)
{
	(void)param;
	switch (t->nids_state) {
	case NIDS_JUST_EST:
		/* no longer half-open */
		if (rs.n_half)
			rs.n_half--;
		if (rs.half_t == t)
			rs.half_t = NULL;
		if (smtp_port(t->addr.dest))
			session_start(t, true);
		else if (rs.opt.detect)
			session_start(t, false);
		else
			tomb_add(&t->addr);
		break;
	case NIDS_DATA:
		deliver(t);
		break;
	case NIDS_CLOSE:
		finish(t, SMTP_CLOSE_FIN);
		tomb_add(&t->addr);
		break;
	case NIDS_RESET:
		finish(t, SMTP_CLOSE_RESET);
		tomb_add(&t->addr);
		break;
	case NIDS_TIMED_OUT:
		finish(t, SMTP_CLOSE_TIMEOUT);
		break;
	case NIDS_EXITING:
		finish(t, rs.exit_reason);
		break;
	default:
		break;
	}
}

/* libnids reports bad packets and queue overflows here: count them. */
static void nids_log(int type, int err, struct ip *iph, void *data)
{
	(void)err;
	(void)iph;
	(void)data;
	if (type == NIDS_WARN_TCP)
		rs.st.nids_tcp++;
	else
		rs.st.nids_ip++;
}

/* ---- limits: --max-sessions and --memcap (docs/reassembly.md) ---- */

static uint64_t mem_used(void)
{
	return rs.mem + rs.n_half * RS_HALF_COST;
}

/*
 * What s holds beyond the fixed estimate: libnids' buffers and queues,
 * the decoder's (smtp_mem).
 */
static void account(struct rs_session *s)
{
	struct tcp_stream *t = s->t;
	uint64_t q = (uint64_t)t->client.bufsize + (uint64_t)t->server.bufsize +
		     (uint64_t)t->client.rmem_alloc +
		     (uint64_t)t->server.rmem_alloc;

	if (s->smtp) /* the decoder's buffers, queue and transactions */
		q += smtp_mem(s->smtp);

	rs.mem = rs.mem - s->qmem + q;
	s->qmem = q;
}

/* Is the connection of entry h still half-open in libnids? */
static bool half_alive(const struct rs_half *h)
{
	struct tuple4 a = h->addr;
	struct tcp_stream *t = nids_find_tcp_stream(&a);

	return t && t == h->t && !t->user && t->client.state == TCP_SYN_SENT &&
	       t->client.first_data_seq == h->isn;
}

/* Drop the stale entries (amortised: when most of the ring is stale). */
static void half_compact(void)
{
	size_t i, n = 0;

	for (i = 0; i < rs.half_len; i++) {
		struct rs_half h = rs.half[(rs.half_first + i) % rs.half_cap];

		if (half_alive(&h))
			rs.half[n++] = h;
	}
	rs.half_first = 0;
	rs.half_len = n;
	rs.n_half = n;
}

/* The stream a just became known to libnids: half-open, if it is. */
static void half_born(struct tuple4 *a)
{
	struct tcp_stream *t = nids_find_tcp_stream(a);
	struct rs_half *h;

	if (!t || t->user || t->client.state != TCP_SYN_SENT)
		return;
	if (rs.half_len > 2 * rs.n_half + 64)
		half_compact();
	if (rs.half_len == rs.half_cap) {
		size_t i, cap = rs.half_cap ? 2 * rs.half_cap : 64;
		struct rs_half *n = xcalloc(cap, sizeof(*n));

		for (i = 0; i < rs.half_len; i++)
			n[i] = rs.half[(rs.half_first + i) % rs.half_cap];
		free(rs.half);
		rs.half = n;
		rs.half_cap = cap;
		rs.half_first = 0;
	}
	h = &rs.half[(rs.half_first + rs.half_len++) % rs.half_cap];
	h->addr = t->addr;
	h->isn = t->client.first_data_seq;
	h->t = t;
	rs.n_half++;
}

/* The oldest half-open connection, taken off the ring; NULL if none. */
static struct tcp_stream *half_pop(struct tuple4 *a)
{
	while (rs.half_len) {
		struct rs_half *h = &rs.half[rs.half_first];

		rs.half_first = (rs.half_first + 1) % rs.half_cap;
		rs.half_len--;
		if (half_alive(h)) {
			if (rs.n_half)
				rs.n_half--;
			*a = h->addr;
			return h->t;
		}
	}
	rs.n_half = 0;
	return NULL;
}

/* End session s as evicted; its late packets start no phantom session. */
static void evict(struct rs_session *s)
{
	struct tcp_stream *t = s->t;

	tomb_add(&t->addr);
	finish(t, SMTP_CLOSE_EVICTED);
	nids_free_tcp_stream(t);
}

/* One memcap_reached alert a minute, on the connection shed first. */
static void memcap_alert(struct ev_flow *f, const struct tuple4 *a)
{
	struct ev_flow tmp;
	struct smtp_alert al = {.kind = SMTP_ALERT_MEMCAP_REACHED, .ts = rs.ts};
	char detail[200];

	if (rs.alerted && since(rs.ts, rs.alert_ts) < RS_ALERT_US)
		return;
	rs.alerted = true;
	rs.alert_ts = rs.ts;
	snprintf(detail, sizeof(detail),
		 "memcap %llu bytes reached: %llu in use by %llu sessions and "
		 "%llu half-open connections",
		 (unsigned long long)rs.opt.memcap,
		 (unsigned long long)mem_used(), (unsigned long long)rs.st.open,
		 (unsigned long long)rs.n_half);
	al.detail = detail;
	if (f) {
		ev_smtp_callbacks.alert(f, &al);
		return;
	}
	flow_init(&tmp, a, 0, rs.ts); /* no session yet: session 0 */
	ev_smtp_callbacks.alert(&tmp, &al);
	ev_flow_free(&tmp);
}

/*
 * Over --memcap: shed until the estimate is at most limit, half-open
 * connections first (oldest first), then the sessions idle longest; never
 * keep, the session of the packet at hand.
 */
static void shed(uint64_t limit, const struct rs_session *keep)
{
	while (mem_used() > limit) {
		uint64_t was = mem_used();
		struct rs_session *s;
		struct tuple4 a;
		struct tcp_stream *t;

		if (rs.half_len && (t = half_pop(&a))) {
			memcap_alert(NULL, &a);
			nids_free_tcp_stream(t);
			rs.st.memcap_half_open++;
		} else {
			s = rs.head == keep && keep ? keep->next : rs.head;
			if (!s)
				break;
			memcap_alert(s->smtp ? &s->flow : NULL, &s->t->addr);
			evict(s);
			rs.st.memcap_sessions++;
		}
		rs.st.memcap_bytes += was - mem_used();
	}
}

/*
 * A packet is about to create a libnids stream: make room for it, so
 * that --max-sessions counts every connection (half-open ones too) and
 * libnids' own eviction (oldest created, at 3/4 of its table) never runs.
 */
static void make_room(void)
{
	uint64_t max = (uint64_t)rs.opt.max_sessions;

	while (rs.st.open + rs.n_half >= max) {
		struct tuple4 a;
		struct tcp_stream *t = rs.half_len ? half_pop(&a) : NULL;

		if (t) {
			nids_free_tcp_stream(t);
			rs.st.evicted_half_open++;
		} else if (rs.head) {
			evict(rs.head);
			rs.st.evicted_sessions++;
		} else {
			rs.n_half = 0; /* an overcount: nothing is left */
			break;
		}
	}
	if (rs.opt.memcap)
		shed(rs.opt.memcap > RS_HALF_COST ? rs.opt.memcap - RS_HALF_COST
						  : 0,
		     NULL);
}

int rs_init(const struct rs_options *opt, struct ev_ctx *ctx, char *err)
{
	static struct nids_chksum_ctl nochk = {0, 0, NIDS_DONT_CHKSUM, 0};

	/* after rs_finish(), a fresh start (the capture fuzz target) */
	memset(&rs, 0, sizeof(rs));
	rs.opt = *opt;
	rs.ctx = ctx;
	rs.exit_reason = SMTP_CLOSE_EOF;
	rs.nids_ts = -1;
	rs.v6 = ip6map_new();
	rs.dead = pcap_open_dead(DLT_RAW, 262144);
	if (!rs.dead) {
		snprintf(err, 256, "libpcap: cannot create a raw handle");
		return -1;
	}
	nids_params.pcap_desc = rs.dead;
	nids_params.filename = NULL;
	nids_params.device = NULL;
	/*
	 * libnids evicts the oldest stream when it holds more than 3/4 of
	 * n_tcp_streams (tcp_init, add_new_tcp): a table this large never
	 * fills before make_room() has made room.
	 */
	nids_params.n_tcp_streams =
	    opt->max_sessions + opt->max_sessions / 3 + 16;
	nids_params.n_hosts = 256;
	nids_params.scan_num_hosts = 0; /* no port-scan detector */
	nids_params.tcp_workarounds = 1;
	/*
	 * No stream freed without a callback: past this timeout libnids
	 * frees a stream when its client sends a SYN again, and our session
	 * would leak (a TCP header we cannot read reaches it unchecked). A
	 * new ISN ends the session in new_syn(); the rest is ignored.
	 */
	nids_params.tcp_flow_timeout = 0;
	nids_params.syslog = nids_log;
	nids_params.pcap_filter = NULL;
	/* loopback and offloaded captures carry unverifiable checksums */
	nids_register_chksum_ctl(&nochk, 1);
	if (!nids_init()) {
		snprintf(err, 256, "libnids: %s", nids_errbuf);
		return -1;
	}
	nids_register_tcp(tcp_callback);
	return 0;
}

/* ---- synthetic packets ---- */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Feed libnids one IPv4 TCP packet of ours: addresses in network order,
 * len zero bytes of payload; SYNs carry the window scale option.
 */
static void inject(uint32_t saddr, uint16_t sport, uint32_t daddr,
		   uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
		   uint32_t len)
{
	uint8_t *ip = rs.synbuf, *tcp = ip + 20;
	size_t thl = flags & TH_SYN ? 24 : 20, total = 20 + thl + len;
	uint32_t s;

	memset(ip, 0, total);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)total);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	put16(ip + 10, fold(sum16(ip, 20, 0)));
	put16(tcp, sport);
	put16(tcp + 2, dport);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = (uint8_t)(thl / 4) << 4;
	tcp[13] = flags;
	put16(tcp + 14, RS_WIN_MAX);
	if (flags & TH_SYN) {
		tcp[20] = 1; /* NOP, then window scale (RFC 7323 2.2) */
		tcp[21] = 3;
		tcp[22] = 3;
		tcp[23] = RS_WSCALE;
	}
	/* the payload is zeros: header and pseudo-header make the sum */
	s = sum16(ip + 12, 8, IPPROTO_TCP + (uint32_t)(thl + len));
	put16(tcp + 16, fold(sum16(tcp, thl, s)));
	/*
	 * The time libnids already saw: a later one could fire its closing
	 * timeouts and free the stream we are working on.
	 */
	if (rs.nids_ts >= 0) {
		rs.synh.ts.tv_sec = rs.nids_ts / 1000000;
		rs.synh.ts.tv_usec = rs.nids_ts % 1000000;
	} else {
		rs.synh.ts.tv_sec = rs.ts / 1000000;
		rs.synh.ts.tv_usec = rs.ts % 1000000;
	}
	rs.synh.caplen = rs.synh.len = (bpf_u_int32)total;
	nids_pcap_handler(NULL, &rs.synh, ip);
}

/* A packet from side dir of stream t (libnids' orientation). */
static void inject_from(const struct tuple4 *a, int dir, uint32_t seq,
			uint32_t ack, uint8_t flags, uint32_t len)
{
	if (dir == SMTP_FROM_CLIENT)
		inject(a->saddr, a->source, a->daddr, a->dest, seq, ack, flags,
		       len);
	else
		inject(a->daddr, a->dest, a->saddr, a->source, seq, ack, flags,
		       len);
}

/*
 * Make libnids' window check accept [seq, seq + len) from dir: its
 * receiver's ack_seq moves up to what was delivered in order, and if that
 * is not enough the window opens to 65535 << 14. A filler also must not end
 * before ack_seq (the receiver acked bytes we never saw).
 */
static void accept_seg(struct tcp_stream *t, int dir, uint32_t seq,
		       uint32_t len, bool filler)
{
	struct half_stream *r = rcv_half(t, dir);
	uint32_t exp = next_seq(t, dir);

	if (filler && before(seq + len, r->ack_seq))
		r->ack_seq = seq;
	if (before(seq, r->ack_seq + (uint32_t)r->window * r->wscale))
		return;
	if (after(exp, r->ack_seq) && !after(exp, seq))
		r->ack_seq = exp;
	if (!before(seq, r->ack_seq + (uint32_t)r->window * r->wscale) &&
	    seq - r->ack_seq < RS_WINDOW) {
		r->window = RS_WIN_MAX;
		r->wscale = 1u << RS_WSCALE;
	}
	rs.st.windows++;
}

/*
 * Fill dir's hole from libnids' next expected byte up to end with filler
 * segments (no ACK flag: they confirm no FIN). libnids then drains what it
 * queued after the hole; feed() hides the filler from the decoder.
 */
static bool fill(struct tcp_stream *t, struct rs_session *s, int dir,
		 uint32_t end, uint32_t max)
{
	struct rs_hole *h = &s->hole[dir];
	struct tuple4 a = t->addr;
	uint32_t exp = next_seq(t, dir), len = end - exp;

	if (!after(end, exp) || len > max)
		return false;
	h->at = (uint32_t)rcv_half(t, dir)->count;
	h->left = h->len = len;
	h->reported = false;
	while (len) {
		uint32_t n = len < RS_FILL_SEG ? len : RS_FILL_SEG;

		accept_seg(t, dir, exp, n, true);
		inject_from(&a, dir, exp, 0, TH_PUSH, n);
		exp += n;
		len -= n;
	}
	s->stall[dir] = 0;
	if (h->left) { /* libnids did not take it */
		h->left = 0;
		rs.st.refused++;
		return false;
	}
	rs.st.gaps++;
	rs.st.gap_bytes += h->len;
	return true;
}

/* Fill every hole of dir that lies before limit. */
static void fill_before(struct tcp_stream *t, struct rs_session *s, int dir,
			uint32_t limit)
{
	struct half_stream *r = rcv_half(t, dir);

	while (after(limit, next_seq(t, dir))) {
		uint32_t end = limit;

		if (queue(r) && before(queue(r)->seq, end))
			end = queue(r)->seq;
		if (!fill(t, s, dir, end, RS_WINDOW))
			break;
	}
}

/* The next segments of a side whose numbers we guessed are now known. */
static void fix_guess(struct tcp_stream *t, struct rs_session *s, int dir,
		      uint32_t next)
{
	struct half_stream *r = rcv_half(t, dir), *o = snd_half(t, dir);

	s->guess[dir] = false;
	if (r->count || r->list)
		return;
	o->first_data_seq = next;
	o->seq = next;
	r->ack_seq = next;
}

/* The other side acknowledged up to ack of dir: bytes we never saw? */
static void ack_hole(struct tcp_stream *t, struct rs_session *s, int dir,
		     uint32_t ack)
{
	struct half_stream *o = snd_half(t, dir), *r = rcv_half(t, dir);
	uint32_t exp = next_seq(t, dir);

	if (!after(ack, exp))
		return;
	if (!s->seen[dir]) { /* a side we never see: one-sided capture */
		s->unseen_acked[dir] = true;
		return;
	}
	if (ack - exp > RS_HOLE_MAX)
		return;
	for (;;) {
		uint32_t end = ack;

		exp = next_seq(t, dir);
		if (o->state == NIDS_FIN_SENT || o->state == NIDS_FIN_CONFIRMED)
			end--; /* its FIN took one number */
		else if (!r->list && end - exp == 1)
			return; /* most likely a FIN we did not see */
		if (queue(r) && before(queue(r)->seq, end))
			end = queue(r)->seq;
		if (!after(end, exp) || !fill(t, s, dir, end, RS_HOLE_MAX))
			return;
	}
}

/* libnids' truesize of a queued packet (gen_ip_frag_proc). */
static uint32_t truesize(uint32_t iplen)
{
	int addon = nids_params.dev_addon > 0 ? nids_params.dev_addon : 0;

	return ((iplen + 16 + (uint32_t)addon + 15) & ~15u) +
	       (uint32_t)nids_params.sk_buff_size;
}

/* Checks on a packet of an established SMTP stream, before libnids. */
static void known_flow(struct tcp_stream *t, struct rs_session *s,
		       const struct rs_pkt *p, int dir)
{
	struct half_stream *r = rcv_half(t, dir);
	int d;

	rs.cur = s;
	if (p->flags & (TH_FIN | TH_RST) && s->smtp)
		smtp_closing(s->smtp, (enum smtp_dir)(dir ^ s->swap),
			     p->flags & TH_RST, rs.ts);
	if (!s->seen[dir]) {
		s->seen[dir] = true;
		if (s->guess[dir])
			fix_guess(t, s, dir, p->seq);
	}
	if (p->flags & TH_ACK) {
		if (s->guess[!dir])
			fix_guess(t, s, !dir, p->ack);
		ack_hole(t, s, !dir, p->ack);
	}
	/* queues that waited too long: what they wait for is not coming */
	for (d = 0; d < 2; d++) {
		if (!rcv_half(t, d)->list) {
			s->stall[d] = 0;
		} else if (!s->stall[d]) {
			s->stall[d] = rs.ts ? rs.ts : 1;
		} else if (since(rs.ts, s->stall[d]) > RS_STALL_US) {
			struct nids_skbuff *q = queue(rcv_half(t, d));

			while (q->next)
				q = q->next;
			fill_before(t, s, d, q->seq);
		}
	}
	if (p->flags & TH_RST)
		return; /* libnids' window check guards against blind resets */
	if (after(p->seq, next_seq(t, dir)) && (p->dlen || p->flags & TH_FIN)) {
		/* it would be queued */
		if (p->flags & TH_FIN)
			fill_before(t, s, dir, p->seq);
		while (r->list && (uint32_t)r->rmem_alloc + truesize(p->iplen) >
				      RS_QUEUE_MAX) {
			uint32_t end = queue(r)->seq;

			if (before(p->seq, end))
				end = p->seq;
			if (!fill(t, s, dir, end, RS_WINDOW))
				break;
		}
	}
	accept_seg(t, dir, p->seq, p->dlen, false);
}

/* The flow is not known to libnids: make it known if we can. */
static void unknown_flow(const struct rs_pkt *p, struct tuple4 *a)
{
	uint32_t c, sv;
	bool gc = false, gs = false;
	struct tcp_stream *t;
	struct rs_session *s;
	int dir = p->from_client ? SMTP_FROM_CLIENT : SMTP_FROM_SERVER;

	if (p->flags & TH_RST)
		return;
	if (p->flags & TH_SYN) {
		tomb_hit(p, true);
		if (!(p->flags & TH_ACK)) { /* libnids will create a stream */
			make_room();
			rs.born = true;
			rs.born_addr = (struct tuple4){p->sport, p->dport,
						       p->saddr, p->daddr};
		} else if (!p->from_client) {
			/* a SYN-ACK from the server: its SYN was lost */
			make_room();
			inject_from(a, SMTP_FROM_CLIENT, p->ack - 1, 0, TH_SYN,
				    0);
			half_born(a);
		}
		return;
	}
	if (!p->dlen || tomb_hit(p, false))
		return;
	make_room();
	if (p->from_client) {
		c = p->seq;
		sv = p->ack;
		gs = !(p->flags & TH_ACK);
		if (gs)
			sv = c + RS_GUESS_SHIFT;
	} else {
		sv = p->seq;
		c = p->ack;
		gc = !(p->flags & TH_ACK);
		if (gc)
			c = sv + RS_GUESS_SHIFT;
	}
	rs.midstream = true;
	inject_from(a, SMTP_FROM_CLIENT, c - 1, 0, TH_SYN, 0);
	half_born(a); /* until the handshake below establishes it */
	inject_from(a, SMTP_FROM_SERVER, sv - 1, c, TH_SYN | TH_ACK, 0);
	inject_from(a, SMTP_FROM_CLIENT, c, sv, TH_ACK, 0);
	rs.midstream = false;
	t = nids_find_tcp_stream(a);
	if (!t || !t->user) {
		rs.st.refused++;
		tomb_add(a);
		return;
	}
	rs.st.midstream++;
	s = t->user;
	s->guess[SMTP_FROM_CLIENT] = gc;
	s->guess[SMTP_FROM_SERVER] = gs;
	known_flow(t, s, p, dir);
}

/*
 * The SYN was seen, the SYN-ACK or the last ACK was not: synthesise them
 * unless the packet is the one libnids waits for. The stream, or NULL.
 */
static struct tcp_stream *handshake(struct tcp_stream *t,
				    const struct rs_pkt *p, bool from_client)
{
	struct tuple4 a = t->addr;
	bool guess = false;

	if (p->flags & TH_RST)
		return NULL;
	if (t->server.state == TCP_CLOSE) {
		uint32_t sv;

		if (!from_client)
			sv = p->seq;
		else if (p->flags & TH_ACK)
			sv = p->ack;
		else if (p->dlen)
			sv = t->client.seq + RS_GUESS_SHIFT, guess = true;
		else
			return NULL;
		inject_from(&a, SMTP_FROM_SERVER, sv - 1, t->client.seq,
			    TH_SYN | TH_ACK, 0);
		if (t->server.state != TCP_SYN_RECV) {
			rs.st.refused++;
			return NULL;
		}
		rs.st.handshakes++;
	}
	/* the client's own ACK establishes the stream */
	if (from_client && (p->flags & TH_ACK) && p->ack == t->server.seq)
		return NULL;
	inject_from(&a, SMTP_FROM_CLIENT, t->client.seq, t->server.seq, TH_ACK,
		    0);
	rs.st.handshakes++;
	t = nids_find_tcp_stream(&a);
	if (t && t->user && guess)
		((struct rs_session *)t->user)->guess[SMTP_FROM_SERVER] = true;
	return t;
}

/* What rs_packet does with an IPv4 packet. */
enum rs_kind {
	RS_SKIP, /* not on an SMTP port: libnids never sees it */
	RS_PASS, /* a fragment, or a TCP header we cannot read: libnids alone */
	RS_TCP,	 /* a TCP packet on an SMTP port, read into rs_pkt */
};

/*
 * Only SMTP ports reach libnids; fragments go too, it reassembles them.
 * The TCP header is read for our checks unless the packet is cut.
 */
static enum rs_kind classify(const uint8_t *ip, size_t len, struct rs_pkt *p)
{
	size_t ihl, thl;
	const uint8_t *tcp;
	bool sp, dp;

	if (len < 20)
		return RS_SKIP;
	if ((ip[6] & 0x3f) || ip[7])
		return RS_PASS;
	ihl = (size_t)(ip[0] & 15) * 4;
	if (ip[9] != IPPROTO_TCP || len < ihl + 4)
		return RS_SKIP;
	tcp = ip + ihl;
	p->sport = (uint16_t)(tcp[0] << 8 | tcp[1]);
	p->dport = (uint16_t)(tcp[2] << 8 | tcp[3]);
	sp = smtp_port(p->sport);
	dp = smtp_port(p->dport);
	if (!sp && !dp && !rs.opt.detect)
		return RS_SKIP;
	/*
	 * The server has the SMTP port; when both or neither do, the lower
	 * one (a guess: detection swaps sides if the bytes say otherwise).
	 */
	p->from_client = sp != dp ? dp : p->dport <= p->sport;
	p->iplen = (uint32_t)(ip[2] << 8 | ip[3]);
	if (ihl < 20 || len < p->iplen || p->iplen < ihl + 20)
		return RS_PASS;
	thl = (size_t)(tcp[12] >> 4) * 4;
	if (thl < 20 || p->iplen < ihl + thl)
		return RS_PASS;
	memcpy(&p->saddr, ip + 12, 4);
	memcpy(&p->daddr, ip + 16, 4);
	p->seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 |
		 (uint32_t)tcp[6] << 8 | tcp[7];
	p->ack = (uint32_t)tcp[8] << 24 | (uint32_t)tcp[9] << 16 |
		 (uint32_t)tcp[10] << 8 | tcp[11];
	p->flags = tcp[13];
	p->dlen = p->iplen - (uint32_t)(ihl + thl);
	return RS_TCP;
}

/*
 * The libnids stream of p and whether p comes from its client; a is its
 * 4-tuple (libnids' orientation; client first by our rule when unknown).
 * Sessions' streams are cached: one cheap hash, no mkhash().
 */
static struct tcp_stream *lookup(const struct rs_pkt *p, struct tuple4 *a,
				 bool *from_client)
{
	struct tcp_stream **c, *t;
	struct tuple4 r;

	c = &rs.cache[flow_hash(p->saddr, p->sport, p->daddr, p->dport) &
		      (RS_CACHE - 1)];
	if ((t = *c) && t->user) {
		*a = t->addr;
		if (a->saddr == p->saddr && a->source == p->sport &&
		    a->daddr == p->daddr && a->dest == p->dport) {
			*from_client = true;
			return t;
		}
		if (a->saddr == p->daddr && a->source == p->dport &&
		    a->daddr == p->saddr && a->dest == p->sport) {
			*from_client = false;
			return t;
		}
	}
	if (p->from_client)
		*a = (struct tuple4){p->sport, p->dport, p->saddr, p->daddr};
	else
		*a = (struct tuple4){p->dport, p->sport, p->daddr, p->saddr};
	*from_client = p->from_client;
	if (!(t = nids_find_tcp_stream(a))) {
		r = (struct tuple4){a->dest, a->source, a->daddr, a->saddr};
		if ((t = nids_find_tcp_stream(&r))) {
			*from_client = !p->from_client;
			*a = r;
		}
	}
	if (t && t->user)
		*c = t;
	return t;
}

/*
 * A client SYN on a 4-tuple libnids still holds. Its own retransmission
 * is left alone. A new ISN means a new connection: the old one ended
 * unseen, and libnids would ignore the SYN (tcp_flow_timeout is off), so
 * we end and free it first.
 */
static bool new_syn(struct tcp_stream *t, const struct rs_pkt *p)
{
	bool fin = t->client.state >= NIDS_FIN_SENT ||
		   t->server.state >= NIDS_FIN_SENT ||
		   t->client.state == TCP_CLOSING ||
		   t->server.state == TCP_CLOSING;

	if (p->seq + 1 == t->client.first_data_seq)
		return false;
	if (!t->user && t->client.state == TCP_SYN_SENT && rs.n_half)
		rs.n_half--; /* a half-open one; its entry goes stale */
	finish(t, fin ? SMTP_CLOSE_FIN : SMTP_CLOSE_TIMEOUT);
	nids_free_tcp_stream(t);
	return true;
}

/* Everything we do before libnids sees a TCP packet (docs/reassembly.md). */
static void before_nids(const struct rs_pkt *p)
{
	struct tuple4 a;
	bool fc;
	struct tcp_stream *t = lookup(p, &a, &fc);

	if (!t) {
		unknown_flow(p, &a);
		return;
	}
	if (p->flags & TH_SYN) {
		if (fc && !(p->flags & (TH_ACK | TH_RST)) && new_syn(t, p)) {
			rs.born = true;
			rs.born_addr = a;
		}
		return;
	}
	if (!t->user && t->client.state == TCP_SYN_SENT) {
		/* a half-open stream: this packet may free it (a RST) */
		rs.half_t = t;
		rs.half_addr = t->addr;
		rs.half_isn = t->client.first_data_seq;
	}
	if (t->client.state == TCP_SYN_SENT && !(t = handshake(t, p, fc)))
		return;
	if (t->user)
		known_flow(t, t->user, p,
			   fc ? SMTP_FROM_CLIENT : SMTP_FROM_SERVER);
}

/*
 * After a FIN: a one-sided flow (the other side never seen, though its
 * data was acked) can never close in libnids; end it now and free it.
 */
static void after_fin(const struct rs_pkt *p)
{
	struct tuple4 a;
	bool fc;
	struct tcp_stream *t = lookup(p, &a, &fc);
	struct rs_session *s;
	int dir = fc ? SMTP_FROM_CLIENT : SMTP_FROM_SERVER;

	if (!t || !(s = t->user) || s->seen[!dir] || !s->unseen_acked[!dir] ||
	    snd_half(t, dir)->state != NIDS_FIN_SENT)
		return;
	finish(t, SMTP_CLOSE_FIN);
	tomb_add(&t->addr);
	nids_free_tcp_stream(t);
	rs.st.one_sided++;
}

/*
 * libnids has no idle timeout: once a second of packet time, end the
 * sessions that sent nothing for --idle-timeout and free their streams,
 * so a months-long run does not grow without bound. Only the sessions
 * due are visited: they are at the head of the list.
 */
static void sweep(int64_t ts)
{
	struct rs_session *s;
	struct tcp_stream *t;

	rs.last_sweep = ts;
	while ((s = rs.head) && since(ts, s->last) > rs.opt.idle_timeout) {
		t = s->t;
		finish(t, SMTP_CLOSE_TIMEOUT);
		rs.st.idle_closed++;
		nids_free_tcp_stream(t);
	}
}

/* Count what the packet did to half-open streams and to memory. */
static void after_nids(void)
{
	struct tcp_stream *t;

	if (rs.born)
		half_born(&rs.born_addr);
	if (rs.half_t &&
	    (!(t = nids_find_tcp_stream(&rs.half_addr)) || t != rs.half_t ||
	     t->client.first_data_seq != rs.half_isn) &&
	    rs.n_half)
		rs.n_half--; /* libnids freed it (a RST) */
	if (rs.cur)
		account(rs.cur);
	if (rs.opt.memcap && mem_used() > rs.opt.memcap)
		shed(rs.opt.memcap, rs.cur);
}

void rs_packet(void *user, int version, const uint8_t *ip, size_t caplen,
	       size_t wirelen, int64_t ts, uint64_t pktno)
{
	struct pcap_pkthdr h;
	struct rs_pkt p;
	enum rs_kind kind;

	(void)user;
	/* an earlier time (a live tick went first) is the clock's */
	if (ts < rs.ts)
		ts = rs.ts;
	rs.ts = ts;
	rs.ctx->pcap_cnt = pktno;
	/* before this packet counts as activity */
	if (rs.opt.idle_timeout && since(ts, rs.last_sweep) >= 1000000)
		sweep(ts);
	if (version == 6) {
		size_t n = ip6map_translate(rs.v6, ip, caplen, rs.v6buf);

		if (!n) {
			rs.st.ipv6++;
			return;
		}
		ip = rs.v6buf;
		caplen = n;
		wirelen = (size_t)(ip[2] << 8 | ip[3]);
	}
	kind = classify(ip, caplen, &p);
	if (kind == RS_SKIP) {
		rs.st.skipped++;
		return;
	}
	rs.st.packets++;
	rs.cur = NULL;
	rs.half_t = NULL;
	rs.drop_t = NULL;
	rs.born = false;
	if (kind == RS_TCP)
		before_nids(&p);
	h.ts.tv_sec = ts / 1000000;
	h.ts.tv_usec = ts % 1000000;
	h.caplen = caplen;
	h.len = wirelen;
	nids_pcap_handler(NULL, &h, (u_char *)ip);
	rs.nids_ts = ts;
	drop_pending();
	if (kind != RS_TCP)
		return;
	if (p.flags & TH_FIN)
		after_fin(&p);
	after_nids();
}

void rs_tick(int64_t ts)
{
	if (!rs.opt.idle_timeout || since(ts, rs.last_sweep) < 1000000)
		return;
	rs.ts = ts;
	sweep(ts);
}

void rs_finish(enum smtp_close reason)
{
	rs.exit_reason = reason;
	nids_exit();
	/* nids_init() forgets the callbacks without freeing them */
	nids_unregister_tcp(tcp_callback);
	if (rs.dead) {
		pcap_close(rs.dead);
		rs.dead = NULL;
	}
	ip6map_free(rs.v6);
	rs.v6 = NULL;
	free(rs.half);
	rs.half = NULL;
	rs.half_cap = rs.half_len = 0;
}

void rs_get_stats(struct rs_stats *st)
{
	*st = rs.st;
}

int64_t rs_last_ts(void)
{
	return rs.ts;
}
