/* SPDX-License-Identifier: MIT */
/* ncxd's sink on a scratch directory: the fd LRU and the buffer pool stay
 * within their bounds and lose nothing, a new day opens a new file, and a
 * write error buffers, drops with a count and writes a "dropped" event once
 * writing works again. (Positions in the state slot: test_ncxd_durable.c.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ncx/log.h>

#include "scratch.h"
#include "../../cmd/ncxd/sink.h"

/* ncxd's messages go through the log core: count them with a console. */
static atomic_int logged;

static void count_msg(struct ncx_console *con, const struct ncx_log_record *rec)
{
	if (rec->kind == NCX_LOG_REC_MSG)
		logged++;
}

static struct ncx_console counter = { .name = "count", .level = NCX_LOG_DEBUG, .write = count_msg };

static int messages(void)
{
	assert_int_equal(ncx_log_flush(), 0);
	return atomic_load(&logged);
}

#define DAY0 (1795305600ull * 1000000u) /* 2026-11-22T00:00:00Z */

static char dir[64];

static int setup(void **state)
{
	assert_int_equal(scratch_make(dir, "ncxd-sink"), 0);
	assert_int_equal(ncx_log_flush(), 0);
	logged = 0;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(scratch_remove(dir), 0);
	return 0;
}

static void config(struct ncxd_config *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->dir = dir;
	c->path = (char *)path;
	c->format = NCXD_TEXT;
	c->max_fds = 2;
	c->buffers = 2;
	c->buffer_size = 4096;
	c->rate = 0;
}

static void record(struct sink *s, struct sink_host *h, uint64_t real_us, uint64_t seq)
{
	char wire[64];
	struct ncx_ext r;

	snprintf(wire, sizeof(wire), "6,%llu,0,-;rec %llu", (unsigned long long)seq,
		 (unsigned long long)seq);
	assert_int_equal(ncx_ext_parse(wire, strlen(wire), &r), 0);
	s->real_us = real_us;
	sink_record(s, h, &r);
}

static char *slurp(const char *rel)
{
	char path[256];
	static char buf[1 << 20];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* 10 hosts through 2 fds and 2 buffers: every record in its file, in order. */
static void test_bounds(void **state)
{
	struct ncxd_config c;
	struct sink s;
	struct sink_host *h[10];

	config(&c, "%h.log");
	assert_int_equal(sink_init(&s, &c), 0);
	for (int i = 0; i < 10; i++) {
		struct ncx_addr a;
		char text[32];

		snprintf(text, sizeof(text), "127.0.0.%d:6665", i + 1);
		assert_int_equal(ncx_addr_parse(text, 1, &a), 0);
		h[i] = sink_host_new(&s, &a);
	}
	for (int seq = 0; seq < 50; seq++)
		for (int i = 0; i < 10; i++) {
			record(&s, h[i], DAY0, (uint64_t)seq);
			assert_true(s.nopen <= 2);
			assert_true(s.nfree >= 0 && s.nfree <= 2);
		}
	sink_finish(&s);
	assert_int_equal(s.nopen, 0);
	assert_int_equal(s.nfree, 2);
	for (int i = 0; i < 10; i++) {
		char rel[32], want[64];
		const char *t;

		snprintf(rel, sizeof(rel), "127.0.0.%d.log", i + 1);
		t = slurp(rel);
		assert_non_null(t);
		assert_int_equal(count(t, "\n"), 50);
		for (int seq = 0; seq < 50; seq++) {
			snprintf(want, sizeof(want), "] rec %d seq=%d\n", seq, seq);
			assert_non_null(strstr(t, want));
			t = strstr(t, want); /* in order */
		}
	}
	assert_int_equal(s.total.drop[NCXD_D_NO_BUFFER], 0);
	sink_free(&s);
}

/* The file follows the receive date. */
static void test_new_day(void **state)
{
	struct ncxd_config c;
	struct sink s;
	struct ncx_addr a;
	struct sink_host *h;

	config(&c, "%h/%Y-%m-%d.log");
	assert_int_equal(sink_init(&s, &c), 0);
	assert_int_equal(ncx_addr_parse("10.0.0.1:6665", 1, &a), 0);
	h = sink_host_new(&s, &a);
	record(&s, h, DAY0 - 100000, 1); /* 23:59:59.9 the day before */
	record(&s, h, DAY0 + 100000, 2);
	sink_finish(&s);
	assert_non_null(strstr(slurp("10.0.0.1/2026-11-21.log"), "rec 1 seq=1\n"));
	assert_null(strstr(slurp("10.0.0.1/2026-11-21.log"), "rec 2"));
	assert_non_null(strstr(slurp("10.0.0.1/2026-11-22.log"), "rec 2 seq=2\n"));
	sink_free(&s);
}

/* A path that cannot be opened (its parent is a file): buffered, then
 * dropped with a count; once it can be, the buffered lines and a dropped
 * event, then the new lines. Nothing unaccounted. */
static void test_write_error(void **state)
{
	struct ncxd_config c;
	struct sink s;
	struct ncx_addr a;
	struct sink_host *h;
	char blocker[128];
	FILE *f;

	config(&c, "%h/x.log");
	c.buffers = 1;
	assert_int_equal(sink_init(&s, &c), 0);
	assert_int_equal(ncx_addr_parse("10.0.0.2:6665", 1, &a), 0);
	snprintf(blocker, sizeof(blocker), "%s/10.0.0.2", dir);
	f = fopen(blocker, "w"); /* a file where the host's directory should be */
	assert_non_null(f);
	fclose(f);
	h = sink_host_new(&s, &a);
	for (int seq = 0; seq < 200; seq++) {
		record(&s, h, DAY0, (uint64_t)seq);
		if (seq % 20 == 19)
			sink_flush_all(&s);
	}
	uint64_t dropped = s.total.drop[NCXD_D_WRITE_ERROR];

	assert_true(dropped > 0 && dropped < 200);
	assert_int_equal(messages(), 1); /* one message per episode, not per line */
	unlink(blocker);
	sink_flush_all(&s);
	for (int seq = 200; seq < 210; seq++)
		record(&s, h, DAY0, (uint64_t)seq);
	sink_finish(&s);
	const char *t = slurp("10.0.0.2/x.log");
	char want[96];

	assert_non_null(t);
	snprintf(want, sizeof(want), " ncx: dropped records=%llu reason=write_error\n",
		 (unsigned long long)dropped);
	assert_int_equal(count(t, " ncx: dropped"), 1);
	const char *ev = strstr(t, want);

	assert_non_null(ev);
	/* Buffered lines before the event, new ones after; all accounted. */
	assert_int_equal(count(t, " seq=") + (int)dropped, 210);
	assert_non_null(strstr(ev, "rec 200 seq=200\n"));
	assert_null(strstr(ev, "rec 0 seq=0\n"));
	assert_non_null(strstr(t, "rec 0 seq=0\n"));
	sink_free(&s);
}

/* While its file cannot be written a host holds more than one buffer, up to
 * SINK_HOST_BYTES; once it can, every line goes out once, in order, whole
 * across the buffers' boundaries, and the extra buffers go back. */
static void test_write_error_grows(void **state)
{
	struct ncxd_config c;
	struct sink s;
	struct ncx_addr a;
	struct sink_host *h;
	char blocker[128], want[64];
	FILE *f;
	int n = 0;

	config(&c, "%h/x.log");
	c.buffers = 20;
	assert_int_equal(sink_init(&s, &c), 0);
	assert_int_equal(s.host_bufs, 16);
	assert_int_equal(ncx_addr_parse("10.0.0.4:6665", 1, &a), 0);
	snprintf(blocker, sizeof(blocker), "%s/10.0.0.4", dir);
	f = fopen(blocker, "w");
	assert_non_null(f);
	fclose(f);
	h = sink_host_new(&s, &a);
	/* ~50 bytes a line: 64 KiB hold over 1,000 lines; send until one drops. */
	while (s.total.drop[NCXD_D_WRITE_ERROR] == 0) {
		record(&s, h, DAY0, (uint64_t)n++);
		if (n % 100 == 0)
			sink_flush_all(&s);
		assert_true(h->nbuf <= 16);
	}
	assert_int_equal(h->nbuf, 16);
	assert_int_equal(s.nfree, 4);
	assert_true(n > 1000);
	assert_true(h->len <= SINK_HOST_BYTES && h->len > SINK_HOST_BYTES - 100);
	unlink(blocker);
	sink_flush_all(&s);
	assert_int_equal(s.nfree, 20);
	sink_finish(&s);
	const char *t = slurp("10.0.0.4/x.log");

	assert_non_null(t);
	assert_int_equal(count(t, " seq="), n - 1);
	for (int seq = 0; seq < n - 1; seq++) {
		snprintf(want, sizeof(want), "] rec %d seq=%d\n", seq, seq);
		t = strstr(t, want);
		assert_non_null(t); /* whole, in order */
	}
	assert_non_null(strstr(t, " ncx: dropped records=1 reason=write_error\n"));
	sink_free(&s);
}

/* A buffer is written flush_ms after its oldest line went in: not sooner,
 * not later; lines that came after it go with it. */
/* A line longer than a whole buffer goes straight to the file, whole, after
 * what the host had buffered. */
static void test_line_over_buffer(void **state)
{
	struct ncxd_config c;
	struct sink s;
	struct ncx_addr a;
	struct sink_host *h;
	static char big[10000];
	struct ncx_legacy g;
	const char *t;

	config(&c, "%h.log");
	assert_int_equal(sink_init(&s, &c), 0);
	assert_int_equal(ncx_addr_parse("10.0.0.9:6666", 1, &a), 0);
	h = sink_host_new(&s, &a);
	record(&s, h, DAY0, 1);
	memset(big, 'x', sizeof(big));
	assert_int_equal(ncx_legacy_parse(big, sizeof(big), &g), 0);
	sink_legacy(&s, h, &g);
	sink_flush_all(&s);
	t = slurp("10.0.0.9.log");
	assert_non_null(t);
	assert_non_null(strstr(t, "rec 1 seq=1\n"));
	/* the big line whole, and after the buffered record */
	assert_non_null(strstr(strstr(t, "rec 1"), "xxxxxxxxxx"));
	assert_int_equal(count(t, "\n"), 2);
	assert_true(strlen(t) > sizeof(big));
	sink_finish(&s);
	sink_free(&s);
}

/* With no time to spare, each periodic flush writes one due host and leaves
 * the rest for the next call, saying it has work now; none is skipped. */
static void test_flush_due_in_slices(void **state)
{
	struct ncxd_config c;
	struct sink s;
	struct sink_host *h[3];
	const char *addr[3] = { "10.0.0.5:6665", "10.0.0.6:6665", "10.0.0.7:6665" };
	const char *file[3] = { "10.0.0.5.log", "10.0.0.6.log", "10.0.0.7.log" };
	const uint64_t ms = 1000;

	config(&c, "%h.log");
	c.flush_ms = 100;
	c.buffers = 3;	/* one each: no host is written early to free one */
	assert_int_equal(sink_init(&s, &c), 0);
	assert_int_equal(s.flush_slice_us, SINK_FLUSH_SLICE_US);
	s.flush_slice_us = 0;
	s.mono_us = 1000 * ms;
	for (int i = 0; i < 3; i++) {
		struct ncx_addr a;

		assert_int_equal(ncx_addr_parse(addr[i], 1, &a), 0);
		h[i] = sink_host_new(&s, &a);
		record(&s, h[i], DAY0, 0);
	}
	s.mono_us = 1100 * ms;
	for (int k = 1; k <= 3; k++) {
		sink_flush_due(&s);
		for (int i = 0; i < 3; i++) {
			const char *t = slurp(file[i]);

			/* Oldest first: hosts 0..k-1 are written, the others not yet. */
			assert_int_equal(t ? count(t, " seq=") : 0, i < k ? 1 : 0);
		}
		assert_int_equal(sink_next_due(&s), k < 3 ? 1100 * ms : UINT64_MAX);
	}
	assert_int_equal(s.flush_slices_cut, 2);
	sink_finish(&s);
	sink_free(&s);
}

static void test_flush_due(void **state)
{
	struct ncxd_config c;
	struct sink s;
	struct ncx_addr a, b;
	struct sink_host *ha, *hb;
	const uint64_t ms = 1000;

	config(&c, "%h.log");
	c.flush_ms = 100;
	assert_int_equal(sink_init(&s, &c), 0);
	assert_int_equal(ncx_addr_parse("10.0.0.5:6665", 1, &a), 0);
	assert_int_equal(ncx_addr_parse("10.0.0.6:6665", 1, &b), 0);
	ha = sink_host_new(&s, &a);
	hb = sink_host_new(&s, &b);
	assert_int_equal(sink_next_due(&s), UINT64_MAX);
	s.mono_us = 1000 * ms;
	record(&s, ha, DAY0, 0);
	s.mono_us = 1050 * ms;
	record(&s, hb, DAY0, 0);
	s.mono_us = 1080 * ms;
	record(&s, ha, DAY0, 1); /* rides with seq 0 */
	assert_int_equal(sink_next_due(&s), 1100 * ms);
	s.mono_us = 1100 * ms - 1;
	sink_flush_due(&s);
	assert_null(slurp("10.0.0.5.log"));
	s.mono_us = 1100 * ms;
	sink_flush_due(&s);
	assert_int_equal(count(slurp("10.0.0.5.log"), " seq="), 2);
	assert_null(slurp("10.0.0.6.log"));
	assert_int_equal(sink_next_due(&s), 1150 * ms);
	s.mono_us = 1120 * ms;
	record(&s, hb, DAY0, 1);
	record(&s, ha, DAY0, 2); /* a new interval for a: due at 1220 */
	s.mono_us = 1150 * ms;
	sink_flush_due(&s);
	assert_int_equal(count(slurp("10.0.0.6.log"), " seq="), 2);
	assert_int_equal(count(slurp("10.0.0.5.log"), " seq="), 2);
	assert_int_equal(sink_next_due(&s), 1220 * ms);
	s.mono_us = 1220 * ms;
	sink_flush_due(&s);
	assert_int_equal(count(slurp("10.0.0.5.log"), " seq="), 3);
	assert_int_equal(sink_next_due(&s), UINT64_MAX);
	assert_int_equal(s.nfree, 2);
	sink_finish(&s);
	sink_free(&s);
}

/* The rate limit: the suppressed count is written when a record passes. */
static void test_suppressed(void **state)
{
	struct ncxd_config c;
	struct sink s;
	struct ncx_addr a;
	struct sink_host *h;

	config(&c, "%h.log");
	c.rate = 10;
	c.burst = 20;
	assert_int_equal(sink_init(&s, &c), 0);
	assert_int_equal(ncx_addr_parse("10.0.0.3:6665", 1, &a), 0);
	h = sink_host_new(&s, &a);
	/* Each record's body ("rec N") costs 5 bytes: 20 bytes of burst pass 4. */
	for (int seq = 0; seq < 10; seq++)
		record(&s, h, DAY0, (uint64_t)seq);
	s.mono_us += 10000000; /* 10 s later: tokens again */
	record(&s, h, DAY0 + 10000000, 10);
	sink_finish(&s);
	const char *t = slurp("10.0.0.3.log");

	assert_non_null(strstr(t, "rec 3 seq=3\n"));
	assert_null(strstr(t, "rec 4 seq=4\n"));
	assert_non_null(strstr(t, " ncx: suppressed records=6 bytes=30\n"));
	assert_non_null(strstr(strstr(t, "suppressed"), "rec 10 seq=10\n"));
	sink_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_day, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_grows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_due_in_slices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_over_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suppressed, setup, teardown),
	};

	ncx_log_init(NULL);
	ncx_console_register(&counter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
