/* SPDX-License-Identifier: GPL-2.0-or-later */
/* out_syslog.c - syslog[:FACILITY[@SOCKET]]: RFC 5424 over a unix datagram. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output_int.h"

struct syslog_sink {
	struct unix_sink u;
	int facility;
	char host[256];
	struct sbuf msg; /* the message being sent, kept between events */
};

static const struct {
	const char *name;
	int code;
} facilities[] = {
    {"kern", 0},    {"user", 1},    {"mail", 2},      {"daemon", 3},
    {"auth", 4},    {"syslog", 5},  {"lpr", 6},	      {"news", 7},
    {"uucp", 8},    {"cron", 9},    {"authpriv", 10}, {"ftp", 11},
    {"local0", 16}, {"local1", 17}, {"local2", 18},   {"local3", 19},
    {"local4", 20}, {"local5", 21}, {"local6", 22},   {"local7", 23},
};

static struct sink *syslog_open(const char *spec, char *err)
{
	struct syslog_sink *l = xcalloc(1, sizeof(*l));
	const char *fac = spec[6] == ':' ? spec + 7 : NULL;
	const char *path = "/dev/log";
	size_t i, n;

	l->facility = 16; /* local0 */
	if (fac && strchr(fac, '@'))
		path = strchr(fac, '@') + 1;
	if (fac && *fac != '@') {
		n = strcspn(fac, "@");
		for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
			if (strlen(facilities[i].name) == n &&
			    !strncmp(fac, facilities[i].name, n))
				break;
		if (i == sizeof(facilities) / sizeof(facilities[0])) {
			snprintf(err, OUT_ERR_MAX,
				 "-o %s: unknown syslog facility", spec);
			free(l);
			return NULL;
		}
		l->facility = facilities[i].code;
	}
	if (out_unix_init(&l->u, SOCK_DGRAM, path, spec, err) < 0) {
		free(l);
		return NULL;
	}
	if (gethostname(l->host, sizeof(l->host) - 1) < 0 || !l->host[0])
		strcpy(l->host, "-");
	return &l->u.s;
}

/* RFC 5424: <PRI>1 TIME HOST APP PROCID MSGID SD MSG; severity info (6) */
static void syslog_write(struct sink *s, const char *line, size_t len,
			 const char *key, size_t klen)
{
	struct syslog_sink *l = (struct syslog_sink *)s;
	struct timespec now;
	struct tm tm;
	char head[400];
	int n;

	(void)key;
	(void)klen;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = snprintf(head, sizeof(head),
		     "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ "
		     "%s smtpscope %d - - ",
		     l->facility * 8 + 6, tm.tm_year + 1900, tm.tm_mon + 1,
		     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     now.tv_nsec / 1000, l->host, (int)getpid());
	sb_reset(&l->msg);
	sb_append(&l->msg, head, (size_t)n);
	sb_append(&l->msg, line, len);
	out_unix_send_dgram(&l->u, l->msg.p, l->msg.len);
}

static void syslog_close(struct sink *s)
{
	struct syslog_sink *l = (struct syslog_sink *)s;

	out_unix_close(&l->u);
	sb_free(&l->msg);
	free(l);
}

const struct sink_ops out_syslog_ops = {
    .open = syslog_open,
    .connect = out_unix_connect,
    .write = syslog_write,
    .disconnect = out_unix_disconnect,
    .close = syslog_close,
};
