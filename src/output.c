/* SPDX-License-Identifier: GPL-2.0-or-later */
/* output.c - socket sinks for the events: syslog, unix datagram and stream. */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>

#include "util.h"

#define OUT_QUEUE_MAX (1024 * 1024) /* bytes a stream sink may hold back */

enum sink_kind {
	SINK_SYSLOG,
	SINK_DGRAM,
	SINK_STREAM,
	SINK_REDIS,
	SINK_KAFKA,
	SINK_FILE
};

struct sink {
	enum sink_kind kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;		   /* -1 while down */
	int facility;	   /* syslog */
	time_t retry;	   /* wall time of the next connection attempt */
	struct sbuf queue; /* stream: bytes not yet written */
	uint64_t dropped;
	bool warned;
	/* redis://HOST:PORT/KEY?mode=list|channel */
	redisContext *rc;
	char host[256], key[256];
	int port;
	bool channel;
	/* kafka://BROKERS/TOPIC */
	rd_kafka_t *rk;
	/* file:PATH, a second (third ...) file */
	FILE *fp;
	char *file;
	struct sink *next;
};

struct out {
	struct sink *sinks;
	char host[256];
};

static const struct {
	const char *name;
	int code;
} facilities[] = {
    {"kern", 0},     {"user", 1},     {"mail", 2},	   {"daemon", 3},
    {"auth", 4},     {"syslog", 5},   {"lpr", 6},	   {"news", 7},
    {"uucp", 8},     {"cron", 9},     {"authpriv", 10}, {"ftp", 11},
    {"local0", 16}, {"local1", 17}, {"local2", 18},   {"local3", 19},
    {"local4", 20}, {"local5", 21}, {"local6", 22},   {"local7", 23},
};

bool out_is_sink(const char *spec)
{
	return !strcmp(spec, "syslog") || !strncmp(spec, "syslog:", 7) ||
	       !strncmp(spec, "unix:", 5) || !strncmp(spec, "unix-stream:", 12) ||
	       !strncmp(spec, "redis://", 8) || !strncmp(spec, "kafka://", 8);
}

static void warn_down(struct sink *s, const char *what, const char *why)
{
	if (!s->warned)
		fprintf(stderr,
			"smtpscope: output %s: %s; events dropped (and counted) "
			"until it is back\n",
			what, why);
	s->warned = true;
}

static void redis_connect(struct sink *s)
{
	s->rc = redisConnectNonBlock(s->host, s->port);
	if (!s->rc || s->rc->err) {
		warn_down(s, s->host, s->rc ? s->rc->errstr : "out of memory");
		if (s->rc)
			redisFree(s->rc);
		s->rc = NULL;
		return;
	}
	s->fd = s->rc->fd;
}

static void sink_connect(struct sink *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int type = s->kind == SINK_STREAM ? SOCK_STREAM : SOCK_DGRAM;
	time_t now = time(NULL);

	if (s->fd >= 0 || now < s->retry)
		return;
	s->retry = now + 1; /* at most one attempt a second */
	if (s->kind == SINK_REDIS) {
		redis_connect(s);
		return;
	}
	strcpy(sa.sun_path, s->path);
	s->fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return;
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		if (!s->warned)
			fprintf(stderr,
				"smtpscope: output %s: %s; events dropped "
				"(and counted) until it is back\n",
				s->path, strerror(errno));
		s->warned = true;
		close(s->fd);
		s->fd = -1;
		return;
	}
	if (s->warned)
		fprintf(stderr, "smtpscope: output %s: connected again\n",
			s->path);
	s->warned = false;
}

static void sink_down(struct sink *s)
{
	if (s->rc) {
		warn_down(s, s->host, s->rc->errstr);
		redisFree(s->rc); /* closes the socket */
		s->rc = NULL;
	} else {
		close(s->fd);
	}
	s->fd = -1;
	sb_reset(&s->queue);
}

/* redis://HOST[:PORT]/KEY[?mode=list|channel] */
static int redis_parse(struct sink *s, const char *spec, char *err)
{
	const char *p = spec + 8, *slash = strchr(p, '/'), *q;
	const char *colon = memchr(p, ':', slash ? (size_t)(slash - p) : 0);
	size_t hl = colon ? (size_t)(colon - p) : slash ? (size_t)(slash - p) : 0;

	s->kind = SINK_REDIS;
	s->port = 6379;
	if (!slash || !hl || hl >= sizeof(s->host) || !slash[1])
		goto bad;
	memcpy(s->host, p, hl);
	if (colon) {
		char *end;
		long port = strtol(colon + 1, &end, 10);

		if (end != slash || port < 1 || port > 65535)
			goto bad;
		s->port = (int)port;
	}
	q = strchr(slash + 1, '?');
	if (q) {
		if (!strcmp(q, "?mode=channel"))
			s->channel = true;
		else if (strcmp(q, "?mode=list"))
			goto bad;
	}
	if ((size_t)((q ? q : slash + 1 + strlen(slash + 1)) - (slash + 1)) >=
	    sizeof(s->key))
		goto bad;
	memcpy(s->key, slash + 1,
	       (size_t)((q ? q : slash + 1 + strlen(slash + 1)) - (slash + 1)));
	return 0;
bad:
	snprintf(err, 256,
		 "-o %s: expected redis://HOST[:PORT]/KEY[?mode=list|channel]",
		 spec);
	return -1;
}

/*
 * kafka://BROKERS/TOPIC: librdkafka queues (bounded) and sends on its own
 * threads; the key is the flow, so a session's events keep one partition.
 */
static int kafka_add(struct sink *s, const char *spec, char *err)
{
	const char *slash = strchr(spec + 8, '/');
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char brokers[512], ebuf[256];

	s->kind = SINK_KAFKA;
	if (!slash || slash == spec + 8 || !slash[1] ||
	    (size_t)(slash - spec - 8) >= sizeof(brokers) ||
	    strlen(slash + 1) >= sizeof(s->key)) {
		snprintf(err, 256, "-o %s: expected kafka://BROKERS/TOPIC", spec);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	memcpy(brokers, spec + 8, (size_t)(slash - spec - 8));
	brokers[slash - spec - 8] = '\0';
	strcpy(s->key, slash + 1);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, ebuf,
			      sizeof(ebuf)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "100000",
			      ebuf, sizeof(ebuf)) != RD_KAFKA_CONF_OK ||
	    !(s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, ebuf,
				   sizeof(ebuf)))) {
		snprintf(err, 256, "-o %.100s: %.140s", spec, ebuf);
		if (!s->rk)
			rd_kafka_conf_destroy(conf);
		return -1;
	}
	return 0;
}

static void send_kafka(struct sink *s, const char *p, size_t n,
		       const char *key, size_t klen)
{
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    s->rk, RD_KAFKA_V_TOPIC(s->key), RD_KAFKA_V_KEY(key, klen),
	    RD_KAFKA_V_VALUE((void *)p, n),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);

	if (e) /* queue full, or a bad topic: dropped, counted */
		s->dropped++;
	rd_kafka_poll(s->rk, 0); /* delivery reports, errors */
}

/* RPUSH or PUBLISH, pipelined: queued in hiredis, written when it can. */
static void send_redis(struct sink *s, const char *p, size_t n)
{
	void *reply;
	int done;

	if (sdslen(s->rc->obuf) + n > OUT_QUEUE_MAX) {
		s->dropped++;
		return;
	}
	redisAppendCommand(s->rc, s->channel ? "PUBLISH %s %b" : "RPUSH %s %b",
			   s->key, p, n);
	if (redisBufferWrite(s->rc, &done) == REDIS_ERR ||
	    redisBufferRead(s->rc) == REDIS_ERR) {
		s->dropped++;
		sink_down(s);
		return;
	}
	/* the replies (counts) are read and thrown away */
	while (redisGetReplyFromReader(s->rc, &reply) == REDIS_OK && reply)
		freeReplyObject(reply);
}

int out_add(struct out **op, const char *spec, char *err)
{
	struct sink *s = xcalloc(1, sizeof(*s));
	const char *path = NULL, *fac = NULL;
	size_t i;

	if (!*op) {
		*op = xcalloc(1, sizeof(**op));
		if (gethostname((*op)->host, sizeof((*op)->host) - 1) < 0 ||
		    !(*op)->host[0])
			strcpy((*op)->host, "-");
	}
	s->fd = -1;
	s->facility = 16; /* local0 */
	s->queue.max = OUT_QUEUE_MAX;
	if (!strncmp(spec, "file:", 5)) {
		s->kind = SINK_FILE;
		s->file = xstrndup(spec + 5, strlen(spec + 5));
		s->fp = fopen(s->file, "a");
		if (!s->fp) {
			snprintf(err, 256, "%.200s: %s", s->file,
				 strerror(errno));
			free(s->file);
			free(s);
			return -1;
		}
		s->next = (*op)->sinks;
		(*op)->sinks = s;
		return 0;
	}
	if (!strncmp(spec, "kafka://", 8)) {
		if (kafka_add(s, spec, err) < 0) {
			free(s);
			return -1;
		}
		s->next = (*op)->sinks;
		(*op)->sinks = s;
		return 0;
	}
	if (!strncmp(spec, "redis://", 8)) {
		if (redis_parse(s, spec, err) < 0) {
			free(s);
			return -1;
		}
		sink_connect(s);
		s->next = (*op)->sinks;
		(*op)->sinks = s;
		return 0;
	}
	if (!strncmp(spec, "unix-stream:", 12)) {
		s->kind = SINK_STREAM;
		path = spec + 12;
	} else if (!strncmp(spec, "unix:", 5)) {
		s->kind = SINK_DGRAM;
		path = spec + 5;
	} else {
		s->kind = SINK_SYSLOG;
		path = "/dev/log";
		fac = spec[6] == ':' ? spec + 7 : NULL;
		if (fac && strchr(fac, '@'))
			path = strchr(fac, '@') + 1;
	}
	if (fac && *fac != '@') {
		size_t n = strcspn(fac, "@");

		for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
			if (strlen(facilities[i].name) == n &&
			    !strncmp(fac, facilities[i].name, n))
				break;
		if (i == sizeof(facilities) / sizeof(facilities[0])) {
			snprintf(err, 256, "-o %s: unknown syslog facility",
				 spec);
			free(s);
			return -1;
		}
		s->facility = facilities[i].code;
	}
	if (!*path || strlen(path) >= sizeof(s->path)) {
		snprintf(err, 256, "-o %s: bad socket path", spec);
		free(s);
		return -1;
	}
	strcpy(s->path, path);
	sink_connect(s); /* a sink that is down now is not fatal */
	s->next = (*op)->sinks;
	(*op)->sinks = s;
	return 0;
}

static void send_dgram(struct sink *s, const char *p, size_t n)
{
	if (send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n)
		return;
	s->dropped++;
	if (errno != EAGAIN && errno != ENOBUFS && errno != EMSGSIZE)
		sink_down(s); /* gone: reconnect later */
}

static void send_stream(struct sink *s, const char *p, size_t n)
{
	ssize_t w;

	/* whole lines only: one that does not fit the queue is dropped */
	if (s->queue.len + n + 1 > OUT_QUEUE_MAX) {
		s->dropped++;
		return;
	}
	sb_append(&s->queue, p, n);
	sb_append(&s->queue, "\n", 1);
	w = send(s->fd, s->queue.p, s->queue.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w > 0) {
		memmove(s->queue.p, s->queue.p + w, s->queue.len - w);
		s->queue.len -= w;
	} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
		s->dropped++; /* what it held is lost with the connection */
		sink_down(s);
	}
}

void out_write(struct out *o, const char *line, size_t len, const char *key,
	       size_t klen)
{
	struct sink *s;
	struct sbuf msg = {0};
	char head[400];
	struct timespec now;
	struct tm tm;
	int n;

	for (s = o ? o->sinks : NULL; s; s = s->next) {
		if (s->kind == SINK_KAFKA) {
			send_kafka(s, line, len, key, klen);
			continue;
		}
		if (s->kind == SINK_FILE) {
			if (fwrite(line, 1, len, s->fp) != len ||
			    fputc('\n', s->fp) == EOF) {
				s->dropped++;
				warn_down(s, s->file, strerror(errno));
			}
			continue;
		}
		sink_connect(s);
		if (s->fd < 0) {
			s->dropped++;
			continue;
		}
		if (s->kind == SINK_SYSLOG) {
			/* RFC 5424: <PRI>1 TIME HOST APP PROCID MSGID SD MSG;
			 * severity info (6) */
			clock_gettime(CLOCK_REALTIME, &now);
			gmtime_r(&now.tv_sec, &tm);
			n = snprintf(head, sizeof(head),
				     "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ "
				     "%s smtpscope %d - - ",
				     s->facility * 8 + 6, tm.tm_year + 1900,
				     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
				     tm.tm_min, tm.tm_sec, now.tv_nsec / 1000,
				     o->host, (int)getpid());
			sb_reset(&msg);
			sb_append(&msg, head, (size_t)n);
			sb_append(&msg, line, len);
			send_dgram(s, msg.p, msg.len);
		} else if (s->kind == SINK_REDIS) {
			send_redis(s, line, len);
		} else if (s->kind == SINK_DGRAM) {
			send_dgram(s, line, len);
		} else {
			send_stream(s, line, len);
		}
	}
	sb_free(&msg);
}

void out_reopen(struct out *o)
{
	struct sink *s;
	FILE *fp;

	for (s = o ? o->sinks : NULL; s; s = s->next) {
		if (s->kind != SINK_FILE)
			continue;
		fflush(s->fp);
		fp = fopen(s->file, "a");
		if (!fp) {
			fprintf(stderr,
				"smtpscope: %s: cannot reopen: %s; still "
				"writing to the old file\n",
				s->file, strerror(errno));
			continue;
		}
		fclose(s->fp);
		s->fp = fp;
	}
}

uint64_t out_dropped(const struct out *o)
{
	const struct sink *s;
	uint64_t n = 0;

	for (s = o ? o->sinks : NULL; s; s = s->next)
		n += s->dropped;
	return n;
}

void out_free(struct out *o)
{
	struct sink *s, *next;

	if (!o)
		return;
	for (s = o->sinks; s; s = next) {
		next = s->next;
		if (s->fp) {
			if (fclose(s->fp) != 0)
				s->dropped++;
			free(s->file);
		}
		if (s->rk) {
			/* what librdkafka holds, with at most 5 s of waiting */
			rd_kafka_flush(s->rk, 5000);
			s->dropped += (uint64_t)rd_kafka_outq_len(s->rk);
			rd_kafka_destroy(s->rk);
		}
		if (s->rc) {
			/* what is queued, with at most 2 s of waiting */
			struct pollfd pf = {.fd = s->rc->fd, .events = POLLOUT};
			int done = 0, i;

			for (i = 0; i < 200 && !done; i++) {
				if (redisBufferWrite(s->rc, &done) == REDIS_ERR)
					break;
				if (!done)
					poll(&pf, 1, 10);
			}
			if (!done)
				s->dropped++;
			redisFree(s->rc);
			s->rc = NULL;
			s->fd = -1;
		}
		if (s->fd >= 0) {
			/* a last, blocking try for what a stream holds back */
			if (s->queue.len) {
				fcntl(s->fd, F_SETFL, 0);
				if (write(s->fd, s->queue.p, s->queue.len) < 0)
					s->dropped++;
			}
			close(s->fd);
		}
		sb_free(&s->queue);
		free(s);
	}
	free(o);
}
