/* SPDX-License-Identifier: GPL-2.0-or-later */
/* reassembly.c - libnids glue: IP packets in, one decoder session per TCP
 * connection. */
#include "reassembly.h"

#include <nids.h>
#include <pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "ip6map.h"
#include "util.h"

/* One SMTP connection: the event flow and its decoder. */
struct rs_session {
	struct ev_flow flow;
	struct smtp_session *smtp;
};

/* libnids is global state, so its glue is too; confined to this file. */
static struct {
	struct rs_options opt;
	struct ev_ctx *ctx;
	pcap_t *dead; /* a DLT_RAW handle: libnids sees bare IP */
	int64_t ts;   /* time of the packet being processed */
	enum smtp_close exit_reason;
	struct rs_stats st;
	struct ip6map *v6; /* IPv6 flows, translated for libnids */
	uint8_t v6buf[65536];
} rs;

static int smtp_port(uint16_t port)
{
	size_t i;

	for (i = 0; i < rs.opt.n_ports; i++)
		if (rs.opt.ports[i] == port)
			return 1;
	return 0;
}

static void session_end(struct tcp_stream *t, enum smtp_close reason)
{
	struct rs_session *s = t->user;

	if (!s)
		return;
	smtp_end(s->smtp, reason, rs.ts);
	smtp_session_free(s->smtp);
	ev_flow_free(&s->flow);
	free(s);
	t->user = NULL;
	rs.st.open--;
}

static void session_start(struct tcp_stream *t)
{
	struct rs_session *s = xcalloc(1, sizeof(*s));
	struct smtp_options so = {0};
	uint32_t caddr = t->addr.saddr, saddr = t->addr.daddr;
	uint8_t c6[16], s6[16];

	rs.st.sessions++;
	rs.st.open++;
	if (ip6map_lookup(rs.v6, ntohl(caddr), c6) &&
	    ip6map_lookup(rs.v6, ntohl(saddr), s6))
		ev_flow_init(&s->flow, rs.ctx, rs.st.sessions, AF_INET6, c6, s6,
			     t->addr.source, t->addr.dest, rs.ts);
	else
		ev_flow_init(&s->flow, rs.ctx, rs.st.sessions, AF_INET,
			     (const uint8_t *)&caddr, (const uint8_t *)&saddr,
			     t->addr.source, t->addr.dest, rs.ts);
	so.implicit_tls = t->addr.dest == rs.opt.tls_port;
	so.ts_start = rs.ts;
	s->smtp = smtp_session_new(&ev_smtp_callbacks, &s->flow, &so);
	t->user = s;
	t->client.collect++;
	t->server.collect++;
}

/* Hand over what libnids has; server.count_new is data sent by the client. */
static void deliver(struct tcp_stream *t)
{
	struct rs_session *s = t->user;

	if (!s)
		return;
	if (t->server.count_new)
		smtp_feed(s->smtp, SMTP_FROM_CLIENT,
			  (const uint8_t *)t->server.data, t->server.count_new,
			  rs.ts);
	if (t->client.count_new)
		smtp_feed(s->smtp, SMTP_FROM_SERVER,
			  (const uint8_t *)t->client.data, t->client.count_new,
			  rs.ts);
}

static void tcp_callback(struct tcp_stream *t, void **param)
{
	(void)param;
	switch (t->nids_state) {
	case NIDS_JUST_EST:
		if (smtp_port(t->addr.dest))
			session_start(t);
		break;
	case NIDS_DATA:
		deliver(t);
		break;
	case NIDS_CLOSE:
		deliver(t);
		session_end(t, SMTP_CLOSE_FIN);
		break;
	case NIDS_RESET:
		deliver(t);
		session_end(t, SMTP_CLOSE_RESET);
		break;
	case NIDS_TIMED_OUT:
		session_end(t, SMTP_CLOSE_TIMEOUT);
		break;
	case NIDS_EXITING:
		deliver(t);
		session_end(t, rs.exit_reason);
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

int rs_init(const struct rs_options *opt, struct ev_ctx *ctx, char *err)
{
	static struct nids_chksum_ctl nochk = {0, 0, NIDS_DONT_CHKSUM, 0};

	rs.opt = *opt;
	rs.ctx = ctx;
	rs.exit_reason = SMTP_CLOSE_EOF;
	rs.v6 = ip6map_new();
	rs.dead = pcap_open_dead(DLT_RAW, 262144);
	if (!rs.dead) {
		snprintf(err, 256, "libpcap: cannot create a raw handle");
		return -1;
	}
	nids_params.pcap_desc = rs.dead;
	nids_params.filename = NULL;
	nids_params.device = NULL;
	nids_params.n_tcp_streams = opt->max_sessions;
	nids_params.n_hosts = 256;
	nids_params.scan_num_hosts = 0; /* no port-scan detector */
	nids_params.tcp_workarounds = 1;
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

/* Only SMTP ports reach libnids; fragments go too, it reassembles them. */
static int wanted_ipv4(const uint8_t *ip, size_t len)
{
	size_t ihl;

	if (len < 20 || ip[9] != 6)
		return len >= 20 && (ip[6] & 0x3f || ip[7]); /* fragment */
	if ((ip[6] & 0x3f) || ip[7])
		return 1;
	ihl = (size_t)(ip[0] & 15) * 4;
	if (len < ihl + 4)
		return 0;
	return smtp_port((uint16_t)(ip[ihl] << 8 | ip[ihl + 1])) ||
	       smtp_port((uint16_t)(ip[ihl + 2] << 8 | ip[ihl + 3]));
}

void rs_packet(void *user, int version, const uint8_t *ip, size_t caplen,
	       size_t wirelen, int64_t ts, uint64_t pktno)
{
	struct pcap_pkthdr h;

	(void)user;
	rs.ts = ts;
	rs.ctx->pcap_cnt = pktno;
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
	if (!wanted_ipv4(ip, caplen)) {
		rs.st.skipped++;
		return;
	}
	rs.st.packets++;
	h.ts.tv_sec = ts / 1000000;
	h.ts.tv_usec = ts % 1000000;
	h.caplen = caplen;
	h.len = wirelen;
	nids_pcap_handler(NULL, &h, (u_char *)ip);
}

void rs_finish(enum smtp_close reason)
{
	rs.exit_reason = reason;
	nids_exit();
	if (rs.dead) {
		pcap_close(rs.dead);
		rs.dead = NULL;
	}
	ip6map_free(rs.v6);
	rs.v6 = NULL;
}

void rs_get_stats(struct rs_stats *st)
{
	*st = rs.st;
}

int64_t rs_last_ts(void)
{
	return rs.ts;
}
