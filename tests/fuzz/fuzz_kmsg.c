/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: lib/kmsg.c on arbitrary bytes. The state file parser
 * (a file anyone with write access to its directory could plant), the
 * lenient seq reader and the render callback, with their promises: a parsed
 * state formats back to bytes that parse to the same state; render sends
 * only what parses and gives that record's seq; the seq accounting never
 * sends a seq that is not above the last one sent, and counts every record
 * exactly once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/kmsg.h>
#include <ncx/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static void state_round_trip(const uint8_t *data, size_t size)
{
	struct ncx_kmsg_state st, back;
	char out[NCX_KMSG_STATE_MAX * 2];
	size_t n;

	if (ncx_kmsg_state_parse((const char *)data, size, &st))
		return;
	CHECK(strlen(st.boot_id) == NCX_KMSG_BOOT_ID_LEN);
	CHECK(strlen(st.targets) <= NCX_KMSG_TARGETS_MAX);
	n = ncx_kmsg_state_format(&st, out, sizeof(out));
	CHECK(n < sizeof(out));
	CHECK(ncx_kmsg_state_parse(out, n, &back) == 0);
	CHECK(!strcmp(st.boot_id, back.boot_id));
	CHECK(st.acked == back.acked);
	CHECK(!strcmp(st.targets, back.targets));
}

static void render(const uint8_t *data, size_t size)
{
	static char out[NCX_WIRE_DGRAM_MAX];
	struct ncx_ring_rec rec = { .seq = 1, .text_len = size };
	struct ncx_ext e;
	uint64_t seq = 12345, lenient;
	size_t cap = size ? data[0] % 64 * 32 : 0;
	size_t n = ncx_kmsg_render(NULL, &rec, (const char *)data, out, cap, &seq);

	if (ncx_ext_parse(data, size, &e)) {
		CHECK(n == 0 && seq == 12345);
		return;
	}
	CHECK(seq == e.seq);
	CHECK(n == (size < cap ? size : cap));
	CHECK(n == 0 || !memcmp(out, data, n));
	/* What the strict parser reads, the lenient one reads alike (no release
	 * prefix: /dev/kmsg never has one). */
	if (!e.release.len && ncx_kmsg_seq_of(data, size, &lenient) == 0)
		CHECK(lenient == e.seq);
}

/* The input as a resume point and a run of seqs (small steps, some back). */
static void accounting(const uint8_t *data, size_t size)
{
	struct ncx_kmsg_seq s;
	struct ncx_kmsg_gap g;
	uint64_t seq = 0, sent_last = 0, dropped = 0;
	bool sent_any = false;

	if (size < 2)
		return;
	ncx_kmsg_seq_init(&s, data[0] & 1, data[1]);
	for (size_t i = 2; i < size; i++) {
		seq += (uint64_t)(int8_t)data[i] + 2; /* mostly forward, sometimes back */
		enum ncx_kmsg_verdict v = ncx_kmsg_seq_next(&s, seq, &g);

		if (g.count) {
			CHECK(g.last >= g.first && g.count == g.last - g.first + 1);
			CHECK(g.last < seq);
			dropped += g.count;
		}
		if (v == NCX_KMSG_FORWARD) {
			CHECK(!sent_any || seq > sent_last);
			CHECK(!s.resume || seq > s.resume_after);
			sent_any = true;
			sent_last = seq;
		}
	}
	CHECK(s.read == size - 2);
	CHECK(s.forwarded + s.resumed + s.stale == s.read);
	CHECK(s.dropped == dropped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	state_round_trip(data, size);
	render(data, size);
	accounting(data, size);
	return 0;
}
