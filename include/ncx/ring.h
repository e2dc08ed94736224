/* SPDX-License-Identifier: MIT */
/*
 * ring: the log as an endless byte stream, lock-free, many writers and many
 * readers, fixed memory. See the DOC comment at the top of lib/ring.c for the
 * design, the states and the memory-ordering argument.
 *
 * Positions. A position is a 64-bit number naming one byte of the stream,
 * counted from the first byte ever written. For a buffer of 2^k bytes:
 *
 *     bits 63..k   how many times the buffer has wrapped (ncx_ring_wraps())
 *     bits k-1..0  the byte offset inside the buffer     (ncx_ring_offset())
 *
 * With the default 16 MiB buffer, k = 24: 24 offset bits, 40 wrap bits.
 * Records start on 8-byte boundaries, so every record position is a
 * multiple of 8.
 *
 * Records carry a seq (+1 per record, in position order), a time in
 * microseconds given by the caller (the ring reads no clock), a level,
 * facility, CPU, thread id, 16 flag bits and the text.
 *
 * Writers never wait: when the buffer is full they overwrite the oldest
 * records. Readers hold their own position and learn exactly how many
 * records and bytes they lost if writers overtook them. A record that is
 * overwritten while a reader copies it is reported as lost, never handed
 * out torn.
 *
 * Every function here is lock-free, allocates nothing and is
 * async-signal-safe. None makes a system call, with two exceptions:
 * ncx_ring_wait() sleeps (a futex), and a writer that finishes a record
 * while some reader sleeps there wakes it (one futex wake; writers pay
 * nothing else for the feature, and nothing at all when nobody waits).
 */
#ifndef NCX_RING_H
#define NCX_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCX_RING_MIN_ORDER 12		/* 4 KiB */
#define NCX_RING_MAX_ORDER 30		/* 1 GiB */
#define NCX_RING_DEFAULT_ORDER 24	/* 16 MiB */
#define NCX_RING_HDR_BYTES 40		/* per-record header, in the buffer */
#define NCX_RING_TEXT_MAX 65535		/* also at most (buffer size / 4) - header */
#define NCX_RING_NOTIFY_MAX 4		/* eventfds a ring can signal (ncx_ring_notify_add()) */

/* Per-record metadata: what a writer gives, what a reader gets back. */
struct ncx_ring_meta {
	uint64_t ts_usec;	/* caller's clock; the ring never reads one */
	uint32_t tid;		/* thread id of the writer */
	uint16_t cpu;		/* CPU the record was written on */
	uint16_t flags;		/* free for the user of the ring (the log core: ratelimit outcome) */
	uint8_t level;		/* 0..7 */
	uint8_t facility;	/* 0..23 */
};

/* One record as a reader sees it. */
struct ncx_ring_rec {
	uint64_t pos;		/* position of the record's first byte */
	uint64_t seq;
	struct ncx_ring_meta meta;
	size_t text_len;	/* full text length (the copy may have been cut to the caller's cap) */
	uint64_t lost_records;	/* records this reader missed just before this one */
	uint64_t lost_bytes;	/* bytes of the stream it skipped just before this one */
};

/*
 * The ring. All fields are private; the struct is public only so that it can
 * live in static storage. head packs the low 32 bits of the next seq with
 * the low 32 bits of (next position / 8); hint_* carry the full 64-bit
 * values it is widened against. See lib/ring.c.
 */
struct ncx_ring {
	/* Three cache lines: the two that every writer writes, and one that
	 * is read on every call but written rarely. */
	alignas(64) _Atomic uint64_t head;	/* packed: next seq (hi 32), next pos/8 (lo 32) */
	alignas(64) _Atomic uint64_t tail;	/* oldest position that is still intact */
	alignas(64) _Atomic uint64_t hint_pos;	/* a full position <= head, < 2^35 bytes behind */
	_Atomic uint64_t hint_seq;		/* a full seq <= next seq, < 2^32 behind */
	_Atomic uint64_t refused;		/* writes refused: oldest record unfinished */
	_Atomic uint32_t waiters;		/* readers in ncx_ring_wait() or armed */
	_Atomic uint32_t wait_gen;		/* the futex they sleep on */
	_Atomic uint32_t notifying;		/* writers writing to notify fds right now */
	_Atomic int notify[NCX_RING_NOTIFY_MAX];	/* eventfd + 1; 0: free */
	_Atomic uint64_t *words;		/* the buffer, as 64-bit words */
	uint64_t size;				/* bytes, a power of two */
	uint64_t word_mask;			/* size / 8 - 1 */
	uint32_t order;				/* log2(size) */
	uint32_t text_max;			/* longest text one record may hold */
	uint32_t slack;				/* tail, when pushed, goes this much further */
};

/* A writer's claim on space, between ncx_ring_reserve() and ncx_ring_commit(). */
struct ncx_ring_resv {
	uint64_t pos;
	uint64_t seq;
	uint32_t text_len;
};

/* Where a new reader starts. */
enum ncx_ring_from {
	NCX_RING_OLDEST,	/* the oldest intact record: replay what is there */
	NCX_RING_NEWEST,	/* the next record written from now on */
};

/* A reader's state. Owned by one reader at a time; no sharing needed. */
struct ncx_ring_reader {
	uint64_t pos;		/* next position to read */
	uint64_t seq;		/* seq expected at pos (valid if seq_known) */
	bool seq_known;		/* false only for a reader that started at OLDEST on a busy ring */
	uint64_t pending_lost_bytes; /* skipped, not yet reported on a record */
	uint64_t lost_records;	/* totals over the reader's life */
	uint64_t lost_bytes;
};

/*
 * Set up a ring over mem, which the caller owns: size bytes, a power of two
 * between 2^NCX_RING_MIN_ORDER and 2^NCX_RING_MAX_ORDER, 8-byte aligned, and
 * zeroed. Returns 0 or -EINVAL. Not safe against concurrent use of r.
 */
int ncx_ring_init(struct ncx_ring *r, void *mem, size_t size);

/*
 * Write one record: reserve, copy, commit. Returns 0 and stores the record's
 * seq in *seq (if seq is not NULL), or:
 *   -EMSGSIZE  len > r->text_max
 *   -ENOBUFS   the buffer is full and its oldest record is still being
 *              written (a writer stalled for a whole lap of the buffer):
 *              the record is refused and counted in ncx_ring_refused(); it
 *              takes no seq, so readers see no gap for it.
 */
int ncx_ring_write(struct ncx_ring *r, const struct ncx_ring_meta *meta, const void *text,
		   size_t len, uint64_t *seq);

/*
 * The same in three steps, for a writer that wants to fill the text itself
 * or be able to abandon a reservation (the log core's crash path does).
 * ncx_ring_reserve() returns as ncx_ring_write() does. After it, the caller
 * must end the reservation with exactly one of ncx_ring_commit() or
 * ncx_ring_discard(), or readers stop at it until a writer overwrites it.
 */
int ncx_ring_reserve(struct ncx_ring *r, size_t len, struct ncx_ring_resv *resv);
/* Copy len bytes of text to offset off of the reservation. Several fills
 * may build the text, in increasing offset order (a fill may zero the rest
 * of its last 8-byte word). Bytes outside the reservation are never touched. */
void ncx_ring_fill(struct ncx_ring *r, const struct ncx_ring_resv *resv, size_t off,
		   const void *text, size_t len);
void ncx_ring_commit(struct ncx_ring *r, const struct ncx_ring_resv *resv,
		     const struct ncx_ring_meta *meta);
/* End a reservation without a record: readers skip it and count it as one
 * lost record. Safe to call on a reservation whose text is half written,
 * and a no-op on one already committed or discarded (by the same thread:
 * a crash handler cleaning up after the code it interrupted). */
void ncx_ring_discard(struct ncx_ring *r, const struct ncx_ring_resv *resv);

/* Start a reader at the oldest intact record or at the next one written. */
void ncx_ring_reader_init(struct ncx_ring *r, struct ncx_ring_reader *rd, enum ncx_ring_from from);

/*
 * Read the record after the reader's position. Returns 1 with *rec filled
 * and min(rec->text_len, cap) bytes of text copied to text; 0 when there is
 * nothing (more) to read yet: the reader is at the head, or the next record
 * is still being written. On a return of 1 the reader has moved past the
 * record, and rec->lost_* say what was lost since the previous one.
 */
int ncx_ring_read(struct ncx_ring *r, struct ncx_ring_reader *rd, struct ncx_ring_rec *rec,
		  void *text, size_t cap);

/*
 * Sleep until there may be a record to read at pos (a reader's rd.pos):
 * until a writer reserves space there and finishes the record, or writers
 * overtake pos. Returns 1 if head has moved past pos (a read may still
 * find the record unfinished for a moment; call again), 0 when timeout_ms
 * (negative: no limit) passed first, or when ncx_ring_wake() was called.
 * For readers that are not log consoles (those are woken by the log core);
 * not async-signal-safe in any useful sense (it blocks).
 */
int ncx_ring_wait(struct ncx_ring *r, uint64_t pos, int timeout_ms);

/* Wake every reader sleeping in ncx_ring_wait() (e.g. to stop one). */
void ncx_ring_wake(struct ncx_ring *r);

/*
 * For a reader that must also poll(2) other fds: register a non-blocking
 * eventfd (EFD_NONBLOCK) that writers signal (write 1) whenever they would
 * wake a waiter; up to NCX_RING_NOTIFY_MAX per ring. Returns 0, -ENOSPC,
 * -EEXIST. ncx_ring_notify_del() returns once no writer can still be
 * writing to fd, so fd may be closed afterwards.
 *
 * Around each poll(2): ncx_ring_wait_arm(r, pos), then poll with the
 * eventfd among the fds, then ncx_ring_wait_disarm(r) (always, whatever arm
 * returned), then drain the eventfd. arm returns 0: nothing at pos yet,
 * sleep as long as you like; 1: a record is finished at pos or writers
 * overtook it: do not sleep; 2: a writer is in the middle of the record at
 * pos: sleep 1 ms at most (it signals when it finishes, but a finish that
 * races with the arm may not). Writers signal only while some reader is
 * armed or waiting.
 */
int ncx_ring_notify_add(struct ncx_ring *r, int fd);
void ncx_ring_notify_del(struct ncx_ring *r, int fd);
int ncx_ring_wait_arm(struct ncx_ring *r, uint64_t pos);
void ncx_ring_wait_disarm(struct ncx_ring *r);

/* Position of the next byte to be reserved, and seq of the next record. */
uint64_t ncx_ring_head(struct ncx_ring *r);
uint64_t ncx_ring_next_seq(struct ncx_ring *r);
/* Oldest position still guaranteed intact. */
uint64_t ncx_ring_tail(struct ncx_ring *r);
/* Writes refused with -ENOBUFS so far. */
uint64_t ncx_ring_refused(struct ncx_ring *r);

static inline uint64_t ncx_ring_offset(const struct ncx_ring *r, uint64_t pos)
{
	return pos & (r->size - 1);
}

static inline uint64_t ncx_ring_wraps(const struct ncx_ring *r, uint64_t pos)
{
	return pos >> r->order;
}

/* Bytes a record with len bytes of text takes in the buffer. */
static inline uint64_t ncx_ring_rec_bytes(size_t len)
{
	return (NCX_RING_HDR_BYTES + (uint64_t)len + 7) & ~(uint64_t)7;
}

#endif /* NCX_RING_H */
