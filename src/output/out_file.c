/* SPDX-License-Identifier: GPL-2.0-or-later */
/* out_file.c - file:PATH and standard output: whole events, drops counted. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "output_int.h"

/* Events are gathered up to this many bytes, then written at once. */
#define OUT_FILE_BUF (64 * 1024)

struct file_sink {
	struct sink s;
	int fd;
	char *path; /* NULL: standard output, never reopened */
	char *buf;  /* whole lines not yet written; NULL: unbuffered */
	size_t len;
	bool stdio_first; /* -T shares stdout: flush its stdio buffer first */
};

static int file_open_fd(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
}

static struct sink *file_open(const char *spec, char *err)
{
	struct file_sink *f = xcalloc(1, sizeof(*f));
	const char *path = spec + 5;

	if (!strcmp(path, "-")) {
		f->fd = STDOUT_FILENO;
		f->s.name = "stdout";
		/* a terminal shows each event as it comes, as stdio would */
		if (!isatty(f->fd))
			f->buf = xmalloc(OUT_FILE_BUF);
		return &f->s;
	}
	f->path = xstrndup(path, strlen(path));
	f->s.name = f->path;
	f->fd = file_open_fd(f->path);
	if (f->fd < 0) {
		snprintf(err, OUT_ERR_MAX, "%.200s: %s", f->path,
			 strerror(errno));
		free(f->path);
		free(f);
		return NULL;
	}
	f->buf = xmalloc(OUT_FILE_BUF);
	return &f->s;
}

/*
 * Write the iovecs whole, or count as dropped every event whose newline
 * did not make it (a part of a line may be in the file: lost too).
 */
static void file_writev(struct file_sink *f, struct iovec *v, int nv)
{
	struct sink *s = &f->s;
	ssize_t w;
	int i;

	if (f->stdio_first)
		fflush(stdout);
	while (nv > 0) {
		w = writev(f->fd, v, nv);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			for (i = 0; i < nv; i++)
				s->dropped +=
				    out_lines(v[i].iov_base, v[i].iov_len);
			if (w < 0 && errno == EPIPE && !f->path) {
				/* the reader is gone (| head): no warning */
				s->reader_gone = true;
				return;
			}
			s->write_error = true;
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

static void file_flush(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;
	struct iovec v = {f->buf, f->len};

	if (!f->len)
		return;
	f->len = 0;
	file_writev(f, &v, 1);
}

/*
 * Whole lines only, written with write(2) rather than stdio: a failed
 * write (full disk) loses whole events we can count, before the stats
 * event reports them. Buffered: one write(2) per 64 KB, not per event.
 */
static void file_write(struct sink *s, const char *line, size_t len,
		       const char *key, size_t klen)
{
	struct file_sink *f = (struct file_sink *)s;
	struct iovec iov[2] = {{(void *)line, len}, {(void *)"\n", 1}};

	(void)key;
	(void)klen;
	if (s->reader_gone) {
		s->dropped++;
		return;
	}
	if (f->buf && len < OUT_FILE_BUF) {
		if (f->len + len + 1 > OUT_FILE_BUF)
			file_flush(s);
		memcpy(f->buf + f->len, line, len);
		f->buf[f->len + len] = '\n';
		f->len += len + 1;
		return;
	}
	file_flush(s); /* keep the order */
	file_writev(f, iov, 2);
}

static void file_reopen(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;
	int fd;

	file_flush(s); /* what was written before goes to the old file */
	if (!f->path)
		return;
	fd = file_open_fd(f->path);
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

	file_flush(s);
	if (f->path)
		close(f->fd);
	free(f->buf);
	free(f->path);
	free(f);
}

static void share_stdout(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;

	if (f->path)
		return;
	file_flush(s);
	free(f->buf);
	f->buf = NULL;
	f->stdio_first = true;
}

const struct sink_ops out_file_ops = {
    .is_file = true,
    .share_stdout = share_stdout,
    .open = file_open,
    .write = file_write,
    .flush = file_flush,
    .reopen = file_reopen,
    .close = file_close,
};
