/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message_json.h - the schema v1 "email" object of a parsed message. */
#ifndef SMTPSCOPE_MESSAGE_JSON_H
#define SMTPSCOPE_MESSAGE_JSON_H

#include "message.h"

struct jw;

/*
 * The "email" object as member key of w (ECS-like: from.address[],
 * to.address[], subject, message_id, origination_timestamp, x_mailer,
 * attachments[].file.*, …, local_id if not NULL). Wire text is escaped
 * (util.h wire_escape).
 */
void msg_email_write(struct jw *w, const char *key, const struct msg *m,
		     const char *local_id);
/*
 * The email object rendered now, after msg_end() (the parser takes no
 * more octets then), on the thread that parsed m: msg_email_write() then
 * copies it.
 */
void msg_render(struct msg *m);

#endif
