/* SPDX-License-Identifier: GPL-2.0-or-later */
/* main.c - smtpscope's command line, signals and wiring. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authwatch.h"
#include "capture.h"
#include "extract.h"
#include "hashq.h"
#include "options.h"
#include "output.h"
#include "event.h"
#include "reassembly.h"
#include "relaycheck.h"
#include "serverwatch.h"
#include "util.h"

/* a server's posture alerts: once per server per hour of packet time */
#define POSTURE_INTERVAL (INT64_C(3600) * 1000000)

static volatile sig_atomic_t stop_requested, reopen_requested, stats_requested;
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

/* What the packet loop does between packets: rotation, stats, progress. */
struct service {
	int progress;	   /* 0: none, 1: a redrawn line, 2: a line a while */
	uint64_t packets;  /* seen, for the progress line */
	int64_t t0, shown; /* wall clock: the start, the last line */
	struct ev_ctx *ctx;
	int64_t interval; /* --stats-interval, microseconds; 0: off */
	int64_t last_stats;
	uint64_t drops_seen;
	uint64_t written; /* events written when the sinks were last checked */
};

static void stats_event(struct cap *c, struct ev_ctx *ctx, int64_t ts);

static void write_stats(struct service *sv, int64_t ts)
{
	struct cap_stats cs;

	out_flush(sv->ctx->sinks); /* output_dropped: every event before */
	stats_event(the_cap, sv->ctx, ts);
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

static int64_t wall_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/*
 * How far the read is, on stderr: never in the events. Every 4096
 * packets the clock is looked at; a line at most 4 times a second on a
 * terminal (redrawn), every 5 s elsewhere. done: the last, or cleared.
 */
static void show_progress(struct service *sv, bool done)
{
	uint64_t pos, size;
	struct rs_stats rs;
	int64_t now = wall_us(), el;
	double mbs, left = -1;
	char pct[16] = "", eta[32] = "";

	if (!done && now - sv->shown < (sv->progress == 1 ? 250000 : 5000000))
		return;
	sv->shown = now;
	if (done && sv->progress == 1) {
		fputs("\r\033[K", stderr);
		return;
	}
	if (!cap_progress(the_cap, &pos, &size))
		return;
	rs_get_stats(&rs);
	el = now - sv->t0;
	mbs = el > 0 ? (double)pos / (double)el : 0;
	if (size && pos <= size) {
		snprintf(pct, sizeof(pct), " (%.0f%%)", 100.0 * pos / size);
		if (mbs > 0)
			left = (double)(size - pos) / mbs / 1e6;
	}
	if (left >= 0)
		snprintf(eta, sizeof(eta), ", %d:%02d left", (int)left / 60,
			 (int)left % 60);
	fprintf(stderr,
		"%ssmtpscope: %.1f MB%s, %" PRIu64 " packets, %" PRIu64
		" sessions, %" PRIu64 " alerts, %.0f MB/s%s%s",
		sv->progress == 1 ? "\r" : "", pos / 1e6, pct, sv->packets,
		rs.sessions, sv->ctx->alerts, mbs, eta,
		sv->progress == 1 ? "\033[K" : "\n");
	fflush(stderr);
}

static void on_packet(void *user, int version, const uint8_t *ip, size_t caplen,
		      size_t wirelen, int64_t ts, uint64_t pktno)
{
	struct service *sv = user;

	if (sv->progress && !(++sv->packets & 4095))
		show_progress(sv, false);
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
		die(1, "-Z %s: no such user", user);
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		die(1, "-Z %s: cannot switch user: %s", user, strerror(errno));
	/* refuse to go on as root if the switch did not take */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0))
		die(1, "-Z %s: still root after the switch", user);
}

/* --detect or --ports any: the stats event has the detection counters */
static bool stats_detect;

/* The "stats" event: the counters of every module. */
static void stats_event(struct cap *c, struct ev_ctx *ctx, int64_t ts)
{
	static struct jw w;
	struct cap_stats cs;
	struct rs_stats rs;
	struct ex_stats es;

	cap_get_stats(c, &cs);
	rs_get_stats(&rs);
	jw_reset(&w);
	jw_open(&w, NULL, '{');
#define N(k, v) jw_int(&w, k, (int64_t)(v))
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
	if (stats_detect) {
		N("detect_examined", rs.detect_examined);
		N("detect_smtp", rs.detect_smtp);
		N("detect_not_smtp", rs.detect_not_smtp);
		N("detect_undecided", rs.detect_undecided);
	}
	if (stats_detect || rs.tunnels)
		N("tunnels", rs.tunnels);
	if (ctx->no_greeting || ctx->not_smtp) { /* only when there are */
		N("sessions_no_greeting", ctx->no_greeting);
		N("sessions_not_smtp", ctx->not_smtp);
	}
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
	jw_close(&w, '}');
	ev_write_stats(ctx, ts, w.b.p, w.b.len);
}

/* The -o options: one file (the command line's wins) and the sinks. */
static void open_outputs(struct ev_ctx *ctx, const struct options *o)
{
	const char *outpath = NULL;
	bool outpath_conf = false;
	char err[CAP_ERRBUF] = "", fspec[4096];
	size_t i;

	for (i = 0; i < o->n_outputs; i++) {
		const char *spec = o->outputs[i].spec;
		bool from_conf = o->outputs[i].from_conf;

		if (out_is_sink(spec)) {
			if (out_add(&ctx->sinks, spec, err) < 0)
				die(2, "%s", err);
			continue;
		}
		if (!strncmp(spec, "file:", 5))
			spec += 5;
		if (!strcmp(spec, "stdout"))
			spec = "-";
		if (!outpath || (outpath_conf && !from_conf)) {
			/* the first, or the command line's for the file's */
			outpath = spec;
			outpath_conf = from_conf;
			continue;
		}
		/* another file: a sink of its own */
		if (!strcmp(spec, "-") && !strcmp(outpath, "-"))
			die(2, "-o -: standard output given twice");
		snprintf(fspec, sizeof(fspec), "file:%s", spec);
		if (out_add(&ctx->sinks, fspec, err) < 0)
			die(1, "%s", err);
	}
	/* every file and stdout is a sink: drops counted, the run goes on */
	if (outpath || (!o->text && !ctx->sinks)) {
		snprintf(fspec, sizeof(fspec), "file:%s",
			 outpath ? outpath : "-");
		if (out_add(&ctx->sinks, fspec, err) < 0)
			die(1, "%s", err);
	}
	if (o->text) {
		ctx->transcript = stdout;
		out_share_stdout(ctx->sinks);
	}
}

/*
 * Before the capture opens: a signal sent as soon as the capture socket
 * exists (a supervisor, a test) is never the default action.
 */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_flags = SA_RESTART; /* rotation and stats never stop a read */
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* What the run leaves on stderr: what the events cannot say. */
static void final_warnings(void)
{
	struct cap_stats cs;
	struct rs_stats rst;

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
}

/*
 * The pipeline: options -> capture -> reassembly (and the decoder in
 * it) -> events -> outputs.
 */
int main(int argc, char **argv)
{
	struct options o;
	struct ev_ctx ctx = {0};
	struct service sv = {0};
	char err[CAP_ERRBUF] = "";
	int rc;

	if (options_parse(&o, argc, argv))
		return 0; /* --help, --version */
	if (o.list) {
		if (cap_list_interfaces(err) < 0)
			die(1, "%s", err);
		return 0;
	}
	stats_detect = o.ro.detect;
	o.co.filter = o.filter;
	o.co.ports_filter = options_ports_filter(&o.ro);
	ctx.commands = o.commands;
	ctx.color =
	    o.text && (o.color > 0 || (!o.color && isatty(STDOUT_FILENO) &&
				       !getenv("NO_COLOR")));
	ctx.session_transcript = o.session_transcript;
	ctx.extract_dir = o.extract_dir;
	ctx.extract_attachments = o.extract_attachments;
	open_outputs(&ctx, &o);
	ctx.aw = aw_new(o.ro.smtp.auth_failures, o.auth_window * 1000000);
	ctx.sw = sw_new(POSTURE_INTERVAL);
	if (o.local_domains || o.trusted_nets) {
		ctx.relay =
		    rc_new(o.local_domains, o.trusted_nets, err, sizeof(err));
		if (!ctx.relay)
			die(2, "%s", err);
	}
	if (ctx.extract_dir && ex_init(ctx.extract_dir, o.extract_max, err) < 0)
		die(1, "%s", err);
	catch_signals();
	the_cap = cap_open(&o.co, err);
	if (!the_cap)
		die(1, "%s", err);
	if (stop_requested) /* it came while the capture was opening */
		cap_break(the_cap);
	if (rs_init(&o.ro, &ctx, err) < 0)
		die(1, "%s", err);
	if (o.run_as)
		drop_privileges(o.run_as);
	/* if it fails, hashes are computed inline */
	rc = o.hash_inline ? 0 : hq_start();
	if (rc)
		fprintf(stderr, "smtpscope: warning: no hashing thread: %s\n",
			strerror(rc));
	rc = 0;
	sv.ctx = &ctx;
	sv.interval = o.stats_interval * 1000000;
	if (o.co.file &&
	    (o.progress > 0 || (!o.progress && isatty(STDERR_FILENO))))
		sv.progress = isatty(STDERR_FILENO) ? 1 : 2;
	sv.t0 = sv.shown = wall_us();
	/* a signal interrupts the read: that is a stop, not an error */
	if (cap_run(the_cap, on_packet, on_idle, &sv, err) < 0 &&
	    !stop_requested && !reader_gone) {
		fprintf(stderr, "smtpscope: %s: %s\n",
			o.co.file ? o.co.file : o.co.iface, err);
		rc = 1;
	}
	if (sv.progress)
		show_progress(&sv, true);
	rs_finish(stop_requested || reader_gone ? SMTP_CLOSE_SHUTDOWN
						: SMTP_CLOSE_EOF);
	hq_stop();
	if (ev_json(&ctx)) {
		out_flush(ctx.sinks);
		stats_event(the_cap, &ctx, rs_last_ts());
	}
	final_warnings();
	cap_close(the_cap);
	aw_free(ctx.aw);
	sw_free(ctx.sw);
	rc_free(ctx.relay);
	free((char *)o.co.ports_filter);
	options_free(&o);
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
