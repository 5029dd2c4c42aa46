/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/nids_alone.c: baseline that reassembles a pcap file with libnids alone
 * and discards the data. */

/*
 * Usage: nids_alone FILE.pcap [STREAMS]   (libnids' table size, default 262144)
 *
 * Prints "bytes=N sessions=N packets=N" on stdout: the TCP payload bytes
 * delivered in both directions, the connections libnids established, and
 * the IPv4 packets libnids was handed (counted by an ip_frag callback: one
 * increment per packet, so no separate pass over the file is needed).
 * How the streams ended and what libnids complained about go to stderr.
 */

#include <nids.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long n_bytes, n_sessions, n_packets;
static unsigned long long n_close, n_reset, n_timeout, n_exiting;
static unsigned long long n_syslog, syslog_by[8][16];

static void on_ip_frag(struct ip *iph, int len)
{
	(void)iph;
	(void)len;
	n_packets++;
}

/* libnids' warnings: counted instead of going to syslog */
static void on_syslog(int type, int errnum, struct ip *iph, void *data)
{
	(void)iph;
	(void)data;
	n_syslog++;
	if (type >= 0 && type < 8 && errnum >= 0 && errnum < 16)
		syslog_by[type][errnum]++;
}

static void on_tcp(struct tcp_stream *ts, void **param)
{
	(void)param;
	switch (ts->nids_state) {
	case NIDS_JUST_EST:
		ts->client.collect++;
		ts->server.collect++;
		n_sessions++;
		break;
	case NIDS_DATA:
		/* count_new of client: bytes from the server, and the other way
		 * round */
		n_bytes += (unsigned long long)ts->client.count_new +
			   (unsigned long long)ts->server.count_new;
		break;
	case NIDS_CLOSE:
		n_close++;
		break;
	case NIDS_RESET:
		n_reset++;
		break;
	case NIDS_TIMED_OUT:
		n_timeout++;
		break;
	case NIDS_EXITING:
		n_exiting++;
		break;
	}
}

int main(int argc, char **argv)
{
	static struct nids_chksum_ctl no_chksum = {
	    .netaddr = 0,
	    .mask = 0,
	    .action = NIDS_DONT_CHKSUM,
	};
	int type, err;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: nids_alone FILE.pcap [STREAMS]\n");
		return 2;
	}
	nids_params.filename = argv[1];
	nids_params.device = NULL;
	nids_params.scan_num_hosts = 0;
	/* the table smtpscope gives libnids for --max-sessions N is
	 * N + N / 3 + 16 streams (196608: 262160) */
	nids_params.n_tcp_streams = argc == 3 ? atoi(argv[2]) : 262144;
	nids_params.tcp_workarounds = 1;
	nids_params.syslog = on_syslog;
	nids_register_chksum_ctl(&no_chksum, 1);

	if (!nids_init()) {
		fprintf(stderr, "nids_alone: nids_init: %s\n", nids_errbuf);
		return 1;
	}
	nids_register_ip_frag(on_ip_frag);
	nids_register_tcp(on_tcp);
	nids_run();  /* returns when the file ends; it calls nids_exit() itself
		      */
	nids_exit(); /* a no-op then, kept in case a libnids does not */

	printf("bytes=%llu sessions=%llu packets=%llu\n", n_bytes, n_sessions,
	       n_packets);
	fprintf(stderr,
		"nids_alone: closed=%llu reset=%llu timed_out=%llu "
		"exiting=%llu syslog=%llu\n",
		n_close, n_reset, n_timeout, n_exiting, n_syslog);
	for (type = 0; type < 8; type++)
		for (err = 0; err < 16; err++)
			if (syslog_by[type][err])
				fprintf(stderr,
					"nids_alone: syslog type=%d err=%d "
					"count=%llu\n",
					type, err, syslog_by[type][err]);
	return 0;
}
