/* SPDX-License-Identifier: MIT */
/*
 * ncx status: ask a running ncxd, through its control socket, for its
 * senders, and print them as a table; --watch redraws it every few
 * seconds. ncxd answers in a machine-readable form (docs/ncxd.md, "The
 * control socket"); this is the only place that makes a table of it.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <ncx/num.h>
#include <ncx/udp.h>

#include "ncx.h"

#define DEFAULT_CONTROL "/run/ncx/ncxd.sock"
#define DEFAULT_TOP 20
#define DEFAULT_INTERVAL 2
#define REPLY_MAX (256u << 20) /* --all at a million senders is ~100 MiB */
#define TIMEOUT_MS 10000

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncx status [--control PATH] [-a | --top N] [-w [-i SECONDS]] [--raw]\n"
		"\n"
		"Ask a running ncxd for its senders, the busiest first (by rate, then records),\n"
		"and print them as a table: address, port, stream (reliable or stock; extended\n"
		"or legacy), records, bytes, gaps, lost (reliable senders: lost; stock senders:\n"
		"not received), rate (records/s over the last interval) and when last seen.\n"
		"\n"
		"      --control PATH     ncxd's control socket (default %s)\n"
		"  -a, --all              every sender (default: the %d busiest, and a count\n"
		"                         of the rest)\n"
		"      --top N            the N busiest\n"
		"  -w, --watch            clear the screen and redraw every interval, until Ctrl-C\n"
		"  -i, --interval SECONDS the --watch interval (default %d)\n"
		"      --raw              print ncxd's answer as it comes (the machine-readable\n"
		"                         form, docs/ncxd.md)\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 shown; 64 a bad command line; 69 ncxd cannot be reached or\n"
		"did not answer.\n",
		DEFAULT_CONTROL, DEFAULT_TOP, DEFAULT_INTERVAL);
}

/* The whole answer to one request, NUL-terminated; NULL after saying why. */
static char *ask(const char *path, const char *request)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint64_t deadline = ncx_now_us() + TIMEOUT_MS * 1000u;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		cmd_err("status", "control socket path too long: %s", path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		cmd_err("status", "cannot reach ncxd at %s: %s (is ncxd running? its --control PATH?)",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		cmd_err("status", "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = ncx_now_us();
		ssize_t r;

		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000) + 1) == 0) {
			cmd_err("status", "ncxd at %s did not answer within %d s", path,
				TIMEOUT_MS / 1000);
			break;
		}
		if (stop_signal)
			break;
		if (len + 65536 + 1 > cap) {
			char *n = cap + 65536 > REPLY_MAX ? NULL : realloc(buf, cap + 65536 + 1);

			if (!n) {
				cmd_err("status", "the answer is too big");
				break;
			}
			buf = n;
			cap += 65536 + 1;
		}
		r = read(fd, buf + len, 65536);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cmd_err("status", "%s: %s", path, strerror(errno));
			break;
		}
		if (r == 0) {
			close(fd);
			buf[len] = 0;
			return buf;
		}
		len += (size_t)r;
	}
	close(fd);
	free(buf);
	return NULL;
}

/* 12345678 -> "12.3M": a column stays narrow at any size. */
static const char *human(uint64_t v, char *out, size_t cap)
{
	static const char unit[] = "kMGTPE";
	double x = (double)v;
	int u = -1;

	if (v < 100000) {
		snprintf(out, cap, "%llu", (unsigned long long)v);
		return out;
	}
	while (x >= 1000 && u < 5) {
		x /= 1000;
		u++;
	}
	snprintf(out, cap, "%.1f%c", x, unit[u]);
	return out;
}

static const char *ago(uint64_t now_ms, uint64_t then_ms, char *out, size_t cap)
{
	uint64_t s;

	if (!then_ms)
		return "-";
	s = now_ms > then_ms ? (now_ms - then_ms) / 1000 : 0;
	if (s < 120)
		snprintf(out, cap, "%llus ago", (unsigned long long)s);
	else if (s < 7200)
		snprintf(out, cap, "%llum ago", (unsigned long long)(s / 60));
	else if (s < 172800)
		snprintf(out, cap, "%lluh ago", (unsigned long long)(s / 3600));
	else
		snprintf(out, cap, "%llud ago", (unsigned long long)(s / 86400));
	return out;
}

static const char *uptime(uint64_t ms, char *out, size_t cap)
{
	uint64_t s = ms / 1000;

	if (s < 3600)
		snprintf(out, cap, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(out, cap, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60));
	else
		snprintf(out, cap, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s / 3600 % 24));
	return out;
}

/* The number at p (its leading digits); 0 if there is none. */
static uint64_t num_at(const char *p)
{
	uint64_t v = 0;

	(void)ncx_num_parse_n(p, ncx_num_digits(p, strlen(p)), 0, UINT64_MAX, &v);
	return v;
}

static uint64_t field_u64(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? num_at(p + strlen(key)) : 0;
}

/* The answer as a table on stdout; 0, or EX_UNAVAILABLE if it is not one. */
static int print_table(char *reply)
{
	uint64_t now_ms = 0, start_ms = 0, senders = 0, shown = 0;
	char version[64] = "?", *save = NULL, b[5][32];
	bool ok = false, header = false;

	for (char *line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!ok) {
			if (strcmp(line, "ncxd-status 1")) {
				cmd_err("status", "ncxd answered: %.200s", line);
				return EX_UNAVAILABLE;
			}
			ok = true;
		} else if (!strncmp(line, "version ", 8)) {
			snprintf(version, sizeof(version), "%s", line + 8);
		} else if (!strncmp(line, "now_ms ", 7)) {
			now_ms = num_at(line + 7);
		} else if (!strncmp(line, "start_ms ", 9)) {
			start_ms = num_at(line + 9);
		} else if (!strncmp(line, "senders ", 8)) {
			senders = num_at(line + 8);
		} else if (!strncmp(line, "shown ", 6)) {
			shown = num_at(line + 6);
		} else if (!strncmp(line, "total ", 6)) {
			printf("ncxd %s, up %s: %llu senders; %s records, %s bytes, %llu gaps, "
			       "%llu lost, %llu not received, %llu dropped\n\n",
			       version, uptime(now_ms > start_ms ? now_ms - start_ms : 0, b[0], 32),
			       (unsigned long long)senders,
			       human(field_u64(line, "records="), b[1], 32),
			       human(field_u64(line, "bytes="), b[2], 32),
			       (unsigned long long)field_u64(line, "gaps="),
			       (unsigned long long)field_u64(line, "lost="),
			       (unsigned long long)field_u64(line, "missed="),
			       (unsigned long long)field_u64(line, "dropped="));
		} else if (!strncmp(line, "sender ", 7)) {
			char addr[64], stream[32];
			unsigned port;
			unsigned long long rec, bytes, gaps, lost, missed, last;
			double rate;

			if (sscanf(line + 7, "%63s %u %31s %llu %llu %llu %llu %llu %lf %llu", addr,
				   &port, stream, &rec, &bytes, &gaps, &lost, &missed, &rate,
				   &last) != 10)
				continue;
			if (!header) {
				printf("%-39s %5s %-21s %8s %8s %6s %6s %9s  %s\n", "ADDRESS", "PORT",
				       "STREAM", "RECORDS", "BYTES", "GAPS", "LOST", "RATE/s",
				       "LAST SEEN");
				header = true;
			}
			printf("%-39s %5u %-21s %8s %8s %6llu %6llu %9.1f  %s\n", addr, port, stream,
			       human(rec, b[0], 32), human(bytes, b[1], 32), gaps, lost + missed,
			       rate, ago(now_ms, last, b[2], 32));
		} else if (!strcmp(line, "end")) {
			if (!header)
				printf("no senders yet\n");
			if (senders > shown)
				printf("... and %llu more senders (ncx status --all shows every one)\n",
				       (unsigned long long)(senders - shown));
			return 0;
		}
	}
	cmd_err("status", "ncxd's answer was cut short");
	return EX_UNAVAILABLE;
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'C' }, { "all", no_argument, NULL, 'a' },
		{ "top", required_argument, NULL, 'N' },     { "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' }, { "raw", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 }
	};
	const char *path = DEFAULT_CONTROL;
	char request[64];
	uint64_t top = DEFAULT_TOP, interval = DEFAULT_INTERVAL;
	bool all = false, watch = false, raw = false;
	int c, rc = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":awi:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'C': path = optarg; break;
		case 'a': all = true; break;
		case 'N':
			if (ncx_num_parse(optarg, 1, 1000000, &top)) {
				cmd_err("status", "--top '%s': a number from 1 to 1000000", optarg);
				return EX_USAGE;
			}
			break;
		case 'w': watch = true; break;
		case 'i':
			if (ncx_num_parse(optarg, 1, 3600, &interval)) {
				cmd_err("status", "--interval '%s': seconds, 1 to 3600", optarg);
				return EX_USAGE;
			}
			break;
		case 'R': raw = true; break;
		case 'h': usage(stdout); return 0;
		default: return cmd_usage_error("status", c, argv, longopts);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ncx status: unexpected argument '%s'\nTry 'ncx status --help'.\n",
			argv[optind]);
		return EX_USAGE;
	}
	if (all)
		snprintf(request, sizeof(request), "status all\n");
	else
		snprintf(request, sizeof(request), "status %lu\n", (unsigned long)top);

	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	do {
		char *reply = ask(path, request);

		if (stop_signal) {
			free(reply);
			break;
		}
		if (!reply)
			return EX_UNAVAILABLE;
		if (watch) {
			char when[32];
			time_t t = time(NULL);

			strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
			/* Home, clear: the table is redrawn in place. */
			printf("\033[H\033[2J%s  every %lus: ncx status (Ctrl-C to stop)\n\n", when,
			       (unsigned long)interval);
		}
		if (raw)
			fputs(reply, stdout);
		else
			rc = print_table(reply);
		free(reply);
		fflush(stdout);
		if (rc)
			return rc;
		/* Sleep in small steps: Ctrl-C ends the wait at once. */
		for (uint64_t i = 0; watch && i < interval * 10 && !stop_signal; i++) {
			struct timespec ts = { 0, 100000000L };

			nanosleep(&ts, NULL);
		}
	} while (watch && !stop_signal);
	return 0;
}
