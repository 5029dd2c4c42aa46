/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kafka_check.c - events through Kafka: librdkafka's mock cluster, read back. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEYS_MAX 64

/* usage: kafka_check SMTPSCOPE PCAP EXPECTED_EVENTS */
int main(int argc, char **argv)
{
	char errstr[512], out[600], keys[KEYS_MAX][32];
	int parts[KEYS_MAX], nkeys = 0, count = 0, bad = 0, status, i;
	rd_kafka_conf_t *conf;
	rd_kafka_t *host, *c;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_topic_partition_list_t *topics;
	const char *bs;
	time_t end;
	pid_t pid;

	if (argc != 4)
		return 2;
	/* the mock cluster lives in a client handle of this process */
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	mc = host ? rd_kafka_mock_cluster_new(host, 1) : NULL;
	if (!mc) {
		printf("FAIL kafka/mock-cluster: %s\n", errstr);
		return 1;
	}
	bs = rd_kafka_mock_cluster_bootstraps(mc);
	rd_kafka_mock_topic_create(mc, "smtp", 3, 1);
	snprintf(out, sizeof(out), "kafka://%s/smtp", bs);
	pid = fork();
	if (pid == 0) {
		execl(argv[1], argv[1], "-r", argv[2], "-o", out, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		printf("FAIL kafka/produce-consume: smtpscope failed (%d)\n",
		       status);
		return 1;
	}
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bs, errstr,
			      sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "group.id", "kafka_check", errstr,
			      sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
			      sizeof(errstr)) ||
	    !(c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr,
			       sizeof(errstr)))) {
		printf("FAIL kafka/produce-consume: consumer: %s\n", errstr);
		return 1;
	}
	rd_kafka_poll_set_consumer(c);
	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, "smtp", RD_KAFKA_PARTITION_UA);
	rd_kafka_subscribe(c, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	end = time(NULL) + 30;
	while (count < atoi(argv[3]) && time(NULL) < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);

		if (!m)
			continue;
		if (!m->err) {
			char key[32] = "";

			count++;
			if (m->len < 2 || ((char *)m->payload)[0] != '{')
				bad++;
			snprintf(key, sizeof(key), "%.*s", (int)m->key_len,
				 (const char *)m->key);
			/* a session's events stay in one partition */
			for (i = 0; i < nkeys && strcmp(keys[i], key); i++)
				;
			if (i == nkeys && nkeys < KEYS_MAX) {
				strcpy(keys[nkeys], key);
				parts[nkeys++] = m->partition;
			} else if (i < nkeys && parts[i] != m->partition) {
				bad++;
			}
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
	if (count == atoi(argv[3]) && !bad) {
		printf("PASS kafka/produce-consume (%d events, %d keys)\n", count,
		       nkeys);
		return 0;
	}
	printf("FAIL kafka/produce-consume: %d of %s events read, %d bad\n",
	       count, argv[3], bad);
	return 1;
}
