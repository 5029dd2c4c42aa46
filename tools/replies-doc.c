/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replies-doc.c - prints docs/replies.md from the table of reply meanings. */
#include "smtp.h"

int main(void)
{
	smtp_replies_doc(stdout);
	return 0;
}
