/* SPDX-License-Identifier: MIT */
/*
 * Tests for the lock-free ring (lib/ring.c). The threaded test also runs
 * under TSan: ncx:tsan
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ncx/ring.h"

struct fixture {
	struct ncx_ring ring;
	uint64_t *mem;
};

static struct fixture *mk(size_t size)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->mem = calloc(1, size);
	assert_non_null(f->mem);
	assert_int_equal(ncx_ring_init(&f->ring, f->mem, size), 0);
	return f;
}

static void rm(struct fixture *f)
{
	free(f->mem);
	free(f);
}

static struct ncx_ring_meta meta(uint64_t ts, uint32_t tid, uint8_t level)
{
	struct ncx_ring_meta m = {
		.ts_usec = ts, .tid = tid, .cpu = 3, .flags = 0xabc, .level = level, .facility = 1,
	};
	return m;
}

/* Text of record i: a length that varies with i, content that depends on i. */
static size_t text_for(uint64_t i, char *buf, size_t cap)
{
	size_t len = (size_t)(i * 37 % 200) + 1;

	assert_true(len <= cap);
	for (size_t k = 0; k < len; k++)
		buf[k] = (char)('a' + (i + k) % 26);
	return len;
}

/*
 * The index of the oldest intact record after records starting at
 * pos_of[0..n) (pos_of[n] = the end) were written one after another, by the
 * rule in lib/ring.c: a writer that needs room moves tail over whole
 * records until it is at least slack bytes past what it needed.
 */
static size_t model_oldest(const struct ncx_ring *r, const uint64_t *pos_of, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t need;

		if (pos_of[i + 1] <= r->size)
			continue;
		need = pos_of[i + 1] - r->size;
		if (pos_of[k] >= need)
			continue;
		while (pos_of[k] < need + r->slack && k < i)
			k++;
	}
	return k;
}

static void test_init_rejects_bad_sizes(void **state)
{
	struct ncx_ring r;
	static uint64_t mem[8192 / 8];

	assert_int_equal(ncx_ring_init(&r, mem, 3000), -EINVAL);
	assert_int_equal(ncx_ring_init(&r, mem, 2048), -EINVAL);
	assert_int_equal(ncx_ring_init(&r, (char *)mem + 4, 4096), -EINVAL);
	assert_int_equal(ncx_ring_init(&r, NULL, 4096), -EINVAL);
	assert_int_equal(ncx_ring_init(&r, mem, 8192), 0);
	assert_int_equal(r.order, 13);
}

static void test_position_split(void **state)
{
	struct fixture *f = mk(4096);
	uint64_t pos = 5 * 4096 + 24;

	assert_int_equal(ncx_ring_offset(&f->ring, pos), 24);
	assert_int_equal(ncx_ring_wraps(&f->ring, pos), 5);
	assert_int_equal(ncx_ring_rec_bytes(0), 40);
	assert_int_equal(ncx_ring_rec_bytes(1), 48);
	assert_int_equal(ncx_ring_rec_bytes(8), 48);
	assert_int_equal(ncx_ring_rec_bytes(9), 56);
	rm(f);
}

static void test_roundtrip(void **state)
{
	struct fixture *f = mk(4096);
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	struct ncx_ring_meta m = meta(123456789, 4242, 5);
	char text[64];
	uint64_t seq = 99;

	ncx_ring_reader_init(&f->ring, &rd, NCX_RING_OLDEST);
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, text, sizeof(text)), 0);
	assert_int_equal(ncx_ring_write(&f->ring, &m, "hello", 5, &seq), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(ncx_ring_write(&f->ring, &m, "", 0, &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(ncx_ring_head(&f->ring), 48 + 40);
	assert_int_equal(ncx_ring_next_seq(&f->ring), 2);

	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, text, sizeof(text)), 1);
	assert_int_equal(rec.seq, 0);
	assert_int_equal(rec.pos, 0);
	assert_int_equal(rec.text_len, 5);
	assert_memory_equal(text, "hello", 5);
	assert_int_equal(rec.meta.ts_usec, 123456789);
	assert_int_equal(rec.meta.tid, 4242);
	assert_int_equal(rec.meta.cpu, 3);
	assert_int_equal(rec.meta.flags, 0xabc);
	assert_int_equal(rec.meta.level, 5);
	assert_int_equal(rec.meta.facility, 1);
	assert_int_equal(rec.lost_records, 0);
	assert_int_equal(rec.lost_bytes, 0);
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, text, sizeof(text)), 1);
	assert_int_equal(rec.seq, 1);
	assert_int_equal(rec.pos, 48);
	assert_int_equal(rec.text_len, 0);
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, text, sizeof(text)), 0);
	rm(f);
}

static void test_too_long_and_short_cap(void **state)
{
	struct fixture *f = mk(4096);
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	struct ncx_ring_meta m = meta(1, 1, 1);
	char big[2048], text[8];

	memset(big, 'x', sizeof(big));
	assert_int_equal(f->ring.text_max, 4096 / 4 - 40);
	assert_int_equal(ncx_ring_write(&f->ring, &m, big, f->ring.text_max + 1, NULL), -EMSGSIZE);
	ncx_ring_reader_init(&f->ring, &rd, NCX_RING_OLDEST);
	memcpy(big, "0123456789abcdef", 16);
	assert_int_equal(ncx_ring_write(&f->ring, &m, big, 16, NULL), 0);
	memset(text, '#', sizeof(text));
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, text, 4), 1);
	assert_int_equal(rec.text_len, 16);
	assert_memory_equal(text, "0123####", 8);
	rm(f);
}

/* A reader that keeps up sees every record across many wraps, intact. */
static void test_wrap_keeping_up(void **state)
{
	struct fixture *f = mk(4096);
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	char want[256], got[256];
	uint64_t expect_pos = 0;
	int straddled = 0;

	ncx_ring_reader_init(&f->ring, &rd, NCX_RING_OLDEST);
	for (uint64_t i = 0; i < 1000; i++) {
		struct ncx_ring_meta m = meta(i, 7, (uint8_t)(i % 8));
		size_t len = text_for(i, want, sizeof(want));

		assert_int_equal(ncx_ring_write(&f->ring, &m, want, len, NULL), 0);
		assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
		assert_int_equal(rec.seq, i);
		assert_int_equal(rec.pos, expect_pos);
		assert_int_equal(rec.meta.ts_usec, i);
		assert_int_equal(rec.meta.level, i % 8);
		assert_int_equal(rec.text_len, len);
		assert_memory_equal(got, want, len);
		assert_int_equal(rec.lost_records, 0);
		if (ncx_ring_offset(&f->ring, rec.pos) + ncx_ring_rec_bytes(len) > 4096)
			straddled++;
		expect_pos += ncx_ring_rec_bytes(len);
	}
	assert_true(ncx_ring_wraps(&f->ring, ncx_ring_head(&f->ring)) >= 10);
	assert_true(straddled > 5);	/* records that run over the end were read back too */
	assert_int_equal(rd.lost_records, 0);
	rm(f);
}

/* A reader that fell behind learns exactly what it lost and resumes at the oldest. */
static void test_slow_reader_exact_loss(void **state)
{
	struct fixture *f = mk(4096);
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	char want[256], got[256];
	uint64_t pos_of[301];
	const uint64_t n = 300;

	ncx_ring_reader_init(&f->ring, &rd, NCX_RING_OLDEST);
	pos_of[0] = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct ncx_ring_meta m = meta(i, 7, 6);
		size_t len = text_for(i, want, sizeof(want));

		assert_int_equal(ncx_ring_write(&f->ring, &m, want, len, NULL), 0);
		pos_of[i + 1] = pos_of[i] + ncx_ring_rec_bytes(len);
	}
	/* The oldest intact record: at most a buffer (less the slack) from the end. */
	uint64_t first = model_oldest(&f->ring, pos_of, n);
	assert_true(first > 0);
	assert_true(pos_of[n] - pos_of[first] <= 4096);
	assert_true(pos_of[n] - pos_of[first] >= 4096 - f->ring.slack - 256);
	assert_int_equal(ncx_ring_tail(&f->ring), pos_of[first]);

	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
	assert_int_equal(rec.seq, first);
	assert_int_equal(rec.lost_records, first);
	assert_int_equal(rec.lost_bytes, pos_of[first]);
	for (uint64_t i = first + 1; i < n; i++) {
		size_t len = text_for(i, want, sizeof(want));

		assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
		assert_int_equal(rec.seq, i);
		assert_int_equal(rec.lost_records, 0);
		assert_int_equal(rec.lost_bytes, 0);
		assert_int_equal(rec.text_len, len);
		assert_memory_equal(got, want, len);
	}
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 0);
	assert_int_equal(rd.lost_records, first);
	assert_int_equal(rd.lost_bytes, pos_of[first]);

	/* Fall behind a second time, mid-stream. */
	uint64_t at = rd.pos;
	for (uint64_t i = 0; i < 200; i++) {
		struct ncx_ring_meta m = meta(i, 7, 6);

		assert_int_equal(ncx_ring_write(&f->ring, &m, want, 100, NULL), 0);
	}
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
	assert_int_equal(rec.pos, ncx_ring_tail(&f->ring));
	assert_int_equal(rec.lost_bytes, rec.pos - at);
	assert_int_equal(rec.lost_records, (rec.pos - at) / ncx_ring_rec_bytes(100));
	assert_int_equal(rec.seq, n + rec.lost_records);
	rm(f);
}

static void test_newest_and_oldest_start(void **state)
{
	struct fixture *f = mk(4096);
	struct ncx_ring_reader old, now;
	struct ncx_ring_rec rec;
	struct ncx_ring_meta m = meta(1, 1, 1);
	char got[256];
	uint64_t pos_of[102];

	pos_of[0] = 0;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(ncx_ring_write(&f->ring, &m, "0123456789", 10, NULL), 0);
		pos_of[i + 1] = pos_of[i] + 56;
	}
	size_t oldest = model_oldest(&f->ring, pos_of, 100);
	ncx_ring_reader_init(&f->ring, &old, NCX_RING_OLDEST);
	ncx_ring_reader_init(&f->ring, &now, NCX_RING_NEWEST);
	assert_true(old.seq_known);
	assert_int_equal(old.pos, ncx_ring_tail(&f->ring));
	assert_int_equal(old.pos, pos_of[oldest]);
	assert_int_equal(ncx_ring_read(&f->ring, &now, &rec, got, sizeof(got)), 0);
	assert_int_equal(ncx_ring_read(&f->ring, &old, &rec, got, sizeof(got)), 1);
	assert_int_equal(rec.seq, oldest);
	assert_int_equal(rec.lost_records, 0);	/* it started there: nothing lost for it */

	/* One big record: pushes tail past old's next records. */
	memset(got, 'n', 200);
	assert_int_equal(ncx_ring_write(&f->ring, &m, got, 200, NULL), 0);
	pos_of[101] = pos_of[100] + ncx_ring_rec_bytes(200);
	size_t oldest2 = model_oldest(&f->ring, pos_of, 101);
	assert_true(oldest2 > oldest + 1);
	assert_int_equal(ncx_ring_read(&f->ring, &now, &rec, got, sizeof(got)), 1);
	assert_int_equal(rec.seq, 100);
	assert_int_equal(rec.lost_records, 0);
	assert_int_equal(ncx_ring_read(&f->ring, &old, &rec, got, sizeof(got)), 1);
	assert_int_equal(rec.seq, oldest2);
	assert_int_equal(rec.lost_records, oldest2 - oldest - 1);
	assert_int_equal(rec.lost_bytes, 56 * (oldest2 - oldest - 1));
	rm(f);
}

/* A discarded reservation is skipped and counted as exactly one lost record. */
static void test_discard(void **state)
{
	struct fixture *f = mk(4096);
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	struct ncx_ring_resv resv;
	struct ncx_ring_meta m = meta(1, 1, 1);
	char got[64];

	ncx_ring_reader_init(&f->ring, &rd, NCX_RING_OLDEST);
	assert_int_equal(ncx_ring_write(&f->ring, &m, "a", 1, NULL), 0);
	assert_int_equal(ncx_ring_reserve(&f->ring, 20, &resv), 0);
	ncx_ring_fill(&f->ring, &resv, 0, "half", 4);
	assert_int_equal(ncx_ring_write(&f->ring, &m, "c", 1, NULL), 0);
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
	/* The reader stops at the unfinished record. */
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 0);
	ncx_ring_discard(&f->ring, &resv);
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
	assert_int_equal(rec.seq, 2);
	assert_memory_equal(got, "c", 1);
	assert_int_equal(rec.lost_records, 1);
	assert_int_equal(rec.lost_bytes, ncx_ring_rec_bytes(20));
	rm(f);
}

/*
 * Fills of every length, in one piece and split in two at every point, on
 * a small ring so that records also run over the buffer's end: the text
 * reads back exactly, and the next record is intact (a fill never writes
 * past its reservation). Each piece is its own allocation of exactly its
 * size, so a fill that read past its text would show under ASan.
 */
static void test_fill_pieces(void **state)
{
	struct fixture *f = mk(4096);
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	struct ncx_ring_meta m = meta(7, 7, 7);
	char src[64], got[64];

	for (size_t k = 0; k < sizeof(src); k++)
		src[k] = (char)('A' + k % 53);
	ncx_ring_reader_init(&f->ring, &rd, NCX_RING_NEWEST);
	for (size_t len = 0; len <= 48; len++) {
		for (size_t cut = 0; cut <= len; cut++) {
			struct ncx_ring_resv resv;
			char *a = malloc(cut ? cut : 1), *b = malloc(len - cut ? len - cut : 1);

			assert_non_null(a);
			assert_non_null(b);
			memcpy(a, src, cut);
			memcpy(b, src + cut, len - cut);
			assert_int_equal(ncx_ring_reserve(&f->ring, len, &resv), 0);
			ncx_ring_fill(&f->ring, &resv, 0, a, cut);
			ncx_ring_fill(&f->ring, &resv, cut, b, len - cut);
			ncx_ring_commit(&f->ring, &resv, &m);
			assert_int_equal(ncx_ring_write(&f->ring, &m, "next!", 5, NULL), 0);
			assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
			assert_int_equal(rec.text_len, len);
			assert_memory_equal(got, src, len);
			assert_int_equal(rec.lost_records, 0);
			assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
			assert_int_equal(rec.text_len, 5);
			assert_memory_equal(got, "next!", 5);
			free(a);
			free(b);
		}
	}
	assert_true(ncx_ring_head(&f->ring) > 4 * 4096);	/* it did wrap, several times */
	rm(f);
}

/* The oldest record still being written pins the ring: writes are refused, never wait. */
static void test_unfinished_oldest_refuses(void **state)
{
	struct fixture *f = mk(4096);
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	struct ncx_ring_resv resv;
	struct ncx_ring_meta m = meta(1, 1, 1);
	char got[64];
	int ok = 0, refused = 0;

	assert_int_equal(ncx_ring_reserve(&f->ring, 10, &resv), 0);
	for (int i = 0; i < 200; i++) {
		int err = ncx_ring_write(&f->ring, &m, "0123456789abcdef", 16, NULL);

		if (err == 0)
			ok++;
		else if (err == -ENOBUFS)
			refused++;
		else
			fail_msg("unexpected %d", err);
	}
	assert_int_equal(ok, (4096 - 56) / 56);
	assert_int_equal(refused, 200 - ok);
	assert_int_equal(ncx_ring_refused(&f->ring), (uint64_t)refused);
	ncx_ring_fill(&f->ring, &resv, 0, "stalled!!!", 10);
	ncx_ring_commit(&f->ring, &resv, &m);
	ncx_ring_reader_init(&f->ring, &rd, NCX_RING_OLDEST);
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
	assert_int_equal(rec.seq, 0);
	assert_memory_equal(got, "stalled!!!", 10);
	/* Refused writes took no seq: the rest follow without a gap. */
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, got, sizeof(got)), 1);
	assert_int_equal(rec.seq, 1);
	assert_int_equal(ncx_ring_write(&f->ring, &m, "x", 1, NULL), 0);
	rm(f);
}

/*
 * head packs 32 bits of seq and of position/8 (lib/ring.c). Start a ring
 * just below both 32-bit edges (white box: sets the private fields the way
 * the ring would have after that much traffic) and check that seq and
 * position widen correctly across them.
 */
static void test_packed_head_edges(void **state)
{
	struct fixture *f = mk(4096);
	struct ncx_ring *r = &f->ring;
	const uint64_t pos0 = (UINT64_C(1) << 35) - 1024, seq0 = (UINT64_C(1) << 32) - 5;
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	struct ncx_ring_meta m = meta(1, 1, 1);
	char got[64];

	atomic_store(&r->head, (seq0 << 32) | (uint32_t)(pos0 >> 3));
	atomic_store(&r->hint_pos, pos0);
	atomic_store(&r->hint_seq, seq0);
	atomic_store(&r->tail, pos0);
	assert_int_equal(ncx_ring_head(r), pos0);
	assert_int_equal(ncx_ring_next_seq(r), seq0);
	ncx_ring_reader_init(r, &rd, NCX_RING_NEWEST);
	for (uint64_t i = 0; i < 200; i++) {
		assert_int_equal(ncx_ring_write(r, &m, "0123456789abcdef", 16, NULL), 0);
		assert_int_equal(ncx_ring_read(r, &rd, &rec, got, sizeof(got)), 1);
		assert_int_equal(rec.seq, seq0 + i);
		assert_int_equal(rec.pos, pos0 + 56 * i);
		assert_int_equal(rec.lost_records, 0);
	}
	assert_true(ncx_ring_head(r) > (UINT64_C(1) << 35));
	assert_true(ncx_ring_next_seq(r) > (UINT64_C(1) << 32));
	rm(f);
}

/* ---- concurrency: 2 writers, 2 readers, a small ring that wraps constantly ---- */

#define CW_WRITERS 2
#define CW_PER_WRITER 50000

struct cw {
	struct ncx_ring *ring;
	_Atomic int writers_done;
	uint32_t id;
	struct ncx_ring_reader rd;	/* set up before any writer starts */
	uint64_t read, lost, bad;
};

/* Record text: "w<id> n<count>" then filler that depends on both. */
/* Record size: small, or big (a 4 KiB ring holds only a few, so readers are
 * overtaken in the middle of a copy all the time). */
static int cw_big;

static size_t cw_text(uint32_t id, uint64_t n, char *buf)
{
	int k = snprintf(buf, 64, "w%u n%llu ", id, (unsigned long long)n);
	size_t len = (size_t)k + (size_t)(cw_big ? 500 + n % 400 : n % 90);

	for (size_t i = (size_t)k; i < len; i++)
		buf[i] = (char)('A' + (id * 7 + n + i) % 26);
	return len;
}

static void *cw_writer(void *arg)
{
	struct cw *c = arg;
	char buf[1024];

	for (uint64_t n = 0; n < CW_PER_WRITER; n++) {
		struct ncx_ring_meta m = meta(n, c->id, (uint8_t)(n % 8));
		size_t len = cw_text(c->id, n, buf);

		while (ncx_ring_write(c->ring, &m, buf, len, NULL) == -ENOBUFS)
			;	/* only while another writer is mid-record at the tail */
	}
	return NULL;
}

static void *cw_reader(void *arg)
{
	struct cw *c = arg;
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	char got[1024], want[1024];
	uint64_t next_n[CW_WRITERS + 1] = { 0 };
	uint64_t expect_seq = 0;

	rd = c->rd;
	for (;;) {
		int done = atomic_load(&c->writers_done);
		int got_one = ncx_ring_read(c->ring, &rd, &rec, got, sizeof(got));

		if (!got_one) {
			if (done == CW_WRITERS)
				break;
			continue;
		}
		c->read++;
		c->lost += rec.lost_records;
		if (rec.seq != expect_seq + rec.lost_records) {
			c->bad++;
			print_message("seq %llu expected %llu + lost %llu\n", (unsigned long long)rec.seq,
				      (unsigned long long)expect_seq, (unsigned long long)rec.lost_records);
		}
		expect_seq = rec.seq + 1;
		uint32_t id = rec.meta.tid;
		uint64_t n = rec.meta.ts_usec;
		if (id < 1 || id > CW_WRITERS || n < next_n[id]) {
			c->bad++;	/* per writer, records come in the order written */
			print_message("order: id %u n %llu want >= %llu\n", id, (unsigned long long)n,
				      (unsigned long long)next_n[id < 3 ? id : 0]);
			continue;
		}
		next_n[id] = n + 1;
		size_t len = cw_text(id, n, want);
		if (rec.text_len != len || memcmp(got, want, len) || rec.meta.level != n % 8)
		{
			c->bad++;	/* torn or mixed up */
			print_message("torn: seq %llu id %u n %llu len %zu want %zu\n",
				      (unsigned long long)rec.seq, id, (unsigned long long)n, rec.text_len, len);
		}
	}
	return NULL;
}

static void concurrent_writers_readers(int big)
{
	struct fixture *f = mk(4096);
	struct cw w[CW_WRITERS], rdr[2];
	pthread_t wt[CW_WRITERS], rt[2];
	_Atomic int *done = &rdr[0].writers_done;

	cw_big = big;
	memset(rdr, 0, sizeof(rdr));
	for (int i = 0; i < 2; i++) {
		rdr[i].ring = &f->ring;
		ncx_ring_reader_init(&f->ring, &rdr[i].rd, NCX_RING_OLDEST);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&rt[i], NULL, cw_reader, &rdr[i]), 0);
	for (uint32_t i = 0; i < CW_WRITERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].ring = &f->ring;
		w[i].id = i + 1;
		assert_int_equal(pthread_create(&wt[i], NULL, cw_writer, &w[i]), 0);
	}
	for (int i = 0; i < CW_WRITERS; i++) {
		pthread_join(wt[i], NULL);
		atomic_fetch_add(done, 1);
		atomic_fetch_add(&rdr[1].writers_done, 1);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(rt[i], NULL);
		print_message("reader %d: %llu read, %llu lost\n", i, (unsigned long long)rdr[i].read,
			      (unsigned long long)rdr[i].lost);
		assert_int_equal(rdr[i].bad, 0);
		/* Every record written was either read or counted lost, exactly. */
		assert_int_equal(rdr[i].read + rdr[i].lost, CW_WRITERS * CW_PER_WRITER);
	}
	assert_int_equal(ncx_ring_next_seq(&f->ring), CW_WRITERS * CW_PER_WRITER);
	rm(f);
}

/* ---- ncx_ring_wait ---- */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct waiter {
	struct fixture *f;
	uint64_t pos;
	int timeout_ms;
	int ret;
	double took;
	_Atomic int started;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	double t0 = mono_s();

	atomic_store(&w->started, 1);
	w->ret = ncx_ring_wait(&w->f->ring, w->pos, w->timeout_ms);
	w->took = mono_s() - t0;
	return NULL;
}

static void test_wait(void **state)
{
	struct fixture *f = mk(1 << 16);
	struct ncx_ring_meta m = { .level = 6 };
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	struct waiter w = { .f = f };
	pthread_t th;
	char text[64];
	double t0;

	/* Nothing written: times out. */
	t0 = mono_s();
	assert_int_equal(ncx_ring_wait(&f->ring, ncx_ring_head(&f->ring), 30), 0);
	assert_true(mono_s() - t0 >= 0.02);

	/* Something already there: returns at once, and the record reads. */
	ncx_ring_reader_init(&f->ring, &rd, NCX_RING_NEWEST);
	assert_int_equal(ncx_ring_write(&f->ring, &m, "one", 3, NULL), 0);
	assert_int_equal(ncx_ring_wait(&f->ring, rd.pos, -1), 1);
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, text, sizeof(text)), 1);

	/* A sleeping reader is woken by the next record, long before its
	 * timeout (a lost wake-up would show as the whole 20 s). */
	w.pos = rd.pos;
	w.timeout_ms = 20000;
	assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
	while (!atomic_load(&w.started))
		;
	usleep(20000);
	assert_int_equal(ncx_ring_write(&f->ring, &m, "two", 3, NULL), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.ret, 1);
	assert_true(w.took < 10.0);
	assert_int_equal(ncx_ring_read(&f->ring, &rd, &rec, text, sizeof(text)), 1);
	assert_memory_equal(text, "two", 3);

	/* ncx_ring_wake() ends a wait with no limit, returning 0. */
	w.pos = rd.pos;
	w.timeout_ms = -1;
	atomic_store(&w.started, 0);
	assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
	while (!atomic_load(&w.started))
		;
	for (int i = 0; i < 200 && atomic_load(&f->ring.waiters) == 0; i++)
		usleep(1000);
	usleep(5000);
	ncx_ring_wake(&f->ring);
	pthread_join(th, NULL);
	assert_int_equal(w.ret, 0);
	assert_int_equal(atomic_load(&f->ring.waiters), 0);
	rm(f);
}

/* A reader that polls other fds too: an eventfd the writers signal. */
static void test_notify_fd(void **state)
{
	struct fixture *f = mk(1 << 16);
	struct ncx_ring_meta m = { .level = 6 };
	int ev = eventfd(0, EFD_NONBLOCK), ev2 = eventfd(0, EFD_NONBLOCK);
	struct pollfd p = { .fd = ev, .events = POLLIN };
	uint64_t pos = ncx_ring_head(&f->ring), v;

	assert_true(ev >= 0 && ev2 >= 0);
	assert_int_equal(ncx_ring_notify_add(&f->ring, ev), 0);
	assert_int_equal(ncx_ring_notify_add(&f->ring, ev), -EEXIST);
	/* Not armed: writers signal nothing (and pay nothing). */
	assert_int_equal(ncx_ring_write(&f->ring, &m, "a", 1, NULL), 0);
	assert_int_equal(poll(&p, 1, 0), 0);
	/* Armed at a position with a finished record: 1, do not sleep. */
	assert_int_equal(ncx_ring_wait_arm(&f->ring, pos), 1);
	ncx_ring_wait_disarm(&f->ring);
	/* Armed at the head: 0; the next record signals the eventfd. */
	pos = ncx_ring_head(&f->ring);
	assert_int_equal(ncx_ring_wait_arm(&f->ring, pos), 0);
	assert_int_equal(poll(&p, 1, 0), 0);
	assert_int_equal(ncx_ring_write(&f->ring, &m, "b", 1, NULL), 0);
	assert_int_equal(poll(&p, 1, 0), 1);
	ncx_ring_wait_disarm(&f->ring);
	assert_int_equal(read(ev, &v, sizeof(v)), (ssize_t)sizeof(v));
	/* A writer in the middle of the record at pos: 2 (nap 1 ms at most). */
	{
		struct ncx_ring_resv resv;

		pos = ncx_ring_head(&f->ring);
		assert_int_equal(ncx_ring_reserve(&f->ring, 1, &resv), 0);
		assert_int_equal(ncx_ring_wait_arm(&f->ring, pos), 2);
		ncx_ring_fill(&f->ring, &resv, 0, "c", 1);
		ncx_ring_commit(&f->ring, &resv, &m);
		assert_int_equal(poll(&p, 1, 0), 1);	/* the finish signalled */
		ncx_ring_wait_disarm(&f->ring);
		assert_int_equal(read(ev, &v, sizeof(v)), (ssize_t)sizeof(v));
	}
	/* Slots: NCX_RING_NOTIFY_MAX, then -ENOSPC; removed ones are free again. */
	for (int i = 1; i < NCX_RING_NOTIFY_MAX; i++)
		assert_int_equal(ncx_ring_notify_add(&f->ring, 100 + i), 0);
	assert_int_equal(ncx_ring_notify_add(&f->ring, ev2), -ENOSPC);
	for (int i = 1; i < NCX_RING_NOTIFY_MAX; i++)
		ncx_ring_notify_del(&f->ring, 100 + i);
	/* Removed: armed or not, it is never written again. */
	ncx_ring_notify_del(&f->ring, ev);
	pos = ncx_ring_head(&f->ring);
	assert_int_equal(ncx_ring_wait_arm(&f->ring, pos), 0);
	assert_int_equal(ncx_ring_write(&f->ring, &m, "d", 1, NULL), 0);
	ncx_ring_wait_disarm(&f->ring);
	assert_int_equal(poll(&p, 1, 0), 0);
	close(ev);
	close(ev2);
	rm(f);
}

/* Many wake-ups racing with writers: a waiting reader always gets every
 * record, and never sleeps through one for its whole timeout. */
struct wait_race {
	struct fixture *f;
	unsigned n;
	_Atomic unsigned read;
	double worst;
};

static void *race_reader(void *arg)
{
	struct wait_race *wr = arg;
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rec;
	char text[64];

	ncx_ring_reader_init(&wr->f->ring, &rd, NCX_RING_OLDEST);
	while (atomic_load(&wr->read) < wr->n) {
		double t0 = mono_s();

		if (ncx_ring_read(&wr->f->ring, &rd, &rec, text, sizeof(text)) == 1) {
			atomic_fetch_add(&wr->read, 1);
			continue;
		}
		ncx_ring_wait(&wr->f->ring, rd.pos, 5000);
		if (mono_s() - t0 > wr->worst)
			wr->worst = mono_s() - t0;
	}
	return NULL;
}

static void test_wait_races(void **state)
{
	struct wait_race wr = { .f = mk(1 << 20), .n = 3000 };
	struct ncx_ring_meta m = { .level = 6 };
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, race_reader, &wr), 0);
	for (unsigned i = 0; i < wr.n; i++) {
		assert_int_equal(ncx_ring_write(&wr.f->ring, &m, "x", 1, NULL), 0);
		if (i % 7 == 0)
			usleep(50);
	}
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&wr.read), wr.n);
	assert_true(wr.worst < 4.0);	/* no wait ran into its 5 s limit */
	rm(wr.f);
}

static void test_concurrent_writers_readers(void **state)
{
	concurrent_writers_readers(0);
}

static void test_concurrent_big_records(void **state)
{
	concurrent_writers_readers(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects_bad_sizes),
		cmocka_unit_test(test_position_split),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_too_long_and_short_cap),
		cmocka_unit_test(test_wrap_keeping_up),
		cmocka_unit_test(test_slow_reader_exact_loss),
		cmocka_unit_test(test_newest_and_oldest_start),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_fill_pieces),
		cmocka_unit_test(test_unfinished_oldest_refuses),
		cmocka_unit_test(test_packed_head_edges),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_wait_races),
		cmocka_unit_test(test_notify_fd),
		cmocka_unit_test(test_concurrent_writers_readers),
		cmocka_unit_test(test_concurrent_big_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
