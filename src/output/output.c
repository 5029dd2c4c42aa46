/* SPDX-License-Identifier: GPL-2.0-or-later */
/* output.c - the set of sinks: dispatch, reconnect pacing, warnings, drops. */
#include "output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output_int.h"
#include "util.h"

struct out {
	struct sink *sinks; /* newest first */
};

/* -o prefixes; file: is made a sink by main, for every file and stdout */
static const struct {
	const char *prefix;
	bool exact; /* the whole spec, not a prefix */
	const struct sink_ops *ops;
} kinds[] = {
    {"syslog", true, &out_syslog_ops},
    {"syslog:", false, &out_syslog_ops},
    {"unix:", false, &out_dgram_ops},
    {"unix-stream:", false, &out_stream_ops},
    {"redis://", false, &out_redis_ops},
    {"kafka://", false, &out_kafka_ops},
    {"file:", false, &out_file_ops},
};

static const struct sink_ops *kind_of(const char *spec)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].exact ? !strcmp(spec, kinds[i].prefix)
				   : !strncmp(spec, kinds[i].prefix,
					      strlen(kinds[i].prefix)))
			return kinds[i].ops;
	return NULL;
}

bool out_is_sink(const char *spec)
{
	const struct sink_ops *ops = kind_of(spec);

	return ops && !ops->is_file;
}

void out_sink_warn(struct sink *s, const char *why)
{
	if (!s->warned)
		fprintf(
		    stderr,
		    "smtpscope: output %s: %s; events dropped (and counted) "
		    "until it is back\n",
		    s->name, why);
	s->warned = true;
}

void out_sink_up(struct sink *s, const char *how)
{
	if (s->warned)
		fprintf(stderr, "smtpscope: output %s: %s again\n", s->name,
			how);
	s->warned = false;
}

void out_sink_down(struct sink *s, const char *why)
{
	if (why)
		out_sink_warn(s, why);
	s->ops->disconnect(s);
	s->up = false;
}

void out_sink_lost_at_exit(struct sink *s, uint64_t n)
{
	uint64_t late;

	s->dropped += n;
	late = s->dropped - s->reported;
	if (late)
		fprintf(stderr,
			"smtpscope: output %s: %llu event%s not delivered at "
			"exit\n",
			s->name, (unsigned long long)late,
			late == 1 ? "" : "s");
}

int64_t out_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

uint64_t out_lines(const char *p, size_t n)
{
	const char *end = p + n;
	uint64_t lines = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p++;
	}
	return lines;
}

/* A sink that is down tries again, at most once a second. */
static bool sink_connect(struct sink *s)
{
	const char *why = "";
	time_t now = time(NULL);
	int r;

	if (s->up)
		return true;
	if (now < s->retry)
		return false;
	s->retry = now + 1;
	r = s->ops->connect(s, &why);
	if (r == OUT_DOWN) {
		out_sink_warn(s, why);
		return false;
	}
	s->up = true;
	if (r == OUT_UP)
		out_sink_up(s, "connected");
	return true;
}

int out_add(struct out **op, const char *spec, char *err)
{
	const struct sink_ops *ops = kind_of(spec);
	struct sink *s;

	if (!ops) {
		snprintf(err, OUT_ERR_MAX, "-o %.200s: unknown output", spec);
		return -1;
	}
	s = ops->open(spec, err);
	if (!s)
		return -1;
	s->ops = ops;
	s->up = !ops->connect;
	if (ops->connect)
		sink_connect(s); /* a sink that is down now is not fatal */
	if (!*op)
		*op = xcalloc(1, sizeof(**op));
	s->next = (*op)->sinks;
	(*op)->sinks = s;
	return 0;
}

void out_write(struct out *o, const char *line, size_t len, const char *key,
	       size_t klen)
{
	struct sink *s;

	for (s = o ? o->sinks : NULL; s; s = s->next) {
		if (!sink_connect(s)) {
			s->dropped++;
			continue;
		}
		s->ops->write(s, line, len, key, klen);
	}
}

void out_flush(struct out *o)
{
	struct sink *s;

	for (s = o ? o->sinks : NULL; s; s = s->next)
		if (s->ops->flush)
			s->ops->flush(s);
}

void out_share_stdout(struct out *o)
{
	struct sink *s;

	for (s = o ? o->sinks : NULL; s; s = s->next)
		if (s->ops->share_stdout)
			s->ops->share_stdout(s);
}

bool out_keyed(const struct out *o)
{
	const struct sink *s;

	for (s = o ? o->sinks : NULL; s; s = s->next)
		if (s->ops->keyed)
			return true;
	return false;
}

bool out_write_error(const struct out *o)
{
	const struct sink *s;

	for (s = o ? o->sinks : NULL; s; s = s->next)
		if (s->write_error)
			return true;
	return false;
}

bool out_reader_gone(const struct out *o)
{
	const struct sink *s;

	for (s = o ? o->sinks : NULL; s; s = s->next)
		if (s->reader_gone)
			return true;
	return false;
}

void out_reopen(struct out *o)
{
	struct sink *s;

	for (s = o ? o->sinks : NULL; s; s = s->next)
		if (s->ops->reopen)
			s->ops->reopen(s);
}

uint64_t out_dropped(struct out *o)
{
	struct sink *s;
	uint64_t n = 0;

	for (s = o ? o->sinks : NULL; s; s = s->next) {
		n += s->dropped;
		s->reported = s->dropped;
	}
	return n;
}

void out_free(struct out *o)
{
	struct sink *s, *next;

	if (!o)
		return;
	for (s = o->sinks; s; s = next) {
		next = s->next;
		s->ops->close(s);
	}
	free(o);
}
