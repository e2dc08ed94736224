/* SPDX-License-Identifier: MIT */
/*
 * rx: fragments of long records, reassembled per sender (wire.h's
 * struct ncx_reasm does the bytes; this keeps the list, the memory and the
 * timeouts). Fragments of a record already delivered are dropped as
 * duplicates by the admission rule (each piece counts); an open reassembly
 * times out with the sender's hole timeout, counted as DROP FRAGS. A whole
 * record goes back through the admission rule like any other.
 */
#include "rx_internal.h"

static size_t frag_hdr_bytes(void)
{
	return (sizeof(struct frag) + 15) & ~(size_t)15;
}

static struct frag *frag_find(const struct sender *s, uint64_t seq)
{
	struct frag *f;

	for (f = s->frags; f && f->r->seq != seq; f = f->next)
		;
	return f;
}

static struct frag *frag_open(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *fr,
			      uint64_t now)
{
	size_t size = frag_hdr_bytes() + ncx_reasm_size(fr->frag_total);
	struct frag *f;

	if (s->nfrags >= rx->cfg.max_frags) {
		rx_drop_seq(rx, s, NCX_DROP_FRAGS, fr->seq, now);
		return NULL;
	}
	if (!mem_ok(rx, s, size) || !(f = malloc(size))) {
		rx_drop_seq(rx, s, NCX_DROP_MEMORY, fr->seq, now);
		return NULL;
	}
	f->r = (struct ncx_reasm *)((char *)f + frag_hdr_bytes());
	ncx_reasm_init(f->r, fr);
	f->started = now;
	f->size = size;
	f->next = s->frags;
	s->frags = f;
	s->nfrags++;
	mem_add(rx, s, size);
	return f;
}

static void frag_unlink(struct sender *s, struct frag *f)
{
	struct frag **pp;

	for (pp = &s->frags; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	s->nfrags--;
}

static void frag_free(struct ncx_rx *rx, struct sender *s, struct frag *f)
{
	mem_sub(rx, s, f->size);
	free(f);
}

/* A complete reassembly: out of the list, through as a record, freed. */
static void frag_complete(struct ncx_rx *rx, struct sender *s, struct frag *f, uint64_t now)
{
	struct ncx_ext whole;
	uint16_t fp;

	frag_unlink(s, f); /* a reboot inside may drop the others, not this */
	if (ncx_reasm_record(f->r, &whole) == 0) {
		rx_record_fp(&whole, &fp);
		rx_admit_record(rx, s, &whole, fp, now);
	} else {
		rx_drop_seq(rx, s, NCX_DROP_MALFORMED, f->r->seq, now);
	}
	frag_free(rx, s, f);
}

/* A fragment the admission rule let through. */
void rx_frag_add(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *fr, uint64_t now)
{
	uint64_t seq = fr->seq;
	struct frag *f = frag_find(s, seq);
	int rc;

	if (!f && !(f = frag_open(rx, s, fr, now)))
		return;
	rc = ncx_reasm_add(f->r, fr);
	if (rc < 0) {
		rx_drop_seq(rx, s, NCX_DROP_MALFORMED, seq, now);
		return;
	}
	/* The seqs before it exist. A reliable sender is also asked for this
	 * one while it is incomplete: a lost piece comes back with the rest. */
	note_top(s, seq + s->reliable);
	if (rc == 1)
		frag_complete(rx, s, f, now);
}

/* Drop every open reassembly (started before cutoff, or all if NONE). */
void rx_frags_drop(struct ncx_rx *rx, struct sender *s, uint64_t cutoff, uint64_t now)
{
	struct frag **pp = &s->frags;

	while (*pp) {
		struct frag *f = *pp;

		if (cutoff != NONE && f->started > cutoff) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		s->nfrags--;
		rx_drop_seq(rx, s, NCX_DROP_FRAGS, f->r->seq, now);
		frag_free(rx, s, f);
	}
}

/* Free every open reassembly, with no event. */
void rx_frags_discard(struct ncx_rx *rx, struct sender *s)
{
	while (s->frags) {
		struct frag *f = s->frags;

		frag_unlink(s, f);
		frag_free(rx, s, f);
	}
}

/* Free the reassemblies of a sender being freed. */
void rx_frags_free(struct sender *s)
{
	struct frag *f, *fn;

	for (f = s->frags; f; f = fn) {
		fn = f->next;
		free(f);
	}
	s->frags = NULL;
}
