/* SPDX-License-Identifier: MIT */
/*
 * rx: records held behind a hole. A sender's window is a ring of slots, a
 * power of two, grown on demand up to the configured window and freed when
 * the last held record leaves it; a held record is a copy of the datagram
 * ("header;body") with its parsed fields pointed into the copy.
 */
#include "rx_internal.h"

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t c = 1;

	while (c < n && c < WIN_MAX_CAP)
		c <<= 1;
	return c;
}

struct held *rx_win_get(const struct sender *s, uint64_t seq)
{
	const struct win *w = s->win;

	if (!w || seq < s->next || seq > w->hi || seq - s->next >= w->cap)
		return NULL;
	return w->slot[seq & (w->cap - 1)];
}

static size_t win_bytes(uint32_t cap)
{
	return sizeof(struct win) + (size_t)cap * sizeof(struct held *);
}

/* The slot ring needed to hold seq: its capacity (0 if the ring is enough). */
static uint32_t win_need(const struct ncx_rx *rx, const struct sender *s, uint64_t seq)
{
	uint64_t span = seq - s->next + 1;
	uint32_t cap;

	if (s->win && span <= s->win->cap)
		return 0;
	cap = pow2_at_least(span);
	if (cap < WIN_MIN_CAP)
		cap = WIN_MIN_CAP;
	return cap > rx->win_cap_max ? rx->win_cap_max : cap;
}

/* Grow (or create) the ring to cap slots, re-placing every held record. */
static bool win_grow(struct ncx_rx *rx, struct sender *s, uint32_t cap)
{
	struct win *old = s->win, *w = calloc(1, win_bytes(cap));

	if (!w)
		return false;
	w->cap = cap;
	if (old) {
		w->count = old->count;
		w->hi = old->hi;
		for (uint64_t q = s->next; q <= old->hi; q++)
			w->slot[q & (cap - 1)] = old->slot[q & (old->cap - 1)];
		mem_sub(rx, s, win_bytes(old->cap));
		free(old);
	}
	mem_add(rx, s, win_bytes(cap));
	s->win = w;
	return true;
}

static void win_release_if_empty(struct ncx_rx *rx, struct sender *s)
{
	if (s->win && s->win->count == 0) {
		mem_sub(rx, s, win_bytes(s->win->cap));
		free(s->win);
		s->win = NULL;
	}
}

/* Make the ring span lo..hi (a stream start moving down to lo), if it
 * exists; false if the memory bound or the allocator says no. */
bool rx_win_reach(struct ncx_rx *rx, struct sender *s, uint64_t lo, uint64_t hi)
{
	uint32_t cap;

	if (!s->win)
		return true;
	cap = pow2_at_least(hi - lo + 1);
	if (cap <= s->win->cap)
		return true;
	return mem_ok(rx, s, win_bytes(cap) - win_bytes(s->win->cap)) && win_grow(rx, s, cap);
}

/* A span of rec re-pointed into the copy at hdr (header) and body. */
static struct ncx_span rebase(struct ncx_span sp, const struct ncx_ext *rec, const char *hdr,
			      const char *body)
{
	uintptr_t p = (uintptr_t)sp.p, h = (uintptr_t)rec->header.p, b = (uintptr_t)rec->body.p;
	struct ncx_span out = { NULL, 0 };

	if (sp.len == 0)
		return out;
	if (p >= h && p + sp.len <= h + rec->header.len)
		out.p = hdr + (p - h);
	else if (p >= b && p + sp.len <= b + rec->body.len)
		out.p = body + (p - b);
	else
		return out;
	out.len = sp.len;
	return out;
}

/* A copy of rec as "header;body", with its fields pointing into the copy. */
struct held *rx_held_new(const struct ncx_ext *rec, uint16_t fp, uint64_t now)
{
	size_t size = sizeof(struct held) + rec->header.len + 1 + rec->body.len;
	struct held *h = malloc(size);
	char *hdr, *body;

	if (!h)
		return NULL;
	hdr = h->data;
	body = hdr + rec->header.len + 1;
	memcpy(hdr, rec->header.p, rec->header.len);
	hdr[rec->header.len] = ';';
	if (rec->body.len)
		memcpy(body, rec->body.p, rec->body.len);
	h->rx_us = now;
	h->size = size;
	h->cnext = NULL;
	h->fp = fp;
	h->rec = *rec;
	h->rec.release = rebase(rec->release, rec, hdr, body);
	h->rec.header.p = hdr;
	h->rec.body.p = body;
	return h;
}

/* A record (or placeholder) ahead of next, inside the window: keep a copy. */
void rx_hold(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint16_t fp,
	     uint64_t now)
{
	uint64_t seq = rec->seq;
	size_t need = sizeof(struct held) + rec->header.len + 1 + rec->body.len;
	uint32_t cap = win_need(rx, s, seq);
	size_t grow = cap ? win_bytes(cap) - (s->win ? win_bytes(s->win->cap) : 0) : 0;
	struct held *h;

	if (rx_win_get(s, seq)) {
		rx_drop_seq(rx, s, NCX_DROP_DUPLICATE, seq, now);
		return;
	}
	note_top(s, seq + 1); /* a hole is open either way */
	if (!mem_ok(rx, s, need + grow) || (cap && !win_grow(rx, s, cap)) ||
	    !(h = rx_held_new(rec, fp, now))) {
		win_release_if_empty(rx, s);
		rx_drop_seq(rx, s, NCX_DROP_MEMORY, seq, now);
		return;
	}
	s->win->slot[seq & (s->win->cap - 1)] = h;
	if (s->win->count++ == 0 || seq > s->win->hi)
		s->win->hi = seq;
	mem_add(rx, s, h->size);
}

/* Take h, held at seq, out of the window and free it. */
void rx_unhold(struct ncx_rx *rx, struct sender *s, uint64_t seq, struct held *h)
{
	struct win *w = s->win;

	w->slot[seq & (w->cap - 1)] = NULL;
	w->count--;
	mem_sub(rx, s, h->size);
	free(h);
	win_release_if_empty(rx, s);
}

/* The first held seq in [from, limit), or limit. */
uint64_t rx_next_held(const struct sender *s, uint64_t from, uint64_t limit)
{
	if (!s->win)
		return limit;
	for (uint64_t q = from; q < limit && q <= s->win->hi; q++)
		if (rx_win_get(s, q))
			return q;
	return limit;
}

/* The highest held seq that arrived at or before cutoff, or NONE. */
uint64_t rx_last_expired_held(const struct sender *s, uint64_t cutoff)
{
	uint64_t last = NONE;

	for (uint64_t q = s->next; s->win && q <= s->win->hi; q++) {
		const struct held *h = rx_win_get(s, q);

		if (h && h->rx_us <= cutoff)
			last = q;
	}
	return last;
}

/* The head hole's age starts at the earliest held arrival, or now. */
void rx_reset_since(struct sender *s, uint64_t now)
{
	uint64_t since = now;

	if (!hole_open(s)) {
		s->hole_since = NONE;
		return;
	}
	if (s->win)
		for (uint64_t q = s->next; q <= s->win->hi; q++) {
			const struct held *h = rx_win_get(s, q);

			if (h && h->rx_us < since)
				since = h->rx_us;
		}
	s->hole_since = since;
}

/* Free every held record, with no event. */
void rx_win_discard(struct ncx_rx *rx, struct sender *s)
{
	struct win *w = s->win;

	for (uint32_t i = 0; w && i < w->cap; i++) {
		if (!w->slot[i])
			continue;
		mem_sub(rx, s, w->slot[i]->size);
		free(w->slot[i]);
		w->slot[i] = NULL;
	}
	if (w) {
		w->count = 0;
		win_release_if_empty(rx, s);
	}
}

/* Free the window of a sender being freed (its bytes are uncounted whole). */
void rx_win_free(struct sender *s)
{
	if (!s->win)
		return;
	for (uint32_t i = 0; i < s->win->cap; i++)
		free(s->win->slot[i]);
	free(s->win);
	s->win = NULL;
}
