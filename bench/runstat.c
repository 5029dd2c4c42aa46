/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/runstat.c: runs a command and records its wall-clock time and peak RSS.
 */

/*
 * Usage: runstat STATFILE COMMAND [ARGS...]
 *
 * Runs COMMAND with the same stdin, stdout and stderr, then writes one line
 * "wall_s=S cpu_s=S maxrss_kb=N exit=N" to STATFILE (wall clock from fork
 * to exit; user and system CPU time and peak resident set size from wait4) and
 * exits with COMMAND's exit status (128 + signal number if it was killed).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	FILE *stat;
	pid_t pid;
	int status, code;

	if (argc < 3) {
		fprintf(stderr, "usage: runstat STATFILE COMMAND [ARGS...]\n");
		return 2;
	}
	stat = fopen(argv[1], "w");
	if (!stat) {
		fprintf(stderr, "runstat: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "runstat: fork: %s\n", strerror(errno));
		return 2;
	}
	if (!pid) {
		fclose(stat);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "runstat: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "runstat: wait4: %s\n",
				strerror(errno));
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(stat, "wall_s=%.6f cpu_s=%.6f maxrss_kb=%ld exit=%d\n",
		(double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
		ru.ru_maxrss, code);
	if (fclose(stat)) {
		fprintf(stderr, "runstat: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	return code;
}
