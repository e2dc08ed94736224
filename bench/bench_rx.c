/* SPDX-License-Identifier: MIT */
/*
 * bench_rx: the receiver engine in process, no sockets. Datagrams are made
 * up front (the kernel's extended format, ~100 bytes of text), then fed to
 * an engine with a fake clock; the cost per record is compared with the cost
 * of ncx_ext_parse() alone on the same datagrams, the floor any receiver
 * pays. Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), the best
 * of three runs. Then the memory an idle sender costs: ncx_rx_sender_bytes(), and
 * the heap and RSS growth for 10,000 idle senders. Last, what authentication
 * costs (issue #10): named reliable streams fed untagged to an engine
 * without keys, then tagged (ncmac) to one with --auth-key's checks.
 *
 *   bench_rx [records]        (default 200,000 per row)
 */
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ncx/auth.h>
#include <ncx/rx.h>

#define DGRAM_CAP 240 /* a record's datagram, tag included */

static const struct ncx_auth_key secret = { { 0x6e, 0x63, 0x78, 0x2d, 0x62, 0x65, 0x6e, 0x63, 0x68 } };

struct dgrams {
	char *buf;
	size_t *off, *len;
	uint32_t *who;
	size_t n;
};

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* CPU time of this thread: a busy machine's other work is not counted. */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static struct ncx_addr addr_of(uint32_t i)
{
	struct ncx_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.port = 6665;
	a.addr[0] = 10;
	a.addr[1] = (uint8_t)(i >> 16);
	a.addr[2] = (uint8_t)(i >> 8);
	a.addr[3] = (uint8_t)i;
	return a;
}

/*
 * n records round robin over `senders`, each sender's seqs in order; with
 * reorder_pct, that share of records swaps places with the same sender's
 * next record (a hole opens and closes at once).
 */
static void make(struct dgrams *d, size_t n, uint32_t senders, unsigned reorder_pct,
		 bool reliable, bool named, bool tagged)
{
	uint64_t *seq = calloc(senders, sizeof(*seq));
	size_t at = 0;

	d->n = n;
	d->buf = malloc(n * DGRAM_CAP);
	d->off = malloc(n * sizeof(*d->off));
	d->len = malloc(n * sizeof(*d->len));
	d->who = malloc(n * sizeof(*d->who));
	if (!seq || !d->buf || !d->off || !d->len || !d->who) {
		perror("bench_rx");
		exit(1);
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t w = (uint32_t)(k % senders);
		uint64_t s = seq[w]++;
		char id[32] = "";
		int len;

		if (named)
			snprintf(id, sizeof(id), ",ncid=%016" PRIx64, (uint64_t)0x1000000000000000ULL + w);
		len = snprintf(d->buf + at, 160,
			       "6,%" PRIu64 ",%" PRIu64 ",-%s%s;systemd[1]: Started session %" PRIu64
			       " of user app%u (unit session-%" PRIu64 ".scope) ok\n",
			       s, 1000000 + s * 1357, reliable ? ",ncrx=1" : "", id, s, w, s);
		if (tagged) {
			struct ncx_addr a = addr_of(w);
			struct ncx_auth_key hk;
			char text[NCX_ADDR_TEXT_MAX];
			size_t tn = ncx_addr_format(&a, false, text, sizeof(text));

			ncx_auth_derive(&secret, text, tn, &hk);
			len = (int)ncx_auth_dgram_sign(&hk, d->buf + at, (size_t)len, DGRAM_CAP);
		}

		d->off[k] = at;
		d->len[k] = (size_t)len;
		d->who[k] = w;
		at += (size_t)len;
	}
	/* Not a sender's first record: the engine starts a stream at the
	 * first record it gets, and this measures speed, not that. */
	for (size_t k = senders; k + senders < n; k++) {
		if (rnd() % 100 < reorder_pct) {
			size_t j = k + senders, t;

			t = d->off[k], d->off[k] = d->off[j], d->off[j] = t;
			t = d->len[k], d->len[k] = d->len[j], d->len[j] = t;
			k = j; /* leave the pair alone from here */
		}
	}
	free(seq);
}

static void unmake(struct dgrams *d)
{
	free(d->buf);
	free(d->off);
	free(d->len);
	free(d->who);
}

static volatile uint64_t sink;

static double bench_parse(const struct dgrams *d)
{
	double t0 = now_ns();
	uint64_t acc = 0;

	for (size_t k = 0; k < d->n; k++) {
		struct ncx_ext e;

		if (ncx_ext_parse(d->buf + d->off[k], d->len[k], &e) == 0)
			acc += e.seq + e.body.len;
	}
	sink = acc;
	return (now_ns() - t0) / (double)d->n;
}

struct counts {
	uint64_t records, gaps, responses, other;
};

static void on_event(void *arg, const struct ncx_rx_event *ev)
{
	struct counts *c = arg;

	switch (ev->kind) {
	case NCX_RX_RECORD:
		c->records++;
		sink += ev->record.body.len;
		break;
	case NCX_RX_GAP:
		c->gaps++;
		break;
	case NCX_RX_RESPONSE:
		c->responses++;
		break;
	default:
		c->other++;
		break;
	}
}

static double bench_engine(const struct dgrams *d, uint32_t senders, bool auth, struct counts *c)
{
	struct ncx_addr *addrs = malloc(senders * sizeof(*addrs));
	struct ncx_rx_config cfg;
	struct ncx_rx *rx;
	uint64_t clock = 1;
	double t0;

	memset(c, 0, sizeof(*c));
	ncx_rx_config_default(&cfg);
	cfg.auth = auth;
	cfg.require_auth = auth;
	cfg.auth_secret = secret;
	rx = ncx_rx_new(&cfg, on_event, c);
	if (!rx || !addrs) {
		perror("bench_rx");
		exit(1);
	}
	for (uint32_t i = 0; i < senders; i++)
		addrs[i] = addr_of(i);
	t0 = now_ns();
	for (size_t k = 0; k < d->n; k++, clock++) {
		ncx_rx_feed(rx, &addrs[d->who[k]], d->buf + d->off[k], d->len[k], clock, NULL);
		if ((k & 63) == 0 && ncx_rx_next_deadline(rx) <= clock)
			ncx_rx_tick(rx, clock);
	}
	ncx_rx_flush(rx, clock);
	t0 = (now_ns() - t0) / (double)d->n;
	ncx_rx_free(rx);
	free(addrs);
	return t0;
}

static void row(size_t n, uint32_t senders, unsigned reorder, bool reliable)
{
	struct dgrams d;
	struct counts c;
	double parse, engine;

	make(&d, n, senders, reorder, reliable, false, false);
	/* the best of three runs each, interleaved: the machine may be busy */
	parse = engine = INFINITY;
	for (int r = 0; r < 3; r++) {
		parse = fmin(parse, bench_parse(&d));
		engine = fmin(engine, bench_engine(&d, senders, false, &c));
	}
	printf("%8u  %-8s %6u%%  %10.1f  %10.1f  %6.2fx  %9" PRIu64 "  %6" PRIu64 "\n", senders,
	       reliable ? "reliable" : "stock", reorder, parse, engine, engine / parse,
	       c.records, c.responses);
	if (c.records != n || c.gaps) {
		fprintf(stderr, "bench_rx: %" PRIu64 " records of %zu, %" PRIu64 " gaps\n",
			c.records, n, c.gaps);
		exit(1);
	}
	unmake(&d);
}

/*
 * What the MAC adds: the same named reliable streams, untagged into an
 * engine without keys, and tagged into one that checks every tag (and tags
 * its acks). Parsing the tagged datagrams is the baseline, as above.
 */
static void auth_row(size_t n, uint32_t senders)
{
	struct dgrams plain, tagged;
	struct counts c, ct;
	double parse = INFINITY, off = INFINITY, on = INFINITY;

	make(&plain, n, senders, 1, true, true, false);
	rng = 0x2545f4914f6cdd1dULL; /* the same reordering for both */
	make(&tagged, n, senders, 1, true, true, true);
	for (int r = 0; r < 3; r++) {
		parse = fmin(parse, bench_parse(&plain));
		off = fmin(off, bench_engine(&plain, senders, false, &c));
		on = fmin(on, bench_engine(&tagged, senders, true, &ct));
	}
	/* whole: against the engine with its parse; own: against what the
	 * engine adds to parsing (bench_rx's usual "engine's own"). */
	printf("%8u  %10.1f  %10.1f  %10.1f  %8.1f  %+7.0f%%  %+7.0f%%  %9" PRIu64 "\n", senders,
	       parse, off, on, on - off, 100.0 * (on - off) / off, 100.0 * (on - off) / (off - parse),
	       ct.records);
	if (c.records != n || ct.records != n || c.gaps || ct.gaps) {
		fprintf(stderr, "bench_rx: auth %" PRIu64 "/%" PRIu64 " records of %zu\n",
			c.records, ct.records, n);
		exit(1);
	}
	unmake(&plain);
	unmake(&tagged);
}

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void idle_memory(uint32_t senders)
{
	struct counts c;
	struct ncx_rx *rx = ncx_rx_new(NULL, on_event, &c);
	size_t heap0 = mallinfo2().uordblks;
	long rss0 = rss_kib();
	char buf[160];

	for (uint32_t i = 0; i < senders; i++) {
		struct ncx_addr a = addr_of(i);
		int len = snprintf(buf, sizeof(buf), "6,%u,1000,-;one record and then silence\n", i);

		ncx_rx_feed(rx, &a, buf, (size_t)len, 1, NULL);
	}
	printf("idle senders: %u, each costs\n", senders);
	printf("  ncx_rx_sender_bytes()     %6zu bytes\n", ncx_rx_sender_bytes());
	printf("  heap (mallinfo2) growth   %6.0f bytes\n",
	       (double)(mallinfo2().uordblks - heap0) / senders);
	printf("  RSS growth                %6.0f bytes\n\n", (rss_kib() - rss0) * 1024.0 / senders);
	ncx_rx_free(rx);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;

	if (n < 20000)
		n = 20000;
	printf("bench_rx: %zu records per row, ~100-byte text; ns per record\n\n", n);
	/* first, while the heap is fresh, so RSS growth means something */
	idle_memory(10000);
	printf("%8s  %-8s %7s  %10s  %10s  %7s  %9s  %6s\n", "senders", "kind", "reorder",
	       "parse ns", "engine ns", "ratio", "records", "acks");
	row(n, 1, 0, false);
	row(n, 1, 1, false);
	row(n, 1, 1, true);
	row(n, 1000, 1, false);
	row(n, 1000, 1, true);
	row(n, 10000, 1, false);
	row(n, 10000, 1, true);
	printf("\nauthentication: named reliable streams, 1%% reordered; ns per record\n");
	printf("%8s  %10s  %10s  %10s  %8s  %8s  %8s  %9s\n", "senders", "parse ns", "no auth",
	       "auth", "MAC ns", "whole", "own", "records");
	auth_row(n, 1);
	auth_row(n, 1000);
	auth_row(n, 10000);
	return 0;
}
