/* SPDX-License-Identifier: MIT */
/*
 * rx x tx: the real receiver engine and the real sender core (ring, tx and
 * a driver shaped like netcon's thread) through tests/support/simnet's
 * lossy in-memory network on a fake clock. Each scenario runs with several
 * fixed seeds; simnet checks the property on every event (every record
 * exactly once in order, byte-identical, or in a GAP the sender earned;
 * no response to a stock sender; everything settles) and each test adds
 * what its scenario must show: no timeouts below heavy loss, placeholders
 * when the ring is overwritten, fragments when records are long.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "simnet.h"

#define SEC 1000000ULL

static const uint64_t seeds[] = { 1, 0x5eed, 0xdeadbeef, 42424242 };
#define NSEEDS (sizeof(seeds) / sizeof(seeds[0]))

/* Run sc with every seed; the property must hold each time. Returns the
 * sums over the seeds. */
static struct simnet_result run_seeds(const char *name, struct simnet_scenario *sc)
{
	struct simnet_result sum = { .ok = true }, r;

	for (size_t i = 0; i < NSEEDS; i++) {
		sc->seed = seeds[i];
		if (simnet_run(sc, &r)) {
			print_error("%s: %s\n", name, r.why);
			fail();
		}
		if (r.rx_window || r.capped)
			print_message("%-10s seed %-10llu receiver window drops %llu, tx capped %llu\n",
				      name, (unsigned long long)seeds[i],
				      (unsigned long long)r.rx_window, (unsigned long long)r.capped);
		print_message("%-10s seed %-10llu t=%6.1fs delivered %llu, lost %llu (gone) + %llu "
			      "(timeout), max latency %.2fs, ring-lost %llu (%llu before the start), dgrams %llu/%llu, net lost %llu dup %llu "
			      "full %llu, placeholders %llu, resent %llu, emg %llu, probes %llu\n",
			      name, (unsigned long long)seeds[i], (double)r.end_us / 1e6,
			      (unsigned long long)r.delivered, (unsigned long long)r.gap_gone,
			      (unsigned long long)r.gap_timeout, (double)r.max_latency_us / 1e6,
			      (unsigned long long)r.ring_lost, (unsigned long long)r.before_start,
			      (unsigned long long)r.to_rx, (unsigned long long)r.to_tx,
			      (unsigned long long)r.net_lost, (unsigned long long)r.net_dup,
			      (unsigned long long)r.net_full, (unsigned long long)r.placeholders,
			      (unsigned long long)r.resent, (unsigned long long)r.emg_resent,
			      (unsigned long long)r.probes);
		sum.delivered += r.delivered;
		if (r.max_latency_us > sum.max_latency_us)
			sum.max_latency_us = r.max_latency_us;
		sum.gap_gone += r.gap_gone;
		sum.gap_timeout += r.gap_timeout;
		sum.ring_lost += r.ring_lost;
		sum.before_start += r.before_start;
		sum.net_lost += r.net_lost;
		sum.net_dup += r.net_dup;
		sum.placeholders += r.placeholders;
		sum.resent += r.resent;
		sum.stock_delivered += r.stock_delivered;
		sum.responses += r.responses;
		sum.rx_window += r.rx_window;
		sum.capped += r.capped;
	}
	return sum;
}

/* Loss both ways, no healing: everything must arrive, nothing time out. */
static void lossy(const char *name, unsigned permille, unsigned records)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.loss_to_rx = sc.loss_to_tx = permille;
	sc.records = records;
	sc.burst = 4;
	sc.ring_order = 20;	/* nothing overwritten */
	r = run_seeds(name, &sc);
	assert_int_equal(r.delivered, NSEEDS * records);
	assert_int_equal(r.gap_gone + r.gap_timeout, 0);
	if (permille)
		assert_true(r.net_lost > 0 && r.resent > 0);
	/* Requests and resends recover a loss long before emergency mode (10 s). */
	if (permille <= 200)
		assert_true(r.max_latency_us < 5 * SEC);
}

static void test_loss_0(void **state)
{
	lossy("loss0", 0, 2000);
}

static void test_loss_20(void **state)
{
	lossy("loss20", 200, 1000);
}

static void test_loss_50(void **state)
{
	lossy("loss50", 500, 1000);
}

/*
 * 80% both ways: a round trip succeeds 4% of the time, so a hole may time
 * out (30 s) before its record gets through; such gaps are allowed (simnet
 * checks they are real timeouts). The network heals 60 s after the last
 * record, and then everything still open must settle.
 */
static void test_loss_80(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.loss_to_rx = sc.loss_to_tx = 800;
	sc.records = 300;
	sc.interval_us = 20000;
	sc.heal_after_us = 60 * SEC;
	r = run_seeds("loss80", &sc);
	assert_int_equal(r.delivered + r.gap_gone + r.gap_timeout, NSEEDS * 300);
	assert_true(r.delivered > 0);
}

/* Delays from 1 to 81 ms: heavy reordering, a little loss. */
static void test_reorder(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.jitter_us = 80000;
	sc.loss_to_rx = sc.loss_to_tx = 50;
	sc.records = 1500;
	sc.burst = 10;
	sc.interval_us = 5000;
	r = run_seeds("reorder", &sc);
	assert_int_equal(r.delivered, NSEEDS * 1500);
	assert_int_equal(r.gap_gone + r.gap_timeout, 0);
	assert_true(r.max_latency_us < 5 * SEC);
}

/* Every datagram may arrive twice (both ways), some not at all. */
static void test_duplicate(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.dup = 300;
	sc.loss_to_rx = sc.loss_to_tx = 100;
	sc.jitter_us = 20000;
	sc.records = 1000;
	r = run_seeds("dup", &sc);
	assert_int_equal(r.delivered, NSEEDS * 1000);
	assert_int_equal(r.gap_gone + r.gap_timeout, 0);
	assert_true(r.max_latency_us < 5 * SEC);
	assert_true(r.net_dup > 0);
}

/*
 * A 16 KiB ring and bursts far bigger than it: records are overwritten
 * before their first send (the stream-start hold keeps the reader back)
 * and after it, before a lost one is asked for again. Those, and only
 * those, come out as lost gaps, through placeholders.
 */
static void test_ring_overwrite(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.ring_order = 14;
	sc.loss_to_rx = sc.loss_to_tx = 300;
	sc.records = 4000;
	sc.burst = 100;
	sc.interval_us = 2000;
	sc.text_min = 60;
	sc.text_max = 200;
	r = run_seeds("ring", &sc);
	assert_int_equal(r.delivered + r.gap_gone + r.before_start, NSEEDS * 4000);
	assert_int_equal(r.gap_timeout, 0);
	assert_true(r.gap_gone > 0);
	assert_true(r.ring_lost > 0);
	assert_true(r.placeholders > 0);
	assert_true(r.delivered > 0);
}

/* Records of 900..1800 bytes (more escaped): every one is fragmented, and
 * fragments are lost, duplicated and reordered one by one. */
static void test_long_records(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.ring_order = 20;
	sc.text_min = 900;
	sc.text_max = 1800;
	sc.loss_to_rx = sc.loss_to_tx = 200;
	sc.dup = 50;
	sc.jitter_us = 10000;
	sc.records = 400;
	r = run_seeds("long", &sc);
	assert_int_equal(r.delivered, NSEEDS * 400);
	assert_int_equal(r.gap_gone + r.gap_timeout, 0);
}

/* A stock sender on the same network: it is never answered (simnet fails
 * on any response to it) and its records come through byte-identical. */
static void test_stock_beside(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.loss_to_rx = sc.loss_to_tx = 200;
	sc.stock_records = 300;
	sc.records = 500;
	r = run_seeds("stock", &sc);
	assert_int_equal(r.delivered, NSEEDS * 500);
	assert_true(r.stock_delivered > 0);
	assert_true(r.responses > 0);
}

/* A named stream that tags every datagram, long records (fragments) among
 * them, under loss, duplication and reordering: the receiver, with
 * require_auth, takes them all, and every response the sender takes
 * carries a good tag for its stream (simnet fails otherwise). */
static void test_auth(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.stream_id = 0x0123456789abcdefULL;
	sc.auth = true;
	sc.ring_order = 20;
	sc.loss_to_rx = sc.loss_to_tx = 300;
	sc.dup = 50;
	sc.jitter_us = 10000;
	sc.records = 600;
	sc.text_min = 60;
	sc.text_max = 1400;
	r = run_seeds("auth", &sc);
	assert_int_equal(r.delivered, NSEEDS * 600);
	assert_int_equal(r.gap_gone + r.gap_timeout, 0);
	assert_true(r.resent > 0 && r.responses > 0);
}

/* The ring overwrite scenario, tagged: placeholders are tagged and taken. */
static void test_auth_ring(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.stream_id = 0xfedcba9876543210ULL;
	sc.auth = true;
	sc.ring_order = 14;
	sc.loss_to_rx = sc.loss_to_tx = 300;
	sc.records = 4000;
	sc.burst = 100;
	sc.interval_us = 2000;
	sc.text_min = 60;
	sc.text_max = 200;
	r = run_seeds("authring", &sc);
	assert_int_equal(r.delivered + r.gap_gone + r.before_start, NSEEDS * 4000);
	assert_int_equal(r.gap_timeout, 0);
	assert_true(r.placeholders > 0 && r.delivered > 0);
}

/* The same with a stock sender beside it (so no require_auth): the stock
 * sender's records still come through, and are never answered. */
static void test_auth_stock_beside(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.stream_id = 7;
	sc.auth = true;
	sc.loss_to_rx = sc.loss_to_tx = 200;
	sc.stock_records = 300;
	sc.records = 500;
	r = run_seeds("authstock", &sc);
	assert_int_equal(r.delivered, NSEEDS * 500);
	assert_true(r.stock_delivered > 0);
}

/* 20,000 records at 20,000 a second under 30% loss: tx's max_inflight
 * (4096, the receiver's window) holds first sends back, so the receiver
 * never has to drop a record beyond its window. */
static void test_many(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.loss_to_rx = sc.loss_to_tx = 300;
	sc.records = 20000;
	sc.burst = 200;
	sc.interval_us = 10000;
	sc.ring_order = 24;
	sc.queue_max = 8192;
	r = run_seeds("many", &sc);
	assert_int_equal(r.delivered, NSEEDS * 20000);
	assert_int_equal(r.gap_gone + r.gap_timeout, 0);
	assert_true(r.capped > 0);
	assert_int_equal(r.rx_window, 0);
}

/* Pacing: 300 datagrams a second against bursts of 50: first sends wait
 * in the ring and resends are skipped for want of tokens. */
static void test_paced(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.max_pps = 300;
	sc.loss_to_rx = sc.loss_to_tx = 200;
	sc.records = 600;
	sc.burst = 50;
	sc.interval_us = 100000;
	r = run_seeds("paced", &sc);
	assert_int_equal(r.delivered, NSEEDS * 600);
	assert_int_equal(r.gap_gone + r.gap_timeout, 0);
}

/*
 * A burst fills the sender's 16 KiB ring right at the start and the
 * stream's first record (seq 0) is lost on the way. During the start hold
 * tx resends seq 0 and finds it overwritten: it must send its placeholder
 * and hold on until that is acked. (It used to end the hold without a
 * word; the receiver started its stream at the first later record it saw
 * and dropped the lower ones as late, though no gap covered them: seed 9
 * lost 218..252. Found by this simulation.)
 */
static void test_start_gone(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.loss_to_rx = sc.loss_to_tx = 100;
	sc.ring_order = 14;
	sc.records = 256;
	sc.burst = 32;
	sc.interval_us = 500;
	sc.text_min = 100;
	sc.text_max = 600;
	sc.seed = 9;
	if (simnet_run(&sc, &r)) {
		print_error("start_gone: %s\n", r.why);
		fail();
	}
}

/*
 * Long records in a 16 KiB ring: records the receiver asks for are gone
 * and it closes them as lost (25..255 for seed 2), then acks the end
 * (ncrx255) and that ack is lost. tx still has 25..255 unacked; its
 * emergency rounds (and tail probes) find them gone and send only the
 * placeholder "ncgone=231" at seq 25, without ncemg=1. The receiver must
 * ack such a placeholder for seqs it has closed (once per ack_us), or the
 * sender stays in emergency mode for good (found by this simulation).
 */
static void test_tail_ack_lost(void **state)
{
	struct simnet_scenario sc;
	struct simnet_result r;

	simnet_default(&sc);
	sc.seed = 2;
	sc.loss_to_rx = sc.loss_to_tx = 200;
	sc.dup = 30;
	sc.jitter_us = 3000;
	sc.records = 256;
	sc.burst = 5;
	sc.interval_us = 16500;
	sc.text_min = 900;
	sc.text_max = 1800;
	sc.ring_order = 14;
	sc.max_pps = 1000;
	sc.heal_after_us = 10 * SEC;
	sc.limit_us = 60 * SEC;
	if (simnet_run(&sc, &r)) {
		print_error("tail_ack_lost: %s\n", r.why);
		fail();
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loss_0),	      cmocka_unit_test(test_loss_20),
		cmocka_unit_test(test_loss_50),	      cmocka_unit_test(test_loss_80),
		cmocka_unit_test(test_reorder),	      cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_ring_overwrite), cmocka_unit_test(test_long_records),
		cmocka_unit_test(test_stock_beside),  cmocka_unit_test(test_paced),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_start_gone),    cmocka_unit_test(test_tail_ack_lost),
		cmocka_unit_test(test_auth),	      cmocka_unit_test(test_auth_ring),
		cmocka_unit_test(test_auth_stock_beside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
