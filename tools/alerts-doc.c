/* SPDX-License-Identifier: GPL-2.0-or-later */
/* alerts-doc.c - docs/alerts.md (or, with --man, troff) from the alert list. */
#include <stdio.h>
#include <string.h>

#include "smtp.h"

#define SEV_INFO     "info"
#define SEV_WARNING  "warning"
#define SEV_ERROR    "error"
#define SEV_CRITICAL "critical"

/* The ALERTS section of smtpscope(8). */
static int man(void)
{
	puts("Each alert has a stable kind, a severity and one sentence; the "
	     "full catalogue with references is docs/alerts.md.");
#define X(name, str, sev, text, ref)                                           \
	printf(".TP\n.B %s\n(%s) %s\n", str, SEV_##sev, text);
	SMTP_ALERT_LIST(X)
#undef X
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--man"))
		return man();
	puts("# smtpscope alert catalogue\n");
	puts("Generated from `SMTP_ALERT_LIST` in `include/smtp.h` by "
	     "`make alerts-doc`;\n`make check` fails when this file and the "
	     "code disagree.\n");
	puts("Every alert is an `smtp_alert` event: `smtp.alert.kind`, "
	     "`smtp.alert.severity`,\n`smtp.alert.message` (the sentence "
	     "below), `smtp.alert.detail` (what exactly\nwas seen: offsets, "
	     "sizes, counts) and the `command`/`argument` and `reply`\nthat "
	     "caused it, when there is one.\n");
	puts("| kind | severity | meaning and what to do | reference |");
	puts("|---|---|---|---|");
#define X(name, str, sev, text, ref)                                           \
	printf("| `%s` | %s | %s | %s |\n", str, SEV_##sev, text, ref);
	SMTP_ALERT_LIST(X)
#undef X
	return 0;
}
