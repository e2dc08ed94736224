/* SPDX-License-Identifier: MIT */
/*
 * bench_null_rx: the baseline receiver for bench/ncxd/run. It does what any
 * netconsole collector must do at the least (take datagrams off a socket
 * with recvmmsg, with the same 32 MiB buffer ncxd uses) and nothing else, so
 * a collector's CPU per record can be judged against the floor of the socket
 * work itself.
 *
 *   bench_null_rx [-l ADDR:PORT] [--rcvbuf BYTES]
 *
 * On SIGTERM or SIGINT it prints one line on stdout and exits:
 *   null_rx: datagrams=N bytes=B drops=D
 * where drops is the kernel's count of datagrams this socket had no room for.
 * SIGUSR1 prints the same line and carries on (the bench's mid-run count).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include <ncx/addr.h>
#include <ncx/udp.h>

#define BATCH 64
#define DGRAM 2048 /* netconsole sends at most 1000; longer ones are cut, that is fine */

static volatile sig_atomic_t stop, report;

struct counts {
	uint64_t datagrams;
	uint64_t bytes;
	uint32_t ovfl; /* latest SO_RXQ_OVFL value: drops before the last datagram */
};

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else
		stop = 1;
}

static struct mmsghdr msg[BATCH];
static struct iovec iov[BATCH];
static char buf[BATCH][DGRAM];
static char ctl[BATCH][CMSG_SPACE(sizeof(uint32_t))];

static void setup_batch(void)
{
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = DGRAM };
		msg[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
}

static void take_ovfl(struct msghdr *h, struct counts *c)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL)
			memcpy(&c->ovfl, CMSG_DATA(cm), sizeof(c->ovfl));
}

/* Drain what is queued; returns -errno on a real error, else 0. */
static int drain(int fd, struct counts *c)
{
	for (;;) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			msg[i].msg_hdr.msg_control = ctl[i];
			msg[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		n = recvmmsg(fd, msg, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		for (int i = 0; i < n; i++) {
			c->bytes += msg[i].msg_len;
			take_ovfl(&msg[i].msg_hdr, c);
		}
		c->datagrams += (uint64_t)n;
	}
}

/* The exact total, drops after the last datagram included. */
static uint32_t socket_drops(int fd, uint32_t ovfl)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
	    len > SK_MEMINFO_DROPS * sizeof(uint32_t) && mem[SK_MEMINFO_DROPS] > ovfl)
		return mem[SK_MEMINFO_DROPS];
	return ovfl;
}

static void print_counts(int fd, const struct counts *c)
{
	printf("null_rx: datagrams=%" PRIu64 " bytes=%" PRIu64 " drops=%" PRIu32 "\n",
	       c->datagrams, c->bytes, socket_drops(fd, c->ovfl));
	fflush(stdout);
}

static int parse(int argc, char **argv, struct ncx_addr *at, struct ncx_udp_opts *uo)
{
	static const struct option lo[] = { { "listen", required_argument, NULL, 'l' },
					     { "rcvbuf", required_argument, NULL, 'b' },
					     { "help", no_argument, NULL, 'h' },
					     { 0 } };
	const char *listen = "127.0.0.1:6666";
	char *end;
	int c;

	*uo = (struct ncx_udp_opts){ .rcvbuf = 32 << 20, .rxq_ovfl = true };
	while ((c = getopt_long(argc, argv, "l:b:h", lo, NULL)) != -1) {
		if (c == 'l') {
			listen = optarg;
		} else if (c == 'b') {
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0 || v > 1 << 30) {
				fprintf(stderr, "bench_null_rx: bad --rcvbuf '%s'\n", optarg);
				return EX_USAGE;
			}
			uo->rcvbuf = (int)v;
		} else {
			fprintf(c == 'h' ? stdout : stderr,
				"usage: bench_null_rx [-l ADDR:PORT] [--rcvbuf BYTES]\n");
			return c == 'h' ? -1 : EX_USAGE;
		}
	}
	if (ncx_addr_parse(listen, 6666, at) < 0) {
		fprintf(stderr, "bench_null_rx: bad address '%s'\n", listen);
		return EX_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll must wake */
	sigset_t block, waiting;
	struct ncx_udp_opts uo;
	struct ncx_addr at;
	struct counts c = { 0 };
	int fd, rc = parse(argc, argv, &at, &uo);

	if (rc)
		return rc < 0 ? 0 : rc;
	fd = ncx_udp_bind(&at, &uo);
	if (fd < 0) {
		char text[NCX_ADDR_TEXT_MAX];

		ncx_addr_format(&at, true, text, sizeof(text));
		fprintf(stderr, "bench_null_rx: bind %s: %s\n", text, strerror(-fd));
		return EX_OSERR;
	}
	/* The signals stay blocked except inside ppoll(), so one that comes
	 * between the check of stop and the wait cannot be missed. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &waiting);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	setup_batch();
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (ppoll(&p, 1, NULL, &waiting) < 0 && errno != EINTR)
			break;
		if ((rc = drain(fd, &c)) < 0) {
			fprintf(stderr, "bench_null_rx: recvmmsg: %s\n", strerror(-rc));
			return EX_IOERR;
		}
		if (report) {
			report = 0;
			print_counts(fd, &c);
		}
	}
	print_counts(fd, &c);
	close(fd);
	return 0;
}
