/* SPDX-License-Identifier: MIT */
/*
 * tx: the reliable sender's protocol state, sans-I/O: the mirror of rx.
 * Time comes in as an argument; what to resend goes out through a callback.
 * It holds no record bytes at all: the records live in a ring (ring.h), and
 * the driver (netcon.h) fetches a record by seq when tx asks for it.
 *
 * Per target (each receiver acks on its own):
 *
 *   acked      the highest seq the target has acked (its contiguous prefix);
 *              nothing at or below it is ever resent to that target
 *   sent       one past the highest seq sent the first time (all targets)
 *
 * The unacked records of a target are (acked, sent). A response
 * "ncrx<acked>[ <seq>]*" moves acked forward (never back) and asks for the
 * listed seqs, each resent once per response if still unacked. When the
 * oldest unacked record of a target was first sent more than emergency_us
 * ago, the target enters emergency mode: rounds of up to emg_burst unacked
 * records, oldest first, resent with ncemg=1, the first round at once, the
 * next after emg_first_us, the interval doubling up to emg_max_us. Any
 * progress of acked ends emergency mode.
 *
 * Stream start: a receiver starts a sender's stream at the first seq it
 * sees, so the stream's first record must reach it before any other.
 * After the first record is sent, ncx_tx_may_send() says no (first sends
 * wait) until every target has acked it or start_hold_us has passed;
 * meanwhile ncx_tx_tick() resends it (ncemg=1, which a receiver acks at
 * once) to the targets that have not, every emg_first_us / 4. A target
 * that has acked nothing at all gets only that record in its emergency
 * rounds too. A target that never answers (down, or a stock receiver)
 * costs a delay of start_hold_us at the start, nothing else.
 *
 * First-send times are kept per checkpoint (every NCX_TX_STRIDE seqs, in a
 * fixed ring of checkpoints set at init), not per record: the age of the
 * oldest unacked record is the age of the checkpoint at or before it, which
 * can only make emergency mode start early, never late. The same
 * checkpoints carry the caller's 64-bit cookie (the ring position), so the
 * driver can find seq s by starting at the checkpoint and reading forward
 * at most NCX_TX_STRIDE - 1 records.
 *
 * Gone records: a requested seq the sender no longer has (the ring
 * overwrote it, or it was never there: a /dev/kmsg overrun) is answered
 * with a placeholder through cfg.gone, for the whole run of consecutive
 * gone seqs from it (the requested ones, and those tx knows are gone
 * without asking the driver: no checkpoint covers them). The receiver
 * closes the run as a lost gap and stops asking. An emergency round that
 * starts in a run of gone seqs sends one for that run. At most
 * NCX_TX_GONE_BURST placeholders per target per emg_first_us.
 *
 * Tail probe: a target with unacked records that has seen no ack progress
 * and no first send for probe_us gets the newest unacked record again
 * (ncemg=1, so the receiver acks at once even if it has it): a lost last
 * record, or a lost last ack, costs one probe instead of emergency_us. The
 * interval doubles with each probe without progress, up to emg_max_us.
 *
 * In flight: first sends wait while a target that has acked something in
 * this stream, and is not in emergency mode, has max_inflight records
 * unacked. A receiver holds a window of records behind a hole (rx.h,
 * 4096 by default) and drops what is further ahead; sending further ahead
 * than that under loss only wastes datagrams. A target that never acks
 * (down, a stock receiver) does not hold the others back.
 *
 * Pacing: max_pps caps datagrams per second (a token bucket of one second's
 * worth); ncx_tx_may_send() says whether a first send may go now. Resends
 * that find no token are skipped (the receiver asks again).
 *
 * Not thread-safe: one tx per driver thread.
 */
#ifndef NCX_TX_H
#define NCX_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCX_TX_TARGETS_MAX 8
#define NCX_TX_STRIDE 16 /* seqs per checkpoint */

struct ncx_tx_config {
	unsigned ntargets;	 /* 1..NCX_TX_TARGETS_MAX */
	uint32_t checkpoints;	 /* checkpoint slots (a power of two); default 16384 */
	uint64_t emergency_us;	 /* default 10 s */
	uint64_t emg_first_us;	 /* default 100 ms */
	uint64_t emg_max_us;	 /* default 1 s */
	uint32_t emg_burst;	 /* records per emergency round; default 64 */
	uint32_t max_pps;	 /* datagrams per second, all targets together; 0 = no cap */
	uint64_t start_hold_us;	 /* the stream-start hold (above); default 5 s; 0: none */
	uint64_t probe_us;	 /* the tail probe (above); default 250 ms; 0: none */
	uint32_t max_inflight;	 /* unacked records per target before first sends
				  * wait; default 4096, the receiver's window; 0: no cap */
	/* An ack of seqs this sender has not sent yet speaks of another stream
	 * (forged, or an earlier run on the same port). false (default): ignored.
	 * true: taken as acking everything sent so far, for a sender whose
	 * receiver also hears the same stream by another path and may be ahead
	 * (ncx forward beside the kernel's netconsole). Either way acked never
	 * moves past what was sent: a seq is acked only once it has been sent
	 * and acked again. */
	bool ack_ahead_clamp;
	/* Send a placeholder for gone seqs first..first+count-1 (count at most
	 * 2^32) to target; arg is what ncx_tx_response() or ncx_tx_tick() got.
	 * Returns datagrams sent (1), or <= 0 if none went. NULL: never. */
	int (*gone)(void *arg, unsigned target, uint64_t first, uint64_t count);
};

#define NCX_TX_GONE_BURST 2048 /* placeholders per target per emg_first_us */

void ncx_tx_config_default(struct ncx_tx_config *cfg);

/* What tx asks the driver to do: resend seq to target (with ncemg=1 if
 * emergency). The driver returns the number of datagrams it sent (a record
 * may take several fragments), 0 if the record is gone from the ring, or a
 * negative errno if the send failed. */
typedef int (*ncx_tx_resend_fn)(void *arg, unsigned target, uint64_t seq, uint64_t cookie,
				bool emergency);

struct ncx_tx_stats {
	uint64_t sent;		/* records sent the first time */
	uint64_t datagrams;	/* every datagram, first sends and resends, every target */
	uint64_t resent;	/* records resent on request */
	uint64_t emg_resent;	/* records resent in emergency mode */
	uint64_t gone;		/* asked for, but the ring no longer held them */
	uint64_t responses;	/* responses accepted */
	uint64_t malformed;	/* responses that did not parse */
	uint64_t paced;		/* resends skipped for want of a token */
	uint64_t emergencies;	/* times a target entered emergency mode */
	uint64_t placeholders;	/* ncgone placeholders sent */
	uint64_t gone_limited;	/* placeholders not sent: NCX_TX_GONE_BURST reached */
	uint64_t probes;	/* tail probes sent */
	uint64_t capped;	/* times first sends waited for max_inflight */
	uint64_t ack_ahead;	/* responses acking seqs not yet sent (ignored or clamped) */
};

struct ncx_tx;

/* Allocates the checkpoint ring once; NULL on failure or a bad config. */
struct ncx_tx *ncx_tx_new(const struct ncx_tx_config *cfg);
void ncx_tx_free(struct ncx_tx *tx);

/*
 * The stream starts (or starts over) at first_seq: everything before it
 * counts as acked. Call once before the first ncx_tx_sent().
 */
void ncx_tx_start(struct ncx_tx *tx, uint64_t first_seq);

/* May a first send of `datagrams` datagrams (per target: the cost is that
 * times ntargets) go now? Takes the tokens if so. A record bigger than the
 * whole bucket goes when the bucket is full. */
bool ncx_tx_may_send(struct ncx_tx *tx, unsigned datagrams, uint64_t now_us);

/*
 * Record seq (cookie: where the driver can find it again) was sent the
 * first time to every target at now_us, in `datagrams` datagrams. Seqs must
 * increase; a skip (seqs the sender never had, e.g. a /dev/kmsg overrun) is
 * fine: asked for, they are reported gone.
 */
void ncx_tx_sent(struct ncx_tx *tx, uint64_t seq, uint64_t cookie, unsigned datagrams,
		 uint64_t now_us);

/*
 * A response from target t (the driver has checked that it came from that
 * target's address and port). Returns 0, or -EBADMSG for a datagram that is
 * not "ncrx<acked>[ <seq>]*" (counted, nothing done). An ack beyond what was
 * sent (acked >= the next seq to send) never moves the target's ack past what
 * was sent, and is counted in ack_ahead: it is ignored, or with
 * cfg.ack_ahead_clamp taken as acking everything sent so far.
 */
int ncx_tx_response(struct ncx_tx *tx, unsigned t, const void *buf, size_t len, uint64_t now_us,
		    ncx_tx_resend_fn resend, void *arg);

/* Emergency rounds that are due. */
void ncx_tx_tick(struct ncx_tx *tx, uint64_t now_us, ncx_tx_resend_fn resend, void *arg);

/* The earliest time ncx_tx_tick() has work; UINT64_MAX if none. */
uint64_t ncx_tx_next_deadline(const struct ncx_tx *tx);

/* The lowest acked seq over all targets, and whether every target has
 * acked everything sent so far (what `ncx send` waits for). */
uint64_t ncx_tx_acked(const struct ncx_tx *tx);
bool ncx_tx_all_acked(const struct ncx_tx *tx);
/* Records sent but not yet acked by target t. */
uint64_t ncx_tx_unacked(const struct ncx_tx *tx, unsigned t);

void ncx_tx_stats(const struct ncx_tx *tx, struct ncx_tx_stats *out);

#endif /* NCX_TX_H */
