/* SPDX-License-Identifier: GPL-2.0-or-later */
/* event.h - the event model: decoder callbacks to JSON and transcripts. */
#ifndef SMTPSCOPE_EVENT_H
#define SMTPSCOPE_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "detect.h"
#include "smtp.h"
#include "transcript.h"
#include "util.h"

struct ex_file;
struct relaycheck;

/* Where events go and what is written; one per run. */
struct ev_ctx {
	FILE *transcript;	 /* human transcripts, or NULL */
	bool color;		 /* ... with ANSI colours */
	bool commands;		 /* emit smtp_command events */
	bool session_transcript; /* the dialogue in each smtp_session event */
	uint64_t pcap_cnt;	 /* number of the packet being processed */
	uint64_t written;	 /* events written */
	uint64_t alerts;	 /* alerts raised (for the progress line) */
	uint64_t no_greeting, not_smtp; /* sessions that never became SMTP */
	struct authwatch *aw;	  /* AUTH failures across sessions, or NULL */
	struct serverwatch *sw;	  /* posture alerts said per server, or NULL */
	struct relaycheck *relay; /* --local-domains, --trusted-nets; NULL */
	const char *extract_dir;  /* --extract: write messages there, or NULL */
	bool extract_attachments; /* and each attachment, decoded */
	struct out *sinks;	  /* where events go (files, stdout, sockets) */
};

/* Are events written anywhere? */
static inline bool ev_json(const struct ev_ctx *ctx)
{
	return ctx->sinks;
}

/* An attachment being extracted: part index of the current message. */
struct ev_part_file {
	unsigned index;
	struct ex_file *ex;
	char name[64]; /* temporary name, and final one if never ended */
};

/* One SMTP connection as the event model sees it. */
struct ev_flow {
	struct ev_ctx *ctx;
	char src_ip[48], dest_ip[48]; /* src is the client */
	uint16_t src_port, dest_port;
	uint64_t flow_id;
	char community_id[48];
	uint64_t session;
	int64_t ts_start;
	bool authed;	    /* an AUTH succeeded (235): relaying is its right */
	struct tr tr;	    /* the dialogue, for -T and --transcript */
	struct ex_file *ex; /* the message being extracted */
	char ex_name[48];
	struct ev_part_file *parts; /* attachments being extracted */
	size_t nparts;
	const char *tunnel; /* "http-connect", "socks4", "socks5", or NULL */
	char tunnel_target[DET_TARGET]; /* where it went: "host:port", or "" */
};

/* The decoder callbacks; user is a struct ev_flow. */
extern const struct smtp_callbacks ev_smtp_callbacks;

/*
 * Fill in the flow: addresses are 4 or 16 bytes in network order, client
 * first; ts is the first packet's time (part of flow_id).
 */
void ev_flow_init(struct ev_flow *f, struct ev_ctx *ctx, uint64_t session,
		  int family, const uint8_t *caddr, const uint8_t *saddr,
		  uint16_t cport, uint16_t sport, int64_t ts);
void ev_flow_free(struct ev_flow *f);

/* Write a "stats" event; stats: its object, as JSON text of n bytes. */
void ev_write_stats(struct ev_ctx *ctx, int64_t ts, const char *stats,
		    size_t n);

/* ISO 8601 UTC with microseconds and +0000 (out: at least 32 bytes). */

#endif
