/* SPDX-License-Identifier: MIT */
/*
 * rx: the receiver engine. See include/ncx/rx.h for the contract.
 *
 * DOC: data structures and invariants
 *
 * struct ncx_rx holds every sender three ways:
 *
 *  - a chained hash table keyed by (address, port), seeded per engine from
 *    getrandom(), so a remote cannot aim its addresses at one bucket;
 *  - an LRU list (head = longest silent), so idle expiry looks only at the
 *    head. A sender is moved to the tail on its first datagram in each
 *    granule of time (lru_shift: a power of two of µs, idle_us / 64 or
 *    less, at most ~1 s), not on every one: moving it touches both of its
 *    neighbours, cache misses with many senders. The list is ordered by
 *    granule; within one, a sender heard again after being moved may sit
 *    ahead of one heard last before that, so idle expiry may come up to a
 *    granule late (1/64 of idle_us, at most ~1 s). The head's own
 *    deadline is exact;
 *  - a binary min-heap of the senders that have a timer (an open hole, a
 *    pending ack, an open reassembly), keyed by the earliest of them, so a
 *    tick touches only what is due and ncx_rx_next_deadline() is exact.
 *
 * Per sender, for its current stream (boot):
 *
 *	next	lowest seq neither delivered nor reported in a gap
 *	top	one past the highest seq known to exist (top >= next);
 *		the hole is open iff top > next
 *	win	NULL unless records are held: a ring of `cap` slots (a power
 *		of two, grown on demand up to the window), slot[seq & (cap-1)]
 *		for every held seq, all of them in [next, next + cap)
 *	frags	open reassemblies, at most max_frags
 *	hist	the fingerprint of seq s in hist_fp[s % 64] and bit s % 64 of
 *		hist_ok set iff s was delivered (clear: reported in a gap, or
 *		before the stream started), for s in [next - 64, next); bit
 *		s % 64 of hist_unk set iff s came before a resumed stream's
 *		start (written by an earlier run: no fingerprint known)
 *	resume	the seq cfg.resume gave when the sender was created, until
 *		its first stream starts there (NONE: nothing known)
 *
 * An in-order record is delivered straight from the caller's buffer: no
 * allocation, no copy. A record ahead of `next` is copied into a `held`
 * (its bytes, its parsed fields re-pointed at the copy, its arrival time).
 *
 * Timers of a sender (each UINT64_MAX when off): the head hole times out at
 * hole_since + the hole timeout of its kind (hole_since is the arrival of
 * the earliest held record, or the last progress if nothing is held, so no
 * held record waits longer than the timeout); a reliable sender is asked
 * again at retx_due; an ack goes out at ack_due; each reassembly times out
 * at its start + the hole timeout. `deadline` is the earliest, and is the
 * sender's key in the heap.
 *
 * Memory: held records, window slot arrays and reassembly buffers are
 * counted in the sender's and the engine's held_bytes before they are
 * allocated; over sender_bytes or engine_bytes the record is dropped
 * (DROP MEMORY) instead. An idle sender costs sizeof(struct sender) and its
 * hash bucket share.
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
 *  - Responses: an ack of new progress at most once per ack_us, or due at
 *    once when window / 2 records were delivered since the last ack (a
 *    sender capped near the window would stall on the timer); missing seqs
 *    are listed only in the retransmission requests (every retx_us, lowest
 *    first, only within the window, in up to NCX_RX_RESPONSES_MAX datagrams
 *    per round, each with the same ack); an ncemg datagram is acked at once
 *    unless the same ack went out less than ack_us ago.
 *  - Placeholders (ncgone=n at seq, reliable senders only): held in the
 *    window like a record when ahead of next, never asked for (nor is
 *    anything in its range), and when next reaches it, freed and its range
 *    closed: held records in it delivered, the rest lost gaps. Entirely
 *    below next: a duplicate. It never starts a new boot.
 *  - A reliable sender's hole with nothing held (everything behind it was
 *    dropped for the window or memory) times out reliable_hole_us after
 *    the last progress, and is then reported whole.
 *  - Resume (cfg.resume, for a receiver that restarted): the sender's first
 *    stream starts at the seq the hook gave, R, at once (no start_us
 *    grace: where the stream is, is known), with an ack of R - 1 due at
 *    once for a reliable sender, so it drops what it still holds below R.
 *    Nothing below R is asked for. Seqs below R have no fingerprint, so
 *    they are judged like seqs beyond the history, whatever their
 *    distance: a stock sender (it never resends) has rebooted; a reliable
 *    one has rebooted if the seq is at or below an ack sent more than
 *    reliable_hole_us ago, and the ack of R - 1 counts as sent at the
 *    resume. So a reliable sender that rebooted while the receiver was
 *    down is taken for one resending until reliable_hole_us after the
 *    resume, and its first seq below R after that (not an ncemg one, see
 *    above) starts the new boot. (ncxd also tells a sender that started
 *    over with its clock going on, by timestamps, before the engine
 *    sees it: its hook then gives no resume point.)
 *    Why not sooner: the same seqs from a sender that did not reboot are
 *    resends of what the earlier run wrote but had not acked, and taking
 *    them for a new boot would write them twice. A new boot's records
 *    that come in that first while are dropped as duplicates (and acked:
 *    a sender that takes an ack above what it sent as acking everything
 *    loses them; one that ignores it resends them, and they are written).
 *  - Fragments of a record already delivered are dropped as duplicates
 *    (each piece counts); an open reassembly times out with the sender's
 *    hole timeout, counted as DROP FRAGS.
 *
 * The emit callback runs synchronously inside feed, tick and flush, and
 * must not call back into the engine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <ncx/rx.h>

#define NONE UINT64_MAX
#define FP_TEXT 64	   /* bytes of text that go into a fingerprint */
#define WIN_MIN_CAP 16	   /* smallest window slot ring */
#define WIN_MAX_CAP (1u << 24)
#define HEAP_NONE UINT32_MAX
#define ACK_MARKS 4	   /* acks remembered for the reboot test */

_Static_assert(NCX_RX_HISTORY == 64, "hist_ok is a 64-bit map");

struct held {
	uint64_t rx_us;
	size_t size; /* bytes counted for this record */
	uint16_t fp;
	struct ncx_ext rec; /* spans point into data */
	char data[];
};

struct win {
	uint32_t cap; /* slots, a power of two */
	uint32_t count;
	uint64_t hi; /* highest held seq */
	struct held *slot[];
};

struct frag {
	struct frag *next;
	uint64_t started;
	size_t size;
	struct ncx_reasm *r; /* in the same allocation, after this header */
};

/* Fields the in-order path touches come first, so it reads few cache lines. */
struct sender {
	struct sender *hnext;
	struct sender *lru_prev, *lru_next;
	uint64_t hash;
	struct ncx_addr addr;
	bool reliable, has_stream, starting, advanced, resp_any, has_stable;
	uint32_t heap_idx;
	void *user;
	uint64_t next, top;
	uint64_t last_rx;
	uint64_t lru_gran; /* last_rx >> lru_shift when last moved to the LRU tail */
	uint64_t deadline;
	uint64_t hole_since, retx_due, ack_due;
	struct win *win;
	struct frag *frags;
	uint64_t hist_ok, hist_unk;
	uint64_t resume;
	struct ncx_rx_stats st;
	uint16_t hist_fp[NCX_RX_HISTORY];
	uint32_t nfrags;
	uint8_t nmarks;
	uint64_t start_end; /* while starting */
	uint64_t last_resp_us, last_acked;
	struct ack_mark {
		uint64_t acked, us;
	} marks[ACK_MARKS]; /* acks sent, oldest first, younger than the hole timeout */
	uint64_t stable_ack;
	size_t held_bytes;
	uint64_t asked_end; /* one past the last seq asked for in the last round */
};

struct ncx_rx {
	struct ncx_rx_config cfg;
	uint32_t win_cap_max;
	ncx_rx_emit_fn emit;
	void *arg;
	uint64_t seed;
	struct sender **buckets;
	size_t nbuckets; /* a power of two */
	size_t nsenders;
	struct sender *lru_head, *lru_tail;
	unsigned lru_shift; /* the LRU's granule: 1 << lru_shift µs */
	uint64_t ack_soon;  /* records delivered since the last ack that make one due now */
	struct sender **heap;
	uint32_t heap_len, heap_cap;
	size_t held_bytes;
	struct ncx_rx_stats st;
	char resp[NCX_RX_RESPONSE_MAX];
};

/* Count in the engine and, if there is one, the sender. */
#define COUNT(rx, s, field, n)                   \
	do {                                     \
		(rx)->st.field += (n);           \
		if (s)                           \
			(s)->st.field += (n);    \
	} while (0)

/* ---- small helpers ------------------------------------------------------ */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t c = 1;

	while (c < n && c < WIN_MAX_CAP)
		c <<= 1;
	return c;
}

/* Decimal digits of v into out (at least 20 bytes); returns the length. */
static size_t u64_dec(uint64_t v, char *out)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static uint64_t hole_timeout(const struct ncx_rx *rx, const struct sender *s)
{
	return s->reliable ? rx->cfg.reliable_hole_us : rx->cfg.stock_hole_us;
}

static bool hole_open(const struct sender *s)
{
	return s->has_stream && !s->starting && s->top > s->next;
}

/* ---- fingerprints -------------------------------------------------------- */

/*
 * The first FP_TEXT bytes of a body's text (up to its newline). Fingerprint
 * only that much: it tells boots apart as well as the whole text would, it
 * keeps the fast path short, and the first fragment of a long record holds
 * it, so a duplicate fragment is known without reassembling. *complete is
 * false when a fragment's slice ends before the prefix does.
 */
static size_t text_prefix(struct ncx_span body, bool *complete)
{
	size_t n = body.len < FP_TEXT ? body.len : FP_TEXT;
	const char *nl = n ? memchr(body.p, '\n', n) : NULL;

	if (nl) {
		*complete = true;
		return (size_t)(nl - body.p);
	}
	*complete = body.len >= FP_TEXT;
	return n;
}

static uint16_t fingerprint(uint64_t ts, const char *p, size_t n)
{
	uint64_t h = ts * 0x9e3779b97f4a7c15ULL ^ n;

	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	if (n) {
		uint64_t w = 0;

		memcpy(&w, p, n);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
	}
	h ^= h >> 32;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	return (uint16_t)(h >> 48);
}

/* The fingerprint of a record, or of the first fragment if it is enough. */
static bool record_fp(const struct ncx_ext *rec, uint16_t *fp)
{
	bool complete;
	size_t n = text_prefix(rec->body, &complete);

	*fp = fingerprint(rec->ts_usec, rec->body.p, n);
	return !rec->frag || (rec->frag_off == 0 && complete);
}

/* ---- events --------------------------------------------------------------- */

static void ev_init(struct ncx_rx_event *ev, enum ncx_rx_kind kind, struct sender *s,
		    const struct ncx_addr *from, uint64_t now)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->from = s ? &s->addr : from;
	ev->user = s ? &s->user : NULL;
	ev->reliable = s ? s->reliable : false;
	ev->rx_us = now;
}

static void emit_drop(struct ncx_rx *rx, struct sender *s, const struct ncx_addr *from,
		      enum ncx_rx_drop_reason why, uint64_t records, const uint64_t *seq,
		      uint64_t now)
{
	struct ncx_rx_event ev;

	COUNT(rx, s, dropped[why], records);
	ev_init(&ev, NCX_RX_DROP, s, from, now);
	ev.drop.reason = why;
	ev.drop.records = records;
	ev.drop.has_seq = seq != NULL;
	ev.drop.seq = seq ? *seq : 0;
	rx->emit(rx->arg, &ev);
}

static void drop_seq(struct ncx_rx *rx, struct sender *s, enum ncx_rx_drop_reason why,
		     uint64_t seq, uint64_t now)
{
	emit_drop(rx, s, NULL, why, 1, &seq, now);
}

static void emit_record(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec,
			uint64_t rx_us)
{
	struct ncx_rx_event ev;

	/* The hot path: no memset of the whole event, the record fills it. */
	COUNT(rx, s, records, 1);
	ev.kind = NCX_RX_RECORD;
	ev.from = &s->addr;
	ev.user = &s->user;
	ev.reliable = s->reliable;
	ev.rx_us = rx_us;
	ev.record = *rec;
	rx->emit(rx->arg, &ev);
}

/* ---- memory accounting ------------------------------------------------- */

static bool mem_ok(const struct ncx_rx *rx, const struct sender *s, size_t add)
{
	return s->held_bytes + add <= rx->cfg.sender_bytes &&
	       rx->held_bytes + add <= rx->cfg.engine_bytes;
}

static void mem_add(struct ncx_rx *rx, struct sender *s, size_t n)
{
	s->held_bytes += n;
	rx->held_bytes += n;
}

static void mem_sub(struct ncx_rx *rx, struct sender *s, size_t n)
{
	s->held_bytes -= n;
	rx->held_bytes -= n;
}

/* ---- the timer heap ------------------------------------------------------ */

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

static void heap_remove(struct ncx_rx *rx, struct sender *s)
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

	if (s->starting)
		d = min64(d, s->start_end);
	if (hole_open(s)) {
		d = min64(d, sat_add(s->hole_since, to));
		if (s->reliable)
			d = min64(d, s->retx_due);
	}
	for (const struct frag *f = s->frags; f; f = f->next)
		d = min64(d, sat_add(f->started, to));
	return d;
}

/* Put the sender in the heap at its earliest timer, or take it out. */
static void rearm(struct ncx_rx *rx, struct sender *s)
{
	uint64_t d = sender_deadline(rx, s);

	if (d == s->deadline && (d == NONE) == (s->heap_idx == HEAP_NONE))
		return;
	s->deadline = d;
	if (d == NONE) {
		heap_remove(rx, s);
	} else if (s->heap_idx == HEAP_NONE) {
		heap_insert(rx, s);
	} else {
		heap_up(rx, s->heap_idx);
		heap_down(rx, s->heap_idx);
	}
}

/* ---- the window of held records ---------------------------------------- */

static struct held *win_get(const struct sender *s, uint64_t seq)
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
static struct held *held_new(const struct ncx_ext *rec, uint16_t fp, uint64_t now)
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
	h->fp = fp;
	h->rec = *rec;
	h->rec.release = rebase(rec->release, rec, hdr, body);
	h->rec.header.p = hdr;
	h->rec.body.p = body;
	return h;
}

/* ---- delivery, gaps, history ------------------------------------------- */

/*
 * Reliable senders get an ack of new progress, at most once per ack_us, or
 * at once when ack_soon records were delivered since the last one: a
 * sender whose unacked records are capped near the window would otherwise
 * wait for the timer with nothing to send.
 */
static void progress(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	uint64_t due;

	s->advanced = true;
	if (!s->reliable)
		return;
	if (s->ack_due != NONE) {
		if (s->ack_due > now && s->next - s->last_acked > rx->ack_soon)
			s->ack_due = now;
		return;
	}
	due = s->resp_any ? sat_add(s->last_resp_us, rx->cfg.ack_us) : now;
	s->ack_due = due > now ? due : now;
}

static void hist_delivered(struct sender *s, uint64_t seq, uint16_t fp)
{
	unsigned i = (unsigned)(seq % NCX_RX_HISTORY);

	s->hist_fp[i] = fp;
	s->hist_ok |= 1ULL << i;
	s->hist_unk &= ~(1ULL << i);
}

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

/* Deliver rec, whose seq is next, from wherever it lives. */
static void deliver(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint16_t fp,
		    uint64_t rx_us, uint64_t now)
{
	emit_record(rx, s, rec, rx_us);
	hist_delivered(s, s->next, fp);
	s->next++;
	if (s->top < s->next)
		s->top = s->next;
	progress(rx, s, now);
}

/* Take h, held at seq, out of the window and free it. */
static void unhold(struct ncx_rx *rx, struct sender *s, uint64_t seq, struct held *h)
{
	struct win *w = s->win;

	w->slot[seq & (w->cap - 1)] = NULL;
	w->count--;
	mem_sub(rx, s, h->size);
	free(h);
	win_release_if_empty(rx, s);
}

/*
 * The held entry at next: a record is delivered; a sender's placeholder
 * (ncgone) is freed. Returns how far the stream must be closed now: next,
 * or the end of the placeholder's range.
 */
static uint64_t take_held(struct ncx_rx *rx, struct sender *s, struct held *h, uint64_t now)
{
	uint64_t seq = s->next, gone = h->rec.gone;

	if (gone) {
		unhold(rx, s, seq, h);
		return sat_add(seq, gone);
	}
	deliver(rx, s, &h->rec, h->fp, h->rx_us, now);
	unhold(rx, s, seq, h);
	return s->next;
}

/* Report first..last (first == next) as never to be delivered. */
static void gap(struct ncx_rx *rx, struct sender *s, uint64_t first, uint64_t last, uint64_t now)
{
	struct ncx_rx_event ev;
	uint64_t n = last - first + 1;

	COUNT(rx, s, gaps, 1);
	if (s->reliable)
		COUNT(rx, s, lost, n);
	else
		COUNT(rx, s, missed, n);
	ev_init(&ev, NCX_RX_GAP, s, NULL, now);
	ev.gap.first = first;
	ev.gap.last = last;
	ev.gap.lost = s->reliable;
	rx->emit(rx->arg, &ev);
	hist_gap(s, first, last);
	s->next = last + 1;
	progress(rx, s, now);
}

/* The first held seq in [from, limit), or limit. */
static uint64_t next_held(const struct sender *s, uint64_t from, uint64_t limit)
{
	if (!s->win)
		return limit;
	for (uint64_t q = from; q < limit && q <= s->win->hi; q++)
		if (win_get(s, q))
			return q;
	return limit;
}

/* Close everything below target: held records delivered, the rest as gaps
 * (a placeholder taken on the way extends target over its range); then
 * deliver whatever continues from there. */
static void advance_to(struct ncx_rx *rx, struct sender *s, uint64_t target, uint64_t now)
{
	for (;;) {
		struct held *h = win_get(s, s->next);

		if (h) {
			uint64_t end = take_held(rx, s, h, now);

			target = end > target ? end : target;
			continue;
		}
		if (s->next >= target)
			break;
		gap(rx, s, s->next, next_held(s, s->next + 1, target) - 1, now);
	}
	if (s->top < s->next)
		s->top = s->next;
}

/* Deliver every held record that continues the stream. */
static void drain(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	advance_to(rx, s, s->next, now);
}

/* The head hole's age starts at the earliest held arrival, or now. */
static void reset_since(struct sender *s, uint64_t now)
{
	uint64_t since = now;

	if (!hole_open(s)) {
		s->hole_since = NONE;
		return;
	}
	if (s->win)
		for (uint64_t q = s->next; q <= s->win->hi; q++) {
			const struct held *h = win_get(s, q);

			if (h && h->rx_us < since)
				since = h->rx_us;
		}
	s->hole_since = since;
}

/* ---- reassembly ------------------------------------------------------- */

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
		drop_seq(rx, s, NCX_DROP_FRAGS, fr->seq, now);
		return NULL;
	}
	if (!mem_ok(rx, s, size) || !(f = malloc(size))) {
		drop_seq(rx, s, NCX_DROP_MEMORY, fr->seq, now);
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

/* Drop every open reassembly (started before cutoff, or all if NONE). */
static void frags_drop(struct ncx_rx *rx, struct sender *s, uint64_t cutoff, uint64_t now)
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
		drop_seq(rx, s, NCX_DROP_FRAGS, f->r->seq, now);
		frag_free(rx, s, f);
	}
}

/* ---- responses ---------------------------------------------------------- */

/* Acks older than the reliable hole timeout become stable_ack. */
static void promote_ack(const struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	while (s->nmarks && now > s->marks[0].us &&
	       now - s->marks[0].us > rx->cfg.reliable_hole_us) {
		s->stable_ack = s->marks[0].acked;
		s->has_stable = true;
		memmove(s->marks, s->marks + 1, --s->nmarks * sizeof(s->marks[0]));
	}
}

/*
 * Remember acks for the reboot test: stable_ack is the latest ack sent more
 * than reliable_hole_us ago. Marks are kept at least a quarter of that
 * apart, so four of them make stable_ack lag the truth by about a quarter
 * of the timeout at most; lagging only makes the test more careful.
 */
static void note_ack(const struct ncx_rx *rx, struct sender *s, uint64_t acked, uint64_t now)
{
	promote_ack(rx, s, now);
	if (s->nmarks && now - s->marks[s->nmarks - 1].us < rx->cfg.reliable_hole_us / 4)
		return;
	if (s->nmarks == ACK_MARKS)
		memmove(s->marks, s->marks + 1, --s->nmarks * sizeof(s->marks[0]));
	s->marks[s->nmarks].acked = acked;
	s->marks[s->nmarks].us = now;
	s->nmarks++;
}

/* The end of what may be asked for: the window, or top if nearer. */
static uint64_t ask_end(const struct ncx_rx *rx, const struct sender *s)
{
	return s->top - s->next > rx->cfg.window ? s->next + rx->cfg.window : s->top;
}

/*
 * Append " <seq>" for each missing seq from *from up to end, while it fits;
 * *from is left at the first seq not looked at. A held placeholder stands
 * for its whole range: nothing in it is asked for.
 */
static size_t put_missing(struct ncx_rx *rx, struct sender *s, size_t n, uint64_t *from,
			  uint64_t end, uint64_t *asked)
{
	char num[20];
	uint64_t q;

	for (q = *from; q < end; q++) {
		const struct held *h = win_get(s, q);
		size_t k;

		if (h) {
			uint64_t last = h->rec.gone ? sat_add(q, h->rec.gone - 1) : q;

			if (last >= end - 1) {
				q = end;
				break;
			}
			q = last;
			continue;
		}
		k = u64_dec(q, num);
		if (n + 1 + k > NCX_RX_RESPONSE_MAX)
			break;
		rx->resp[n++] = ' ';
		memcpy(rx->resp + n, num, k);
		n += k;
		(*asked)++;
	}
	*from = q;
	return n;
}

/* Response datagrams "ncrx<acked>[ <seq>]*" for the missing seqs in
 * [*from, end), while *sent < NCX_RX_RESPONSES_MAX; at least one if none
 * went yet (the ack). */
static void emit_asks(struct ncx_rx *rx, struct sender *s, uint64_t *from, uint64_t end,
		      uint64_t *asked, unsigned *sent, uint64_t now)
{
	struct ncx_rx_event ev;

	while (*sent < NCX_RX_RESPONSES_MAX && (*from < end || !*sent)) {
		size_t n = 4;

		memcpy(rx->resp, "ncrx", 4);
		n += u64_dec(s->next - 1, rx->resp + n);
		n = put_missing(rx, s, n, from, end, asked);
		COUNT(rx, s, responses, 1);
		ev_init(&ev, NCX_RX_RESPONSE, s, NULL, now);
		ev.response.p = rx->resp;
		ev.response.len = n;
		rx->emit(rx->arg, &ev);
		++*sent;
	}
}

/*
 * "ncrx<acked>", plus the missing seqs if ask: as many datagrams as they
 * need, NCX_RX_RESPONSES_MAX at most per call (per round), each with the
 * same ack. When all that is missing fits in one datagram (the last holes,
 * which decide when the last record arrives), the seqs already asked for
 * in the round before (their request or their resend was lost) are asked
 * for once more in a second one: under heavy loss the last holes close in
 * about half the rounds. Never more, so that many senders recovering at
 * once cannot flood the path with resends. Only to reliable senders, and
 * only once something can be acked.
 */
static void respond(struct ncx_rx *rx, struct sender *s, bool ask, uint64_t now)
{
	uint64_t acked, asked = 0, from, end, again;
	unsigned sent = 0;

	if (!s->reliable || !s->has_stream || s->starting || s->next == 0)
		return;
	acked = s->next - 1;
	from = s->next;
	end = ask ? ask_end(rx, s) : from;
	emit_asks(rx, s, &from, end, &asked, &sent, now);
	if (ask) {
		unsigned one = NCX_RX_RESPONSES_MAX - 1;

		again = s->next;
		if (sent == 1 && from == end)
			emit_asks(rx, s, &again, min64(end, s->asked_end), &asked, &one, now);
		s->asked_end = from;
	}
	COUNT(rx, s, retx_requested, asked);
	s->resp_any = true;
	s->last_resp_us = now;
	s->last_acked = acked;
	s->ack_due = NONE;
	note_ack(rx, s, acked, now);
}

/* ncemg: ack at once, unless the same ack went out less than ack_us ago
 * (an emergency burst resends many records; one ack answers them all). */
static void ack_emergency(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	if (s->resp_any && s->has_stream && s->last_acked == s->next - 1 &&
	    now - s->last_resp_us < rx->cfg.ack_us && now >= s->last_resp_us)
		return;
	respond(rx, s, false, now);
}

/* ---- streams, duplicates, reboots ------------------------------------- */

/* A new stream at seq; with start_us, its first records are held a while. */
static void stream_start(const struct ncx_rx *rx, struct sender *s, uint64_t seq, uint64_t now)
{
	s->has_stream = true;
	s->starting = rx->cfg.start_us > 0;
	s->start_end = sat_add(now, rx->cfg.start_us);
	s->next = s->top = seq;
	s->hist_ok = s->hist_unk = 0;
	s->hole_since = s->retx_due = s->ack_due = NONE;
	s->nmarks = 0;
	s->has_stable = false;
	s->last_acked = NONE;
	s->asked_end = 0;
}

/*
 * The first stream of a sender an earlier run knew: it starts at the resume
 * point, everything below it written already (fingerprints unknown), and
 * a reliable sender is acked at once so it stops holding what lies below.
 */
static void stream_resume(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	stream_start(rx, s, s->resume, now);
	s->starting = false;
	s->hist_unk = ~0ULL;
	s->resume = NONE;
	if (s->reliable)
		s->ack_due = now;
}

/* The first record of a sender with no stream yet starts one. */
static void stream_first(struct ncx_rx *rx, struct sender *s, uint64_t seq, uint64_t now)
{
	if (s->resume != NONE)
		stream_resume(rx, s, now);
	else
		stream_start(rx, s, seq, now);
}

enum old_kind { OLD_DUP, OLD_LATE, OLD_REBOOT };

/* seq < next: a duplicate, a late record, or the start of a new boot. */
static enum old_kind classify_old(const struct ncx_rx *rx, struct sender *s, uint64_t seq,
				  bool fp_known, uint16_t fp, bool emg, uint64_t now)
{
	if (s->next - seq <= NCX_RX_HISTORY) {
		unsigned i = (unsigned)(seq % NCX_RX_HISTORY);

		if (s->hist_unk >> i & 1)
			goto beyond; /* written by an earlier run: no fingerprint */
		if (!(s->hist_ok >> i & 1))
			return OLD_LATE;
		return !fp_known || s->hist_fp[i] == fp ? OLD_DUP : OLD_REBOOT;
	}
beyond:
	if (!s->reliable)
		return OLD_REBOOT; /* a stock sender never resends */
	if (emg)
		return OLD_DUP; /* a resend, by its own word: it has had no ack for it */
	promote_ack(rx, s, now);
	return s->has_stable && seq <= s->stable_ack ? OLD_REBOOT : OLD_DUP;
}

/* The old boot is over: deliver what it left, then start the new one. */
static void reboot(struct ncx_rx *rx, struct sender *s, uint64_t seq, uint64_t now)
{
	struct ncx_rx_event ev;
	uint64_t prev = s->top - 1;

	advance_to(rx, s, s->top, now);
	frags_drop(rx, s, NONE, now);
	COUNT(rx, s, reboots, 1);
	ev_init(&ev, NCX_RX_REBOOT, s, NULL, now);
	ev.reboot.prev_seq = prev;
	ev.reboot.seq = seq;
	rx->emit(rx->arg, &ev);
	stream_start(rx, s, seq, now);
}

/* Sort out seq < next. Returns true if the record goes on (a new boot). */
static bool handle_old(struct ncx_rx *rx, struct sender *s, uint64_t seq, bool fp_known,
		       uint16_t fp, bool emg, uint64_t now)
{
	switch (classify_old(rx, s, seq, fp_known, fp, emg, now)) {
	case OLD_DUP:
		drop_seq(rx, s, NCX_DROP_DUPLICATE, seq, now);
		return false;
	case OLD_LATE:
		drop_seq(rx, s, NCX_DROP_LATE, seq, now);
		return false;
	case OLD_REBOOT:
		break;
	}
	reboot(rx, s, seq, now);
	return true;
}

/* ---- records ------------------------------------------------------------ */

/* A record ahead of next, inside the window: keep a copy. */
static void hold(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint16_t fp,
		 uint64_t now)
{
	uint64_t seq = rec->seq;
	size_t need = sizeof(struct held) + rec->header.len + 1 + rec->body.len;
	uint32_t cap = win_need(rx, s, seq);
	size_t grow = cap ? win_bytes(cap) - (s->win ? win_bytes(s->win->cap) : 0) : 0;
	struct held *h;

	if (win_get(s, seq)) {
		drop_seq(rx, s, NCX_DROP_DUPLICATE, seq, now);
		return;
	}
	if (s->top <= seq)
		s->top = seq + 1; /* a hole is open either way */
	if (!mem_ok(rx, s, need + grow) || (cap && !win_grow(rx, s, cap)) ||
	    !(h = held_new(rec, fp, now))) {
		win_release_if_empty(rx, s);
		drop_seq(rx, s, NCX_DROP_MEMORY, seq, now);
		return;
	}
	s->win->slot[seq & (s->win->cap - 1)] = h;
	if (s->win->count++ == 0 || seq > s->win->hi)
		s->win->hi = seq;
	mem_add(rx, s, h->size);
}

/*
 * While a stream starts, a seq below its first is not late: the stream
 * begins there instead, if the window still spans everything held.
 */
static bool start_lower(struct ncx_rx *rx, struct sender *s, uint64_t seq, uint64_t now)
{
	uint64_t hi = s->win ? s->win->hi : s->next;
	uint32_t cap;

	if (hi - seq >= rx->cfg.window) {
		drop_seq(rx, s, NCX_DROP_LATE, seq, now);
		return false;
	}
	if (s->win) {
		cap = pow2_at_least(hi - seq + 1);
		if (cap > s->win->cap &&
		    (!mem_ok(rx, s, win_bytes(cap) - win_bytes(s->win->cap)) ||
		     !win_grow(rx, s, cap))) {
			drop_seq(rx, s, NCX_DROP_MEMORY, seq, now);
			return false;
		}
	}
	s->next = seq;
	return true;
}

/* The start is over: deliver from the lowest seq seen; holes are holes. */
static void start_end(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	s->starting = false;
	s->hole_since = NONE;
	drain(rx, s, now);
}

static void handle_record(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec,
			  uint16_t fp, uint64_t now);

/* A record while the stream starts: held, whatever its place. */
static void start_record(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec,
			 uint16_t fp, uint64_t now)
{
	uint64_t seq = rec->seq;

	if (seq < s->next && !start_lower(rx, s, seq, now))
		return;
	if (seq - s->next >= rx->cfg.window) {
		start_end(rx, s, now); /* too far to wait for: go on as usual */
		handle_record(rx, s, rec, fp, now);
		return;
	}
	hold(rx, s, rec, fp, now);
}

/*
 * A reliable sender's placeholder (ncgone=n at seq): it no longer has
 * seq..seq+n-1. Where that reaches next, the range is closed at once: what
 * is held in it is delivered, the rest is a lost gap. Further ahead it is
 * held like a record and closes its range when next gets there. It is never
 * delivered itself (the gap says what its text says), and never a new boot.
 */
static void handle_gone(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec,
			uint64_t now)
{
	uint64_t seq = rec->seq, end = sat_add(seq, rec->gone);

	if (!s->has_stream)
		stream_first(rx, s, seq, now);
	if (s->starting)
		start_end(rx, s, now); /* what it says settles where the stream is */
	if (end <= s->next) {
		drop_seq(rx, s, NCX_DROP_DUPLICATE, seq, now);
		return;
	}
	if (seq <= s->next) {
		advance_to(rx, s, end, now);
		return;
	}
	if (seq - s->next >= rx->cfg.window) {
		if (s->top <= seq)
			s->top = seq + 1;
		drop_seq(rx, s, NCX_DROP_WINDOW, seq, now); /* asked for again later */
		return;
	}
	hold(rx, s, rec, 0, now);
}

/* One whole record (a datagram, or a reassembled one). */
static void handle_record(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec,
			  uint16_t fp, uint64_t now)
{
	uint64_t seq = rec->seq;

	if (!s->has_stream)
		stream_first(rx, s, seq, now);
	if (seq == s->next && !s->win && !s->starting) { /* the fast path */
		deliver(rx, s, rec, fp, now, now);
		return;
	}
	if (!s->starting && seq < s->next &&
	    !handle_old(rx, s, seq, true, fp, rec->emergency, now))
		return;
	if (s->starting) {
		start_record(rx, s, rec, fp, now);
		return;
	}
	if (seq - s->next >= rx->cfg.window) {
		if (s->reliable) { /* asked for again once the window moves */
			if (s->top <= seq)
				s->top = seq + 1;
			drop_seq(rx, s, NCX_DROP_WINDOW, seq, now);
			return;
		}
		advance_to(rx, s, seq, now); /* stock: the hole closes at once */
	}
	if (seq == s->next) {
		deliver(rx, s, rec, fp, now, now);
		drain(rx, s, now);
	} else {
		hold(rx, s, rec, fp, now);
	}
}

/* A complete reassembly: out of the list, through as a record, freed. */
static void frag_complete(struct ncx_rx *rx, struct sender *s, struct frag *f, uint64_t now)
{
	struct ncx_ext whole;
	uint16_t fp;

	frag_unlink(s, f); /* a reboot inside may drop the others, not this */
	if (ncx_reasm_record(f->r, &whole) == 0) {
		record_fp(&whole, &fp);
		handle_record(rx, s, &whole, fp, now);
	} else {
		drop_seq(rx, s, NCX_DROP_MALFORMED, f->r->seq, now);
	}
	frag_free(rx, s, f);
}

static void handle_frag(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *fr,
			uint64_t now)
{
	uint64_t seq = fr->seq;
	struct frag *f;
	uint16_t fp;
	bool fp_known = record_fp(fr, &fp);
	int rc;

	COUNT(rx, s, fragments, 1);
	if (!s->has_stream)
		stream_first(rx, s, seq, now);
	if (s->starting) {
		if (seq < s->next && !start_lower(rx, s, seq, now))
			return;
		if (seq - s->next >= rx->cfg.window)
			start_end(rx, s, now);
	} else if (seq < s->next && !handle_old(rx, s, seq, fp_known, fp, fr->emergency, now)) {
		return;
	}
	if (seq - s->next >= rx->cfg.window) {
		if (s->reliable) {
			if (s->top <= seq)
				s->top = seq + 1;
			drop_seq(rx, s, NCX_DROP_WINDOW, seq, now);
			return;
		}
		advance_to(rx, s, seq, now);
	}
	if (win_get(s, seq)) {
		drop_seq(rx, s, NCX_DROP_DUPLICATE, seq, now);
		return;
	}
	f = frag_find(s, seq);
	if (!f && !(f = frag_open(rx, s, fr, now)))
		return;
	rc = ncx_reasm_add(f->r, fr);
	if (rc < 0) {
		drop_seq(rx, s, NCX_DROP_MALFORMED, seq, now);
		return;
	}
	/* The seqs before it exist. A reliable sender is also asked for this
	 * one while it is incomplete: a lost piece comes back with the rest. */
	if (s->top < seq + s->reliable)
		s->top = seq + s->reliable;
	if (rc == 1)
		frag_complete(rx, s, f, now);
}

/* ---- senders ------------------------------------------------------------ */

static struct sender *sender_find(const struct ncx_rx *rx, const struct ncx_addr *a,
				  uint64_t hash)
{
	struct sender *s = rx->buckets[hash & (rx->nbuckets - 1)];

	/* Field by field: struct ncx_addr has a padding byte. */
	for (; s; s = s->hnext)
		if (s->hash == hash && s->addr.port == a->port && s->addr.family == a->family &&
		    !memcmp(s->addr.addr, a->addr, sizeof(a->addr)))
			return s;
	return NULL;
}

static void bucket_insert(struct sender **b, size_t nb, struct sender *s)
{
	struct sender **head = &b[s->hash & (nb - 1)];

	s->hnext = *head;
	*head = s;
}

/* Double the table once it averages a sender per bucket. */
static void table_grow(struct ncx_rx *rx)
{
	size_t nb = rx->nbuckets * 2;
	struct sender **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < rx->nbuckets; i++) {
		struct sender *s = rx->buckets[i], *nx;

		for (; s; s = nx) {
			nx = s->hnext;
			bucket_insert(b, nb, s);
		}
	}
	free(rx->buckets);
	rx->buckets = b;
	rx->nbuckets = nb;
}

static void table_remove(struct ncx_rx *rx, struct sender *s)
{
	struct sender **pp = &rx->buckets[s->hash & (rx->nbuckets - 1)];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
}

static void lru_unlink(struct ncx_rx *rx, struct sender *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		rx->lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		rx->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void lru_append(struct ncx_rx *rx, struct sender *s)
{
	s->lru_prev = rx->lru_tail;
	s->lru_next = NULL;
	if (rx->lru_tail)
		rx->lru_tail->lru_next = s;
	else
		rx->lru_head = s;
	rx->lru_tail = s;
}

/* A datagram came: the sender is the most recently heard (moved only on
 * its first datagram in a granule: see the DOC above). */
static void touch(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	uint64_t g = now >> rx->lru_shift;

	s->last_rx = now;
	if (g != s->lru_gran) {
		s->lru_gran = g;
		if (rx->lru_tail != s) {
			lru_unlink(rx, s);
			lru_append(rx, s);
		}
	}
}

static struct sender *sender_new(struct ncx_rx *rx, const struct ncx_addr *a, uint64_t hash)
{
	struct sender *s;

	if (rx->nsenders >= rx->cfg.max_senders)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->addr = *a;
	s->hash = hash;
	s->heap_idx = HEAP_NONE;
	s->deadline = s->hole_since = s->retx_due = s->ack_due = NONE;
	s->last_acked = NONE;
	s->resume = rx->cfg.resume ? rx->cfg.resume(rx->cfg.resume_arg, a) : NONE;
	s->lru_gran = NONE; /* moved (appended) by the touch that follows */
	if (rx->nsenders >= rx->nbuckets)
		table_grow(rx);
	bucket_insert(rx->buckets, rx->nbuckets, s);
	lru_append(rx, s);
	rx->nsenders++;
	return s;
}

/* The sender's state, created if new; NULL (and a DROP) if none can be. */
static struct sender *sender_get(struct ncx_rx *rx, const struct ncx_addr *a, size_t len,
				 uint64_t now)
{
	uint64_t hash = ncx_addr_hash(a, rx->seed);
	struct sender *s = sender_find(rx, a, hash);

	if (!s && !(s = sender_new(rx, a, hash))) {
		emit_drop(rx, NULL, a, NCX_DROP_TOO_MANY_SENDERS, 1, NULL, now);
		return NULL;
	}
	s->st.datagrams++;
	s->st.bytes += len;
	touch(rx, s, now);
	return s;
}

static void sender_free(struct sender *s)
{
	struct frag *f, *fn;

	if (s->win) {
		for (uint32_t i = 0; i < s->win->cap; i++)
			free(s->win->slot[i]);
		free(s->win);
	}
	for (f = s->frags; f; f = fn) {
		fn = f->next;
		free(f);
	}
	free(s);
}

/* Deliver everything held and close every hole as a gap (shutdown, expiry). */
static void sender_flush(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	s->starting = false;
	if (s->has_stream)
		advance_to(rx, s, s->top, now);
	frags_drop(rx, s, NONE, now);
}

static void sender_expire(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	struct ncx_rx_event ev;

	sender_flush(rx, s, now);
	ev_init(&ev, NCX_RX_SENDER_GONE, s, NULL, now);
	rx->emit(rx->arg, &ev);
	heap_remove(rx, s);
	table_remove(rx, s);
	lru_unlink(rx, s);
	rx->nsenders--;
	rx->held_bytes -= s->held_bytes;
	sender_free(s);
}

/* After a datagram or a timer: the hole's clocks, then the heap. */
static void settle(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	if (!hole_open(s)) {
		s->hole_since = s->retx_due = NONE;
	} else {
		if (s->advanced || s->hole_since == NONE)
			reset_since(s, now);
		if (s->reliable && s->retx_due == NONE)
			s->retx_due = sat_add(now, rx->cfg.retx_us);
	}
	s->advanced = false;
	rearm(rx, s);
}

/* ---- timers ------------------------------------------------------------- */

/* The highest held seq that arrived at or before cutoff, or NONE. */
static uint64_t last_expired_held(const struct sender *s, uint64_t cutoff)
{
	uint64_t last = NONE;

	for (uint64_t q = s->next; s->win && q <= s->win->hi; q++) {
		const struct held *h = win_get(s, q);

		if (h && h->rx_us <= cutoff)
			last = q;
	}
	return last;
}

/* Close the holes that waited their timeout: every hole before a record
 * held that long; with nothing held that long, the head hole. */
static void expire_holes(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	uint64_t to = hole_timeout(rx, s);

	while (hole_open(s) && sat_add(s->hole_since, to) <= now) {
		uint64_t target = s->top;

		if (s->win) {
			target = now >= to ? last_expired_held(s, now - to) : NONE;
			if (target == NONE)
				target = next_held(s, s->next, s->win->hi + 1);
		}
		if (target <= s->next)
			break; /* nothing to close: cannot happen, never spin */
		advance_to(rx, s, target, now);
		reset_since(s, now);
	}
}

static void run_timers(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	uint64_t to = hole_timeout(rx, s);

	if (s->starting && s->start_end <= now)
		start_end(rx, s, now);
	if (s->frags && now >= to)
		frags_drop(rx, s, now - to, now);
	expire_holes(rx, s, now);
	if (s->reliable && hole_open(s) && s->retx_due <= now) {
		respond(rx, s, true, now);
		s->retx_due = sat_add(now, rx->cfg.retx_us);
	}
	if (s->ack_due <= now)
		respond(rx, s, false, now);
	s->ack_due = s->ack_due <= now ? NONE : s->ack_due;
	settle(rx, s, now);
}

/* ---- the API ------------------------------------------------------------- */

void ncx_rx_config_default(struct ncx_rx_config *cfg)
{
	cfg->window = 4096;
	cfg->max_senders = 100000;
	cfg->max_frags = 8;
	cfg->sender_bytes = 8u << 20;
	cfg->engine_bytes = 512u << 20;
	cfg->stock_hole_us = 250000;
	cfg->reliable_hole_us = 30000000;
	cfg->retx_us = 100000;
	cfg->ack_us = 100000;
	cfg->idle_us = 3600ULL * 1000000;
	cfg->start_us = 0;
	cfg->resume = NULL;
	cfg->resume_arg = NULL;
}

const char *ncx_rx_drop_reason_name(enum ncx_rx_drop_reason r)
{
	static const char *const names[NCX_DROP_REASON_COUNT] = {
		[NCX_DROP_MALFORMED] = "malformed",
		[NCX_DROP_DUPLICATE] = "duplicate",
		[NCX_DROP_LATE] = "late",
		[NCX_DROP_WINDOW] = "window",
		[NCX_DROP_MEMORY] = "memory",
		[NCX_DROP_FRAGS] = "frags",
		[NCX_DROP_TOO_MANY_SENDERS] = "too_many_senders",
	};

	return (unsigned)r < NCX_DROP_REASON_COUNT ? names[r] : "unknown";
}

static uint64_t engine_seed(const void *salt)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	/* No entropy yet (early boot): still differ per engine. */
	return (uint64_t)(uintptr_t)salt * 0x9e3779b97f4a7c15ULL ^ 0x6e63782d7278ULL;
}

struct ncx_rx *ncx_rx_new(const struct ncx_rx_config *cfg, ncx_rx_emit_fn emit, void *arg)
{
	struct ncx_rx *rx = calloc(1, sizeof(*rx));

	if (!rx)
		return NULL;
	if (cfg)
		rx->cfg = *cfg;
	else
		ncx_rx_config_default(&rx->cfg);
	/* A window of 0 would hold nothing ever: make it 1 (same meaning). */
	if (rx->cfg.window == 0)
		rx->cfg.window = 1;
	if (rx->cfg.window > WIN_MAX_CAP)
		rx->cfg.window = WIN_MAX_CAP;
	if (rx->cfg.retx_us == 0)
		rx->cfg.retx_us = 1; /* a timer must move forward */
	/* The LRU granule: the largest power of two of µs within idle_us / 64,
	 * at most 2^20 (~1 s); 1 µs for a tiny idle_us. */
	while (rx->lru_shift < 20 && (2ULL << rx->lru_shift) <= rx->cfg.idle_us / 64)
		rx->lru_shift++;
	if (!rx->cfg.idle_us)
		rx->lru_shift = 20; /* no expiry: the order matters to nothing */
	rx->ack_soon = rx->cfg.window / 2 ? rx->cfg.window / 2 : 1;
	rx->win_cap_max = pow2_at_least(rx->cfg.window);
	if (rx->win_cap_max < WIN_MIN_CAP)
		rx->win_cap_max = WIN_MIN_CAP;
	rx->emit = emit;
	rx->arg = arg;
	rx->seed = engine_seed(rx);
	rx->nbuckets = 64;
	rx->buckets = calloc(rx->nbuckets, sizeof(*rx->buckets));
	if (!rx->buckets) {
		free(rx);
		return NULL;
	}
	return rx;
}

void ncx_rx_free(struct ncx_rx *rx)
{
	struct sender *s, *nx;

	if (!rx)
		return;
	for (s = rx->lru_head; s; s = nx) {
		nx = s->lru_next;
		sender_free(s);
	}
	free(rx->buckets);
	free(rx->heap);
	free(rx);
}

static void feed_malformed(struct ncx_rx *rx, const struct ncx_addr *from, size_t len,
			   uint64_t now)
{
	struct sender *s = sender_find(rx, from, ncx_addr_hash(from, rx->seed));

	if (s) {
		s->st.datagrams++;
		s->st.bytes += len;
	}
	emit_drop(rx, s, from, NCX_DROP_MALFORMED, 1, NULL, now);
}

static void feed_ext(struct ncx_rx *rx, const struct ncx_addr *from, const struct ncx_ext *rec,
		     size_t len, uint64_t now)
{
	struct sender *s;
	uint16_t fp;

	/* seq UINT64_MAX has no successor for next to become. */
	if (rec->seq == UINT64_MAX) {
		feed_malformed(rx, from, len, now);
		return;
	}
	s = sender_get(rx, from, len, now);
	if (!s)
		return;
	if (rec->reliable)
		s->reliable = true; /* for good: one stream, whichever path */
	if (rec->emergency)
		COUNT(rx, s, emergency, 1);
	if (rec->frag) {
		handle_frag(rx, s, rec, now);
	} else if (rec->gone && s->reliable) {
		handle_gone(rx, s, rec, now); /* from a stock sender it is just text */
	} else {
		record_fp(rec, &fp);
		handle_record(rx, s, rec, fp, now);
	}
	if (rec->emergency)
		ack_emergency(rx, s, now);
	settle(rx, s, now);
}

static void feed_legacy(struct ncx_rx *rx, const struct ncx_addr *from, const void *buf,
			size_t len, uint64_t now)
{
	struct ncx_rx_event ev;
	struct ncx_legacy lg;
	struct sender *s;

	if (ncx_legacy_parse(buf, len, &lg) != 0) {
		feed_malformed(rx, from, len, now);
		return;
	}
	s = sender_get(rx, from, len, now);
	if (!s)
		return;
	COUNT(rx, s, legacy, 1);
	ev_init(&ev, NCX_RX_LEGACY, s, NULL, now);
	ev.legacy = lg;
	rx->emit(rx->arg, &ev);
}

void ncx_rx_feed(struct ncx_rx *rx, const struct ncx_addr *from, const void *buf, size_t len,
		 uint64_t now_us)
{
	struct ncx_ext rec;

	rx->st.datagrams++;
	rx->st.bytes += len;
	/* Parse first: the common case pays for one pass, not two. */
	if (!buf || len == 0 || len > NCX_WIRE_DGRAM_MAX)
		feed_malformed(rx, from, len, now_us);
	else if (ncx_ext_parse(buf, len, &rec) == 0)
		feed_ext(rx, from, &rec, len, now_us);
	else if (ncx_ext_looks_like(buf, len))
		feed_malformed(rx, from, len, now_us);
	else
		feed_legacy(rx, from, buf, len, now_us);
}

static void expire_idle(struct ncx_rx *rx, uint64_t now)
{
	if (!rx->cfg.idle_us)
		return;
	while (rx->lru_head && sat_add(rx->lru_head->last_rx, rx->cfg.idle_us) <= now)
		sender_expire(rx, rx->lru_head, now);
}

void ncx_rx_tick(struct ncx_rx *rx, uint64_t now_us)
{
	while (rx->heap_len && rx->heap[0]->deadline <= now_us) {
		struct sender *s = rx->heap[0];

		run_timers(rx, s, now_us);
		if (s->heap_idx == 0 && s->deadline <= now_us) {
			heap_remove(rx, s); /* never spin; cannot happen */
			s->deadline = NONE;
		}
	}
	expire_idle(rx, now_us);
}

uint64_t ncx_rx_next_deadline(const struct ncx_rx *rx)
{
	uint64_t d = rx->heap_len ? rx->heap[0]->deadline : NONE;

	if (rx->cfg.idle_us && rx->lru_head)
		d = min64(d, sat_add(rx->lru_head->last_rx, rx->cfg.idle_us));
	return d;
}

void ncx_rx_flush(struct ncx_rx *rx, uint64_t now_us)
{
	for (struct sender *s = rx->lru_head; s; s = s->lru_next) {
		sender_flush(rx, s, now_us);
		settle(rx, s, now_us);
	}
}

/* Free what a sender holds (records behind its holes, reassemblies), with
 * no event: the hole closes unreported. */
static void sender_discard(struct ncx_rx *rx, struct sender *s)
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
	while (s->frags) {
		struct frag *f = s->frags;

		frag_unlink(s, f);
		frag_free(rx, s, f);
	}
	if (s->has_stream)
		s->top = s->next;
}

void ncx_rx_flush_resumable(struct ncx_rx *rx, uint64_t now_us)
{
	for (struct sender *s = rx->lru_head; s; s = s->lru_next) {
		if (!s->reliable) {
			sender_flush(rx, s, now_us);
		} else {
			/* What continues the stream, then nothing more. */
			if (s->starting)
				start_end(rx, s, now_us);
			sender_discard(rx, s);
		}
		settle(rx, s, now_us);
	}
}

void ncx_rx_stats(const struct ncx_rx *rx, struct ncx_rx_stats *out)
{
	*out = rx->st;
	out->senders = rx->nsenders;
	out->held_bytes = rx->held_bytes;
}

int ncx_rx_sender_stats(const struct ncx_rx *rx, const struct ncx_addr *from,
			struct ncx_rx_stats *out)
{
	const struct sender *s = sender_find(rx, from, ncx_addr_hash(from, rx->seed));

	if (!s)
		return -ENOENT;
	*out = s->st;
	out->senders = 0;
	out->held_bytes = 0;
	return 0;
}

void ncx_rx_each_sender(const struct ncx_rx *rx, ncx_rx_sender_fn fn, void *arg)
{
	for (const struct sender *s = rx->lru_head; s; s = s->lru_next)
		fn(arg, &s->addr, s->user, &s->st);
}

size_t ncx_rx_sender_bytes(void)
{
	/* The record, plus its share of a hash table kept at one bucket per sender. */
	return sizeof(struct sender) + sizeof(struct sender *);
}
