/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kafka_check.c - events through Kafka: librdkafka's mock cluster, read back.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEYS_MAX   64
#define ERRORS_MAX 64 /* more Produce requests than a small run makes */

/* The whole of a file (of a few KB), or "". */
static void slurp(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
}

/*
 * Every Produce request fails (a permanent error): every event is lost,
 * and counted, in output_dropped or at exit on stderr.
 */
static int check_failures(const char *smtpscope, const char *pcap, int expected)
{
	rd_kafka_resp_err_t errs[ERRORS_MAX];
	char errstr[512], out[600], text[65536];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	FILE *so = tmpfile(), *se = tmpfile();
	long dropped = -1, lost = 0;
	const char *p;
	rd_kafka_t *host;
	int status, i;
	pid_t pid;

	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	mc = host ? rd_kafka_mock_cluster_new(host, 1) : NULL;
	if (!mc || !so || !se) {
		printf("FAIL kafka/failures-counted: mock cluster: %s\n",
		       errstr);
		return 1;
	}
	rd_kafka_mock_topic_create(mc, "smtp", 3, 1);
	for (i = 0; i < ERRORS_MAX; i++)
		errs[i] = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
	rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */, ERRORS_MAX,
						errs);
	snprintf(out, sizeof(out), "kafka://%s/smtp",
		 rd_kafka_mock_cluster_bootstraps(mc));
	pid = fork();
	if (pid == 0) {
		dup2(fileno(so), 1);
		dup2(fileno(se), 2);
		execl(smtpscope, smtpscope, "-r", pcap, "-o", "-", "-o", out,
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		printf("FAIL kafka/failures-counted: smtpscope failed (%d)\n",
		       status);
		return 1;
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
	/* the stats event, last on stdout, counts what failed before it */
	slurp(so, text, sizeof(text));
	p = strstr(text, "\"output_dropped\":");
	if (p)
		dropped = strtol(p + 17, NULL, 10);
	/* the rest failed at exit: one line on stderr */
	slurp(se, text, sizeof(text));
	p = strstr(text, " events not delivered at exit\n");
	if (p) {
		while (p > text && p[-1] >= '0' && p[-1] <= '9')
			p--;
		lost = strtol(p, NULL, 10);
	}
	fclose(so);
	fclose(se);
	if (dropped < 0 || dropped + lost != expected) {
		printf("FAIL kafka/failures-counted: %ld dropped + %ld lost at "
		       "exit, of %d events\n",
		       dropped, lost, expected);
		return 1;
	}
	printf("PASS kafka/failures-counted (%ld + %ld)\n", dropped, lost);
	return 0;
}

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
	rd_kafka_topic_partition_list_add(topics, "smtp",
					  RD_KAFKA_PARTITION_UA);
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
	if (count == atoi(argv[3]) && !bad)
		printf("PASS kafka/produce-consume (%d events, %d keys)\n",
		       count, nkeys);
	else
		printf("FAIL kafka/produce-consume: %d of %s events read, %d "
		       "bad\n",
		       count, argv[3], bad);
	fflush(stdout); /* before the fork of the next check */
	return check_failures(argv[1], argv[2], atoi(argv[3])) ||
	       count != atoi(argv[3]) || bad;
}
