/* SPDX-License-Identifier: MIT */
/*
 * ncx replay: send recorded datagrams to a receiver, one per line of a hex
 * file (the form of the .hex files in tests/data). It is how `make run` and the tests
 * put real kernel traffic on the wire without a kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ncx/addr.h>
#include <ncx/num.h>
#include <ncx/udp.h>
#include <ncx/wire.h>

#include "ncx.h"

/* Decode one line of hex in place; returns the byte count or -1. */
static long unhex(char *line, size_t len)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	return ncx_hex_decode(line, len, line, len);
}

static void pace(long rate, uint64_t start, uint64_t sent)
{
	if (rate <= 0)
		return;
	uint64_t due = start + sent * 1000000u / (uint64_t)rate, now = ncx_now_us();

	if (due > now) {
		struct timespec ts = { .tv_sec = (time_t)((due - now) / 1000000),
				       .tv_nsec = (long)((due - now) % 1000000) * 1000 };
		nanosleep(&ts, NULL);
	}
}

static int send_file(const char *path, int fd, const struct sockaddr_storage *to, socklen_t tolen,
		     long rate, uint64_t start, uint64_t *sent)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int rc = 0;

	if (!f) {
		cmd_err("replay", "%s: %s", path, strerror(errno));
		return EX_NOINPUT;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		long n = unhex(line, (size_t)len);

		if (n < 0 || n > NCX_WIRE_DGRAM_MAX) {
			cmd_err("replay", "%s:%zu: not a line of hex", path, lineno);
			rc = EX_DATAERR;
			break;
		}
		pace(rate, start, *sent);
		if (sendto(fd, line, (size_t)n, 0, (const struct sockaddr *)to, tolen) < 0) {
			cmd_err("replay", "send to receiver: %s", strerror(errno));
			rc = EX_UNAVAILABLE;
			break;
		}
		(*sent)++;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncx replay [-t HOST:PORT] [-p SRCPORT] [-r RATE] FILE...\n\n"
		"Send each line of each FILE (hex of one UDP payload; '-' is stdin; blank lines and\n"
		"lines starting with '#' are skipped) as one datagram, in order.\n\n"
		"  -t, --target HOST:PORT  receiver (default 127.0.0.1:6666); numeric addresses only\n"
		"  -p, --src-port SRCPORT  source port (default: any); the receiver keys senders by it\n"
		"  -r, --rate N            at most N datagrams per second (default: no limit)\n"
		"  -h, --help              this text\n");
}

int cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' }, { "src-port", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 'p' }, /* the old name: a hidden alias */
		{ "rate", required_argument, NULL, 'r' },   { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *target = "127.0.0.1:6666";
	uint64_t srcport = 0, rate = 0;
	struct ncx_addr to, from;
	struct sockaddr_storage ss;
	int c, fd, rc = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:p:r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': target = optarg; break;
		case 'p':
			if (ncx_num_parse(optarg, 0, 65535, &srcport)) {
				cmd_err("replay", "source port '%s' is not a number from 0 to 65535",
					optarg);
				return EX_USAGE;
			}
			break;
		case 'r':
			if (ncx_num_parse(optarg, 0, 1000000000, &rate)) {
				cmd_err("replay", "--rate '%s' is not a number of datagrams per "
					"second (0: no limit)", optarg);
				return EX_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: return cmd_usage_error("replay", c, argv, longopts);
		}
	}
	if (optind == argc) {
		fprintf(stderr, "ncx replay: no FILE to send ('-' for stdin)\nTry 'ncx replay --help'.\n");
		return EX_USAGE;
	}
	if (ncx_addr_parse(target, 6666, &to)) {
		cmd_err("replay", "'%s' is not HOST:PORT with a numeric address", target);
		return EX_USAGE;
	}
	memset(&from, 0, sizeof(from));
	from.family = to.family;
	from.port = (uint16_t)srcport;
	fd = ncx_udp_bind(&from, NULL);
	if (fd < 0) {
		cmd_err("replay", "cannot bind source port %u: %s", (unsigned)srcport, strerror(-fd));
		return EX_UNAVAILABLE;
	}
	/* Blocking sends: a burst waits for the socket buffer instead of failing. */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	socklen_t tolen = ncx_addr_to_sockaddr(&to, &ss);
	uint64_t start = ncx_now_us(), sent = 0;

	for (int i = optind; i < argc && !rc; i++)
		rc = send_file(argv[i], fd, &ss, tolen, (long)rate, start, &sent);
	close(fd);
	return rc;
}
