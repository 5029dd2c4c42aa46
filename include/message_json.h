/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message_json.h - the schema v1 "email" object of a parsed message. */
#ifndef SMTPSCOPE_MESSAGE_JSON_H
#define SMTPSCOPE_MESSAGE_JSON_H

#include "message.h"

struct json_object;

/*
 * A new "email" object (ECS-like: from.address[], to.address[], subject,
 * message_id, origination_timestamp, x_mailer, attachments[].file.*, …,
 * local_id if not NULL); the caller owns it. It is written as text, at
 * once: json-c prints it as it is, but it has no members to look up.
 * Wire text is escaped (util.h wire_escape).
 */
struct json_object *msg_email_json(const struct msg *m, const char *local_id);
/*
 * The email object rendered now, after msg_end() (the parser takes no
 * more octets then), on the thread that parsed m: msg_email_json() then
 * copies it.
 */
void msg_render(struct msg *m);

#endif
