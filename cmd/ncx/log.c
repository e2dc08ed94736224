/* SPDX-License-Identifier: MIT */
/*
 * ncx's own lines: errors and notices go through the log core, as any
 * program's would, to the plain console on stderr ("ncx <cmd>: TEXT").
 * Usage text and what a command prints as its output are not logging:
 * those stay printf.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <ncx/log.h>

#include "ncx.h"

static struct ncx_console *con;

int cmd_log_start(const char *cmd)
{
	char prog[NCX_CON_PROG_MAX];

	snprintf(prog, sizeof(prog), "ncx %s", cmd);
	con = ncx_log_start_stderr(prog, NCX_LOG_NOTICE);
	if (!con) {
		cmd_err(cmd, "cannot start the log: %s", strerror(errno));
		return EX_OSERR;
	}
	return 0;
}

/*
 * The console's threshold can only change while it is not registered.
 * Only before the command starts threads of its own: a record they wrote
 * between the two calls would not be shown.
 */
void cmd_log_level(int level)
{
	if (!con)
		return;
	ncx_console_unregister(con);
	con->level = level;
	if (ncx_console_register(con)) {
		ncx_console_free(con);
		con = NULL;
	}
}

void cmd_log_stop(void)
{
	ncx_log_flush();
	if (con) {
		ncx_console_unregister(con);
		ncx_console_free(con);
		con = NULL;
	}
}

void cmd_err(const char *cmd, const char *fmt, ...)
{
	char text[NCX_LOG_LINE_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Into a log core that is set up, never one set up by this call; as
	 * formatted already: one record, not a second formatting. */
	if (ncx_log_ring())
		(void)ncx_log_write(NCX_LOG_ERR, text, strlen(text));
	/* On stderr now, in order with anything the command prints next, and
	 * before it exits; without a console (send's, or none started) here. */
	if (con)
		ncx_log_flush();
	else
		fprintf(stderr, "ncx %s: %s\n", cmd, text);
}
