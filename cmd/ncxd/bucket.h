/* SPDX-License-Identifier: MIT */
/* bucket.c: the per-host token bucket, bytes per second (pure). */
#ifndef NCXD_BUCKET_H
#define NCXD_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct ncxd_bucket {
	uint64_t tokens_us; /* tokens scaled by 1e6 (byte-microseconds), for exact refill */
	uint64_t last_us;
	bool started;
};

/* Take n bytes at now_us: true if they fit (and are taken). rate 0 = off. */
bool ncxd_bucket_take(struct ncxd_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_us,
		      uint64_t n);

#endif /* NCXD_BUCKET_H */
