/* SPDX-License-Identifier: GPL-2.0-or-later */
/* options.c - one table of options: parsing, -C files, --help, the man page. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DEFAULT_PORTS		  "25,465,587,2525"
#define DEFAULT_MAX_SESSIONS	  196608 /* libnids' table: 262160, as before */
#define DEFAULT_SNAPLEN		  262144
#define DEFAULT_AUTH_FAILURES	  5
#define DEFAULT_AUTH_WINDOW	  600	       /* seconds */
#define DEFAULT_IDLE_TIMEOUT	  300	       /* seconds */
#define DEFAULT_MEMCAP		  (1ull << 30) /* estimated bytes of sessions */
#define DEFAULT_EXTRACT_MAX_BYTES (UINT64_C(1) << 30) /* a run */

enum opt_id {
	OPT_NONE = 256, /* above every short option's character */
	OPT_READ = OPT_NONE + 1,
	OPT_INTERFACE,
	OPT_LIST_INTERFACES,
	OPT_TEXT,
	OPT_TRANSCRIPT,
	OPT_OUTPUT,
	OPT_NO_EMAIL,
	OPT_HASH_INLINE,
	OPT_EXTRACT,
	OPT_EXTRACT_ATTACHMENTS,
	OPT_EXTRACT_MAX_BYTES,
	OPT_COMMANDS,
	OPT_PORTS,
	OPT_DETECT,
	OPT_COUNT,
	OPT_BUFFER_SIZE,
	OPT_USER,
	OPT_IDLE_TIMEOUT,
	OPT_STATS_INTERVAL,
	OPT_SNAPLEN,
	OPT_MAX_SESSIONS,
	OPT_MEMCAP,
	OPT_SHOW_AUTH_USER,
	OPT_MAX_RECIPIENTS,
	OPT_MAX_PENDING,
	OPT_AUTH_FAILURES,
	OPT_AUTH_WINDOW,
	OPT_SLOW_REPLY,
	OPT_COLOR,
	OPT_PROGRESS,
	OPT_LOCAL_DOMAINS,
	OPT_TRUSTED_NETS,
	OPT_NO_PROGRESS,
	OPT_CONFIG,
	OPT_HELP,
	OPT_VERSION,
	OPT_EXPLAIN
};

/*
 * One row per option: what getopt needs, the line of --help and the
 * paragraph of smtpscope(8). Both are printed from here, so they cannot
 * drift apart; the config file takes every long name but "config".
 */
static const struct opt_row {
	enum opt_id id;
	char short_name; /* or 0 */
	const char *name;
	const char *arg; /* the argument's name, or NULL: none */
	const char *help;
	const char *man; /* troff */
} rows[] = {
    {OPT_READ, 'r', "read", "FILE",
     "read a pcap or pcapng file ('-': stdin), gzip, zstd or lz4 compressed or "
     "not",
     "Read a pcap or pcapng file; \\fB\\-\\fR reads standard input.\n"
     "The file may be compressed with gzip, zstd or lz4 (frame format), told "
     "by\n"
     "its magic number, not its name, and decompressed as it is read, from a\n"
     "pipe too; concatenated gzip members and zstd or lz4 frames are read one\n"
     "after the other.\n"
     "A compressed file that is cut short or damaged is reported like a\n"
     "truncated capture: the packets before the damage are analysed, then one\n"
     "line on standard error, exit status 1."},
    {OPT_INTERFACE, 'i', "interface", "IFACE", "capture live on IFACE",
     "Capture live on \\fIIFACE\\fR (immediate mode, snapshot length 262144)."},
    {OPT_LIST_INTERFACES, 'D', "list-interfaces", NULL,
     "list the interfaces and exit", "List the capture interfaces and exit."},
    {OPT_TEXT, 'T', "text", NULL,
     "print human transcripts on stdout (JSON then goes only to -o)",
     "Print human transcripts on standard output; JSON then goes only to "
     "\\fB\\-o\\fR."},
    {OPT_PROGRESS, 0, "progress", NULL,
     "a progress line on stderr while reading a file (default: when stderr "
     "is a terminal)",
     "While reading a file, show on standard error how far it is: bytes read\n"
     "and the percentage, packets, sessions, alerts, MB/s and the time left.\n"
     "On a terminal (the default there) one line is redrawn and cleared at\n"
     "the end; elsewhere (forced with this option, into a log) a line every\n"
     "5 s. It never goes to the JSON outputs and never changes an event."},
    {OPT_NO_PROGRESS, 0, "no-progress", NULL, "no progress line",
     "No progress line, even on a terminal."},
    {OPT_COLOR, 0, "color", "WHEN",
     "colours in -T: auto (a terminal without NO_COLOR; default), always, "
     "never",
     "Colour the transcripts of \\fB\\-T\\fR as grep and git do: a 5xx reply "
     "and an\n"
     "alert red, a 4xx yellow, client lines dim. \\fIWHEN\\fR is \\fBauto\\fR "
     "(the\n"
     "default: when standard output is a terminal and NO_COLOR is not set),\n"
     "\\fBalways\\fR or \\fBnever\\fR. JSON never has colours."},
    {OPT_TRANSCRIPT, 0, "transcript", NULL,
     "add the dialogue to each smtp_session event (\"transcript\": [lines])",
     "Add the dialogue to each smtp_session event as an array of lines."},
    {OPT_OUTPUT, 'o', "output", "FILE",
     "append JSON events to FILE ('-': stdout); also "
     "syslog[:FACILITY[@SOCKET]], unix:PATH, unix-stream:PATH, "
     "redis://HOST[:PORT]/KEY[?mode=list|channel] kafka://BROKERS/TOPIC "
     "(repeatable)",
     "Append JSON events to \\fIFILE\\fR (\\fB\\-\\fR: standard output, the "
     "default).\n"
     "\\fBfile:\\fR\\fIPATH\\fR is the same; \\fBstdout\\fR is \\fB\\-\\fR. "
     "Files are\n"
     "reopened on SIGHUP. Events are written whole, gathered up to 64 KB (at\n"
     "once on a terminal, and whenever a live capture is idle). May be given "
     "again: more files, and socket sinks:\n"
     "\\fBsyslog\\fR[\\fB:\\fR\\fIFACILITY\\fR[\\fB@\\fR\\fISOCKET\\fR]] (RFC "
     "5424 to\n"
     "/dev/log or \\fISOCKET\\fR, one event per message, severity info),\n"
     "\\fBunix:\\fR\\fIPATH\\fR (datagrams), "
     "\\fBunix\\-stream:\\fR\\fIPATH\\fR\n"
     "(lines) and "
     "\\fBredis://\\fR\\fIHOST\\fR[\\fB:\\fR\\fIPORT\\fR]\\fB/"
     "\\fR\\fIKEY\\fR[\\fB?mode=list\\fR|\\fBchannel\\fR]\n"
     "(RPUSH or PUBLISH, pipelined) and "
     "\\fBkafka://\\fR\\fIBROKERS\\fR\\fB/\\fR\\fITOPIC\\fR\n"
     "(keyed by flow: a session's events stay in one partition). A sink never "
     "stalls the capture: what it cannot take is dropped\n"
     "and counted (stats: output_dropped); one that is down is retried once a\n"
     "second."},
    {OPT_NO_EMAIL, 0, "no-email", NULL,
     "do not parse messages (headers, MIME, attachments): faster, no email "
     "object",
     "Do not parse messages (headers, MIME, attachments): faster, no email "
     "object."},
    {OPT_HASH_INLINE, 0, "hash-inline", NULL,
     "hash and parse bodies in the packet path, without the second thread (one "
     "core)",
     "Hash bodies and run the message parser in the packet path, without the\n"
     "second (hashing) thread: the same events from one thread, for a sensor\n"
     "with one core or one shared with busy processes."},
    {OPT_EXTRACT, 0, "extract", "DIR",
     "write each message to DIR/FLOWID-N.eml (.eml.partial when cut short)",
     "Write each message, dot-unstuffed, to "
     "\\fIDIR\\fR/\\fIFLOWID\\fR\\-\\fIN\\fR.eml\n"
     "(the flow_id of its events and smtp.transaction)\n"
     "(written under a temporary name, renamed when complete;\n"
     "\\fB.eml.partial\\fR when cut by a gap or a close).\n"
     "\\fIDIR\\fR is opened once, at start; one writable by every user "
     "without\n"
     "the sticky bit is refused. Each file is created under a new random\n"
     "hidden name with O_EXCL and O_NOFOLLOW, mode 0640 whatever the umask,\n"
     "and renamed with RENAME_NOREPLACE: a symbolic link, FIFO, directory or\n"
     "file found at any name is never opened, followed or replaced; the new\n"
     "file is then dropped and counted (stats: extract_existing). Write\n"
     "failures, a full disk included, drop the file, are said once per cause\n"
     "on standard error and counted (stats: extract_errors); the capture goes\n"
     "on."},
    {OPT_EXTRACT_ATTACHMENTS, 0, "extract-attachments", NULL,
     "and each attachment, decoded, to DIR/SHA256 (needs --extract)",
     "With \\fB\\-\\-extract\\fR: also write each attachment (an attached "
     "message\n"
     "included), decoded, to \\fIDIR\\fR/\\fISHA256\\fR, the hash of its entry "
     "in\n"
     "email.attachments; one cut short to\n"
     "\\fIDIR\\fR/\\fIFLOWID\\fR\\-\\fIN\\fR\\-part\\fIK\\fR.partial.\n"
     "An attachment whose \\fIDIR\\fR/\\fISHA256\\fR is already there (same "
     "content)\n"
     "is not written again."},
    {OPT_EXTRACT_MAX_BYTES, 0, "extract-max-bytes", "SIZE",
     "write at most SIZE bytes of files in the run (K, M, G suffixes; default "
     "1G; 0: no limit)",
     "With \\fB\\-\\-extract\\fR: write at most \\fISIZE\\fR bytes of files in "
     "the\n"
     "run (suffix \\fBK\\fR, \\fBM\\fR or \\fBG\\fR, powers of 1024; default\n"
     "\\fB1G\\fR; \\fB0\\fR: no limit). A file that would go over it is "
     "dropped,\n"
     "said once on standard error and counted (stats: extract_skipped)."},
    {OPT_COMMANDS, 0, "commands", NULL,
     "also emit one smtp_command event per command/reply pair",
     "Also emit one smtp_command event per command/reply pair."},
    {OPT_PORTS, 0, "ports", "LIST",
     "SMTP server ports (default " DEFAULT_PORTS
     "); 465 is implicit TLS: counted, not decoded; 'any': SMTP found by "
     "content on any port",
     "SMTP server ports (default " DEFAULT_PORTS "); 465 is implicit TLS:\n"
     "counted, never decoded.\n"
     ".B any\n"
     "leaves no list: SMTP is found by content on every TCP port, as with\n"
     "\\fB\\-\\-detect\\fR."},
    {OPT_DETECT, 0, "detect", NULL,
     "also find SMTP by content on the other ports (a 220 greeting answered by "
     "EHLO/HELO...), through HTTP CONNECT and SOCKS4/5 tunnels too",
     "Also find SMTP by content on every other TCP port: one side's first "
     "line\n"
     "a reply (a 220 greeting, or any reply mid-session), the other's an SMTP\n"
     "command (EHLO/HELO, or MAIL, RCPT, DATA, BDAT, STARTTLS, RSET, VRFY, "
     "EXPN,\n"
     "ETRN); the server is the side that replies. Other connections are "
     "dropped\n"
     "after their first bytes (at most 2 KiB each way). An HTTP CONNECT or a\n"
     "SOCKS4/4a/5 handshake (username/password included, the password never\n"
     "logged) is stepped over first; the session then says\n"
     "\\fBtunnel\\fR (http-connect, socks4, socks5) and "
     "\\fBtunnel_target\\fR.\n"
     "On a listed port a client opening with a CONNECT or SOCKS handshake is\n"
     "stepped over too."},
    {OPT_COUNT, 'c', "count", "N", "stop after N packets",
     "Stop after \\fIN\\fR packets."},
    {OPT_BUFFER_SIZE, 'B', "buffer-size", "KB",
     "kernel capture buffer (live capture)",
     "Kernel capture buffer for live capture."},
    {OPT_USER, 'Z', "user", "USER",
     "drop root for USER once the capture and the output are open",
     "Drop root for \\fIUSER\\fR once the capture and the output are open; "
     "refuse\n"
     "to go on as root when the switch fails."},
    {OPT_IDLE_TIMEOUT, 0, "idle-timeout", "S",
     "end a session silent for S seconds of packet time (default 300; 0: "
     "never)",
     "End a session that sent nothing for \\fIS\\fR seconds of packet time\n"
     "(close: timeout; default 300, 0: never); libnids has no timeout of its "
     "own.\n"
     "On a live capture the wall clock stands in for packet time while no\n"
     "packet comes, so an idle session still ends."},
    {OPT_STATS_INTERVAL, 0, "stats-interval", "S",
     "a stats event every S seconds of packet time (also on SIGUSR1); live, "
     "the clock stands in while idle",
     "Write a stats event every \\fIS\\fR seconds of packet time (on a live\n"
     "capture, of wall-clock time while no packet comes)."},
    {OPT_SNAPLEN, 's', "snaplen", "N",
     "live capture snapshot length (default 262144)",
     "Snapshot length for live capture."},
    {OPT_MAX_SESSIONS, 0, "max-sessions", "N",
     "TCP connections tracked at once, half-open ones included; then the "
     "oldest half-open, else the session idle longest, is evicted (default "
     "196608)",
     "TCP connections held at once, half-open ones included (default 196608).\n"
     "One more evicts the oldest half-open connection, else the session idle\n"
     "longest (close: evicted); counted in stats (evicted_half_open,\n"
     "evicted_sessions)."},
    {OPT_MEMCAP, 0, "memcap", "SIZE",
     "cap on the estimated memory of sessions (K, M, G; default 1G; 0: none); "
     "over it, connections are shed in the same order",
     "Cap on the estimated memory of connection state (K, M or G; default 1G;\n"
     "0: none): 4096 bytes a session, 512 a half-open connection, plus "
     "libnids'\n"
     "buffers and queues and the decoder's buffers, pending commands and\n"
     "transactions. Over it, connections are shed in the same order\n"
     "(never the one whose packet is at hand), end as evicted, are counted in\n"
     "stats (memcap_shed_half_open, memcap_shed_sessions, memcap_shed_bytes),\n"
     "and a memcap_reached alert is raised at most once a minute."},
    {OPT_SHOW_AUTH_USER, 0, "show-auth-user", NULL,
     "log the AUTH PLAIN/LOGIN user name (passwords are never logged)",
     "Log the AUTH user name (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, "
     "SCRAM); passwords, tokens, digests and proofs never appear."},
    {OPT_MAX_RECIPIENTS, 0, "max-recipients", "N",
     "too_many_recipients above N per transaction (default 100)",
     "too_many_recipients above \\fIN\\fR recipients in a transaction (default "
     "100)."},
    {OPT_MAX_PENDING, 0, "max-pending", "N",
     "excessive_pending above N unanswered commands (default 100)",
     "excessive_pending above \\fIN\\fR unanswered commands (default 100)."},
    {OPT_AUTH_FAILURES, 0, "auth-failures", "N",
     "auth_bruteforce at N failed AUTHs in a session or from one client "
     "address (default 5)",
     "auth_bruteforce at \\fIN\\fR failed AUTHs in a session, or from one "
     "client\n"
     "address across sessions (default 5) ..."},
    {OPT_AUTH_WINDOW, 0, "auth-window", "S",
     "... within S seconds (default 600)",
     "\\&... within \\fIS\\fR seconds of packet time (default 600)."},
    {OPT_LOCAL_DOMAINS, 0, "local-domains", "LIST",
     "the domains the servers receive mail for (example.org,.example.net: "
     "a leading dot for subdomains); turns on open_relay",
     "The domains the watched servers are the destination of, comma\n"
     "separated; a leading dot takes the subdomains too. With it, a RCPT\n"
     "accepted (2xx) for another domain from a client outside\n"
     "\\fB\\-\\-trusted\\-nets\\fR that did not authenticate raises "
     "open_relay\n"
     "(critical), and a 5.7.1 refusal for another domain relay_denied (info;\n"
     "a refusal whose text says relaying raises it without the option)."},
    {OPT_TRUSTED_NETS, 0, "trusted-nets", "CIDR,...",
     "client networks allowed to relay (192.0.2.0/24,2001:db8::/32)",
     "Client networks allowed to relay through the servers (their\n"
     "mynetworks), comma separated CIDR blocks or addresses, IPv4 or IPv6."},
    {OPT_SLOW_REPLY, 0, "slow-reply", "S",
     "slow_reply when the server takes over S seconds to answer (default "
     "by command: a tenth of RFC 5321's timeouts)",
     "Raise slow_reply (once a session) when a reply comes more than "
     "\\fIS\\fR\n"
     "seconds after its command. By default the threshold is a tenth of RFC\n"
     "5321 4.5.3.2's timeout for the command: 30 s for the greeting, MAIL,\n"
     "RCPT and other commands, 12 s for DATA, 60 s for the end of data.\n"
     "Every smtp_session event has the greeting delay, the slowest reply and\n"
     "the median reply latency in \\fBtiming\\fR."},
    {OPT_CONFIG, 'C', "config", "FILE",
     "options from FILE, one \"name value\" a line (long names; \"filter "
     "EXPR\"); the command line wins",
     "Read options from \\fIFILE\\fR first: one long option name a line, with "
     "its\n"
     "value after a space (\\fBports 25,587\\fR, \\fBinterface eth0\\fR,\n"
     "\\fBcommands\\fR), \\fBfilter\\fR \\fIEXPR\\fR for the BPF expression, "
     "\\fB#\\fR\n"
     "comments. Options on the command line win."},
    {OPT_HELP, 'h', "help", NULL, "this help", "Print the usage."},
    {OPT_VERSION, 'V', "version", NULL, "print the version",
     "Print the version."},
    {OPT_EXPLAIN, 0, "explain", "CODE",
     "what a reply code (550) or an enhanced status code (5.7.1) means, "
     "and exit",
     "Print what a reply code (\\fB550\\fR), an enhanced status code\n"
     "(\\fB5.7.1\\fR) or both (\\fB\"550 5.7.1\"\\fR) mean, from the "
     "table of\n"
     "RFC 5321, RFC 3463 and the IANA registry that alerts and transcripts\n"
     "use (docs/replies.md), and exit."},
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

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

/* A list of ports, or "any" (true: no list, every port is looked at). */
static bool parse_ports(const char *list, struct rs_options *ro)
{
	char *copy, *tok, *save = NULL;

	ro->n_ports = 0;
	ro->tls_port = 0;
	if (!strcmp(list, "any"))
		return true;
	copy = xstrndup(list, strlen(list));
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint16_t p = (uint16_t)parse_num("--ports", tok, 1, 65535);

		if (ro->n_ports == RS_MAX_PORTS)
			die(2, "--ports: at most %d ports", RS_MAX_PORTS);
		ro->ports[ro->n_ports++] = p;
		if (p == 465)
			ro->tls_port = 465;
	}
	free(copy);
	if (!ro->n_ports)
		die(2, "--ports: empty list");
	return false;
}

/*
 * The SMTP ports as BPF, for ANDing with the user's expression (which
 * goes first, so that its "vlan" shifts the offsets for the ports too).
 * IPv4 fragments pass: libnids reassembles them before the port check.
 */
char *options_ports_filter(const struct rs_options *ro)
{
	static const char frags[] = " or (ip and ip[6:2] & 0x3fff != 0)";
	struct sbuf b = {0};
	char port[32];
	size_t i;

	if (ro->detect) /* any port may carry SMTP */
		sb_append(&b, "tcp", 3);
	for (i = 0; !ro->detect && i < ro->n_ports; i++) {
		int n = snprintf(port, sizeof(port), "%stcp port %u",
				 i ? " or " : "", ro->ports[i]);

		sb_append(&b, port, n);
	}
	sb_append(&b, frags, sizeof(frags) - 1);
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

/* ---- -C FILE ---- */

/* The argv built from -C: its strings are used till the end. */
static char **conf_argv;
static int conf_n;

static void free_conf(void)
{
	int i;

	for (i = 1; conf_argv && i <= conf_n; i++)
		free(conf_argv[i]);
	free(conf_argv);
}

static void push_arg(char ***nv, int *n, int *cap, char *arg)
{
	if (*n + 2 > *cap) {
		*cap *= 2;
		*nv = xrealloc(*nv, *cap * sizeof(**nv));
	}
	(*nv)[(*n)++] = arg;
}

/*
 * -C FILE: one long option per line, "name value" or "name", '#'
 * comments; "filter EXPR" is the BPF expression. The options go before
 * the command line's, so the command line wins. Returns the new argv;
 * *nconf is how many of its words came from the file.
 */
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
		if (!strcmp(name, "config"))
			die(2, "-C %s:%d: config files do not nest", path,
			    lineno);
		push_arg(&nv, &n, &cap, xmalloc(strlen(name) + 3));
		sprintf(nv[n - 1], "--%s", name);
		if (len)
			push_arg(&nv, &n, &cap, xstrndup(value, len));
	}
	fclose(fp);
	*nconf = n - 1;
	conf_argv = nv;
	conf_n = n - 1;
	atexit(free_conf);
	for (i = 1; i < *argc; i++)
		push_arg(&nv, &n, &cap, argv[i]);
	nv[n] = NULL;
	conf_argv = nv;
	*argc = n;
	return nv;
}

/* --explain "550", "5.7.1" or "550 5.7.1": one line each. */
static void explain(const char *arg)
{
	char enh[16] = "", meaning[200];
	const char *p = arg;
	int code = 0;
	size_t n;

	while (*p == ' ')
		p++;
	if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9' && (!p[3] || p[3] == ' ')) {
		code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		p += 3;
		while (*p == ' ')
			p++;
	}
	n = strcspn(p, " ");
	if (p[n] || (n && (n >= sizeof(enh) || !smtp_enhanced_meaning(p))) ||
	    (!n && !code))
		die(2,
		    "--explain: '%s' is neither a reply code (550) nor an "
		    "enhanced status code (5.7.1)",
		    arg);
	memcpy(enh, p, n);
	if (code) {
		smtp_explain(code, NULL, meaning, sizeof(meaning));
		printf("%d: %s\n", code, meaning);
	}
	if (enh[0]) {
		printf("%s: %s (%s)\n", enh, smtp_enhanced_meaning(enh),
		       enh[0] == '2'   ? "success"
		       : enh[0] == '4' ? "persistent transient failure"
		       : enh[0] == '5' ? "permanent failure"
				       : "unknown class");
	}
}

/* ---- parsing ---- */

static void defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->co.snaplen = DEFAULT_SNAPLEN;
	o->ro.max_sessions = DEFAULT_MAX_SESSIONS;
	parse_ports(DEFAULT_PORTS, &o->ro);
	o->ro.idle_timeout = (int64_t)DEFAULT_IDLE_TIMEOUT * 1000000;
	o->ro.memcap = DEFAULT_MEMCAP;
	o->ro.smtp.ts_start = -1;
	o->auth_window = DEFAULT_AUTH_WINDOW;
	o->extract_max = DEFAULT_EXTRACT_MAX_BYTES;
}

/*
 * Over 100 lines for a reason: one short case per option, in the order
 * of the table, and the checks between options after them; split, the
 * cases would be further from each other than from the rows they serve.
 */
int options_parse(struct options *o, int argc, char **argv)
{
	struct option longopts[N_ROWS + 1];
	char shorts[2 * N_ROWS + 1];
	bool file_conf = false, iface_conf = false, extract_max_set = false;
	bool ports_any = false, detect = false;
	char *conf_filter = NULL;
	size_t i, k = 0;
	int ch, nconf;

	defaults(o);
	for (i = 0; i < N_ROWS; i++) {
		longopts[i] = (struct option){
		    rows[i].name, rows[i].arg ? required_argument : no_argument,
		    NULL,
		    rows[i].short_name ? rows[i].short_name : (int)rows[i].id};
		if (rows[i].short_name) {
			shorts[k++] = rows[i].short_name;
			if (rows[i].arg)
				shorts[k++] = ':';
		}
	}
	longopts[N_ROWS] = (struct option){NULL, 0, NULL, 0};
	shorts[k] = '\0';
	argv = load_config(&argc, argv, &conf_filter, &nconf);
	while ((ch = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		bool from_conf = optind - 1 <= nconf;

		switch (ch) {
		case 'C':
			break; /* read before the loop */
		case 'r':
			o->co.file = optarg;
			file_conf = from_conf;
			break;
		case 'i':
			o->co.iface = optarg;
			iface_conf = from_conf;
			break;
		case 'D':
			o->list = true;
			break;
		case 'T':
			o->text = true;
			break;
		case 'o':
			o->outputs =
			    xrealloc(o->outputs,
				     (o->n_outputs + 1) * sizeof(*o->outputs));
			o->outputs[o->n_outputs++] =
			    (struct opt_output){optarg, from_conf};
			break;
		case OPT_COMMANDS:
			o->commands = true;
			break;
		case OPT_PORTS:
			ports_any = parse_ports(optarg, &o->ro);
			break;
		case OPT_DETECT:
			detect = true;
			break;
		case OPT_MAX_SESSIONS:
			o->ro.max_sessions = (int)parse_num(
			    "--max-sessions", optarg, 1, 16777216);
			break;
		case OPT_TRANSCRIPT:
			o->session_transcript = true;
			break;
		case OPT_NO_EMAIL:
			o->ro.smtp.no_message = true;
			break;
		case OPT_HASH_INLINE:
			o->hash_inline = true;
			break;
		case OPT_EXTRACT:
			o->extract_dir = optarg;
			break;
		case OPT_EXTRACT_ATTACHMENTS:
			o->extract_attachments = o->ro.smtp.part_content = true;
			break;
		case OPT_MEMCAP:
			o->ro.memcap = parse_size("--memcap", optarg);
			break;
		case OPT_EXTRACT_MAX_BYTES:
			o->extract_max =
			    parse_size("--extract-max-bytes", optarg);
			extract_max_set = true;
			break;
		case OPT_STATS_INTERVAL:
			o->stats_interval = (int64_t)parse_num(
			    "--stats-interval", optarg, 1, 86400 * 365);
			break;
		case OPT_IDLE_TIMEOUT:
			o->ro.idle_timeout =
			    (int64_t)parse_num("--idle-timeout", optarg, 0,
					       86400 * 365) *
			    1000000;
			break;
		case 'Z':
			o->run_as = optarg;
			break;
		case 'B':
			o->co.buffer_kb =
			    (int)parse_num("-B", optarg, 1, 4194304);
			break;
		case OPT_SHOW_AUTH_USER:
			o->ro.smtp.show_auth_user = true;
			break;
		case OPT_MAX_RECIPIENTS:
			o->ro.smtp.max_recipients = (unsigned)parse_num(
			    "--max-recipients", optarg, 1, 1000000);
			break;
		case OPT_MAX_PENDING:
			o->ro.smtp.max_pending = (unsigned)parse_num(
			    "--max-pending", optarg, 1, 4096);
			break;
		case OPT_AUTH_FAILURES:
			o->ro.smtp.auth_failures = (unsigned)parse_num(
			    "--auth-failures", optarg, 1, 1000000);
			break;
		case OPT_LOCAL_DOMAINS:
			o->local_domains = optarg;
			break;
		case OPT_TRUSTED_NETS:
			o->trusted_nets = optarg;
			break;
		case OPT_PROGRESS:
			o->progress = 1;
			break;
		case OPT_NO_PROGRESS:
			o->progress = -1;
			break;
		case OPT_COLOR:
			if (!strcmp(optarg, "auto"))
				o->color = 0;
			else if (!strcmp(optarg, "always"))
				o->color = 1;
			else if (!strcmp(optarg, "never"))
				o->color = -1;
			else
				die(2,
				    "--color: '%s' is not auto, always or "
				    "never",
				    optarg);
			break;
		case OPT_SLOW_REPLY:
			o->ro.smtp.slow_reply_us =
			    (int64_t)parse_num("--slow-reply", optarg, 1,
					       86400) *
			    1000000;
			break;
		case OPT_AUTH_WINDOW:
			o->auth_window = (int64_t)parse_num(
			    "--auth-window", optarg, 1, 86400 * 365);
			break;
		case 'c':
			o->co.count = parse_num("-c", optarg, 1, UINT64_MAX);
			break;
		case 's':
			o->co.snaplen =
			    (int)parse_num("-s", optarg, 64, 262144);
			break;
		case 'h':
			options_usage(stdout);
			free(conf_filter);
			return 1;
		case 'V':
			printf("smtpscope %s\n", SMTPSCOPE_VERSION);
			free(conf_filter);
			return 1;
		case OPT_EXPLAIN:
			explain(optarg);
			free(conf_filter);
			return 1;
		default:
			options_usage(stderr);
			exit(2);
		}
	}
	if (o->list) {
		free(conf_filter);
		return 0;
	}
	/* a source on the command line replaces the config file's */
	if (o->co.file && o->co.iface && file_conf != iface_conf) {
		if (file_conf)
			o->co.file = NULL;
		else
			o->co.iface = NULL;
	}
	if (!o->co.file == !o->co.iface)
		die(2, "give exactly one of -r FILE or -i IFACE (see --help)");
	if (o->extract_attachments && !o->extract_dir)
		die(2, "--extract-attachments needs --extract DIR");
	if (extract_max_set && !o->extract_dir)
		die(2, "--extract-max-bytes needs --extract DIR");
	if (o->extract_attachments && o->ro.smtp.no_message)
		die(2, "--extract-attachments needs the message parser: "
		       "drop --no-email");
	o->filter = join_args(argc - optind, argv + optind);
	if (!o->filter && conf_filter) /* the command line's wins */
		o->filter = conf_filter;
	else
		free(conf_filter);
	o->ro.detect = detect || ports_any;
	if (!o->ro.smtp.auth_failures)
		o->ro.smtp.auth_failures = DEFAULT_AUTH_FAILURES;
	/* a transcript's message line shows the Subject */
	o->ro.smtp.message_at_body_end = o->text || o->session_transcript;
	return 0;
}

void options_free(struct options *o)
{
	free(o->outputs);
	free(o->filter);
}

/* ---- --help and smtpscope(8) ---- */

#define HELP_COL   25 /* where the help text starts */
#define HELP_WIDTH 79

static void wrap(FILE *out, const char *text, size_t col)
{
	const char *p = text;

	while (*p) {
		size_t room = HELP_WIDTH - HELP_COL, n = strlen(p), cut;

		if (n > room) { /* at a space; a longer word is not cut */
			for (cut = room; cut > 0 && p[cut] != ' '; cut--)
				;
			if (!cut)
				cut = strcspn(p, " ");
			n = cut;
		}
		fprintf(out, "%*s%.*s\n", (int)(HELP_COL - col), "", (int)n, p);
		p += n;
		while (*p == ' ')
			p++;
		col = 0;
	}
}

void options_usage(FILE *out)
{
	size_t i;

	fputs("usage: smtpscope [options] -r FILE [BPF expression]\n"
	      "       smtpscope [options] -i IFACE [BPF expression]\n"
	      "       smtpscope -D\n"
	      "\n"
	      "Rebuilds every SMTP dialogue seen on the wire and writes JSON\n"
	      "events (one per line) or human transcripts.\n"
	      "\n",
	      out);
	for (i = 0; i < N_ROWS; i++) {
		const struct opt_row *r = &rows[i];
		char head[64];
		int n;

		if (r->short_name)
			n = snprintf(head, sizeof(head), "  -%c, --%s%s%s",
				     r->short_name, r->name, r->arg ? " " : "",
				     r->arg ? r->arg : "");
		else
			n = snprintf(head, sizeof(head), "      --%s%s%s",
				     r->name, r->arg ? " " : "",
				     r->arg ? r->arg : "");
		fputs(head, out);
		if (n + 1 > HELP_COL) { /* the text on a line of its own */
			fputc('\n', out);
			n = 0;
		}
		wrap(out, r->help, (size_t)n);
	}
	fputs("\n"
	      "A trailing BPF expression is ANDed with the SMTP ports (with\n"
	      "--detect or --ports any: with tcp).\n",
	      out);
}

/* "--max-sessions" as troff: \-\-max\-sessions */
static void man_dashes(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '-')
			fputc('\\', out);
		fputc(*s, out);
	}
}

void options_man(FILE *out)
{
	size_t i;

	for (i = 0; i < N_ROWS; i++) {
		const struct opt_row *r = &rows[i];

		fputs(".TP\n", out);
		fputs(r->short_name || r->arg ? ".BR " : ".B ", out);
		if (r->short_name)
			fprintf(out, "\\-%c \", \" ", r->short_name);
		fputs("\\-\\-", out);
		man_dashes(out, r->name);
		if (r->arg)
			fprintf(out, " \" \" \\fI%s\\fR", r->arg);
		fprintf(out, "\n%s\n", r->man);
	}
	fputs(".PP\n"
	      "Trailing words form a BPF expression, ANDed with the SMTP ports "
	      "(with\n"
	      "\\fB\\-\\-detect\\fR or \\fB\\-\\-ports any\\fR, with tcp).\n",
	      out);
}
