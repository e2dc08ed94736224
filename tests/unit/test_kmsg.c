/* SPDX-License-Identifier: MIT */
/* Unit tests of lib/kmsg.c: the state file, the seq accounting of /dev/kmsg
 * reads (overruns, resume), and the render callback netcon calls. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ncx/kmsg.h>
#include <ncx/ring.h>
#include <ncx/wire.h>

#define BOOT "8d3c2c1e-3c4a-4c3e-9a4b-0f6b6c1d2e3f"

static int parse_str(const char *s, struct ncx_kmsg_state *st)
{
	return ncx_kmsg_state_parse(s, strlen(s), st);
}

/* ---- the state file ----------------------------------------------------- */

static void test_state_format(void **state)
{
	struct ncx_kmsg_state st = { .boot_id = BOOT, .acked = 1234,
				     .targets = "127.0.0.1:6666 [::1]:6666" };
	const char *want = "ncx-forward-state 1\nboot_id " BOOT "\nacked 1234\n"
			   "targets 127.0.0.1:6666 [::1]:6666\n";
	char out[NCX_KMSG_STATE_MAX];
	size_t n = ncx_kmsg_state_format(&st, out, sizeof(out));

	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	/* A short buffer still learns the length it needs. */
	assert_int_equal(ncx_kmsg_state_format(&st, out, 10), strlen(want));
}

static void test_state_round_trip(void **state)
{
	struct ncx_kmsg_state st = { .boot_id = BOOT, .acked = UINT64_MAX, .targets = "" }, back;
	char out[NCX_KMSG_STATE_MAX];
	size_t n;

	memset(st.targets, 'x', NCX_KMSG_TARGETS_MAX);
	st.targets[NCX_KMSG_TARGETS_MAX] = 0;
	n = ncx_kmsg_state_format(&st, out, sizeof(out));
	assert_true(n < sizeof(out));
	assert_int_equal(ncx_kmsg_state_parse(out, n, &back), 0);
	assert_string_equal(back.boot_id, BOOT);
	assert_true(back.acked == UINT64_MAX);
	assert_string_equal(back.targets, st.targets);

	/* Keys in another order, blank lines, empty targets: still the state. */
	assert_int_equal(parse_str("ncx-forward-state 1\n\ntargets \nacked 0\nboot_id " BOOT "\n",
				   &back), 0);
	assert_int_equal(back.acked, 0);
	assert_string_equal(back.targets, "");
}

static void test_state_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"ncx-forward-state 2\nboot_id " BOOT "\nacked 1\ntargets a\n",
		"boot_id " BOOT "\nacked 1\ntargets a\n",			/* no version line */
		"ncx-forward-state 1\nboot_id " BOOT "\nacked 1\ntargets a",	/* cut: no newline */
		"ncx-forward-state 1\nboot_id " BOOT "\nacked 1\n",		/* a key missing */
		"ncx-forward-state 1\nboot_id " BOOT "\nacked 1\nacked 2\ntargets a\n", /* twice */
		"ncx-forward-state 1\nboot_id " BOOT "\nacked 18446744073709551616\ntargets a\n",
		"ncx-forward-state 1\nboot_id " BOOT "\nacked -1\ntargets a\n",
		"ncx-forward-state 1\nboot_id " BOOT "\nacked \ntargets a\n",
		"ncx-forward-state 1\nboot_id " BOOT "\nacked 1x\ntargets a\n",
		"ncx-forward-state 1\nboot_id 8d3c2c1e\nacked 1\ntargets a\n",	/* short id */
		"ncx-forward-state 1\nboot_id 8d3c2c1e-3c4a-4c3e-9a4b-0f6b6c1d2e3g\nacked 1\ntargets a\n",
		"ncx-forward-state 1\nboot_id 8d3c2c1e-3c4a-4c3e-9a4b_0f6b6c1d2e3f\nacked 1\ntargets a\n",
		"ncx-forward-state 1\nboot_id " BOOT "\nacked 1\ntargets a\x01\n",
		"ncx-forward-state 1\nboot_id " BOOT "\nacked 1\ntargets a\nextra 1\n",
		"ncx-forward-state 1\nboot_id " BOOT "\nacked 1\ntargets\n",	/* no space */
	};
	struct ncx_kmsg_state st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_str(bad[i], &st) != -EBADMSG)
			fail_msg("accepted bad state #%zu", i);
	}
	/* A NUL inside is refused too (strlen would stop there; len does not). */
	const char nul[] = "ncx-forward-state 1\nboot_id " BOOT "\nacked 1\ntargets a\0b\n";
	assert_int_equal(ncx_kmsg_state_parse(nul, sizeof(nul) - 1, &st), -EBADMSG);

	/* Targets one byte over the limit. */
	char big[NCX_KMSG_STATE_MAX * 2];
	int n = snprintf(big, sizeof(big), "ncx-forward-state 1\nboot_id " BOOT "\nacked 1\ntargets ");

	memset(big + n, 'x', NCX_KMSG_TARGETS_MAX + 1);
	big[n + NCX_KMSG_TARGETS_MAX + 1] = '\n';
	assert_int_equal(ncx_kmsg_state_parse(big, (size_t)n + NCX_KMSG_TARGETS_MAX + 2, &st),
			 -EBADMSG);
	big[n + NCX_KMSG_TARGETS_MAX] = '\n';
	assert_int_equal(ncx_kmsg_state_parse(big, (size_t)n + NCX_KMSG_TARGETS_MAX + 1, &st), 0);
}

/* ---- seq of a raw record ------------------------------------------------ */

static void test_seq_of(void **state)
{
	uint64_t seq = 0;

	assert_int_equal(ncx_kmsg_seq_of("6,348,1736559073,-;hi\n", 22, &seq), 0);
	assert_int_equal(seq, 348);
	/* Lenient past the seq: a header the strict parser would refuse. */
	assert_int_equal(ncx_kmsg_seq_of("14,7,x", 6, &seq), 0);
	assert_int_equal(seq, 7);
	assert_int_equal(ncx_kmsg_seq_of("6,,1,-;x", 8, &seq), -EBADMSG);
	assert_int_equal(ncx_kmsg_seq_of("6,12", 4, &seq), -EBADMSG);
	assert_int_equal(ncx_kmsg_seq_of("6;12,", 5, &seq), -EBADMSG);
	assert_int_equal(ncx_kmsg_seq_of("6,99999999999999999999,1,-;x", 28, &seq), -EBADMSG);
}

/* ---- seq accounting ----------------------------------------------------- */

static void test_seq_contiguous(void **state)
{
	struct ncx_kmsg_seq s;
	struct ncx_kmsg_gap g;

	ncx_kmsg_seq_init(&s, false, 0);
	/* Starting anywhere (the oldest the kernel still holds) is no gap. */
	assert_int_equal(ncx_kmsg_seq_next(&s, 500, &g), NCX_KMSG_FORWARD);
	assert_int_equal(g.count, 0);
	for (uint64_t q = 501; q < 600; q++) {
		assert_int_equal(ncx_kmsg_seq_next(&s, q, &g), NCX_KMSG_FORWARD);
		assert_int_equal(g.count, 0);
	}
	assert_int_equal(s.read, 100);
	assert_int_equal(s.forwarded, 100);
	assert_int_equal(s.dropped, 0);
	assert_int_equal(s.gaps, 0);
}

/* An overrun (EPIPE) then the oldest record left: the jump is the exact count. */
static void test_seq_overrun(void **state)
{
	struct ncx_kmsg_seq s;
	struct ncx_kmsg_gap g;

	ncx_kmsg_seq_init(&s, false, 0);
	assert_int_equal(ncx_kmsg_seq_next(&s, 10, &g), NCX_KMSG_FORWARD);
	assert_int_equal(ncx_kmsg_seq_next(&s, 11, &g), NCX_KMSG_FORWARD);
	assert_int_equal(ncx_kmsg_seq_next(&s, 4107, &g), NCX_KMSG_FORWARD);
	assert_int_equal(g.count, 4095);
	assert_int_equal(g.first, 12);
	assert_int_equal(g.last, 4106);
	assert_false(g.at_resume);
	/* One record skipped (EINVAL: the kernel steps over it). */
	assert_int_equal(ncx_kmsg_seq_next(&s, 4109, &g), NCX_KMSG_FORWARD);
	assert_int_equal(g.count, 1);
	assert_int_equal(g.first, 4108);
	assert_int_equal(g.last, 4108);
	assert_int_equal(ncx_kmsg_seq_next(&s, 4110, &g), NCX_KMSG_FORWARD);
	assert_int_equal(g.count, 0);
	assert_int_equal(s.dropped, 4096);
	assert_int_equal(s.gaps, 2);
	assert_int_equal(s.forwarded, 5);
}

static void test_seq_stale(void **state)
{
	struct ncx_kmsg_seq s;
	struct ncx_kmsg_gap g;

	ncx_kmsg_seq_init(&s, false, 0);
	assert_int_equal(ncx_kmsg_seq_next(&s, 7, &g), NCX_KMSG_FORWARD);
	assert_int_equal(ncx_kmsg_seq_next(&s, 7, &g), NCX_KMSG_STALE);
	assert_int_equal(ncx_kmsg_seq_next(&s, 3, &g), NCX_KMSG_STALE);
	assert_int_equal(g.count, 0);
	/* The stale ones do not move the reference: 8 follows 7 without a gap. */
	assert_int_equal(ncx_kmsg_seq_next(&s, 8, &g), NCX_KMSG_FORWARD);
	assert_int_equal(g.count, 0);
	assert_int_equal(s.stale, 2);
	assert_int_equal(s.forwarded, 2);
}

/* Resume: reading from the oldest record, those up to the acked seq are not sent. */
static void test_seq_resume(void **state)
{
	struct ncx_kmsg_seq s;
	struct ncx_kmsg_gap g;

	ncx_kmsg_seq_init(&s, true, 100);
	for (uint64_t q = 40; q <= 100; q++) {
		assert_int_equal(ncx_kmsg_seq_next(&s, q, &g), NCX_KMSG_RESUMED);
		assert_int_equal(g.count, 0);
	}
	assert_int_equal(ncx_kmsg_seq_next(&s, 101, &g), NCX_KMSG_FORWARD);
	assert_int_equal(g.count, 0);
	assert_int_equal(s.resumed, 61);
	assert_int_equal(s.forwarded, 1);
	assert_int_equal(s.dropped, 0);
}

/* Resume, but the kernel overwrote records after the acked one while no
 * forwarder ran: a gap at the resume point. */
static void test_seq_resume_gap(void **state)
{
	struct ncx_kmsg_seq s;
	struct ncx_kmsg_gap g;

	ncx_kmsg_seq_init(&s, true, 100);
	assert_int_equal(ncx_kmsg_seq_next(&s, 150, &g), NCX_KMSG_FORWARD);
	assert_int_equal(g.count, 49);
	assert_int_equal(g.first, 101);
	assert_int_equal(g.last, 149);
	assert_true(g.at_resume);
	assert_int_equal(s.dropped, 49);

	/* The kernel holds nothing up to the resume point, but the next one: no gap. */
	ncx_kmsg_seq_init(&s, true, 100);
	assert_int_equal(ncx_kmsg_seq_next(&s, 101, &g), NCX_KMSG_FORWARD);
	assert_int_equal(g.count, 0);
	assert_false(g.at_resume);
	assert_int_equal(s.dropped, 0);
	assert_int_equal(s.gaps, 0);

	/* Resume point UINT64_MAX (never seen from a kernel): no overflow. */
	ncx_kmsg_seq_init(&s, true, UINT64_MAX);
	assert_int_equal(ncx_kmsg_seq_next(&s, 0, &g), NCX_KMSG_RESUMED);
	assert_int_equal(g.count, 0);
}

/* ---- render ------------------------------------------------------------- */

static void test_render(void **state)
{
	const char rec[] = "6,348,1736559073,-,caller=T12;ncx-forward-test abc 1\n"
			   " SUBSYSTEM=pci\n DEVICE=+pci:0000:00:03.0\n";
	struct ncx_ring_rec rr = { .seq = 3, .text_len = sizeof(rec) - 1 };
	char out[4096];
	uint64_t seq = 3;
	size_t n = ncx_kmsg_render(NULL, &rr, rec, out, sizeof(out), &seq);
	struct ncx_ext e;

	/* The record as the kernel gave it, with the kernel's seq, not the ring's. */
	assert_int_equal(n, sizeof(rec) - 1);
	assert_memory_equal(out, rec, n);
	assert_int_equal(seq, 348);
	assert_int_equal(ncx_ext_parse(out, n, &e), 0);
	assert_int_equal(e.seq, 348);

	/* The same answer every time (resends render again). */
	seq = 99;
	assert_int_equal(ncx_kmsg_render(NULL, &rr, rec, out, sizeof(out), &seq), n);
	assert_int_equal(seq, 348);

	/* Cut at cap. */
	seq = 0;
	assert_int_equal(ncx_kmsg_render(NULL, &rr, rec, out, 20, &seq), 20);
	assert_memory_equal(out, rec, 20);
	assert_int_equal(seq, 348);
}

static void test_render_skips_garbage(void **state)
{
	const char junk[] = "hello world\n";
	struct ncx_ring_rec rr = { .seq = 5, .text_len = sizeof(junk) - 1 };
	char out[64];
	uint64_t seq = 5;

	assert_int_equal(ncx_kmsg_render(NULL, &rr, junk, out, sizeof(out), &seq), 0);
	assert_int_equal(seq, 5);
}

/* Through a real ring: what netcon will do, read a record and render it. */
static void test_render_from_ring(void **state)
{
	static _Alignas(64) unsigned char mem[1 << 16];
	const char rec[] = "14,4242,99,-;ncx-forward-test ring\n";
	struct ncx_ring_meta meta = { .level = 6, .facility = 1, .ts_usec = 99 };
	struct ncx_ring ring;
	struct ncx_ring_reader rd;
	struct ncx_ring_rec rr;
	char text[512], out[512];
	uint64_t seq;

	memset(mem, 0, sizeof(mem));
	assert_int_equal(ncx_ring_init(&ring, mem, sizeof(mem)), 0);
	ncx_ring_reader_init(&ring, &rd, NCX_RING_OLDEST);
	assert_int_equal(ncx_ring_write(&ring, &meta, rec, sizeof(rec) - 1, NULL), 0);
	assert_int_equal(ncx_ring_read(&ring, &rd, &rr, text, sizeof(text)), 1);
	seq = rr.seq + 1;
	assert_int_equal(ncx_kmsg_render(NULL, &rr, text, out, sizeof(out), &seq),
			 sizeof(rec) - 1);
	assert_int_equal(seq, 4242);
	assert_memory_equal(out, rec, sizeof(rec) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_format),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_rejects),
		cmocka_unit_test(test_seq_of),
		cmocka_unit_test(test_seq_contiguous),
		cmocka_unit_test(test_seq_overrun),
		cmocka_unit_test(test_seq_stale),
		cmocka_unit_test(test_seq_resume),
		cmocka_unit_test(test_seq_resume_gap),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_skips_garbage),
		cmocka_unit_test(test_render_from_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
