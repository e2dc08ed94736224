/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of cmd/ncxd/metrics.c: every *_total it writes only grows
 * (issue #10, finding 8). A stock sender chooses its seqs, and the engine
 * adds each gap's size to its count of records missed: two forged datagrams
 * took that count past 2^64 and it came out lower than before. Summing the
 * workers' counts could wrap the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ncx/rx.h>

#include "../../cmd/ncxd/ncxd.h"

#include <ncx/rx.h>

struct fixture {
	struct ncxd d;
	struct ncxd_worker w[2];
	char path[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->d.workers = f->w;
	f->d.nworkers = 2;
	for (int i = 0; i < 2; i++) {
		f->w[i].d = &f->d;
		pthread_mutex_init(&f->w[i].lock, NULL);
	}
	snprintf(f->path, sizeof(f->path), "/tmp/ncx-test-metrics.%d.prom", (int)getpid());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 2; i++)
		pthread_mutex_destroy(&f->w[i].lock);
	unlink(f->path);
	free(f);
	return 0;
}

/* The value of one unlabelled sample in the file just written. */
static uint64_t sample(struct fixture *f, const char *name)
{
	char line[512];
	size_t n = strlen(name);
	FILE *fp;
	uint64_t v = 0;
	bool found = false;

	assert_int_equal(ncxd_metrics_write(&f->d, f->path), 0);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, name, n) && line[n] == ' ') {
			v = strtoull(line + n + 1, NULL, 10);
			found = true;
		}
	fclose(fp);
	assert_true(found);
	return v;
}

/* Two workers' counts near the top: the sum stays at 2^64 - 1. */
static void test_sum_saturates(void **state)
{
	struct fixture *f = *state;

	f->w[0].snap.total.c[NCXD_C_MISSED] = UINT64_MAX - 2;
	f->w[1].snap.total.c[NCXD_C_MISSED] = 5;
	f->w[0].snap.total.drop[NCXD_D_LATE] = UINT64_MAX;
	f->w[1].snap.total.drop[NCXD_D_LATE] = 1;
	assert_true(sample(f, "ncxd_missed_total") == UINT64_MAX);
	assert_true(sample(f, "ncxd_records_total") == 0);
	f->w[0].snap.total.c[NCXD_C_MISSED] = 7;
	f->w[1].snap.total.c[NCXD_C_MISSED] = 5;
	assert_true(sample(f, "ncxd_missed_total") == UINT64_MAX);
}

/* A source that goes down (it should not) does not take the file down. */
static void test_never_lower(void **state)
{
	struct fixture *f = *state;

	f->w[0].snap.total.c[NCXD_C_LOST] = 100;
	assert_true(sample(f, "ncxd_lost_total") == 100);
	f->w[0].snap.total.c[NCXD_C_LOST] = 40;
	assert_true(sample(f, "ncxd_lost_total") == 100);
	f->w[0].snap.total.c[NCXD_C_LOST] = 140;
	assert_true(sample(f, "ncxd_lost_total") == 140);
}

static void emit(void *arg, const struct ncx_rx_event *ev)
{
	(void)arg;
	(void)ev;
}

/*
 * The finding itself, through the real engine: a stock sender's seqs 5,
 * 2^64 - 3, 3, 2^64 - 6 (each a datagram anyone can forge). The engine's
 * count of missed records saturates (it wrapped: each gap's size was added
 * as it was), and what the metrics file says never goes down.
 */
static void test_forged_stock_gaps(void **state)
{
	static const char *const dg[] = {
		"6,5,0,-;a", "6,18446744073709551613,1,-;b", "6,3,2,-;c",
		"6,18446744073709551610,3,-;d", "6,100,4,-;e", "6,18446744073709551000,5,-;f",
	};
	struct fixture *f = *state;
	struct ncx_rx_config cfg;
	struct ncx_rx *rx;
	struct ncx_addr a;
	uint64_t last = 0;

	ncx_rx_config_default(&cfg);
	rx = ncx_rx_new(&cfg, emit, NULL);
	assert_non_null(rx);
	assert_int_equal(ncx_addr_parse("127.0.0.9:6665", 6665, &a), 0);
	for (size_t i = 0; i < sizeof(dg) / sizeof(dg[0]); i++) {
		struct ncx_rx_stats st;
		uint64_t v;

		ncx_rx_feed(rx, &a, dg[i], strlen(dg[i]), 1000000u * (i + 1), NULL);
		ncx_rx_stats(rx, &st);
		f->w[0].snap.total.c[NCXD_C_MISSED] = st.missed; /* as worker.c publishes it */
		v = sample(f, "ncxd_missed_total");
		assert_true(v >= last);
		last = v;
	}
	assert_true(last > 0);
	ncx_rx_free(rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sum_saturates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_lower, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_stock_gaps, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
