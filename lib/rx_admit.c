/* SPDX-License-Identifier: MIT */
/*
 * rx: the one admission rule. Every datagram that names a seq (a whole
 * record, a fragment of one, a reliable sender's placeholder) is placed by
 * admit(), in this order:
 *
 *  1. a sender's first seq starts its stream (rx_stream.c: or resumes it,
 *     or, after a receiver restart, tells a new one);
 *  2. below next, on an open stream: a duplicate, a late record, or the
 *     first of a new boot, whose stream starts there (rx_stream.c decides;
 *     a placeholder is never a new boot);
 *  3. while a stream starts (start_us), seqs are held wherever they fall:
 *     one below the first moves the start down, if the window still spans
 *     everything held; one beyond the window ends the start;
 *  4. beyond the window: a reliable sender's is dropped, to be asked for
 *     again once the window moves; a stock sender's closes the hole at once;
 *  5. what is left is at next (or, for a placeholder, covers it) or ahead.
 *
 * Then each kind does its own thing with the place it was given: a record
 * is delivered or held, a fragment goes into its reassembly, a placeholder
 * closes its range or is held until next reaches it.
 */
#include "rx_internal.h"

enum place { DROPPED, STARTING, AT_NEXT, AHEAD };

static enum place admit(struct ncx_rx *rx, struct sender *s, const struct unit *u, bool emg,
			uint64_t now)
{
	uint64_t seq = u->seq;

	if (s->stream == STREAM_NONE)
		rx_stream_first(rx, s, u, now);
	if (s->stream == STREAM_STARTING && u->kind == UNIT_GONE)
		rx_start_end(rx, s, now); /* what it says settles where the stream is */
	if (s->stream == STREAM_OPEN &&
	    (u->end <= s->next || (u->kind != UNIT_GONE && seq < s->next)) &&
	    !rx_handle_old(rx, s, u, emg, now))
		return DROPPED; /* else a new boot: its stream starts at seq */
	if (s->stream == STREAM_STARTING) {
		if (seq < s->next && !rx_start_lower(rx, s, seq, now))
			return DROPPED;
		if (seq - s->next < rx->cfg.window)
			return STARTING;
		rx_start_end(rx, s, now); /* too far to wait for: go on as usual */
	}
	if (seq > s->next && seq - s->next >= rx->cfg.window) {
		if (s->reliable) {
			note_top(s, seq + 1);
			rx_drop_seq(rx, s, NCX_DROP_WINDOW, seq, now);
			return DROPPED;
		}
		rx_advance_to(rx, s, seq, now);
	}
	return seq <= s->next ? AT_NEXT : AHEAD;
}

void rx_admit_record(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint16_t fp,
		     uint64_t now)
{
	struct unit u = { UNIT_RECORD, rec, rec->seq, rec->seq + 1, fp, true };

	/* The fast path: the next record, nothing held, nothing to decide. */
	if (rec->seq == s->next && !s->win && s->stream == STREAM_OPEN) {
		rx_deliver(rx, s, rec, fp, now, now);
		return;
	}
	switch (admit(rx, s, &u, rec->emergency, now)) {
	case DROPPED:
		return;
	case AT_NEXT:
		rx_deliver(rx, s, rec, fp, now, now);
		rx_drain(rx, s, now);
		return;
	case STARTING:
	case AHEAD:
		rx_hold(rx, s, rec, fp, now);
		return;
	}
}

static void admit_frag(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *fr,
		       uint64_t now)
{
	struct unit u = { UNIT_FRAG, fr, fr->seq, fr->seq + 1, 0, false };

	COUNT(rx, s, fragments, 1);
	u.fp_known = rx_record_fp(fr, &u.fp);
	if (admit(rx, s, &u, fr->emergency, now) == DROPPED)
		return;
	if (rx_win_get(s, fr->seq)) {
		rx_drop_seq(rx, s, NCX_DROP_DUPLICATE, fr->seq, now);
		return;
	}
	rx_frag_add(rx, s, fr, now);
}

/*
 * A reliable sender's placeholder: it no longer has seq..seq+n-1. It is a
 * claim (rx.h): it closes only what was asked for, the open hole [next,
 * top) within the window, as it stood before this datagram; past that it
 * only says that seq exists. It is never delivered itself (the gap says
 * what its text says).
 */
static void admit_gone(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec,
		       uint64_t now)
{
	struct unit u = { UNIT_GONE, rec, rec->seq, sat_add(rec->seq, rec->gone), 0, false };
	struct ncx_ext claim;
	enum place at = admit(rx, s, &u, false, now);
	uint64_t asked_end = min64(s->top, sat_add(s->next, rx->cfg.window));
	uint64_t end = min64(u.end, asked_end);

	if (at == DROPPED) {
		/* Every seq it covers is closed: the sender has not had the ack
		 * that says so (it was lost) and will send this again and again,
		 * its emergency rounds and tail probes too: ack it, once per
		 * ack_us, as an ncemg datagram is acked. */
		if (s->stream == STREAM_OPEN && u.end <= s->next)
			rx_ack_emergency(rx, s, now);
		return;
	}
	if (end <= u.seq || end <= s->next) {
		note_top(s, u.seq + 1); /* it exists: the hole reaches it, and is asked for */
		rx_drop_seq(rx, s, NCX_DROP_UNASKED, u.seq, now);
		if (u.seq < s->next)
			rx_ack_emergency(rx, s, now); /* it lacks the ack of what is closed */
		return;
	}
	if (at == AT_NEXT) {
		rx_advance_to(rx, s, end, now); /* held records in it delivered, the rest lost */
		return;
	}
	claim = *rec; /* AHEAD (STARTING cannot be: admit() ended the start) */
	claim.gone = end - u.seq;
	rx_hold(rx, s, &claim, 0, now);
}

void rx_admit_ext(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint64_t now)
{
	uint16_t fp;

	if (rec->frag) {
		admit_frag(rx, s, rec, now);
	} else if (rec->gone && s->reliable) {
		admit_gone(rx, s, rec, now); /* from a stock sender it is just text */
	} else {
		rx_record_fp(rec, &fp);
		rx_admit_record(rx, s, rec, fp, now);
	}
}
