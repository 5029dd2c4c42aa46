/* SPDX-License-Identifier: GPL-2.0-or-later */
/* transcript.h - the human view: C:/S: lines per session, as with telnet. */
#ifndef SMTPSCOPE_TRANSCRIPT_H
#define SMTPSCOPE_TRANSCRIPT_H

#include "event.h"
#include "smtp.h"

void tr_command(struct ev_flow *f, const struct smtp_cmd *c);
void tr_reply(struct ev_flow *f, const struct smtp_cmd *c,
	      const struct smtp_reply *r);
void tr_body(struct ev_flow *f, const struct smtp_txn *t);
/* An alert worth a line of its own (reply codes show in the margin). */
void tr_alert(struct ev_flow *f, const struct smtp_alert *a);
/* Print the session's block (header, dialogue, footer). */
void tr_end(struct ev_flow *f, const struct smtp_session_info *si);

#endif
