/* SPDX-License-Identifier: MIT */
/*
 * rx: a stock kernel's copies of a stream that tags (cfg.auth).
 *
 * `ncx forward` beside the kernel's netconsole sends each record twice from
 * one address and port: tagged by the forwarder, untagged by the kernel,
 * which cannot tag. An untagged datagram is anyone's, so it never enters a
 * stream that tags (nothing forged gets in, finding 3 of issue #10); but
 * what only the kernel's path carries, a crash report above all, must not
 * be lost either. So the untagged copies that continue such a stream wait
 * here, outside its window: they open no hole, raise no top, are asked for
 * by nobody and acked to nobody. The stream goes on by its tagged datagrams
 * alone, and a copy whose seq it delivers or closes is dropped (counted as
 * DROP UNVERIFIED if its fingerprint differs from the record delivered).
 * Once the stream has had no good tag for reliable_hole_us, its sender is
 * taken to be gone (a crashed kernel's forwarder is), and the copies are
 * written in seq order, as the stream's, with gaps (lost) for what neither
 * path brought; rx.h's `unverified` counts them.
 *
 * Bounded as the window is: at most `window` copies, within the sender's
 * and the engine's byte bounds, none more than `window` past next.
 */
#include "rx_internal.h"

static void copy_free(struct ncx_rx *rx, struct sender *s, struct held *h)
{
	s->ncopies--;
	mem_sub(rx, s, h->size);
	free(h);
}

void rx_copy_add(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint64_t now)
{
	uint64_t seq = rec->seq;
	struct held **pp = &s->copies, *h;
	uint16_t fp;

	if (rec->frag) {
		/* Reassembling a second copy of the stream is not worth its
		 * memory: long records come whole by the tagged path. */
		rx_drop_seq(rx, s, NCX_DROP_UNVERIFIED, seq, now);
		return;
	}
	if (seq < s->next) {
		rx_drop_seq(rx, s, NCX_DROP_DUPLICATE, seq, now);
		return;
	}
	if (seq - s->next >= rx->cfg.window) {
		rx_drop_seq(rx, s, NCX_DROP_WINDOW, seq, now);
		return;
	}
	while (*pp && (*pp)->rec.seq < seq)
		pp = &(*pp)->cnext;
	if (*pp && (*pp)->rec.seq == seq) {
		rx_drop_seq(rx, s, NCX_DROP_DUPLICATE, seq, now);
		return;
	}
	rx_record_fp(rec, &fp);
	if (s->ncopies >= rx->cfg.window ||
	    !mem_ok(rx, s, sizeof(struct held) + rec->header.len + 1 + rec->body.len) ||
	    !(h = rx_held_new(rec, fp, now))) {
		rx_drop_seq(rx, s, NCX_DROP_MEMORY, seq, now);
		return;
	}
	h->cnext = *pp;
	*pp = h;
	s->ncopies++;
	mem_add(rx, s, h->size);
}

/* Copies the stream has passed: confirmed by the tagged path, or not. */
void rx_copies_trim(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	struct held *h;

	while ((h = s->copies) && h->rec.seq < s->next) {
		uint64_t seq = h->rec.seq;
		unsigned i = (unsigned)(seq % NCX_RX_HISTORY);
		bool differs = s->next - seq <= NCX_RX_HISTORY && (s->hist_ok >> i & 1) &&
			       s->hist_fp[i] != h->fp;

		s->copies = h->cnext;
		copy_free(rx, s, h);
		if (differs)
			rx_drop_seq(rx, s, NCX_DROP_UNVERIFIED, seq, now);
	}
}

uint64_t rx_copies_due(const struct ncx_rx *rx, const struct sender *s)
{
	return s->copies ? sat_add(s->tagged_rx, rx->cfg.reliable_hole_us) : NONE;
}

/* The tagged path is silent: what only the kernel's path brought is the
 * stream's now, in seq order, with gaps for what neither brought. */
void rx_copies_flush(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	struct held *h;

	rx_copies_trim(rx, s, now);
	while ((h = s->copies)) {
		s->copies = h->cnext;
		if (h->rec.seq >= s->next) {
			rx_advance_to(rx, s, h->rec.seq, now);
			if (h->rec.seq == s->next) {
				COUNT(rx, s, unverified, 1);
				rx_deliver(rx, s, &h->rec, h->fp, h->rx_us, now);
			}
		}
		copy_free(rx, s, h);
		rx_drain(rx, s, now);
	}
}

void rx_copies_discard(struct ncx_rx *rx, struct sender *s)
{
	struct held *h;

	while ((h = s->copies)) {
		s->copies = h->cnext;
		copy_free(rx, s, h);
	}
}

void rx_copies_free(struct sender *s)
{
	struct held *h;

	while ((h = s->copies)) {
		s->copies = h->cnext;
		free(h);
	}
}
