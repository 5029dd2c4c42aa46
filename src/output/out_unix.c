/* SPDX-License-Identifier: GPL-2.0-or-later */
/* out_unix.c - unix:PATH (datagrams) and unix-stream:PATH (lines) sinks. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output_int.h"

int out_unix_init(struct unix_sink *u, int type, const char *path,
		  const char *spec, char *err)
{
	if (!*path || strlen(path) >= sizeof(u->path)) {
		snprintf(err, OUT_ERR_MAX, "-o %s: bad socket path", spec);
		return -1;
	}
	strcpy(u->path, path);
	u->s.name = u->path;
	u->type = type;
	u->fd = -1;
	u->queue.max = OUT_QUEUE_MAX;
	return 0;
}

int out_unix_connect(struct sink *s, const char **why)
{
	struct unix_sink *u = (struct unix_sink *)s;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	strcpy(sa.sun_path, u->path);
	u->fd = socket(AF_UNIX, u->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		*why = strerror(errno);
		return OUT_DOWN;
	}
	if (connect(u->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		*why = strerror(errno);
		close(u->fd);
		u->fd = -1;
		return OUT_DOWN;
	}
	return OUT_UP;
}

void out_unix_send_dgram(struct unix_sink *u, const char *p, size_t n)
{
	if (send(u->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n)
		return;
	u->s.dropped++;
	if (errno != EAGAIN && errno != ENOBUFS && errno != EMSGSIZE)
		out_sink_down(&u->s, strerror(errno)); /* reconnect later */
}

void out_unix_disconnect(struct sink *s)
{
	struct unix_sink *u = (struct unix_sink *)s;

	/* what a stream held is lost with the connection */
	s->dropped += out_lines(u->queue.p, u->queue.len);
	sb_reset(&u->queue);
	close(u->fd);
	u->fd = -1;
}

/* As much of a stream's queue as the socket takes now, never waiting. */
static void stream_send(struct unix_sink *u)
{
	ssize_t w;

	if (u->fd < 0 || !u->queue.len)
		return;
	w = send(u->fd, u->queue.p, u->queue.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w > 0) {
		memmove(u->queue.p, u->queue.p + w, u->queue.len - (size_t)w);
		u->queue.len -= (size_t)w;
	} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
		out_sink_down(&u->s, strerror(errno)); /* counts the queue */
	}
}

/*
 * A reader that is connected but does not read must not hold up the exit:
 * the socket stays non-blocking and the wait is bounded.
 */
void out_unix_close(struct unix_sink *u)
{
	struct pollfd pf = {.fd = u->fd, .events = POLLOUT};
	int64_t end = out_now_ms() + OUT_CLOSE_MS, left;

	stream_send(u);
	while (u->fd >= 0 && u->queue.len && (left = end - out_now_ms()) > 0) {
		if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
			break;
		stream_send(u);
	}
	out_sink_lost_at_exit(&u->s, out_lines(u->queue.p, u->queue.len));
	if (u->fd >= 0)
		close(u->fd);
	sb_free(&u->queue);
}

static struct sink *unix_open(const char *spec, char *err)
{
	struct unix_sink *u = xcalloc(1, sizeof(*u));
	bool stream = !strncmp(spec, "unix-stream:", 12);

	if (out_unix_init(u, stream ? SOCK_STREAM : SOCK_DGRAM,
			  spec + (stream ? 12 : 5), spec, err) < 0) {
		free(u);
		return NULL;
	}
	return &u->s;
}

static void dgram_write(struct sink *s, const char *line, size_t len,
			const char *key, size_t klen)
{
	(void)key;
	(void)klen;
	out_unix_send_dgram((struct unix_sink *)s, line, len);
}

static void stream_write(struct sink *s, const char *line, size_t len,
			 const char *key, size_t klen)
{
	struct unix_sink *u = (struct unix_sink *)s;

	(void)key;
	(void)klen;
	/* a full queue may have room once the reader has caught up */
	if (u->queue.len + len + 1 > OUT_QUEUE_MAX)
		stream_send(u);
	/* whole lines only: one that does not fit the queue is dropped */
	if (u->fd < 0 || u->queue.len + len + 1 > OUT_QUEUE_MAX) {
		s->dropped++;
		return;
	}
	sb_append(&u->queue, line, len);
	sb_append(&u->queue, "\n", 1);
	stream_send(u);
}

static void stream_flush(struct sink *s)
{
	stream_send((struct unix_sink *)s);
}

static void unix_close(struct sink *s)
{
	out_unix_close((struct unix_sink *)s);
	free(s);
}

const struct sink_ops out_dgram_ops = {
    .open = unix_open,
    .connect = out_unix_connect,
    .write = dgram_write,
    .disconnect = out_unix_disconnect,
    .close = unix_close,
};

const struct sink_ops out_stream_ops = {
    .open = unix_open,
    .connect = out_unix_connect,
    .write = stream_write,
    .flush = stream_flush,
    .disconnect = out_unix_disconnect,
    .close = unix_close,
};
