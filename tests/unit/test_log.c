/* SPDX-License-Identifier: MIT */
/*
 * Tests for the log core (lib/log.c): line buffers, ratelimit records,
 * consoles, rendering. Threaded, so it also runs under TSan: ncx:tsan
 * (The crash hook has its own file, test_log_crash.c.)
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
#include <sys/syscall.h>
#include <unistd.h>

#include "ncx/log.h"

/* ---- a capturing console and a fake clock ---- */

#define CAP_MAX 8192

struct cap_rec {
	struct ncx_log_record rec;
	char text[NCX_LOG_LINE_MAX];
};

struct cap {
	struct ncx_console con;
	pthread_mutex_t mu;
	_Atomic int hold;		/* while set, the callback blocks: a stuck console */
	_Atomic int in_write;
	size_t n;
	uint64_t lost_records, lost_bytes;
	struct cap_rec r[CAP_MAX];
};

static void cap_write(struct ncx_console *con, const struct ncx_log_record *rec)
{
	struct cap *c = con->arg;

	atomic_store(&c->in_write, 1);
	while (atomic_load(&c->hold))
		usleep(1000);
	pthread_mutex_lock(&c->mu);
	c->lost_records += rec->lost_records;
	c->lost_bytes += rec->lost_bytes;
	if (c->n < CAP_MAX) {
		struct cap_rec *r = &c->r[c->n++];

		r->rec = *rec;
		memcpy(r->text, rec->text, rec->len < NCX_LOG_LINE_MAX ? rec->len : NCX_LOG_LINE_MAX);
		r->rec.text = r->text;
	}
	pthread_mutex_unlock(&c->mu);
}

static struct cap *cap_new(int level, unsigned flags)
{
	struct cap *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	pthread_mutex_init(&c->mu, NULL);
	c->con.name = "cap";
	c->con.level = level;
	c->con.flags = flags;
	c->con.write = cap_write;
	c->con.arg = c;
	assert_int_equal(ncx_console_register(&c->con), 0);
	return c;
}

static void cap_free(struct cap *c)
{
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Text of captured record i, NUL-terminated (for comparisons). */
static const char *cap_text(struct cap *c, size_t i)
{
	static char buf[NCX_LOG_LINE_MAX + 1];

	assert_true(i < c->n);
	memcpy(buf, c->r[i].text, c->r[i].rec.len);
	buf[c->r[i].rec.len] = 0;
	return buf;
}

static _Atomic uint64_t fake_now = UINT64_C(1000) * 1000000;

static uint64_t fake_clock(void)
{
	return atomic_load(&fake_now);
}

static int setup(void **state)
{
	struct ncx_log_config cfg = { .ring_size = 1 << 20, .clock_usec = fake_clock };

	atomic_store(&fake_now, UINT64_C(1000) * 1000000);
	return ncx_log_init(&cfg);
}

static int setup_small(void **state)
{
	struct ncx_log_config cfg = {
		.ring_size = 1 << 16, .clock_usec = fake_clock, .rl_burst = 5, .rl_silence = 10,
	};

	atomic_store(&fake_now, UINT64_C(1000) * 1000000);
	return ncx_log_init(&cfg);
}

static int setup_ring64k(void **state)
{
	struct ncx_log_config cfg = { .ring_size = 1 << 16, .clock_usec = fake_clock };

	atomic_store(&fake_now, UINT64_C(1000) * 1000000);
	return ncx_log_init(&cfg);
}

static int teardown(void **state)
{
	ncx_log_shutdown();
	return 0;
}

static uint32_t gettid_(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

/* ---- setup ---- */

static void test_init_config(void **state)
{
	struct ncx_log_config bad_size = { .ring_size = 4096 };
	struct ncx_log_config not_pow2 = { .ring_size = 3 << 12 };
	struct ncx_log_config bad_fac = { .facility = 24 };
	struct ncx_log_config ok = { .ring_size = 1 << 16, .facility = 3 };
	struct ncx_console con = { .name = "x", .level = 7, .write = NULL };

	assert_int_equal(ncx_log_write(NCX_LOG_ERR, "x", 1), -ENODEV);
	assert_null(ncx_log_ring());
	assert_int_equal(ncx_log_init(&bad_size), -EINVAL);
	assert_int_equal(ncx_log_init(&not_pow2), -EINVAL);
	assert_int_equal(ncx_log_init(&bad_fac), -EINVAL);
	assert_int_equal(ncx_log_init(&ok), 0);
	assert_int_equal(ncx_log_init(&ok), -EALREADY);
	assert_non_null(ncx_log_ring());
	assert_int_equal(ncx_log_ring()->size, 1 << 16);
	assert_int_equal(ncx_console_register(&con), -EINVAL);	/* no write callback */

	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);
	assert_int_equal(ncx_console_register(&c->con), -EEXIST);
	ncx_info("facility\n");
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(c->n, 1);
	assert_int_equal(c->r[0].rec.facility, 3);
	assert_int_equal(ncx_console_unregister(&c->con), 0);
	assert_int_equal(ncx_console_unregister(&c->con), -ENOENT);
	cap_free(c);
	ncx_log_shutdown();
	assert_null(ncx_log_ring());
}

/* ---- line buffers ---- */

static void test_partial_lines(void **state)
{
	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);

	ncx_info("abc");
	ncx_info("def");
	ncx_warn("ghi\njk\nlm");
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(c->n, 3);
	assert_string_equal(cap_text(c, 0), "abcdefghi");
	assert_int_equal(c->r[0].rec.level, NCX_LOG_INFO);	/* the level that began the line */
	assert_string_equal(cap_text(c, 1), "jk");
	assert_int_equal(c->r[1].rec.level, NCX_LOG_WARNING);
	assert_string_equal(cap_text(c, 2), "lm");	/* committed by the flush */
	assert_int_equal(c->r[2].rec.tid, gettid_());
	assert_int_equal(c->r[2].rec.kind, NCX_LOG_REC_MSG);
	assert_int_equal(c->r[0].rec.seq + 2, c->r[2].rec.seq);
	assert_int_equal(c->r[0].rec.facility, 1);
	assert_int_equal(c->r[0].rec.ts_usec, UINT64_C(1000) * 1000000);
	ncx_console_unregister(&c->con);
	cap_free(c);
}

static void test_line_overflow(void **state)
{
	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);
	static char xs[1501], ys[101];

	memset(xs, 'x', 1500);
	memset(ys, 'y', 100);
	/* One call, one 1500-byte line: cut at 1 KiB, the rest follows. */
	ncx_info("%s\n", xs);
	/* 1000 bytes wait, then 100 more: the line fills at 1024 and is cut. */
	ncx_info("%.1000s", xs);
	ncx_info("%s\n", ys);
	/* Exactly 1024 bytes and a newline: not cut. */
	ncx_info("%.1024s\n", xs);
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(c->n, 5);
	assert_int_equal(c->r[0].rec.len, 1024);
	assert_int_equal(c->r[0].rec.flags, NCX_LOG_F_CUT);
	assert_int_equal(c->r[1].rec.len, 476);
	assert_int_equal(c->r[1].rec.flags, 0);
	assert_int_equal(c->r[2].rec.len, 1024);
	assert_int_equal(c->r[2].rec.flags, NCX_LOG_F_CUT);
	assert_memory_equal(c->r[2].text + 1000, ys, 24);
	assert_int_equal(c->r[3].rec.len, 76);
	assert_int_equal(c->r[4].rec.len, 1024);
	assert_int_equal(c->r[4].rec.flags, 0);
	struct ncx_log_stats st;
	ncx_log_get_stats(&st);
	assert_int_equal(st.cut, 2);
	assert_int_equal(st.records, 5);
	ncx_console_unregister(&c->con);
	cap_free(c);
}

static void *exit_with_partial(void *arg)
{
	ncx_notice("from a thread, no newline");
	*(uint32_t *)arg = gettid_();
	return NULL;
}

static void test_thread_exit_commits(void **state)
{
	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);
	pthread_t t;
	uint32_t tid = 0;

	assert_int_equal(pthread_create(&t, NULL, exit_with_partial, &tid), 0);
	pthread_join(t, NULL);
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(c->n, 1);
	assert_string_equal(cap_text(c, 0), "from a thread, no newline");
	assert_int_equal(c->r[0].rec.tid, tid);
	assert_int_equal(c->r[0].rec.level, NCX_LOG_NOTICE);
	ncx_console_unregister(&c->con);
	cap_free(c);
}

#define HEX_LINES 300

static _Atomic uint32_t hex_tid[2];

static void *hexdump(void *arg)
{
	unsigned k = (unsigned)(uintptr_t)arg;

	atomic_store(&hex_tid[k], gettid_());
	for (unsigned line = 0; line < HEX_LINES; line++) {
		for (unsigned b = 0; b < 16; b++)
			ncx_debug("%02x", (k * 97 + line * 16 + b) & 0xff);
		ncx_debug("\n");
	}
	return NULL;
}

/* Two threads printing hex dumps a byte at a time: clean, separate lines. */
static void test_concurrent_hexdumps(void **state)
{
	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);
	pthread_t t[2];
	unsigned next_line[2] = { 0, 0 };

	for (unsigned k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&t[k], NULL, hexdump, (void *)(uintptr_t)k), 0);
	for (unsigned k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(c->n, 2 * HEX_LINES);
	assert_int_equal(c->lost_records, 0);
	for (size_t i = 0; i < c->n; i++) {
		const struct ncx_log_record *r = &c->r[i].rec;
		unsigned k = r->tid == atomic_load(&hex_tid[0]) ? 0 : 1;
		char want[33];

		assert_int_equal(r->tid, atomic_load(&hex_tid[k]));
		for (unsigned b = 0; b < 16; b++)
			snprintf(want + 2 * b, 3, "%02x", (k * 97 + next_line[k] * 16 + b) & 0xff);
		assert_int_equal(r->len, 32);
		assert_memory_equal(c->r[i].text, want, 32);
		next_line[k]++;
	}
	assert_int_equal(next_line[0], HEX_LINES);
	assert_int_equal(next_line[1], HEX_LINES);
	ncx_console_unregister(&c->con);
	cap_free(c);
}

/* ---- ratelimit, through the API ---- */

static int spam_line;

static void spam(int i)
{
	spam_line = __LINE__ + 1;
	ncx_info("spam %d\n", i);
}

static void test_ratelimit_records(void **state)
{
	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);
	char want[256];
	struct ncx_log_stats st;

	for (int i = 0; i < 9; i++)	/* burst 5: 5 pass, 1 notice, 3 silenced */
		spam(i);
	atomic_fetch_add(&fake_now, UINT64_C(9) * 1000000);
	spam(100);			/* 9 s into the 10 s silence */
	atomic_fetch_add(&fake_now, UINT64_C(1) * 1000000);
	ncx_log_flush();		/* silenced calls trust cached seconds: refresh them */
	spam(101);			/* silence over */
	spam(102);
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(c->n, 9);
	for (int i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "spam %d", i);
		assert_string_equal(cap_text(c, (size_t)i), want);
		assert_int_equal(c->r[i].rec.kind, NCX_LOG_REC_MSG);
	}
	snprintf(want, sizeof(want), "ratelimit in effect: %s:%d: silent for 10 s", __FILE__,
		 spam_line);
	assert_string_equal(cap_text(c, 5), want);
	assert_int_equal(c->r[5].rec.kind, NCX_LOG_REC_RL_LIMIT);
	assert_int_equal(c->r[5].rec.level, NCX_LOG_INFO);
	/* The replaced message, three silenced ones, and spam(100). */
	snprintf(want, sizeof(want), "ratelimit: %s:%d: 5 records suppressed", __FILE__, spam_line);
	assert_string_equal(cap_text(c, 6), want);
	assert_int_equal(c->r[6].rec.kind, NCX_LOG_REC_RL_RESUME);
	assert_string_equal(cap_text(c, 7), "spam 101");
	assert_string_equal(cap_text(c, 8), "spam 102");
	ncx_log_get_stats(&st);
	assert_int_equal(st.suppressed, 5);
	ncx_console_unregister(&c->con);
	cap_free(c);
}

/*
 * Silenced calls take the seconds from a cache (while a console thread
 * runs). The cache is never ahead of the clock, so a silence never ends
 * early; it may end late, but a thread reads the clock itself at least on
 * every 16th silenced call, and without a console thread on every one.
 */
static void cached_site(void)
{
	ncx_info("cached\n");
}

static uint64_t records_now(void)
{
	struct ncx_log_stats st;

	ncx_log_get_stats(&st);
	return st.records;
}

static uint64_t suppressed_now(void)
{
	struct ncx_log_stats st;

	ncx_log_get_stats(&st);
	return st.suppressed;
}

/* A call site of its own (the sites' states outlive a test). */
static void window_site(int i)
{
	ncx_info("window %d\n", i);
}

/*
 * A window that ends without the site falling silent: the next call opens
 * a new one (a full burst again), by the clock, not by the old count. The
 * common passing call is decided inline (passed_fast()); this is the case
 * where it must hand over.
 */
static void test_ratelimit_window_ends(void **state)
{
	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);

	for (int i = 0; i < 3; i++)	/* burst 5: 4 calls in all, the window not used up */
		window_site(i);
	atomic_fetch_add(&fake_now, UINT64_C(9) * 1000000);
	window_site(3);			/* 9 s: the same window */
	atomic_fetch_add(&fake_now, UINT64_C(1) * 1000000);
	for (int i = 10; i < 15; i++)	/* 10 s: a new window, 5 more pass */
		window_site(i);
	window_site(15);		/* the 6th of the new window: limited */
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(c->n, 10);
	for (size_t i = 0; i < 9; i++)
		assert_int_equal(c->r[i].rec.kind, NCX_LOG_REC_MSG);
	assert_string_equal(cap_text(c, 3), "window 3");
	assert_string_equal(cap_text(c, 8), "window 14");
	assert_int_equal(c->r[9].rec.kind, NCX_LOG_REC_RL_LIMIT);
	ncx_console_unregister(&c->con);
	cap_free(c);
}

static void test_ratelimit_cached_clock(void **state)
{
	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);	/* a console thread: the cache is used */
	uint64_t n;
	int late = 0;

	for (int i = 0; i < 6; i++)	/* burst 5: the 6th call silences the site for 10 s */
		cached_site();
	atomic_fetch_add(&fake_now, UINT64_C(9) * 1000000);
	assert_int_equal(ncx_log_flush(), 0);	/* the cache now says 9 s into the silence */
	n = records_now();
	for (int i = 0; i < 40; i++)
		cached_site();		/* never early: all dropped, the clock read or not */
	assert_int_equal(records_now(), n);
	assert_int_equal(suppressed_now(), 0);

	atomic_fetch_add(&fake_now, UINT64_C(1) * 1000000);	/* over; the cache may lag */
	for (;;) {
		cached_site();
		if (records_now() != n)
			break;
		late++;
		assert_true(late < 16);	/* the 16th silenced call in a row reads the clock */
	}
	assert_int_equal(records_now(), n + 2);		/* the resume notice, the message */
	assert_int_equal(suppressed_now(), 1 + 40 + (uint64_t)late);

	/* No console thread: nothing keeps the cache fresh, so every
	 * silenced call reads the clock and the silence ends on time. */
	assert_int_equal(ncx_console_unregister(&c->con), 0);
	for (int i = 0; i < 5; i++)	/* the window opened at resume: 4 more pass, then silence */
		cached_site();
	atomic_fetch_add(&fake_now, UINT64_C(9) * 1000000);
	n = records_now();
	cached_site();
	assert_int_equal(records_now(), n);
	atomic_fetch_add(&fake_now, UINT64_C(1) * 1000000);
	cached_site();
	assert_int_equal(records_now(), n + 2);
	assert_int_equal(suppressed_now(), 1 + 40 + (uint64_t)late + 2);
	cap_free(c);
}

/* Every record, whatever its kind, renders with the same decoration. */
static void test_same_decoration(void **state)
{
	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);
	char out[2048];

	for (int i = 0; i < 7; i++)
		spam(i);
	atomic_fetch_add(&fake_now, UINT64_C(20) * 1000000 + 42);
	ncx_log_flush();		/* refresh the ratelimit's cached seconds */
	spam(7);
	ncx_info("%0*d\n", 1100, 7);	/* a cut line */
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(c->n, 10);
	for (size_t i = 0; i < c->n; i++) {
		const struct ncx_log_record *r = &c->r[i].rec;
		char prefix[128];
		int plen = snprintf(prefix, sizeof(prefix), "[%llu.%06llu] <6> [T%u C%u] ",
				    (unsigned long long)(r->ts_usec / 1000000),
				    (unsigned long long)(r->ts_usec % 1000000), r->tid, r->cpu);
		size_t n = ncx_log_format_text(r, out, sizeof(out));

		assert_true(n < sizeof(out));
		assert_memory_equal(out, prefix, (size_t)plen);
		assert_int_equal(n, (size_t)plen + r->len + 1);
		assert_memory_equal(out + plen, r->text, r->len);
		assert_int_equal(out[n - 1], '\n');
	}
	assert_int_equal(c->r[0].rec.ts_usec, UINT64_C(1000000000));
	assert_int_equal(c->r[6].rec.ts_usec, UINT64_C(1020000042));
	assert_int_equal(c->r[5].rec.kind, NCX_LOG_REC_RL_LIMIT);
	assert_int_equal(c->r[6].rec.kind, NCX_LOG_REC_RL_RESUME);
	ncx_console_unregister(&c->con);
	cap_free(c);
}

/* ---- rendering ---- */

static void test_format_text_exact(void **state)
{
	struct ncx_log_record r = {
		.seq = 5, .ts_usec = UINT64_C(1700000000123456), .tid = 77, .cpu = 2, .level = 3,
		.facility = 1, .text = "a\tb\x01\\c\x7f", .len = 7,
	};
	const char *want = "[1700000000.123456] <3> [T77 C2] a\tb\\x01\\x5cc\\x7f\n";
	char out[128];

	memset(out, '#', sizeof(out));
	assert_int_equal(ncx_log_format_text(&r, out, sizeof(out)), strlen(want));
	assert_memory_equal(out, want, strlen(want));
	memset(out, '#', sizeof(out));
	assert_int_equal(ncx_log_format_text(&r, out, 10), strlen(want));
	assert_memory_equal(out, want, 10);
	assert_int_equal(out[10], '#');	/* nothing past cap */
}

static void test_format_ext_exact(void **state)
{
	struct ncx_log_record r = {
		.seq = 5, .ts_usec = 123, .tid = 77, .cpu = 2, .level = 6, .facility = 1,
		.text = "a\tb\\", .len = 4,
	};
	const char *want = "14,5,123,-,caller=T77;a\\x09b\\x5c\n cpu=2\n";
	char out[128];

	assert_int_equal(ncx_log_format_ext(&r, out, sizeof(out)), strlen(want));
	assert_memory_equal(out, want, strlen(want));
}

static void test_log_write_raw(void **state)
{
	struct cap *c = cap_new(NCX_LOG_DEBUG, 0);

	assert_int_equal(ncx_log_write(NCX_LOG_ERR, "raw text\n", 9), 0);
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(c->n, 1);
	assert_string_equal(cap_text(c, 0), "raw text");
	assert_int_equal(c->r[0].rec.level, NCX_LOG_ERR);
	ncx_console_unregister(&c->con);
	cap_free(c);
}

/* ---- formatting: the fast path gives exactly what printf gives ---- */

static struct cap *fmt_cap;
static size_t fmt_checked;

#define CHECK_FMT(...)                                                          \
	do {                                                                    \
		char want_[1200];                                               \
		snprintf(want_, sizeof(want_), __VA_ARGS__);                    \
		ncx_info(__VA_ARGS__);                                          \
		ncx_info("\n");                                                 \
		assert_int_equal(ncx_log_flush(), 0);                           \
		assert_int_equal(fmt_cap->n, fmt_checked + 1);                  \
		assert_string_equal(cap_text(fmt_cap, fmt_checked), want_);     \
		fmt_checked++;                                                  \
	} while (0)

static void test_format_matches_printf(void **state)
{
	static const long long edge[] = { 0, 1, -1, 9, 10, -10, 127, -128, 255, 32767, -32768,
					  65535, 2147483647, -2147483647 - 1, 4294967295LL,
					  9223372036854775807LL, -9223372036854775807LL - 1 };
	char big[900];
	int x = 42;

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	fmt_cap = cap_new(NCX_LOG_DEBUG, 0);
	fmt_checked = 0;
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		long long v = edge[i];

		CHECK_FMT("%d|%i|%u|%x|%X|%o", (int)v, (int)v, (unsigned)v, (unsigned)v,
			  (unsigned)v, (unsigned)v);
		CHECK_FMT("%lld|%llu|%llx|%lX|%ld|%lu", v, (unsigned long long)v,
			  (unsigned long long)v, (unsigned long)v, (long)v, (unsigned long)v);
		CHECK_FMT("%hhd|%hhu|%hd|%hu|%hhx|%hx", (signed char)v, (unsigned char)v, (short)v,
			  (unsigned short)v, (unsigned char)v, (unsigned short)v);
		CHECK_FMT("%zd|%zu|%jd|%ju|%td", (ssize_t)v, (size_t)v, (intmax_t)v, (uintmax_t)v,
			  (ptrdiff_t)v);
		CHECK_FMT("[%8d][%-8d][%08d][%.5d][%8.5d][%-8.5d][%.0d][%-8u]", (int)v, (int)v,
			  (int)v, (int)v, (int)v, (int)v, (int)v, (unsigned)v);
		CHECK_FMT("[%*d][%-*d][%.*d][%*.*x][%0*u]", 7, (int)v, 7, (int)v, 4, (int)v, 9, 3,
			  (unsigned)v, 6, (unsigned)v);
		CHECK_FMT("[%.0x][%.0o][%#x][%+d][% d]", (unsigned)v, (unsigned)v, (unsigned)v,
			  (int)v, (int)v);
	}
	CHECK_FMT("[%*d]", -6, 5);
	CHECK_FMT("[%s][%10s][%-10s][%.3s][%10.3s][%-10.3s][%.*s]", "hello", "hello", "hello",
		  "hello", "hello", "hello", 2, "hello");
	CHECK_FMT("[%c][%3c][%-3c][%%][100%%]", 'x', 'y', 'z');
	CHECK_FMT("[%p][%p]", (void *)&x, (void *)NULL);
	const char *volatile nul = NULL;	/* hidden from the compiler's checks */
	CHECK_FMT("[%s]", nul);
	CHECK_FMT("[%5.2f][%e][%g]", 3.14159, 2.5e10, 0.0001);
	CHECK_FMT("no conversions at all");
	CHECK_FMT("%s", "");
	CHECK_FMT("%s%s", big, "+tail");	/* does not fit in what the line has left */
	CHECK_FMT("req %08u from %s took %5u us: status %s, bytes %6u", 17u, "10.1.2.3", 345u,
		  "ok", 123456u);
	ncx_console_unregister(&fmt_cap->con);
	cap_free(fmt_cap);
}

/*
 * The formatter's own paths, against snprintf: literal runs that start and
 * end at every offset of a 16-byte block (the literal scan looks at 16
 * bytes at once), numbers at every decimal length (their length is worked
 * out before the digits are written), and padding of every width, also
 * where the line has less than 16 bytes left (padding is stored in 8-byte
 * moves when there is room for them).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static __attribute__((format(printf, 2, 3))) void check_one(const char *prefix, const char *fmt,
							    ...)
{
	static _Atomic uint32_t rl;	/* one site of its own, reset per call: never limited */
	char want[1200];
	size_t plen = strlen(prefix);
	va_list ap, aq;
	int n;

	va_start(ap, fmt);
	va_copy(aq, ap);
	memcpy(want, prefix, plen);
	n = vsnprintf(want + plen, sizeof(want) - plen, fmt, aq);
	va_end(aq);
	assert_true(n >= 0 && (size_t)n + plen < sizeof(want));
	atomic_store(&rl, 0);
	if (plen)
		ncx_log_at(&rl, __FILE__, __LINE__, NCX_LOG_INFO, "%s", prefix);
	atomic_store(&rl, 0);
	ncx_vlog_at(&rl, __FILE__, __LINE__, NCX_LOG_INFO, fmt, ap);
	va_end(ap);
	atomic_store(&rl, 0);
	ncx_log_at(&rl, __FILE__, __LINE__, NCX_LOG_INFO, "\n");
	assert_int_equal(ncx_log_flush(), 0);
	if (plen + (size_t)n < NCX_LOG_LINE_MAX) {
		assert_int_equal(fmt_cap->n, fmt_checked + 1);
		assert_string_equal(cap_text(fmt_cap, fmt_checked), want);
	} else {
		/* A line that filled the buffer: cut there, the rest follows. */
		static char got[2 * NCX_LOG_LINE_MAX + 1];
		size_t glen = 0;

		for (size_t i = fmt_checked; i < fmt_cap->n; i++) {
			assert_true(glen + fmt_cap->r[i].rec.len < sizeof(got));
			memcpy(got + glen, fmt_cap->r[i].text, fmt_cap->r[i].rec.len);
			glen += fmt_cap->r[i].rec.len;
		}
		got[glen] = 0;
		assert_int_equal(fmt_cap->r[fmt_checked].rec.len, NCX_LOG_LINE_MAX);
		assert_int_equal(fmt_cap->r[fmt_checked].rec.flags, NCX_LOG_F_CUT);
		assert_string_equal(got, want);
	}
	fmt_checked = fmt_cap->n;
	pthread_mutex_lock(&fmt_cap->mu);
	if (fmt_cap->n >= CAP_MAX - 4)
		fmt_cap->n = fmt_checked = 0;
	pthread_mutex_unlock(&fmt_cap->mu);
}

static void test_format_edges(void **state)
{
	static const char lit[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	/* 16-aligned, so offsets below are offsets within a 16-byte block. */
	static _Alignas(16) char fmt[128];
	char pre[1100];

	fmt_cap = cap_new(NCX_LOG_DEBUG, 0);
	fmt_checked = 0;
	for (size_t off = 0; off < 18; off++) {
		for (size_t len = 0; len < 40; len++) {
			/* [off] literal of len, a conversion, a literal of len, the end */
			memset(fmt, 0, sizeof(fmt));
			memcpy(fmt + off, lit, len);
			memcpy(fmt + off + len, "%d", 2);
			memcpy(fmt + off + len + 2, lit + 1, len);
			check_one("", fmt + off, (int)(off * 100 + len));
			/* ... and a literal that ends the format right at its NUL */
			fmt[off + len] = 0;
			check_one("", fmt + off, 0);
		}
	}
	/* %s arguments that start and end anywhere in a 16-byte block */
	for (size_t off = 0; off < 18; off++) {
		for (size_t len = 0; len < 40; len++) {
			memset(fmt, 0, sizeof(fmt));
			memcpy(fmt + off, lit, len);
			check_one("", "<%s>", fmt + off);
			check_one("", "%s|%s", fmt + off, lit + len);
		}
	}
	for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
		uint64_t vs[3] = { p - 1, p, p + 1 };

		for (int i = 0; i < 3; i++) {
			uint64_t v = vs[i];

			check_one("", "[%u][%5u][%-12u][%012u][%.3u][%d][%x]", (unsigned)v,
				  (unsigned)v, (unsigned)v, (unsigned)v, (unsigned)v, (int)v,
				  (unsigned)v);
			check_one("", "[%llu][%25llu][%-21lld][%020llu]", (unsigned long long)v,
				  (unsigned long long)v, (long long)v, (unsigned long long)v);
		}
	}
	check_one("", "[%u][%u][%u]", 0u, 4294967295u, 4294967294u);
	{
		/* Length modifiers that do not go together: printf's business
		 * (the fast path must hand them over, not pick one). */
		static const char *const odd[] = { "[%hld]", "[%lhd]", "[%zld]", "[%hhhd]",
						   "[%lllu]", "[%jzd]", "[%tlu]", "[%lz]" };

		for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
			check_one("", odd[i], 5L, 6L);
	}
	memset(pre, 'p', sizeof(pre));
	for (int w = 0; w < 40; w++) {
		check_one("", "[%*u][%-*u][%0*u][%*s][%-*s]|", w, 7u, w, 7u, w, 7u, w, "s", w, "s");
		/* At the end of the line: what the line has left is just enough
		 * (or a few bytes more) for the padded number and the newline. */
		for (int e = 0; e < 3; e++) {
			size_t plen = (size_t)(NCX_LOG_LINE_MAX - (w + 3) - e);

			pre[plen] = 0;
			check_one(pre, "%*u|", w + 1, 5u);
			check_one(pre, "%-*u|", w + 1, 5u);
			check_one(pre + 1, "%0*d|", w + 2, -5);	/* one byte longer */
			check_one(pre, "%*s|", w + 1, "x");
			pre[plen] = 'p';
		}
	}
	/* Plain numbers that just fit what the line has left, or not. */
	for (size_t left = 3; left < 9; left++) {
		pre[NCX_LOG_LINE_MAX - left] = 0;
		check_one(pre, "%u", 12345u);
		check_one(pre, "%d", -12345);
		check_one(pre, "%d", 12345);
		check_one(pre, "%d%s", -12345, "tail");
		pre[NCX_LOG_LINE_MAX - left] = 'p';
	}
	ncx_console_unregister(&fmt_cap->con);
	cap_free(fmt_cap);
}
#pragma GCC diagnostic pop

/* ---- consoles ---- */

static void test_level_filter_and_alldata(void **state)
{
	struct cap *warn = cap_new(NCX_LOG_WARNING, 0);
	struct cap *all = cap_new(NCX_LOG_ERR, NCX_CON_ALLDATA);
	struct cap *dbg = cap_new(NCX_LOG_DEBUG, 0);

	for (int l = 0; l < 8; l++)
		ncx_log(l, "level %d\n", l);
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(warn->n, 5);
	for (size_t i = 0; i < warn->n; i++)
		assert_int_equal(warn->r[i].rec.level, i);
	assert_int_equal(all->n, 8);
	assert_int_equal(dbg->n, 8);
	assert_string_equal(cap_text(all, 7), "level 7");
	assert_int_equal(warn->lost_records, 0);
	ncx_console_unregister(&warn->con);
	ncx_console_unregister(&all->con);
	ncx_console_unregister(&dbg->con);
	cap_free(warn);
	cap_free(all);
	cap_free(dbg);
}

static void test_replay_starts_at_oldest(void **state)
{
	ncx_info("before any console\n");
	struct cap *late = cap_new(NCX_LOG_DEBUG, 0);
	struct cap *replay = cap_new(NCX_LOG_DEBUG, NCX_CON_REPLAY);

	ncx_info("after\n");
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(late->n, 1);
	assert_int_equal(replay->n, 2);
	assert_string_equal(cap_text(replay, 0), "before any console");
	ncx_console_unregister(&late->con);
	ncx_console_unregister(&replay->con);
	cap_free(late);
	cap_free(replay);
}

/*
 * A console stuck in its callback holds up nobody: writers go on, the ring
 * wraps, a healthy console keeps going, and when the stuck one comes back
 * it learns exactly how much it missed.
 */
static void test_stuck_console(void **state)
{
	struct cap *stuck = cap_new(NCX_LOG_DEBUG, 0);
	struct cap *ok = cap_new(NCX_LOG_DEBUG, 0);
	const int total = 3000;	/* about 270 KB of records through a 64 KiB ring */

	atomic_store(&stuck->hold, 1);
	ncx_info("first\n");
	while (!atomic_load(&stuck->in_write))
		usleep(1000);
	for (int i = 1; i < total; i++)
		ncx_info("line %04d %s\n", i,
			 "................................................................");
	/* Flushing cannot finish while a console is stuck; it says so. */
	assert_int_equal(ncx_log_flush_timeout(20), -ETIMEDOUT);
	atomic_store(&stuck->hold, 0);
	assert_int_equal(ncx_log_flush(), 0);
	assert_true(stuck->lost_records > 0);
	assert_int_equal(stuck->n + stuck->lost_records, (size_t)total);
	assert_int_equal(ok->n + ok->lost_records, (size_t)total);
	/* The last record reached both. */
	assert_string_equal(cap_text(stuck, stuck->n - 1), "line 2999 ................................................................");
	assert_string_equal(cap_text(ok, ok->n - 1), cap_text(stuck, stuck->n - 1));
	ncx_console_unregister(&stuck->con);
	ncx_console_unregister(&ok->con);
	cap_free(stuck);
	cap_free(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_config),
		cmocka_unit_test_setup_teardown(test_partial_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_exit_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_hexdumps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_records, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_window_ends, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_same_decoration, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_cached_clock, setup_small, teardown),
		cmocka_unit_test(test_format_text_exact),
		cmocka_unit_test(test_format_ext_exact),
		cmocka_unit_test_setup_teardown(test_format_matches_printf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_write_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_filter_and_alldata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_starts_at_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stuck_console, setup_ring64k, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
