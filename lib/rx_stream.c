/* SPDX-License-Identifier: MIT */
/*
 * rx: a sender's stream. Where it starts, delivery in seq order, gaps, and
 * telling a duplicate from a late record from a new boot.
 *
 * Choices the header leaves open:
 *
 *  - A stream starts at the first seq the engine gets from a sender (or,
 *    with start_us, the lowest it gets within start_us of that). Nothing
 *    in the protocol says where a sender's stream began.
 *  - seq < next within the history, where seq was reported in a gap (or
 *    came before the stream started): LATE, not a reboot. Further back, a
 *    reliable sender that is not shown to have rebooted is counted as a
 *    DUPLICATE (it is resending; whether that seq was delivered or lost
 *    is no longer known).
 *  - Beyond the history, an ncemg record is never a new boot, whatever the
 *    acks: the sender says it has had no ack for it, so the ack the rule
 *    counts on did not reach it (lost, or held back by the caller: ncxd
 *    sends none while it cannot write). A new boot shows in its first
 *    record sent the normal way. Within the history a differing
 *    fingerprint is still a new boot.
 *  - The fingerprint covers the timestamp and the first 64 bytes of the
 *    text (not the dictionary, which may differ between the kernel's path
 *    and `ncx forward`'s: sysdata msgid is per target).
 *  - A placeholder (ncgone) entirely below next is a duplicate; it never
 *    starts a new boot.
 *  - A reliable sender's hole with nothing held (everything behind it was
 *    dropped for the window or memory) times out reliable_hole_us after
 *    the last progress, and is then reported whole.
 *  - Resume (cfg.resume, for a receiver that restarted): the first record
 *    decides. Below the resume point R and stamped more than new_stream_us
 *    after the last record written, it is a new stream (a REBOOT event,
 *    and the stream starts at it). Otherwise the stream starts at R at once
 *    (no start_us grace: where the stream is, is known), with an ack of
 *    R - 1 due at once for a reliable sender, so it drops what it still
 *    holds below R. Nothing below R is asked for. Seqs below R have no
 *    fingerprint, so they are judged like seqs beyond the history,
 *    whatever their distance: a stock sender (it never resends) has
 *    rebooted; a reliable one has rebooted if the seq is at or below an
 *    ack sent more than reliable_hole_us ago, and the ack of R - 1 counts
 *    as sent at the resume. So a reliable sender whose kernel rebooted
 *    while the receiver was down is taken for one resending until
 *    reliable_hole_us after the resume. Why not sooner: the same seqs from
 *    a sender that did not reboot are resends of what the earlier run
 *    wrote but had not acked, and taking them for a new boot would write
 *    them twice.
 */
#include "rx_internal.h"

/* ---- history --------------------------------------------------------------- */

static void hist_gap(struct sender *s, uint64_t first, uint64_t last)
{
	uint64_t from = last - first >= NCX_RX_HISTORY ? last - (NCX_RX_HISTORY - 1) : first;

	for (uint64_t q = from; q <= last; q++) {
		s->hist_ok &= ~(1ULL << (q % NCX_RX_HISTORY));
		s->hist_unk &= ~(1ULL << (q % NCX_RX_HISTORY));
		if (q == last)
			break; /* last may be UINT64_MAX - 1: never wrap */
	}
}

/* ---- delivery and gaps ------------------------------------------------------ */

/*
 * The held entry at next: a record is delivered; a sender's placeholder
 * (ncgone) is freed. Returns how far the stream must be closed now: next,
 * or the end of the placeholder's range.
 */
static uint64_t take_held(struct ncx_rx *rx, struct sender *s, struct held *h, uint64_t now)
{
	uint64_t seq = s->next, gone = h->rec.gone;

	if (gone) {
		rx_unhold(rx, s, seq, h);
		return sat_add(seq, gone);
	}
	rx_deliver(rx, s, &h->rec, h->fp, h->rx_us, now);
	rx_unhold(rx, s, seq, h);
	return s->next;
}

/* Report first..last (first == next) as never to be delivered. */
static void gap(struct ncx_rx *rx, struct sender *s, uint64_t first, uint64_t last, uint64_t now)
{
	struct ncx_rx_event ev;
	uint64_t n = last - first + 1;

	COUNT(rx, s, gaps, 1);
	/* Saturating: a forged seq can claim a gap of nearly 2^64 records, and
	 * a counter must never wrap (finding 8 of the hardening issue). */
	if (s->reliable) {
		rx->st.lost = sat_add(rx->st.lost, n);
		s->st.lost = sat_add(s->st.lost, n);
	} else {
		rx->st.missed = sat_add(rx->st.missed, n);
		s->st.missed = sat_add(s->st.missed, n);
	}
	rx_ev_init(rx, &ev, NCX_RX_GAP, s, NULL, now);
	ev.pos = last + 1;
	ev.gap.first = first;
	ev.gap.last = last;
	ev.gap.lost = s->reliable;
	rx->emit(rx->arg, &ev);
	hist_gap(s, first, last);
	s->next = last + 1;
	rx_progress(rx, s, now);
}

/* Close everything below target: held records delivered, the rest as gaps
 * (a placeholder taken on the way extends target over its range); then
 * deliver whatever continues from there. */
void rx_advance_to(struct ncx_rx *rx, struct sender *s, uint64_t target, uint64_t now)
{
	for (;;) {
		struct held *h = rx_win_get(s, s->next);

		if (h) {
			uint64_t end = take_held(rx, s, h, now);

			target = end > target ? end : target;
			continue;
		}
		if (s->next >= target)
			break;
		gap(rx, s, s->next, rx_next_held(s, s->next + 1, target) - 1, now);
	}
	note_top(s, s->next);
}

/* Deliver every held record that continues the stream. */
void rx_drain(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	rx_advance_to(rx, s, s->next, now);
}

/* Close the holes that waited their timeout: every hole before a record
 * held that long; with nothing held that long, the head hole. */
void rx_expire_holes(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	uint64_t to = hole_timeout(rx, s);

	while (hole_open(s) && sat_add(s->hole_since, to) <= now) {
		uint64_t target = s->top;

		if (s->win) {
			target = now >= to ? rx_last_expired_held(s, now - to) : NONE;
			if (target == NONE)
				target = rx_next_held(s, s->next, s->win->hi + 1);
		}
		if (target <= s->next)
			break; /* nothing to close: cannot happen, never spin */
		rx_advance_to(rx, s, target, now);
		rx_reset_since(s, now);
	}
}

/* Deliver everything held and close every hole as a gap (shutdown, expiry). */
void rx_sender_flush(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	if (s->stream != STREAM_NONE) {
		s->stream = STREAM_OPEN;
		rx_advance_to(rx, s, s->top, now);
	}
	rx_frags_drop(rx, s, NONE, now);
	rx_copies_flush(rx, s, now);
}

/* ---- starts ---------------------------------------------------------------- */

/* A new stream at seq; with start_us, its first records are held a while. */
static void stream_start(const struct ncx_rx *rx, struct sender *s, uint64_t seq, uint64_t now)
{
	s->stream = rx->cfg.start_us > 0 ? STREAM_STARTING : STREAM_OPEN;
	s->start_end = sat_add(now, rx->cfg.start_us);
	s->next = s->top = seq;
	s->hist_ok = s->hist_unk = 0;
	s->hole_since = s->retx_due = s->ack_due = NONE;
	s->nmarks = 0;
	s->stable_ack = NONE;
	s->last_acked = NONE;
	s->asked_end = 0;
}

static void emit_reboot(struct ncx_rx *rx, struct sender *s, uint64_t prev, uint64_t seq,
			uint64_t now)
{
	struct ncx_rx_event ev;

	COUNT(rx, s, reboots, 1);
	rx_ev_init(rx, &ev, NCX_RX_REBOOT, s, NULL, now);
	ev.pos = seq;
	ev.reboot.prev_seq = prev;
	ev.reboot.seq = seq;
	rx->emit(rx->arg, &ev);
}

/* Is u, below the resume point, a new stream rather than a resend of the
 * one the earlier run wrote? Within a stream a sender's timestamps go on as
 * its seqs do, so a record stamped well after the last one written
 * (new_stream_us: clock jitter between CPUs, small steps) is not part of
 * it. A rebooted kernel's clock starts near zero and is not caught here. */
static bool restarted(const struct ncx_rx *rx, const struct unit *u,
		      const struct ncx_rx_resume *at)
{
	uint64_t ts = u->ext->ts_usec, last = at->last_ts;

	return u->kind != UNIT_GONE && u->seq < at->next && at->next && last && ts > last &&
	       ts - last > rx->cfg.new_stream_us;
}

/*
 * A sender's first seq. With nothing known, the stream starts there. After
 * a receiver restart: a new stream, or the old one resumed at its point,
 * everything below it written already (fingerprints unknown), and a
 * reliable sender acked at once so it stops holding what lies below.
 */
void rx_stream_first(struct ncx_rx *rx, struct sender *s, const struct unit *u, uint64_t now)
{
	struct ncx_rx_resume r = s->resume;
	uint64_t at = r.next;

	s->resume.next = NONE; /* used up */
	if (at == NONE) {
		stream_start(rx, s, u->seq, now);
		return;
	}
	if (!s->id && restarted(rx, u, &r)) { /* a named stream's point is its own */
		emit_reboot(rx, s, at - 1, u->seq, now);
		stream_start(rx, s, u->seq, now);
		return;
	}
	stream_start(rx, s, at, now);
	s->stream = STREAM_OPEN;
	s->hist_unk = ~0ULL;
	if (s->reliable)
		s->ack_due = now;
}

/*
 * While a stream starts, a seq below its first is not late: the stream
 * begins there instead, if the window still spans everything held.
 */
bool rx_start_lower(struct ncx_rx *rx, struct sender *s, uint64_t seq, uint64_t now)
{
	uint64_t hi = s->win ? s->win->hi : s->next;

	if (hi - seq >= rx->cfg.window) {
		rx_drop_seq(rx, s, NCX_DROP_LATE, seq, now);
		return false;
	}
	if (!rx_win_reach(rx, s, seq, hi)) {
		rx_drop_seq(rx, s, NCX_DROP_MEMORY, seq, now);
		return false;
	}
	s->next = seq;
	return true;
}

/* The start is over: deliver from the lowest seq seen; holes are holes. */
void rx_start_end(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	s->stream = STREAM_OPEN;
	s->hole_since = NONE;
	rx_drain(rx, s, now);
}

/* ---- duplicates, late records, reboots ----------------------------------- */

enum old_kind { OLD_DUP, OLD_LATE, OLD_REBOOT };

/* seq < next: a duplicate, a late record, or the start of a new boot. */
static enum old_kind classify_old(const struct ncx_rx *rx, struct sender *s,
				  const struct unit *u, bool emg, uint64_t now)
{
	uint64_t seq = u->seq;

	if (u->kind == UNIT_GONE)
		return OLD_DUP; /* a placeholder is never a new boot */
	if (s->next - seq <= NCX_RX_HISTORY) {
		unsigned i = (unsigned)(seq % NCX_RX_HISTORY);

		if (s->hist_unk >> i & 1)
			goto beyond; /* written by an earlier run: no fingerprint */
		if (!(s->hist_ok >> i & 1))
			return OLD_LATE;
		/* A named stream is one run or boot: its next has a new name. */
		return !u->fp_known || s->hist_fp[i] == u->fp || s->id ? OLD_DUP : OLD_REBOOT;
	}
	if (s->id)
		return OLD_DUP;
beyond:
	if (!s->reliable)
		return OLD_REBOOT; /* a stock sender never resends */
	if (emg)
		return OLD_DUP; /* a resend, by its own word: it has had no ack for it */
	rx_promote_ack(rx, s, now);
	return s->stable_ack != NONE && seq <= s->stable_ack ? OLD_REBOOT : OLD_DUP;
}

/* The old boot is over: deliver what it left, then start the new one. */
static void reboot(struct ncx_rx *rx, struct sender *s, uint64_t seq, uint64_t now)
{
	uint64_t prev = s->top - 1;

	rx_advance_to(rx, s, s->top, now);
	rx_frags_drop(rx, s, NONE, now);
	emit_reboot(rx, s, prev, seq, now);
	stream_start(rx, s, seq, now);
}

/* Sort out what lies below next. Returns true if it goes on (a new boot,
 * whose stream now starts at it). */
bool rx_handle_old(struct ncx_rx *rx, struct sender *s, const struct unit *u, bool emg,
		   uint64_t now)
{
	switch (classify_old(rx, s, u, emg, now)) {
	case OLD_DUP:
		rx_drop_seq(rx, s, NCX_DROP_DUPLICATE, u->seq, now);
		return false;
	case OLD_LATE:
		rx_drop_seq(rx, s, NCX_DROP_LATE, u->seq, now);
		return false;
	case OLD_REBOOT:
		break;
	}
	reboot(rx, s, u->seq, now);
	return true;
}
