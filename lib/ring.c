/* SPDX-License-Identifier: MIT */
/*
 * ring: the log as an endless byte stream.
 *
 * DOC: overview
 *
 * The ring is one buffer of 2^k bytes seen as a window onto an endless
 * stream. A 64-bit position names each byte of the stream; byte p lives at
 * offset p & (2^k - 1) of the buffer, and p >> k counts how many times the
 * buffer wrapped before it. The stream only grows: positions never repeat,
 * so a position is also a version number for the bytes it names.
 *
 * Data structures
 *
 *   head   one 64-bit word that packs the next record's seq (low 32 bits,
 *          in the high half) and the next free position / 8 (low 32 bits,
 *          in the low half). Writers claim space and a seq together with one
 *          compare-and-swap on it, so seq order is position order.
 *   hint_pos, hint_seq
 *          full 64-bit values, never ahead of head and never far behind it
 *          (they move every 2^27 bytes and every 2^24 records). head's 32-bit
 *          halves are widened against them: the full value is the hint plus
 *          the 32-bit distance from it.
 *   tail   the position of the oldest record that is still intact. Bytes
 *          before tail may be overwritten at any time. A writer moves tail
 *          forward, a whole record at a time, before it may overwrite.
 *   words  the buffer, as 64-bit words, every access atomic (most of them
 *          relaxed). Readers copy bytes that a writer may be overwriting at
 *          the same moment; atomic word accesses make that well defined, and
 *          the checks below make sure such a copy is never handed out.
 *
 * A record is a 40-byte header and its text, padded to a multiple of 8
 * bytes, starting at a position that is a multiple of 8. It may run past
 * the end of the buffer and continue at offset 0. Header words:
 *
 *   w0  state word: the record's own position | state (low 3 bits)
 *   w1  seq
 *   w2  time, microseconds
 *   w3  text length (bits 0..15), level (16..23), facility (24..31)
 *   w4  thread id (bits 0..31), cpu (32..47), flags (48..63)
 *
 * States of a record (the state word):
 *
 *   anything else      the space is reserved and being written, or holds
 *                      bytes of an older lap: not readable, not passable
 *   pos | RESERVED     a writer owns it and is writing it
 *   pos | COMMITTED    finished: readable, and passable by tail
 *   pos | DISCARDED    finished without a record: passable, skipped by
 *                      readers, who count its seq as one lost record
 *
 * Because the state word holds the full position, a stale header from an
 * earlier lap (position smaller by a multiple of the size) never looks
 * finished at the current position.
 *
 * Invariants
 *
 *   - tail <= head, and head - tail <= size.
 *   - Every record in [tail, head) has been reserved; its bytes are written
 *     only by its own writer, and only while tail <= its position.
 *   - A writer stores into [p, p + len) only after it has seen tail at or
 *     past p + len - size: the records it overwrites are all before tail.
 *   - tail moves only over finished records (COMMITTED or DISCARDED), and
 *     when it must move, it moves slack bytes (size/64, at most 8 KiB)
 *     further than needed, to spare writers its cache line.
 *     The oldest record still being written therefore pins tail; a writer
 *     that would need to pass it is refused (-ENOBUFS) instead of waiting.
 *   - seq increases by exactly one per reservation, in position order.
 *
 * Reading (seqlock-style, with tail as the sequence)
 *
 *   A reader at position q checks that the state word says q | COMMITTED
 *   (acquire: the text is complete), copies the record, then re-reads tail.
 *   If tail is still <= q, no writer had started to overwrite the record
 *   when the copy ended, so the copy is exact; otherwise it is discarded and
 *   the reader jumps to tail, counting the bytes it skipped and, from the
 *   next record's seq, the records. The proof is at LMM(ncx_ring_read:C).
 *
 * Waiting
 *
 *   Readers that are not log consoles may sleep instead of polling:
 *   ncx_ring_wait() (a futex on wait_gen) or, for a reader that also
 *   polls sockets, an eventfd registered with ncx_ring_notify_add() and
 *   armed around each poll. A reader announces itself in waiters, then
 *   looks at head; a writer, after finishing a record, loads waiters and
 *   wakes only if it is not zero: one plain load per record (on x86), no
 *   system call unless someone sleeps. Why no wake-up is lost for longer
 *   than a 1 ms nap: LMM(ring_wake_if:A).
 *
 * Known limits
 *
 *   - head keeps only 32 bits of seq and of position/8. Widening is exact
 *     while every thread that holds a stale head value is less than 2^32
 *     records and 32 GiB behind; a writer preempted that long fails its
 *     compare-and-swap (head moved), unless the packed word came round to
 *     the very same value in between, which needs 2^32 records of one
 *     total length.
 *   - A stale header is told from a live one by its state word alone. A
 *     writer that reserved the oldest record and was then stalled for a
 *     whole lap, before writing the header, leaves old bytes there; if those
 *     happened to equal the exact 64-bit state word expected, tail could
 *     pass the stalled record. This needs both a full-lap stall and an
 *     8-byte coincidence at a position the text cannot know.
 *
 * Usage
 *
 *	static uint64_t mem[(1 << 20) / 8];
 *	struct ncx_ring ring;
 *	ncx_ring_init(&ring, mem, sizeof(mem));
 *
 *	// any thread, any time (also in a signal handler):
 *	struct ncx_ring_meta m = { .ts_usec = now, .level = 6, .tid = tid };
 *	ncx_ring_write(&ring, &m, "hello", 5, NULL);
 *
 *	// a reader, at its own pace:
 *	struct ncx_ring_reader rd;
 *	struct ncx_ring_rec rec;
 *	char text[1024];
 *	ncx_ring_reader_init(&ring, &rd, NCX_RING_OLDEST);
 *	while (ncx_ring_read(&ring, &rd, &rec, text, sizeof(text)) == 1) {
 *		if (rec.lost_records)
 *			report_gap(rec.lost_records, rec.lost_bytes);
 *		use(&rec, text, rec.text_len);
 *	}
 */
#include "ncx/ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum {
	ST_RESERVED = 1,
	ST_COMMITTED = 2,
	ST_DISCARDED = 3,
	ST_MASK = 7,
};

#define HINT_POS_SHIFT 27	/* move hint_pos when a record crosses a 128 MiB line */
#define HINT_SEQ_SHIFT 24	/* move hint_seq every 16 Mi records */

static inline _Atomic uint64_t *word_at(struct ncx_ring *r, uint64_t pos)
{
	return &r->words[(pos >> 3) & r->word_mask];
}

static inline uint64_t pack_head(uint64_t pos, uint64_t seq)
{
	return (seq << 32) | (uint32_t)(pos >> 3);
}

/* Widen a packed head against the hints; see the DOC overview. */
static inline void unpack_head(uint64_t h, uint64_t hpos, uint64_t hseq, uint64_t *pos,
			       uint64_t *seq)
{
	uint32_t dpos = (uint32_t)h - (uint32_t)(hpos >> 3);
	uint32_t dseq = (uint32_t)(h >> 32) - (uint32_t)hseq;

	*pos = hpos + ((uint64_t)dpos << 3);
	*seq = hseq + dseq;
}

/* Load head and widen it. */
static void load_head(struct ncx_ring *r, uint64_t *packed, uint64_t *pos, uint64_t *seq)
{
	/*
	 * LMM(load_head:A)
	 *
	 * Acquire the hints before loading head; pairs with
	 * LMM(raise_hint:A). The writer that raised a hint had already moved
	 * head to or past it, so our head load below cannot see an older head
	 * than that: the 32-bit distance from the hint is never negative.
	 */
	uint64_t hpos = atomic_load_explicit(&r->hint_pos, memory_order_acquire);
	uint64_t hseq = atomic_load_explicit(&r->hint_seq, memory_order_acquire);
	uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);

	unpack_head(h, hpos, hseq, pos, seq);
	if (packed)
		*packed = h;
}

/* Move a hint forward to v (never back). Rare: once per 2^27 bytes or 2^24 records. */
static void raise_hint(_Atomic uint64_t *hint, uint64_t v)
{
	uint64_t old = atomic_load_explicit(hint, memory_order_relaxed);

	/*
	 * LMM(raise_hint:A)
	 *
	 * Release: our head compare-and-swap, which made head >= v, is
	 * ordered before the new hint. Pairs with LMM(load_head:A).
	 */
	while ((int64_t)(v - old) > 0 &&
	       !atomic_compare_exchange_weak_explicit(hint, &old, v, memory_order_release,
						      memory_order_relaxed))
		;
}

int ncx_ring_init(struct ncx_ring *r, void *mem, size_t size)
{
	uint32_t order = 0;

	if (!mem || ((uintptr_t)mem & 7) || size == 0 || (size & (size - 1)))
		return -EINVAL;
	while (((size_t)1 << order) < size)
		order++;
	if (order < NCX_RING_MIN_ORDER || order > NCX_RING_MAX_ORDER)
		return -EINVAL;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->hint_pos, 0);
	atomic_init(&r->hint_seq, 0);
	atomic_init(&r->refused, 0);
	atomic_init(&r->waiters, 0);
	atomic_init(&r->wait_gen, 0);
	atomic_init(&r->notifying, 0);
	for (int i = 0; i < NCX_RING_NOTIFY_MAX; i++)
		atomic_init(&r->notify[i], 0);
	r->words = mem;
	r->size = size;
	r->word_mask = size / 8 - 1;
	r->order = order;
	r->text_max = (uint32_t)(size / 4 - NCX_RING_HDR_BYTES);
	r->slack = (uint32_t)(size / 64 < 8192 ? size / 64 : 8192);
	if (r->text_max > NCX_RING_TEXT_MAX)
		r->text_max = NCX_RING_TEXT_MAX;
	return 0;
}

/* Text length stored in a header's w3. */
static inline uint32_t w3_text_len(uint64_t w3)
{
	return (uint32_t)(w3 & 0xffff);
}

/*
 * Make tail >= need by passing finished records. Returns 0, or -ENOBUFS if
 * the oldest record is still being written. Loads tail at least once: the
 * caller relies on that load (LMM(ncx_ring_reserve:B)).
 *
 * When it has to move tail at all, it moves it r->slack bytes further than
 * needed, so that writers touch tail (a line they would otherwise all
 * write on every record once the ring is full) once per slack bytes, not
 * once per record. Those few oldest records are given up a little early.
 * It walks the records first and moves tail once, with one
 * compare-and-swap for the whole stretch: one per record (~80 per push
 * with small records) made the line bounce between two writers, each of
 * them also reading tail on every record.
 */
static int push_tail(struct ncx_ring *r, uint64_t need)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t want = need + r->slack;

	while ((int64_t)(need - t) > 0) {
		uint64_t q = t;

		/* want <= the caller's position (slack + a record <= size), so
		 * every record passed below has been reserved by someone. */
		while ((int64_t)(want - q) > 0) {
			/*
			 * LMM(push_tail:A)
			 *
			 * Acquire each record's state word; pairs with
			 * LMM(ncx_ring_commit:A) / LMM(ncx_ring_discard:A), so
			 * its w3 (which gives its length) is the one its
			 * writer stored.
			 */
			uint64_t w0 = atomic_load_explicit(word_at(r, q), memory_order_acquire);
			uint64_t st = w0 & ST_MASK;

			if ((w0 & ~(uint64_t)ST_MASK) != q || (st != ST_COMMITTED && st != ST_DISCARDED))
				break;
			uint64_t w3 = atomic_load_explicit(word_at(r, q + 24), memory_order_relaxed);

			q += ncx_ring_rec_bytes(w3_text_len(w3));
			/* Written a lap ago, so likely cold: fetch it early. */
			__builtin_prefetch(word_at(r, q));
		}
		if ((int64_t)(need - q) > 0) {
			/* The oldest unfinished record is before need. Someone
			 * may have passed it meanwhile: look again only then. */
			uint64_t now = atomic_load_explicit(&r->tail, memory_order_relaxed);

			if (now == t)
				return -ENOBUFS;
			t = now;
			continue;
		}
		/*
		 * LMM(push_tail:B)
		 *
		 * Relaxed is enough: if tail is still t, nobody passed any
		 * record in [t, q), so nobody overwrote one and every header
		 * read above was intact. Readers learn of the move through
		 * LMM(ncx_ring_read:C), which orders by the overwriting
		 * writer's fence, not by this store. On failure t is reloaded
		 * and the loop checks again.
		 */
		if (atomic_compare_exchange_strong_explicit(&r->tail, &t, q, memory_order_relaxed,
							    memory_order_relaxed))
			return 0;
	}
	return 0;	/* someone else made the room */
}

int ncx_ring_reserve(struct ncx_ring *r, size_t len, struct ncx_ring_resv *resv)
{
	uint64_t bytes, h, pos, seq;
	int err;

	if (len > r->text_max)
		return -EMSGSIZE;
	bytes = ncx_ring_rec_bytes(len);
	/*
	 * LMM(ncx_ring_reserve:C)
	 *
	 * Acquire the hints before reading head, as LMM(load_head:A); pairs
	 * with LMM(raise_hint:A). Head is then never behind them, here or in
	 * the value a failed compare-and-swap below returns. Head itself is
	 * read with a plain load, not an owning read (a locked add of 0, a
	 * second locked instruction per record): on a bare shared counter,
	 * two threads in a tight loop took 73 ns per load + compare-and-swap
	 * on this project's 2-CPU machine, 112-122 per locked add + CAS;
	 * in the log core's benchmark the two were within its noise
	 * (bench/README.md, log core).
	 */
	uint64_t hpos = atomic_load_explicit(&r->hint_pos, memory_order_acquire);
	uint64_t hseq = atomic_load_explicit(&r->hint_seq, memory_order_acquire);

	h = atomic_load_explicit(&r->head, memory_order_relaxed);
	for (;;) {
		unpack_head(h, hpos, hseq, &pos, &seq);
		/* Make room: everything before pos + bytes - size gets overwritten. */
		if (pos + bytes > r->size) {
			err = push_tail(r, pos + bytes - r->size);
			if (err) {
				atomic_fetch_add_explicit(&r->refused, 1, memory_order_relaxed);
				return err;
			}
		}
		/*
		 * LMM(ncx_ring_reserve:A)
		 *
		 * Claim [pos, pos + bytes) and seq in one step. The space
		 * was made free by tail (checked above), not by head;
		 * ordering against readers is LMM(ncx_ring_reserve:B). On
		 * failure h is head's current value (never behind the hints
		 * read above: see LMM(ncx_ring_reserve:C)). seq_cst for
		 * LMM(ring_wake_if:A) only (on x86 the same instruction as
		 * relaxed: a locked compare-and-swap).
		 */
		if (atomic_compare_exchange_weak_explicit(&r->head, &h, pack_head(pos + bytes, seq + 1),
							  memory_order_seq_cst, memory_order_relaxed))
			break;
	}
	if (((pos + bytes) >> HINT_POS_SHIFT) != (pos >> HINT_POS_SHIFT))
		raise_hint(&r->hint_pos, pos + bytes);
	if (((seq + 1) >> HINT_SEQ_SHIFT) != (seq >> HINT_SEQ_SHIFT))
		raise_hint(&r->hint_seq, seq + 1);

	/*
	 * LMM(ncx_ring_reserve:B)
	 *
	 * Release fence: our load of tail that showed the room (in
	 * push_tail(), or the ring was not yet full) is ordered before every
	 * store we make into the buffer from here on. Pairs with
	 * LMM(ncx_ring_read:C): a reader that copies any word we store will
	 * then see tail past the record it was copying.
	 */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(word_at(r, pos), pos | ST_RESERVED, memory_order_relaxed);
	resv->pos = pos;
	resv->seq = seq;
	resv->text_len = (uint32_t)len;
	return 0;
}

void ncx_ring_fill(struct ncx_ring *r, const struct ncx_ring_resv *resv, size_t off,
		   const void *text, size_t len)
{
	const unsigned char *s = text;
	uint64_t p = resv->pos + NCX_RING_HDR_BYTES + off;

	if (off > resv->text_len || len > resv->text_len - off)
		return;		/* a caller bug; never write outside the reservation */
	/* Head of an unaligned start: merge into the word already there. */
	while (len && (p & 7)) {
		_Atomic uint64_t *w = word_at(r, p);
		uint64_t v = atomic_load_explicit(w, memory_order_relaxed);
		unsigned sh = (unsigned)(p & 7) * 8;

		v = (v & ~((uint64_t)0xff << sh)) | ((uint64_t)*s << sh);
		atomic_store_explicit(w, v, memory_order_relaxed);
		s++, p++, len--;
	}
	/* Whole words: walk the word index (it wraps with the buffer). */
	_Atomic uint64_t *words = r->words;
	uint64_t i = p >> 3, mask = r->word_mask;

	for (; len >= 8; s += 8, len -= 8, i++) {
		uint64_t v;

		memcpy(&v, s, 8);
		atomic_store_explicit(&words[i & mask], v, memory_order_relaxed);
	}
	if (len) {
		uint64_t v = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		if (s - (const unsigned char *)text >= 8) {
			/* The last 8 bytes of the text, shifted down: one load
			 * instead of a byte loop, never reading outside it. */
			memcpy(&v, s + len - 8, 8);
			v >>= (8 - len) * 8;
		} else
#endif
			memcpy(&v, s, len);
		atomic_store_explicit(&words[i & mask], v, memory_order_relaxed);
	}
}

/* ---- waiting ------------------------------------------------------------ */

/* Async-signal-safe: two system calls and atomics; errno is kept. */
static void ring_futex_wake(struct ncx_ring *r)
{
	int saved = errno;

	atomic_fetch_add_explicit(&r->wait_gen, 1, memory_order_relaxed);
	/* Not FUTEX_PRIVATE: a ring may live in memory shared between processes. */
	syscall(SYS_futex, (uint32_t *)&r->wait_gen, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	/*
	 * LMM(ring_futex_wake:A)
	 *
	 * seq_cst raise of notifying before loading the fds; pairs with
	 * LMM(ncx_ring_notify_del:A) (clear the slot, then load notifying):
	 * either we see the slot cleared, or the remover sees us and waits.
	 */
	atomic_fetch_add_explicit(&r->notifying, 1, memory_order_seq_cst);
	for (int i = 0; i < NCX_RING_NOTIFY_MAX; i++) {
		int fd1 = atomic_load_explicit(&r->notify[i], memory_order_seq_cst);
		uint64_t one = 1;

		if (fd1 && write(fd1 - 1, &one, sizeof(one)) < 0) {
			/* EAGAIN: the counter is full, the reader will wake anyway. */
		}
	}
	atomic_fetch_sub_explicit(&r->notifying, 1, memory_order_release);
	errno = saved;
}

int ncx_ring_notify_add(struct ncx_ring *r, int fd)
{
	if (fd < 0)
		return -EINVAL;
	for (int i = 0; i < NCX_RING_NOTIFY_MAX; i++)
		if (atomic_load(&r->notify[i]) == fd + 1)
			return -EEXIST;
	for (int i = 0; i < NCX_RING_NOTIFY_MAX; i++) {
		int free_slot = 0;

		if (atomic_compare_exchange_strong(&r->notify[i], &free_slot, fd + 1))
			return 0;
	}
	return -ENOSPC;
}

void ncx_ring_notify_del(struct ncx_ring *r, int fd)
{
	for (int i = 0; i < NCX_RING_NOTIFY_MAX; i++) {
		int want = fd + 1;

		atomic_compare_exchange_strong(&r->notify[i], &want, 0);
	}
	/* LMM(ncx_ring_notify_del:A): see LMM(ring_futex_wake:A). */
	while (atomic_load_explicit(&r->notifying, memory_order_seq_cst)) {
		struct timespec ts = { 0, 100000 };

		nanosleep(&ts, NULL);
	}
}

/*
 * A writer just finished a record: wake sleeping readers, if any.
 *
 * LMM(ring_wake_if:A)
 *
 * seq_cst load of waiters, after our seq_cst head compare-and-swap
 * (LMM(ncx_ring_reserve:A)); pairs with LMM(ncx_ring_wait:A), which
 * raises waiters, then loads head, both seq_cst. In the single total order
 * either our load comes after their raise (we see a waiter and wake it,
 * after the record is finished) or their head load comes after our
 * compare-and-swap (they see head moved and do not sleep for long). So a
 * reader never sleeps through a record for its whole timeout. On x86 the
 * load is a plain load: a writer pays one load of a line that is written
 * only when readers start or stop waiting.
 */
static inline void ring_wake_if(struct ncx_ring *r)
{
	if (__builtin_expect(atomic_load_explicit(&r->waiters, memory_order_seq_cst) != 0, 0))
		ring_futex_wake(r);
}

void ncx_ring_wake(struct ncx_ring *r)
{
	ring_futex_wake(r);
}

static bool finished_at(struct ncx_ring *r, uint64_t pos)
{
	uint64_t w0 = atomic_load_explicit(word_at(r, pos), memory_order_acquire);

	return (w0 & ~(uint64_t)ST_MASK) == pos &&
	       ((w0 & ST_MASK) == ST_COMMITTED || (w0 & ST_MASK) == ST_DISCARDED);
}

static uint64_t head_pos_sc(struct ncx_ring *r)
{
	uint64_t hpos = atomic_load_explicit(&r->hint_pos, memory_order_acquire);
	uint64_t hseq = atomic_load_explicit(&r->hint_seq, memory_order_acquire);
	uint64_t h = atomic_load_explicit(&r->head, memory_order_seq_cst), pos, seq;

	unpack_head(h, hpos, hseq, &pos, &seq);
	return pos;
}

/*
 * Announce a waiter, then look at pos: 1 if there is a finished record (or
 * writers overtook pos), 0 if there is nothing (sleep until woken), 2 if a
 * writer is mid-record there (it wakes waiters when it finishes, if it saw
 * us; if its finish raced with our announcement, only a short nap is safe).
 */
static int arm(struct ncx_ring *r, uint64_t pos)
{
	/* LMM(ncx_ring_wait:A): see LMM(ring_wake_if:A). */
	atomic_fetch_add_explicit(&r->waiters, 1, memory_order_seq_cst);
	if (head_pos_sc(r) == pos)
		return 0;
	if (finished_at(r, pos) ||
	    (int64_t)(atomic_load_explicit(&r->tail, memory_order_relaxed) - pos) > 0)
		return 1;
	return 2;
}

int ncx_ring_wait_arm(struct ncx_ring *r, uint64_t pos)
{
	return arm(r, pos);
}

void ncx_ring_wait_disarm(struct ncx_ring *r)
{
	atomic_fetch_sub_explicit(&r->waiters, 1, memory_order_relaxed);
}

int ncx_ring_wait(struct ncx_ring *r, uint64_t pos, int timeout_ms)
{
	uint32_t gen = atomic_load_explicit(&r->wait_gen, memory_order_relaxed);
	long ms = timeout_ms;

	switch (arm(r, pos)) {
	case 1:
		ms = 0;
		break;
	case 2:
		if (ms < 0 || ms > 1)
			ms = 1;
		break;
	default:
		break;
	}
	if (ms != 0) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

		syscall(SYS_futex, (uint32_t *)&r->wait_gen, FUTEX_WAIT, gen, ms < 0 ? NULL : &ts,
			NULL, 0);
	}
	atomic_fetch_sub_explicit(&r->waiters, 1, memory_order_relaxed);
	return head_pos_sc(r) != pos;
}

void ncx_ring_commit(struct ncx_ring *r, const struct ncx_ring_resv *resv,
		     const struct ncx_ring_meta *m)
{
	uint64_t p = resv->pos;

	atomic_store_explicit(word_at(r, p + 8), resv->seq, memory_order_relaxed);
	atomic_store_explicit(word_at(r, p + 16), m->ts_usec, memory_order_relaxed);
	atomic_store_explicit(word_at(r, p + 24),
			      (uint64_t)resv->text_len | (uint64_t)(m->level & 7) << 16 |
				      (uint64_t)m->facility << 24,
			      memory_order_relaxed);
	atomic_store_explicit(word_at(r, p + 32),
			      (uint64_t)m->tid | (uint64_t)m->cpu << 32 | (uint64_t)m->flags << 48,
			      memory_order_relaxed);
	/*
	 * LMM(ncx_ring_commit:A)
	 *
	 * Release: header and text are complete before the record shows as
	 * COMMITTED. Pairs with LMM(ncx_ring_read:A) (readers copy it) and
	 * LMM(push_tail:A) (writers read its length to pass it).
	 */
	atomic_store_explicit(word_at(r, p), p | ST_COMMITTED, memory_order_release);
	ring_wake_if(r);
}

void ncx_ring_discard(struct ncx_ring *r, const struct ncx_ring_resv *resv)
{
	uint64_t p = resv->pos;
	uint64_t w0 = atomic_load_explicit(word_at(r, p), memory_order_relaxed);

	/* Already finished (a crash handler may call this on a reservation
	 * its thread had just committed): leave it. Only the owner writes
	 * this record, so the relaxed load sees the owner's own store. */
	if (w0 == (p | ST_COMMITTED) || w0 == (p | ST_DISCARDED))
		return;
	atomic_store_explicit(word_at(r, p + 8), resv->seq, memory_order_relaxed);
	atomic_store_explicit(word_at(r, p + 24), (uint64_t)resv->text_len, memory_order_relaxed);
	/*
	 * LMM(ncx_ring_discard:A)
	 *
	 * Release, as LMM(ncx_ring_commit:A): the length in w3 is visible to
	 * whoever sees DISCARDED. Pairs with LMM(push_tail:A) and
	 * LMM(ncx_ring_read:A).
	 */
	atomic_store_explicit(word_at(r, p), p | ST_DISCARDED, memory_order_release);
	ring_wake_if(r);
}

int ncx_ring_write(struct ncx_ring *r, const struct ncx_ring_meta *meta, const void *text,
		   size_t len, uint64_t *seq)
{
	struct ncx_ring_resv resv;
	int err = ncx_ring_reserve(r, len, &resv);

	if (err)
		return err;
	ncx_ring_fill(r, &resv, 0, text, len);
	ncx_ring_commit(r, &resv, meta);
	if (seq)
		*seq = resv.seq;
	return 0;
}

/* Copy len bytes of stream from position p (relaxed word loads). */
static void copy_out(struct ncx_ring *r, uint64_t p, unsigned char *out, size_t len)
{
	while (len) {
		uint64_t v = atomic_load_explicit(word_at(r, p), memory_order_relaxed);
		size_t n = len < 8 ? len : 8;

		memcpy(out, &v, n);
		out += n, p += 8, len -= n;
	}
}

/* The reader fell behind tail: jump there and remember what was skipped. */
static void catch_up(struct ncx_ring_reader *rd, uint64_t t)
{
	if ((int64_t)(t - rd->pos) > 0) {
		rd->pending_lost_bytes += t - rd->pos;
		rd->pos = t;
	}
}

int ncx_ring_read(struct ncx_ring *r, struct ncx_ring_reader *rd, struct ncx_ring_rec *rec,
		  void *text, size_t cap)
{
	for (;;) {
		uint64_t hpos, hseq, w0, w[4], t;
		uint32_t len;
		uint64_t q = rd->pos;

		catch_up(rd, atomic_load_explicit(&r->tail, memory_order_relaxed));
		q = rd->pos;
		load_head(r, NULL, &hpos, &hseq);
		if ((int64_t)(hpos - q) <= 0)
			return 0;
		/*
		 * LMM(ncx_ring_read:A)
		 *
		 * Acquire the state word; pairs with LMM(ncx_ring_commit:A)
		 * and LMM(ncx_ring_discard:A): seeing the record finished, we
		 * see all the words its writer stored before finishing it.
		 */
		w0 = atomic_load_explicit(word_at(r, q), memory_order_acquire);
		if ((w0 & ~(uint64_t)ST_MASK) != q ||
		    ((w0 & ST_MASK) != ST_COMMITTED && (w0 & ST_MASK) != ST_DISCARDED)) {
			/* Still being written, or overwritten since we looked at tail. */
			if ((int64_t)(atomic_load_explicit(&r->tail, memory_order_relaxed) - q) > 0)
				continue;
			return 0;
		}
		for (int i = 0; i < 4; i++)
			w[i] = atomic_load_explicit(word_at(r, q + 8 + 8 * (uint64_t)i),
						    memory_order_relaxed);
		len = w3_text_len(w[2]);
		if ((w0 & ST_MASK) == ST_COMMITTED)
			copy_out(r, q + NCX_RING_HDR_BYTES, text, len < cap ? len : cap);
		/*
		 * LMM(ncx_ring_read:C)
		 *
		 * Acquire fence, then re-check tail: the seqlock re-check.
		 * Pairs with LMM(ncx_ring_reserve:B). If any word we copied
		 * was stored by a writer of a later lap, that writer's fence
		 * synchronizes with ours, so its earlier load of tail (which
		 * showed tail past this record) happens before our load below,
		 * and by coherence we see tail past q too. Tail still <= q
		 * therefore means the copy holds only this record's bytes.
		 */
		atomic_thread_fence(memory_order_acquire);
		t = atomic_load_explicit(&r->tail, memory_order_relaxed);
		if ((int64_t)(t - q) > 0)
			continue;	/* torn: never handed out; catch_up() counts it */

		rd->pos = q + ncx_ring_rec_bytes(len);
		if ((w0 & ST_MASK) == ST_DISCARDED) {
			/* Its seq stays "expected", so the next record reports it lost. */
			rd->pending_lost_bytes += ncx_ring_rec_bytes(len);
			continue;
		}
		rec->pos = q;
		rec->seq = w[0];
		rec->meta.ts_usec = w[1];
		rec->meta.level = (uint8_t)((w[2] >> 16) & 7);
		rec->meta.facility = (uint8_t)(w[2] >> 24);
		rec->meta.tid = (uint32_t)w[3];
		rec->meta.cpu = (uint16_t)(w[3] >> 32);
		rec->meta.flags = (uint16_t)(w[3] >> 48);
		rec->text_len = len;
		rec->lost_records = rd->seq_known ? rec->seq - rd->seq : 0;
		rec->lost_bytes = rd->pending_lost_bytes;
		rd->lost_records += rec->lost_records;
		rd->lost_bytes += rec->lost_bytes;
		rd->pending_lost_bytes = 0;
		rd->seq = rec->seq + 1;
		rd->seq_known = true;
		return 1;
	}
}

void ncx_ring_reader_init(struct ncx_ring *r, struct ncx_ring_reader *rd, enum ncx_ring_from from)
{
	memset(rd, 0, sizeof(*rd));
	for (;;) {
		uint64_t hpos, hseq, t, w0, seq;

		load_head(r, NULL, &hpos, &hseq);
		t = atomic_load_explicit(&r->tail, memory_order_relaxed);
		if (from == NCX_RING_NEWEST || (int64_t)(hpos - t) <= 0) {
			rd->pos = hpos;
			rd->seq = hseq;
			rd->seq_known = true;
			return;
		}
		/*
		 * Start at the oldest record; its seq is in its header, read
		 * the way ncx_ring_read() reads. If the oldest record is
		 * unfinished, the first record read sets the seq, and no
		 * records are counted lost before it (bytes still are).
		 */
		rd->pos = t;
		rd->seq_known = false;
		/* LMM(ncx_ring_reader_init:A): as LMM(ncx_ring_read:A). */
		w0 = atomic_load_explicit(word_at(r, t), memory_order_acquire);
		seq = atomic_load_explicit(word_at(r, t + 8), memory_order_relaxed);
		/* LMM(ncx_ring_reader_init:B): as LMM(ncx_ring_read:C). */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&r->tail, memory_order_relaxed) != t)
			continue;	/* overwritten meanwhile: try the new oldest */
		if ((w0 & ~(uint64_t)ST_MASK) != t || (w0 & ST_MASK) < ST_COMMITTED)
			return;
		rd->seq = seq;
		rd->seq_known = true;
		return;
	}
}

uint64_t ncx_ring_head(struct ncx_ring *r)
{
	uint64_t pos, seq;

	load_head(r, NULL, &pos, &seq);
	return pos;
}

uint64_t ncx_ring_next_seq(struct ncx_ring *r)
{
	uint64_t pos, seq;

	load_head(r, NULL, &pos, &seq);
	return seq;
}

uint64_t ncx_ring_tail(struct ncx_ring *r)
{
	return atomic_load_explicit(&r->tail, memory_order_relaxed);
}

uint64_t ncx_ring_refused(struct ncx_ring *r)
{
	return atomic_load_explicit(&r->refused, memory_order_relaxed);
}
