/* SPDX-License-Identifier: MIT */
/*
 * A usage error in two plain lines, the way coreutils say it:
 *   ncx send: unknown option '--foo'
 *   Try 'ncx send --help'.
 * For getopt_long() run with opterr = 0 and an optstring that starts with
 * ':' (so a missing value comes back as ':').
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ncx.h"

static bool takes_no_value(const struct option *longopts, const char *arg)
{
	size_t n = strcspn(arg + 2, "=");

	for (const struct option *o = longopts; o && o->name; o++)
		if (strlen(o->name) == n && !strncmp(o->name, arg + 2, n))
			return o->has_arg == no_argument && arg[2 + n] == '=';
	return false;
}

int cmd_usage_error(const char *cmd, int c, char **argv, const struct option *longopts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	bool is_long = arg && !strncmp(arg, "--", 2) && arg[2];
	int n = is_long ? (int)strcspn(arg, "=") : 0;

	if (c == ':' && is_long)
		fprintf(stderr, "ncx %s: option '%.*s' needs a value\n", cmd, n, arg);
	else if (c == ':')
		fprintf(stderr, "ncx %s: option '-%c' needs a value\n", cmd, optopt);
	else if (is_long && optopt && takes_no_value(longopts, arg))
		fprintf(stderr, "ncx %s: option '%.*s' takes no value\n", cmd, n, arg);
	else if (optopt)
		fprintf(stderr, "ncx %s: unknown option '-%c'\n", cmd, optopt);
	else
		fprintf(stderr, "ncx %s: unknown option '%.*s'\n", cmd, n ? n : (int)strlen(arg), arg);
	fprintf(stderr, "Try 'ncx %s --help'.\n", cmd);
	return EX_USAGE;
}
