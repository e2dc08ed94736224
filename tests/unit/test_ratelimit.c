/* SPDX-License-Identifier: MIT */
/*
 * Tests for the per-call-site ratelimit (include/ncx/ratelimit.h), driven by a fake
 * clock: every call is given its time in seconds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ncx/ratelimit.h"

struct site {
	uint32_t state;
	uint32_t pass, limit, drop, resume, last_suppressed;
};

static enum ncx_rl_verdict call(struct site *s, uint32_t now, const struct ncx_rl_params *p)
{
	enum ncx_rl_verdict v;
	uint32_t sup = 12345;

	s->state = ncx_rl_step(s->state, now, p, &v, &sup);
	switch (v) {
	case NCX_RL_PASS: s->pass++; assert_int_equal(sup, 0); break;
	case NCX_RL_LIMIT: s->limit++; assert_int_equal(sup, 0); break;
	case NCX_RL_DROP: s->drop++; assert_int_equal(sup, 0); break;
	case NCX_RL_RESUME: s->resume++; s->last_suppressed = sup; break;
	}
	return v;
}

/* The defaults: 30,000, one notice, 300 s of silence, the count, the restart. */
static void test_default_burst_silence_resume(void **state)
{
	struct site s = { 0 };
	const uint32_t t0 = 5000;

	for (int i = 0; i < NCX_RL_BURST; i++)
		assert_int_equal(call(&s, t0 + (uint32_t)(i / 1000), NULL), NCX_RL_PASS);
	assert_int_equal(call(&s, t0 + 30, NULL), NCX_RL_LIMIT);	/* call 30,001 */
	for (uint32_t t = t0 + 30; t < t0 + 30 + 300; t++)
		for (int k = 0; k < 10; k++)
			assert_int_equal(call(&s, t, NULL), NCX_RL_DROP);
	assert_int_equal(s.drop, 3000);
	assert_int_equal(call(&s, t0 + 330, NULL), NCX_RL_RESUME);
	/* The replaced message plus every drop. */
	assert_int_equal(s.last_suppressed, 3001);
	/* The count starts over: the resumed call is the first of a new burst. */
	for (int i = 1; i < NCX_RL_BURST; i++)
		assert_int_equal(call(&s, t0 + 331, NULL), NCX_RL_PASS);
	assert_int_equal(call(&s, t0 + 331, NULL), NCX_RL_LIMIT);
	assert_int_equal(s.limit, 2);
	assert_int_equal(s.pass, 2 * NCX_RL_BURST - 1);
}

/* Silence lasts exactly S seconds from the notice, not from the window start. */
static void test_silence_boundary(void **state)
{
	const struct ncx_rl_params p = { .burst = 3, .silence = 10 };
	struct site s = { 0 };

	for (int i = 0; i < 3; i++)
		assert_int_equal(call(&s, 100, &p), NCX_RL_PASS);
	assert_int_equal(call(&s, 105, &p), NCX_RL_LIMIT);
	assert_int_equal(call(&s, 114, &p), NCX_RL_DROP);
	assert_int_equal(call(&s, 115, &p), NCX_RL_RESUME);
	assert_int_equal(s.last_suppressed, 2);
}

/* A window that ends without hitting the burst simply starts over. */
static void test_window_expires(void **state)
{
	const struct ncx_rl_params p = { .burst = 3, .silence = 10 };
	struct site s = { 0 };

	assert_int_equal(call(&s, 100, &p), NCX_RL_PASS);
	assert_int_equal(call(&s, 101, &p), NCX_RL_PASS);
	assert_int_equal(call(&s, 109, &p), NCX_RL_PASS);
	assert_int_equal(ncx_rl_count(s.state), 3);
	assert_int_equal(call(&s, 110, &p), NCX_RL_PASS);	/* new window */
	assert_int_equal(ncx_rl_count(s.state), 1);
	assert_int_equal(ncx_rl_stamp(s.state), 110);
	assert_int_equal(call(&s, 110, &p), NCX_RL_PASS);
	assert_int_equal(call(&s, 111, &p), NCX_RL_PASS);
	assert_int_equal(call(&s, 111, &p), NCX_RL_LIMIT);
}

static void test_suppressed_count_saturates(void **state)
{
	const struct ncx_rl_params p = { .burst = 1, .silence = 10 };
	struct site s = { 0 };

	assert_int_equal(call(&s, 1, &p), NCX_RL_PASS);
	assert_int_equal(call(&s, 1, &p), NCX_RL_LIMIT);
	for (int i = 0; i < 40000; i++)
		assert_int_equal(call(&s, 2, &p), NCX_RL_DROP);
	assert_int_equal(call(&s, 11, &p), NCX_RL_RESUME);
	assert_int_equal(s.last_suppressed, NCX_RL_COUNT_MAX);
}

/* Silence that spans the 16-bit wrap of the stamp ends on time. */
static void test_wrap_during_silence(void **state)
{
	struct site s = { 0 };
	const uint32_t t0 = 65536 * 3 - 100;	/* stamp near 0xffff */

	for (int i = 0; i < NCX_RL_BURST; i++)
		call(&s, t0, NULL);
	assert_int_equal(call(&s, t0, NULL), NCX_RL_LIMIT);
	assert_int_equal(call(&s, t0 + 150, NULL), NCX_RL_DROP);	/* stamp wrapped: 50 */
	assert_int_equal(call(&s, t0 + 299, NULL), NCX_RL_DROP);
	assert_int_equal(call(&s, t0 + 300, NULL), NCX_RL_RESUME);
	assert_int_equal(s.last_suppressed, 3);
}

/*
 * The accepted imprecision: a silenced site that stays quiet until the
 * 16-bit clock comes round is silenced again, for what is left of one
 * window, and no longer.
 */
static void test_wrap_undeserved_window(void **state)
{
	struct site s = { 0 };
	const uint32_t t0 = 1000;

	for (int i = 0; i < NCX_RL_BURST; i++)
		call(&s, t0, NULL);
	assert_int_equal(call(&s, t0, NULL), NCX_RL_LIMIT);
	/* Quiet for 65,536 + 10 s: looks like 10 s. */
	assert_int_equal(call(&s, t0 + 65536 + 10, NULL), NCX_RL_DROP);
	assert_int_equal(call(&s, t0 + 65536 + 299, NULL), NCX_RL_DROP);
	assert_int_equal(call(&s, t0 + 65536 + 300, NULL), NCX_RL_RESUME);
	assert_int_equal(s.last_suppressed, 3);

	/* Quiet for 65,536 + 300 s or any other time outside that window: resumes at once. */
	struct site u = { 0 };
	for (int i = 0; i < NCX_RL_BURST; i++)
		call(&u, t0, NULL);
	assert_int_equal(call(&u, t0, NULL), NCX_RL_LIMIT);
	assert_int_equal(call(&u, t0 + 65536 + 300, NULL), NCX_RL_RESUME);
	struct site w = { 0 };
	for (int i = 0; i < NCX_RL_BURST; i++)
		call(&w, t0, NULL);
	assert_int_equal(call(&w, t0, NULL), NCX_RL_LIMIT);
	assert_int_equal(call(&w, t0 + 40000, NULL), NCX_RL_RESUME);
}

/* Same for a window in its burst: it may run out early, once. */
static void test_wrap_in_burst(void **state)
{
	const struct ncx_rl_params p = { .burst = 3, .silence = 10 };
	struct site s = { 0 };

	assert_int_equal(call(&s, 7, &p), NCX_RL_PASS);
	assert_int_equal(call(&s, 7, &p), NCX_RL_PASS);
	assert_int_equal(call(&s, 7 + 65536 + 2, &p), NCX_RL_PASS);	/* counted in the old window */
	assert_int_equal(call(&s, 7 + 65536 + 2, &p), NCX_RL_LIMIT);
	assert_int_equal(call(&s, 7 + 65536 + 12, &p), NCX_RL_RESUME);
	assert_int_equal(s.last_suppressed, 1);
}

static void test_zero_state_and_layout(void **state)
{
	enum ncx_rl_verdict v;
	uint32_t sup;
	uint32_t st = ncx_rl_step(0, 0x12345, NULL, &v, &sup);

	assert_int_equal(v, NCX_RL_PASS);
	assert_int_equal(ncx_rl_count(st), 1);
	assert_int_equal(ncx_rl_stamp(st), 0x2345);
	assert_int_equal(st & NCX_RL_SILENT, 0);
	assert_int_equal(sizeof(st), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_burst_silence_resume),
		cmocka_unit_test(test_silence_boundary),
		cmocka_unit_test(test_window_expires),
		cmocka_unit_test(test_suppressed_count_saturates),
		cmocka_unit_test(test_wrap_during_silence),
		cmocka_unit_test(test_wrap_undeserved_window),
		cmocka_unit_test(test_wrap_in_burst),
		cmocka_unit_test(test_zero_state_and_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
