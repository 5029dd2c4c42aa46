/* SPDX-License-Identifier: GPL-2.0-or-later */
/* capture.c - libpcap sources, BPF, and every link layer down to IP. */
#include "capture.h"

#include <errno.h>
#include <pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct cap {
	pcap_t *p;
	int dlt;
	uint64_t count;
	cap_ip_fn fn;
	void *user;
	struct cap_stats st;
	int live;
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

static void handler(u_char *user, const struct pcap_pkthdr *h,
		    const u_char *pkt)
{
	struct cap *c = (struct cap *)user;
	size_t off = 0;
	int v;
	int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;

	c->st.packets++;
	c->st.bytes += h->caplen;
	if (h->caplen < h->len)
		c->st.cut++;
	v = link_strip(c->dlt, pkt, h->caplen, &off);
	if (v == 4)
		c->st.ipv4++;
	else if (v == 6)
		c->st.ipv6++;
	else
		c->st.other++;
	if (v)
		c->fn(c->user, v, pkt + off, h->caplen - off,
		      h->len > off ? h->len - off : 0, ts, c->st.packets);
	if (c->count && c->st.packets >= c->count)
		pcap_breakloop(c->p);
}

/*
 * Without an expression no BPF at all: the ports are checked in code, for
 * every link layer. With one: (expression) and (ports).
 */
static int set_filter(struct cap *c, const char *expr, const char *ports,
		      char *err)
{
	struct bpf_program prog;
	struct sbuf full = { 0 };
	int rc;

	if (!expr || !*expr)
		return 0;
	sb_append(&full, "(", 1);
	sb_append(&full, expr, strlen(expr));
	sb_append(&full, ")", 1);
	if (ports && *ports) {
		sb_append(&full, " and (", 6);
		sb_append(&full, ports, strlen(ports));
		sb_append(&full, ")", 1);
	}
	rc = pcap_compile(c->p, &prog, full.p, 1, PCAP_NETMASK_UNKNOWN);
	sb_free(&full);
	if (rc < 0) {
		snprintf(err, CAP_ERRBUF, "bad filter '%s': %s", expr,
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

struct cap *cap_open(const struct cap_options *o, char *err)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct cap *c = xcalloc(1, sizeof(*c));

	if (o->iface) {
		c->p = open_live(o, err);
		c->live = 1;
	} else {
		FILE *fp = strcmp(o->file, "-") ? fopen(o->file, "rb") : stdin;

		if (!fp) {
			snprintf(err, CAP_ERRBUF, "%s: %s", o->file,
				 strerror(errno));
			free(c);
			return NULL;
		}
		c->p = pcap_fopen_offline(fp, ebuf);
		if (!c->p) {
			/* libpcap's reasons, in the user's words */
			const char *why = ebuf;

			if (strstr(ebuf, "unknown file format"))
				why = "not a pcap or pcapng capture file";
			else if (strstr(ebuf, "truncated"))
				why = "truncated capture file (incomplete "
				      "header)";
			snprintf(err, CAP_ERRBUF, "%s: %s", o->file, why);
			if (fp != stdin)
				fclose(fp);
		}
	}
	if (!c->p) {
		free(c);
		return NULL;
	}
	c->dlt = pcap_datalink(c->p);
	if (!dlt_supported(c->dlt)) {
		snprintf(err, CAP_ERRBUF, "%s: unsupported link type %s (%d)",
			 o->iface ? o->iface : o->file,
			 pcap_datalink_val_to_name(c->dlt)
			     ? pcap_datalink_val_to_name(c->dlt)
			     : "unknown",
			 c->dlt);
		cap_close(c);
		return NULL;
	}
	if (set_filter(c, o->filter, o->ports_filter, err) < 0) {
		cap_close(c);
		return NULL;
	}
	c->count = o->count;
	return c;
}

int cap_run(struct cap *c, cap_ip_fn fn, void *user, char *err)
{
	int rc;

	c->fn = fn;
	c->user = user;
	rc = pcap_loop(c->p, -1, handler, (u_char *)c);
	if (rc == PCAP_ERROR_BREAK && c->live &&
	    !(c->count && c->st.packets >= c->count)) {
		/* stopped by a signal: what the kernel holds was captured */
		char ebuf[PCAP_ERRBUF_SIZE];
		int i;

		pcap_setnonblock(c->p, 1, ebuf);
		for (i = 0; i < 1000 && pcap_dispatch(c->p, -1, handler,
						      (u_char *)c) > 0;
		     i++)
			;
		return 0;
	}
	if (rc == PCAP_ERROR) {
		const char *why = pcap_geterr(c->p);

		if (strstr(why, "truncated")) {
			c->st.truncated = 1;
			snprintf(err, CAP_ERRBUF,
				 "capture file truncated after packet %llu: %s",
				 (unsigned long long)c->st.packets, why);
		} else {
			snprintf(err, CAP_ERRBUF,
				 "read error after packet %llu: %s",
				 (unsigned long long)c->st.packets, why);
		}
		return -1;
	}
	return 0;
}

void cap_break(struct cap *c)
{
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
	if (!c)
		return;
	if (c->p)
		pcap_close(c->p);
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
