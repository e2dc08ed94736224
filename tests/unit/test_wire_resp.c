/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of lib/wire.c's reliable-sender formats: the receiver's
 * response "ncrx<acked>[ <seq>]*" (ncx_resp_init, ncx_resp_add,
 * ncx_resp_parse) and the sender's marking of a record (ncx_ext_mark).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ncx/wire.h>

static void assert_resp(const struct ncx_resp *r, const char *want)
{
	assert_int_equal(r->len, strlen(want));
	assert_memory_equal(r->buf, want, r->len);
}

static int parse_str(const char *s, uint64_t *acked, uint64_t *seqs, size_t cap)
{
	return ncx_resp_parse(s, strlen(s), acked, seqs, cap);
}

/* ---- writing ------------------------------------------------------------ */

static void test_resp_write(void **state)
{
	struct ncx_resp r;

	ncx_resp_init(&r, 0);
	assert_resp(&r, "ncrx0");
	assert_true(ncx_resp_add(&r, 5));
	assert_true(ncx_resp_add(&r, 0));
	assert_true(ncx_resp_add(&r, 5));	/* the writer does not judge */
	assert_resp(&r, "ncrx0 5 0 5");

	ncx_resp_init(&r, UINT64_MAX);
	assert_true(ncx_resp_add(&r, UINT64_MAX));
	assert_resp(&r, "ncrx18446744073709551615 18446744073709551615");

	/* init starts over */
	ncx_resp_init(&r, 1234567890);
	assert_resp(&r, "ncrx1234567890");
}

/* A response may be exactly NCX_WIRE_RESP_MAX bytes, never one more; a seq
 * that does not fit leaves the response as it was. */
static void test_resp_limit(void **state)
{
	struct ncx_resp r, before;
	int i;

	ncx_resp_init(&r, 0);					/* 5 bytes */
	for (i = 0; i < 99; i++)
		assert_true(ncx_resp_add(&r, 100000000 + i));	/* 10 bytes each */
	assert_int_equal(r.len, 995);
	before = r;
	assert_false(ncx_resp_add(&r, 12345));			/* would be 1001 */
	assert_int_equal(r.len, before.len);
	assert_memory_equal(r.buf, before.buf, r.len);
	assert_true(ncx_resp_add(&r, 1234));			/* exactly 1000 */
	assert_int_equal(r.len, NCX_WIRE_RESP_MAX);
	assert_false(ncx_resp_add(&r, 0));
	assert_int_equal(r.len, NCX_WIRE_RESP_MAX);
	assert_int_equal(r.buf[NCX_WIRE_RESP_MAX - 5], ' ');
	assert_memory_equal(r.buf + NCX_WIRE_RESP_MAX - 4, "1234", 4);
}

/* The most requests one response holds, and a parser cap of exactly that. */
static void test_resp_most_seqs(void **state)
{
	static uint64_t seqs[NCX_WIRE_RESP_SEQS_MAX + 1];
	struct ncx_resp r;
	uint64_t acked = 1;
	size_t n = 0;

	ncx_resp_init(&r, 0);
	while (ncx_resp_add(&r, n % 10))
		n++;
	assert_int_equal(n, NCX_WIRE_RESP_SEQS_MAX);
	assert_int_equal(n, 497);
	assert_int_equal(r.len, 5 + 2 * n);
	assert_int_equal(ncx_resp_parse(r.buf, r.len, &acked, seqs, n), (int)n);
	assert_int_equal(acked, 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], i % 10);
	/* One request too many for the caller's array. */
	assert_int_equal(ncx_resp_parse(r.buf, r.len, &acked, seqs, n - 1), -EBADMSG);
	/* And no requests taken at all. */
	assert_int_equal(parse_str("ncrx7", &acked, NULL, 0), 0);
	assert_int_equal(acked, 7);
	assert_int_equal(parse_str("ncrx7 8", &acked, seqs, 0), -EBADMSG);
}

/* Whatever the writer makes, the parser gives back, in order. */
static void test_resp_round_trip(void **state)
{
	static uint64_t in[NCX_WIRE_RESP_SEQS_MAX], out[NCX_WIRE_RESP_SEQS_MAX];
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (int round = 0; round < 200; round++) {
		struct ncx_resp r;
		uint64_t acked, got_acked = 0;
		size_t n = 0;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		acked = x >> (x & 63);
		ncx_resp_init(&r, acked);
		for (;;) {
			uint64_t seq;

			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			seq = x >> (x & 63);
			if (!ncx_resp_add(&r, seq))
				break;
			in[n++] = seq;
			if ((x >> 7) % 97 == 0)
				break;		/* short ones too */
		}
		assert_true(r.len <= NCX_WIRE_RESP_MAX);
		assert_int_equal(ncx_resp_parse(r.buf, r.len, &got_acked, out,
						NCX_WIRE_RESP_SEQS_MAX), (int)n);
		assert_int_equal(got_acked, acked);
		if (n)
			assert_memory_equal(out, in, n * sizeof(in[0]));
	}
}

/* ---- parsing ------------------------------------------------------------ */

static void test_resp_parse_accepts(void **state)
{
	uint64_t acked, seqs[8];

	assert_int_equal(parse_str("ncrx0", &acked, seqs, 8), 0);
	assert_int_equal(acked, 0);
	assert_int_equal(parse_str("ncrx41 43 42 43 0", &acked, seqs, 8), 4);
	assert_int_equal(acked, 41);
	assert_int_equal(seqs[0], 43);	/* as given: unsorted, duplicates kept */
	assert_int_equal(seqs[1], 42);
	assert_int_equal(seqs[2], 43);
	assert_int_equal(seqs[3], 0);
	/* Leading zeros, any number of them. */
	assert_int_equal(parse_str("ncrx007 0009", &acked, seqs, 8), 1);
	assert_int_equal(acked, 7);
	assert_int_equal(seqs[0], 9);
	assert_int_equal(parse_str("ncrx00000000000000000000000000018446744073709551615",
				   &acked, seqs, 8), 0);
	assert_true(acked == UINT64_MAX);
	assert_int_equal(parse_str("ncrx1 18446744073709551615", &acked, seqs, 8), 1);
	assert_true(seqs[0] == UINT64_MAX);
}

static void test_resp_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"n",
		"ncrx",
		"ncr1",
		"NCRX1",
		"ncrx 1",
		"ncrx1 ",
		"ncrx1  2",
		" ncrx1",
		"ncrx-1",
		"ncrx+1",
		"ncrx1 -2",
		"ncrx1,2",
		"ncrx1\t2",
		"ncrx1 2x",
		"ncrx1x",
		"ncrx1\n",
		"ncrx0x10",
		"ncrx18446744073709551616",		/* 2^64 */
		"ncrx99999999999999999999",
		"ncrx1 18446744073709551616",
		"ncrx1 2 184467440737095516150",
	};
	uint64_t acked, seqs[8];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_str(bad[i], &acked, seqs, 8) != -EBADMSG)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* A NUL inside is not a separator. */
	assert_int_equal(ncx_resp_parse("ncrx1\0 2", 8, &acked, seqs, 8), -EBADMSG);
	assert_int_equal(ncx_resp_parse("ncrx1 2\0", 8, &acked, seqs, 8), -EBADMSG);
	/* The length is what counts, not a NUL. */
	assert_int_equal(ncx_resp_parse("ncrx12 3", 5, &acked, seqs, 8), 0);
	assert_int_equal(acked, 1);
	assert_int_equal(ncx_resp_parse(NULL, 0, &acked, seqs, 8), -EBADMSG);
}

/* Over NCX_WIRE_RESP_MAX bytes is malformed, however well-formed the rest. */
static void test_resp_parse_too_long(void **state)
{
	static uint64_t seqs[NCX_WIRE_RESP_SEQS_MAX];
	char buf[NCX_WIRE_RESP_MAX + 2];
	uint64_t acked;

	memcpy(buf, "ncrx", 4);
	memset(buf + 4, '0', sizeof(buf) - 4);	/* "ncrx000...0": one ack of 0 */
	assert_int_equal(ncx_resp_parse(buf, NCX_WIRE_RESP_MAX, &acked, seqs,
					NCX_WIRE_RESP_SEQS_MAX), 0);
	assert_int_equal(acked, 0);
	assert_int_equal(ncx_resp_parse(buf, NCX_WIRE_RESP_MAX + 1, &acked, seqs,
					NCX_WIRE_RESP_SEQS_MAX), -EBADMSG);
	assert_int_equal(ncx_resp_parse(buf, NCX_WIRE_RESP_MAX + 2, &acked, seqs,
					NCX_WIRE_RESP_SEQS_MAX), -EBADMSG);
}

/* ---- ncx_ext_mark ------------------------------------------------------- */

static size_t mark_str(char *buf, size_t cap, const char *rec, bool emergency)
{
	size_t len = strlen(rec);

	memcpy(buf, rec, len);
	return ncx_ext_mark(buf, len, cap, emergency, 0);
}

static void assert_marked(const char *rec, bool emergency, const char *want)
{
	char buf[256];
	size_t n = mark_str(buf, sizeof(buf), rec, emergency);

	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
}

static void test_mark(void **state)
{
	struct ncx_ext e;
	char buf[256];
	size_t n;

	assert_marked("6,1,0,-;x\n", false, "6,1,0,-,ncrx=1;x\n");
	assert_marked("6,1,0,-;x\n", true, "6,1,0,-,ncemg=1,ncrx=1;x\n");
	/* After every key the header has; the body may hold ';' too. */
	assert_marked("6.4.0,12,387,2785468,c,caller=T1,foo=bar;a;b\n SUB=x;y\n", true,
		      "6.4.0,12,387,2785468,c,caller=T1,foo=bar,ncemg=1,ncrx=1;a;b\n SUB=x;y\n");
	assert_marked("6,1,0,-;", false, "6,1,0,-,ncrx=1;");
	/* Not parsed: a ';' is all it needs. */
	assert_marked(";", false, ",ncrx=1;");

	n = mark_str(buf, sizeof(buf), "4,7,99,-,caller=C3;hi\n", true);
	assert_int_equal(ncx_ext_parse(buf, n, &e), 0);
	assert_true(e.emergency && e.reliable);
	assert_int_equal(e.seq, 7);
	assert_int_equal(e.caller_kind, 'C');

	/* No ';', or nothing at all: not a record. */
	assert_int_equal(mark_str(buf, sizeof(buf), "6,1,0,-", false), 0);
	assert_int_equal(ncx_ext_mark(buf, 0, sizeof(buf), true, 0), 0);
}

/* Marking what ncx_ext_format() made gives what it makes with the flags set. */
static void test_mark_matches_format(void **state)
{
	struct ncx_ext rec = {
		.release = { "6.1.0-13-amd64", 14 },
		.facility = 0, .level = 6, .flag = 'c', .seq = 1234, .ts_usec = 5678,
		.caller_kind = 'T', .caller_id = 42,
	};
	static const char text[] = "line with \\ and \x01 in it";
	char a[512], b[512];

	for (int emg = 0; emg < 2; emg++) {
		size_t na, nb;

		rec.emergency = rec.reliable = false;
		na = ncx_ext_format(&rec, text, sizeof(text) - 1, " K=v\n", 5, a, sizeof(a));
		na = ncx_ext_mark(a, na, sizeof(a), emg, 0);
		rec.emergency = emg;
		rec.reliable = true;
		nb = ncx_ext_format(&rec, text, sizeof(text) - 1, " K=v\n", 5, b, sizeof(b));
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na);
	}
}

/* The marked header must stay under NCX_WIRE_HDR_MAX; the body is cut to
 * NCX_WIRE_BODY_MAX; and it must fit in cap (else nothing changes). */
static void test_mark_limits(void **state)
{
	static char buf[NCX_WIRE_HDR_MAX + NCX_WIRE_BODY_MAX + 64], copy[sizeof(buf)];
	const size_t klen[2] = { 7, 15 };

	for (int emg = 0; emg < 2; emg++) {
		size_t hdr = NCX_WIRE_HDR_MAX - klen[emg] - 1, len, n;

		/* Longest header that may be marked. */
		memset(buf, 'h', hdr);
		memcpy(buf + hdr, ";body", 5);
		n = ncx_ext_mark(buf, hdr + 5, sizeof(buf), emg, 0);
		assert_int_equal(n, NCX_WIRE_HDR_MAX - 1 + 5);
		assert_int_equal(buf[NCX_WIRE_HDR_MAX - 1], ';');
		/* One byte longer: refused, untouched. */
		memset(buf, 'h', hdr + 1);
		memcpy(buf + hdr + 1, ";body", 5);
		memcpy(copy, buf, hdr + 6);
		assert_int_equal(ncx_ext_mark(buf, hdr + 6, sizeof(buf), emg, 0), 0);
		assert_memory_equal(buf, copy, hdr + 6);

		/* A body of NCX_WIRE_BODY_MAX + 10 bytes keeps its first
		 * NCX_WIRE_BODY_MAX. */
		memcpy(buf, "6,1,0,-;", 8);
		for (size_t i = 0; i < NCX_WIRE_BODY_MAX + 10; i++)
			buf[8 + i] = (char)('a' + i % 26);
		len = 8 + NCX_WIRE_BODY_MAX + 10;
		n = ncx_ext_mark(buf, len, sizeof(buf), emg, 0);
		assert_int_equal(n, 8 + klen[emg] + NCX_WIRE_BODY_MAX);
		assert_int_equal(buf[7 + klen[emg]], ';');
		for (size_t i = 0; i < NCX_WIRE_BODY_MAX; i++)
			assert_int_equal(buf[8 + klen[emg] + i], (char)('a' + i % 26));

		/* cap: exactly enough, then one short. */
		memcpy(buf, "6,1,0,-;x\n", 10);
		assert_int_equal(ncx_ext_mark(buf, 10, 10 + klen[emg], emg, 0), 10 + klen[emg]);
		memcpy(buf, "6,1,0,-;x\n", 10);
		assert_int_equal(ncx_ext_mark(buf, 10, 9 + klen[emg], emg, 0), 0);
		assert_memory_equal(buf, "6,1,0,-;x\n", 10);
	}
	assert_int_equal(klen[1] + 6 + NCX_WIRE_ID_HEX, NCX_WIRE_MARK_MAX);
}

/* A named stream: ncid after ncrx, parsed back; malformed names refused. */
static void test_mark_id(void **state)
{
	static const char *bad[] = {
		"6,1,0,-,ncid=0000000000000000;x",  /* 0 is no name */
		"6,1,0,-,ncid=0123456789ABCDEF;x",  /* lowercase only */
		"6,1,0,-,ncid=0123456789abcde;x",   /* 15 digits */
		"6,1,0,-,ncid=0123456789abcdef0;x", /* 17 */
		"6,1,0,-,ncid=1111111111111111,ncid=1111111111111111;x",
		"6,1,0,-,ncmac=xyz;x",
		"6,1,0,-,ncmac=0000000000000000,ncmac=0000000000000000;x",
	};
	char buf[128];
	struct ncx_ext e;
	size_t n;

	(void)state;
	memcpy(buf, "6,1,0,-;x\n", 10);
	n = ncx_ext_mark(buf, 10, sizeof(buf), true, 0x0123456789abcdefULL);
	assert_int_equal(n, 10 + NCX_WIRE_MARK_MAX);
	assert_memory_equal(buf, "6,1,0,-,ncemg=1,ncrx=1,ncid=0123456789abcdef;x\n", n);
	assert_int_equal(ncx_ext_parse(buf, n, &e), 0);
	assert_true(e.reliable && e.emergency && !e.tagged);
	assert_int_equal(e.id, 0x0123456789abcdefULL);
	assert_int_equal(e.unknown_keys, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ncx_ext_parse(bad[i], strlen(bad[i]), &e), -EBADMSG);
	n = ncx_gone_format(5, 2, 0xabcULL, buf, sizeof(buf));
	assert_true(n <= NCX_WIRE_GONE_MAX);
	assert_int_equal(ncx_ext_parse(buf, n, &e), 0);
	assert_true(e.gone == 2 && e.id == 0xabcULL);
	/* Every byte value at every digit's place: hex digits in lowercase
	 * alone, each read at its place. */
	for (int at = 0; at < NCX_WIRE_ID_HEX; at++) {
		for (int c = 0; c < 256; c++) {
			bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
			uint64_t d = c <= '9' ? (uint64_t)(c - '0') : (uint64_t)(c - 'a' + 10);

			memcpy(buf, "6,1,0,-,ncid=1111111111111111;x", 31);
			buf[13 + at] = (char)c;
			if (!ok) {
				assert_int_equal(ncx_ext_parse(buf, 31, &e), -EBADMSG);
				continue;
			}
			assert_int_equal(ncx_ext_parse(buf, 31, &e), 0);
			assert_int_equal(e.id, (0x1111111111111111ULL &
						~(0xfULL << (60 - 4 * at))) | d << (60 - 4 * at));
		}
	}
	memcpy(buf, "6,1,0,-,ncmac=00000000000000ff;x", 32);
	assert_int_equal(ncx_ext_parse(buf, 32, &e), 0);
	assert_true(e.tagged && e.unknown_keys == 0 && e.id == 0);
}

/* A boot's stream id: the boot id's first 16 hex digits, dashes skipped. */
static void test_boot_stream_id(void **state)
{
	static const char boot[] = "0a1B2c3d-4e5f-6789-abcd-ef0123456789\n";
	uint64_t id = 0;

	(void)state;
	assert_int_equal(ncx_boot_stream_id(boot, sizeof(boot) - 1, &id), 0);
	assert_int_equal(id, 0x0a1b2c3d4e5f6789ULL);
	assert_int_equal(ncx_boot_stream_id(boot, 18, &id), 0); /* 16 digits and 2 dashes */
	assert_int_equal(ncx_boot_stream_id(boot, 17, &id), -EINVAL);
	assert_int_equal(ncx_boot_stream_id("0a1b2c3d-4e5g-6789-abcd", 23, &id), -EINVAL);
	assert_int_equal(ncx_boot_stream_id("00000000-0000-0000-0000-000000000000", 36, &id), 0);
	assert_int_equal(id, 1); /* 0 would be no name */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resp_write),
		cmocka_unit_test(test_resp_limit),
		cmocka_unit_test(test_resp_most_seqs),
		cmocka_unit_test(test_resp_round_trip),
		cmocka_unit_test(test_resp_parse_accepts),
		cmocka_unit_test(test_resp_parse_rejects),
		cmocka_unit_test(test_resp_parse_too_long),
		cmocka_unit_test(test_mark),
		cmocka_unit_test(test_mark_matches_format),
		cmocka_unit_test(test_mark_limits),
		cmocka_unit_test(test_mark_id),
		cmocka_unit_test(test_boot_stream_id),
	};

	return cmocka_run_group_tests_name("wire_resp", tests, NULL, NULL);
}
