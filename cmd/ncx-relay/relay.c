/* SPDX-License-Identifier: MIT */
/*
 * ncx-relay: a deliberately bad network between netconsole senders and a
 * receiver, for tests. It forwards UDP both ways and, from a seeded random
 * generator, drops, duplicates, delays and reorders datagrams.
 *
 * Each client (address, port) that sends to the relay gets its own upstream
 * socket, so the receiver sees one distinct sender per client, and the
 * receiver's responses to that socket go back to that client from the
 * relay's listening port, the address the client sends to. Everything is
 * bounded: clients, datagrams in flight, and their bytes; what does not fit
 * is dropped and counted.
 *
 * Blackouts (--blackout START:SECONDS, from the relay's start) drop
 * everything both ways for a while: a receiver that went silent. The relay
 * also notes when it last saw a client send a seq higher than any before
 * (parsing the extended header): that is the sender's last first send, the
 * moment "time to the last record" is measured from. SIGUSR1 prints the
 * counts without stopping.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <ncx/addr.h>
#include <ncx/log.h>
#include <ncx/num.h>
#include <ncx/udp.h>
#include <ncx/wire.h>

#define MAX_CLIENTS 1024
#define MAX_INFLIGHT 65536
#define MAX_INFLIGHT_BYTES (64u << 20)
#define MAX_BLACKOUTS 8
/* Datagrams read from one socket per turn: what is due goes out between
 * turns, so a deep socket queue does not pile up in flight (overflow). */
#define BATCH 256

struct impair {
	double loss, dup, reorder; /* probabilities, 0..1 */
	uint64_t delay_us, jitter_us, reorder_us;
};

struct client {
	struct ncx_addr addr; /* where the client sends from */
	int up_fd;	      /* our socket toward the receiver, for this client */
	bool seen;	      /* max_seq is valid */
	uint64_t max_seq;     /* highest seq the client has sent */
};

struct blackout {
	uint64_t start_us, end_us; /* since the relay started */
};

/* A datagram waiting for its time to go. */
struct flight {
	uint64_t due;
	uint64_t order; /* ties keep arrival order */
	int fd;		/* socket to send from */
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
	unsigned char *data;
};

struct stats {
	uint64_t in, out, lost, duped, reordered, overflow, blackout, send_errors;
};

struct relay {
	int listen_fd;
	struct ncx_addr target;
	struct client clients[MAX_CLIENTS];
	int nclients;
	struct impair fwd, back;
	struct stats sfwd, sback;
	struct flight *heap[MAX_INFLIGHT]; /* min-heap on (due, order) */
	size_t nheap, heap_bytes;
	uint64_t order;
	uint64_t rng;
	uint64_t start_us; /* monotonic, for the blackouts */
	struct blackout blackouts[MAX_BLACKOUTS];
	int nblackouts;
	bool dark;	      /* inside a blackout (for the messages) */
	uint64_t new_seqs;    /* datagrams that raised their client's max_seq */
	uint64_t last_new_rt; /* realtime (us) of the last of those */
};

static volatile sig_atomic_t stop_signal, stats_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_usr1(int sig)
{
	stats_signal = sig;
}

/* xorshift64*: reproducible from --seed, which is the point. */
static double rnd(struct relay *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (double)((r->rng * 0x2545F4914F6CDD1DULL) >> 11) / (double)(1ULL << 53);
}

static bool earlier(const struct flight *a, const struct flight *b)
{
	return a->due != b->due ? a->due < b->due : a->order < b->order;
}

static void heap_push(struct relay *r, struct flight *f)
{
	size_t i = r->nheap++;

	while (i && earlier(f, r->heap[(i - 1) / 2])) {
		r->heap[i] = r->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	r->heap[i] = f;
}

static struct flight *heap_pop(struct relay *r)
{
	struct flight *top = r->heap[0], *last = r->heap[--r->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= r->nheap)
			break;
		if (c + 1 < r->nheap && earlier(r->heap[c + 1], r->heap[c]))
			c++;
		if (!earlier(r->heap[c], last))
			break;
		r->heap[i] = r->heap[c];
		i = c;
	}
	if (r->nheap)
		r->heap[i] = last;
	return top;
}

static void schedule(struct relay *r, const struct impair *im, struct stats *st, int fd,
		     const struct sockaddr_storage *to, socklen_t tolen, const void *buf,
		     size_t len, uint64_t now, uint64_t extra)
{
	struct flight *f;

	if (r->nheap == MAX_INFLIGHT || r->heap_bytes + len > MAX_INFLIGHT_BYTES ||
	    !(f = malloc(sizeof(*f) + len))) {
		st->overflow++;
		return;
	}
	f->data = (unsigned char *)(f + 1);
	memcpy(f->data, buf, len);
	f->len = len;
	f->fd = fd;
	f->to = *to;
	f->tolen = tolen;
	f->due = now + im->delay_us + extra;
	if (im->jitter_us)
		f->due += (uint64_t)(rnd(r) * (double)im->jitter_us);
	f->order = r->order++;
	r->heap_bytes += len;
	heap_push(r, f);
}

/* One datagram through the bad network: lost, or sent once or twice, on
 * time or held back so that later ones overtake it. */
static void impair(struct relay *r, const struct impair *im, struct stats *st, int fd,
		   const struct ncx_addr *dst, const void *buf, size_t len, uint64_t now)
{
	struct sockaddr_storage to;
	socklen_t tolen = ncx_addr_to_sockaddr(dst, &to);
	int copies = 1;

	st->in++;
	if (r->dark) {
		st->blackout++;
		return;
	}
	if (rnd(r) < im->loss) {
		st->lost++;
		return;
	}
	if (rnd(r) < im->dup) {
		st->duped++;
		copies = 2;
	}
	for (int i = 0; i < copies; i++) {
		uint64_t extra = 0;

		if (rnd(r) < im->reorder) {
			st->reordered++;
			extra = im->reorder_us ? 1 + (uint64_t)(rnd(r) * (double)im->reorder_us) : 1;
		}
		schedule(r, im, st, fd, &to, tolen, buf, len, now, extra);
	}
}

static void send_due(struct relay *r, uint64_t now)
{
	while (r->nheap && r->heap[0]->due <= now) {
		struct flight *f = heap_pop(r);
		struct stats *st = f->fd == r->listen_fd ? &r->sback : &r->sfwd;

		/* A blackout also takes what was already on its way. */
		if (r->dark)
			st->blackout++;
		/* A send that fails is one more loss (the network is allowed
		 * that), but counted apart from the chosen ones. */
		else if (sendto(f->fd, f->data, f->len, MSG_DONTWAIT, (struct sockaddr *)&f->to,
			   f->tolen) < 0)
			st->send_errors++;
		else
			st->out++;
		r->heap_bytes -= f->len;
		free(f);
	}
}

/* Inside a blackout now? Says so on stderr when that changes. */
static void update_dark(struct relay *r, uint64_t now)
{
	bool dark = false;

	for (int i = 0; i < r->nblackouts; i++)
		if (now - r->start_us >= r->blackouts[i].start_us &&
		    now - r->start_us < r->blackouts[i].end_us)
			dark = true;
	if (dark != r->dark)
		ncx_notice("blackout %s\n", dark ? "begins" : "ends");
	r->dark = dark;
}

/* Note a client's first send of a new highest seq (not resends). */
static void note_seq(struct relay *r, struct client *c, const void *buf, size_t len)
{
	struct ncx_ext e;

	if (ncx_ext_parse(buf, len, &e) || (c->seen && e.seq <= c->max_seq))
		return;
	c->seen = true;
	c->max_seq = e.seq;
	r->new_seqs++;
	r->last_new_rt = ncx_real_us();
}

/* A big send buffer: on loopback a datagram stays charged to the sender
 * until the receiver reads it, so a busy receiver would otherwise make our
 * sends fail (EAGAIN), a loss nobody chose. FORCE (root) lifts wmem_max. */
static void big_sndbuf(int fd)
{
	int n = 64 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &n, sizeof(n)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
}

static struct client *client_for(struct relay *r, const struct ncx_addr *from)
{
	struct ncx_addr any = { .family = r->target.family };
	int fd;

	for (int i = 0; i < r->nclients; i++)
		if (ncx_addr_equal(&r->clients[i].addr, from))
			return &r->clients[i];
	if (r->nclients == MAX_CLIENTS)
		return NULL;
	fd = ncx_udp_bind(&any, &(struct ncx_udp_opts){ .rcvbuf = 4 << 20 });
	if (fd < 0)
		return NULL;
	big_sndbuf(fd);
	/* Connected: the kernel then hands us only the receiver's own answers. */
	struct sockaddr_storage ss;
	socklen_t sl = ncx_addr_to_sockaddr(&r->target, &ss);

	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		close(fd);
		return NULL;
	}
	r->clients[r->nclients] = (struct client){ .addr = *from, .up_fd = fd };
	return &r->clients[r->nclients++];
}

static void from_clients(struct relay *r, unsigned char *buf, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct ncx_addr from;
	struct client *c;
	ssize_t n;

	for (int i = 0; i < BATCH; i++) {
		n = recvfrom(r->listen_fd, buf, NCX_WIRE_DGRAM_MAX, 0, (struct sockaddr *)&ss, &sl);
		if (n < 0)
			break;
		if (!ncx_addr_from_sockaddr(&from, (struct sockaddr *)&ss, sl) &&
		    (c = client_for(r, &from))) {
			note_seq(r, c, buf, (size_t)n);
			impair(r, &r->fwd, &r->sfwd, c->up_fd, &r->target, buf, (size_t)n, now);
		} else
			r->sfwd.overflow++;
		sl = sizeof(ss);
	}
}

static void from_target(struct relay *r, struct client *c, unsigned char *buf, uint64_t now)
{
	ssize_t n;

	/* The socket is connected to the receiver: only its answers arrive here. */
	for (int i = 0; i < BATCH && (n = recv(c->up_fd, buf, NCX_WIRE_DGRAM_MAX, 0)) >= 0; i++)
		impair(r, &r->back, &r->sback, r->listen_fd, &c->addr, buf, (size_t)n, now);
}

static void print_stats(const struct relay *r);

static int run(struct relay *r)
{
	static unsigned char buf[NCX_WIRE_DGRAM_MAX];
	static struct pollfd pfd[MAX_CLIENTS + 1];

	while (!stop_signal) {
		uint64_t now = ncx_now_us();
		int timeout = 100, n = 0;

		if (stats_signal) {
			stats_signal = 0;
			print_stats(r);
		}
		if (r->nheap)
			timeout = r->heap[0]->due <= now ? 0 : (int)((r->heap[0]->due - now + 999) / 1000);
		if (timeout > 100)
			timeout = 100;
		pfd[n++] = (struct pollfd){ .fd = r->listen_fd, .events = POLLIN };
		for (int i = 0; i < r->nclients; i++)
			pfd[n++] = (struct pollfd){ .fd = r->clients[i].up_fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			return EX_OSERR;
		now = ncx_now_us();
		update_dark(r, now);
		if (pfd[0].revents & POLLIN)
			from_clients(r, buf, now);
		for (int i = 1; i < n; i++)
			/* POLLERR too: an ICMP error (no receiver) is read off by recv(). */
			if (pfd[i].revents & (POLLIN | POLLERR))
				from_target(r, &r->clients[i - 1], buf, now);
		send_due(r, ncx_now_us());
	}
	return 0;
}

static void print_dir(const char *dir, const struct stats *s)
{
	fprintf(stderr,
		"ncx-relay: %s: in %llu, out %llu, lost %llu, duplicated %llu, reordered %llu, "
		"blackout %llu, overflow %llu, send_errors %llu\n",
		dir, (unsigned long long)s->in, (unsigned long long)s->out,
		(unsigned long long)s->lost, (unsigned long long)s->duped,
		(unsigned long long)s->reordered, (unsigned long long)s->blackout,
		(unsigned long long)s->overflow, (unsigned long long)s->send_errors);
}

/* Datagrams the kernel dropped on a full receive buffer of fd (0 if unknown). */
static uint64_t sock_drops(int fd)
{
	uint32_t mi[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mi);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len) < 0 || len <= SK_MEMINFO_DROPS * 4)
		return 0;
	return mi[SK_MEMINFO_DROPS];
}

/* Per direction, then one line for scripts: "ncx-relay: stats key=value ...".
 * sock_drops: what the kernel dropped before the relay read it (the listen
 * socket, and every upstream socket): a loss the relay did not choose. */
static void print_stats(const struct relay *r)
{
	uint64_t drops_in = sock_drops(r->listen_fd), drops_back = 0;

	for (int i = 0; i < r->nclients; i++)
		drops_back += sock_drops(r->clients[i].up_fd);
	print_dir("forward", &r->sfwd);
	print_dir("back", &r->sback);
	fprintf(stderr,
		"ncx-relay: stats clients=%d fwd_in=%llu fwd_out=%llu back_in=%llu back_out=%llu "
		"new_seqs=%llu last_new=%llu.%06llu sock_drops_fwd=%llu sock_drops_back=%llu\n",
		r->nclients, (unsigned long long)r->sfwd.in, (unsigned long long)r->sfwd.out,
		(unsigned long long)r->sback.in, (unsigned long long)r->sback.out,
		(unsigned long long)r->new_seqs, (unsigned long long)(r->last_new_rt / 1000000),
		(unsigned long long)(r->last_new_rt % 1000000), (unsigned long long)drops_in,
		(unsigned long long)drops_back);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncx-relay -l ADDR:PORT -t ADDR:PORT [--loss P] [--dup P] [--reorder P]\n"
		"                 [--delay MS] [--jitter MS] [--reorder-delay MS] [--seed N]\n"
		"                 [--back-loss P] [--back-dup P] [--back-reorder P]\n"
		"                 [--blackout START:SECONDS]...\n\n"
		"A bad network for tests: forwards UDP from clients to the target (-t) and the\n"
		"target's answers back, losing, duplicating, delaying and reordering datagrams\n"
		"with a seeded generator. Probabilities are 0..1 (0.5 = 50%%). The --back-* options\n"
		"set the answer direction (default: the same as forward). Each client gets its own\n"
		"upstream socket, so the target sees one sender per client. Loopback only.\n"
		"--blackout drops everything both ways from START to START+SECONDS after the\n"
		"relay starts (decimals allowed; up to %d). SIGUSR1 prints the counts; SIGTERM\n"
		"and SIGINT print them and exit 0. The stats line's last_new is the wall-clock\n"
		"time a client last sent a seq higher than any it sent before.\n",
		MAX_BLACKOUTS);
}

static int parse_prob(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || v < 0 || v > 1)
		return -1;
	*out = v;
	return 0;
}

/* START:SECONDS, both non-negative decimals. */
/* Milliseconds (at most an hour) as µs. */
static int parse_ms(const char *s, uint64_t *us)
{
	uint64_t ms;

	if (ncx_num_parse(s, 0, 3600 * 1000, &ms))
		return -1;
	*us = ms * 1000;
	return 0;
}

static int parse_seed(const char *s, uint64_t *rng)
{
	uint64_t v;

	if (ncx_num_parse(s, 0, UINT64_MAX, &v))
		return -1;
	*rng = v * 0x9E3779B97F4A7C15ULL | 1;
	return 0;
}

static int parse_blackout(const char *s, struct relay *r)
{
	char *end;
	double start = strtod(s, &end), len;

	if (end == s || *end != ':' || r->nblackouts == MAX_BLACKOUTS)
		return -1;
	s = end + 1;
	len = strtod(s, &end);
	if (end == s || *end || !(start >= 0 && start < 1e6) || !(len >= 0 && len < 1e6))
		return -1;
	r->blackouts[r->nblackouts].start_us = (uint64_t)(start * 1e6);
	r->blackouts[r->nblackouts].end_us = (uint64_t)((start + len) * 1e6);
	r->nblackouts++;
	return 0;
}

static bool is_loopback(const struct ncx_addr *a)
{
	static const uint8_t v6lo[16] = { [15] = 1 };

	return a->family == AF_INET ? a->addr[0] == 127 : !memcmp(a->addr, v6lo, 16);
}

int main(int argc, char **argv)
{
	enum { O_DUP = 256, O_DELAY, O_JITTER, O_RDELAY, O_SEED, O_BLOSS, O_BDUP, O_BREORDER,
	       O_BLACKOUT };
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' }, { "target", required_argument, NULL, 't' },
		{ "loss", required_argument, NULL, 'L' },   { "dup", required_argument, NULL, O_DUP },
		{ "reorder", required_argument, NULL, 'R' }, { "delay", required_argument, NULL, O_DELAY },
		{ "jitter", required_argument, NULL, O_JITTER },
		{ "reorder-delay", required_argument, NULL, O_RDELAY },
		{ "seed", required_argument, NULL, O_SEED },
		{ "back-loss", required_argument, NULL, O_BLOSS },
		{ "back-dup", required_argument, NULL, O_BDUP },
		{ "back-reorder", required_argument, NULL, O_BREORDER },
		{ "blackout", required_argument, NULL, O_BLACKOUT },
		{ "help", no_argument, NULL, 'h' },	    { NULL, 0, NULL, 0 }
	};
	static struct relay r;
	const char *listen_at = NULL, *target = NULL;
	double bloss = -1, bdup = -1, breorder = -1;
	struct ncx_addr at;
	int c, bad = 0, bad_blackout = 0, bad_num = 0;

	/* Our own diagnostics through the log core (flushed at exit); the
	 * statistics at the end are the tool's output: plain prints. */
	if (!ncx_log_start_stderr("ncx-relay", NCX_LOG_INFO)) {
		fprintf(stderr, "ncx-relay: cannot start the log: %s\n", strerror(errno));
		return EX_OSERR;
	}
	r.fwd.reorder_us = 20000;
	r.rng = 1;
	while ((c = getopt_long(argc, argv, "l:t:L:R:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_at = optarg; break;
		case 't': target = optarg; break;
		case 'L': bad |= parse_prob(optarg, &r.fwd.loss); break;
		case 'R': bad |= parse_prob(optarg, &r.fwd.reorder); break;
		case O_DUP: bad |= parse_prob(optarg, &r.fwd.dup); break;
		case O_BLOSS: bad |= parse_prob(optarg, &bloss); break;
		case O_BDUP: bad |= parse_prob(optarg, &bdup); break;
		case O_BREORDER: bad |= parse_prob(optarg, &breorder); break;
		case O_BLACKOUT: bad_blackout |= parse_blackout(optarg, &r); break;
		case O_DELAY: bad_num |= parse_ms(optarg, &r.fwd.delay_us); break;
		case O_JITTER: bad_num |= parse_ms(optarg, &r.fwd.jitter_us); break;
		case O_RDELAY: bad_num |= parse_ms(optarg, &r.fwd.reorder_us); break;
		case O_SEED: bad_num |= parse_seed(optarg, &r.rng); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (bad || bad_blackout || bad_num || !listen_at || !target || optind != argc) {
		if (bad)
			ncx_err("probabilities are numbers from 0 to 1\n");
		if (bad_num)
			ncx_err("--delay, --jitter, --reorder-delay: milliseconds up to 3600000; "
				"--seed: a whole number\n");
		if (bad_blackout)
			ncx_err("--blackout START:SECONDS (at most %d)\n", MAX_BLACKOUTS);
		usage(stderr);
		return EX_USAGE;
	}
	if (ncx_addr_parse(target, 6666, &r.target) || ncx_addr_parse(listen_at, 6666, &at)) {
		ncx_err("addresses are numeric ADDR:PORT\n");
		return EX_USAGE;
	}
	if (!is_loopback(&r.target) || !is_loopback(&at)) {
		ncx_err("a test tool: loopback addresses only\n");
		return EX_USAGE;
	}
	r.back = r.fwd;
	if (bloss >= 0)
		r.back.loss = bloss;
	if (bdup >= 0)
		r.back.dup = bdup;
	if (breorder >= 0)
		r.back.reorder = breorder;
	r.listen_fd = ncx_udp_bind(&at, &(struct ncx_udp_opts){ .rcvbuf = 128 << 20 });
	if (r.listen_fd < 0) {
		ncx_err("cannot listen on %s: %s\n", listen_at, strerror(-r.listen_fd));
		return EX_UNAVAILABLE;
	}
	big_sndbuf(r.listen_fd);
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	r.start_us = ncx_now_us();
	update_dark(&r, r.start_us);
	int rc = run(&r);

	print_stats(&r);
	while (r.nheap)
		free(heap_pop(&r));
	return rc;
}
