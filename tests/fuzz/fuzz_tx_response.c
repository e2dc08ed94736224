/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the reliable sender's response parser and protocol
 * state, fed untrusted receiver bytes.
 *
 * The input is a sequence of responses separated by 0xff bytes. Each
 * starts with one control byte: bit 0 the target (of two), bits 1-7 how far
 * the clock moves (in 50 ms steps) before it; the rest is the datagram. A
 * tx with small limits (4 checkpoints, or 16 if bit 6 of the first byte is
 * set; bursts of 3; the start hold on) has sent seqs 0..49 and 60..99 (a
 * skip, as a /dev/kmsg overrun makes), so checkpoints wrap (only 48..99 can
 * be found) or not (the start hold's retries of seq 0 get through),
 * skipped seqs are asked for, and emergency rounds run between responses.
 *
 * Checked: the return is 0 or -EBADMSG, -EBADMSG for anything over 1000
 * bytes; acks never move back; a resend only ever asks for a seq that was
 * sent, above what that target acked, with the cookie of its block's
 * checkpoint; each response resends a seq at most once; a placeholder
 * (ncgone) covers only seqs above the ack that the sender does not have.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/tx.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

#define SENT_END 100

struct ctx {
	struct ncx_tx *tx;
	uint64_t live;		/* lowest seq whose checkpoint survives */
	uint64_t acked_next[2];	/* what each target had acked before this call */
	bool seen[SENT_END];	/* resent in this response */
	bool in_response;
};

/* The cookie a seq's checkpoint carries: its block's first sent seq (every
 * block starts with a sent seq here: the skip is inside block 48..63). */
static uint64_t block_cookie(uint64_t seq)
{
	return 1000 + seq - seq % NCX_TX_STRIDE;
}

static int on_resend(void *arg, unsigned target, uint64_t seq, uint64_t cookie, bool emergency)
{
	struct ctx *c = arg;

	CHECK(target < 2);
	CHECK(seq < SENT_END);
	CHECK(seq >= c->live);	/* older checkpoints were overwritten: gone without asking */
	CHECK(seq >= c->acked_next[target]);
	CHECK(cookie == block_cookie(seq));
	if (c->in_response && !emergency) {
		CHECK(!c->seen[seq]);
		c->seen[seq] = true;
	}
	if (seq >= 50 && seq < 60)
		return 0;	/* skipped: the driver finds no such record */
	return seq % 7 == 3 ? 0 : 1 + (int)(seq % 3);	/* and some are gone */
}

/* Does the "driver" above have seq? */
static bool has(const struct ctx *c, uint64_t seq)
{
	return seq >= c->live && seq < SENT_END && !(seq >= 50 && seq < 60) && seq % 7 != 3;
}

static int on_gone(void *arg, unsigned target, uint64_t first, uint64_t count)
{
	struct ctx *c = arg;

	CHECK(target < 2);
	CHECK(count >= 1 && count <= SENT_END);
	CHECK(first >= c->acked_next[target] && first + count <= SENT_END);
	for (uint64_t q = first; q < first + count; q++)
		CHECK(!has(c, q));
	return 1;
}

static uint64_t ack_next(const struct ncx_tx *tx, unsigned t)
{
	return SENT_END - ncx_tx_unacked(tx, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ncx_tx_config cfg;
	struct ctx c = { 0 };
	uint64_t now = 0;
	size_t i = 0;

	ncx_tx_config_default(&cfg);
	cfg.ntargets = 2;
	cfg.checkpoints = (size && data[0] & 0x40) ? 16 : 4;
	c.live = cfg.checkpoints == 4 ? 48 : 0;
	cfg.emg_burst = 3;
	cfg.gone = on_gone;
	cfg.max_pps = (size && data[0] & 0x80) ? 50 : 0;
	c.tx = ncx_tx_new(&cfg);
	CHECK(c.tx);
	ncx_tx_start(c.tx, 0);
	for (uint64_t s = 0; s < SENT_END; s++)
		if (s < 50 || s >= 60)
			ncx_tx_sent(c.tx, s, 1000 + s, 1, s * 1000);

	while (i < size) {
		const uint8_t *end = memchr(data + i, 0xff, size - i);
		size_t len = (end ? (size_t)(end - data) : size) - i;
		unsigned t = data[i] & 1;
		int rc;

		now += (uint64_t)(data[i] >> 1) * 50000;
		for (unsigned u = 0; u < 2; u++)
			c.acked_next[u] = ack_next(c.tx, u);
		memset(c.seen, 0, sizeof(c.seen));
		c.in_response = true;
		rc = ncx_tx_response(c.tx, t, data + i + 1, len ? len - 1 : 0, now, on_resend, &c);
		c.in_response = false;
		CHECK(rc == 0 || rc == -EBADMSG);
		if (len > 1001)
			CHECK(rc == -EBADMSG);
		for (unsigned u = 0; u < 2; u++) {
			CHECK(ack_next(c.tx, u) >= c.acked_next[u]);	/* never back */
			if (u != t)
				CHECK(ack_next(c.tx, u) == c.acked_next[u]);
			c.acked_next[u] = ack_next(c.tx, u);
		}
		ncx_tx_tick(c.tx, now, on_resend, &c);
		CHECK(ncx_tx_next_deadline(c.tx) > now);	/* nothing left due */
		i += len + 1;
	}
	ncx_tx_free(c.tx);
	return 0;
}
