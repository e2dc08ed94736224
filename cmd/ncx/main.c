/* SPDX-License-Identifier: MIT */
/*
 * ncx: the command-line tool. `ncx COMMAND [OPTIONS]`; see `ncx --help`.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ncx.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	bool own_log;		/* sets up the log core itself (send: it is what it sends) */
	const char *what;
};

static const struct command commands[] = {
	{ "listen", cmd_listen, false,
	  "print every record netconsole senders send here; answer reliable ones" },
	{ "replay", cmd_replay, false,
	  "send recorded datagrams (one hex payload per line) to a receiver" },
	{ "send", cmd_send, true,
	  "log a message or stdin's lines, send them reliably, wait for the acks" },
	{ "forward", cmd_forward, false,
	  "send the kernel's log (/dev/kmsg) reliably, with the kernel's seq" },
	{ "status", cmd_status, false,
	  "ask a running ncxd for its senders: a table, or --watch it live" },
	{ "bcon", cmd_bcon, false,
	  "the block console: init its file, read its log back (docs/bcon.md)" },
	{ "key", cmd_key, true,
	  "make a collector secret, or derive a host's key from it (ncmac)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ncx COMMAND [OPTIONS]\n"
		   "       ncx COMMAND --help\n"
		   "       ncx --version\n\n"
		   "Reliable console logging for Linux: tools around the kernel's netconsole.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
	fprintf(f, "\nThe collector is ncxd(8); see `ncxd --help`.\n");
}

/* Our own lines go through the log core from the start to the end. */
static int run(const struct command *c, int argc, char **argv)
{
	int rc;

	if (!c->own_log && (rc = cmd_log_start(c->name)))
		return rc;
	rc = c->run(argc, argv);
	cmd_log_stop();
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("ncx %s\n", NCX_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return run(&commands[i], argc - 1, argv + 1);
	fprintf(stderr, "ncx: unknown command '%s'\nTry 'ncx --help'.\n", argv[1]);
	return EX_USAGE;
}
