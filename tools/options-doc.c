/* SPDX-License-Identifier: GPL-2.0-or-later */
/* options-doc.c - prints smtpscope(8)'s OPTIONS list from the option table. */
#include "options.h"

int main(void)
{
	options_man(stdout);
	return 0;
}
