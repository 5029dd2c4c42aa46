/* SPDX-License-Identifier: GPL-2.0-or-later */
/* out_redis.c - redis://HOST[:PORT]/KEY[?mode=list|channel], via hiredis. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

#include "output_int.h"

struct redis_sink {
	struct sink s;
	redisContext *rc; /* NULL while down */
	char host[256], key[256];
	int port;
	bool channel;	  /* PUBLISH, not RPUSH */
	uint64_t pending; /* commands appended and not answered yet */
	char why[128];
};

static struct sink *redis_open(const char *spec, char *err)
{
	struct redis_sink *r = xcalloc(1, sizeof(*r));
	const char *p = spec + 8, *slash = strchr(p, '/'), *q, *end;
	const char *colon = memchr(p, ':', slash ? (size_t)(slash - p) : 0);
	const char *hend = colon ? colon : slash;
	size_t hl = hend ? (size_t)(hend - p) : 0;

	r->s.name = r->host;
	r->port = 6379;
	if (!slash || !hl || hl >= sizeof(r->host) || !slash[1])
		goto bad;
	memcpy(r->host, p, hl);
	if (colon) {
		char *e;
		long port = strtol(colon + 1, &e, 10);

		if (e != slash || port < 1 || port > 65535)
			goto bad;
		r->port = (int)port;
	}
	q = strchr(slash + 1, '?');
	if (q) {
		if (!strcmp(q, "?mode=channel"))
			r->channel = true;
		else if (strcmp(q, "?mode=list"))
			goto bad;
	}
	end = q ? q : slash + 1 + strlen(slash + 1);
	if ((size_t)(end - (slash + 1)) >= sizeof(r->key))
		goto bad;
	memcpy(r->key, slash + 1, (size_t)(end - (slash + 1)));
	return &r->s;
bad:
	snprintf(err, OUT_ERR_MAX,
		 "-o %s: expected redis://HOST[:PORT]/KEY[?mode=list|channel]",
		 spec);
	free(r);
	return NULL;
}

/* Non-blocking: a refused connection shows at the first write. */
static int redis_connect(struct sink *s, const char **why)
{
	struct redis_sink *r = (struct redis_sink *)s;

	r->rc = redisConnectNonBlock(r->host, r->port);
	if (!r->rc || r->rc->err) {
		snprintf(r->why, sizeof(r->why), "%s",
			 r->rc ? r->rc->errstr : "out of memory");
		*why = r->why;
		if (r->rc)
			redisFree(r->rc);
		r->rc = NULL;
		return OUT_DOWN;
	}
	return OUT_PENDING;
}

/* Unanswered commands are lost with the connection (some may have run). */
static void redis_disconnect(struct sink *s)
{
	struct redis_sink *r = (struct redis_sink *)s;

	s->dropped += r->pending;
	r->pending = 0;
	redisFree(r->rc); /* closes the socket */
	r->rc = NULL;
}

/*
 * Write what hiredis holds as far as the socket takes it, and read the
 * replies there are: -1 if the connection is lost (sink down, counted).
 */
static int redis_send(struct redis_sink *r)
{
	void *reply;
	int done;

	if (redisBufferWrite(r->rc, &done) == REDIS_ERR ||
	    redisBufferRead(r->rc) == REDIS_ERR) {
		snprintf(r->why, sizeof(r->why), "%s", r->rc->errstr);
		out_sink_down(&r->s, r->why);
		return -1;
	}
	/* the replies (counts) are read and thrown away; one is a delivery */
	while (redisGetReplyFromReader(r->rc, &reply) == REDIS_OK && reply) {
		redisReply *rep = reply;

		if (r->pending)
			r->pending--;
		if (rep->type == REDIS_REPLY_ERROR) {
			/* WRONGTYPE and the like: this one is not stored */
			r->s.dropped++;
			snprintf(r->why, sizeof(r->why), "%s", rep->str);
			out_sink_warn(&r->s, r->why);
		} else {
			out_sink_up(&r->s, "connected");
		}
		freeReplyObject(reply);
	}
	return 0;
}

/* RPUSH or PUBLISH, pipelined: queued in hiredis, written when it can. */
static void redis_write(struct sink *s, const char *line, size_t len,
			const char *key, size_t klen)
{
	struct redis_sink *r = (struct redis_sink *)s;

	(void)key;
	(void)klen;
	/* a full buffer may have room once redis has caught up */
	if (sdslen(r->rc->obuf) + len > OUT_QUEUE_MAX &&
	    (redis_send(r) < 0 || sdslen(r->rc->obuf) + len > OUT_QUEUE_MAX)) {
		s->dropped++;
		return;
	}
	redisAppendCommand(r->rc, r->channel ? "PUBLISH %s %b" : "RPUSH %s %b",
			   r->key, line, len);
	r->pending++;
	redis_send(r);
}

static void redis_flush(struct sink *s)
{
	struct redis_sink *r = (struct redis_sink *)s;

	if (r->rc)
		redis_send(r);
}

/* Until every command is answered, OUT_CLOSE_MS at most. */
static void redis_close(struct sink *s)
{
	struct redis_sink *r = (struct redis_sink *)s;
	int64_t end = out_now_ms() + OUT_CLOSE_MS, left;
	struct pollfd pf;

	while (r->rc && r->pending && redis_send(r) == 0 && r->pending &&
	       (left = end - out_now_ms()) > 0) {
		pf.fd = r->rc->fd;
		pf.events = POLLIN | (sdslen(r->rc->obuf) ? POLLOUT : 0);
		poll(&pf, 1, (int)left);
	}
	out_sink_lost_at_exit(s, r->pending);
	if (r->rc)
		redisFree(r->rc);
	free(r);
}

const struct sink_ops out_redis_ops = {
    .open = redis_open,
    .connect = redis_connect,
    .write = redis_write,
    .flush = redis_flush,
    .disconnect = redis_disconnect,
    .close = redis_close,
};
