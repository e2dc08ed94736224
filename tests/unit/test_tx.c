/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of lib/tx.c, the reliable sender's protocol state, on a fake
 * clock: time is an argument and resends come out through a callback that
 * the tests record, so every rule of the protocol is checked exactly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <ncx/tx.h>

#define MS 1000ULL
#define SEC 1000000ULL

/* ---- the recording resend callback -------------------------------------- */

struct call {
	unsigned target;
	uint64_t seq, cookie;
	bool emergency;
};

struct rec {
	struct call c[4096];
	size_t n;
	uint64_t gone[64];	/* seqs the "ring" no longer holds */
	size_t ngone;
	int fail;		/* returned instead, if non-zero */
	int dgrams;		/* datagrams per resend; 0 means 1 */
	bool all_gone;		/* every seq is gone */
	struct call ph[4096];	/* placeholders: target, seq (first), cookie (count) */
	size_t nph;
};

static int on_resend(void *arg, unsigned target, uint64_t seq, uint64_t cookie, bool emergency)
{
	struct rec *r = arg;

	assert_true(r->n < sizeof(r->c) / sizeof(r->c[0]));
	r->c[r->n++] = (struct call){ target, seq, cookie, emergency };
	if (r->fail)
		return r->fail;
	for (size_t i = 0; i < r->ngone; i++)
		if (r->gone[i] == seq)
			return 0;
	if (r->all_gone)
		return 0;
	return r->dgrams ? r->dgrams : 1;
}

static int on_gone(void *arg, unsigned target, uint64_t first, uint64_t n)
{
	struct rec *r = arg;

	assert_true(r->nph < sizeof(r->ph) / sizeof(r->ph[0]));
	r->ph[r->nph++] = (struct call){ target, first, n, false };
	return 1;
}

static void with_gone(struct ncx_tx_config *cfg)
{
	cfg->gone = on_gone;
}

static struct ncx_tx *mk(unsigned ntargets, void (*tweak)(struct ncx_tx_config *))
{
	struct ncx_tx_config cfg;
	struct ncx_tx *tx;

	ncx_tx_config_default(&cfg);
	cfg.ntargets = ntargets;
	cfg.start_hold_us = 0;	/* the start hold has tests of its own */
	cfg.probe_us = 0;	/* so has the tail probe */
	if (tweak)
		tweak(&cfg);
	tx = ncx_tx_new(&cfg);
	assert_non_null(tx);
	return tx;
}

/* Records first..last sent at `at`, cookie 1000 + seq. */
static void send_range(struct ncx_tx *tx, uint64_t first, uint64_t last, uint64_t at)
{
	for (uint64_t s = first; s <= last; s++)
		ncx_tx_sent(tx, s, 1000 + s, 1, at);
}

static int respond(struct ncx_tx *tx, unsigned t, const char *text, uint64_t now, struct rec *r)
{
	return ncx_tx_response(tx, t, text, strlen(text), now, on_resend, r);
}

static struct ncx_tx_stats stats(const struct ncx_tx *tx)
{
	struct ncx_tx_stats st;

	ncx_tx_stats(tx, &st);
	return st;
}

/* ---- config ------------------------------------------------------------- */

static void test_config(void **state)
{
	struct ncx_tx_config cfg;

	(void)state;
	ncx_tx_config_default(&cfg);
	assert_int_equal(cfg.checkpoints, 16384);
	assert_int_equal(cfg.emergency_us, 10 * SEC);
	assert_int_equal(cfg.emg_first_us, 100 * MS);
	assert_int_equal(cfg.emg_max_us, SEC);
	assert_int_equal(cfg.emg_burst, 64);
	assert_int_equal(cfg.max_pps, 0);
	assert_int_equal(cfg.start_hold_us, 5 * SEC);
	cfg.ntargets = 0;
	assert_null(ncx_tx_new(&cfg));
	cfg.ntargets = NCX_TX_TARGETS_MAX + 1;
	assert_null(ncx_tx_new(&cfg));
	cfg.ntargets = 1;
	cfg.checkpoints = 1000;	/* not a power of two */
	assert_null(ncx_tx_new(&cfg));
	cfg.checkpoints = 0;
	assert_null(ncx_tx_new(&cfg));
	assert_null(ncx_tx_new(NULL));
	ncx_tx_free(NULL);
}

/* ---- acks ----------------------------------------------------------------- */

static void test_acks_forward_only(void **state)
{
	struct ncx_tx *tx = mk(1, NULL);
	struct rec r = { 0 };

	(void)state;
	ncx_tx_start(tx, 0);
	assert_true(ncx_tx_all_acked(tx));
	send_range(tx, 0, 9, 0);
	assert_int_equal(ncx_tx_acked(tx), UINT64_MAX); /* nothing acked yet */
	assert_int_equal(ncx_tx_unacked(tx, 0), 10);
	assert_false(ncx_tx_all_acked(tx));
	assert_int_equal(respond(tx, 0, "ncrx5", 1, &r), 0);
	assert_int_equal(ncx_tx_acked(tx), 5);
	assert_int_equal(ncx_tx_unacked(tx, 0), 4);
	assert_int_equal(respond(tx, 0, "ncrx3", 2, &r), 0); /* stale: ignored */
	assert_int_equal(ncx_tx_acked(tx), 5);
	assert_int_equal(ncx_tx_unacked(tx, 0), 4);
	assert_int_equal(respond(tx, 0, "ncrx9", 3, &r), 0);
	assert_true(ncx_tx_all_acked(tx));
	assert_int_equal(ncx_tx_unacked(tx, 0), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(stats(tx).responses, 3);
	assert_int_equal(stats(tx).sent, 10);
	assert_int_equal(stats(tx).datagrams, 10);
	ncx_tx_free(tx);
}

static void test_start_mid_stream(void **state)
{
	struct ncx_tx *tx = mk(1, NULL);
	struct rec r = { 0 };

	(void)state;
	ncx_tx_start(tx, 100);
	assert_int_equal(ncx_tx_acked(tx), 99);	/* before first_seq counts as acked */
	send_range(tx, 100, 104, 0);
	assert_int_equal(ncx_tx_unacked(tx, 0), 5);
	/* A request below first_seq is acked already: nothing. */
	assert_int_equal(respond(tx, 0, "ncrx99 50 99", 1, &r), 0);
	assert_int_equal(r.n, 0);
	/* Block 96..111 starts at 100 here: its checkpoint is seq 100's. */
	assert_int_equal(respond(tx, 0, "ncrx99 103", 1, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.c[0].cookie, 1100);
	ncx_tx_free(tx);
}

/*
 * Issue #10, finding 4: an ack of seqs not yet sent (forged, or from an
 * earlier run on the same port) is ignored by default and counted; acked
 * never moves past what was sent, so nothing unsent counts as delivered
 * and no count of unacked records can wrap.
 */
static void test_ack_ahead_ignored(void **state)
{
	struct ncx_tx *tx = mk(1, NULL);
	struct rec r = { 0 };

	(void)state;
	send_range(tx, 0, 4, 0);
	assert_int_equal(respond(tx, 0, "ncrx1000000", 1, &r), 0);
	assert_false(ncx_tx_all_acked(tx));
	assert_int_equal(ncx_tx_unacked(tx, 0), 5);
	assert_int_equal(ncx_tx_acked(tx), UINT64_MAX);	/* nothing acked */
	assert_int_equal(stats(tx).ack_ahead, 1);
	/* Exactly what was sent is no ack ahead; one past it is. */
	assert_int_equal(respond(tx, 0, "ncrx5", 2, &r), 0);
	assert_int_equal(stats(tx).ack_ahead, 2);
	assert_int_equal(ncx_tx_unacked(tx, 0), 5);
	assert_int_equal(respond(tx, 0, "ncrx18446744073709551615", 3, &r), 0);
	assert_int_equal(stats(tx).ack_ahead, 3);
	assert_int_equal(ncx_tx_unacked(tx, 0), 5);
	assert_int_equal(respond(tx, 0, "ncrx4", 4, &r), 0);
	assert_true(ncx_tx_all_acked(tx));
	assert_int_equal(ncx_tx_acked(tx), 4);
	assert_int_equal(stats(tx).ack_ahead, 3);
	/* The records sent after it are not acked by it. */
	send_range(tx, 5, 10, 5);
	assert_int_equal(ncx_tx_unacked(tx, 0), 6);
	assert_false(ncx_tx_all_acked(tx));
	/* Emergency mode still comes for them: they are really unacked. */
	ncx_tx_tick(tx, 20 * SEC, on_resend, &r);
	assert_true(r.n > 0);
	assert_int_equal(r.c[0].seq, 5);
	ncx_tx_free(tx);
}

static void with_clamp(struct ncx_tx_config *cfg)
{
	cfg->ack_ahead_clamp = true;
}

/* A receiver that heard the stream another way may ack ahead of us
 * (ack_ahead_clamp): what was sent counts as acked, nothing more. */
static void test_ack_ahead_clamped(void **state)
{
	struct ncx_tx *tx = mk(1, with_clamp);
	struct rec r = { 0 };

	(void)state;
	send_range(tx, 0, 4, 0);
	assert_int_equal(respond(tx, 0, "ncrx10", 1, &r), 0);
	assert_true(ncx_tx_all_acked(tx));
	assert_int_equal(ncx_tx_acked(tx), 4);
	assert_int_equal(stats(tx).ack_ahead, 1);
	/* Never past sent: 5..10 are not acked before they are sent and acked. */
	send_range(tx, 5, 10, 2);
	assert_false(ncx_tx_all_acked(tx));
	assert_int_equal(ncx_tx_unacked(tx, 0), 6);
	assert_int_equal(respond(tx, 0, "ncrx10", 3, &r), 0);
	assert_true(ncx_tx_all_acked(tx));
	assert_int_equal(ncx_tx_unacked(tx, 0), 0);
	assert_int_equal(stats(tx).ack_ahead, 1);
	/* Nothing pending: no emergency whatever the time. */
	ncx_tx_tick(tx, 100 * SEC, on_resend, &r);
	assert_int_equal(r.n, 0);
	assert_int_equal(ncx_tx_next_deadline(tx), UINT64_MAX);
	send_range(tx, 11, 11, 3);
	assert_int_equal(ncx_tx_unacked(tx, 0), 1);
	/* 11 shares block 0..15 with seq 0, sent at 0: the block's age counts. */
	assert_int_equal(ncx_tx_next_deadline(tx), 10 * SEC + 1);
	ncx_tx_free(tx);
}

/* ---- strict parsing ------------------------------------------------------ */

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"", "n", "ncrx", "ncrx ", "ncrx1 ", "ncrx 1", "ncrx1  2", "ncrx-1", "ncrx+1",
		"NCRX1", "ncrx1x", "ncrx1 2x", "ncrx1\n", "ncrx1,2", "ncrx1\t2", "ncr1", "xncrx1",
		"ncrx18446744073709551616", "ncrx1 18446744073709551616",
		"ncrx99999999999999999999999", "ncrx0x10",
	};
	struct ncx_tx *tx = mk(1, NULL);
	struct rec r = { 0 };
	char big[1200];
	size_t n;

	(void)state;
	send_range(tx, 0, 9, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(respond(tx, 0, bad[i], 1, &r), -EBADMSG);
	/* Embedded NUL: the length counts, not strlen. */
	assert_int_equal(ncx_tx_response(tx, 0, "ncrx1\0", 6, 1, on_resend, &r), -EBADMSG);
	/* Not a target. */
	assert_int_equal(respond(tx, 1, "ncrx1", 1, &r), -EBADMSG);
	assert_int_equal(stats(tx).malformed, sizeof(bad) / sizeof(bad[0]) + 2);
	assert_int_equal(stats(tx).responses, 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(ncx_tx_unacked(tx, 0), 10);

	/* Exactly 1000 bytes is fine, 1001 is not. */
	n = (size_t)snprintf(big, sizeof(big), "ncrx00");	/* acked 0 */
	while (n < 1000) {
		big[n++] = ' ';
		big[n++] = '1';
	}
	assert_int_equal(n, 1000);
	assert_int_equal(ncx_tx_response(tx, 0, big, 1000, 2, on_resend, &r), 0);
	assert_int_equal(r.n, 1);	/* seq 1 asked for many times: resent once */
	big[1000] = '1';
	assert_int_equal(ncx_tx_response(tx, 0, big, 1001, 3, on_resend, &r), -EBADMSG);
	assert_int_equal(r.n, 1);
	/* The largest u64 parses (and acks nothing we sent beyond reason). */
	assert_int_equal(respond(tx, 0, "ncrx18446744073709551615", 4, &r), 0);
	ncx_tx_free(tx);
}

/* ---- requests ------------------------------------------------------------ */

static void test_requests(void **state)
{
	struct ncx_tx *tx = mk(1, NULL);
	struct rec r = { 0 };

	(void)state;
	send_range(tx, 0, 19, 0);
	/* 3 is acked, 25 never sent, 9 twice: 7, 9, 12 once each, in order. */
	assert_int_equal(respond(tx, 0, "ncrx4 12 9 7 9 3 25 4", 1, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.c[0].seq, 7);
	assert_int_equal(r.c[1].seq, 9);
	assert_int_equal(r.c[2].seq, 12);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(r.c[i].target, 0);
		assert_false(r.c[i].emergency);
		assert_int_equal(r.c[i].cookie, 1000);	/* block 0..15 starts at seq 0 */
	}
	assert_int_equal(stats(tx).resent, 3);
	assert_int_equal(stats(tx).datagrams, 20 + 3);
	/* The same response again: resent again (once per response). */
	assert_int_equal(respond(tx, 0, "ncrx4 12 9 7", 2, &r), 0);
	assert_int_equal(r.n, 6);
	/* The second block's checkpoint is seq 16's. */
	assert_int_equal(respond(tx, 0, "ncrx4 17", 3, &r), 0);
	assert_int_equal(r.c[6].seq, 17);
	assert_int_equal(r.c[6].cookie, 1016);
	/* An ack in the same response first: requests at or below it are dropped. */
	assert_int_equal(respond(tx, 0, "ncrx12 12 11 13", 4, &r), 0);
	assert_int_equal(r.n, 8);
	assert_int_equal(r.c[7].seq, 13);
	/* A failed send is not counted as resent; several datagrams are. */
	r.fail = -EPERM;
	assert_int_equal(stats(tx).resent, 8);
	assert_int_equal(respond(tx, 0, "ncrx12 14", 5, &r), 0);
	assert_int_equal(r.n, 9);
	assert_int_equal(stats(tx).resent, 8);
	r.fail = 0;
	r.dgrams = 3;
	assert_int_equal(respond(tx, 0, "ncrx12 14", 6, &r), 0);
	assert_int_equal(stats(tx).resent, 9);
	assert_int_equal(stats(tx).datagrams, 20 + 8 + 3);
	ncx_tx_free(tx);
}

static void test_targets_independent(void **state)
{
	struct ncx_tx *tx = mk(2, NULL);
	struct rec r = { 0 };

	(void)state;
	send_range(tx, 0, 9, 0);
	assert_int_equal(stats(tx).datagrams, 20);	/* every target */
	assert_int_equal(respond(tx, 0, "ncrx9", 1, &r), 0);
	assert_int_equal(respond(tx, 1, "ncrx4 6", 1, &r), 0);
	assert_int_equal(ncx_tx_unacked(tx, 0), 0);
	assert_int_equal(ncx_tx_unacked(tx, 1), 5);
	assert_int_equal(ncx_tx_acked(tx), 4);
	assert_false(ncx_tx_all_acked(tx));
	assert_int_equal(r.n, 1);
	assert_int_equal(r.c[0].target, 1);
	assert_int_equal(r.c[0].seq, 6);
	/* Target 0 asking for what it acked: nothing. */
	assert_int_equal(respond(tx, 0, "ncrx9 6", 2, &r), 0);
	assert_int_equal(r.n, 1);
	/* Emergency only for the target that is behind. */
	ncx_tx_tick(tx, 10 * SEC + 1, on_resend, &r);
	assert_int_equal(r.n, 1 + 5);
	for (size_t i = 1; i < r.n; i++) {
		assert_int_equal(r.c[i].target, 1);
		assert_int_equal(r.c[i].seq, 5 + (i - 1));
	}
	assert_int_equal(respond(tx, 1, "ncrx9", 3, &r), 0);
	assert_true(ncx_tx_all_acked(tx));
	assert_int_equal(ncx_tx_acked(tx), 9);
	assert_int_equal(ncx_tx_next_deadline(tx), UINT64_MAX);
	ncx_tx_free(tx);
}

/* ---- emergency mode ------------------------------------------------------ */

static void burst4(struct ncx_tx_config *cfg)
{
	cfg->emg_burst = 4;
}

static void test_emergency_rounds(void **state)
{
	static const uint64_t gaps[] = { 100 * MS, 200 * MS, 400 * MS, 800 * MS, SEC, SEC, SEC };
	struct ncx_tx *tx = mk(1, burst4);
	struct rec r = { 0 };
	uint64_t now, d;

	(void)state;
	send_range(tx, 0, 9, 0);
	assert_int_equal(ncx_tx_next_deadline(tx), 10 * SEC + 1);
	/* Exactly emergency_us old is not older than it. */
	ncx_tx_tick(tx, 10 * SEC, on_resend, &r);
	assert_int_equal(r.n, 0);
	assert_int_equal(stats(tx).emergencies, 0);
	now = 10 * SEC + 1;
	ncx_tx_tick(tx, now, on_resend, &r);
	assert_int_equal(stats(tx).emergencies, 1);
	assert_int_equal(r.n, 4);	/* emg_burst, oldest first, marked */
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(r.c[i].seq, i);
		assert_true(r.c[i].emergency);
	}
	for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		size_t before = r.n;

		d = ncx_tx_next_deadline(tx);
		assert_int_equal(d - now, gaps[g]);
		ncx_tx_tick(tx, d - 1, on_resend, &r);	/* not yet */
		assert_int_equal(r.n, before);
		ncx_tx_tick(tx, d, on_resend, &r);
		assert_int_equal(r.n, before + 4);
		assert_int_equal(r.c[before].seq, 0);	/* oldest first, every round */
		now = d;
	}
	assert_int_equal(stats(tx).emg_resent, 4 * 8);
	assert_int_equal(stats(tx).resent, 0);
	assert_int_equal(stats(tx).emergencies, 1);

	/* Progress ends it; what is left is still old, so it starts again at
	 * once, from the new oldest. */
	assert_int_equal(respond(tx, 0, "ncrx2", now + 1, &r), 0);
	d = ncx_tx_next_deadline(tx);
	assert_int_equal(d, 10 * SEC + 1);	/* in the past: due now */
	r.n = 0;
	ncx_tx_tick(tx, now + 2, on_resend, &r);
	assert_int_equal(stats(tx).emergencies, 2);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.c[0].seq, 3);
	assert_int_equal(ncx_tx_next_deadline(tx), now + 2 + 100 * MS);
	/* All acked: out, nothing due. */
	assert_int_equal(respond(tx, 0, "ncrx9", now + 3, &r), 0);
	assert_int_equal(ncx_tx_next_deadline(tx), UINT64_MAX);
	ncx_tx_tick(tx, now + 100 * SEC, on_resend, &r);
	assert_int_equal(r.n, 4);
	ncx_tx_free(tx);
}

/* The age is the checkpoint's: a record sent later in a block counts as
 * old as the block's first, so emergency starts early, never late. */
static void test_emergency_checkpoint_age(void **state)
{
	struct ncx_tx *tx = mk(1, NULL);
	struct rec r = { 0 };

	(void)state;
	send_range(tx, 0, 0, 0);
	send_range(tx, 1, 15, 5 * SEC);
	send_range(tx, 16, 20, 5 * SEC);
	assert_int_equal(respond(tx, 0, "ncrx0", 6 * SEC, &r), 0);
	/* Oldest unacked is 1, sent at 5 s, but its block's time is 0. */
	assert_int_equal(ncx_tx_next_deadline(tx), 10 * SEC + 1);
	assert_int_equal(respond(tx, 0, "ncrx15", 7 * SEC, &r), 0);
	assert_int_equal(ncx_tx_next_deadline(tx), 15 * SEC + 1);
	ncx_tx_tick(tx, 15 * SEC, on_resend, &r);
	assert_int_equal(r.n, 0);
	ncx_tx_tick(tx, 15 * SEC + 1, on_resend, &r);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.c[0].seq, 16);
	assert_int_equal(r.c[0].cookie, 1016);
	ncx_tx_free(tx);
}

/* Records found gone in an emergency round are not asked for again. */
static void test_emergency_skips_gone(void **state)
{
	struct ncx_tx *tx = mk(1, burst4);
	struct rec r = { .gone = { 0, 1 }, .ngone = 2 };

	(void)state;
	send_range(tx, 0, 9, 0);
	ncx_tx_tick(tx, 11 * SEC, on_resend, &r);
	assert_int_equal(r.n, 6);	/* 0, 1 gone; 2..5 sent */
	assert_int_equal(r.c[2].seq, 2);
	assert_int_equal(stats(tx).gone, 2);
	assert_int_equal(stats(tx).emg_resent, 4);
	r.n = 0;
	ncx_tx_tick(tx, ncx_tx_next_deadline(tx), on_resend, &r);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.c[0].seq, 2);
	assert_int_equal(stats(tx).gone, 2);
	ncx_tx_free(tx);
}

/* ---- pacing -------------------------------------------------------------- */

static void pps10(struct ncx_tx_config *cfg)
{
	cfg->max_pps = 10;
}

static void test_pacing(void **state)
{
	struct ncx_tx *tx = mk(1, pps10);
	struct rec r = { 0 };
	uint64_t t0 = 50 * SEC;

	(void)state;
	for (int i = 0; i < 10; i++) {
		assert_true(ncx_tx_may_send(tx, 1, t0));
		ncx_tx_sent(tx, (uint64_t)i, (uint64_t)i, 1, t0);
	}
	assert_false(ncx_tx_may_send(tx, 1, t0));
	/* A resend without a token is skipped and counted. */
	assert_int_equal(respond(tx, 0, "ncrx0 3 4", t0, &r), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(stats(tx).paced, 2);
	assert_int_equal(stats(tx).resent, 0);
	/* 100 ms buys one datagram. */
	assert_true(ncx_tx_may_send(tx, 1, t0 + 100 * MS));
	assert_false(ncx_tx_may_send(tx, 1, t0 + 100 * MS));
	assert_false(ncx_tx_may_send(tx, 1, t0 + 199 * MS));
	/* A resend starts on one token and pays for all it sent (debt). */
	r.dgrams = 3;
	assert_int_equal(respond(tx, 0, "ncrx0 3", t0 + 200 * MS, &r), 0);
	assert_int_equal(r.n, 1);
	assert_false(ncx_tx_may_send(tx, 1, t0 + 300 * MS));	/* debt: -2 + 1 */
	assert_false(ncx_tx_may_send(tx, 1, t0 + 400 * MS));	/* 0 */
	assert_true(ncx_tx_may_send(tx, 1, t0 + 500 * MS));
	/* A whole second fills the bucket, never beyond one second's worth;
	 * a record bigger than the bucket goes when it is full. */
	assert_true(ncx_tx_may_send(tx, 25, t0 + 100 * SEC));
	assert_false(ncx_tx_may_send(tx, 1, t0 + 100 * SEC));
	ncx_tx_free(tx);

	/* Two targets: a datagram to each takes two tokens. */
	tx = mk(2, pps10);
	for (int i = 0; i < 5; i++)
		assert_true(ncx_tx_may_send(tx, 1, t0));
	assert_false(ncx_tx_may_send(tx, 1, t0));
	ncx_tx_free(tx);

	/* No cap: always. */
	tx = mk(1, NULL);
	for (int i = 0; i < 100000; i++)
		assert_true(ncx_tx_may_send(tx, 8, 0));
	ncx_tx_free(tx);
}

static void test_pacing_emergency(void **state)
{
	struct ncx_tx *tx = mk(1, pps10);
	struct rec r = { 0 };

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_true(ncx_tx_may_send(tx, 1, 0));
	send_range(tx, 0, 19, 0);
	/* 11 s later the bucket is full again: 10 of the 20 go. */
	ncx_tx_tick(tx, 11 * SEC, on_resend, &r);
	assert_int_equal(r.n, 10);
	assert_int_equal(stats(tx).paced, 1);
	ncx_tx_free(tx);
}

/* ---- gone ---------------------------------------------------------------- */

static void test_skip_gone(void **state)
{
	struct ncx_tx *tx = mk(1, NULL);
	struct rec r = { .gone = { 7 }, .ngone = 1 };

	(void)state;
	send_range(tx, 0, 4, 0);
	send_range(tx, 40, 44, 0);	/* 5..39 never existed (a kmsg overrun) */
	assert_int_equal(ncx_tx_unacked(tx, 0), 45);
	assert_int_equal(respond(tx, 0, "ncrx0 3 7 20 35 41", 1, &r), 0);
	/* 3: sent. 7: block 0 has a checkpoint, the driver says gone.
	 * 20: no checkpoint for block 16..31, 35: block 32..47 starts at 40:
	 * gone without asking. 41: sent, from the checkpoint of 40. */
	assert_int_equal(r.n, 3);
	assert_int_equal(r.c[0].seq, 3);
	assert_int_equal(r.c[1].seq, 7);
	assert_int_equal(r.c[2].seq, 41);
	assert_int_equal(r.c[2].cookie, 1040);
	assert_int_equal(stats(tx).gone, 3);
	assert_int_equal(stats(tx).resent, 2);
	/* Emergency: the driver says 5..15 are gone; the blocks with no
	 * checkpoint are walked over without asking. */
	assert_int_equal(respond(tx, 0, "ncrx4", 2, &r), 0);
	for (uint64_t q = 5; q <= 15; q++)
		r.gone[r.ngone++] = q;
	r.n = 0;
	ncx_tx_tick(tx, 11 * SEC, on_resend, &r);
	assert_int_equal(r.n, 11 + 5);
	assert_int_equal(r.c[0].seq, 5);
	assert_int_equal(r.c[11].seq, 40);
	assert_int_equal(r.c[15].seq, 44);
	assert_int_equal(stats(tx).gone, 3 + 11);
	assert_int_equal(stats(tx).emg_resent, 5);
	ncx_tx_free(tx);
}

static void cp4(struct ncx_tx_config *cfg)
{
	cfg->checkpoints = 4;
	cfg->emg_burst = 2;
}

static void test_checkpoints_wrap(void **state)
{
	struct ncx_tx *tx = mk(1, cp4);
	struct rec r = { 0 };

	(void)state;
	/* 7 blocks through 4 checkpoint slots: blocks 3..6 (48..111) live. */
	send_range(tx, 0, 99, 0);
	send_range(tx, 100, 100, 1 * SEC);
	assert_int_equal(respond(tx, 0, "ncrx-0", 2, &r), -EBADMSG);
	assert_int_equal(respond(tx, 0, "ncrx0 10 47 48 99 100", 2 * SEC, &r), 0);
	assert_int_equal(stats(tx).gone, 2);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.c[0].seq, 48);
	assert_int_equal(r.c[0].cookie, 1048);
	assert_int_equal(r.c[1].cookie, 1096);
	assert_int_equal(r.c[2].cookie, 1096);
	/* The oldest unacked (1) lost its checkpoint: as old as can be, so an
	 * emergency is due, and its rounds start at the oldest live one. */
	r.n = 0;
	ncx_tx_tick(tx, 11 * SEC, on_resend, &r);
	assert_int_equal(stats(tx).emergencies, 1);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.c[0].seq, 48);
	assert_int_equal(r.c[1].seq, 49);
	ncx_tx_free(tx);
}

/* Seqs that go backwards are ignored (a caller bug must not corrupt the
 * checkpoints); ncx_tx_start() is how a stream starts over. */
static void test_seq_backwards(void **state)
{
	struct ncx_tx *tx = mk(1, NULL);
	struct rec r = { 0 };

	(void)state;
	send_range(tx, 10, 20, 0);
	ncx_tx_sent(tx, 5, 5, 1, 0);
	assert_int_equal(stats(tx).sent, 11);
	assert_int_equal(ncx_tx_unacked(tx, 0), 21);
	ncx_tx_start(tx, 5);
	assert_true(ncx_tx_all_acked(tx));
	send_range(tx, 5, 6, 1);
	assert_int_equal(respond(tx, 0, "ncrx4 5", 2, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.c[0].cookie, 1005);
	ncx_tx_free(tx);
}

/* ---- stream start ------------------------------------------------------ */

static void hold5(struct ncx_tx_config *cfg)
{
	cfg->start_hold_us = 5 * SEC;
	cfg->emg_burst = 4;
}

static void test_start_hold(void **state)
{
	struct ncx_tx *tx = mk(2, hold5);
	struct rec r = { 0 };

	(void)state;
	assert_int_equal(ncx_tx_next_deadline(tx), UINT64_MAX);
	assert_true(ncx_tx_may_send(tx, 1, 0));
	ncx_tx_sent(tx, 0, 1000, 1, 0);
	/* Nothing more until every target has the first record. */
	assert_false(ncx_tx_may_send(tx, 1, 1));
	assert_int_equal(ncx_tx_next_deadline(tx), 25 * MS);	/* emg_first_us / 4 */
	ncx_tx_tick(tx, 25 * MS - 1, on_resend, &r);
	assert_int_equal(r.n, 0);
	ncx_tx_tick(tx, 25 * MS, on_resend, &r);
	assert_int_equal(r.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(r.c[i].target, i);
		assert_int_equal(r.c[i].seq, 0);
		assert_int_equal(r.c[i].cookie, 1000);
		assert_true(r.c[i].emergency);	/* a receiver acks ncemg at once */
	}
	assert_int_equal(respond(tx, 0, "ncrx0", 30 * MS, &r), 0);
	assert_false(ncx_tx_may_send(tx, 1, 31 * MS));
	ncx_tx_tick(tx, 50 * MS, on_resend, &r);
	assert_int_equal(r.n, 3);	/* only to the target without it */
	assert_int_equal(r.c[2].target, 1);
	assert_int_equal(respond(tx, 1, "ncrx0", 60 * MS, &r), 0);
	assert_true(ncx_tx_may_send(tx, 1, 61 * MS));
	assert_int_equal(ncx_tx_next_deadline(tx), UINT64_MAX);
	assert_int_equal(stats(tx).emg_resent, 3);
	ncx_tx_free(tx);
}

/* A target that never answers: the hold ends, and until it acks anything,
 * its emergency rounds carry only the first record. */
static void test_start_hold_expires(void **state)
{
	struct ncx_tx *tx = mk(1, hold5);
	struct rec r = { 0 };
	uint64_t now = 0;

	(void)state;
	ncx_tx_sent(tx, 0, 1000, 1, 0);
	while (ncx_tx_next_deadline(tx) < 5 * SEC) {
		now = ncx_tx_next_deadline(tx);
		assert_false(ncx_tx_may_send(tx, 1, now));
		ncx_tx_tick(tx, now, on_resend, &r);
	}
	assert_int_equal(r.n, 199);	/* every 25 ms for 5 s */
	assert_int_equal(ncx_tx_next_deadline(tx), 5 * SEC);
	assert_true(ncx_tx_may_send(tx, 1, 5 * SEC));
	send_range(tx, 1, 5, 5 * SEC);
	r.n = 0;
	ncx_tx_tick(tx, 10 * SEC + 1, on_resend, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.c[0].seq, 0);
	ncx_tx_tick(tx, ncx_tx_next_deadline(tx), on_resend, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.c[1].seq, 0);
	/* It comes up: the next round is a whole burst, from the oldest. */
	assert_int_equal(respond(tx, 0, "ncrx0", 11 * SEC, &r), 0);
	r.n = 0;
	ncx_tx_tick(tx, 11 * SEC, on_resend, &r);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.c[0].seq, 1);
	ncx_tx_free(tx);
}

static void hold5_gone(struct ncx_tx_config *cfg)
{
	hold5(cfg);
	cfg->gone = on_gone;
}

static void test_start_special(void **state)
{
	struct ncx_tx *tx = mk(1, hold5_gone);
	struct rec r = { .gone = { 0 }, .ngone = 1 };

	(void)state;
	/* The first record gone from the ring: its placeholder goes in its
	 * place and the hold lasts until that is acked (test_sim found
	 * records dropped as late when the hold just ended). */
	ncx_tx_sent(tx, 0, 1000, 1, 0);
	ncx_tx_tick(tx, 25 * MS, on_resend, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.nph, 1);
	assert_int_equal(r.ph[0].seq, 0);
	assert_int_equal(r.ph[0].cookie, 1); /* seq 0 alone */
	assert_false(ncx_tx_may_send(tx, 1, 26 * MS));
	assert_int_equal(respond(tx, 0, "ncrx0", 30 * MS, &r), 0);
	assert_true(ncx_tx_may_send(tx, 1, 30 * MS));
	/* A stream that starts over holds again; an ack beyond the first
	 * record is no ack of it (finding 4), an ack of it is. */
	ncx_tx_start(tx, 100);
	ncx_tx_sent(tx, 100, 1100, 1, SEC);
	assert_false(ncx_tx_may_send(tx, 1, SEC));
	assert_int_equal(respond(tx, 0, "ncrx150", SEC, &r), 0);
	assert_false(ncx_tx_may_send(tx, 1, SEC));
	assert_int_equal(respond(tx, 0, "ncrx100", SEC, &r), 0);
	assert_true(ncx_tx_may_send(tx, 1, SEC));
	ncx_tx_free(tx);
}

/* ---- placeholders ------------------------------------------------------- */

/* A run of gone seqs is one placeholder: the requested ones the driver
 * says are gone, and the ones no checkpoint covers. */
static void test_gone_placeholder_runs(void **state)
{
	struct ncx_tx *tx = mk(1, with_gone);
	struct rec r = { .gone = { 5, 6, 7 }, .ngone = 3 };

	(void)state;
	send_range(tx, 0, 4, 0);
	send_range(tx, 8, 9, 0);
	send_range(tx, 40, 44, 0);	/* 10..39 never existed (a kmsg overrun) */
	assert_int_equal(respond(tx, 0, "ncrx4 5 6 7 9 20 35 41", 1, &r), 0);
	assert_int_equal(r.nph, 2);
	assert_int_equal(r.ph[0].seq, 5);
	assert_int_equal(r.ph[0].cookie, 3);	/* 5..7 */
	assert_int_equal(r.ph[1].seq, 20);
	assert_int_equal(r.ph[1].cookie, 20);	/* 20..39: through 35, not asked */
	assert_int_equal(r.n, 3 + 2);		/* 5, 6, 7 asked; 9, 41 resent */
	assert_int_equal(r.c[3].seq, 9);
	assert_int_equal(r.c[4].seq, 41);
	assert_int_equal(stats(tx).placeholders, 2);
	assert_int_equal(stats(tx).gone, 5);
	assert_int_equal(stats(tx).datagrams, 12 + 2 + 2);
	/* A seq the driver calls gone between two sent ones: one seq. */
	r.n = r.nph = 0;
	r.gone[0] = 9;
	r.ngone = 1;
	assert_int_equal(respond(tx, 0, "ncrx4 9", 2, &r), 0);
	assert_int_equal(r.nph, 1);
	assert_int_equal(r.ph[0].seq, 9);
	assert_int_equal(r.ph[0].cookie, 1);
	ncx_tx_free(tx);
}

/* At most NCX_TX_GONE_BURST placeholders per target per emg_first_us. */
static void test_gone_budget(void **state)
{
	struct ncx_tx *tx = mk(1, with_gone);
	struct rec r = { .all_gone = true };
	char buf[1000];
	unsigned sent = 0;

	(void)state;
	send_range(tx, 0, 10000, 0);
	/* Every other seq: no two requests make one run. */
	for (int k = 0; sent < NCX_TX_GONE_BURST + 100; k++) {
		int n = snprintf(buf, sizeof(buf), "ncrx0");

		for (int j = 0; j < 70; j++, sent++)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %u", 2 + 2 * sent);
		r.n = 0;
		assert_int_equal(respond(tx, 0, buf, 1 * MS, &r), 0);
	}
	assert_int_equal(r.nph, NCX_TX_GONE_BURST);
	assert_int_equal(stats(tx).placeholders, NCX_TX_GONE_BURST);
	assert_int_equal(stats(tx).gone_limited, sent - NCX_TX_GONE_BURST);
	/* the next interval: a new budget */
	assert_int_equal(respond(tx, 0, "ncrx0 9999", 101 * MS, &r), 0);
	assert_int_equal(r.nph, NCX_TX_GONE_BURST + 1);
	assert_int_equal(r.ph[r.nph - 1].seq, 9999);
	ncx_tx_free(tx);
}

/* An emergency round that finds the head gone sends a placeholder for it. */
static void test_gone_emergency(void **state)
{
	struct ncx_tx *tx = mk(1, with_gone);
	struct rec r = { .gone = { 0, 1 }, .ngone = 2 };

	(void)state;
	send_range(tx, 0, 9, 0);
	ncx_tx_tick(tx, 11 * SEC, on_resend, &r);
	assert_int_equal(r.nph, 1);
	assert_int_equal(r.ph[0].seq, 0);
	assert_int_equal(r.ph[0].cookie, 2);
	/* the next round too (it may have been lost), without asking again */
	r.n = 0;
	ncx_tx_tick(tx, ncx_tx_next_deadline(tx), on_resend, &r);
	assert_int_equal(r.nph, 2);
	assert_int_equal(r.c[0].seq, 2);
	ncx_tx_free(tx);
}

/* ---- the tail probe ------------------------------------------------------ */

static void probe250(struct ncx_tx_config *cfg)
{
	cfg->probe_us = 250 * MS;
	cfg->gone = on_gone;
}

static void test_probe(void **state)
{
	struct ncx_tx *tx = mk(1, probe250);
	struct rec r = { 0 };

	(void)state;
	send_range(tx, 0, 9, 0);
	assert_int_equal(respond(tx, 0, "ncrx5", 10 * MS, &r), 0);
	assert_int_equal(ncx_tx_next_deadline(tx), 260 * MS);
	ncx_tx_tick(tx, 259 * MS, on_resend, &r);
	assert_int_equal(r.n, 0);
	ncx_tx_tick(tx, 260 * MS, on_resend, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.c[0].seq, 9);	/* the newest unacked */
	assert_true(r.c[0].emergency);		/* acked at once */
	assert_int_equal(stats(tx).probes, 1);
	assert_int_equal(stats(tx).emg_resent, 0);
	/* backing off: 500 ms, then 1 s (emg_max_us), then 1 s */
	assert_int_equal(ncx_tx_next_deadline(tx), 760 * MS);
	ncx_tx_tick(tx, 760 * MS, on_resend, &r);
	assert_int_equal(ncx_tx_next_deadline(tx), 1760 * MS);
	ncx_tx_tick(tx, 1760 * MS, on_resend, &r);
	assert_int_equal(ncx_tx_next_deadline(tx), 2760 * MS);
	assert_int_equal(r.n, 3);
	/* a first send puts it off; progress resets the interval */
	send_range(tx, 10, 10, 2 * SEC);
	assert_int_equal(ncx_tx_next_deadline(tx), 3 * SEC);
	assert_int_equal(respond(tx, 0, "ncrx8", 2100 * MS, &r), 0);
	assert_int_equal(ncx_tx_next_deadline(tx), 2350 * MS);
	/* everything acked: nothing to probe */
	assert_int_equal(respond(tx, 0, "ncrx10", 2200 * MS, &r), 0);
	assert_int_equal(ncx_tx_next_deadline(tx), UINT64_MAX);
	/* a newest record that is gone: a placeholder for it */
	send_range(tx, 11, 11, 3 * SEC);
	r.n = 0;
	r.gone[0] = 11;
	r.ngone = 1;
	ncx_tx_tick(tx, 3250 * MS, on_resend, &r);
	assert_int_equal(r.nph, 1);
	assert_int_equal(r.ph[0].seq, 11);
	assert_int_equal(r.ph[0].cookie, 1);
	ncx_tx_free(tx);
}

/* ---- records in flight ---------------------------------------------------- */

static void inflight8(struct ncx_tx_config *cfg)
{
	cfg->max_inflight = 8;
}

static void test_inflight_cap(void **state)
{
	struct ncx_tx *tx = mk(2, inflight8);
	struct rec r = { 0 };

	(void)state;
	/* nobody has acked: no cap (a target that never acks holds nothing back) */
	send_range(tx, 0, 9, 0);
	assert_true(ncx_tx_may_send(tx, 1, 0));
	assert_int_equal(respond(tx, 0, "ncrx5", 1, &r), 0);
	assert_true(ncx_tx_may_send(tx, 1, 1));	/* 4 unacked by target 0 */
	send_range(tx, 10, 13, 2);
	assert_false(ncx_tx_may_send(tx, 1, 2));	/* 6..13: 8 */
	assert_int_equal(stats(tx).capped, 1);
	assert_int_equal(respond(tx, 0, "ncrx6", 3, &r), 0);
	assert_true(ncx_tx_may_send(tx, 1, 3));
	send_range(tx, 14, 14, 3);
	assert_false(ncx_tx_may_send(tx, 1, 3));
	/* target 0 in emergency mode: it holds nothing back either */
	ncx_tx_tick(tx, 11 * SEC, on_resend, &r);
	assert_true(ncx_tx_may_send(tx, 1, 11 * SEC));
	ncx_tx_free(tx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_acks_forward_only),
		cmocka_unit_test(test_start_mid_stream),
		cmocka_unit_test(test_ack_ahead_ignored),
		cmocka_unit_test(test_ack_ahead_clamped),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_targets_independent),
		cmocka_unit_test(test_emergency_rounds),
		cmocka_unit_test(test_emergency_checkpoint_age),
		cmocka_unit_test(test_emergency_skips_gone),
		cmocka_unit_test(test_pacing),
		cmocka_unit_test(test_pacing_emergency),
		cmocka_unit_test(test_skip_gone),
		cmocka_unit_test(test_checkpoints_wrap),
		cmocka_unit_test(test_seq_backwards),
		cmocka_unit_test(test_start_hold),
		cmocka_unit_test(test_start_hold_expires),
		cmocka_unit_test(test_start_special),
		cmocka_unit_test(test_gone_placeholder_runs),
		cmocka_unit_test(test_gone_budget),
		cmocka_unit_test(test_gone_emergency),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_inflight_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
