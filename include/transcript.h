/* SPDX-License-Identifier: GPL-2.0-or-later */
/* transcript.h - the human view: C:/S: lines per session, as with telnet. */
#ifndef SMTPSCOPE_TRANSCRIPT_H
#define SMTPSCOPE_TRANSCRIPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "smtp.h"
#include "util.h"

/* One session's dialogue, kept until its end (sessions interleave). */
struct tr {
	struct sbuf text; /* the lines, escaped */
	uint32_t errors;  /* 4xx and 5xx replies, for the footer */
	uint32_t messages;
};

/* Who talked: the block's first line. */
struct tr_head {
	uint64_t session;
	const char *src_ip, *dest_ip; /* the client first */
	uint16_t src_port, dest_port;
	const char *tunnel;	   /* "socks5"..., or NULL */
	const char *tunnel_target; /* "host:port", or "" */
	bool color;		   /* ANSI colours (a terminal) */
};

void tr_command(struct tr *t, const struct smtp_cmd *c);
void tr_reply(struct tr *t, const struct smtp_cmd *c,
	      const struct smtp_reply *r);
void tr_body(struct tr *t, const struct smtp_txn *txn);
/* An alert worth a line of its own (reply codes show in the margin). */
void tr_alert(struct tr *t, const struct smtp_alert *a);
/* Print the session's block (header, dialogue, footer) on out. */
void tr_end(const struct tr *t, FILE *out, const struct tr_head *h,
	    const struct smtp_session_info *si);
void tr_free(struct tr *t);

#endif
