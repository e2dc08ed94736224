/* SPDX-License-Identifier: MIT */
/* ncxd's per-host token bucket, on a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../cmd/ncxd/ncxd.h"

static void test_burst_then_rate(void **state)
{
	struct ncxd_bucket b = { 0 };
	uint64_t t = 5000000;

	/* A new host may send its whole burst at once, and not a byte more. */
	assert_true(ncxd_bucket_take(&b, 100, 1000, t, 1000));
	assert_false(ncxd_bucket_take(&b, 100, 1000, t, 1));
	/* 100 B/s: 10 ms buys one byte. */
	assert_false(ncxd_bucket_take(&b, 100, 1000, t + 9999, 1));
	assert_true(ncxd_bucket_take(&b, 100, 1000, t + 10000, 1));
	assert_false(ncxd_bucket_take(&b, 100, 1000, t + 10000, 1));
	/* One second buys 100 bytes, not 101. */
	assert_false(ncxd_bucket_take(&b, 100, 1000, t + 1010000, 101));
	assert_true(ncxd_bucket_take(&b, 100, 1000, t + 1010000, 100));
}

static void test_no_rounding_loss(void **state)
{
	struct ncxd_bucket b = { 0 };
	uint64_t t = 0;

	assert_true(ncxd_bucket_take(&b, 10, 10, t, 10));
	/* 10 B/s polled every 1 µs: each poll earns 1e-5 bytes; they add up. */
	for (int i = 0; i < 99999; i++)
		assert_false(ncxd_bucket_take(&b, 10, 10, ++t, 1));
	assert_true(ncxd_bucket_take(&b, 10, 10, ++t, 1));
}

static void test_cap_and_clock(void **state)
{
	struct ncxd_bucket b = { 0 };

	assert_true(ncxd_bucket_take(&b, 1000, 2000, 1000000, 2000));
	/* An hour idle refills to the burst, no further. */
	assert_false(ncxd_bucket_take(&b, 1000, 2000, 3601000000ull, 2001));
	assert_true(ncxd_bucket_take(&b, 1000, 2000, 3601000000ull, 2000));
	/* The clock going back earns nothing and breaks nothing. */
	assert_false(ncxd_bucket_take(&b, 1000, 2000, 5, 1));
	assert_true(ncxd_bucket_take(&b, 1000, 2000, 3601001000ull, 1));
	/* Huge numbers do not overflow. */
	struct ncxd_bucket c = { 0 };

	assert_true(ncxd_bucket_take(&c, 1ull << 40, 1ull << 40, 1, 1ull << 40));
	assert_true(ncxd_bucket_take(&c, 1ull << 40, 1ull << 40, UINT64_MAX, 1ull << 40));
}

static void test_off(void **state)
{
	struct ncxd_bucket b = { 0 };

	for (int i = 0; i < 1000; i++)
		assert_true(ncxd_bucket_take(&b, 0, 0, 0, 1u << 30));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_no_rounding_loss),
		cmocka_unit_test(test_cap_and_clock),
		cmocka_unit_test(test_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
