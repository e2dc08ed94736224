/* SPDX-License-Identifier: MIT */
/*
 * bench_netcon_mac: what the ncmac tag adds to netcon's work per record
 * (issue #10). netcon's send path for one record is: format it
 * (ncx_log_format_ext, as ncx send's render does), mark it (ncx_ext_mark:
 * ncrx, ncid), cut it (ncx_ext_fragment) and, per datagram, with a key,
 * copy it and tag it (ncx_auth_dgram_sign), then sendto(). This runs
 * exactly that, in one process, four ways in the same run, rounds
 * interleaved so that all four share the machine's noise:
 *
 *   build        format + mark + fragment (the datagrams are not sent)
 *   build+mac    the same, each datagram copied and tagged as netcon does
 *   send         build, then sendto() each datagram to a loopback socket
 *                (nobody reads it: the kernel drops what does not fit)
 *   send+mac     build+mac, then sendto()
 *
 * for records of TEXT bytes of text (default: 100, 900 and 4000: a short
 * line, one near-full datagram, a record cut into 5 fragments). Prints
 * ns/record (median of the rounds) and the ratios mac/plain.
 *
 *   bench_netcon_mac [--records N] [--rounds R] [TEXT...]
 *
 * Sends only to 127.0.0.1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <ncx/addr.h>
#include <ncx/auth.h>
#include <ncx/log.h>
#include <ncx/udp.h>
#include <ncx/wire.h>

#define ROUNDS_MAX 64
#define OUT_CAP (NCX_WIRE_HDR_MAX + NCX_WIRE_BODY_MAX + NCX_WIRE_MARK_MAX)
#define DGRAM_CAP (NCX_WIRE_CHUNK + NCX_AUTH_DGRAM_TAG_LEN)

enum mode { BUILD, BUILD_MAC, SEND, SEND_MAC, MODES };
static const char *const mode_name[MODES] = { "build", "build+mac", "send", "send+mac" };

struct ctx {
	bool mac, send;
	int fd;
	struct sockaddr_storage to;
	socklen_t tolen;
	struct ncx_auth_key key;
	char dgram[DGRAM_CAP];
	unsigned long dgrams;
};

static char out[OUT_CAP];
static char text[NCX_WIRE_BODY_MAX];

static int emit(void *arg, const void *d, size_t len)
{
	struct ctx *c = arg;

	if (c->mac) {
		long n;

		memcpy(c->dgram, d, len);
		n = ncx_auth_dgram_sign(&c->key, c->dgram, len, sizeof(c->dgram));
		if (n < 0)
			return (int)n;
		d = c->dgram, len = (size_t)n;
	}
	if (c->send)
		(void)sendto(c->fd, d, len, MSG_DONTWAIT, (struct sockaddr *)&c->to, c->tolen);
	c->dgrams++;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One round: n records of len bytes of text; ns per record. */
static double round_ns(struct ctx *c, size_t len, unsigned long n)
{
	struct ncx_log_record r = { .ts_usec = 1234567, .tid = 42, .level = 6, .facility = 1,
				    .text = text, .len = len };
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < n; i++) {
		size_t m;

		r.seq = i;
		m = ncx_log_format_ext(&r, out, OUT_CAP - NCX_WIRE_MARK_MAX);
		m = ncx_ext_mark(out, m, OUT_CAP, false, 0x0123456789abcdefull);
		if (!m || ncx_ext_fragment(out, m, emit, c)) {
			fprintf(stderr, "bench_netcon_mac: a record did not go\n");
			exit(EX_SOFTWARE);
		}
	}
	return (double)(now_ns() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A socket on 127.0.0.1 that never reads: the target. */
static int sink(struct ctx *c)
{
	struct ncx_addr a;
	int rx;

	if (ncx_addr_parse("127.0.0.1", 0, &a))
		return -1;
	rx = ncx_udp_bind(&a, NULL);
	if (rx < 0)
		return rx;
	c->tolen = sizeof(c->to);
	if (getsockname(rx, (struct sockaddr *)&c->to, &c->tolen))
		return -errno;
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return c->fd < 0 ? -errno : rx;
}

static void run_size(struct ctx *c, size_t len, unsigned long n, int rounds)
{
	static double ns[MODES][ROUNDS_MAX];
	unsigned long dg[MODES] = { 0 };
	double med[MODES];

	for (int r = 0; r < rounds; r++)
		for (int m = 0; m < MODES; m++) {
			/* Rotate the order: no mode always runs first. */
			int k = (m + r) % MODES;

			c->mac = k == BUILD_MAC || k == SEND_MAC;
			c->send = k == SEND || k == SEND_MAC;
			c->dgrams = 0;
			ns[k][r] = round_ns(c, len, n);
			dg[k] = c->dgrams;
		}
	for (int m = 0; m < MODES; m++) {
		qsort(ns[m], (size_t)rounds, sizeof(double), cmp_double);
		med[m] = ns[m][rounds / 2];
		printf("text %5zu B  %-10s %9.1f ns/record  (%.2f datagrams/record; rounds %.1f..%.1f)\n",
		       len, mode_name[m], med[m], (double)dg[m] / (double)n, ns[m][0],
		       ns[m][rounds - 1]);
	}
	printf("text %5zu B  mac/plain: build %.2fx (+%.1f ns), send %.2fx (+%.1f ns)\n\n", len,
	       med[BUILD_MAC] / med[BUILD], med[BUILD_MAC] - med[BUILD], med[SEND_MAC] / med[SEND],
	       med[SEND_MAC] - med[SEND]);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const size_t sizes[] = { 100, 900, 4000 };
	static struct ctx c;
	unsigned long n = 200000;
	int rounds = 7, opt, rx;

	while ((opt = getopt_long(argc, argv, "n:r:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'r': rounds = atoi(optarg); break;
		case 'h':
			printf("usage: bench_netcon_mac [--records N] [--rounds R] [TEXT_BYTES...]\n");
			return 0;
		default: return EX_USAGE;
		}
	}
	if (!n || rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "bench_netcon_mac: --records > 0, --rounds 1..%d\n", ROUNDS_MAX);
		return EX_USAGE;
	}
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	for (int i = 0; i < NCX_AUTH_KEY_BYTES; i++)
		c.key.k[i] = (uint8_t)(i * 7 + 1);
	rx = sink(&c);
	if (rx < 0) {
		fprintf(stderr, "bench_netcon_mac: loopback socket: %s\n", strerror(-rx));
		return EX_OSERR;
	}
	printf("%lu records per round, %d rounds, median of the rounds\n\n", n, rounds);
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			size_t len = strtoul(argv[i], NULL, 10);

			if (!len || len > 8000) {
				fprintf(stderr, "bench_netcon_mac: text bytes 1..8000\n");
				return EX_USAGE;
			}
			run_size(&c, len, n, rounds);
		}
	} else {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			run_size(&c, sizes[i], n, rounds);
	}
	close(rx);
	close(c.fd);
	return 0;
}
