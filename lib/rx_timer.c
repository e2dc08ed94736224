/* SPDX-License-Identifier: MIT */
/*
 * rx: timers. Each sender has at most one place in a binary min-heap, keyed
 * by the earliest of its deadlines (each UINT64_MAX when off):
 *
 *   hole_since + hole timeout   the head hole closes (hole_since is the
 *                               arrival of the earliest held record, or the
 *                               last progress if nothing is held, so no
 *                               held record waits longer than the timeout)
 *   retx_due                    a reliable sender is asked again
 *   ack_due                     an ack goes out
 *   started + hole timeout      an open reassembly is given up
 *   start_end                   a stream's start hold ends
 *   tagged_rx + reliable hole   a stream that tags went silent: the stock
 *                               copies waiting beside it are written
 *
 * so a tick touches only what is due and ncx_rx_next_deadline() is exact.
 */
#include "rx_internal.h"

static void heap_set(struct ncx_rx *rx, uint32_t i, struct sender *s)
{
	rx->heap[i] = s;
	s->heap_idx = i;
}

static void heap_up(struct ncx_rx *rx, uint32_t i)
{
	struct sender *s = rx->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (rx->heap[parent]->deadline <= s->deadline)
			break;
		heap_set(rx, i, rx->heap[parent]);
		i = parent;
	}
	heap_set(rx, i, s);
}

static void heap_down(struct ncx_rx *rx, uint32_t i)
{
	struct sender *s = rx->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= rx->heap_len)
			break;
		if (c + 1 < rx->heap_len && rx->heap[c + 1]->deadline < rx->heap[c]->deadline)
			c++;
		if (s->deadline <= rx->heap[c]->deadline)
			break;
		heap_set(rx, i, rx->heap[c]);
		i = c;
	}
	heap_set(rx, i, s);
}

void rx_heap_remove(struct ncx_rx *rx, struct sender *s)
{
	uint32_t i = s->heap_idx;
	struct sender *last;

	if (i == HEAP_NONE)
		return;
	s->heap_idx = HEAP_NONE;
	last = rx->heap[--rx->heap_len];
	if (last == s)
		return;
	heap_set(rx, i, last);
	heap_up(rx, i);
	heap_down(rx, last->heap_idx);
}

/* Returns false if the heap cannot grow (the caller keeps the old key). */
static bool heap_insert(struct ncx_rx *rx, struct sender *s)
{
	if (rx->heap_len == rx->heap_cap) {
		uint32_t cap = rx->heap_cap ? rx->heap_cap * 2 : 64;
		struct sender **h = realloc(rx->heap, cap * sizeof(*h));

		if (!h)
			return false;
		rx->heap = h;
		rx->heap_cap = cap;
	}
	heap_set(rx, rx->heap_len++, s);
	heap_up(rx, s->heap_idx);
	return true;
}

static uint64_t sender_deadline(const struct ncx_rx *rx, const struct sender *s)
{
	uint64_t to = hole_timeout(rx, s);
	uint64_t d = s->ack_due;

	if (s->stream == STREAM_STARTING)
		d = min64(d, s->start_end);
	if (hole_open(s)) {
		d = min64(d, sat_add(s->hole_since, to));
		if (s->reliable)
			d = min64(d, s->retx_due);
	}
	for (const struct frag *f = s->frags; f; f = f->next)
		d = min64(d, sat_add(f->started, to));
	return min64(d, rx_copies_due(rx, s));
}

/* Put the sender in the heap at its earliest timer, or take it out. */
static void rearm(struct ncx_rx *rx, struct sender *s)
{
	uint64_t d = sender_deadline(rx, s);

	if (d == s->deadline && (d == NONE) == (s->heap_idx == HEAP_NONE))
		return;
	s->deadline = d;
	if (d == NONE) {
		rx_heap_remove(rx, s);
	} else if (s->heap_idx == HEAP_NONE) {
		heap_insert(rx, s);
	} else {
		heap_up(rx, s->heap_idx);
		heap_down(rx, s->heap_idx);
	}
}

/* After a datagram or a timer: the hole's clocks, then the heap. */
void rx_settle(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	if (!hole_open(s)) {
		s->hole_since = s->retx_due = NONE;
	} else {
		if (s->advanced || s->hole_since == NONE)
			rx_reset_since(s, now);
		if (s->reliable && s->retx_due == NONE)
			s->retx_due = sat_add(now, rx->cfg.retx_us);
	}
	s->advanced = false;
	rearm(rx, s);
}

static void run_timers(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	uint64_t to = hole_timeout(rx, s);

	if (s->stream == STREAM_STARTING && s->start_end <= now)
		rx_start_end(rx, s, now);
	if (s->frags && now >= to)
		rx_frags_drop(rx, s, now - to, now);
	rx_expire_holes(rx, s, now);
	if (s->copies) {
		rx_copies_trim(rx, s, now);
		if (rx_copies_due(rx, s) <= now)
			rx_copies_flush(rx, s, now);
	}
	if (s->reliable && hole_open(s) && s->retx_due <= now) {
		rx_respond(rx, s, true, now);
		s->retx_due = sat_add(now, rx->cfg.retx_us);
	}
	if (s->ack_due <= now)
		rx_respond(rx, s, false, now);
	s->ack_due = s->ack_due <= now ? NONE : s->ack_due;
	rx_settle(rx, s, now);
}

void rx_run_due(struct ncx_rx *rx, uint64_t now)
{
	while (rx->heap_len && rx->heap[0]->deadline <= now) {
		struct sender *s = rx->heap[0];

		run_timers(rx, s, now);
		if (s->heap_idx == 0 && s->deadline <= now) {
			rx_heap_remove(rx, s); /* never spin; cannot happen */
			s->deadline = NONE;
		}
	}
}
