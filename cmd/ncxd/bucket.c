/* SPDX-License-Identifier: MIT */
/*
 * bucket: a per-host byte rate. Tokens are kept scaled by 1e6 so that a
 * refill after a few microseconds at a low rate is not rounded away.
 */
#include "bucket.h"

bool ncxd_bucket_take(struct ncxd_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_us,
		      uint64_t n)
{
	unsigned __int128 cap = (unsigned __int128)burst * 1000000u, t;

	if (rate == 0)
		return true;
	if (!b->started) {
		/* A new host starts with a full bucket. */
		b->started = true;
		b->last_us = now_us;
		t = cap;
	} else {
		uint64_t dt = now_us > b->last_us ? now_us - b->last_us : 0;

		t = (unsigned __int128)b->tokens_us + (unsigned __int128)dt * rate;
		if (t > cap)
			t = cap;
		b->last_us = now_us > b->last_us ? now_us : b->last_us;
	}
	unsigned __int128 need = (unsigned __int128)n * 1000000u;

	if (t >= need) {
		b->tokens_us = (uint64_t)(t - need);
		return true;
	}
	b->tokens_us = (uint64_t)t;
	return false;
}
