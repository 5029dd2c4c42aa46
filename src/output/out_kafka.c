/* SPDX-License-Identifier: GPL-2.0-or-later */
/* out_kafka.c - kafka://BROKERS/TOPIC, a producer through librdkafka. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "output_int.h"

struct kafka_sink {
	struct sink s;
	rd_kafka_t *rk;
	char topic[256];
	char name[768]; /* BROKERS/TOPIC, for messages */
	bool closing;	/* failures now are counted as lost at exit */
	uint64_t lost;	/* failures while closing */
};

/*
 * librdkafka's word on each message (on our thread, from rd_kafka_poll):
 * one that failed after it was queued (message.timeout.ms, a broker error,
 * purged at exit) is dropped.
 */
static void kafka_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m,
			    void *opaque)
{
	struct kafka_sink *k = opaque;

	(void)rk;
	if (!m->err)
		out_sink_up(&k->s, "delivering");
	else if (k->closing)
		k->lost++;
	else {
		k->s.dropped++;
		out_sink_warn(&k->s, rd_kafka_err2str(m->err));
	}
}

/*
 * librdkafka queues (bounded) and sends on its own threads, and connects
 * and reconnects by itself: to us this sink is never down, only full.
 */
static struct sink *kafka_open(const char *spec, char *err)
{
	struct kafka_sink *k = xcalloc(1, sizeof(*k));
	const char *slash = strchr(spec + 8, '/');
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char brokers[512], ebuf[256];

	if (!slash || slash == spec + 8 || !slash[1] ||
	    (size_t)(slash - spec - 8) >= sizeof(brokers) ||
	    strlen(slash + 1) >= sizeof(k->topic)) {
		snprintf(err, OUT_ERR_MAX,
			 "-o %s: expected kafka://BROKERS/TOPIC", spec);
		rd_kafka_conf_destroy(conf);
		free(k);
		return NULL;
	}
	memcpy(brokers, spec + 8, (size_t)(slash - spec - 8));
	brokers[slash - spec - 8] = '\0';
	strcpy(k->topic, slash + 1);
	snprintf(k->name, sizeof(k->name), "%s/%s", brokers, k->topic);
	k->s.name = k->name;
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_delivered);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, ebuf,
			      sizeof(ebuf)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "100000",
			      ebuf, sizeof(ebuf)) != RD_KAFKA_CONF_OK ||
	    !(k->rk =
		  rd_kafka_new(RD_KAFKA_PRODUCER, conf, ebuf, sizeof(ebuf)))) {
		snprintf(err, OUT_ERR_MAX, "-o %.100s: %.140s", spec, ebuf);
		rd_kafka_conf_destroy(conf);
		free(k);
		return NULL;
	}
	return &k->s;
}

/* The key is the flow, so a session's events keep one partition. */
static void kafka_write(struct sink *s, const char *line, size_t len,
			const char *key, size_t klen)
{
	struct kafka_sink *k = (struct kafka_sink *)s;
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    k->rk, RD_KAFKA_V_TOPIC(k->topic), RD_KAFKA_V_KEY(key, klen),
	    RD_KAFKA_V_VALUE((void *)line, len),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);

	if (e) { /* queue full, or a bad topic: dropped, counted */
		s->dropped++;
		out_sink_warn(s, rd_kafka_err2str(e));
	}
	rd_kafka_poll(k->rk, 0); /* delivery reports, errors */
}

static void kafka_flush(struct sink *s)
{
	rd_kafka_poll(((struct kafka_sink *)s)->rk, 0);
}

static void kafka_close(struct sink *s)
{
	struct kafka_sink *k = (struct kafka_sink *)s;

	/* what librdkafka holds, with at most 5 s of waiting */
	k->closing = true;
	if (rd_kafka_flush(k->rk, 5000)) {
		/* the rest fails now: their reports count them */
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE |
					  RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(k->rk, 1000);
	}
	out_sink_lost_at_exit(s, k->lost + (uint64_t)rd_kafka_outq_len(k->rk));
	rd_kafka_destroy(k->rk);
	free(k);
}

const struct sink_ops out_kafka_ops = {
    .keyed = true,
    .open = kafka_open,
    .write = kafka_write,
    .flush = kafka_flush,
    .close = kafka_close,
};
