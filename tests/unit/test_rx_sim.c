/* SPDX-License-Identifier: MIT */
/*
 * The receiver engine against a simulated network: seeded random loss,
 * reordering and duplication over 100,000 records from several senders.
 * The test is the senders: it keeps every record, reads the engine's
 * responses (through the same lossy network), resends what is asked, and
 * goes into emergency mode when acks stall, as a reliable sender does. At
 * the end every record must have been delivered exactly once, in order,
 * with no gap. A second run does the same for stock senders whose only
 * trouble is reordering: every record in order, no gap. A third gives the
 * senders records they never had (as a /dev/kmsg overrun does), answered
 * with ncgone placeholders: those, and only those, come out as lost gaps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <ncx/rx.h>

#define MS 1000ULL
#define NSEND 4

/* ---- a seeded generator -------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* True with probability pct / 1000. */
static bool chance(unsigned permille)
{
	return rnd() % 1000 < permille;
}

/* ---- the network: packets in flight, ordered by arrival time ------------ */

struct pkt {
	uint64_t at;
	uint64_t order; /* ties: first sent, first arrived */
	int to_rx;	/* 1: sender -> engine, 0: engine -> sender */
	int who;
	size_t len;
	char *data;
};

struct net {
	struct pkt *q;
	size_t n, cap;
	uint64_t sent;
	unsigned loss, dup;	/* permille */
	uint64_t delay, jitter; /* us */
};

static bool pkt_before(const struct pkt *a, const struct pkt *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void q_push(struct net *nt, struct pkt p)
{
	size_t i;

	if (nt->n == nt->cap) {
		nt->cap = nt->cap ? nt->cap * 2 : 1024;
		nt->q = realloc(nt->q, nt->cap * sizeof(*nt->q));
		assert_non_null(nt->q);
	}
	for (i = nt->n++; i > 0; i = (i - 1) / 2) {
		if (!pkt_before(&p, &nt->q[(i - 1) / 2]))
			break;
		nt->q[i] = nt->q[(i - 1) / 2];
	}
	nt->q[i] = p;
}

static struct pkt q_pop(struct net *nt)
{
	struct pkt top = nt->q[0], last = nt->q[--nt->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= nt->n)
			break;
		if (c + 1 < nt->n && pkt_before(&nt->q[c + 1], &nt->q[c]))
			c++;
		if (!pkt_before(&nt->q[c], &last))
			break;
		nt->q[i] = nt->q[c];
		i = c;
	}
	if (nt->n)
		nt->q[i] = last;
	return top;
}

/* Send through the lossy network: maybe lost, maybe twice, each late. */
static void net_send(struct net *nt, int to_rx, int who, const void *d, size_t len, uint64_t now)
{
	int copies = 1;

	if (chance(nt->loss))
		return;
	if (chance(nt->dup))
		copies = 2;
	while (copies--) {
		struct pkt p = { .to_rx = to_rx, .who = who, .len = len };

		p.at = now + nt->delay + (nt->jitter ? rnd() % nt->jitter : 0);
		p.order = nt->sent++;
		p.data = malloc(len ? len : 1);
		assert_non_null(p.data);
		memcpy(p.data, d, len);
		q_push(nt, p);
	}
}

/* ---- the senders ------------------------------------------------------------- */

struct sender {
	struct ncx_addr addr;
	bool reliable;
	uint64_t n;		/* records it will send */
	char **body;		/* body of each record (text + "\n") */
	size_t *body_len;
	uint64_t sent;		/* records sent so far (seq of the next) */
	int64_t acked;		/* highest seq acked, -1 for none */
	uint64_t acked_at;	/* when acked last moved */
	uint64_t emg_at;	/* last emergency resend */
	uint64_t delivered;	/* RECORD events seen, and seqs in gaps of gone ones */
	uint64_t resent;
	uint64_t gone_mod, gone_run; /* seq % mod >= mod - run: never had it */
};

struct sim {
	struct net net;
	struct sender s[NSEND];
	int nsend;
	struct ncx_rx *rx;
	uint64_t gaps, reboots, responses, bad, gone_gaps, placeholders;
	uint64_t now;
};

static struct sim SIM;

static int who_of(const struct ncx_addr *a)
{
	for (int i = 0; i < SIM.nsend; i++)
		if (ncx_addr_equal(a, &SIM.s[i].addr))
			return i;
	fail_msg("event from an unknown sender");
	return -1;
}

/* Every 50th record is long enough to go as fragments. */
static void make_records(struct sender *s, int who, uint64_t n)
{
	s->n = n;
	s->body = calloc(n, sizeof(*s->body));
	s->body_len = calloc(n, sizeof(*s->body_len));
	assert_non_null(s->body);
	assert_non_null(s->body_len);
	for (uint64_t i = 0; i < n; i++) {
		char buf[4096];
		int len = snprintf(buf, sizeof(buf),
				   "host%d: record %llu of the simulated run, payload %016llx", who,
				   (unsigned long long)i, (unsigned long long)rnd());

		if (i % 50 == 49) {
			memset(buf + len, 'A' + (int)(i % 26), 2400);
			len += 2400;
		}
		buf[len++] = '\n';
		s->body[i] = malloc((size_t)len);
		assert_non_null(s->body[i]);
		memcpy(s->body[i], buf, (size_t)len);
		s->body_len[i] = (size_t)len;
	}
}

struct send_ctx {
	int who;
};

static int to_net(void *arg, const void *d, size_t len)
{
	const struct send_ctx *c = arg;

	net_send(&SIM.net, 1, c->who, d, len, SIM.now);
	return 0;
}

/* Format record seq (header as the kernel or a reliable sender would) and
 * send it, cut into fragments if it is long. */
static void send_record(int who, uint64_t seq, bool emergency)
{
	struct sender *s = &SIM.s[who];
	static char rec[8192];
	struct send_ctx ctx = { who };
	int n = snprintf(rec, sizeof(rec), "6,%llu,%llu,-%s%s;", (unsigned long long)seq,
			 (unsigned long long)(seq * 7 + 1), emergency ? ",ncemg=1" : "",
			 s->reliable ? ",ncrx=1" : "");

	assert_true(n > 0 && (size_t)n + s->body_len[seq] <= sizeof(rec));
	memcpy(rec + n, s->body[seq], s->body_len[seq]);
	assert_int_equal(ncx_ext_fragment(rec, (size_t)n + s->body_len[seq], to_net, &ctx), 0);
}

static bool gone_seq(const struct sender *s, uint64_t q)
{
	return s->gone_mod && q % s->gone_mod >= s->gone_mod - s->gone_run;
}

/* A placeholder for the run of gone seqs from first on. */
static void send_gone(int who, uint64_t first)
{
	struct sender *s = &SIM.s[who];
	uint64_t end = first;
	char d[128];
	int n;

	while (end < s->n && gone_seq(s, end))
		end++;
	n = snprintf(d, sizeof(d), "4,%llu,0,-,ncgone=%llu,ncrx=1;ncx: gone\n",
		     (unsigned long long)first, (unsigned long long)(end - first));
	net_send(&SIM.net, 1, who, d, (size_t)n, SIM.now);
	SIM.placeholders++;
}

/* "ncrx<acked>[ <seq>]*": take the ack, resend what is asked. */
static void on_response(int who, const char *p, size_t len)
{
	struct sender *s = &SIM.s[who];
	char buf[NCX_RX_RESPONSE_MAX + 1], *q, *end;
	unsigned long long v;

	assert_true(len > 4 && len <= NCX_RX_RESPONSE_MAX);
	memcpy(buf, p, len);
	buf[len] = 0;
	assert_memory_equal(buf, "ncrx", 4);
	v = strtoull(buf + 4, &end, 10);
	assert_true(end > buf + 4);
	if ((int64_t)v > s->acked) {
		s->acked = (int64_t)v;
		s->acked_at = SIM.now;
	}
	for (q = end; *q; q = end) {
		assert_int_equal(*q, ' ');
		v = strtoull(q + 1, &end, 10);
		assert_true(end > q + 1);
		if ((int64_t)v > s->acked && v < s->sent) {
			if (gone_seq(s, v))
				send_gone(who, v);
			else
				send_record(who, v, false);
			s->resent++;
		}
	}
}

/* No ack progress for a while with records unacked: resend the oldest,
 * marked ncemg (the real threshold is 10 s; the simulation is faster). */
static void emergency(int who)
{
	struct sender *s = &SIM.s[who];

	if (!s->reliable || (uint64_t)(s->acked + 1) >= s->sent)
		return;
	if (SIM.now - s->acked_at < 300 * MS || SIM.now - s->emg_at < 100 * MS)
		return;
	s->emg_at = SIM.now;
	for (uint64_t q = (uint64_t)(s->acked + 1); q < s->sent && q < (uint64_t)(s->acked + 33); q++) {
		if (!gone_seq(s, q)) {
			send_record(who, q, true);
		} else if (q == (uint64_t)(s->acked + 1)) {
			send_gone(who, q); /* the head is gone: say so */
		}
	}
}

static void on_event(void *arg, const struct ncx_rx_event *ev)
{
	int who = who_of(ev->from);
	struct sender *s = &SIM.s[who];

	switch (ev->kind) {
	case NCX_RX_RECORD:
		/* exactly once, in order, byte for byte */
		if (ev->record.seq != s->delivered ||
		    ev->record.body.len != s->body_len[s->delivered] ||
		    memcmp(ev->record.body.p, s->body[s->delivered], ev->record.body.len)) {
			if (!SIM.bad++)
				print_message("bad: seq %llu want %llu len %zu want %zu\n",
					      (unsigned long long)ev->record.seq,
					      (unsigned long long)s->delivered, ev->record.body.len,
					      s->body_len[s->delivered]);
			return;
		}
		s->delivered++;
		break;
	case NCX_RX_GAP:
		/* Only what the sender never had, in place, as lost. */
		if (s->gone_mod && ev->gap.lost && ev->gap.first == s->delivered) {
			for (uint64_t q = ev->gap.first; q <= ev->gap.last; q++)
				if (!gone_seq(s, q))
					SIM.bad++;
			s->delivered = ev->gap.last + 1;
			SIM.gone_gaps++;
			break;
		}
		SIM.gaps++;
		break;
	case NCX_RX_REBOOT:
		SIM.reboots++;
		break;
	case NCX_RX_RESPONSE:
		assert_true(s->reliable);
		SIM.responses++;
		net_send(&SIM.net, 0, who, ev->response.p, ev->response.len, SIM.now);
		break;
	case NCX_RX_LEGACY:
	case NCX_RX_SENDER_GONE:
		SIM.bad++;
		break;
	case NCX_RX_DROP:
		break;
	}
}

/* Deliver what has arrived by now, run the engine's timers. */
static void step(void)
{
	while (SIM.net.n && SIM.net.q[0].at <= SIM.now) {
		struct pkt p = q_pop(&SIM.net);

		if (p.to_rx)
			ncx_rx_feed(SIM.rx, &SIM.s[p.who].addr, p.data, p.len, SIM.now, NULL);
		else
			on_response(p.who, p.data, p.len);
		free(p.data);
	}
	if (ncx_rx_next_deadline(SIM.rx) <= SIM.now)
		ncx_rx_tick(SIM.rx, SIM.now);
	for (int i = 0; i < SIM.nsend; i++)
		emergency(i);
}

static bool all_done(void)
{
	for (int i = 0; i < SIM.nsend; i++) {
		const struct sender *s = &SIM.s[i];

		if (s->delivered != s->n)
			return false;
		if (s->reliable && (uint64_t)(s->acked + 1) != s->n)
			return false;
	}
	return true;
}

static void sim_setup(int nsend, bool reliable, uint64_t per_sender, uint64_t seed,
		      uint64_t start_us)
{
	struct ncx_rx_config cfg;

	memset(&SIM, 0, sizeof(SIM));
	rng_state = seed;
	SIM.nsend = nsend;
	for (int i = 0; i < nsend; i++) {
		struct sender *s = &SIM.s[i];

		s->addr.family = AF_INET;
		s->addr.port = 6665;
		s->addr.addr[0] = 127;
		s->addr.addr[3] = (uint8_t)(10 + i);
		s->reliable = reliable;
		s->acked = -1;
		make_records(s, i, per_sender);
	}
	ncx_rx_config_default(&cfg);
	cfg.retx_us = 20 * MS;
	cfg.ack_us = 20 * MS;
	cfg.start_us = start_us;
	SIM.rx = ncx_rx_new(&cfg, on_event, NULL);
	assert_non_null(SIM.rx);
}

/* Record 0 of each sender, alone and unharmed, before anything else. */
static void sim_clean_start(void)
{
	unsigned loss = SIM.net.loss, dup = SIM.net.dup;
	uint64_t jitter = SIM.net.jitter;

	SIM.net.loss = SIM.net.dup = 0;
	SIM.net.jitter = 0;
	for (int i = 0; i < SIM.nsend; i++)
		send_record(i, SIM.s[i].sent++, false);
	for (uint64_t end = SIM.now + 10 * MS; SIM.now < end; SIM.now += 100)
		step();
	for (int i = 0; i < SIM.nsend; i++)
		assert_int_equal(SIM.s[i].delivered, 1);
	SIM.net.loss = loss;
	SIM.net.dup = dup;
	SIM.net.jitter = jitter;
}

/*
 * Send every record round robin, one per `gap_us`, then run until done.
 * The receiver learns where a stream begins from the records it gets
 * (nothing in the protocol says more): a lossy run starts clean (a lost
 * record 0 could not be known to exist, and the first ack would release
 * it); a reordering-only run relies on the engine's start_us instead.
 */
static void sim_run(uint64_t gap_us, uint64_t limit_us, bool clean_start)
{
	uint64_t total = 0, left;

	if (clean_start)
		sim_clean_start();
	for (int i = 0; i < SIM.nsend; i++)
		total += SIM.s[i].n - SIM.s[i].sent;
	for (left = total; left; SIM.now += gap_us) {
		for (int i = 0; i < SIM.nsend && left; i++) {
			struct sender *s = &SIM.s[(SIM.now / gap_us + (uint64_t)i) % (uint64_t)SIM.nsend];

			if (s->sent < s->n) {
				if (!gone_seq(s, s->sent)) /* a gone one is never sent */
					send_record((int)(s - SIM.s), s->sent, false);
				s->sent++;
				left--;
				break;
			}
		}
		step();
	}
	while (!all_done() && SIM.now < limit_us) {
		SIM.now += 100;
		step();
	}
}

static void sim_teardown(void)
{
	while (SIM.net.n)
		free(q_pop(&SIM.net).data);
	free(SIM.net.q);
	ncx_rx_free(SIM.rx);
	for (int i = 0; i < SIM.nsend; i++) {
		for (uint64_t k = 0; k < SIM.s[i].n; k++)
			free(SIM.s[i].body[k]);
		free(SIM.s[i].body);
		free(SIM.s[i].body_len);
	}
}

static void test_reliable_lossy(void **state)
{
	struct ncx_rx_stats st;
	uint64_t resent = 0;

	sim_setup(NSEND, true, 25000, 0x5eed1234abcdULL, 0);
	SIM.net.loss = 100;	 /* 10% of datagrams both ways */
	SIM.net.dup = 50;	 /* 5% twice */
	SIM.net.delay = 500;
	SIM.net.jitter = 3 * MS; /* reordering */
	sim_run(20, 120ULL * 1000 * MS, true);
	ncx_rx_stats(SIM.rx, &st);
	for (int i = 0; i < NSEND; i++) {
		assert_int_equal(SIM.s[i].delivered, 25000);
		assert_int_equal(SIM.s[i].acked, 24999);
		resent += SIM.s[i].resent;
	}
	print_message("reliable: %llu responses, %llu resent, %llu dup drops, %llu frag drops, "
		      "%llu window drops, %llu emergency, sim %.1f s\n",
		      (unsigned long long)SIM.responses, (unsigned long long)resent,
		      (unsigned long long)st.dropped[NCX_DROP_DUPLICATE],
		      (unsigned long long)st.dropped[NCX_DROP_FRAGS],
		      (unsigned long long)st.dropped[NCX_DROP_WINDOW],
		      (unsigned long long)st.emergency, SIM.now / 1e6);
	assert_int_equal(SIM.bad, 0);
	assert_int_equal(SIM.gaps, 0);
	assert_int_equal(SIM.reboots, 0);
	assert_int_equal(st.records, 100000);
	assert_int_equal(st.gaps, 0);
	assert_int_equal(st.lost, 0);
	assert_true(st.dropped[NCX_DROP_DUPLICATE] > 0); /* the channel did duplicate */
	assert_true(resent > 10000);			  /* and did lose */
	assert_true(st.fragments > 0);
	assert_int_equal(st.held_bytes, 0);
	sim_teardown();
}

/* Heavier loss, fewer records, the tail lost too: emergency mode saves it. */
static void test_reliable_heavy_loss(void **state)
{
	struct ncx_rx_stats st;
	uint64_t emg = 0;

	for (uint64_t seed = 1; seed <= 4; seed++) {
		sim_setup(2, true, 5000, 0xabcdef00ULL + seed, 0);
		SIM.net.loss = 300;
		SIM.net.dup = 100;
		SIM.net.delay = 500;
		SIM.net.jitter = 5 * MS;
		sim_run(20, 300ULL * 1000 * MS, true);
		ncx_rx_stats(SIM.rx, &st);
		assert_int_equal(SIM.s[0].delivered, 5000);
		assert_int_equal(SIM.s[1].delivered, 5000);
		assert_int_equal(SIM.bad, 0);
		assert_int_equal(SIM.gaps, 0);
		assert_int_equal(SIM.reboots, 0);
		assert_int_equal(st.held_bytes, 0);
		emg += st.emergency;
		sim_teardown();
	}
	assert_true(emg > 0); /* some tails were lost, and came back this way */
}

/* Records the senders never had (three of every 500, the last three
 * included: a lost tail that only emergency mode reveals) answered with
 * placeholders: each closes as a lost gap at once, never a record. */
static void test_reliable_gone(void **state)
{
	struct ncx_rx_stats st;

	sim_setup(NSEND, true, 10000, 0x90e5eedULL, 0);
	for (int i = 0; i < NSEND; i++) {
		SIM.s[i].gone_mod = 500;
		SIM.s[i].gone_run = 3;
	}
	SIM.net.loss = 100;
	SIM.net.dup = 50;
	SIM.net.delay = 500;
	SIM.net.jitter = 3 * MS;
	sim_run(20, 120ULL * 1000 * MS, true);
	ncx_rx_stats(SIM.rx, &st);
	for (int i = 0; i < NSEND; i++) {
		assert_int_equal(SIM.s[i].delivered, 10000);
		assert_int_equal(SIM.s[i].acked, 9999);
	}
	assert_int_equal(SIM.bad, 0);
	assert_int_equal(SIM.gaps, 0);
	assert_int_equal(SIM.reboots, 0);
	assert_int_equal(st.records, NSEND * (10000 - 20 * 3));
	assert_int_equal(st.lost, NSEND * 20 * 3);
	assert_true(SIM.gone_gaps >= NSEND * 20);
	assert_true(SIM.placeholders > 0);
	assert_int_equal(st.held_bytes, 0);
	sim_teardown();
}

static void test_stock_reordered(void **state)
{
	struct ncx_rx_stats st;

	sim_setup(2, false, 20000, 0xfeedULL, 20 * MS);
	SIM.net.delay = 200;
	SIM.net.jitter = 5 * MS; /* far below the 250 ms hole timeout */
	sim_run(10, 10ULL * 1000 * MS, false);
	ncx_rx_stats(SIM.rx, &st);
	for (int i = 0; i < 2; i++)
		assert_int_equal(SIM.s[i].delivered, 20000);
	assert_int_equal(SIM.bad, 0);
	assert_int_equal(SIM.gaps, 0);
	assert_int_equal(SIM.reboots, 0);
	assert_int_equal(SIM.responses, 0);
	assert_int_equal(st.records, 40000);
	for (int r = 0; r < NCX_DROP_REASON_COUNT; r++)
		assert_int_equal(st.dropped[r], 0);
	assert_int_equal(st.held_bytes, 0);
	sim_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reliable_lossy),
		cmocka_unit_test(test_reliable_heavy_loss),
		cmocka_unit_test(test_reliable_gone),
		cmocka_unit_test(test_stock_reordered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
