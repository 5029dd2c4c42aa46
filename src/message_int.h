/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message_int.h - helpers shared by the message module's files. */
#ifndef SMTPSCOPE_MESSAGE_INT_H
#define SMTPSCOPE_MESSAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "util.h"

/* Charset conversion to UTF-8 (iconv); false (nothing added) if unknown. */
bool msg_to_utf8(struct sbuf *out, const char *charset, const char *in,
		 size_t n);
/* RFC 2047: encoded words (B and Q) decoded to UTF-8, the rest copied. */
void msg_decode_2047(struct sbuf *out, const char *in, size_t n);
/*
 * RFC 5322 3.4 address list: up to max mailboxes into out (strings
 * allocated); *dropped counts those beyond max.
 */
size_t msg_parse_addrs(const char *v, struct msg_addr *out, size_t max,
		       size_t *dropped);
/* "type/subtype" of a Content-Type (or the token of a C-T-E), lower case. */
void msg_token(const char *v, char *out, size_t n);
/*
 * Parameter name of a Content-Type / Content-Disposition value, with
 * RFC 2231 continuations and charsets and RFC 2047 words, as UTF-8.
 */
bool msg_param(const char *v, const char *name, struct sbuf *out);
/* RFC 5322 3.3 date-time to microseconds since the epoch. */
bool msg_parse_date(const char *v, int64_t *ts);
/* The first IP address of a Received field's "from" clause. */
bool msg_received_ip(const char *v, char *out, size_t n);
/* Number of msg-ids ("<…>") in a References field. */
unsigned msg_count_ids(const char *v);

#endif
