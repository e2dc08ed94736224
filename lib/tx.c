/* SPDX-License-Identifier: MIT */
/*
 * tx: the reliable sender's protocol state. See include/ncx/tx.h.
 *
 * DOC: overview
 *
 * Data structures
 *
 *   sent       one past the highest seq sent the first time (all targets).
 *   per target
 *     ack_next the lowest seq the target has not acked (its "acked" + 1,
 *              so that "nothing acked yet" needs no special value). Never
 *              past sent: an ack of seqs not yet sent is forged or of
 *              another run, and is ignored (or, with ack_ahead_clamp, taken
 *              up to sent: ncx forward's receiver also hears the kernel's
 *              netconsole and may be ahead); counted in ack_ahead.
 *     emg      emergency mode, the next round's time and the interval.
 *     emg_floor seqs below it were found gone in an emergency round and
 *              are not tried again (gone is forever: the ring only moves on);
 *              each round sends a placeholder for [ack_next, emg_floor).
 *     progress_us, probe_last_us, probes
 *              the last ack progress, the last tail probe, and the probes
 *              since that progress (the probe interval's backoff).
 *     gone_window_us, gone_used
 *              the placeholder budget: NCX_TX_GONE_BURST per emg_first_us.
 *   checkpoints
 *              a FIFO of n slots (n a power of two), appended in seq order:
 *              one per block of NCX_TX_STRIDE seqs that saw a first send,
 *              holding the first seq sent in the block, the driver's cookie
 *              for it and its first-send time. cp_count counts every
 *              checkpoint ever appended; slots [cp_count - n, cp_count)
 *              are live, the older ones overwritten. A seq is found by
 *              binary search for the last checkpoint at or below it; if that
 *              checkpoint is of another block (the seq was skipped, or its
 *              checkpoint overwritten), the record is gone without asking
 *              the driver.
 *   tokens     the pacing bucket, in millionths of a datagram, so that
 *              refilling at max_pps per second from microseconds is exact.
 *   first      the stream's first record sent (NONE before it), the end of
 *              the start hold and the next start retry. A target is "up"
 *              once its ack_next has passed first (or first was gone from
 *              the ring: then there is nothing to wait for).
 *
 * Invariants
 *
 *   - checkpoint seqs strictly increase in FIFO order, each in a block of
 *     its own; sent > the last checkpoint's seq.
 *   - ack_next only grows (between ncx_tx_start() calls).
 *   - a resend goes only to a target with ack_next <= seq < sent; so does a
 *     placeholder's range.
 *
 * Pacing counts datagrams on the wire: `datagrams` in ncx_tx_may_send()
 * and ncx_tx_sent() is per target, and a first send costs that many tokens
 * times ntargets. A resend needs one token to start and then pays what it
 * sent (the bucket may go into debt: a resend's size is known only after).
 * A first send bigger than the whole bucket goes when the bucket is full.
 *
 * Responses are parsed completely before anything is done, so a malformed
 * one changes nothing but the malformed counter.
 */
#include "ncx/tx.h"
#include "ncx/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REQ_MAX NCX_WIRE_RESP_SEQS_MAX	/* the most one response holds */
#define MICRO 1000000ULL
#define NONE UINT64_MAX
#define GONE_MAX (1ULL << 32)		/* the most seqs one placeholder closes (wire.h) */

struct checkpoint {
	uint64_t seq;		/* first seq sent in its block */
	uint64_t cookie;
	uint64_t time_us;	/* when it was sent */
};

struct target {
	uint64_t ack_next;
	uint64_t emg_floor;
	bool emg;
	bool acked_any;		/* acked something in this stream */
	uint64_t emg_next_us;
	uint64_t emg_interval_us;
	uint64_t progress_us, probe_last_us;
	unsigned probes;
	uint64_t gone_window_us;
	uint32_t gone_used;	/* placeholders sent since gone_window_us */
};

struct ncx_tx {
	struct ncx_tx_config cfg;
	uint64_t sent;
	uint64_t first;		/* the stream's first record sent, NONE before */
	bool hold_done;		/* the start hold is over (or was never on) */
	uint64_t hold_until, start_next_us;
	uint64_t last_sent_us;	/* the last first send */
	struct target tg[NCX_TX_TARGETS_MAX];
	struct checkpoint *cp;
	uint64_t cp_mask;
	uint64_t cp_count;
	int64_t tokens;		/* millionths of a datagram */
	uint64_t tokens_us;	/* when the bucket was last refilled */
	bool tokens_init;
	struct ncx_tx_stats st;
	uint64_t req[REQ_MAX];	/* one response's requests: not on the stack, which
				 * is small where this runs in the kernel (kmod/) */
};

void ncx_tx_config_default(struct ncx_tx_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ntargets = 1;
	cfg->checkpoints = 16384;
	cfg->emergency_us = 10 * MICRO;
	cfg->emg_first_us = 100000;
	cfg->emg_max_us = MICRO;
	cfg->emg_burst = 64;
	cfg->max_pps = 0;
	cfg->start_hold_us = 5 * MICRO;
	cfg->probe_us = 250000;
	cfg->max_inflight = 4096;
	cfg->gone = NULL;
}

struct ncx_tx *ncx_tx_new(const struct ncx_tx_config *cfg)
{
	struct ncx_tx *tx;

	if (!cfg || cfg->ntargets < 1 || cfg->ntargets > NCX_TX_TARGETS_MAX ||
	    cfg->checkpoints < 1 || (cfg->checkpoints & (cfg->checkpoints - 1)) ||
	    cfg->emg_burst < 1 || cfg->emg_first_us < 1 || cfg->emg_max_us < cfg->emg_first_us)
		return NULL;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return NULL;
	tx->cp = calloc(cfg->checkpoints, sizeof(*tx->cp));
	if (!tx->cp) {
		free(tx);
		return NULL;
	}
	tx->cfg = *cfg;
	tx->cp_mask = cfg->checkpoints - 1;
	ncx_tx_start(tx, 0);
	return tx;
}

void ncx_tx_free(struct ncx_tx *tx)
{
	if (!tx)
		return;
	free(tx->cp);
	free(tx);
}

void ncx_tx_start(struct ncx_tx *tx, uint64_t first_seq)
{
	tx->sent = first_seq;
	tx->first = NONE;
	tx->hold_done = !tx->cfg.start_hold_us;
	tx->cp_count = 0;
	tx->last_sent_us = 0;
	for (unsigned t = 0; t < tx->cfg.ntargets; t++) {
		memset(&tx->tg[t], 0, sizeof(tx->tg[t]));
		tx->tg[t].ack_next = first_seq;
		tx->tg[t].emg_floor = first_seq;
	}
}

/* ---- checkpoints -------------------------------------------------------- */

static const struct checkpoint *cp_at(const struct ncx_tx *tx, uint64_t i)
{
	return &tx->cp[i & tx->cp_mask];
}

static uint64_t cp_oldest(const struct ncx_tx *tx)
{
	uint64_t n = tx->cp_mask + 1;

	return tx->cp_count > n ? tx->cp_count - n : 0;
}

/* Index of the last live checkpoint with seq <= s, or NONE. */
static uint64_t cp_find(const struct ncx_tx *tx, uint64_t s)
{
	uint64_t lo = cp_oldest(tx), hi = tx->cp_count;

	if (lo == hi || cp_at(tx, lo)->seq > s)
		return NONE;
	while (hi - lo > 1) {	/* cp[lo].seq <= s, and s < cp[hi].seq if hi is live */
		uint64_t mid = lo + (hi - lo) / 2;

		if (cp_at(tx, mid)->seq <= s)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The checkpoint that covers s (same block, at or below it), or NULL. */
static const struct checkpoint *cp_cover(const struct ncx_tx *tx, uint64_t s)
{
	uint64_t i = cp_find(tx, s);

	if (i == NONE || cp_at(tx, i)->seq / NCX_TX_STRIDE != s / NCX_TX_STRIDE)
		return NULL;
	return cp_at(tx, i);
}

/*
 * The first sent record at or after s, as the checkpoint index of its
 * block and its seq (s itself if s is in a checkpointed block, else the
 * next checkpoint's first seq). NONE if none is left below sent.
 */
static uint64_t first_sent_from(const struct ncx_tx *tx, uint64_t s, uint64_t *idx)
{
	uint64_t i = cp_find(tx, s);

	if (i != NONE && cp_at(tx, i)->seq / NCX_TX_STRIDE == s / NCX_TX_STRIDE) {
		*idx = i;
		return s;
	}
	/* In a skipped block, or older than every live checkpoint. */
	i = i == NONE ? cp_oldest(tx) : i + 1;
	if (i >= tx->cp_count)
		return NONE;
	*idx = i;
	return cp_at(tx, i)->seq;
}

/* ---- stream start ------------------------------------------------------- */

static bool target_up(const struct ncx_tx *tx, const struct target *g)
{
	return !tx->cfg.start_hold_us || tx->first == NONE || g->ack_next > tx->first;
}

static bool all_up(const struct ncx_tx *tx)
{
	for (unsigned t = 0; t < tx->cfg.ntargets; t++)
		if (!target_up(tx, &tx->tg[t]))
			return false;
	return true;
}

/* Is the start hold still on at now? Ends it for good when it is over. */
static bool holding(struct ncx_tx *tx, uint64_t now_us)
{
	if (tx->hold_done || tx->first == NONE)
		return false;
	if (now_us >= tx->hold_until || all_up(tx))
		tx->hold_done = true;
	return !tx->hold_done;
}

static uint64_t start_retry_us(const struct ncx_tx *tx)
{
	return tx->cfg.emg_first_us / 4 ? tx->cfg.emg_first_us / 4 : 1;
}

/* ---- pacing ------------------------------------------------------------- */

static void refill(struct ncx_tx *tx, uint64_t now_us)
{
	int64_t cap = (int64_t)tx->cfg.max_pps * (int64_t)MICRO;
	uint64_t dt;

	if (!tx->tokens_init) {
		tx->tokens_init = true;
		tx->tokens = cap;
		tx->tokens_us = now_us;
		return;
	}
	if (now_us <= tx->tokens_us)
		return;
	/* Cap the elapsed time first: a second refills the whole bucket. */
	dt = now_us - tx->tokens_us;

	if (dt > MICRO)
		dt = MICRO;
	tx->tokens += (int64_t)(dt * tx->cfg.max_pps);
	if (tx->tokens > cap)
		tx->tokens = cap;
	tx->tokens_us = now_us;
}

/* Has a target that acks max_inflight records unacked? (tx.h) */
static bool inflight_full(const struct ncx_tx *tx)
{
	if (!tx->cfg.max_inflight)
		return false;
	for (unsigned t = 0; t < tx->cfg.ntargets; t++) {
		const struct target *g = &tx->tg[t];

		if (g->acked_any && !g->emg && g->ack_next < tx->sent &&
		    tx->sent - g->ack_next >= tx->cfg.max_inflight)
			return true;
	}
	return false;
}

bool ncx_tx_may_send(struct ncx_tx *tx, unsigned datagrams, uint64_t now_us)
{
	int64_t need = (int64_t)datagrams * tx->cfg.ntargets * (int64_t)MICRO;
	int64_t cap = (int64_t)tx->cfg.max_pps * (int64_t)MICRO;

	if (holding(tx, now_us))
		return false;	/* the first record must reach every target first */
	if (inflight_full(tx)) {
		tx->st.capped++;
		return false;	/* it waits in the ring for acks */
	}
	if (!tx->cfg.max_pps)
		return true;
	refill(tx, now_us);
	if (tx->tokens < need && tx->tokens < cap)
		return false;
	tx->tokens -= need;
	return true;
}

/* A resend may start with one token; it pays for what it sent afterwards. */
static bool resend_token(struct ncx_tx *tx, uint64_t now_us)
{
	if (!tx->cfg.max_pps)
		return true;
	refill(tx, now_us);
	if (tx->tokens >= (int64_t)MICRO)
		return true;
	tx->st.paced++;
	return false;
}

static void resend_paid(struct ncx_tx *tx, int datagrams)
{
	if (tx->cfg.max_pps && datagrams > 0)
		tx->tokens -= (int64_t)datagrams * (int64_t)MICRO;
}

/* ---- first sends -------------------------------------------------------- */

void ncx_tx_sent(struct ncx_tx *tx, uint64_t seq, uint64_t cookie, unsigned datagrams,
		 uint64_t now_us)
{
	if (seq < tx->sent)
		return;		/* seqs must increase: a caller bug, never a resend */
	if (!tx->cp_count || cp_at(tx, tx->cp_count - 1)->seq / NCX_TX_STRIDE != seq / NCX_TX_STRIDE) {
		struct checkpoint *c = &tx->cp[tx->cp_count & tx->cp_mask];

		c->seq = seq;
		c->cookie = cookie;
		c->time_us = now_us;
		tx->cp_count++;
	}
	if (tx->first == NONE) {
		tx->first = seq;
		tx->hold_until = now_us + tx->cfg.start_hold_us;
		tx->start_next_us = now_us + start_retry_us(tx);
	}
	tx->sent = seq + 1;
	tx->last_sent_us = now_us;
	tx->st.sent++;
	tx->st.datagrams += (uint64_t)datagrams * tx->cfg.ntargets;
}

/* ---- resends ------------------------------------------------------------ */

enum resend_result { RS_SENT, RS_GONE, RS_FAILED, RS_PACED };
enum resend_kind { RK_REQUEST, RK_EMERGENCY, RK_PROBE };

static enum resend_result resend_one(struct ncx_tx *tx, unsigned t, uint64_t seq,
				     enum resend_kind kind, uint64_t now_us, ncx_tx_resend_fn resend,
				     void *arg)
{
	bool emergency = kind != RK_REQUEST;	/* a probe wants its ack at once too */
	const struct checkpoint *c = cp_cover(tx, seq);
	int n;

	if (!c || seq < c->seq) {
		tx->st.gone++;
		return RS_GONE;
	}
	if (!resend_token(tx, now_us))
		return RS_PACED;
	n = resend(arg, t, seq, c->cookie, emergency);
	if (n < 0)
		return RS_FAILED;
	if (n == 0) {
		tx->st.gone++;
		return RS_GONE;
	}
	resend_paid(tx, n);
	tx->st.datagrams += (uint64_t)n;
	if (kind == RK_EMERGENCY)
		tx->st.emg_resent++;
	else if (kind == RK_PROBE)
		tx->st.probes++;
	else
		tx->st.resent++;
	return RS_SENT;
}

/*
 * The end of the run of seqs from s on that tx knows are gone without
 * asking the driver: no checkpoint covers them (a skipped block, or older
 * than every live checkpoint). s itself if it is covered.
 */
static uint64_t known_gone_end(const struct ncx_tx *tx, uint64_t s)
{
	uint64_t idx, next;

	if (s >= tx->sent)
		return tx->sent;
	next = first_sent_from(tx, s, &idx);
	return next == NONE || next > tx->sent ? tx->sent : next;
}

/* A placeholder for first..end-1 to target t, within the budget (tx.h). */
static void send_gone(struct ncx_tx *tx, unsigned t, uint64_t first, uint64_t end,
		      uint64_t now_us, void *arg)
{
	struct target *g = &tx->tg[t];
	int n;

	if (!tx->cfg.gone || first >= end)
		return;
	if (now_us < g->gone_window_us || now_us - g->gone_window_us >= tx->cfg.emg_first_us) {
		g->gone_window_us = now_us;
		g->gone_used = 0;
	}
	if (g->gone_used >= NCX_TX_GONE_BURST) {
		tx->st.gone_limited++;
		return;
	}
	if (!resend_token(tx, now_us))
		return;
	n = tx->cfg.gone(arg, t, first, end - first > GONE_MAX ? GONE_MAX : end - first);
	if (n <= 0)
		return;
	g->gone_used++;
	resend_paid(tx, n);
	tx->st.datagrams += (uint64_t)n;
	tx->st.placeholders++;
}

/* ---- responses ---------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void ack_to(struct target *g, uint64_t acked, uint64_t now_us)
{
	if (acked == UINT64_MAX || acked + 1 <= g->ack_next)
		return;		/* stale or reordered: acks never move back */
	g->ack_next = acked + 1;
	g->acked_any = true;
	g->progress_us = now_us;
	g->probes = 0;
	if (g->emg_floor < g->ack_next)
		g->emg_floor = g->ack_next;
	g->emg = false;		/* any progress ends emergency mode */
}

int ncx_tx_response(struct ncx_tx *tx, unsigned t, const void *buf, size_t len, uint64_t now_us,
		    ncx_tx_resend_fn resend, void *arg)
{
	uint64_t *req = tx->req, acked;
	struct target *g;
	int n;

	if (t >= tx->cfg.ntargets || (n = ncx_resp_parse(buf, len, &acked, req, REQ_MAX)) < 0) {
		tx->st.malformed++;
		return -EBADMSG;
	}
	tx->st.responses++;
	g = &tx->tg[t];
	if (acked >= tx->sent) {
		/* Seqs we have not sent: never acked before they are. */
		tx->st.ack_ahead++;
		if (tx->cfg.ack_ahead_clamp && tx->sent > 0)
			ack_to(g, tx->sent - 1, now_us);
	} else {
		ack_to(g, acked, now_us);
	}
	/* Sorted and unique: each seq once per response, oldest first. */
	qsort(req, (size_t)n, sizeof(req[0]), cmp_u64);
	for (int i = 0; i < n; i++) {
		uint64_t first, end;

		if (i && req[i] == req[i - 1])
			continue;
		if (req[i] < g->ack_next || req[i] >= tx->sent)
			continue;
		/* Paced or failed: skipped; the receiver asks again. */
		first = req[i];
		if (resend_one(tx, t, first, RK_REQUEST, now_us, resend, arg) != RS_GONE)
			continue;
		/* One placeholder for the run: what is known gone without asking,
		 * and the next requests while they are gone too. */
		end = known_gone_end(tx, first + 1);
		while (i + 1 < n && req[i + 1] <= end) {
			uint64_t q = req[++i];

			if (q < end) {		/* inside the run already */
				if (q != req[i - 1])
					tx->st.gone++;
				continue;
			}
			if (q >= tx->sent ||
			    resend_one(tx, t, q, RK_REQUEST, now_us, resend, arg) != RS_GONE)
				break;		/* the run ends before q */
			end = known_gone_end(tx, q + 1);
		}
		send_gone(tx, t, first, end, now_us, arg);
	}
	return 0;
}

/* ---- emergency mode ----------------------------------------------------- */

/* First-send time of the oldest unacked record of g, or NONE if none. */
static uint64_t oldest_unacked_time(const struct ncx_tx *tx, const struct target *g)
{
	uint64_t idx, s;

	if (g->ack_next >= tx->sent)
		return NONE;
	s = first_sent_from(tx, g->ack_next, &idx);
	if (s == NONE || s >= tx->sent)
		return NONE;
	/* Its checkpoint was overwritten (it is before the oldest live one,
	 * which first_sent_from() found the checkpoints non-empty to have):
	 * older than any time we still know. */
	if (cp_oldest(tx) > 0 && cp_at(tx, cp_oldest(tx))->seq > g->ack_next)
		return 0;
	return cp_at(tx, idx)->time_us;
}

/*
 * The stream's first record again, to a target that has acked nothing. If
 * the ring no longer has it, its placeholder goes in its place: the
 * receiver starts the stream there either way and its ack ends the hold.
 * (Ending the hold without a word let the records behind it go out at
 * once; a receiver that saw a later one first started its stream there
 * and dropped the earlier ones as late, though no gap covered them.)
 */
static void start_again(struct ncx_tx *tx, unsigned t, uint64_t now_us, ncx_tx_resend_fn resend,
			void *arg)
{
	if (resend_one(tx, t, tx->first, RK_EMERGENCY, now_us, resend, arg) != RS_GONE)
		return;
	send_gone(tx, t, tx->first, tx->first + 1, now_us, arg);
}

static bool emergency_due(const struct ncx_tx *tx, const struct target *g, uint64_t now_us)
{
	uint64_t t0 = oldest_unacked_time(tx, g);

	return t0 != NONE && now_us > t0 && now_us - t0 > tx->cfg.emergency_us;
}

/* One round: up to emg_burst unacked records, oldest first. */
static void emergency_round(struct ncx_tx *tx, unsigned t, uint64_t now_us,
			    ncx_tx_resend_fn resend, void *arg)
{
	struct target *g = &tx->tg[t];
	uint64_t s = g->emg_floor > g->ack_next ? g->emg_floor : g->ack_next;
	uint64_t tries = (uint64_t)tx->cfg.emg_burst * 2 + NCX_TX_STRIDE;
	uint32_t done = 0;
	bool gone_run = true;	/* still in the run of gone records at the start */

	if (!target_up(tx, g)) {
		/* It has acked nothing: whatever it gets first starts its stream. */
		start_again(tx, t, now_us, resend, arg);
		return;
	}
	while (done < tx->cfg.emg_burst && tries--) {
		uint64_t idx, from = s;
		enum resend_result r;

		s = first_sent_from(tx, s, &idx);
		if (gone_run && s != from)	/* skipped: never sent, so gone */
			g->emg_floor = s == NONE || s > tx->sent ? tx->sent : s;
		if (s == NONE || s >= tx->sent)
			break;
		r = resend_one(tx, t, s, RK_EMERGENCY, now_us, resend, arg);
		if (r == RS_PACED)
			break;
		if (r == RS_GONE && gone_run)
			g->emg_floor = s + 1;	/* never worth asking again */
		else
			gone_run = false;
		if (r == RS_SENT)
			done++;
		s++;
	}
	/* The receiver waits for the gone ones at its head: say so. */
	if (g->emg_floor > g->ack_next)
		send_gone(tx, t, g->ack_next, g->emg_floor, now_us, arg);
}

/* During the start hold: the first record again to the targets without it. */
static void start_retry(struct ncx_tx *tx, uint64_t now_us, ncx_tx_resend_fn resend, void *arg)
{
	if (!holding(tx, now_us) || now_us < tx->start_next_us)
		return;
	for (unsigned t = 0; t < tx->cfg.ntargets; t++)
		if (!target_up(tx, &tx->tg[t]))
			start_again(tx, t, now_us, resend, arg);
	tx->start_next_us = now_us + start_retry_us(tx);
}

/* ---- the tail probe ----------------------------------------------------- */

/* When target g is due a tail probe (tx.h), or NONE. */
static uint64_t probe_due(const struct ncx_tx *tx, const struct target *g)
{
	uint64_t base = g->progress_us, iv = tx->cfg.probe_us;

	if (!iv || g->emg || g->ack_next >= tx->sent || !target_up(tx, g))
		return NONE;
	if (tx->last_sent_us > base)
		base = tx->last_sent_us;
	if (g->probe_last_us > base)
		base = g->probe_last_us;
	for (unsigned i = 0; i < g->probes && iv < tx->cfg.emg_max_us; i++)
		iv *= 2;
	if (iv > tx->cfg.emg_max_us && tx->cfg.emg_max_us >= tx->cfg.probe_us)
		iv = tx->cfg.emg_max_us;
	return base + iv;
}

/* The newest unacked record again; if it is gone, a placeholder for it. */
static void probe(struct ncx_tx *tx, unsigned t, uint64_t now_us, ncx_tx_resend_fn resend,
		  void *arg)
{
	struct target *g = &tx->tg[t];
	uint64_t s = tx->sent - 1;

	g->probe_last_us = now_us;
	g->probes++;
	if (resend_one(tx, t, s, RK_PROBE, now_us, resend, arg) == RS_GONE)
		send_gone(tx, t, s, tx->sent, now_us, arg);
}

void ncx_tx_tick(struct ncx_tx *tx, uint64_t now_us, ncx_tx_resend_fn resend, void *arg)
{
	start_retry(tx, now_us, resend, arg);
	for (unsigned t = 0; t < tx->cfg.ntargets; t++) {
		struct target *g = &tx->tg[t];

		if (!g->emg) {
			if (!emergency_due(tx, g, now_us)) {
				if (probe_due(tx, g) <= now_us)
					probe(tx, t, now_us, resend, arg);
				continue;
			}
			g->emg = true;
			g->emg_next_us = now_us;
			g->emg_interval_us = 0;
			tx->st.emergencies++;
		}
		if (g->ack_next >= tx->sent) {
			g->emg = false;	/* acked beyond what was sent: nothing to do */
			continue;
		}
		if (now_us < g->emg_next_us)
			continue;
		emergency_round(tx, t, now_us, resend, arg);
		g->emg_interval_us = !g->emg_interval_us ? tx->cfg.emg_first_us
				     : g->emg_interval_us * 2;
		if (g->emg_interval_us > tx->cfg.emg_max_us)
			g->emg_interval_us = tx->cfg.emg_max_us;
		g->emg_next_us = now_us + g->emg_interval_us;
	}
}

uint64_t ncx_tx_next_deadline(const struct ncx_tx *tx)
{
	uint64_t next = NONE;

	if (!tx->hold_done && tx->first != NONE && !all_up(tx))
		next = tx->start_next_us < tx->hold_until ? tx->start_next_us : tx->hold_until;

	for (unsigned t = 0; t < tx->cfg.ntargets; t++) {
		const struct target *g = &tx->tg[t];
		uint64_t d;

		if (g->emg) {
			d = g->emg_next_us;
		} else {
			uint64_t t0 = oldest_unacked_time(tx, g), p = probe_due(tx, g);

			d = t0 == NONE ? NONE : t0 + tx->cfg.emergency_us + 1;
			if (p < d)
				d = p;
			if (d == NONE)
				continue;
		}
		if (d < next)
			next = d;
	}
	return next;
}

/* ---- queries ------------------------------------------------------------ */

uint64_t ncx_tx_acked(const struct ncx_tx *tx)
{
	uint64_t lo = NONE;

	for (unsigned t = 0; t < tx->cfg.ntargets; t++)
		if (tx->tg[t].ack_next < lo)
			lo = tx->tg[t].ack_next;
	return lo - 1;	/* ack_next 0: nothing acked, UINT64_MAX */
}

bool ncx_tx_all_acked(const struct ncx_tx *tx)
{
	for (unsigned t = 0; t < tx->cfg.ntargets; t++)
		if (tx->tg[t].ack_next < tx->sent)
			return false;
	return true;
}

uint64_t ncx_tx_unacked(const struct ncx_tx *tx, unsigned t)
{
	if (t >= tx->cfg.ntargets || tx->tg[t].ack_next >= tx->sent)
		return 0;
	return tx->sent - tx->tg[t].ack_next;
}

void ncx_tx_stats(const struct ncx_tx *tx, struct ncx_tx_stats *out)
{
	*out = tx->st;
}
