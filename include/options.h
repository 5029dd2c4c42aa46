/* SPDX-License-Identifier: GPL-2.0-or-later */
/* options.h - the command line and the config file, read into one struct. */
#ifndef SMTPSCOPE_OPTIONS_H
#define SMTPSCOPE_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "capture.h"
#include "reassembly.h"

#define SMTPSCOPE_VERSION "0.1.0"

/* An -o given: a file (or "-") or a sink spec, and where it came from. */
struct opt_output {
	const char *spec;
	bool from_conf; /* the config file's: the command line's file wins */
};

/* What the options ask for; defaults filled in by options_parse(). */
struct options {
	struct cap_options co;
	struct rs_options ro;
	bool list;		 /* -D */
	bool text;		 /* -T */
	bool commands;		 /* --commands */
	bool session_transcript; /* --transcript */
	bool extract_attachments;
	bool hash_inline; /* no hashing thread */
	int color;	  /* -T's colours: 0 auto, 1 always, -1 never */
	int progress;	  /* a progress line: 0 auto, 1 always, -1 never */
	const char *local_domains, *trusted_nets; /* the relay check */
	const char *extract_dir;
	uint64_t extract_max;
	const char *run_as;	/* -Z */
	int64_t auth_window;	/* seconds */
	int64_t stats_interval; /* seconds; 0: off */
	struct opt_output *outputs;
	size_t n_outputs;
	char *filter; /* the BPF expression: the command line's, or -C's */
};

/*
 * Reads argv (and -C FILE's options before them, so that the command
 * line wins) into o. Returns 0 to run, 1 when -h or -V was answered
 * (exit 0); an invalid option ends the program with status 2.
 */
int options_parse(struct options *o, int argc, char **argv);
void options_free(struct options *o);
/* The SMTP ports as BPF, ANDed with the user's expression (malloc'd). */
char *options_ports_filter(const struct rs_options *ro);
/* --help, and the man page's OPTIONS list (troff), from one table. */
void options_usage(FILE *out);
void options_man(FILE *out);

#endif
