/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of lib/rx.c, the receiver engine, driven by a fake clock: time
 * is an argument, so every timer is exercised to the microsecond. The
 * long randomized runs are in test_rx_sim.c.
 */
#include <errno.h>
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

#include "hexfile.h"

#define MS 1000ULL
#define SEC 1000000ULL

/* ---- capturing events ------------------------------------------------- */

struct ev {
	enum ncx_rx_kind kind;
	struct ncx_addr from;
	bool reliable;
	void *user;	/* *ev->user when emitted */
	bool has_user;	/* ev->user != NULL */
	uint64_t rx_us;
	uint64_t seq, ts;	/* RECORD */
	char text[4000];	/* RECORD body, LEGACY text, RESPONSE bytes */
	size_t text_len;
	uint64_t first, last;	/* GAP */
	bool lost;
	uint64_t prev_seq;	/* REBOOT (seq in seq) */
	enum ncx_rx_drop_reason reason;
	uint64_t records;
	bool has_seq;
	void *ctx;	/* the feed's ctx, NULL from tick and flush */
	uint64_t pos;	/* the stream's position after it (RECORD, GAP, REBOOT) */
};

struct cap {
	struct ev *ev;
	size_t n, cap;
	void *set_user; /* stored into a new sender's slot */
};

static void copy_text(struct ev *e, const char *p, size_t len)
{
	if (len > sizeof(e->text) - 1)
		len = sizeof(e->text) - 1;
	memcpy(e->text, p, len);
	e->text[len] = 0;
	e->text_len = len;
}

static void on_event(void *arg, const struct ncx_rx_event *rev)
{
	struct cap *c = arg;
	struct ev *e;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->ev = realloc(c->ev, c->cap * sizeof(*c->ev));
		assert_non_null(c->ev);
	}
	e = &c->ev[c->n++];
	memset(e, 0, sizeof(*e));
	e->kind = rev->kind;
	e->from = *rev->from;
	e->reliable = rev->reliable;
	e->rx_us = rev->rx_us;
	e->has_user = rev->user != NULL;
	e->ctx = rev->ctx;
	e->pos = rev->pos;
	if (rev->user) {
		if (!*rev->user)
			*rev->user = c->set_user;
		e->user = *rev->user;
	}
	switch (rev->kind) {
	case NCX_RX_RECORD:
		e->seq = rev->record.seq;
		e->ts = rev->record.ts_usec;
		copy_text(e, rev->record.body.p, rev->record.body.len);
		break;
	case NCX_RX_LEGACY:
		copy_text(e, rev->legacy.text.p, rev->legacy.text.len);
		break;
	case NCX_RX_GAP:
		e->first = rev->gap.first;
		e->last = rev->gap.last;
		e->lost = rev->gap.lost;
		break;
	case NCX_RX_REBOOT:
		e->prev_seq = rev->reboot.prev_seq;
		e->seq = rev->reboot.seq;
		break;
	case NCX_RX_DROP:
		e->reason = rev->drop.reason;
		e->records = rev->drop.records;
		e->seq = rev->drop.seq;
		e->has_seq = rev->drop.has_seq;
		break;
	case NCX_RX_RESPONSE:
		assert_true(rev->response.len <= NCX_RX_RESPONSE_MAX);
		copy_text(e, rev->response.p, rev->response.len);
		break;
	case NCX_RX_SENDER_GONE:
		break;
	}
}

static size_t count(const struct cap *c, enum ncx_rx_kind k)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n; i++)
		n += c->ev[i].kind == k;
	return n;
}

static size_t count_drops(const struct cap *c, enum ncx_rx_drop_reason r)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n; i++)
		n += c->ev[i].kind == NCX_RX_DROP && c->ev[i].reason == r;
	return n;
}

/* The i-th event of kind k, or fail. */
static const struct ev *nth(const struct cap *c, enum ncx_rx_kind k, size_t i)
{
	for (size_t j = 0; j < c->n; j++)
		if (c->ev[j].kind == k && i-- == 0)
			return &c->ev[j];
	fail_msg("no event %zu of kind %d", i, (int)k);
	return NULL;
}

static void reset(struct cap *c)
{
	c->n = 0;
}

/* ---- building datagrams ------------------------------------------------ */

static struct ncx_addr addr_n(int n)
{
	struct ncx_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.port = 6665;
	a.addr[0] = 127;
	a.addr[3] = (uint8_t)n;
	return a;
}

/* "6,seq,ts,-<keys>;text\n" */
static size_t dgram(char *buf, size_t cap, uint64_t seq, uint64_t ts, const char *keys,
		    const char *text)
{
	int n = snprintf(buf, cap, "6,%llu,%llu,-%s;%s\n", (unsigned long long)seq,
			 (unsigned long long)ts, keys, text);

	assert_true(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static void feed_k(struct ncx_rx *rx, int who, uint64_t seq, const char *keys, const char *text,
		   uint64_t now)
{
	char buf[2048];
	struct ncx_addr a = addr_n(who);
	size_t n = dgram(buf, sizeof(buf), seq, seq * 10, keys, text);

	ncx_rx_feed(rx, &a, buf, n, now, NULL);
}

/* A stock record "line <seq>" from sender 1. */
static void feed_s(struct ncx_rx *rx, uint64_t seq, uint64_t now)
{
	char text[64];

	snprintf(text, sizeof(text), "line %llu", (unsigned long long)seq);
	feed_k(rx, 1, seq, "", text, now);
}

/* The same from a reliable sender. */
static void feed_r(struct ncx_rx *rx, uint64_t seq, uint64_t now)
{
	char text[64];

	snprintf(text, sizeof(text), "line %llu", (unsigned long long)seq);
	feed_k(rx, 1, seq, ",ncrx=1", text, now);
}

static struct cap C;

static struct ncx_rx *mk(const struct ncx_rx_config *cfg)
{
	struct ncx_rx *rx;

	reset(&C);
	C.set_user = NULL;
	rx = ncx_rx_new(cfg, on_event, &C);
	assert_non_null(rx);
	return rx;
}

static struct ncx_rx_config cfg_noidle(void)
{
	struct ncx_rx_config cfg;

	ncx_rx_config_default(&cfg);
	cfg.idle_us = 0;
	return cfg;
}

/* The same, with no amplification limit: for tests of how requests are
 * made (their form, their rounds), which ask for far more than the few
 * records they feed (test_no_amplification tests the limit). */
static struct ncx_rx_config cfg_unlimited(void)
{
	struct ncx_rx_config cfg = cfg_noidle();

	cfg.amplify = 0;
	return cfg;
}

/* RECORD seqs, in order of the events, must be exactly want[0..n). */
static void assert_records(const uint64_t *want, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < C.n; i++) {
		if (C.ev[i].kind != NCX_RX_RECORD)
			continue;
		assert_true(k < n);
		assert_int_equal(C.ev[i].seq, want[k]);
		k++;
	}
	assert_int_equal(k, n);
}

static void assert_response(size_t i, const char *want)
{
	const struct ev *e = nth(&C, NCX_RX_RESPONSE, i);

	assert_string_equal(e->text, want);
}

/* ---- basics --------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct ncx_rx_config cfg;

	ncx_rx_config_default(&cfg);
	assert_int_equal(cfg.window, 4096);
	assert_int_equal(cfg.max_senders, 100000);
	assert_int_equal(cfg.max_frags, 8);
	assert_int_equal(cfg.sender_bytes, 8u << 20);
	assert_int_equal(cfg.engine_bytes, 512u << 20);
	assert_int_equal(cfg.stock_hole_us, 250 * MS);
	assert_int_equal(cfg.reliable_hole_us, 30 * SEC);
	assert_int_equal(cfg.retx_us, 100 * MS);
	assert_int_equal(cfg.ack_us, 100 * MS);
	assert_int_equal(cfg.idle_us, 3600 * SEC);
	assert_int_equal(cfg.start_us, 0);
	assert_string_equal(ncx_rx_drop_reason_name(NCX_DROP_DUPLICATE), "duplicate");
	assert_string_equal(ncx_rx_drop_reason_name(NCX_DROP_TOO_MANY_SENDERS),
			    "too_many_senders");
	assert_string_equal(ncx_rx_drop_reason_name(NCX_DROP_REASON_COUNT), "unknown");
	assert_true(ncx_rx_sender_bytes() > 0 && ncx_rx_sender_bytes() < 2048);
}

static void test_in_order(void **state)
{
	struct ncx_rx *rx = mk(NULL);
	uint64_t want[10];
	struct ncx_rx_stats st;

	for (uint64_t i = 0; i < 10; i++) {
		feed_s(rx, 100 + i, 1000 + i);
		want[i] = 100 + i;
	}
	assert_records(want, 10);
	assert_int_equal(C.n, 10);
	assert_string_equal(C.ev[3].text, "line 103\n");
	assert_int_equal(C.ev[3].ts, 1030);
	assert_int_equal(C.ev[3].rx_us, 1003);
	assert_false(C.ev[3].reliable);
	/* only idle expiry is pending */
	assert_int_equal(ncx_rx_next_deadline(rx), 1009 + 3600 * SEC);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.datagrams, 10);
	assert_int_equal(st.records, 10);
	assert_int_equal(st.senders, 1);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.gaps, 0);
	ncx_rx_free(rx);
}

static void test_reorder_in_window(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	static const uint64_t want[] = { 0, 1, 2, 3, 4, 5 };
	struct ncx_rx_stats st;

	feed_s(rx, 0, 0);
	feed_s(rx, 3, 10);
	feed_s(rx, 2, 20);
	assert_int_equal(count(&C, NCX_RX_RECORD), 1);
	ncx_rx_stats(rx, &st);
	assert_true(st.held_bytes > 0);
	assert_int_equal(ncx_rx_next_deadline(rx), 10 + 250 * MS);
	feed_s(rx, 5, 30);
	feed_s(rx, 1, 40);
	assert_int_equal(count(&C, NCX_RX_RECORD), 4);
	feed_s(rx, 4, 50);
	assert_records(want, 6);
	/* a held record carries the time it arrived */
	assert_int_equal(nth(&C, NCX_RX_RECORD, 2)->rx_us, 20);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 3)->rx_us, 10);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 5)->rx_us, 30);
	assert_string_equal(nth(&C, NCX_RX_RECORD, 3)->text, "line 3\n");
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(ncx_rx_next_deadline(rx), UINT64_MAX);
	ncx_rx_free(rx);
}

/* ---- stock holes ---------------------------------------------------------- */

static void test_stock_hole_gap(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_rx_stats st;
	const struct ev *g;

	feed_s(rx, 0, 0);
	feed_s(rx, 3, 1000);
	assert_int_equal(ncx_rx_next_deadline(rx), 1000 + 250 * MS);
	ncx_rx_tick(rx, 1000 + 250 * MS - 1);
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	ncx_rx_tick(rx, 1000 + 250 * MS);
	assert_int_equal(count(&C, NCX_RX_GAP), 1);
	g = nth(&C, NCX_RX_GAP, 0);
	assert_int_equal(g->first, 1);
	assert_int_equal(g->last, 2);
	assert_false(g->lost);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 1)->seq, 3);
	/* the gap comes before the record it unblocked */
	assert_true(g < nth(&C, NCX_RX_RECORD, 1));
	assert_int_equal(ncx_rx_next_deadline(rx), UINT64_MAX);
	/* too late now */
	feed_s(rx, 2, 300 * MS);
	assert_int_equal(count_drops(&C, NCX_DROP_LATE), 1);
	assert_int_equal(C.ev[C.n - 1].seq, 2);
	assert_true(C.ev[C.n - 1].has_seq);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.missed, 2);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(st.dropped[NCX_DROP_LATE], 1);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 0);
	ncx_rx_free(rx);
}

/* No record is held longer than stock_hole_us, whatever holes follow. */
static void test_stock_hole_never_longer(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	static const uint64_t want[] = { 0, 2, 4, 6 };

	feed_s(rx, 0, 0);
	feed_s(rx, 4, 100 * MS);
	feed_s(rx, 2, 150 * MS);
	feed_s(rx, 6, 200 * MS);
	/* the hole at 1 is as old as record 4: it goes at 350 ms with 3 */
	assert_int_equal(ncx_rx_next_deadline(rx), 350 * MS);
	ncx_rx_tick(rx, 350 * MS);
	assert_int_equal(count(&C, NCX_RX_GAP), 2);
	assert_int_equal(nth(&C, NCX_RX_GAP, 0)->first, 1);
	assert_int_equal(nth(&C, NCX_RX_GAP, 1)->first, 3);
	assert_int_equal(count(&C, NCX_RX_RECORD), 3);
	assert_int_equal(ncx_rx_next_deadline(rx), 450 * MS);
	ncx_rx_tick(rx, 449 * MS);
	assert_int_equal(count(&C, NCX_RX_RECORD), 3);
	ncx_rx_tick(rx, 450 * MS);
	assert_records(want, 4);
	assert_int_equal(count(&C, NCX_RX_GAP), 3);
	ncx_rx_free(rx);
}

/* A stock sender never gets a datagram, whatever happens. */
static void test_stock_never_responds(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);

	for (uint64_t i = 0; i < 200; i += 3) {
		feed_s(rx, i, i * MS);
		feed_k(rx, 1, i + 1, ",ncemg=1", "emergency but not reliable", i * MS);
		ncx_rx_tick(rx, i * MS + 50 * MS);
	}
	ncx_rx_tick(rx, 100 * SEC);
	ncx_rx_flush(rx, 100 * SEC);
	assert_true(count(&C, NCX_RX_GAP) > 0);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 0);
	ncx_rx_free(rx);
}

/* ---- reliable senders ------------------------------------------------------ */

static void test_reliable_ack_timer(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);

	feed_r(rx, 0, 0);
	assert_true(C.ev[0].reliable);
	/* first progress: acked at the next tick */
	assert_int_equal(ncx_rx_next_deadline(rx), 0);
	ncx_rx_tick(rx, 0);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 1);
	assert_response(0, "ncrx0");
	feed_r(rx, 1, 10);
	feed_r(rx, 2, 20);
	/* at most once per ack_us */
	assert_int_equal(ncx_rx_next_deadline(rx), 100 * MS);
	ncx_rx_tick(rx, 100 * MS - 1);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 1);
	ncx_rx_tick(rx, 100 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 2);
	assert_response(1, "ncrx2");
	/* nothing new: no ack */
	assert_int_equal(ncx_rx_next_deadline(rx), UINT64_MAX);
	ncx_rx_tick(rx, 10 * SEC);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 2);
	/* progress long after: acked at once (next tick) */
	feed_r(rx, 3, 20 * SEC);
	assert_int_equal(ncx_rx_next_deadline(rx), 20 * SEC);
	ncx_rx_tick(rx, 20 * SEC);
	assert_response(2, "ncrx3");
	ncx_rx_free(rx);
}

static void test_reliable_retx_then_lost(void **state)
{
	struct ncx_rx_config cfg = cfg_unlimited();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_rx_stats st;
	const struct ev *g;

	feed_r(rx, 0, 0);
	feed_r(rx, 1, 0);
	feed_r(rx, 2, 0);
	ncx_rx_tick(rx, 0);
	assert_response(0, "ncrx2");
	feed_r(rx, 5, 10 * MS);
	feed_r(rx, 7, 10 * MS);
	assert_int_equal(ncx_rx_next_deadline(rx), 110 * MS);
	ncx_rx_tick(rx, 110 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 2);
	assert_response(1, "ncrx2 3 4 6");
	/* asked again every retx_us, twice now (asked before: a loss) */
	assert_int_equal(ncx_rx_next_deadline(rx), 210 * MS);
	ncx_rx_tick(rx, 210 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 4);
	assert_response(2, "ncrx2 3 4 6");
	assert_response(3, "ncrx2 3 4 6");
	/* 3 comes: progress; still asking for the rest */
	feed_r(rx, 3, 250 * MS);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 3)->seq, 3);
	ncx_rx_tick(rx, 310 * MS);
	assert_response(4, "ncrx3 4 6");
	assert_response(5, "ncrx3 4 6");
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.retx_requested, 3 + 6 + 4);
	/* then it gives up: 30 s after the earliest record held behind it */
	for (uint64_t t = 410 * MS; t < 10 * MS + 30 * SEC; t += 100 * MS)
		ncx_rx_tick(rx, t);
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	ncx_rx_tick(rx, 10 * MS + 30 * SEC);
	assert_int_equal(count(&C, NCX_RX_GAP), 2);
	g = nth(&C, NCX_RX_GAP, 0);
	assert_int_equal(g->first, 4);
	assert_int_equal(g->last, 4);
	assert_true(g->lost);
	assert_true(nth(&C, NCX_RX_GAP, 1)->lost);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 5)->seq, 7);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.lost, 2);
	assert_int_equal(st.missed, 0);
	/* the ack of the new progress follows */
	ncx_rx_tick(rx, 10 * MS + 30 * SEC);
	assert_string_equal(C.ev[C.n - 1].text, "ncrx7");
	ncx_rx_free(rx);
}

/* A response is at most 1000 bytes and lists the lowest missing seqs. */
static void test_response_max(void **state)
{
	struct ncx_rx_config cfg = cfg_unlimited();
	struct ncx_rx *rx = mk(&cfg);
	const struct ev *r;
	uint64_t base = 1000000000000ULL, expect, v;
	char *p, *end;

	feed_r(rx, base, 0);
	feed_r(rx, base + 4000, 0);
	ncx_rx_tick(rx, 100 * MS);
	r = nth(&C, NCX_RX_RESPONSE, 0);
	assert_true(r->text_len <= NCX_RX_RESPONSE_MAX);
	assert_true(r->text_len > NCX_RX_RESPONSE_MAX - 14); /* filled up */
	assert_memory_equal(r->text, "ncrx", 4);
	v = strtoull(r->text + 4, &end, 10);
	assert_true(v == base);
	expect = base + 1;
	for (p = end; *p; p = end) {
		assert_int_equal(*p, ' ');
		v = strtoull(p + 1, &end, 10);
		assert_true(end > p + 1);
		assert_true(v == expect);
		expect++;
	}
	assert_true(expect > base + 50);
	ncx_rx_free(rx);
}

static void test_emergency_ack(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_rx_stats st;

	feed_r(rx, 0, 0);
	feed_r(rx, 1, 0);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 0);
	/* an ncemg datagram is acked at once, from inside feed */
	feed_k(rx, 1, 2, ",ncemg=1,ncrx=1", "panic", 5);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 1);
	assert_response(0, "ncrx2");
	/* a resent, already acked record in emergency mode: acked again once
	 * ack_us has passed; the same ack is not repeated within it */
	feed_k(rx, 1, 1, ",ncemg=1,ncrx=1", "line 1", 10);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 1);
	feed_k(rx, 1, 1, ",ncemg=1,ncrx=1", "line 1", 5 + 100 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 2);
	assert_response(1, "ncrx2");
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 2);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.emergency, 3);
	ncx_rx_free(rx);
}

/* netconsole and `ncx forward` from one address:port: one reliable stream. */
static void test_mixed_paths(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	static const uint64_t want[] = { 10, 11, 12, 13 };

	feed_s(rx, 10, 0);			/* kernel */
	feed_s(rx, 12, 1);			/* kernel: 11 above its loglevel */
	feed_r(rx, 10, 2);			/* forward */
	feed_r(rx, 11, 3);
	feed_r(rx, 12, 4);
	feed_s(rx, 13, 5);
	feed_r(rx, 13, 6);
	assert_records(want, 4);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 3);
	assert_true(nth(&C, NCX_RX_RECORD, 3)->reliable);
	ncx_rx_tick(rx, 10);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 1);
	assert_response(0, "ncrx13");
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	ncx_rx_free(rx);
}

/* ---- duplicates, reboots -------------------------------------------------- */

static void test_duplicates(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	static const uint64_t want[] = { 0, 1, 2, 3, 4 };
	struct ncx_rx_stats st;

	feed_s(rx, 0, 0);
	feed_s(rx, 1, 0);
	feed_s(rx, 1, 0);  /* delivered already */
	feed_s(rx, 3, 0);
	feed_s(rx, 3, 0);  /* held already */
	feed_s(rx, 0, 0);
	feed_s(rx, 2, 0);
	feed_s(rx, 4, 0);
	assert_records(want, 5);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 3);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.dropped[NCX_DROP_DUPLICATE], 3);
	ncx_rx_free(rx);
}

/* Within the history, the fingerprint decides. */
static void test_reboot_in_history(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	const struct ev *r;

	for (uint64_t i = 0; i < 10; i++)
		feed_s(rx, i, i);
	feed_s(rx, 5, 20); /* same text and time: a duplicate */
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	feed_k(rx, 1, 5, "", "another boot", 30);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	r = nth(&C, NCX_RX_REBOOT, 0);
	assert_int_equal(r->prev_seq, 9);
	assert_int_equal(r->seq, 5);
	assert_int_equal(C.ev[C.n - 1].kind, NCX_RX_RECORD);
	assert_int_equal(C.ev[C.n - 1].seq, 5);
	assert_string_equal(C.ev[C.n - 1].text, "another boot\n");
	/* the new stream goes on from there */
	feed_s(rx, 6, 40);
	assert_int_equal(C.ev[C.n - 1].seq, 6);
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	ncx_rx_free(rx);
}

/* A reboot that leaves records held: they are delivered (with gaps) first. */
static void test_reboot_flushes_old_boot(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	static const uint64_t want[] = { 0, 1, 2, 4, 0, 1 };

	feed_s(rx, 0, 0);
	feed_s(rx, 1, 0);
	feed_s(rx, 2, 0);
	feed_s(rx, 4, 0);
	feed_k(rx, 1, 0, "", "boot two", 1);
	feed_k(rx, 1, 1, "", "boot two, 1", 2);
	assert_records(want, 6);
	assert_int_equal(count(&C, NCX_RX_GAP), 1);
	assert_int_equal(nth(&C, NCX_RX_GAP, 0)->first, 3);
	assert_int_equal(nth(&C, NCX_RX_REBOOT, 0)->prev_seq, 4);
	assert_true(nth(&C, NCX_RX_GAP, 0) < nth(&C, NCX_RX_REBOOT, 0));
	assert_true(nth(&C, NCX_RX_RECORD, 3) < nth(&C, NCX_RX_REBOOT, 0));
	ncx_rx_free(rx);
}

/* Late within the history (its gap was reported) is LATE, not a reboot. */
static void test_late_in_history(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);

	feed_s(rx, 100, 0);
	feed_s(rx, 98, 1); /* before the stream we joined */
	assert_int_equal(count_drops(&C, NCX_DROP_LATE), 1);
	feed_s(rx, 102, 2);
	ncx_rx_tick(rx, 2 + 250 * MS);
	feed_s(rx, 101, 300 * MS);
	assert_int_equal(count_drops(&C, NCX_DROP_LATE), 2);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	ncx_rx_free(rx);
}

/* Further back than the history: a stock sender has rebooted. */
static void test_reboot_stock_far(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);

	for (uint64_t i = 0; i < 200; i++)
		feed_s(rx, i, i);
	feed_s(rx, 0, 1000); /* same text as before, and still a new boot */
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	assert_int_equal(nth(&C, NCX_RX_REBOOT, 0)->prev_seq, 199);
	assert_int_equal(C.ev[C.n - 1].kind, NCX_RX_RECORD);
	assert_int_equal(C.ev[C.n - 1].seq, 0);
	ncx_rx_free(rx);
}

/* Reliable, further back: a reboot only below an ack older than the
 * reliable hole timeout; otherwise the sender is resending. */
static void test_reboot_reliable_far(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	uint64_t t = 0;

	for (uint64_t i = 0; i < 200; i++, t += MS) {
		feed_r(rx, i, t);
		ncx_rx_tick(rx, t);
	}
	assert_true(count(&C, NCX_RX_RESPONSE) > 0);
	feed_k(rx, 1, 10, ",ncrx=1", "not what 10 was", t);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	/* keep it talking for more than 30 s, acks going out */
	for (uint64_t i = 200; i < 240; i++, t += SEC) {
		feed_r(rx, i, t);
		ncx_rx_tick(rx, t);
	}
	feed_k(rx, 1, 10, ",ncrx=1", "not what 10 was", t);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	assert_int_equal(nth(&C, NCX_RX_REBOOT, 0)->prev_seq, 239);
	assert_int_equal(C.ev[C.n - 1].seq, 10);
	assert_int_equal(C.ev[C.n - 1].kind, NCX_RX_RECORD);
	ncx_rx_free(rx);
}

/* Past a stable ack, an ncemg record is a resend by the sender's own word
 * (the ack did not reach it), not a new boot; the same seq sent normally is. */
static void test_reboot_reliable_far_emergency(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	uint64_t t = 0;

	for (uint64_t i = 0; i < 200; i++, t += MS) {
		feed_r(rx, i, t);
		ncx_rx_tick(rx, t);
	}
	for (uint64_t i = 200; i < 240; i++, t += SEC) {
		feed_r(rx, i, t);
		ncx_rx_tick(rx, t);
	}
	feed_k(rx, 1, 10, ",ncemg=1,ncrx=1", "line 10", t);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	/* acked at once, as any ncemg datagram */
	assert_int_equal(C.ev[C.n - 1].kind, NCX_RX_RESPONSE);
	assert_string_equal(C.ev[C.n - 1].text, "ncrx239");
	feed_k(rx, 1, 10, ",ncrx=1", "line 10", t + 1);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	ncx_rx_free(rx);
}

/* The real capture: a stock kernel booted twice, seq 0..2423 then 0..2424,
 * the first records of each boot nearly identical. */
static void test_capture_two_boots(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_addr a = addr_n(7);
	struct ncx_hexfile hf;
	char path[512];
	size_t boot = 0, nrec[2] = { 0, 0 };
	uint64_t expect = 0;
	const struct ev *r;

	assert_non_null(ncx_testdata_path("ext.hex", path, sizeof(path)));
	assert_int_equal(ncx_hexfile_load(path, &hf), 0);
	for (size_t i = 0; i < hf.n; i++)
		ncx_rx_feed(rx, &a, hf.d[i].p, hf.d[i].len, i * 100, NULL);
	ncx_rx_flush(rx, hf.n * 100);
	for (size_t i = 0; i < C.n; i++) {
		const struct ev *e = &C.ev[i];

		assert_true(e->kind == NCX_RX_RECORD || e->kind == NCX_RX_REBOOT);
		if (e->kind == NCX_RX_REBOOT) {
			assert_int_equal(boot, 0);
			assert_int_equal(e->prev_seq, 2423);
			assert_int_equal(e->seq, 0);
			boot = 1;
			expect = 0;
			continue;
		}
		assert_int_equal(e->seq, expect);
		expect++;
		nrec[boot]++;
	}
	assert_int_equal(nrec[0], 2424);
	assert_int_equal(nrec[1], 2425);
	/* boot b starts with its own record 0, then its command line */
	r = nth(&C, NCX_RX_RECORD, 2425);
	assert_true(strstr(r->text, "captag=bootb") != NULL);
	r = nth(&C, NCX_RX_RECORD, 1);
	assert_true(strstr(r->text, "captag=boota") != NULL);
	/* the fragmented records came through whole */
	{
		size_t esc = 0, lng = 0;

		for (size_t i = 0; i < C.n; i++) {
			const struct ev *e = &C.ev[i];

			if (e->kind != NCX_RX_RECORD)
				continue;
			esc += e->text_len == 2401 && !memcmp(e->text, "\\xe9\\xe9", 8) &&
			       !strcmp(e->text + 2396, "\\xe9\n");
			lng += e->text_len == 990 && !memcmp(e->text, "vecmod: long B", 14);
		}
		assert_int_equal(esc, 2);
		assert_int_equal(lng, 2);
	}
	ncx_hexfile_free(&hf);
	ncx_rx_free(rx);
}

/* ---- fragments ----------------------------------------------------------- */

struct frags {
	char d[16][NCX_WIRE_CHUNK];
	size_t len[16];
	size_t n;
};

static int frag_cb(void *arg, const void *dgram, size_t len)
{
	struct frags *f = arg;

	assert_true(f->n < 16);
	memcpy(f->d[f->n], dgram, len);
	f->len[f->n++] = len;
	return 0;
}

/* Cut record seq (body of `body_len` bytes of 'a'+seq%26) into fragments. */
static void make_frags(struct frags *f, uint64_t seq, size_t body_len, const char *keys)
{
	char rec[9000];
	size_t n = (size_t)snprintf(rec, sizeof(rec), "6,%llu,%llu,-%s;",
				    (unsigned long long)seq, (unsigned long long)seq * 10, keys);

	memset(rec + n, 'a' + (int)(seq % 26), body_len - 1);
	rec[n + body_len - 1] = '\n';
	f->n = 0;
	assert_int_equal(ncx_ext_fragment(rec, n + body_len, frag_cb, f), 0);
}

static void test_fragments_any_order(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_addr a = addr_n(1);
	static struct frags f;
	static const uint64_t want[] = { 0, 1, 2 };
	struct ncx_rx_stats st;
	const struct ev *r;

	feed_s(rx, 0, 0);
	make_frags(&f, 1, 2500, "");
	assert_int_equal(f.n, 3);
	ncx_rx_feed(rx, &a, f.d[2], f.len[2], 1, NULL);
	ncx_rx_feed(rx, &a, f.d[0], f.len[0], 2, NULL);
	feed_s(rx, 2, 3);
	ncx_rx_feed(rx, &a, f.d[0], f.len[0], 4, NULL); /* a duplicate piece */
	assert_int_equal(count(&C, NCX_RX_RECORD), 1);
	ncx_rx_feed(rx, &a, f.d[1], f.len[1], 5, NULL);
	assert_records(want, 3);
	r = nth(&C, NCX_RX_RECORD, 1);
	assert_int_equal(r->text_len, 2500);
	assert_int_equal(r->text[0], 'b');
	assert_int_equal(r->text[2499], '\n');
	assert_int_equal(r->rx_us, 5);
	/* all fragments of it again: duplicates, and nothing stays open */
	for (size_t i = 0; i < f.n; i++)
		ncx_rx_feed(rx, &a, f.d[i], f.len[i], 6, NULL);
	assert_int_equal(count(&C, NCX_RX_RECORD), 3);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.fragments, 7);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.dropped[NCX_DROP_DUPLICATE], 3);
	assert_int_equal(ncx_rx_next_deadline(rx), UINT64_MAX);
	ncx_rx_free(rx);
}

static void test_fragments_limits(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;
	struct ncx_addr a = addr_n(1);
	static struct frags f;
	struct ncx_rx_stats st;

	cfg.max_frags = 2;
	rx = mk(&cfg);
	feed_s(rx, 0, 0);
	for (uint64_t s = 1; s <= 3; s++) {
		make_frags(&f, s, 2000, "");
		ncx_rx_feed(rx, &a, f.d[0], f.len[0], s, NULL);
	}
	assert_int_equal(count_drops(&C, NCX_DROP_FRAGS), 1);
	assert_int_equal(C.ev[C.n - 1].seq, 3);
	ncx_rx_stats(rx, &st);
	assert_true(st.held_bytes > 4000);
	/* open reassemblies time out with the hole timeout */
	assert_int_equal(ncx_rx_next_deadline(rx), 1 + 250 * MS);
	ncx_rx_tick(rx, 2 + 250 * MS);
	assert_int_equal(count_drops(&C, NCX_DROP_FRAGS), 3);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.dropped[NCX_DROP_FRAGS], 3);
	/* a piece that does not fit the open reassembly */
	make_frags(&f, 9, 2000, "");
	ncx_rx_feed(rx, &a, f.d[0], f.len[0], 300 * MS, NULL);
	make_frags(&f, 9, 2100, "");
	ncx_rx_feed(rx, &a, f.d[1], f.len[1], 300 * MS, NULL);
	assert_int_equal(count_drops(&C, NCX_DROP_MALFORMED), 1);
	ncx_rx_free(rx);
}

/* A reliable sender is asked for a record whose pieces are incomplete,
 * and a resent piece completes it. */
static void test_fragments_reliable_retx(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_addr a = addr_n(1);
	static struct frags f;

	feed_r(rx, 0, 0);
	ncx_rx_tick(rx, 0);
	make_frags(&f, 1, 2500, ",ncrx=1");
	ncx_rx_feed(rx, &a, f.d[0], f.len[0], 1, NULL);
	ncx_rx_feed(rx, &a, f.d[2], f.len[2], 1, NULL);
	ncx_rx_tick(rx, 1 + 100 * MS);
	assert_response(1, "ncrx0 1");
	ncx_rx_feed(rx, &a, f.d[1], f.len[1], 150 * MS, NULL);
	assert_int_equal(count(&C, NCX_RX_RECORD), 2);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 1)->text_len, 2500);
	ncx_rx_tick(rx, 201 * MS);
	assert_string_equal(C.ev[C.n - 1].text, "ncrx1");
	assert_int_equal(ncx_rx_next_deadline(rx), UINT64_MAX);
	ncx_rx_free(rx);
}

/* The pieces of a record whose gap was reported are late; the first piece
 * of a new boot's record starts the new boot. */
static void test_fragments_late_and_reboot(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_addr a = addr_n(1);
	static struct frags f;
	struct ncx_rx_stats st;

	for (uint64_t i = 0; i < 3; i++)
		feed_s(rx, i, 0);
	feed_s(rx, 4, 0);
	ncx_rx_tick(rx, 250 * MS); /* 3 reported as not received */
	make_frags(&f, 3, 2500, "");
	ncx_rx_feed(rx, &a, f.d[1], f.len[1], 300 * MS, NULL);
	ncx_rx_feed(rx, &a, f.d[0], f.len[0], 300 * MS, NULL);
	assert_int_equal(count_drops(&C, NCX_DROP_LATE), 2);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.held_bytes, 0);
	/* seq 1 again, other text: within the history, a new boot */
	make_frags(&f, 1, 3000, "");
	ncx_rx_feed(rx, &a, f.d[0], f.len[0], 400 * MS, NULL);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	assert_int_equal(nth(&C, NCX_RX_REBOOT, 0)->prev_seq, 4);
	assert_int_equal(nth(&C, NCX_RX_REBOOT, 0)->seq, 1);
	for (size_t i = 1; i < f.n; i++)
		ncx_rx_feed(rx, &a, f.d[i], f.len[i], 400 * MS, NULL);
	assert_int_equal(C.ev[C.n - 1].kind, NCX_RX_RECORD);
	assert_int_equal(C.ev[C.n - 1].seq, 1);
	assert_int_equal(C.ev[C.n - 1].text_len, 3000);
	ncx_rx_free(rx);
}

/* Freeing an engine with records held and pieces open leaks nothing
 * (ASan's leak check sees to that) and emits nothing. */
static void test_free_with_state(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_addr a = addr_n(1);
	static struct frags f;
	size_t n;

	feed_s(rx, 0, 0);
	feed_s(rx, 5, 0);
	make_frags(&f, 3, 2500, "");
	ncx_rx_feed(rx, &a, f.d[0], f.len[0], 0, NULL);
	n = C.n;
	ncx_rx_free(rx);
	assert_int_equal(C.n, n);
	ncx_rx_free(NULL);
}

/* With start_us, a new stream's first records wait, so those reordered
 * ahead of its first are not late. */
static void test_start_grace(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;
	struct ncx_addr a = addr_n(1);
	static struct frags f;
	static const uint64_t want[] = { 7, 8, 9, 10, 11, 13 };

	cfg.start_us = 100 * MS;
	cfg.window = 16;
	rx = mk(&cfg);
	feed_s(rx, 10, 0);
	feed_s(rx, 9, 1);
	feed_s(rx, 11, 2);
	make_frags(&f, 8, 2500, ""); /* a record in pieces, below the first */
	for (size_t i = 0; i < f.n; i++)
		ncx_rx_feed(rx, &a, f.d[i], f.len[i], 3, NULL);
	feed_s(rx, 7, 4);
	feed_s(rx, 10, 5); /* still a duplicate */
	feed_s(rx, 13, 5);
	assert_int_equal(count(&C, NCX_RX_RECORD), 0);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	assert_int_equal(ncx_rx_next_deadline(rx), 100 * MS);
	ncx_rx_tick(rx, 100 * MS - 1);
	assert_int_equal(count(&C, NCX_RX_RECORD), 0);
	ncx_rx_tick(rx, 100 * MS);
	assert_int_equal(count(&C, NCX_RX_RECORD), 5);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 0)->rx_us, 4);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 1)->text_len, 2500);
	/* then holes as usual: 12 is as old as record 13 (5 us) */
	assert_int_equal(ncx_rx_next_deadline(rx), 5 + 250 * MS);
	ncx_rx_tick(rx, 5 + 250 * MS);
	assert_records(want, 6);
	assert_int_equal(count(&C, NCX_RX_GAP), 1);
	/* after the start, below is late as ever */
	feed_s(rx, 6, 300 * MS);
	assert_int_equal(count_drops(&C, NCX_DROP_LATE), 1);
	ncx_rx_free(rx);
}

/* A reliable stream gets no response while it starts, not even for an
 * emergency; a seq too far below the first is late; a seq too far above
 * ends the start at once. */
static void test_start_grace_reliable(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;

	cfg.start_us = 100 * MS;
	cfg.window = 16;
	rx = mk(&cfg);
	feed_r(rx, 100, 0);
	feed_k(rx, 1, 99, ",ncemg=1,ncrx=1", "line 99", 1);
	feed_r(rx, 50, 2);
	assert_int_equal(count_drops(&C, NCX_DROP_LATE), 1);
	ncx_rx_tick(rx, 50 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 0);
	assert_int_equal(count(&C, NCX_RX_RECORD), 0);
	feed_r(rx, 200, 60 * MS); /* beyond the window: start over, then as usual */
	assert_int_equal(count(&C, NCX_RX_RECORD), 2);
	assert_int_equal(count_drops(&C, NCX_DROP_WINDOW), 1);
	ncx_rx_tick(rx, 60 * MS);
	assert_response(0, "ncrx100");
	ncx_rx_free(rx);
}

/* ---- the window ------------------------------------------------------------ */

static void test_window_reliable(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;

	cfg.window = 8;
	rx = mk(&cfg);
	feed_r(rx, 0, 0);
	ncx_rx_tick(rx, 0);
	feed_r(rx, 20, 1);
	assert_int_equal(count_drops(&C, NCX_DROP_WINDOW), 1);
	assert_int_equal(C.ev[C.n - 1].seq, 20);
	feed_r(rx, 5, 2);
	ncx_rx_tick(rx, 1 + 100 * MS);
	/* only inside the window, and not the record held */
	assert_response(1, "ncrx0 1 2 3 4 6 7 8");
	for (uint64_t i = 1; i < 10; i++)
		feed_r(rx, i, 200 * MS);
	ncx_rx_tick(rx, 201 * MS);
	assert_response(2, "ncrx9 10 11 12 13 14 15 16 17");
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	ncx_rx_free(rx);
}

static void test_window_stock(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;
	static const uint64_t want[] = { 0, 3, 20 };

	cfg.window = 8;
	rx = mk(&cfg);
	feed_s(rx, 0, 0);
	feed_s(rx, 3, 1);
	feed_s(rx, 20, 2);
	assert_records(want, 3);
	assert_int_equal(count(&C, NCX_RX_GAP), 2);
	assert_int_equal(nth(&C, NCX_RX_GAP, 1)->first, 4);
	assert_int_equal(nth(&C, NCX_RX_GAP, 1)->last, 19);
	assert_int_equal(ncx_rx_next_deadline(rx), UINT64_MAX);
	assert_int_equal(count_drops(&C, NCX_DROP_WINDOW), 0);
	ncx_rx_free(rx);
}

/* ---- memory and sender bounds --------------------------------------------- */

static void test_sender_bytes(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;
	struct ncx_rx_stats st;
	uint64_t seq;

	cfg.sender_bytes = 4096;
	rx = mk(&cfg);
	feed_s(rx, 0, 0);
	for (seq = 2; seq < 200 && !count_drops(&C, NCX_DROP_MEMORY); seq++) {
		feed_s(rx, seq, seq);
		ncx_rx_stats(rx, &st);
		assert_true(st.held_bytes <= 4096);
	}
	assert_int_equal(count_drops(&C, NCX_DROP_MEMORY), 1);
	assert_true(seq > 5);
	/* the record in order still goes through */
	feed_s(rx, 1, 500);
	assert_true(count(&C, NCX_RX_RECORD) > 3);
	/* the memory-dropped record is a hole that closes as a gap */
	ncx_rx_tick(rx, 500 + 250 * MS);
	assert_int_equal(count(&C, NCX_RX_GAP), 1);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.dropped[NCX_DROP_MEMORY], 1);
	ncx_rx_free(rx);
}

static void test_engine_bytes(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;
	struct ncx_rx_stats st;

	cfg.engine_bytes = 8000;
	rx = mk(&cfg);
	for (int who = 1; who <= 20; who++) {
		feed_k(rx, who, 0, "", "first", 0);
		for (uint64_t s = 2; s < 6; s++)
			feed_k(rx, who, s, "", "held behind a hole", 0);
		ncx_rx_stats(rx, &st);
		assert_true(st.held_bytes <= 8000);
	}
	assert_true(count_drops(&C, NCX_DROP_MEMORY) > 0);
	ncx_rx_flush(rx, 1);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.held_bytes, 0);
	ncx_rx_free(rx);
}

/*
 * A full table makes room (finding 6 of the hardening issue: it refused
 * every newcomer until --idle, so a flood of forged pairs locked real hosts
 * out for an hour): the longest silent sender on probation (one datagram so
 * far) goes first, and a sender that has spoken twice is left alone while
 * there is one.
 */
static void test_max_senders(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;
	struct ncx_rx_stats st;
	struct ncx_addr a1 = addr_n(1), a2 = addr_n(2), a3 = addr_n(3);
	const struct ev *g;

	cfg.max_senders = 2;
	rx = mk(&cfg);
	feed_k(rx, 1, 0, "", "one", 0);
	feed_k(rx, 2, 0, "", "two", 1);
	feed_k(rx, 2, 1, "", "two again", 2); /* off probation */
	feed_k(rx, 3, 0, "", "three", 3);     /* 1 makes room */
	assert_int_equal(count(&C, NCX_RX_RECORD), 4);
	assert_int_equal(count(&C, NCX_RX_SENDER_GONE), 1);
	g = nth(&C, NCX_RX_SENDER_GONE, 0);
	assert_true(ncx_addr_equal(&g->from, &a1));
	assert_null(g->ctx);
	assert_int_equal(ncx_rx_sender_stats(rx, &a1, &st), -ENOENT);
	feed_k(rx, 4, 0, "", "four", 4); /* 3 makes room, not 2 */
	assert_int_equal(count(&C, NCX_RX_SENDER_GONE), 2);
	assert_true(ncx_addr_equal(&nth(&C, NCX_RX_SENDER_GONE, 1)->from, &a3));
	assert_int_equal(ncx_rx_sender_stats(rx, &a2, &st), 0);
	assert_int_equal(count_drops(&C, NCX_DROP_TOO_MANY_SENDERS), 0);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.senders, 2);
	assert_int_equal(st.evicted, 2);
	ncx_rx_free(rx);
}

/* max_senders 0: nobody gets state, every datagram is a DROP. */
static void test_max_senders_zero(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;

	cfg.max_senders = 0;
	rx = mk(&cfg);
	feed_k(rx, 1, 0, "", "one", 0);
	assert_int_equal(count(&C, NCX_RX_RECORD), 0);
	assert_int_equal(count_drops(&C, NCX_DROP_TOO_MANY_SENDERS), 1);
	assert_false(C.ev[0].has_user);
	ncx_rx_free(rx);
}

/* ---- idle expiry, the user slot -------------------------------------------- */

static void test_idle_expiry(void **state)
{
	struct ncx_rx_config cfg;
	struct ncx_rx *rx;
	struct ncx_rx_stats st;
	int token;

	ncx_rx_config_default(&cfg);
	cfg.idle_us = 10 * SEC;
	rx = mk(&cfg);
	C.set_user = &token;
	feed_s(rx, 100, 0);
	feed_k(rx, 2, 5, "", "other", 3 * SEC);
	assert_ptr_equal(C.ev[0].user, &token);
	assert_int_equal(ncx_rx_next_deadline(rx), 10 * SEC);
	ncx_rx_tick(rx, 10 * SEC - 1);
	assert_int_equal(count(&C, NCX_RX_SENDER_GONE), 0);
	ncx_rx_tick(rx, 10 * SEC);
	assert_int_equal(count(&C, NCX_RX_SENDER_GONE), 1);
	assert_ptr_equal(nth(&C, NCX_RX_SENDER_GONE, 0)->user, &token);
	assert_int_equal(nth(&C, NCX_RX_SENDER_GONE, 0)->from.addr[3], 1);
	assert_int_equal(ncx_rx_next_deadline(rx), 13 * SEC);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.senders, 1);
	/* back, far lower and far higher: a fresh stream, no gap, no reboot */
	C.set_user = NULL;
	feed_s(rx, 3, 11 * SEC);
	assert_int_equal(C.ev[C.n - 1].kind, NCX_RX_RECORD);
	assert_int_equal(C.ev[C.n - 1].seq, 3);
	assert_null(C.ev[C.n - 1].user); /* a new slot */
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	ncx_rx_tick(rx, 30 * SEC);
	assert_int_equal(count(&C, NCX_RX_SENDER_GONE), 3);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.senders, 0);
	ncx_rx_free(rx);
}

/* Expiry first delivers whatever the sender left held. */
static void test_idle_expiry_flushes(void **state)
{
	struct ncx_rx_config cfg;
	struct ncx_rx *rx;

	ncx_rx_config_default(&cfg);
	cfg.idle_us = 100 * MS;
	cfg.stock_hole_us = 10 * SEC;
	rx = mk(&cfg);
	feed_s(rx, 0, 0);
	feed_s(rx, 2, 0);
	assert_int_equal(ncx_rx_next_deadline(rx), 100 * MS);
	ncx_rx_tick(rx, 100 * MS);
	assert_int_equal(count(&C, NCX_RX_RECORD), 2);
	assert_int_equal(count(&C, NCX_RX_GAP), 1);
	assert_int_equal(C.ev[C.n - 1].kind, NCX_RX_SENDER_GONE);
	assert_int_equal(ncx_rx_next_deadline(rx), UINT64_MAX);
	ncx_rx_free(rx);
}

/* ---- legacy, malformed input ---------------------------------------------- */

static void test_legacy(void **state)
{
	struct ncx_rx *rx = mk(NULL);
	struct ncx_addr a = addr_n(4);
	static const char d[] = "[    1.000000] hello world\n";
	struct ncx_rx_stats st;

	ncx_rx_feed(rx, &a, d, sizeof(d) - 1, 7, NULL);
	assert_int_equal(C.n, 1);
	assert_int_equal(C.ev[0].kind, NCX_RX_LEGACY);
	assert_string_equal(C.ev[0].text, "hello world");
	assert_true(C.ev[0].has_user);
	assert_int_equal(C.ev[0].rx_us, 7);
	assert_int_equal(ncx_rx_sender_stats(rx, &a, &st), 0);
	assert_int_equal(st.legacy, 1);
	assert_int_equal(st.datagrams, 1);
	ncx_rx_free(rx);
}

static void test_malformed(void **state)
{
	struct ncx_rx *rx = mk(NULL);
	struct ncx_addr a = addr_n(1);
	static const char bad1[] = "6,notanumber,0,-;x\n";
	static const char bad2[] = "6,1,0,-no semicolon";
	static const char nul[] = "abc\0def";
	static char big[NCX_WIRE_DGRAM_MAX + 1];
	struct ncx_rx_stats st;

	ncx_rx_feed(rx, &a, bad1, sizeof(bad1) - 1, 0, NULL);
	ncx_rx_feed(rx, &a, bad2, sizeof(bad2) - 1, 0, NULL);
	ncx_rx_feed(rx, &a, nul, sizeof(nul) - 1, 0, NULL);
	ncx_rx_feed(rx, &a, "", 0, 0, NULL);
	ncx_rx_feed(rx, &a, "6,18446744073709551615,0,-;x", 28, 0, NULL); /* no successor */
	memset(big, 'x', sizeof(big));
	memcpy(big, "6,1,0,-;", 8);
	ncx_rx_feed(rx, &a, big, sizeof(big), 0, NULL); /* over 64 KiB */
	assert_int_equal(count_drops(&C, NCX_DROP_MALFORMED), 6);
	assert_false(C.ev[0].has_user); /* no sender state for garbage */
	ncx_rx_feed(rx, &a, big, NCX_WIRE_DGRAM_MAX, 0, NULL); /* exactly 64 KiB: a record */
	assert_int_equal(C.ev[C.n - 1].kind, NCX_RX_RECORD);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.dropped[NCX_DROP_MALFORMED], 6);
	assert_int_equal(st.datagrams, 7);
	/* random bytes: never fatal, every datagram accounted for */
	srand(1);
	for (int i = 0; i < 2000; i++) {
		unsigned char buf[300];
		size_t n = (size_t)(rand() % 300) + 1;

		for (size_t j = 0; j < n; j++)
			buf[j] = (unsigned char)(i & 1 ? rand() : "0123456789,;-c=\n"[rand() % 16]);
		reset(&C);
		ncx_rx_feed(rx, &a, buf, n, (uint64_t)i, NULL);
		ncx_rx_tick(rx, (uint64_t)i);
	}
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.datagrams, 2007);
	ncx_rx_free(rx);
}

/* ---- flush, stats, next_deadline --------------------------------------------- */

static void test_flush(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	static const uint64_t want[] = { 0, 0, 3, 4, 9, 2 };
	struct ncx_rx_stats st;

	feed_s(rx, 0, 0);
	feed_s(rx, 4, 0);
	feed_s(rx, 3, 0);
	feed_s(rx, 9, 0);
	feed_k(rx, 2, 0, ",ncrx=1", "r0", 0);
	feed_k(rx, 2, 2, ",ncrx=1", "r2", 0);
	ncx_rx_flush(rx, 5);
	assert_records(want, 6);
	assert_int_equal(count(&C, NCX_RX_GAP), 3);
	assert_false(nth(&C, NCX_RX_GAP, 0)->lost);
	assert_true(nth(&C, NCX_RX_GAP, 2)->lost);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.missed, 2 + 4);
	assert_int_equal(st.lost, 1);
	ncx_rx_free(rx);
}

/* flush_resumable: a reliable sender's held records stay unwritten (it
 * resends them to the next run), with no gap; stock senders as flush. */
static void test_flush_resumable(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	static const uint64_t want[] = { 0, 0, 1, 3, 4 };
	struct ncx_rx_stats st;

	feed_s(rx, 0, 0);
	feed_s(rx, 4, 0);
	feed_s(rx, 3, 0);
	feed_k(rx, 2, 0, ",ncrx=1", "r0", 0);
	feed_k(rx, 2, 1, ",ncrx=1", "r1", 0);
	feed_k(rx, 2, 3, ",ncrx=1", "r3", 0);
	feed_k(rx, 2, 5, ",ncrx=1,ncfrag=0/10", "r5", 0); /* half a record */
	ncx_rx_flush_resumable(rx, 5);
	assert_records(want, 5);
	assert_int_equal(count(&C, NCX_RX_GAP), 1); /* the stock sender's 1..2 */
	assert_false(nth(&C, NCX_RX_GAP, 0)->lost);
	assert_int_equal(count_drops(&C, NCX_DROP_FRAGS), 0);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.lost, 0);
	ncx_rx_free(rx);
}

/* ---- ncgone placeholders ---------------------------------------------- */

static void feed_gone(struct ncx_rx *rx, uint64_t seq, uint64_t n, uint64_t now)
{
	char keys[64];

	snprintf(keys, sizeof(keys), ",ncgone=%llu,ncrx=1", (unsigned long long)n);
	feed_k(rx, 1, seq, keys, "ncx: records were lost by the sender", now);
}

/* At next: the range closes at once as a lost gap; what is held behind
 * comes out; the ack moves past; nothing in it is asked for again. */
static void test_gone_at_next(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	static const uint64_t want[] = { 0, 1, 5, 6 };
	const struct ev *g;

	feed_r(rx, 0, 0);
	feed_r(rx, 1, 0);
	ncx_rx_tick(rx, 0);
	feed_r(rx, 5, 1 * MS);
	feed_r(rx, 6, 1 * MS);
	ncx_rx_tick(rx, 101 * MS);
	assert_string_equal(C.ev[C.n - 1].text, "ncrx1 2 3 4");
	feed_gone(rx, 2, 3, 102 * MS);
	assert_records(want, 4);
	assert_int_equal(count(&C, NCX_RX_GAP), 1);
	g = nth(&C, NCX_RX_GAP, 0);
	assert_int_equal(g->first, 2);
	assert_int_equal(g->last, 4);
	assert_true(g->lost);
	ncx_rx_tick(rx, 201 * MS);
	assert_string_equal(C.ev[C.n - 1].text, "ncrx6");
	/* again (a duplicate placeholder): nothing but a duplicate drop */
	reset(&C);
	feed_gone(rx, 2, 3, 300 * MS);
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	assert_int_equal(count(&C, NCX_RX_RECORD), 0);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	ncx_rx_free(rx);
}

/* Ahead of next: held, not asked for, closed when next gets there; records
 * held inside its range are delivered, not lost. */
static void test_gone_ahead(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	static const uint64_t want[] = { 0, 1, 2, 4, 6, 7 };

	feed_r(rx, 0, 0);
	feed_r(rx, 2, 0);
	feed_r(rx, 4, 0); /* inside the placeholder's range: the other path's copy */
	feed_r(rx, 7, 0);
	feed_gone(rx, 3, 3, 0); /* 3..5 */
	ncx_rx_tick(rx, 0);
	ncx_rx_tick(rx, 100 * MS);
	assert_string_equal(C.ev[C.n - 1].text, "ncrx0 1 6");
	feed_r(rx, 1, 110 * MS);
	feed_r(rx, 6, 110 * MS);
	assert_records(want, 6);
	assert_int_equal(count(&C, NCX_RX_GAP), 2);
	assert_int_equal(nth(&C, NCX_RX_GAP, 0)->first, 3);
	assert_int_equal(nth(&C, NCX_RX_GAP, 0)->last, 3);
	assert_int_equal(nth(&C, NCX_RX_GAP, 1)->first, 5);
	assert_int_equal(nth(&C, NCX_RX_GAP, 1)->last, 5);
	assert_true(nth(&C, NCX_RX_GAP, 1)->lost);
	ncx_rx_free(rx);
}

/* A stock sender's ncgone is only text: delivered as a record. */
static void test_gone_stock(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);

	feed_s(rx, 0, 0);
	feed_k(rx, 1, 1, ",ncgone=5", "text", 0);
	assert_int_equal(count(&C, NCX_RX_RECORD), 2);
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	ncx_rx_free(rx);
}

/* A retransmission round asks in several datagrams, at most
 * NCX_RX_RESPONSES_MAX, each within the limit, each seq once, in order. */
static void test_responses_per_round(void **state)
{
	struct ncx_rx_config cfg = cfg_unlimited();
	struct ncx_rx *rx = mk(&cfg);
	uint64_t base = 1000000000000ULL, expect = base + 1, v;
	struct ncx_rx_stats st;

	feed_r(rx, base, 0);
	feed_r(rx, base + 4000, 0);
	ncx_rx_tick(rx, 0);
	reset(&C);
	ncx_rx_tick(rx, 100 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), NCX_RX_RESPONSES_MAX);
	for (size_t i = 0; i < NCX_RX_RESPONSES_MAX; i++) {
		const struct ev *r = nth(&C, NCX_RX_RESPONSE, i);
		char *p, *end;

		assert_true(r->text_len <= NCX_RX_RESPONSE_MAX);
		v = strtoull(r->text + 4, &end, 10);
		assert_true(v == base);
		for (p = end; *p; p = end) {
			v = strtoull(p + 1, &end, 10);
			assert_true(v == expect);
			expect++;
		}
	}
	ncx_rx_stats(rx, &st);
	assert_true(st.retx_requested == expect - base - 1);
	assert_true(expect - base > 7 * 70); /* ~70 of these per datagram */
	/* a small hole: one datagram */
	feed_r(rx, base + 3, 150 * MS);
	reset(&C);
	ncx_rx_tick(rx, 200 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), NCX_RX_RESPONSES_MAX);
	ncx_rx_free(rx);

	rx = mk(&cfg);
	feed_r(rx, 0, 0);
	feed_r(rx, 3, 0);
	ncx_rx_tick(rx, 0);
	reset(&C);
	ncx_rx_tick(rx, 100 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 1);
	assert_response(0, "ncrx0 1 2");
	/* still missing a round later: asked twice; a new hole once */
	feed_r(rx, 5, 150 * MS);
	reset(&C);
	ncx_rx_tick(rx, 200 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 2);
	assert_response(0, "ncrx0 1 2 4");
	assert_response(1, "ncrx0 1 2");
	ncx_rx_free(rx);
}

/* Half a window delivered since the last ack: the next ack is due at once,
 * not at the ack timer. */
static void test_ack_soon(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;

	cfg.window = 64;
	rx = mk(&cfg);
	feed_r(rx, 0, 0);
	ncx_rx_tick(rx, 0);
	assert_response(0, "ncrx0");
	for (uint64_t q = 1; q < 32; q++)
		feed_r(rx, q, 1 * MS);
	assert_int_equal(ncx_rx_next_deadline(rx), 100 * MS);
	feed_r(rx, 32, 2 * MS); /* the 32nd since the ack: half the window */
	assert_int_equal(ncx_rx_next_deadline(rx), 2 * MS);
	ncx_rx_tick(rx, 2 * MS);
	assert_response(1, "ncrx32");
	ncx_rx_free(rx);
}

static void count_sender(void *arg, const struct ncx_addr *from, void *user,
			 const struct ncx_rx_stats *st)
{
	uint64_t *n = arg;

	n[0]++;
	n[1] += st->records;
}

static void test_stats_per_sender(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_addr a1 = addr_n(1), a2 = addr_n(2), a9 = addr_n(9);
	struct ncx_rx_stats st;
	uint64_t n[2] = { 0, 0 };

	for (uint64_t i = 0; i < 5; i++)
		feed_k(rx, 1, i, "", "x", 0);
	feed_k(rx, 1, 2, "", "x", 0);
	for (uint64_t i = 0; i < 3; i++)
		feed_k(rx, 2, i, ",ncrx=1", "y", 0);
	assert_int_equal(ncx_rx_sender_stats(rx, &a1, &st), 0);
	assert_int_equal(st.records, 5);
	assert_int_equal(st.datagrams, 6);
	assert_int_equal(st.dropped[NCX_DROP_DUPLICATE], 1);
	assert_int_equal(st.senders, 0);
	assert_int_equal(ncx_rx_sender_stats(rx, &a2, &st), 0);
	assert_int_equal(st.records, 3);
	assert_int_equal(st.dropped[NCX_DROP_DUPLICATE], 0);
	assert_int_equal(ncx_rx_sender_stats(rx, &a9, &st), -ENOENT);
	ncx_rx_each_sender(rx, count_sender, n);
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 8);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.records, 8);
	assert_int_equal(st.datagrams, 9);
	assert_int_equal(st.senders, 2);
	ncx_rx_free(rx);
}

/* The deadline is exact with many senders: the earliest of them all. */
static void test_next_deadline_many(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	uint64_t t;

	for (int who = 1; who <= 200; who++) {
		feed_k(rx, who, 0, "", "a", 0);
		feed_k(rx, who, 2, "", "b", (uint64_t)(201 - who) * MS);
	}
	t = ncx_rx_next_deadline(rx);
	assert_int_equal(t, 1 * MS + 250 * MS);
	for (int k = 0; k < 200; k++) {
		size_t gaps = count(&C, NCX_RX_GAP);

		ncx_rx_tick(rx, t - 1);
		assert_int_equal(count(&C, NCX_RX_GAP), gaps);
		ncx_rx_tick(rx, t);
		assert_int_equal(count(&C, NCX_RX_GAP), gaps + 1);
		t = ncx_rx_next_deadline(rx);
	}
	assert_int_equal(t, UINT64_MAX);
	ncx_rx_free(rx);
}

/* ---- resume after a receiver restart ------------------------------------ */

/* The hook: sender 1 resumes at resume_at; anyone else is unknown. */
static uint64_t resume_at;
static unsigned resume_calls;

static uint64_t resume_ts; /* the timestamp of the record before resume_at; 0 unknown */

static bool resume_hook(void *arg, const struct ncx_addr *from, uint64_t id,
			struct ncx_rx_resume *out)
{
	(void)id;
	assert_ptr_equal(arg, &resume_at);
	resume_calls++;
	if (from->addr[3] != 1)
		return false;
	out->next = resume_at;
	out->last_ts = resume_ts;
	return true;
}

static struct ncx_rx *mk_resume(uint64_t at)
{
	struct ncx_rx_config cfg = cfg_noidle();

	cfg.resume = resume_hook;
	cfg.resume_arg = &resume_at;
	resume_at = at;
	resume_ts = 0;
	resume_calls = 0;
	return mk(&cfg);
}

/* "6,seq,ts,-,ncrx=1;line seq" from sender 1 at now, fed with ctx. */
static void feed_ts(struct ncx_rx *rx, uint64_t seq, uint64_t ts, uint64_t now, void *ctx)
{
	char buf[128], text[32];
	struct ncx_addr a = addr_n(1);
	size_t n;

	snprintf(text, sizeof(text), "line %llu", (unsigned long long)seq);
	n = dgram(buf, sizeof(buf), seq, ts, ",ncrx=1", text);
	ncx_rx_feed(rx, &a, buf, n, now, ctx);
}

/*
 * After a receiver restart, a first record below the resume point that is
 * stamped well after the last one written is a new stream: the engine says
 * so itself (one REBOOT, the stream starts at that record); one stamped
 * within new_stream_us is a resend of the old stream (a duplicate).
 */
static void test_resume_new_stream_by_time(void **state)
{
	struct ncx_rx *rx = mk_resume(100);
	const struct ev *r;

	resume_ts = 50 * SEC;
	feed_ts(rx, 3, 80 * SEC, 0, NULL);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	r = nth(&C, NCX_RX_REBOOT, 0);
	assert_int_equal(r->prev_seq, 99);
	assert_int_equal(r->seq, 3);
	assert_int_equal(r->pos, 3);
	assert_int_equal(count(&C, NCX_RX_RECORD), 1);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 0)->seq, 3);
	ncx_rx_free(rx);
	reset(&C);

	rx = mk_resume(100);
	resume_ts = 50 * SEC;
	feed_ts(rx, 97, 50 * SEC + SEC / 2, 0, NULL); /* within 1 s: the old stream */
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	feed_ts(rx, 100, 51 * SEC, 1, NULL);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 0)->seq, 100);
	ncx_rx_free(rx);
	reset(&C);

	/* at or above the point, however late its stamp: the stream goes on */
	rx = mk_resume(100);
	resume_ts = 50 * SEC;
	feed_ts(rx, 130, 90 * SEC, 0, NULL);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	feed_ts(rx, 100, 52 * SEC, 1, NULL);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 0)->seq, 100);
	ncx_rx_free(rx);
}

/* A reliable sender's placeholder for seqs already closed: it missed the
 * ack that closed them, so it is acked again (found by test_sim). */
static void test_gone_duplicate_acked(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);

	for (uint64_t q = 1; q <= 5; q++)
		feed_r(rx, q, 0);
	ncx_rx_tick(rx, SEC);
	reset(&C);
	feed_k(rx, 1, 2, ",ncgone=2,ncrx=1", "gone", 2 * SEC);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 1);
	assert_string_equal(nth(&C, NCX_RX_RESPONSE, 0)->text, "ncrx5");
	feed_k(rx, 1, 2, ",ncgone=2,ncrx=1", "gone", 2 * SEC + 1); /* once per ack_us */
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 1);
	ncx_rx_free(rx);
}

/* Finding 1 of the hardening issue: two forged datagrams (seq 1, then seq
 * 1,000,000) from a "reliable sender" made the engine ask for the whole
 * window every 100 ms for the hole's life (26,000x the bytes received).
 * Now at most NCX_RX_AMPLIFY x; and a real sender's next datagram raises
 * its budget again. */
static void test_no_amplification(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_rx_stats st;
	uint64_t in = 0, out = 0;
	char buf[128];
	struct ncx_addr a = addr_n(1);
	size_t n;

	n = dgram(buf, sizeof(buf), 1, 10, ",ncrx=1", "a");
	in += n;
	ncx_rx_feed(rx, &a, buf, n, 0, NULL);
	n = dgram(buf, sizeof(buf), 1000000, 20, ",ncrx=1", "b");
	in += n;
	ncx_rx_feed(rx, &a, buf, n, 1, NULL);
	for (uint64_t t = 0; t <= 30 * SEC; t += 10 * MS)
		ncx_rx_tick(rx, t);
	for (size_t i = 0; i < C.n; i++)
		if (C.ev[i].kind == NCX_RX_RESPONSE)
			out += C.ev[i].text_len;
	assert_true(out > 0);			/* it was acked */
	assert_true(out <= NCX_RX_AMPLIFY * in);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.response_bytes, out);
	assert_true(st.responses_held > 0);
	/* The sender resends what is asked: its bytes buy more requests. */
	reset(&C);
	feed_r(rx, 2, 30 * SEC + 1);
	ncx_rx_tick(rx, 31 * SEC);
	assert_true(count(&C, NCX_RX_RESPONSE) > 0);
	ncx_rx_free(rx);
}

/* cfg.resp_rate caps all senders together: a second's worth, then held. */
static void test_response_rate(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;
	struct ncx_rx_stats st;
	char text[600];

	cfg.resp_rate = 100;
	rx = mk(&cfg);
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	for (int who = 1; who <= 20; who++) { /* each hole asks for seq 2 */
		feed_k(rx, who, 1, ",ncrx=1", text, 0);
		feed_k(rx, who, 3, ",ncrx=1", text, 0);
	}
	for (uint64_t t = 0; t <= SEC / 2; t += 10 * MS)
		ncx_rx_tick(rx, t);
	ncx_rx_stats(rx, &st);
	assert_true(st.response_bytes <= 100 + 50); /* a full bucket, then half a second */
	assert_true(st.responses_held > 0);
	ncx_rx_free(rx);
}

/*
 * Finding 2 of the hardening issue: one datagram "4,0,0,-,ncgone=4294967296,
 * ncrx=1;x" from a host's address made the engine close 2^32 seqs as lost,
 * drop the host's next records as duplicates and later see a reboot. A
 * placeholder is a claim: it never makes a stock stream reliable, and
 * closes only what was asked for (the open hole).
 */
static void test_forged_placeholder(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	struct ncx_addr a = addr_n(1);
	static const char forged[] = "4,0,0,-,ncgone=4294967296,ncrx=1;x\n";

	/* a stock stream */
	for (uint64_t q = 100; q <= 110; q++)
		feed_s(rx, q, q);
	ncx_rx_feed(rx, &a, forged, sizeof(forged) - 1, 200, NULL);
	for (uint64_t q = 111; q <= 120; q++)
		feed_s(rx, q, 300 + q);
	ncx_rx_tick(rx, 60 * SEC);
	/* Every real record is delivered, the stream stays stock; from a stock
	 * sender the forged datagram is text at seq 0 (a record, and a new
	 * boot by the stock rule: what the stock netconsole can never prevent,
	 * docs/security.md), but nothing real is dropped and nothing is "lost". */
	assert_int_equal(count(&C, NCX_RX_RECORD), 22);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 21)->seq, 120);
	assert_false(nth(&C, NCX_RX_RECORD, 21)->reliable);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 0);
	for (size_t i = 0; i < count(&C, NCX_RX_GAP); i++)
		assert_false(nth(&C, NCX_RX_GAP, i)->lost);
	ncx_rx_free(rx);
	reset(&C);

	/* a reliable stream in order: nothing was asked, nothing closes */
	rx = mk(&cfg);
	for (uint64_t q = 1; q <= 10; q++)
		feed_r(rx, q, q);
	feed_k(rx, 1, 11, ",ncgone=4294967296,ncrx=1", "x", 100);
	assert_int_equal(count_drops(&C, NCX_DROP_UNASKED), 1);
	for (uint64_t q = 11; q <= 20; q++)
		feed_r(rx, q, 200 + q);
	ncx_rx_tick(rx, 60 * SEC);
	assert_int_equal(count(&C, NCX_RX_RECORD), 20);
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	ncx_rx_free(rx);
	reset(&C);

	/* with a hole open (6, 7 asked for): it closes those, nothing more */
	rx = mk(&cfg);
	for (uint64_t q = 1; q <= 5; q++)
		feed_r(rx, q, q);
	feed_r(rx, 8, 10);
	feed_k(rx, 1, 6, ",ncgone=4294967296,ncrx=1", "x", 100);
	assert_int_equal(count(&C, NCX_RX_GAP), 1);
	assert_int_equal(nth(&C, NCX_RX_GAP, 0)->first, 6);
	assert_int_equal(nth(&C, NCX_RX_GAP, 0)->last, 7);
	for (uint64_t q = 9; q <= 12; q++)
		feed_r(rx, q, 200 + q);
	assert_int_equal(count(&C, NCX_RX_RECORD), 10);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 9)->seq, 12);
	ncx_rx_free(rx);
}

/* Every event of a feed carries that feed's ctx; the timers' carry none.
 * RECORD and GAP events carry the stream's position after them. */
static void test_event_ctx_and_pos(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx = mk(&cfg);
	int a, b;
	const struct ev *g;

	feed_ts(rx, 10, 1, 0, &a);
	feed_ts(rx, 12, 2, 1, &b);
	assert_int_equal(count(&C, NCX_RX_RECORD), 1);
	assert_ptr_equal(nth(&C, NCX_RX_RECORD, 0)->ctx, &a);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 0)->pos, 11);
	ncx_rx_tick(rx, 31 * SEC); /* the hole at 11 times out */
	assert_int_equal(count(&C, NCX_RX_GAP), 1);
	g = nth(&C, NCX_RX_GAP, 0);
	assert_null(g->ctx);
	assert_int_equal(g->pos, 12);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 1)->pos, 13);
	assert_null(nth(&C, NCX_RX_RECORD, 1)->ctx);
	for (size_t i = 0; i < C.n; i++)
		if (C.ev[i].kind == NCX_RX_RESPONSE && C.ev[i].rx_us == 1)
			assert_ptr_equal(C.ev[i].ctx, &b);
	ncx_rx_free(rx);
}

static void test_resume_default_off(void **state)
{
	struct ncx_rx_config cfg;

	memset(&cfg, 0xa5, sizeof(cfg));
	ncx_rx_config_default(&cfg);
	assert_null(cfg.resume);
	assert_null(cfg.resume_arg);
}

/* Below the resume point: duplicates, acked; the point itself delivered. */
static void test_resume_duplicates(void **state)
{
	struct ncx_rx *rx = mk_resume(100);
	struct ncx_rx_stats st;
	static const uint64_t want[] = { 100, 101 };

	feed_r(rx, 97, 0);
	assert_int_equal(resume_calls, 1);
	assert_int_equal(count(&C, NCX_RX_RECORD), 0);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	/* acked at once, so the sender drops what it holds below 100 */
	assert_int_equal(ncx_rx_next_deadline(rx), 0);
	ncx_rx_tick(rx, 0);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 1);
	assert_response(0, "ncrx99");
	/* far below (beyond the history) and just below: duplicates too */
	feed_r(rx, 3, 10);
	feed_r(rx, 98, 20);
	feed_k(rx, 1, 99, ",ncrx=1", "a text this run never saw", 30);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 4);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	feed_r(rx, 100, 40);
	feed_r(rx, 101, 50);
	assert_records(want, 2);
	ncx_rx_tick(rx, 100 * MS);
	assert_response(1, "ncrx101");
	/* the hook is asked once per sender state, not per datagram */
	assert_int_equal(resume_calls, 1);
	ncx_rx_stats(rx, &st);
	assert_int_equal(st.dropped[NCX_DROP_DUPLICATE], 4);
	ncx_rx_free(rx);
}

/* The first record lands above the point: only the seqs from the point on
 * are asked for, never below it. */
static void test_resume_asks_from_point(void **state)
{
	struct ncx_rx *rx = mk_resume(100);

	feed_r(rx, 103, 0);
	assert_int_equal(count(&C, NCX_RX_RECORD), 0);
	ncx_rx_tick(rx, 0);
	assert_response(0, "ncrx99");
	ncx_rx_tick(rx, 100 * MS);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 2);
	assert_response(1, "ncrx99 100 101 102");
	feed_r(rx, 100, 150 * MS);
	feed_r(rx, 102, 150 * MS);
	feed_r(rx, 101, 150 * MS);
	static const uint64_t want[] = { 100, 101, 102, 103 };

	assert_records(want, 4);
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	ncx_rx_free(rx);
}

/* A sender the hook does not know starts where it starts, as before. */
static void test_resume_unknown_sender(void **state)
{
	struct ncx_rx *rx = mk_resume(100);

	feed_k(rx, 2, 5, ",ncrx=1", "x", 0);
	assert_int_equal(resume_calls, 1);
	assert_int_equal(count(&C, NCX_RX_RECORD), 1);
	assert_int_equal(C.ev[0].seq, 5);
	ncx_rx_free(rx);
}

/*
 * A sender that rebooted while the receiver was down: while the resume's
 * ack is younger than reliable_hole_us its low seqs are taken for resends;
 * from then on a seq below the point is a new boot.
 */
static void test_resume_reboot_recognised(void **state)
{
	struct ncx_rx *rx = mk_resume(1000);
	uint64_t t = 0, seq = 0;

	for (; t < 30 * SEC; t += SEC, seq++) {
		feed_k(rx, 1, seq, ",ncrx=1", "new boot", t);
		ncx_rx_tick(rx, t);
	}
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	assert_int_equal(count(&C, NCX_RX_RECORD), 0);
	assert_response(0, "ncrx999");
	/* just below the point, in the history's reach, also waits */
	feed_k(rx, 1, 999, ",ncrx=1", "new boot", t - 1);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	/* 30 s after the resume's ack (sent at 0): an emergency resend is
	 * still a resend (it says it has no ack), a normal record a new boot */
	feed_k(rx, 1, 0, ",ncemg=1,ncrx=1", "new boot 0", 30 * SEC + 1);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	feed_k(rx, 1, 30, ",ncrx=1", "new boot 30", 30 * SEC + 2);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	assert_int_equal(nth(&C, NCX_RX_REBOOT, 0)->prev_seq, 999);
	assert_int_equal(nth(&C, NCX_RX_REBOOT, 0)->seq, 30);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 0)->seq, 30);
	/* the new boot's stream goes on normally, no gap for the old one */
	feed_k(rx, 1, 31, ",ncrx=1", "new boot 31", 30 * SEC + 3);
	assert_int_equal(count(&C, NCX_RX_RECORD), 2);
	assert_int_equal(count(&C, NCX_RX_GAP), 0);
	ncx_rx_free(rx);
}

/* Same, just below the point (inside the history's reach). */
static void test_resume_reboot_near(void **state)
{
	struct ncx_rx *rx = mk_resume(10);

	feed_k(rx, 1, 0, ",ncrx=1", "new boot", 0);
	ncx_rx_tick(rx, 0);
	assert_response(0, "ncrx9");
	feed_k(rx, 1, 9, ",ncrx=1", "new boot", 29 * SEC);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 0);
	feed_k(rx, 1, 9, ",ncrx=1", "new boot", 30 * SEC + 1);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 0)->seq, 9);
	ncx_rx_free(rx);
}

/* Records delivered after the resume have fingerprints again: a resend of
 * one is a duplicate, a different record there a new boot, at once. */
static void test_resume_then_history(void **state)
{
	struct ncx_rx *rx = mk_resume(100);

	feed_r(rx, 100, 0);
	feed_r(rx, 101, 0);
	feed_r(rx, 100, 10);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	feed_k(rx, 1, 100, ",ncrx=1", "another boot", 20);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	ncx_rx_free(rx);
}

/* A stock sender never resends: below the point is a new boot at once. */
static void test_resume_stock(void **state)
{
	struct ncx_rx *rx = mk_resume(100);

	feed_s(rx, 100, 0);
	assert_int_equal(count(&C, NCX_RX_RECORD), 1);
	feed_s(rx, 101, 1);
	ncx_rx_tick(rx, SEC);
	assert_int_equal(count(&C, NCX_RX_RESPONSE), 0);
	ncx_rx_free(rx);
	rx = mk_resume(100);
	feed_s(rx, 98, 0);
	assert_int_equal(count(&C, NCX_RX_REBOOT), 1);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 0)->seq, 98);
	ncx_rx_free(rx);
}

/* A sender forgotten for idleness is asked about again when it is back;
 * a first datagram that is legacy does not use the resume up. */
static void test_resume_after_idle_and_legacy(void **state)
{
	struct ncx_rx_config cfg = cfg_noidle();
	struct ncx_rx *rx;
	struct ncx_addr a = addr_n(1);

	cfg.resume = resume_hook;
	cfg.resume_arg = &resume_at;
	cfg.idle_us = 10 * SEC;
	resume_at = 50;
	resume_calls = 0;
	rx = mk(&cfg);
	ncx_rx_feed(rx, &a, "plain text\n", 11, 0, NULL);
	assert_int_equal(count(&C, NCX_RX_LEGACY), 1);
	feed_r(rx, 49, 1);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 1);
	feed_r(rx, 50, 2);
	assert_int_equal(count(&C, NCX_RX_RECORD), 1);
	ncx_rx_tick(rx, 20 * SEC);
	assert_int_equal(count(&C, NCX_RX_SENDER_GONE), 1);
	assert_int_equal(resume_calls, 1);
	resume_at = 70;
	feed_r(rx, 69, 21 * SEC);
	assert_int_equal(resume_calls, 2);
	assert_int_equal(count_drops(&C, NCX_DROP_DUPLICATE), 2);
	feed_r(rx, 70, 21 * SEC);
	assert_int_equal(nth(&C, NCX_RX_RECORD, 1)->seq, 70);
	ncx_rx_free(rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_reorder_in_window),
		cmocka_unit_test(test_stock_hole_gap),
		cmocka_unit_test(test_stock_hole_never_longer),
		cmocka_unit_test(test_stock_never_responds),
		cmocka_unit_test(test_reliable_ack_timer),
		cmocka_unit_test(test_reliable_retx_then_lost),
		cmocka_unit_test(test_response_max),
		cmocka_unit_test(test_emergency_ack),
		cmocka_unit_test(test_mixed_paths),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_reboot_in_history),
		cmocka_unit_test(test_reboot_flushes_old_boot),
		cmocka_unit_test(test_late_in_history),
		cmocka_unit_test(test_reboot_stock_far),
		cmocka_unit_test(test_reboot_reliable_far),
		cmocka_unit_test(test_reboot_reliable_far_emergency),
		cmocka_unit_test(test_capture_two_boots),
		cmocka_unit_test(test_fragments_any_order),
		cmocka_unit_test(test_fragments_limits),
		cmocka_unit_test(test_fragments_reliable_retx),
		cmocka_unit_test(test_fragments_late_and_reboot),
		cmocka_unit_test(test_free_with_state),
		cmocka_unit_test(test_start_grace),
		cmocka_unit_test(test_start_grace_reliable),
		cmocka_unit_test(test_window_reliable),
		cmocka_unit_test(test_window_stock),
		cmocka_unit_test(test_sender_bytes),
		cmocka_unit_test(test_engine_bytes),
		cmocka_unit_test(test_max_senders),
		cmocka_unit_test(test_max_senders_zero),
		cmocka_unit_test(test_idle_expiry),
		cmocka_unit_test(test_idle_expiry_flushes),
		cmocka_unit_test(test_legacy),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_flush_resumable),
		cmocka_unit_test(test_gone_at_next),
		cmocka_unit_test(test_gone_ahead),
		cmocka_unit_test(test_gone_stock),
		cmocka_unit_test(test_responses_per_round),
		cmocka_unit_test(test_ack_soon),
		cmocka_unit_test(test_stats_per_sender),
		cmocka_unit_test(test_next_deadline_many),
		cmocka_unit_test(test_resume_default_off),
		cmocka_unit_test(test_resume_duplicates),
		cmocka_unit_test(test_resume_new_stream_by_time),
		cmocka_unit_test(test_event_ctx_and_pos),
		cmocka_unit_test(test_gone_duplicate_acked),
		cmocka_unit_test(test_no_amplification),
		cmocka_unit_test(test_forged_placeholder),
		cmocka_unit_test(test_response_rate),
		cmocka_unit_test(test_resume_asks_from_point),
		cmocka_unit_test(test_resume_unknown_sender),
		cmocka_unit_test(test_resume_reboot_recognised),
		cmocka_unit_test(test_resume_reboot_near),
		cmocka_unit_test(test_resume_then_history),
		cmocka_unit_test(test_resume_stock),
		cmocka_unit_test(test_resume_after_idle_and_legacy),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	free(C.ev);
	return rc;
}
