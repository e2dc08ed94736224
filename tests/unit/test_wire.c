/* SPDX-License-Identifier: MIT */
/* Unit tests of lib/wire.c: every function of include/ncx/wire.h. */
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

#define S(lit) lit, sizeof(lit) - 1

static void assert_span(struct ncx_span s, const char *want)
{
	size_t n = strlen(want);

	assert_int_equal(s.len, n);
	if (n)
		assert_memory_equal(s.p, want, n);
}

static int parse_str(const char *s, struct ncx_ext *e)
{
	return ncx_ext_parse(s, strlen(s), e);
}

/* ---- ncx_ext_parse ------------------------------------------------------ */

static void test_parse_basic(void **state)
{
	const char *d = "6,1,0,-;Command line: console=ttyS0\n";
	struct ncx_ext e;

	assert_int_equal(parse_str(d, &e), 0);
	assert_int_equal(e.release.len, 0);
	assert_int_equal(e.facility, 0);
	assert_int_equal(e.level, 6);
	assert_int_equal(e.seq, 1);
	assert_int_equal(e.ts_usec, 0);
	assert_int_equal(e.flag, '-');
	assert_int_equal(e.caller_kind, 0);
	assert_false(e.frag);
	assert_false(e.emergency);
	assert_false(e.reliable);
	assert_int_equal(e.unknown_keys, 0);
	assert_span(e.header, "6,1,0,-");
	assert_ptr_equal(e.header.p, d);
	assert_span(e.body, "Command line: console=ttyS0\n");
	assert_ptr_equal(e.body.p, d + 8);

	/* facility user (1), level 4; big numbers */
	assert_int_equal(parse_str("12,18446744073709551615,18446744073709551614,c;x", &e), 0);
	assert_int_equal(e.facility, 1);
	assert_int_equal(e.level, 4);
	assert_true(e.seq == UINT64_MAX);
	assert_true(e.ts_usec == UINT64_MAX - 1);
	assert_int_equal(e.flag, 'c');
	assert_span(e.body, "x");

	assert_int_equal(parse_str("4,7,9,+;", &e), 0);
	assert_int_equal(e.flag, '+');
	assert_int_equal(e.body.len, 0);
}

static void test_parse_release(void **state)
{
	struct ncx_ext e;

	assert_int_equal(parse_str("6.4.0,5,0,0,-;hello\n", &e), 0);
	assert_span(e.release, "6.4.0");
	assert_int_equal(e.level, 5);
	assert_int_equal(e.seq, 0);
	assert_span(e.body, "hello\n");

	assert_int_equal(parse_str("6.1.0-56-amd64,14,3,77,-;x\n", &e), 0);
	assert_span(e.release, "6.1.0-56-amd64");
	assert_int_equal(e.facility, 1);
	assert_int_equal(e.level, 6);
	assert_int_equal(e.seq, 3);
	assert_int_equal(e.ts_usec, 77);

	/* a release followed by too few fields, or two releases */
	assert_int_equal(parse_str("6.4.0,5,0,-;x", &e), -EBADMSG);
	assert_int_equal(parse_str("6.4.0,6.4.0,5,0,0,-;x", &e), -EBADMSG);
	/* a release made of odd characters is no release */
	assert_int_equal(parse_str("6 4,5,0,0,-;x", &e), -EBADMSG);
}

static void test_parse_keys(void **state)
{
	struct ncx_ext e;

	assert_int_equal(parse_str("6,5,100,-,caller=T123;x\n", &e), 0);
	assert_int_equal(e.caller_kind, 'T');
	assert_int_equal(e.caller_id, 123);
	assert_int_equal(parse_str("6,5,100,-,caller=C2;x\n", &e), 0);
	assert_int_equal(e.caller_kind, 'C');
	assert_int_equal(e.caller_id, 2);
	assert_int_equal(parse_str("6,5,100,-,caller=T4294967295;x", &e), 0);
	assert_int_equal(e.caller_id, UINT32_MAX);

	assert_int_equal(parse_str("6,5,100,-,ncemg=1;x", &e), 0);
	assert_true(e.emergency);
	assert_false(e.reliable);
	assert_int_equal(parse_str("6,5,100,-,ncrx=1,ncemg=1;x", &e), 0);
	assert_true(e.emergency);
	assert_true(e.reliable);
	assert_int_equal(parse_str("6,5,100,-,ncrx=0;x", &e), 0);
	assert_false(e.reliable);

	/* ncgone: a placeholder for n gone seqs, 1..2^32 */
	assert_int_equal(parse_str("6,5,100,-;x", &e), 0);
	assert_int_equal(e.gone, 0);
	assert_int_equal(parse_str("4,5,100,-,ncgone=1,ncrx=1;ncx: gone", &e), 0);
	assert_int_equal(e.gone, 1);
	assert_true(e.reliable);
	assert_int_equal(parse_str("4,5,100,-,ncgone=4294967296;x", &e), 0);
	assert_true(e.gone == 4294967296ULL);

	assert_int_equal(parse_str("12,387,2785468,-,ncfrag=969/2401;xe9", &e), 0);
	assert_true(e.frag);
	assert_int_equal(e.frag_off, 969);
	assert_int_equal(e.frag_total, 2401);
	assert_span(e.header, "12,387,2785468,-,ncfrag=969/2401");
	assert_span(e.body, "xe9");

	/* unknown keys, with or without '=', are skipped and counted */
	assert_int_equal(parse_str("6,5,100,-,foo=bar,ncrx=1,baz,x=;t", &e), 0);
	assert_int_equal(e.unknown_keys, 3);
	assert_true(e.reliable);
	assert_span(e.body, "t");
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"6,1,0,-",			/* no ';' */
		"",				/* empty */
		";x",				/* no fields */
		"6,1,0;x",			/* missing flag */
		"6,1;x",
		"6;x",
		"6,1,,-;x",			/* empty timestamp */
		",1,0,-;x",
		"6,1,0,;x",			/* empty flag */
		"6,1,0,x;x",			/* unknown flag */
		"6,1,0,--;x",
		"6,1,0,-,;x",			/* empty key field */
		"6,-1,0,-;x",			/* sign */
		"6, 1,0,-;x",			/* space */
		"6,18446744073709551616,0,-;x", /* seq overflows 64 bits */
		"6,1,99999999999999999999,-;x", /* ts overflows */
		"2048,1,0,-;x",			/* facility > 255 */
		"6,1,0,-,caller=X1;x",		/* bad caller */
		"6,1,0,-,caller=T;x",
		"6,1,0,-,caller=T4294967296;x",
		"6,1,0,-,caller=T1x;x",
		"6,1,0,-,ncemg=2;x",		/* bad boolean */
		"6,1,0,-,ncrx=;x",
		"6,1,0,-,ncrx=1,ncrx=1;x",	/* known key twice */
		"6,1,0,-,ncfrag=1;x",		/* ncfrag without '/' */
		"6,1,0,-,ncfrag=5/5;x",		/* off >= total */
		"6,1,0,-,ncfrag=0/0;",
		"6,1,0,-,ncfrag=0/8193;x",	/* total > NCX_WIRE_BODY_MAX */
		"6,1,0,-,ncfrag=0/4294967296;x",
		"6,1,0,-,ncfrag=/10;x",
		"6,1,0,-,ncfrag=8/10;xyz",	/* slice past total */
		"6,1,0,-,ncfrag=0/10,ncfrag=0/10;x",
		"6,1,0,-,ncgone=0;x",		/* a placeholder for nothing */
		"6,1,0,-,ncgone=4294967297;x",	/* more than 2^32 */
		"6,1,0,-,ncgone=;x",
		"6,1,0,-,ncgone=+1;x",
		"6,1,0,-,ncgone=1x;x",
		"6,1,0,-,ncgone=1,ncgone=1;x",
		"6,1,0,-,ncgone=1,ncfrag=0/10;x", /* a placeholder in pieces */
		"[    0.000000] text, 5,0,0,-;x", /* legacy text */
	};
	struct ncx_ext e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_str(bad[i], &e) != -EBADMSG)
			fail_msg("parsed: \"%s\"", bad[i]);
	}
	/* the edges that are still fine */
	assert_int_equal(parse_str("2047,1,0,-;x", &e), 0);
	assert_int_equal(e.facility, 255);
	assert_int_equal(e.level, 7);
	assert_int_equal(parse_str("6,1,0,-,ncfrag=0/8192;x", &e), 0);
	assert_int_equal(parse_str("6,1,0,-,ncfrag=7/10;xyz", &e), 0);
	assert_int_equal(parse_str("6,1,0,-,ncfrag=9/10;", &e), 0);
	assert_int_equal(ncx_ext_parse(NULL, 0, &e), -EBADMSG);
}

static void test_parse_header_max(void **state)
{
	char buf[NCX_WIRE_HDR_MAX + 64];
	struct ncx_ext e;
	size_t n;

	/* pad with an unknown key so the header is exactly HDR_MAX bytes */
	n = (size_t)snprintf(buf, sizeof(buf), "6,1,0,-,k=");
	memset(buf + n, 'v', NCX_WIRE_HDR_MAX - n);
	buf[NCX_WIRE_HDR_MAX] = ';';
	buf[NCX_WIRE_HDR_MAX + 1] = 'x';
	assert_int_equal(ncx_ext_parse(buf, NCX_WIRE_HDR_MAX + 2, &e), 0);
	assert_int_equal(e.header.len, NCX_WIRE_HDR_MAX);
	assert_int_equal(e.unknown_keys, 1);

	/* one byte more and it is refused */
	memset(buf + n, 'v', NCX_WIRE_HDR_MAX + 1 - n);
	buf[NCX_WIRE_HDR_MAX + 1] = ';';
	buf[NCX_WIRE_HDR_MAX + 2] = 'x';
	assert_int_equal(ncx_ext_parse(buf, NCX_WIRE_HDR_MAX + 3, &e), -EBADMSG);
}

/* The parser must not read a byte past len: give it a buffer that ends
 * exactly where the datagram does, cut at every length. */
static void test_parse_every_prefix(void **state)
{
	const char *d = "6.4.0,12,387,2785468,-,caller=T1,ncfrag=0/2401,ncrx=1;\\xe9";
	size_t n = strlen(d);

	for (size_t i = 0; i <= n; i++) {
		char *b = malloc(i ? i : 1);
		struct ncx_ext e;
		int rc;

		assert_non_null(b);
		memcpy(b, d, i);
		rc = ncx_ext_parse(b, i, &e);
		/* complete once the ';' is in */
		assert_int_equal(rc, i > (size_t)(strchr(d, ';') - d) ? 0 : -EBADMSG);
		free(b);
	}
}

static void test_looks_like(void **state)
{
	assert_true(ncx_ext_looks_like(S("6,1,0,-;x")));
	assert_true(ncx_ext_looks_like(S("6,")));
	assert_true(ncx_ext_looks_like(S("6.4.0,5,0,0,-;x")));
	assert_true(ncx_ext_looks_like(S("6,1,broken")));
	assert_false(ncx_ext_looks_like(S("[    0.000000] Linux version 6.1.0, GNU")));
	assert_false(ncx_ext_looks_like(S("6")));
	assert_false(ncx_ext_looks_like(S("6.4.0,")));
	assert_false(ncx_ext_looks_like(S("6.4.0,x,")));
	assert_false(ncx_ext_looks_like(S(",1,0,-;")));
	assert_false(ncx_ext_looks_like(S("hello, world")));
	assert_false(ncx_ext_looks_like("", 0));
}

/* ---- body and dictionary ----------------------------------------------- */

static void test_split_body_and_dict(void **state)
{
	const char *b = "pci 0000:00:03.0: BAR 0\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:03.0\n";
	struct ncx_span body = { b, strlen(b) }, text, dict, k, v;

	ncx_ext_split_body(body, &text, &dict);
	assert_span(text, "pci 0000:00:03.0: BAR 0");
	assert_span(dict, " SUBSYSTEM=pci\n DEVICE=+pci:0000:00:03.0\n");
	assert_true(ncx_dict_next(&dict, &k, &v));
	assert_span(k, "SUBSYSTEM");
	assert_span(v, "pci");
	assert_true(ncx_dict_next(&dict, &k, &v));
	assert_span(k, "DEVICE");
	assert_span(v, "+pci:0000:00:03.0");
	assert_false(ncx_dict_next(&dict, &k, &v));
	assert_int_equal(dict.len, 0);

	/* no newline: all text */
	body.p = "abc";
	body.len = 3;
	ncx_ext_split_body(body, &text, &dict);
	assert_span(text, "abc");
	assert_int_equal(dict.len, 0);
	assert_false(ncx_dict_next(&dict, &k, &v));

	/* text only, with its newline */
	body.p = "abc\n";
	body.len = 4;
	ncx_ext_split_body(body, &text, &dict);
	assert_span(text, "abc");
	assert_int_equal(dict.len, 0);

	/* line without '=', a value holding '=', a last line without '\n',
	 * a line without the leading space */
	dict.p = " noeq\n K=a=b\nX=1\n Y=";
	dict.len = strlen(dict.p);
	assert_true(ncx_dict_next(&dict, &k, &v));
	assert_int_equal(k.len, 0);
	assert_span(v, "noeq");
	assert_true(ncx_dict_next(&dict, &k, &v));
	assert_span(k, "K");
	assert_span(v, "a=b");
	assert_true(ncx_dict_next(&dict, &k, &v));
	assert_span(k, "X");
	assert_span(v, "1");
	assert_true(ncx_dict_next(&dict, &k, &v));
	assert_span(k, "Y");
	assert_span(v, "");
	assert_false(ncx_dict_next(&dict, &k, &v));
}

/* ---- escaping ----------------------------------------------------------- */

static void test_escape_all_bytes(void **state)
{
	unsigned char all[256], back[256];
	char esc[256 * 4];
	size_t n, m, want = 0;

	for (int i = 0; i < 256; i++) {
		all[i] = (unsigned char)i;
		want += (i < 0x20 || i >= 0x7f || i == '\\') ? 4 : 1;
	}
	n = ncx_escape(all, sizeof(all), esc, sizeof(esc));
	assert_int_equal(n, want);
	/* spot checks of the exact form */
	assert_memory_equal(esc, "\\x00\\x01", 8);
	assert_memory_equal(esc + 0x20 * 4, " !\"#", 4);
	assert_memory_equal(esc + 128 + 0x5b - 0x20, "[\\x5c]", 6);
	assert_memory_equal(esc + n - 8, "\\xfe\\xff", 8);
	for (size_t i = 0; i < n; i++)
		assert_true(esc[i] >= 0x20 && esc[i] < 0x7f);

	m = ncx_unescape(esc, n, (char *)back, sizeof(back));
	assert_int_equal(m, 256);
	assert_memory_equal(back, all, 256);

	/* in place */
	m = ncx_unescape(esc, n, esc, n);
	assert_int_equal(m, 256);
	assert_memory_equal(esc, all, 256);
}

static void test_escape_cap(void **state)
{
	char out[16];

	memset(out, '#', sizeof(out));
	/* "a\x09b" needs 6; only 3 fit: the first 3 bytes of it */
	assert_int_equal(ncx_escape("a\tb", 3, out, 3), 6);
	assert_memory_equal(out, "a\\x#", 4);
	assert_int_equal(ncx_escape("a\tb", 3, NULL, 0), 6);
	assert_int_equal(ncx_escape("", 0, out, sizeof(out)), 0);
	assert_int_equal(ncx_escape("\\", 1, out, sizeof(out)), 4);
	assert_memory_equal(out, "\\x5c", 4);

	memset(out, '#', sizeof(out));
	assert_int_equal(ncx_unescape(S("\\x41\\x42C"), out, 1), 3);
	assert_memory_equal(out, "A#", 2);
	assert_int_equal(ncx_unescape(S("\\x41\\x42C"), NULL, 0), 3);
}

static void test_unescape_malformed(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "\\x4", "\\x4" },		/* cut */
		{ "\\x", "\\x" },
		{ "\\", "\\" },
		{ "ab\\", "ab\\" },
		{ "\\xg1", "\\xg1" },		/* not hex */
		{ "\\x1g", "\\x1g" },
		{ "\\y41", "\\y41" },
		{ "\\X41", "\\X41" },		/* only lower-case x */
		{ "\\xE9", "\xe9" },		/* upper-case digits are read too */
		{ "\\\\x41", "\\A" },		/* the second '\' starts the escape */
		{ "\\x5cx41", "\\x41" },	/* an escaped '\' does not start one */
		{ "plain", "plain" },
	};
	char out[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = ncx_unescape(cases[i].in, strlen(cases[i].in), out, sizeof(out));

		if (n != strlen(cases[i].out) || memcmp(out, cases[i].out, n) != 0)
			fail_msg("unescape \"%s\": got \"%.*s\"", cases[i].in, (int)n, out);
	}
}

/* ---- formatting ------------------------------------------------------------ */

static void test_format_header(void **state)
{
	struct ncx_ext r = { 0 };
	char out[128];
	size_t n;

	r.facility = 1;
	r.level = 4;
	r.seq = 387;
	r.ts_usec = 2785468;
	r.flag = '-';
	n = ncx_ext_format_header(&r, out, sizeof(out));
	assert_int_equal(n, 16);
	assert_memory_equal(out, "12,387,2785468,-", n);

	r.release.p = "6.4.0";
	r.release.len = 5;
	r.flag = 'c';
	r.caller_kind = 'T';
	r.caller_id = 123;
	r.emergency = true;
	r.reliable = true;
	r.frag = true;	/* ignored */
	r.frag_off = 5;
	r.unknown_keys = 9;
	n = ncx_ext_format_header(&r, out, sizeof(out));
	assert_int_equal(n, strlen("6.4.0,12,387,2785468,c,caller=T123,ncemg=1,ncrx=1"));
	assert_memory_equal(out, "6.4.0,12,387,2785468,c,caller=T123,ncemg=1,ncrx=1", n);
	r.gone = 4294967296ULL;
	n = ncx_ext_format_header(&r, out, sizeof(out));
	assert_int_equal(n, strlen("6.4.0,12,387,2785468,c,caller=T123,ncemg=1,ncgone=4294967296,ncrx=1"));
	assert_memory_equal(out, "6.4.0,12,387,2785468,c,caller=T123,ncemg=1,ncgone=4294967296,ncrx=1", n);
	r.gone = 0;
	n = ncx_ext_format_header(&r, out, sizeof(out));

	/* cap: the prefix only, length still the full one */
	memset(out, '#', sizeof(out));
	assert_int_equal(ncx_ext_format_header(&r, out, 4), n);
	assert_memory_equal(out, "6.4.#", 5);
	assert_int_equal(ncx_ext_format_header(&r, NULL, 0), n);
}

static void test_format_record(void **state)
{
	const char *want = "14,5,100,-,caller=C2;a\\x09b\\x5c\n SUBSYSTEM=pci\n";
	const char *dict = " SUBSYSTEM=pci\n";
	struct ncx_ext r = { 0 }, p;
	char out[128];
	size_t n;

	r.facility = 1;
	r.level = 6;
	r.seq = 5;
	r.ts_usec = 100;
	r.flag = '-';
	r.caller_kind = 'C';
	r.caller_id = 2;
	n = ncx_ext_format(&r, "a\tb\\", 4, dict, strlen(dict), out, sizeof(out));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);

	/* and it parses back to the same fields */
	assert_int_equal(ncx_ext_parse(out, n, &p), 0);
	assert_int_equal(p.facility, 1);
	assert_int_equal(p.level, 6);
	assert_int_equal(p.caller_kind, 'C');
	assert_int_equal(p.caller_id, 2);

	/* every cap gives a prefix of the whole */
	for (size_t cap = 0; cap <= n; cap++) {
		char small[128];

		memset(small, '#', sizeof(small));
		assert_int_equal(ncx_ext_format(&r, "a\tb\\", 4, dict, strlen(dict), small, cap), n);
		assert_memory_equal(small, want, cap);
		assert_int_equal(small[cap], '#');
	}

	/* empty text, no dict */
	n = ncx_ext_format(&r, "", 0, NULL, 0, out, sizeof(out));
	assert_int_equal(n, strlen("14,5,100,-,caller=C2;\n"));
	assert_memory_equal(out, "14,5,100,-,caller=C2;\n", n);
}

/* ---- fragmenting ------------------------------------------------------------ */

struct dgrams {
	size_t n;
	size_t len[16];
	char d[16][NCX_WIRE_CHUNK + 1];
	int stop_at; /* return 7 from this call (1-based), 0 never */
};

static int collect(void *arg, const void *dgram, size_t len)
{
	struct dgrams *g = arg;

	assert_true(len <= NCX_WIRE_CHUNK);
	assert_true(g->n < 16);
	memcpy(g->d[g->n], dgram, len);
	g->len[g->n++] = len;
	return g->stop_at && (int)g->n == g->stop_at ? 7 : 0;
}

/* header + ';' + body of body_len bytes made of a pattern */
static size_t make_record(char *buf, const char *hdr, size_t body_len)
{
	size_t h = strlen(hdr);

	memcpy(buf, hdr, h);
	buf[h] = ';';
	for (size_t i = 0; i < body_len; i++)
		buf[h + 1 + i] = (char)('a' + i % 26);
	return h + 1 + body_len;
}

static void test_fragment_whole(void **state)
{
	static char rec[NCX_WIRE_CHUNK + 100];
	static struct dgrams g;
	size_t n;

	/* exactly NCX_WIRE_CHUNK bytes: one datagram, as it is */
	n = make_record(rec, "12,389,2806611,-", NCX_WIRE_CHUNK - 17);
	assert_int_equal(n, NCX_WIRE_CHUNK);
	memset(&g, 0, sizeof(g));
	assert_int_equal(ncx_ext_fragment(rec, n, collect, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], n);
	assert_memory_equal(g.d[0], rec, n);

	/* no ';' */
	assert_int_equal(ncx_ext_fragment("6,1,0,-", 7, collect, &g), -EINVAL);
	assert_int_equal(ncx_ext_fragment("", 0, collect, &g), -EINVAL);
}

static void test_fragment_layout(void **state)
{
	static char rec[4000];
	static struct dgrams g;
	size_t n = make_record(rec, "12,387,2785468,-", 2401);
	const char *body = rec + 17;

	/* the capture's escaped-long record: 0/2401, 969/2401, 1936/2401 */
	memset(&g, 0, sizeof(g));
	assert_int_equal(ncx_ext_fragment(rec, n, collect, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.len[0], 1000);
	assert_memory_equal(g.d[0], "12,387,2785468,-,ncfrag=0/2401;", 31);
	assert_memory_equal(g.d[0] + 31, body, 969);
	assert_int_equal(g.len[1], 1000);
	assert_memory_equal(g.d[1], "12,387,2785468,-,ncfrag=969/2401;", 33);
	assert_memory_equal(g.d[1] + 33, body + 969, 967);
	assert_int_equal(g.len[2], 34 + 465);
	assert_memory_equal(g.d[2], "12,387,2785468,-,ncfrag=1936/2401;", 34);
	assert_memory_equal(g.d[2] + 34, body + 1936, 465);

	/* one byte over the chunk: two fragments, the second with one byte */
	n = make_record(rec, "6,1,0,-", NCX_WIRE_CHUNK - 7);
	assert_int_equal(n, NCX_WIRE_CHUNK + 1);
	memset(&g, 0, sizeof(g));
	assert_int_equal(ncx_ext_fragment(rec, n, collect, &g), 0);
	assert_int_equal(g.n, 2);
	assert_memory_equal(g.d[0], "6,1,0,-,ncfrag=0/993;", 21);
	assert_int_equal(g.len[0], 1000);
	assert_memory_equal(g.d[1], "6,1,0,-,ncfrag=979/993;", 23);
	assert_int_equal(g.len[1], 23 + 14);

	/* emit's non-zero return stops the walk and comes back */
	memset(&g, 0, sizeof(g));
	g.stop_at = 1;
	assert_int_equal(ncx_ext_fragment(rec, n, collect, &g), 7);
	assert_int_equal(g.n, 1);
}

static void test_fragment_header_too_long(void **state)
{
	static char rec[3000];
	static struct dgrams g;
	char hdr[1000];
	size_t n;

	/* a header that leaves no room for a body byte after ",ncfrag=0/N;" */
	memcpy(hdr, "6,1,0,-,k=", 10);
	memset(hdr + 10, 'v', 990 - 10);
	hdr[990] = 0;
	n = make_record(rec, hdr, 100);
	memset(&g, 0, sizeof(g));
	assert_int_equal(ncx_ext_fragment(rec, n, collect, &g), -EINVAL);
	assert_int_equal(g.n, 0);

	/* and a header with room for a few bytes per fragment still works */
	hdr[980] = 0;
	n = make_record(rec, hdr, 30);
	memset(&g, 0, sizeof(g));
	assert_int_equal(ncx_ext_fragment(rec, n, collect, &g), 0);
	assert_true(g.n >= 2);
	for (size_t i = 0; i < g.n; i++)
		assert_int_equal(g.len[i] <= NCX_WIRE_CHUNK, 1);
}

/* ---- reassembly ---------------------------------------------------------- */

struct frags {
	size_t n;
	struct ncx_ext e[16];
	char d[16][NCX_WIRE_CHUNK];
};

static int keep(void *arg, const void *dgram, size_t len)
{
	struct frags *f = arg;

	assert_true(f->n < 16);
	memcpy(f->d[f->n], dgram, len);
	assert_int_equal(ncx_ext_parse(f->d[f->n], len, &f->e[f->n]), 0);
	assert_true(f->e[f->n].frag);
	f->n++;
	return 0;
}

static char big_rec[5000];
static size_t big_len;

/* A record of 3 fragments with a recognisable body. */
static void make_frags(struct frags *f)
{
	big_len = make_record(big_rec, "6.4.0,12,42,777,-,caller=T9,ncrx=1", 2500);
	memset(f, 0, sizeof(*f));
	assert_int_equal(ncx_ext_fragment(big_rec, big_len, keep, f), 0);
	assert_int_equal(f->n, 3);
}

static struct ncx_reasm *reasm_new(const struct ncx_ext *e)
{
	struct ncx_reasm *r = malloc(ncx_reasm_size(e->frag_total));

	assert_non_null(r);
	ncx_reasm_init(r, e);
	return r;
}

/* The reassembled record must be the original, field for field. */
static void assert_whole(const struct ncx_reasm *r)
{
	struct ncx_ext out;
	const char *semi = memchr(big_rec, ';', big_len);

	assert_int_equal(ncx_reasm_record(r, &out), 0);
	assert_false(out.frag);
	assert_int_equal(out.seq, 42);
	assert_int_equal(out.ts_usec, 777);
	assert_int_equal(out.level, 4);
	assert_int_equal(out.caller_kind, 'T');
	assert_true(out.reliable);
	assert_span(out.release, "6.4.0");
	assert_int_equal(out.header.len, (size_t)(semi - big_rec));
	assert_memory_equal(out.header.p, big_rec, out.header.len);
	assert_int_equal(out.body.len, big_len - out.header.len - 1);
	assert_memory_equal(out.body.p, semi + 1, out.body.len);
}

static void run_order(const int *order, size_t n, int complete_at)
{
	static struct frags f;
	struct ncx_reasm *r;

	make_frags(&f);
	r = reasm_new(&f.e[order[0]]);
	assert_int_equal(r->hdr_len, strlen("6.4.0,12,42,777,-,caller=T9,ncrx=1"));
	for (size_t i = 0; i < n; i++) {
		int rc = ncx_reasm_add(r, &f.e[order[i]]);
		struct ncx_ext out;

		assert_int_equal(rc, (int)i >= complete_at ? 1 : 0);
		if (rc == 0)
			assert_int_equal(ncx_reasm_record(r, &out), -EAGAIN);
	}
	assert_int_equal(r->conflicts, 0);
	assert_int_equal(r->filled, 2500);
	assert_whole(r);
	free(r);
}

static void test_reasm_orders(void **state)
{
	static const int in_order[] = { 0, 1, 2 };
	static const int reversed[] = { 2, 1, 0 };
	static const int shuffled[] = { 1, 2, 0 };
	static const int dups[] = { 1, 1, 2, 1, 0, 0, 2 };

	run_order(in_order, 3, 2);
	run_order(reversed, 3, 2);
	run_order(shuffled, 3, 2);
	run_order(dups, 7, 4);
}

static void test_reasm_overlap(void **state)
{
	static struct frags f;
	struct ncx_reasm *r;
	struct ncx_ext a, b;
	char sa[700], sb[700];

	make_frags(&f);
	r = reasm_new(&f.e[0]);
	/* slices cut differently from the sender's: [1500,2100) and [1800,2500) */
	a = f.e[1];
	a.frag_off = 1500;
	a.body.p = big_rec + big_len - 2500 + 1500;
	a.body.len = 600;
	b = a;
	b.frag_off = 1800;
	b.body.p = big_rec + big_len - 2500 + 1800;
	b.body.len = 700;
	assert_int_equal(ncx_reasm_add(r, &a), 0);
	assert_int_equal(ncx_reasm_add(r, &b), 0);
	assert_int_equal(r->filled, 1000);
	assert_int_equal(ncx_reasm_add(r, &f.e[0]), 0);
	assert_int_equal(ncx_reasm_add(r, &f.e[1]), 1);
	assert_int_equal(r->conflicts, 0);
	assert_whole(r);
	free(r);

	/* conflicting overlap: the first bytes win, the others are counted */
	r = reasm_new(&f.e[0]);
	memcpy(sa, big_rec + big_len - 2500 + 1500, 600);
	a.body.p = sa;
	assert_int_equal(ncx_reasm_add(r, &a), 0);
	memcpy(sb, big_rec + big_len - 2500 + 1800, 700);
	memset(sb, '!', 50);	/* overlaps a's last 300 bytes: 50 disagree */
	memset(sb + 400, '!', 10); /* past a's end: no conflict, but wrong */
	b.body.p = sb;
	assert_int_equal(ncx_reasm_add(r, &b), 0);
	assert_int_equal(r->conflicts, 50);
	assert_int_equal(ncx_reasm_add(r, &f.e[2]), 0); /* overlaps b: 10 more */
	assert_int_equal(r->conflicts, 60);
	assert_int_equal(ncx_reasm_add(r, &f.e[0]), 0);
	assert_int_equal(ncx_reasm_add(r, &f.e[1]), 1);
	assert_int_equal(r->conflicts, 60);
	{
		struct ncx_ext out;
		const char *body = big_rec + big_len - 2500;

		assert_int_equal(ncx_reasm_record(r, &out), 0);
		/* a's bytes kept; b's '!' past a's end kept (it came first) */
		assert_memory_equal(out.body.p, body, 2200);
		assert_memory_equal(out.body.p + 2200, "!!!!!!!!!!", 10);
		assert_memory_equal(out.body.p + 2210, body + 2210, 290);
	}
	free(r);
}

static void test_reasm_rejects(void **state)
{
	static struct frags f;
	struct ncx_reasm *r;
	struct ncx_ext e;

	make_frags(&f);
	r = reasm_new(&f.e[1]);

	e = f.e[0];
	e.seq = 43;
	assert_int_equal(ncx_reasm_add(r, &e), -EINVAL);
	e = f.e[0];
	e.frag_total = 2501;
	assert_int_equal(ncx_reasm_add(r, &e), -EINVAL);
	e = f.e[2];
	e.frag_off = 2500 - e.body.len + 1; /* one byte past total */
	assert_int_equal(ncx_reasm_add(r, &e), -EINVAL);
	e.frag_off = UINT32_MAX;
	assert_int_equal(ncx_reasm_add(r, &e), -EINVAL);
	/* same seq and total, another record (a reboot): other ts or level */
	e = f.e[0];
	e.ts_usec++;
	assert_int_equal(ncx_reasm_add(r, &e), -EINVAL);
	e = f.e[0];
	e.level = 3;
	assert_int_equal(ncx_reasm_add(r, &e), -EINVAL);
	/* while a resend in emergency mode still belongs */
	e = f.e[0];
	e.emergency = true;
	assert_int_equal(ncx_reasm_add(r, &e), 0);
	assert_int_equal(r->filled, f.e[0].body.len);
	free(r);
	r = reasm_new(&f.e[1]);
	e = f.e[0];
	e.frag = false;
	assert_int_equal(ncx_reasm_add(r, &e), -EINVAL);
	assert_int_equal(r->filled, 0);
	assert_int_equal(ncx_reasm_record(r, &e), -EAGAIN);

	/* a slice that ends exactly at total is fine */
	e = f.e[2];
	assert_int_equal(ncx_reasm_add(r, &e), 0);
	free(r);

	/* a header that does not parse: -EBADMSG once complete */
	{
		struct ncx_ext h = f.e[0];
		const char *bad = "6,1,x,-,ncfrag=0/3";

		h.header.p = bad;
		h.header.len = strlen(bad);
		h.frag_total = 3;
		h.frag_off = 0;
		h.body.p = "abc";
		h.body.len = 3;
		r = reasm_new(&h);
		assert_int_equal(r->hdr_len, strlen("6,1,x,-"));
		assert_memory_equal(r->hdr, "6,1,x,-", r->hdr_len);
		assert_int_equal(ncx_reasm_add(r, &h), 1);
		assert_int_equal(ncx_reasm_record(r, &e), -EBADMSG);
		free(r);
	}
}

static void test_reasm_size(void **state)
{
	assert_int_equal(ncx_reasm_size(0), sizeof(struct ncx_reasm));
	assert_int_equal(ncx_reasm_size(1), sizeof(struct ncx_reasm) + 2);
	assert_int_equal(ncx_reasm_size(8), sizeof(struct ncx_reasm) + 9);
	assert_int_equal(ncx_reasm_size(9), sizeof(struct ncx_reasm) + 11);
	assert_int_equal(ncx_reasm_size(NCX_WIRE_BODY_MAX),
			 sizeof(struct ncx_reasm) + NCX_WIRE_BODY_MAX + NCX_WIRE_BODY_MAX / 8);
}

/* ncfrag in the middle of the header: stripped wherever it is. */
static void test_reasm_strip_middle(void **state)
{
	const char *d = "6,1,5,-,ncfrag=0/2,caller=T7,ncemg=1;ab";
	struct ncx_ext e, out;
	struct ncx_reasm *r;

	assert_int_equal(parse_str(d, &e), 0);
	r = reasm_new(&e);
	assert_int_equal(ncx_reasm_add(r, &e), 1);
	assert_int_equal(ncx_reasm_record(r, &out), 0);
	assert_span(out.header, "6,1,5,-,caller=T7,ncemg=1");
	assert_span(out.body, "ab");
	assert_true(out.emergency);
	assert_int_equal(out.caller_id, 7);
	free(r);
}

/* ---- legacy ------------------------------------------------------------------ */

static void test_legacy_parse(void **state)
{
	struct ncx_legacy l;
	struct ncx_span text, line;

	assert_int_equal(ncx_legacy_parse(S("[    2.806611] boota user level 3\n"), &l), 0);
	assert_true(l.has_ts);
	assert_int_equal(l.ts_usec, 2806611);
	assert_span(l.text, "boota user level 3");
	assert_false(l.dropped_notice);

	/* seconds wider than 5 digits; no trailing newline (a cut slice) */
	assert_int_equal(ncx_legacy_parse(S("[123456.000001] x"), &l), 0);
	assert_true(l.has_ts);
	assert_int_equal(l.ts_usec, 123456000001ull);
	assert_span(l.text, "x");

	/* the prefix alone, up to the datagram's last byte */
	assert_int_equal(ncx_legacy_parse(S("[    1.000002] "), &l), 0);
	assert_true(l.has_ts);
	assert_int_equal(l.ts_usec, 1000002);
	assert_int_equal(l.text.len, 0);

	/* without a prefix: all text (the tail of a long record) */
	assert_int_equal(ncx_legacy_parse(S("BBBB\n"), &l), 0);
	assert_false(l.has_ts);
	assert_span(l.text, "BBBB");

	/* malformed prefixes are text */
	static const char *const notpfx[] = {
		"[    2.80661] x\n", "[    2.8066111] x\n", "[    .806611] x\n", "[ 2.806611]x\n",
		"[ 2,806611] x\n", "[ -2.806611] x\n", "[ 2.806611", "[99999999999999999999.000000] x",
	};
	for (size_t i = 0; i < sizeof(notpfx) / sizeof(notpfx[0]); i++) {
		assert_int_equal(ncx_legacy_parse(notpfx[i], strlen(notpfx[i]), &l), 0);
		if (l.has_ts)
			fail_msg("prefix found in \"%s\"", notpfx[i]);
		assert_ptr_equal(l.text.p, notpfx[i]);
	}

	/* multi-line */
	const char *ml = "[    2.821401] vecmod: embedded\n[    2.821401] newline and\ttab\n";
	assert_int_equal(ncx_legacy_parse(ml, strlen(ml), &l), 0);
	assert_int_equal(l.ts_usec, 2821401);
	assert_span(l.text, "vecmod: embedded\n[    2.821401] newline and\ttab");
	text = l.text;
	assert_true(ncx_legacy_next_line(&text, &line));
	assert_span(line, "vecmod: embedded");
	assert_true(ncx_legacy_next_line(&text, &line));
	assert_span(line, "newline and\ttab");
	assert_false(ncx_legacy_next_line(&text, &line));

	/* an empty line in the middle, and lines without a prefix */
	text.p = "a\n\nb\n[ 1.000000] c";
	text.len = strlen(text.p);
	assert_true(ncx_legacy_next_line(&text, &line));
	assert_span(line, "a");
	assert_true(ncx_legacy_next_line(&text, &line));
	assert_span(line, "");
	assert_true(ncx_legacy_next_line(&text, &line));
	assert_span(line, "b");
	assert_true(ncx_legacy_next_line(&text, &line));
	assert_span(line, "c");
	assert_false(ncx_legacy_next_line(&text, &line));

	/* bad datagrams */
	assert_int_equal(ncx_legacy_parse("", 0, &l), -EBADMSG);
	assert_int_equal(ncx_legacy_parse(S("[    1.000000] a\0b\n"), &l), -EBADMSG);
	assert_int_equal(ncx_legacy_parse(S("\0"), &l), -EBADMSG);
}

static void test_legacy_dropped(void **state)
{
	struct ncx_legacy l;

	/* up to 6.1: a datagram of its own, no prefix */
	assert_int_equal(ncx_legacy_parse(S("** 17 printk messages dropped **\n"), &l), 0);
	assert_true(l.dropped_notice);
	assert_int_equal(l.dropped, 17);
	assert_false(l.has_ts);
	assert_int_equal(l.text.len, 0);

	/* 6.2+: prepended to the next record */
	assert_int_equal(ncx_legacy_parse(S("** 3 printk messages dropped **\n[    5.000001] next\n"), &l),
			 0);
	assert_true(l.dropped_notice);
	assert_int_equal(l.dropped, 3);
	assert_true(l.has_ts);
	assert_int_equal(l.ts_usec, 5000001);
	assert_span(l.text, "next");

	/* look-alikes are text */
	assert_int_equal(ncx_legacy_parse(S("** x printk messages dropped **\n"), &l), 0);
	assert_false(l.dropped_notice);
	assert_int_equal(ncx_legacy_parse(S("** 5 printk messages lost **\n"), &l), 0);
	assert_false(l.dropped_notice);
	assert_int_equal(ncx_legacy_parse(S("** 99999999999999999999 printk messages dropped **\n"), &l),
			 0);
	assert_false(l.dropped_notice);
	assert_int_equal(ncx_legacy_parse(S("[    1.000000] ** 5 printk messages dropped **\n"), &l), 0);
	assert_false(l.dropped_notice);
}

/* The capture format: two hex digits a byte, either case; anything else,
 * an odd length or too small an output is refused; in place works. */
static void test_hex_decode(void **state)
{
	char buf[16] = "00ff7Fa5";
	unsigned char out[4];

	(void)state;
	assert_int_equal(ncx_hex_decode("00ff7Fa5", 8, out, sizeof(out)), 4);
	assert_memory_equal(out, "\x00\xff\x7f\xa5", 4);
	assert_int_equal(ncx_hex_decode("", 0, out, 0), 0);
	assert_int_equal(ncx_hex_decode("0", 1, out, sizeof(out)), -1);
	assert_int_equal(ncx_hex_decode("0g", 2, out, sizeof(out)), -1);
	assert_int_equal(ncx_hex_decode(" 0", 2, out, sizeof(out)), -1);
	assert_int_equal(ncx_hex_decode("00ff7Fa5", 8, out, 3), -1);
	assert_int_equal(ncx_hex_decode(buf, 8, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "\x00\xff\x7f\xa5", 4);
}

static void test_level_name(void **state)
{
	(void)state;
	assert_string_equal(ncx_level_name(0), "emerg");
	assert_string_equal(ncx_level_name(4), "warn");
	assert_string_equal(ncx_level_name(7), "debug");
	assert_string_equal(ncx_level_name(8 + 3), "err"); /* the facility bits are not its business */
}

/* The placeholder's bytes (netcon's and the kernel module's), and that they
 * parse back as one: the largest count fits NCX_WIRE_GONE_MAX. */
static void test_gone_format(void **state)
{
	char d[NCX_WIRE_GONE_MAX];
	struct ncx_ext e;
	size_t n = ncx_gone_format(100, 12, 0, d, sizeof(d));
	static const char want[] = "4,100,0,-,ncgone=12,ncrx=1;ncx: 12 records (seq 100..111) "
				   "were lost by the sender before they could be sent\n";

	(void)state;
	assert_int_equal(n, strlen(want));
	assert_memory_equal(d, want, n);
	assert_int_equal(ncx_ext_parse(d, n, &e), 0);
	assert_true(e.gone == 12 && e.seq == 100 && e.reliable && e.level == 4);

	n = ncx_gone_format(UINT64_MAX - (1ULL << 32) + 1, 1ULL << 32, 0, d, sizeof(d));
	assert_true(n <= sizeof(d));
	assert_int_equal(ncx_ext_parse(d, n, &e), 0);
	assert_true(e.gone == 1ULL << 32);
	/* A short cap gets the first cap bytes, and the length needed. */
	assert_int_equal(ncx_gone_format(100, 12, 0, d, 10), strlen(want));
	assert_memory_equal(d, want, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_decode),
		cmocka_unit_test(test_level_name),
		cmocka_unit_test(test_gone_format),
		cmocka_unit_test(test_parse_basic),
		cmocka_unit_test(test_parse_release),
		cmocka_unit_test(test_parse_keys),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_header_max),
		cmocka_unit_test(test_parse_every_prefix),
		cmocka_unit_test(test_looks_like),
		cmocka_unit_test(test_split_body_and_dict),
		cmocka_unit_test(test_escape_all_bytes),
		cmocka_unit_test(test_escape_cap),
		cmocka_unit_test(test_unescape_malformed),
		cmocka_unit_test(test_format_header),
		cmocka_unit_test(test_format_record),
		cmocka_unit_test(test_fragment_whole),
		cmocka_unit_test(test_fragment_layout),
		cmocka_unit_test(test_fragment_header_too_long),
		cmocka_unit_test(test_reasm_orders),
		cmocka_unit_test(test_reasm_overlap),
		cmocka_unit_test(test_reasm_rejects),
		cmocka_unit_test(test_reasm_size),
		cmocka_unit_test(test_reasm_strip_middle),
		cmocka_unit_test(test_legacy_parse),
		cmocka_unit_test(test_legacy_dropped),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
