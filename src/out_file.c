/* SPDX-License-Identifier: GPL-2.0-or-later */
/* out_file.c - file:PATH, a second (third ...) file of events. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "output_int.h"

struct file_sink {
	struct sink s;
	int fd;
	char *path;
};

static int file_open_fd(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
}

static struct sink *file_open(const char *spec, char *err)
{
	struct file_sink *f = xcalloc(1, sizeof(*f));

	f->path = xstrndup(spec + 5, strlen(spec + 5));
	f->s.name = f->path;
	f->fd = file_open_fd(f->path);
	if (f->fd < 0) {
		snprintf(err, OUT_ERR_MAX, "%.200s: %s", f->path,
			 strerror(errno));
		free(f->path);
		free(f);
		return NULL;
	}
	return &f->s;
}

/*
 * One write(2) per event, not a stdio buffer: a failed write (full disk)
 * loses whole events we can count, before the stats event reports them.
 */
static void file_write(struct sink *s, const char *line, size_t len,
		       const char *key, size_t klen)
{
	struct file_sink *f = (struct file_sink *)s;
	struct iovec iov[2] = {{(void *)line, len}, {(void *)"\n", 1}};
	struct iovec *v = iov;
	int nv = 2;
	ssize_t w;

	(void)key;
	(void)klen;
	while (nv > 0) {
		w = writev(f->fd, v, nv);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* a part of the line may be in the file: lost too */
			s->dropped++;
			out_sink_warn(s,
				      w < 0 ? strerror(errno) : "short write");
			return;
		}
		while (nv > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			nv--;
		}
		if (nv > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	out_sink_up(s, "writing");
}

static void file_reopen(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;
	int fd = file_open_fd(f->path);

	if (fd < 0) {
		fprintf(stderr,
			"smtpscope: %s: cannot reopen: %s; still writing to "
			"the old file\n",
			f->path, strerror(errno));
		return;
	}
	close(f->fd);
	f->fd = fd;
}

static void file_close(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;

	close(f->fd);
	free(f->path);
	free(f);
}

const struct sink_ops out_file_ops = {
    .open = file_open,
    .write = file_write,
    .reopen = file_reopen,
    .close = file_close,
};
