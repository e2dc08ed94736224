/* SPDX-License-Identifier: MIT */
/*
 * simnet: a deterministic simulation of one reliable sender and one
 * receiver, the real cores on both ends, over an in-memory lossy network
 * on a fake clock. Test-only code.
 *
 *   sender: a real ring (ring.h) the workload writes records into, the
 *           real tx (tx.h), and a small driver that does what netcon's
 *           thread does (netcon.h has no sans-I/O core: its loop owns
 *           sockets, a thread and the real clock): read new records, format
 *           them with wire.c, mark ncrx=1, fragment, ask tx for tokens,
 *           tell tx; resend by seq from tx's checkpoint cookie; answer
 *           gone seqs with ncx_gone_format() placeholders.
 *   receiver: the real rx engine (rx.h).
 *   network: two directions, each a bounded queue ordered by arrival time;
 *           every datagram may be lost, duplicated and delayed (jitter
 *           reorders), decided by a deterministic source: fuzzer bytes
 *           first if given, then a PRNG seeded per run.
 *   clock:  jumps to the next event: a delivery, tx's or rx's deadline,
 *           the next record the workload logs, or a held send's retry.
 *
 * Optionally a stock sender (no ncrx=1) shares the network: the receiver
 * must never answer it. Optionally the reliable sender names its stream
 * and tags its datagrams (auth.h), and every response it takes must carry
 * a good tag for that stream.
 *
 * The property, checked on every event: each record the reliable sender
 * logged comes out of the receiver exactly once, in seq order, with its
 * text and dictionary byte-identical, or inside a lost GAP, never both;
 * a GAP covers only seqs the sender could no longer produce (its ring
 * overwrote them, or the checkpoint it would find them from) or seqs
 * whose hole was open longer than the receiver's reliable hole timeout;
 * every placeholder tx has sent covers only such seqs; no REBOOT; and
 * once the network heals (or stays below 100% loss long enough), every
 * record is accounted for and tx has everything acked.
 */
#ifndef NCX_SIMNET_H
#define NCX_SIMNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct simnet_scenario {
	uint64_t seed;
	unsigned loss_to_rx;	/* permille, sender -> receiver (< 1000) */
	unsigned loss_to_tx;	/* permille, receiver -> sender */
	unsigned dup;		/* permille, each direction */
	uint64_t delay_us;	/* fixed one-way delay (>= 1) */
	uint64_t jitter_us;	/* plus 0..jitter_us: reorders */
	unsigned queue_max;	/* datagrams in flight per direction; more are dropped */

	unsigned records;	/* logged by the reliable sender */
	unsigned burst;		/* records logged together (>= 1) */
	uint64_t interval_us;	/* between bursts */
	unsigned text_min, text_max; /* raw text bytes of a record */
	unsigned ring_order;	/* log2 of the sender's ring */
	uint32_t max_pps;	/* tx pacing; 0: none */
	unsigned stock_records;	/* a stock sender's records (0: none) */
	uint64_t stream_id;	/* the reliable sender names its stream so (ncid); 0: not */
	bool auth;		/* it tags every datagram (ncmac), the receiver checks and
				 * tags its responses, which the sender checks; without a
				 * stock sender, with require_auth */

	uint64_t heal_after_us;	/* the network stops losing and duplicating this long
				 * after the last record is logged; 0: never */
	uint64_t limit_us;	/* everything must be settled this long after the
				 * last record is logged (or after healing) */
	uint64_t max_datagrams;	/* a work budget (both ways): a run that sends more
				 * stops, inconclusive (returns 1); 0: none */

	const uint8_t *bytes;	/* decisions come from these first (the fuzzer) */
	size_t nbytes;
};

/* Defaults: seed 1, no loss, 1..5 ms delay, 200 short records, 64 KiB ring,
 * no stock sender, no healing, 120 s to settle. */
void simnet_default(struct simnet_scenario *sc);

struct simnet_result {
	bool ok;
	char why[256];		/* the first violation, if !ok */
	uint64_t end_us;	/* simulated time when settled (or when it failed) */
	uint64_t delivered;	/* records of the reliable sender delivered */
	uint64_t max_latency_us; /* longest from logging to delivery */
	uint64_t gap_gone;	/* ... reported lost: the sender no longer had them */
	uint64_t gap_timeout;	/* ... reported lost: their hole timed out */
	uint64_t ring_lost;	/* overwritten in the ring before the first send */
	uint64_t before_start;	/* ... of those, before the stream's first record
				 * (the receiver never hears of them) */
	uint64_t to_rx, to_tx;	/* datagrams put on the network, each way */
	uint64_t net_lost, net_dup, net_full;
	uint64_t stock_delivered, stock_gaps;
	uint64_t responses;	/* RESPONSE events */
	uint64_t rx_window;	/* records the receiver dropped beyond its window */
	uint64_t capped;	/* tx: first sends held for max_inflight */
	uint64_t placeholders, resent, emg_resent, probes, emergencies; /* tx's counters */
};

/* Run one scenario to the end. Returns 0 if the property held, -1 if not
 * (res->why says what broke), 1 if it stopped at max_datagrams with no
 * violation so far, -ENOMEM or -EINVAL if setting up failed. */
int simnet_run(const struct simnet_scenario *sc, struct simnet_result *res);

#endif /* NCX_SIMNET_H */
