/* SPDX-License-Identifier: GPL-2.0-or-later */
/* main.c - smtpscope's command line, signals and wiring. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authwatch.h"
#include "capture.h"
#include "extract.h"
#include "hashq.h"
#include "output.h"
#include "event.h"
#include "reassembly.h"
#include "util.h"

#define SMTPSCOPE_VERSION    "0.1.0"
#define DEFAULT_PORTS	     "25,465,587,2525"
#define DEFAULT_MAX_SESSIONS 196608 /* libnids' table: 262160, as before */
#define DEFAULT_SNAPLEN	     262144
#define DEFAULT_AUTH_FAILURES 5
#define DEFAULT_AUTH_WINDOW 600 /* seconds */
#define DEFAULT_IDLE_TIMEOUT 300 /* seconds */
#define DEFAULT_MEMCAP (1ull << 30) /* estimated bytes of session state */
#define DEFAULT_EXTRACT_MAX_BYTES (UINT64_C(1) << 30) /* a run */

static volatile sig_atomic_t stop_requested, reopen_requested,
    stats_requested;
static struct cap *the_cap;
static bool reader_gone; /* stdout's reader went away ("| head"): stop */

/* Signal handlers only set flags (and wake the capture to stop). */
static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		reopen_requested = 1;
		return;
	}
	if (sig == SIGUSR1) {
		stats_requested = 1;
		return;
	}
	stop_requested = 1;
	if (the_cap)
		cap_break(the_cap);
}

/* What the packet loop does between packets: rotation, stats. */
struct service {
	struct ev_ctx *ctx;
	int64_t interval; /* --stats-interval, microseconds; 0: off */
	int64_t last_stats;
	uint64_t drops_seen;
	uint64_t written; /* events written when the sinks were last checked */
};

static struct json_object *stats_json(struct cap *c, struct ev_ctx *ctx);
static void die(int code, const char *fmt, const char *a, const char *b);

static void write_stats(struct service *sv, int64_t ts)
{
	struct cap_stats cs;

	out_flush(sv->ctx->sinks); /* output_dropped: every event before */
	ev_write_stats(sv->ctx, ts, stats_json(the_cap, sv->ctx));
	out_flush(sv->ctx->sinks);
	cap_get_stats(the_cap, &cs);
	if (cs.kernel_drop + cs.if_drop > sv->drops_seen) {
		fprintf(stderr,
			"smtpscope: warning: the capture dropped %llu packets "
			"so far (kernel %llu, interface %llu): sessions may "
			"have gaps; raise -B or filter\n",
			(unsigned long long)(cs.kernel_drop + cs.if_drop),
			(unsigned long long)cs.kernel_drop,
			(unsigned long long)cs.if_drop);
		sv->drops_seen = cs.kernel_drop + cs.if_drop;
	}
	sv->last_stats = ts;
}

static void reopen_output(struct service *sv)
{
	reopen_requested = 0;
	out_reopen(sv->ctx->sinks);
}

/* Stdout's reader is gone (EPIPE): end the run as a stop, quietly. */
static void check_reader(const struct ev_ctx *ctx)
{
	if (!reader_gone && out_reader_gone(ctx->sinks)) {
		reader_gone = true;
		cap_break(the_cap);
	}
}

/* Rotation, stats on demand or by the clock: ts is packet time. */
static void service(struct service *sv, int64_t ts)
{
	if (reopen_requested)
		reopen_output(sv);
	if (!ev_json(sv->ctx))
		return;
	if (!sv->last_stats)
		sv->last_stats = ts;
	if (stats_requested ||
	    (sv->interval && ts - sv->last_stats >= sv->interval)) {
		stats_requested = 0;
		write_stats(sv, ts);
	}
}

static void on_packet(void *user, int version, const uint8_t *ip,
		      size_t caplen, size_t wirelen, int64_t ts,
		      uint64_t pktno)
{
	struct service *sv = user;

	rs_packet(NULL, version, ip, caplen, wirelen, ts, pktno);
	service(sv, ts);
	if (sv->ctx->written != sv->written) { /* only events can fail */
		sv->written = sv->ctx->written;
		check_reader(sv->ctx);
	}
}

/*
 * A live capture woke up without a packet (or a signal came): act on
 * the signals, and let the wall clock, which stamps live packets too,
 * end idle sessions and pace --stats-interval; write what is held back.
 */
static void on_idle(void *user, int64_t now)
{
	struct service *sv = user;

	if (now < rs_last_ts())
		now = rs_last_ts(); /* never back in time */
	rs_tick(now);
	service(sv, now);
	out_flush(sv->ctx->sinks);
	check_reader(sv->ctx);
}

/* -Z: give up root once the capture and the output are open. */
static void drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw)
		die(1, "-Z %s: no such user%s", user, "");
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		die(1, "-Z %s: cannot switch user: %s", user, strerror(errno));
	/* refuse to go on as root if the switch did not take */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0))
		die(1, "-Z %s: still root after the switch%s", user, "");
}

static void usage(FILE *out)
{
	fputs(
	    "usage: smtpscope [options] -r FILE [BPF expression]\n"
	    "       smtpscope [options] -i IFACE [BPF expression]\n"
	    "       smtpscope -D\n"
	    "\n"
	    "Rebuilds every SMTP dialogue seen on the wire and writes JSON\n"
	    "events (one per line) or human transcripts.\n"
	    "\n"
	    "  -r, --read FILE        read a pcap or pcapng file ('-': stdin),\n"
	    "                         gzip, zstd or lz4 compressed or not\n"
	    "  -i, --interface IFACE  capture live on IFACE\n"
	    "  -D, --list-interfaces  list the interfaces and exit\n"
	    "  -T, --text             print human transcripts on stdout (JSON\n"
	    "                         then goes only to -o)\n"
	    "      --transcript       add the dialogue to each smtp_session\n"
	    "                         event (\"transcript\": [lines])\n"
	    "  -o, --output FILE      append JSON events to FILE ('-': stdout);\n"
	    "                         also syslog[:FACILITY[@SOCKET]],\n"
	    "                         unix:PATH, unix-stream:PATH,\n"
	    "                         redis://HOST[:PORT]/KEY[?mode=list|channel]\n"
	    "                         kafka://BROKERS/TOPIC\n"
	    "                         (repeatable)\n"
	    "      --no-email         do not parse messages (headers, MIME,\n"
	    "                         attachments): faster, no email object\n"
	    "      --hash-inline      hash and parse bodies in the packet path,\n"
	    "                         without the second thread (one core)\n"
	    "      --extract DIR      write each message to DIR/FLOWID-N.eml\n"
	    "                         (.eml.partial when cut short)\n"
	    "      --extract-attachments\n"
	    "                         and each attachment, decoded, to\n"
	    "                         DIR/SHA256 (needs --extract)\n"
	    "      --extract-max-bytes SIZE\n"
	    "                         write at most SIZE bytes of files in\n"
	    "                         the run (K, M, G suffixes; default 1G;\n"
	    "                         0: no limit)\n"
	    "      --commands         also emit one smtp_command event per\n"
	    "                         command/reply pair\n"
	    "      --ports LIST       SMTP server ports (default " DEFAULT_PORTS
	    ");\n"
	    "                         465 is implicit TLS: counted, not "
	    "decoded\n"
	    "  -c, --count N          stop after N packets\n"
	    "  -B, --buffer-size KB   kernel capture buffer (live capture)\n"
	    "  -Z, --user USER        drop root for USER once the capture\n"
	    "                         and the output are open\n"
	    "      --idle-timeout S   end a session silent for S seconds of\n"
	    "                         packet time (default 300; 0: never)\n"
	    "      --stats-interval S a stats event every S seconds of\n"
	    "                         packet time (also on SIGUSR1); live,\n"
	    "                         the clock stands in while idle\n"
	    "  -s, --snaplen N        live capture snapshot length (default "
	    "262144)\n"
	    "      --max-sessions N   TCP connections tracked at once, half-open\n"
	    "                         ones included; then the oldest half-open,\n"
	    "                         else the session idle longest, is evicted\n"
	    "                         (default 196608)\n"
	    "      --memcap SIZE      cap on the estimated memory of sessions\n"
	    "                         (K, M, G; default 1G; 0: none); over it,\n"
	    "                         connections are shed in the same order\n"
	    "      --show-auth-user   log the AUTH PLAIN/LOGIN user name\n"
	    "                         (passwords are never logged)\n"
	    "      --max-recipients N too_many_recipients above N per\n"
	    "                         transaction (default 100)\n"
	    "      --max-pending N    excessive_pending above N unanswered\n"
	    "                         commands (default 100)\n"
	    "      --auth-failures N  auth_bruteforce at N failed AUTHs in a\n"
	    "                         session or from one client address\n"
	    "                         (default 5)\n"
	    "      --auth-window S    ... within S seconds (default 600)\n"
	    "  -C, --config FILE      options from FILE, one \"name value\" a\n"
	    "                         line (long names; \"filter EXPR\");\n"
	    "                         the command line wins\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          print the version\n"
	    "\n"
	    "A trailing BPF expression is ANDed with the SMTP ports.\n",
	    out);
}

static void die(int code, const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "smtpscope: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	exit(code);
}

static uint64_t parse_num(const char *opt, const char *s, uint64_t min,
			  uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		die(2, "%s: invalid number '%s'", opt, s);
	return v;
}

/* A byte count with an optional K, M or G (powers of 1024). */
static uint64_t parse_size(const char *opt, const char *s)
{
	const char *units = "KkMmGg", *u = NULL;
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end && !end[1] && (u = strchr(units, *end)))
		shift = 10 * (int)((u - units) / 2 + 1);
	if (errno || *s < '0' || *s > '9' || (*end && !u) ||
	    v > UINT64_MAX >> shift)
		die(2, "%s: invalid size '%s'", opt, s);
	return (uint64_t)v << shift;
}

static void parse_ports(const char *list, struct rs_options *ro)
{
	char *copy = xstrndup(list, strlen(list)), *tok, *save = NULL;

	ro->n_ports = 0;
	ro->tls_port = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint16_t p = (uint16_t)parse_num("--ports", tok, 1, 65535);

		if (ro->n_ports == RS_MAX_PORTS)
			die(2, "--ports: at most 16 ports%s%s", "", "");
		ro->ports[ro->n_ports++] = p;
		if (p == 465)
			ro->tls_port = 465;
	}
	free(copy);
	if (!ro->n_ports)
		die(2, "--ports: empty list%s%s", "", "");
}

/*
 * The SMTP ports as BPF, for ANDing with the user's expression (which
 * goes first, so that its "vlan" shifts the offsets for the ports too).
 * IPv4 fragments pass: libnids reassembles them before the port check.
 */
static char *ports_filter(const struct rs_options *ro)
{
	struct sbuf b = { 0 };
	char port[32];
	size_t i;

	for (i = 0; i < ro->n_ports; i++) {
		int n = snprintf(port, sizeof(port), "%stcp port %u",
				 i ? " or " : "", ro->ports[i]);

		sb_append(&b, port, n);
	}
	sb_append(&b, " or (ip and ip[6:2] & 0x3fff != 0)", 34);
	return b.p;
}

/* The trailing words form the filter expression, as with tcpdump. */
static char *join_args(int argc, char **argv)
{
	struct sbuf b = {0};
	int i;

	for (i = 0; i < argc; i++) {
		if (i)
			sb_append(&b, " ", 1);
		sb_append(&b, argv[i], strlen(argv[i]));
	}
	return b.p;
}

static struct json_object *stats_json(struct cap *c, struct ev_ctx *ctx)
{
	struct json_object *o = json_object_new_object();
	struct cap_stats cs;
	struct rs_stats rs;
	struct ex_stats es;

	cap_get_stats(c, &cs);
	rs_get_stats(&rs);
#define N(k, v)                                                                \
	json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
	N("packets", cs.packets);
	N("bytes", cs.bytes);
	N("ipv4", cs.ipv4);
	N("ipv6", cs.ipv6);
	N("not_ip", cs.other);
	N("snaplen_cut", cs.cut);
	N("kernel_drops", cs.kernel_drop);
	N("interface_drops", cs.if_drop);
	N("tcp_packets", rs.packets);
	N("ipv6_not_analysed", rs.ipv6);
	N("sessions", rs.sessions);
	N("libnids_ip_warnings", rs.nids_ip);
	N("libnids_tcp_warnings", rs.nids_tcp);
	N("midstream_sessions", rs.midstream);
	N("synthesised_handshakes", rs.handshakes);
	N("one_sided_sessions", rs.one_sided);
	N("gaps", rs.gaps);
	N("gap_bytes", rs.gap_bytes);
	N("window_openings", rs.windows);
	N("synthetic_refused", rs.refused);
	N("idle_closed", rs.idle_closed);
	N("evicted_sessions", rs.evicted_sessions);
	N("evicted_half_open", rs.evicted_half_open);
	N("memcap_shed_sessions", rs.memcap_sessions);
	N("memcap_shed_half_open", rs.memcap_half_open);
	N("memcap_shed_bytes", rs.memcap_bytes);
	N("output_dropped", out_dropped(ctx->sinks));
	ex_get_stats(&es);
	N("extracted_files", es.files);
	N("extract_errors", es.errors);
	if (ctx->extract_dir) {
		N("extract_bytes", es.bytes);
		N("extract_skipped", es.skipped);
		N("extract_existing", es.existing);
	}
	N("events", ctx->written + 1);
#undef N
	return o;
}

/*
 * -C FILE: one long option per line, "name value" or "name", '#'
 * comments; "filter EXPR" is the BPF expression. The options go before
 * the command line's, so the command line wins. Returns the new argv.
 */
/* The argv built from -C, freed at exit (its strings are used till then). */
static char **atexit_conf;
static int atexit_nconf;

static void free_conf(void)
{
	int i;

	for (i = 1; atexit_conf && i <= atexit_nconf; i++)
		free(atexit_conf[i]);
	free(atexit_conf);
}

static char **load_config(int *argc, char **argv, char **filter, int *nconf)
{
	const char *path = NULL;
	char line[4096], **nv;
	int i, n = 1, cap = 16, lineno = 0;
	FILE *fp;

	for (i = 1; i < *argc - 1; i++)
		if (!strcmp(argv[i], "-C") || !strcmp(argv[i], "--config"))
			path = argv[i + 1];
	*nconf = 0;
	if (!path)
		return argv;
	fp = fopen(path, "r");
	if (!fp)
		die(1, "-C %s: %s", path, strerror(errno));
	nv = xcalloc(cap, sizeof(*nv));
	nv[0] = argv[0];
	while (fgets(line, sizeof(line), fp)) {
		char *p = line, *name, *value;
		size_t len;

		lineno++;
		p[strcspn(p, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		name = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		value = p;
		len = strlen(value);
		while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
			value[--len] = '\0';
		if (!strcmp(name, "filter")) {
			free(*filter);
			*filter = xstrndup(value, len);
			continue;
		}
		if (!strcmp(name, "config")) {
			fprintf(stderr, "smtpscope: -C %s:%d: config files do "
					"not nest\n",
				path, lineno);
			exit(2);
		}
		if (n + 3 > cap) {
			cap *= 2;
			nv = xrealloc(nv, cap * sizeof(*nv));
		}
		nv[n] = xmalloc(strlen(name) + 3);
		sprintf(nv[n++], "--%s", name);
		if (len)
			nv[n++] = xstrndup(value, len);
	}
	fclose(fp);
	*nconf = n - 1;
	atexit_nconf = n - 1;
	atexit(free_conf);
	for (i = 1; i < *argc; i++) {
		if (n + 2 > cap) {
			cap *= 2;
			nv = xrealloc(nv, cap * sizeof(*nv));
		}
		nv[n++] = argv[i];
	}
	nv[n] = NULL;
	*argc = n;
	return nv;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"read", required_argument, NULL, 'r'},
	    {"interface", required_argument, NULL, 'i'},
	    {"list-interfaces", no_argument, NULL, 'D'},
	    {"text", no_argument, NULL, 'T'},
	    {"transcript", no_argument, NULL, 9},
	    {"no-email", no_argument, NULL, 10},
	    {"hash-inline", no_argument, NULL, 17},
	    {"extract", required_argument, NULL, 11},
	    {"extract-attachments", no_argument, NULL, 14},
	    {"extract-max-bytes", required_argument, NULL, 15},
	    {"stats-interval", required_argument, NULL, 12},
	    {"idle-timeout", required_argument, NULL, 13},
	    {"user", required_argument, NULL, 'Z'},
	    {"buffer-size", required_argument, NULL, 'B'},
	    {"config", required_argument, NULL, 'C'},
	    {"output", required_argument, NULL, 'o'},
	    {"commands", no_argument, NULL, 1},
	    {"ports", required_argument, NULL, 2},
	    {"max-sessions", required_argument, NULL, 3},
	    {"memcap", required_argument, NULL, 16},
	    {"show-auth-user", no_argument, NULL, 4},
	    {"max-recipients", required_argument, NULL, 5},
	    {"max-pending", required_argument, NULL, 6},
	    {"auth-failures", required_argument, NULL, 7},
	    {"auth-window", required_argument, NULL, 8},
	    {"count", required_argument, NULL, 'c'},
	    {"snaplen", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct cap_options co = {.snaplen = DEFAULT_SNAPLEN};
	struct rs_options ro = {.max_sessions = DEFAULT_MAX_SESSIONS};
	struct ev_ctx ctx = {0};
	const char *outpath = NULL;
	char err[CAP_ERRBUF] = "";
	bool list = false, transcript = false, hash_inline = false;
	struct cap_stats cs;
	struct rs_stats rst;
	struct sigaction sa;
	int64_t auth_window = DEFAULT_AUTH_WINDOW, stats_interval = 0;
	uint64_t extract_max = DEFAULT_EXTRACT_MAX_BYTES;
	bool extract_max_set = false;
	char *conf_filter = NULL;
	bool outpath_conf = false, file_conf = false, iface_conf = false;
	int nconf;
	struct service sv = {0};
	const char *run_as = NULL;
	int ch, rc = 0;
	char *filter;

	parse_ports(DEFAULT_PORTS, &ro);
	ro.idle_timeout = (int64_t)DEFAULT_IDLE_TIMEOUT * 1000000;
	ro.memcap = DEFAULT_MEMCAP;
	ro.smtp.ts_start = -1;
	argv = load_config(&argc, argv, &conf_filter, &nconf);
	if (nconf)
		atexit_conf = argv;
	while ((ch = getopt_long(argc, argv, "r:i:DTo:c:s:Z:B:C:hV", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'C':
			break; /* read before the loop */
		case 'r':
			co.file = optarg;
			file_conf = optind - 1 <= nconf;
			break;
		case 'i':
			co.iface = optarg;
			iface_conf = optind - 1 <= nconf;
			break;
		case 'D':
			list = true;
			break;
		case 'T':
			transcript = true;
			break;
		case 'o': {
			const char *spec = optarg;
			bool from_conf = optind - 1 <= nconf;
			char fspec[4096];

			if (out_is_sink(spec)) {
				if (out_add(&ctx.sinks, spec, err) < 0)
					die(2, "%s%s", err, "");
				break;
			}
			if (!strncmp(spec, "file:", 5))
				spec += 5;
			if (!strcmp(spec, "stdout"))
				spec = "-";
			if (!outpath || (outpath_conf && !from_conf)) {
				/* the first, or the command line's for the file's */
				outpath = spec;
				outpath_conf = from_conf;
				break;
			}
			/* another file: a sink of its own */
			if (!strcmp(spec, "-") && !strcmp(outpath, "-"))
				die(2, "-o -: standard output given twice%s%s", "",
				    "");
			snprintf(fspec, sizeof(fspec), "file:%s", spec);
			if (out_add(&ctx.sinks, fspec, err) < 0)
				die(1, "%s%s", err, "");
			break;
		}
		case 1:
			ctx.commands = true;
			break;
		case 2:
			parse_ports(optarg, &ro);
			break;
		case 3:
			ro.max_sessions = (int)parse_num("--max-sessions",
							 optarg, 1, 16777216);
			break;
		case 9:
			ctx.session_transcript = true;
			break;
		case 10:
			ro.smtp.no_message = true;
			break;
		case 17:
			hash_inline = true;
			break;
		case 11:
			ctx.extract_dir = optarg;
			break;
		case 14:
			ctx.extract_attachments = ro.smtp.part_content = true;
			break;
		case 16:
			ro.memcap = parse_size("--memcap", optarg);
			break;
		case 15:
			extract_max = parse_size("--extract-max-bytes", optarg);
			extract_max_set = true;
			break;
		case 12:
			stats_interval = (int64_t)parse_num(
			    "--stats-interval", optarg, 1, 86400 * 365);
			break;
		case 13:
			ro.idle_timeout = (int64_t)parse_num(
			    "--idle-timeout", optarg, 0, 86400 * 365) * 1000000;
			break;
		case 'Z':
			run_as = optarg;
			break;
		case 'B':
			co.buffer_kb = (int)parse_num("-B", optarg, 1, 4194304);
			break;
		case 4:
			ro.smtp.show_auth_user = true;
			break;
		case 5:
			ro.smtp.max_recipients = (unsigned)parse_num(
				"--max-recipients", optarg, 1, 1000000);
			break;
		case 6:
			ro.smtp.max_pending = (unsigned)parse_num(
				"--max-pending", optarg, 1, 4096);
			break;
		case 7:
			ro.smtp.auth_failures = (unsigned)parse_num(
				"--auth-failures", optarg, 1, 1000000);
			break;
		case 8:
			auth_window = (int64_t)parse_num("--auth-window", optarg,
							 1, 86400 * 365);
			break;
		case 'c':
			co.count = parse_num("-c", optarg, 1, UINT64_MAX);
			break;
		case 's':
			co.snaplen = (int)parse_num("-s", optarg, 64, 262144);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("smtpscope %s\n", SMTPSCOPE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (list) {
		if (cap_list_interfaces(err) < 0)
			die(1, "%s%s", err, "");
		return 0;
	}
	/* a source on the command line replaces the config file's */
	if (co.file && co.iface && file_conf != iface_conf) {
		if (file_conf)
			co.file = NULL;
		else
			co.iface = NULL;
	}
	if (!co.file == !co.iface)
		die(2,
		    "give exactly one of -r FILE or -i IFACE (see --help)%s%s",
		    "", "");
	if (ctx.extract_attachments && !ctx.extract_dir)
		die(2, "--extract-attachments needs --extract DIR%s%s", "", "");
	if (extract_max_set && !ctx.extract_dir)
		die(2, "--extract-max-bytes needs --extract DIR%s%s", "", "");
	if (ctx.extract_attachments && ro.smtp.no_message)
		die(2, "--extract-attachments needs the message parser: "
		       "drop --no-email%s%s", "", "");
	filter = join_args(argc - optind, argv + optind);
	if (!filter && conf_filter) /* the command line's wins */
		filter = conf_filter;
	else
		free(conf_filter);
	co.filter = filter;
	co.ports_filter = ports_filter(&ro);

	/* every file and stdout is a sink: drops counted, the run goes on */
	if (outpath || (!transcript && !ctx.sinks)) {
		char fspec[4096];

		snprintf(fspec, sizeof(fspec), "file:%s",
			 outpath ? outpath : "-");
		if (out_add(&ctx.sinks, fspec, err) < 0)
			die(1, "%s%s", err, "");
	}
	if (transcript) {
		ctx.transcript = stdout;
		out_share_stdout(ctx.sinks);
	}
	/* a transcript's message line shows the Subject */
	ro.smtp.message_at_body_end = transcript || ctx.session_transcript;

	if (!ro.smtp.auth_failures)
		ro.smtp.auth_failures = DEFAULT_AUTH_FAILURES;
	ctx.aw = aw_new(ro.smtp.auth_failures, auth_window * 1000000);
	if (ctx.extract_dir && ex_init(ctx.extract_dir, extract_max, err) < 0)
		die(1, "%s%s", err, "");
	/*
	 * Before the capture opens: a signal sent as soon as the capture
	 * socket exists (a supervisor, a test) is never the default action.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_flags = SA_RESTART; /* rotation and stats never stop a read */
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	the_cap = cap_open(&co, err);
	if (!the_cap)
		die(1, "%s%s", err, "");
	if (stop_requested) /* it came while the capture was opening */
		cap_break(the_cap);
	if (rs_init(&ro, &ctx, err) < 0)
		die(1, "%s%s", err, "");

	if (run_as)
		drop_privileges(run_as);
	/* if it fails, hashes are computed inline */
	rc = hash_inline ? 0 : hq_start();
	if (rc)
		fprintf(stderr, "smtpscope: warning: no hashing thread: %s\n",
			strerror(rc));
	rc = 0;
	sv.ctx = &ctx;
	sv.interval = stats_interval * 1000000;
	/* a signal interrupts the read: that is a stop, not an error */
	if (cap_run(the_cap, on_packet, on_idle, &sv, err) < 0 &&
	    !stop_requested && !reader_gone) {
		fprintf(stderr, "smtpscope: %s: %s\n",
			co.file ? co.file : co.iface, err);
		rc = 1;
	}
	rs_finish(stop_requested || reader_gone ? SMTP_CLOSE_SHUTDOWN
						: SMTP_CLOSE_EOF);
	hq_stop();
	if (ev_json(&ctx)) {
		out_flush(ctx.sinks);
		ev_write_stats(&ctx, rs_last_ts(), stats_json(the_cap, &ctx));
	}

	cap_get_stats(the_cap, &cs);
	rs_get_stats(&rst);
	if (rst.ipv6)
		fprintf(stderr,
			"smtpscope: warning: %llu IPv6 packets not analysed "
			"(not TCP, fragmented, or with unknown extension "
			"headers)\n",
			(unsigned long long)rst.ipv6);
	if (cs.cut)
		fprintf(stderr,
			"smtpscope: warning: %llu packets were cut by the "
			"snapshot length; their streams are incomplete\n",
			(unsigned long long)cs.cut);
	if (rst.nids_tcp || rst.nids_ip)
		fprintf(stderr,
			"smtpscope: warning: libnids reported %llu IP and %llu "
			"TCP problems (bad headers, queue overflows)\n",
			(unsigned long long)rst.nids_ip,
			(unsigned long long)rst.nids_tcp);
	cap_close(the_cap);
	aw_free(ctx.aw);
	free(filter);
	free((char *)co.ports_filter);
	/*
	 * A file (or stdout) that lost events said so when it happened (one
	 * warning, stats.output_dropped): the run still fails. Stdout's
	 * reader going away is not a failure.
	 */
	out_flush(ctx.sinks);
	if (out_write_error(ctx.sinks))
		rc = 1;
	if (fflush(stdout) == EOF && !(reader_gone && errno == EPIPE)) {
		fprintf(stderr, "smtpscope: stdout: write error: %s\n",
			strerror(errno));
		rc = 1;
	}
	out_free(ctx.sinks);
	return rc;
}
