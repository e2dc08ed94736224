/* SPDX-License-Identifier: MIT */
/*
 * rx's insides, shared by its files and by nothing else. The contract is
 * include/ncx/rx.h; this is how the engine keeps it.
 *
 * DOC: data structures and invariants
 *
 * A sender here is one stream: (address, port, stream id), id 0 for an
 * unnamed one. struct ncx_rx holds every sender three ways (rx_table.c,
 * rx_timer.c):
 *
 *  - a chained hash table keyed by (address, port, id), hashed on (address,
 *    port) so a host's streams share a chain, seeded per engine from
 *    getrandom(), so a remote cannot aim its addresses at one bucket;
 *  - two LRU lists (head = longest silent), so idle expiry and eviction
 *    look only at the heads: senders on probation (one datagram so far)
 *    and the others. When the table is full (max_senders) a newcomer
 *    takes the place of the longest silent sender on probation, or if
 *    there is none, of the longest silent of all (a SENDER_GONE event
 *    with evicted set). So a flood of forged (address,
 *    port) pairs, a datagram each, churns the probation list and leaves
 *    the senders that have spoken twice alone. A sender is moved to the tail on its first datagram in each
 *    granule of time (lru_shift: a power of two of µs, idle_us / 64 or
 *    less, at most ~1 s), not on every one: moving it touches both of its
 *    neighbours, cache misses with many senders. Within a granule, a sender
 *    heard again after being moved may sit ahead of one heard last before
 *    that, so idle expiry may come up to a granule late. The head's own
 *    deadline is exact;
 *  - a binary min-heap of the senders that have a timer (an open hole, a
 *    pending ack, an open reassembly, a start hold), keyed by the earliest
 *    of them, so a tick touches only what is due.
 *
 * Per sender, for its current stream (boot):
 *
 *	stream	NONE yet, STARTING (start_us: its first records are held
 *		while lower seqs may still come), or OPEN
 *	next	lowest seq neither delivered nor reported in a gap
 *	top	one past the highest seq known to exist (top >= next);
 *		the hole is open iff top > next (rx_stream.c)
 *	win	NULL unless records are held: a ring of `cap` slots (a power
 *		of two, grown on demand up to the window), slot[seq & (cap-1)]
 *		for every held seq, all of them in [next, next + cap)
 *		(rx_window.c)
 *	frags	open reassemblies, at most max_frags (rx_reasm.c)
 *	hist	the fingerprint of seq s in hist_fp[s % 64] and bit s % 64 of
 *		hist_ok set iff s was delivered (clear: reported in a gap, or
 *		before the stream started), for s in [next - 64, next); bit
 *		s % 64 of hist_unk set iff s came before a resumed stream's
 *		start (written by an earlier run: no fingerprint known)
 *	resume	where an earlier run left the sender (cfg.resume), until its
 *		first stream starts; resume.next NONE: nothing known
 *
 * Every datagram that carries a seq (a record, a fragment, a placeholder)
 * goes through one admission rule, rx_admit.c: stream start, duplicates
 * and reboots, the window; then its own action.
 *
 * Memory: held records, window slot arrays and reassembly buffers are
 * counted in the sender's and the engine's held_bytes before they are
 * allocated; over sender_bytes or engine_bytes the record is dropped
 * (DROP MEMORY) instead.
 *
 * The emit callback runs synchronously inside feed, tick and flush, and
 * must not call back into the engine.
 */
#ifndef NCX_RX_INTERNAL_H
#define NCX_RX_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include <ncx/rx.h>

#define NONE UINT64_MAX
#define HEAP_NONE UINT32_MAX
#define WIN_MIN_CAP 16 /* smallest window slot ring */
#define WIN_MAX_CAP (1u << 24)
#define ACK_MARKS 4 /* acks remembered for the reboot test */

_Static_assert(NCX_RX_HISTORY == 64, "hist_ok is a 64-bit map");

struct held {
	struct held *cnext; /* on a stream's stock copies (rx_copies.c) */
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

enum stream { STREAM_NONE, STREAM_STARTING, STREAM_OPEN };

/* Fields the in-order path touches come first, so it reads few cache lines. */
struct sender {
	struct sender *hnext;
	struct sender *lru_prev, *lru_next; /* on its list: lru[probation] */
	uint64_t hash;
	struct ncx_addr addr;
	uint64_t id; /* the stream's name (ncid); 0: none */
	bool reliable;
	bool authed; /* a datagram of this stream carried a good tag */
	bool advanced; /* next moved since the hole clocks were last set */
	bool probation; /* one datagram so far: first out when the table is full */
	uint8_t stream; /* enum stream */
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
	struct ncx_rx_stats st;
	uint16_t hist_fp[NCX_RX_HISTORY];
	uint32_t nfrags;
	uint8_t nmarks;
	uint64_t start_end; /* while STARTING */
	uint64_t last_resp_us; /* NONE: no response yet */
	uint64_t last_acked;
	struct ack_mark {
		uint64_t acked, us;
	} marks[ACK_MARKS]; /* acks sent, oldest first, younger than the hole timeout */
	uint64_t stable_ack; /* latest ack older than the reliable hole timeout; NONE */
	size_t held_bytes;
	uint64_t asked_end; /* one past the last seq asked for in the last round */
	uint64_t resp_bytes; /* response bytes sent to it, against NCX_RX_AMPLIFY x st.bytes */
	struct ncx_rx_resume resume; /* cold: read once, at its first seq */
	struct ncx_auth_key key; /* cfg.auth: the host's key, derived once */
	uint64_t tagged_rx;	 /* the last datagram with a good tag */
	struct held *copies;	 /* rx_copies.c: unnamed, untagged records for a
				  * stream that tags, in seq order (those below
				  * next go at the next trim) */
	uint32_t ncopies;
};

struct ncx_rx {
	struct ncx_rx_config cfg;
	uint32_t win_cap_max;
	ncx_rx_emit_fn emit;
	void *arg;
	void *ctx; /* the datagram being fed's context; NULL in tick and flush */
	uint64_t seed;
	struct sender **buckets;
	size_t nbuckets; /* a power of two */
	size_t nsenders;
	/* Two LRU lists, head = longest silent: lru[0] the senders heard more
	 * than once, lru[1] those on probation (one datagram so far). */
	struct lru {
		struct sender *head, *tail;
	} lru[2];
	unsigned lru_shift; /* the LRU's granule: 1 << lru_shift µs */
	uint64_t ack_soon;  /* records delivered since the last ack that make one due now */
	struct sender **heap;
	uint32_t heap_len, heap_cap;
	size_t held_bytes;
	struct ncx_rx_stats st;
	struct ncx_resp resp; /* the response being made (wire.c writes it) */
	uint64_t resp_tokens, resp_last_us; /* cfg.resp_rate's bucket, one second deep */
};

/* What the admission rule is given: one record, fragment or placeholder. */
enum unit_kind { UNIT_RECORD, UNIT_FRAG, UNIT_GONE };

struct unit {
	enum unit_kind kind;
	const struct ncx_ext *ext;
	uint64_t seq;
	uint64_t end; /* one past the last seq it covers (a placeholder: seq + n) */
	uint16_t fp;
	bool fp_known;
};

/* Count in the engine and, if there is one, the sender. */
#define COUNT(rx, s, field, n)                \
	do {                                  \
		(rx)->st.field += (n);        \
		if (s)                        \
			(s)->st.field += (n); \
	} while (0)

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t hole_timeout(const struct ncx_rx *rx, const struct sender *s)
{
	return s->reliable ? rx->cfg.reliable_hole_us : rx->cfg.stock_hole_us;
}

static inline bool hole_open(const struct sender *s)
{
	return s->stream == STREAM_OPEN && s->top > s->next;
}

/* seq (and so everything below it) exists: the one place top is raised. */
static inline void note_top(struct sender *s, uint64_t end)
{
	if (s->top < end)
		s->top = end;
}

static inline bool mem_ok(const struct ncx_rx *rx, const struct sender *s, size_t add)
{
	return s->held_bytes + add <= rx->cfg.sender_bytes &&
	       rx->held_bytes + add <= rx->cfg.engine_bytes;
}

static inline void mem_add(struct ncx_rx *rx, struct sender *s, size_t n)
{
	s->held_bytes += n;
	rx->held_bytes += n;
}

static inline void mem_sub(struct ncx_rx *rx, struct sender *s, size_t n)
{
	s->held_bytes -= n;
	rx->held_bytes -= n;
}

/* rx.c: events */
void rx_ev_init(const struct ncx_rx *rx, struct ncx_rx_event *ev, enum ncx_rx_kind kind,
		struct sender *s, const struct ncx_addr *from, uint64_t now);
void rx_emit_drop(struct ncx_rx *rx, struct sender *s, const struct ncx_addr *from,
		  enum ncx_rx_drop_reason why, uint64_t records, const uint64_t *seq, uint64_t now);
void rx_drop_seq(struct ncx_rx *rx, struct sender *s, enum ncx_rx_drop_reason why, uint64_t seq,
		 uint64_t now);

/* rx_admit.c: the one admission path */
void rx_admit_ext(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint64_t now);
void rx_admit_record(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint16_t fp,
		     uint64_t now);

/* rx_table.c: senders, their table and the LRU */
int rx_table_init(struct ncx_rx *rx);
void rx_table_free(struct ncx_rx *rx);
/* Every sender: for (s = rx_first(rx); s; s = rx_next(rx, s)). */
struct sender *rx_first(const struct ncx_rx *rx);
struct sender *rx_next(const struct ncx_rx *rx, const struct sender *s);
uint64_t rx_idle_deadline(const struct ncx_rx *rx);
struct sender *rx_sender_find(const struct ncx_rx *rx, const struct ncx_addr *a, uint64_t id);
/* The most recently heard stream of (address, port), of any id. */
struct sender *rx_sender_any(const struct ncx_rx *rx, const struct ncx_addr *a);
/* The streams of (address, port), from one walk of its chain: the one named
 * id (0: the unnamed one), the unnamed one, the most recently heard named
 * one; NULL where there is none. hash: for rx_sender_seen(). */
struct rx_streams {
	struct sender *match, *unnamed, *named;
	uint64_t hash;
};
void rx_streams(const struct ncx_rx *rx, const struct ncx_addr *a, uint64_t id,
		struct rx_streams *out);
/* A datagram of len bytes came for s, or for a new stream (a, id) if s is
 * NULL: made here. NULL (and a DROP) if none can be. */
struct sender *rx_sender_seen(struct ncx_rx *rx, struct sender *s, const struct ncx_addr *a,
			      uint64_t id, uint64_t hash, size_t len, uint64_t now);
/* The same, found or made by (a, id). */
struct sender *rx_sender_get(struct ncx_rx *rx, const struct ncx_addr *a, uint64_t id,
			     size_t len, uint64_t now);
void rx_host_key(const struct ncx_rx *rx, const struct ncx_addr *a, struct ncx_auth_key *out);
void rx_expire_idle(struct ncx_rx *rx, uint64_t now);

/* rx_timer.c: the heap of sender deadlines */
void rx_settle(struct ncx_rx *rx, struct sender *s, uint64_t now);
void rx_heap_remove(struct ncx_rx *rx, struct sender *s);
void rx_run_due(struct ncx_rx *rx, uint64_t now);

/* rx_window.c: records held behind a hole */
struct held *rx_held_new(const struct ncx_ext *rec, uint16_t fp, uint64_t now);
struct held *rx_win_get(const struct sender *s, uint64_t seq);
void rx_hold(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint16_t fp,
	     uint64_t now);
void rx_unhold(struct ncx_rx *rx, struct sender *s, uint64_t seq, struct held *h);
bool rx_win_reach(struct ncx_rx *rx, struct sender *s, uint64_t lo, uint64_t hi);
uint64_t rx_next_held(const struct sender *s, uint64_t from, uint64_t limit);
uint64_t rx_last_expired_held(const struct sender *s, uint64_t cutoff);
void rx_reset_since(struct sender *s, uint64_t now);
void rx_win_discard(struct ncx_rx *rx, struct sender *s);
void rx_win_free(struct sender *s);

/* rx_reasm.c: reassembly of fragments */
void rx_frag_add(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *fr, uint64_t now);
void rx_frags_drop(struct ncx_rx *rx, struct sender *s, uint64_t cutoff, uint64_t now);
void rx_frags_discard(struct ncx_rx *rx, struct sender *s);
void rx_frags_free(struct sender *s);

/* rx_copies.c: a stock kernel's copies of a stream that tags */
void rx_copy_add(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec, uint64_t now);
void rx_copies_trim(struct ncx_rx *rx, struct sender *s, uint64_t now);
uint64_t rx_copies_due(const struct ncx_rx *rx, const struct sender *s);
void rx_copies_flush(struct ncx_rx *rx, struct sender *s, uint64_t now);
void rx_copies_discard(struct ncx_rx *rx, struct sender *s);
void rx_copies_free(struct sender *s);

/* rx_stream.c: the stream's position, delivery, gaps, starts and reboots */
void rx_stream_first(struct ncx_rx *rx, struct sender *s, const struct unit *u, uint64_t now);
void rx_advance_to(struct ncx_rx *rx, struct sender *s, uint64_t target, uint64_t now);
void rx_drain(struct ncx_rx *rx, struct sender *s, uint64_t now);
bool rx_handle_old(struct ncx_rx *rx, struct sender *s, const struct unit *u, bool emg,
		   uint64_t now);
bool rx_start_lower(struct ncx_rx *rx, struct sender *s, uint64_t seq, uint64_t now);
void rx_start_end(struct ncx_rx *rx, struct sender *s, uint64_t now);
void rx_expire_holes(struct ncx_rx *rx, struct sender *s, uint64_t now);
void rx_sender_flush(struct ncx_rx *rx, struct sender *s, uint64_t now);

/* rx_respond.c: acks and retransmission requests */
void rx_respond(struct ncx_rx *rx, struct sender *s, bool ask, uint64_t now);
void rx_ack_emergency(struct ncx_rx *rx, struct sender *s, uint64_t now);
void rx_promote_ack(const struct ncx_rx *rx, struct sender *s, uint64_t now);

/*
 * The in-order path, inline here so that it stays one straight run of code
 * although its parts belong to different files: the event (rx.c), the
 * history (rx_stream.c), the ack it makes due (rx_respond.c).
 */
static inline void rx_emit_record(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec,
				  uint64_t rx_us)
{
	struct ncx_rx_event ev;

	/* No memset of the whole event: the record fills it. */
	COUNT(rx, s, records, 1);
	ev.kind = NCX_RX_RECORD;
	ev.from = &s->addr;
	ev.user = &s->user;
	ev.ctx = rx->ctx;
	ev.reliable = s->reliable;
	ev.authed = s->authed;
	ev.id = s->id;
	ev.rx_us = rx_us;
	ev.pos = rec->seq + 1;
	ev.record = *rec;
	rx->emit(rx->arg, &ev);
}

/* next moved: for a reliable sender an ack becomes due, at most once per
 * ack_us, or at once when ack_soon records were delivered since the last
 * (a sender capped near the window would stall on the timer). */
static inline void rx_progress(struct ncx_rx *rx, struct sender *s, uint64_t now)
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
	due = s->last_resp_us != NONE ? sat_add(s->last_resp_us, rx->cfg.ack_us) : now;
	s->ack_due = due > now ? due : now;
}

static inline void rx_hist_delivered(struct sender *s, uint64_t seq, uint16_t fp)
{
	unsigned i = (unsigned)(seq % NCX_RX_HISTORY);

	s->hist_fp[i] = fp;
	s->hist_ok |= 1ULL << i;
	s->hist_unk &= ~(1ULL << i);
}

/* Deliver rec, whose seq is next, from wherever it lives. */
static inline void rx_deliver(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec,
			      uint16_t fp, uint64_t rx_us, uint64_t now)
{
	rx_emit_record(rx, s, rec, rx_us);
	rx_hist_delivered(s, s->next, fp);
	s->next++;
	note_top(s, s->next);
	rx_progress(rx, s, now);
}

/* Fingerprints (rx_stream.c's duplicate and reboot rules), on every record. */
#define FP_TEXT 64 /* bytes of text that go into a fingerprint */

/*
 * The first FP_TEXT bytes of a body's text (up to its newline). Fingerprint
 * only that much: it tells boots apart as well as the whole text would, it
 * keeps the fast path short, and the first fragment of a long record holds
 * it, so a duplicate fragment is known without reassembling. *complete is
 * false when a fragment's slice ends before the prefix does.
 */
static inline size_t rx_text_prefix(struct ncx_span body, bool *complete)
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

static inline uint16_t rx_fingerprint(uint64_t ts, const char *p, size_t n)
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
static inline bool rx_record_fp(const struct ncx_ext *rec, uint16_t *fp)
{
	bool complete;
	size_t n = rx_text_prefix(rec->body, &complete);

	*fp = rx_fingerprint(rec->ts_usec, rec->body.p, n);
	return !rec->frag || (rec->frag_off == 0 && complete);
}

#endif /* NCX_RX_INTERNAL_H */
