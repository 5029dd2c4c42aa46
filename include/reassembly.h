/* SPDX-License-Identifier: GPL-2.0-or-later */
/* reassembly.h - libnids glue: one decoder session per TCP connection. */
#ifndef SMTPSCOPE_REASSEMBLY_H
#define SMTPSCOPE_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "smtp.h"

#define RS_MAX_PORTS 16

struct rs_options {
	uint16_t ports[RS_MAX_PORTS]; /* server ports treated as SMTP */
	size_t n_ports;
	/* every other TCP connection is looked at: SMTP by its first bytes */
	bool detect;
	uint16_t tls_port; /* implicit TLS (465): counted, not decoded */
	int max_sessions; /* TCP connections held at once, half-open included */
	uint64_t memcap;  /* estimated bytes of session state; 0: no cap */
	int64_t idle_timeout;	  /* microseconds of packet time; 0: never */
	struct smtp_options smtp; /* template for every decoder session */
};

struct rs_stats {
	uint64_t sessions; /* SMTP connections seen */
	uint64_t packets;  /* packets given to libnids */
	uint64_t skipped;  /* IP packets not on an SMTP port */
	uint64_t ipv6;	   /* IPv6 packets that could not be translated */
	uint64_t nids_ip, nids_tcp; /* libnids warnings (bad headers, queues) */
	uint64_t open;		    /* sessions open now */
	uint64_t midstream;	    /* sessions whose SYN we synthesised */
	uint64_t handshakes; /* SYN-ACK or last ACK synthesised (SYN seen) */
	uint64_t one_sided;  /* one-sided sessions closed at their FIN */
	uint64_t gaps, gap_bytes; /* holes reported to the decoder */
	uint64_t windows;     /* segments libnids would have dropped: window */
	uint64_t refused;     /* synthetic packets libnids did not take */
	uint64_t idle_closed; /* sessions ended by --idle-timeout */
	/* --max-sessions reached: connections evicted for a new one */
	uint64_t evicted_sessions, evicted_half_open;
	/* --memcap reached: connections shed, and their estimated bytes */
	uint64_t memcap_sessions, memcap_half_open, memcap_bytes;
	/* --detect: connections looked at by content, found SMTP, found
	 * not SMTP, ended undecided; tunnel handshakes stepped over */
	uint64_t detect_examined, detect_smtp, detect_not_smtp;
	uint64_t detect_undecided, tunnels;
};

/*
 * Set up libnids; -1 with a reason in err (at least 256 bytes). Once
 * more after rs_finish() starts afresh.
 */
int rs_init(const struct rs_options *opt, struct ev_ctx *ctx, char *err);
/*
 * One IP packet (version 4 or 6) and its time and number (a cap_ip_fn).
 * Time never goes back: an earlier ts counts as the last one.
 */
void rs_packet(void *user, int version, const uint8_t *ip, size_t caplen,
	       size_t wirelen, int64_t ts, uint64_t pktno);
/*
 * Time passes without a packet (a live capture, by the wall clock): the
 * idle sweep may end sessions as timeout, at ts.
 */
void rs_tick(int64_t ts);
/* Time of the last packet seen (or tick). */
int64_t rs_last_ts(void);
/* End every open session with reason (eof, shutdown) and stop libnids. */
void rs_finish(enum smtp_close reason);
void rs_get_stats(struct rs_stats *st);

#endif
