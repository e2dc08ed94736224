/* SPDX-License-Identifier: MIT */
/* ncxd's lines, byte-exact: text and JSON records, legacy, events, and the
 * JSON string encoding of every byte value (checked by a strict validator). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/num.h>

#include "../../cmd/ncxd/ncxd.h"

#define T0 (1795310014ull * 1000000u + 123456u) /* 2026-11-22T01:13:34.123456Z */

static char out[1 << 20];

static struct ncxd_line fresh(void)
{
	return (struct ncxd_line){ .p = out, .cap = sizeof(out) };
}

static void addr(struct ncx_addr *a, const char *text)
{
	assert_int_equal(ncx_addr_parse(text, 6665, a), 0);
}

/* ---- a strict JSON validator (RFC 8259, raw bytes must be UTF-8) ---- */

struct jp {
	const unsigned char *p, *end;
};

static bool j_value(struct jp *j);

static void j_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool j_lit(struct jp *j, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, s, n))
		return false;
	j->p += n;
	return true;
}

static bool j_string(struct jp *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end) {
		unsigned c = *j->p;

		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			j->p++;
			if (j->p >= j->end)
				return false;
			c = *j->p++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++, j->p++)
					if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) || !*j->p)
						return false;
			} else if (!strchr("\"\\/bfnrt", (int)c) || !c) {
				return false;
			}
			continue;
		}
		if (c >= 0x80) {
			size_t n = ncxd_utf8_len(j->p, (size_t)(j->end - j->p));

			if (!n)
				return false;
			j->p += n;
			continue;
		}
		j->p++;
	}
	return false;
}

static bool j_number(struct jp *j)
{
	const unsigned char *s = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return false;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	return j->p > s;
}

static bool j_container(struct jp *j, char open, char close, bool keys)
{
	j->p++;
	j_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	(void)open;
	for (;;) {
		j_ws(j);
		if (keys) {
			if (!j_string(j))
				return false;
			j_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return false;
		}
		if (!j_value(j))
			return false;
		j_ws(j);
		if (j->p >= j->end)
			return false;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ == close)
			return true;
		return false;
	}
}

static bool j_value(struct jp *j)
{
	j_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{': return j_container(j, '{', '}', true);
	case '[': return j_container(j, '[', ']', false);
	case '"': return j_string(j);
	case 't': return j_lit(j, "true");
	case 'f': return j_lit(j, "false");
	case 'n': return j_lit(j, "null");
	default: return j_number(j);
	}
}

/* One JSON value per line, nothing else on it. */
static bool json_line_ok(const char *s, size_t n)
{
	struct jp j = { (const unsigned char *)s, (const unsigned char *)s + n };

	if (n == 0 || s[n - 1] != '\n' || memchr(s, '\n', n - 1))
		return false;
	j.end--;
	if (!j_value(&j))
		return false;
	j_ws(&j);
	return j.p == j.end;
}

static void test_validator_rejects(void **state)
{
	static const char *const bad[] = { "{\n", "{\"a\":}\n", "\"\x01\"\n", "\"\xc0\x80\"\n",
					   "\"\xed\xa0\x80\"\n", "\"\\x41\"\n", "[1,]\n",
					   "{\"a\":1}x\n", "\"\xe2\x82\"\n", "\"\xf5\x80\x80\x80\"\n" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(json_line_ok(bad[i], strlen(bad[i])));
	{ const char *ok = "{\"a\":[1,true,null,\"\xc3\xa9\\u00e9\"]}\n"; assert_true(json_line_ok(ok, strlen(ok))); }
}

/* ---- the lines ---- */

static void test_time(void **state)
{
	char t[32];

	ncxd_format_time(T0, t);
	assert_string_equal(t, "2026-11-22T01:13:34.123456Z");
	ncxd_format_time(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000000Z");
	ncxd_format_time(999999, t);
	assert_string_equal(t, "1970-01-01T00:00:00.999999Z");
	/* the per-second cache: the next second, back, a new day */
	ncxd_format_time(T0 + 1000000u, t);
	assert_string_equal(t, "2026-11-22T01:13:35.123456Z");
	ncxd_format_time(T0 - 123456u, t);
	assert_string_equal(t, "2026-11-22T01:13:34.000000Z");
	ncxd_format_time(T0 + 86400ull * 1000000u, t);
	assert_string_equal(t, "2026-11-23T01:13:34.123456Z");
}

/* The hand-made digits agree with printf's "%5llu.%06llu" and "%llu", and
 * the time with gmtime_r + strftime, over edge and random values. */
static void test_digits_match_printf(void **state)
{
	static const uint64_t edge[] = { 0, 1, 9, 10, 99999, 100000, 999999, 1000000,
					 99999999999ull, 100000000000ull, UINT64_MAX / 2,
					 UINT64_MAX - 1, UINT64_MAX };
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < 13 + 2000; i++) {
		uint64_t v;
		char got[64], want[96], t[32], wt[64];
		size_t n;

		if (i < 13) {
			v = edge[i];
		} else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			v = x >> (x % 64);
		}
		n = ncxd_ts_text(v, got);
		snprintf(want, sizeof(want), "[%5llu.%06llu] ", (unsigned long long)(v / 1000000u),
			 (unsigned long long)(v % 1000000u));
		assert_int_equal(n, strlen(want));
		assert_memory_equal(got, want, n);
		n = ncx_num_dec(got, v);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
		assert_int_equal(n, strlen(want));
		assert_memory_equal(got, want, n);
		/* times up to year 9999 */
		uint64_t us = v % (253402300800ull * 1000000u);
		time_t sec = (time_t)(us / 1000000u);
		struct tm tm;

		gmtime_r(&sec, &tm);
		n = strftime(wt, sizeof(wt), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(wt + n, sizeof(wt) - n, ".%06uZ", (unsigned)(us % 1000000u));
		ncxd_format_time(us, t);
		assert_string_equal(t, wt);
	}
}

static const char rec_wire[] = "6,42,1234567,-;hello\\x09world \\x5c \\xc3\\xa9\n"
			       " SUBSYSTEM=pci\n DEVICE=+pci:0000:00:03.0\n";

static void test_text_record(void **state)
{
	struct ncx_ext r;
	struct ncx_addr a;
	struct ncxd_line l = fresh();

	addr(&a, "10.0.0.5:6665");
	assert_int_equal(ncx_ext_parse(rec_wire, strlen(rec_wire), &r), 0);
	ncxd_format_record(&l, NCXD_TEXT, T0, &a, &r);
	const char *want = "2026-11-22T01:13:34.123456Z info [    1.234567] "
			   "hello\\x09world \\x5c \\xc3\\xa9 seq=42\n";
	assert_int_equal(l.len, strlen(want));
	assert_memory_equal(l.p, want, l.len);

	/* Level names for 0..7, facility ignored, big timestamps widen. */
	static const char *const names[8] = { "emerg", "alert", "crit", "err",
					      "warn",  "notice", "info", "debug" };
	for (int lv = 0; lv < 8; lv++) {
		char wire[64], want2[128];

		snprintf(wire, sizeof(wire), "%d,7,123456789012,c;x", 8 + lv);
		assert_int_equal(ncx_ext_parse(wire, strlen(wire), &r), 0);
		l = fresh();
		ncxd_format_record(&l, NCXD_TEXT, 0, &a, &r);
		snprintf(want2, sizeof(want2),
			 "1970-01-01T00:00:00.000000Z %s [123456.789012] x seq=7\n", names[lv]);
		assert_int_equal(l.len, strlen(want2));
		assert_memory_equal(l.p, want2, l.len);
	}
}

/* Raw control or non-ASCII bytes (no kernel sends them; a forged sender
 * might) are escaped like the kernel would have, never written raw. */
static void test_text_raw_bytes(void **state)
{
	static const char wire[] = "6,1,0,-;a\x1b[31mred\x7f\xff\tb\\x41\n";
	struct ncx_ext r;
	struct ncx_addr a;
	struct ncxd_line l = fresh();

	addr(&a, "10.0.0.5:6665");
	assert_int_equal(ncx_ext_parse(wire, strlen(wire), &r), 0);
	ncxd_format_record(&l, NCXD_TEXT, 0, &a, &r);
	const char *want = "1970-01-01T00:00:00.000000Z info [    0.000000] "
			   "a\\x1b[31mred\\x7f\\xff\\x09b\\x41 seq=1\n";
	assert_int_equal(l.len, strlen(want));
	assert_memory_equal(l.p, want, l.len);
}

static void test_json_record(void **state)
{
	struct ncx_ext r;
	struct ncx_addr a;
	struct ncxd_line l = fresh();

	addr(&a, "10.0.0.5:6665");
	assert_int_equal(ncx_ext_parse(rec_wire, strlen(rec_wire), &r), 0);
	ncxd_format_record(&l, NCXD_JSON, T0, &a, &r);
	const char *want =
		"{\"time\":\"2026-11-22T01:13:34.123456Z\",\"host\":\"10.0.0.5\",\"port\":6665,"
		"\"seq\":42,\"facility\":0,\"level\":6,\"level_name\":\"info\",\"ts_usec\":1234567,"
		"\"text\":\"hello\\u0009world \\\\ \xc3\xa9\","
		"\"dict\":{\"SUBSYSTEM\":\"pci\",\"DEVICE\":\"+pci:0000:00:03.0\"},\"flags\":[]}\n";
	assert_int_equal(l.len, strlen(want));
	assert_memory_equal(l.p, want, l.len);
	assert_true(json_line_ok(l.p, l.len));

	/* Continuation, caller, release, v6 host, no dictionary. */
	const char *w2 = "6.4.0,14,9,10,c,caller=T77;a\"b\n";

	addr(&a, "[2001:db8::1]:7");
	assert_int_equal(ncx_ext_parse(w2, strlen(w2), &r), 0);
	l = fresh();
	ncxd_format_record(&l, NCXD_JSON, T0, &a, &r);
	want = "{\"time\":\"2026-11-22T01:13:34.123456Z\",\"host\":\"2001:db8::1\",\"port\":7,"
	       "\"seq\":9,\"facility\":1,\"level\":6,\"level_name\":\"info\",\"ts_usec\":10,"
	       "\"text\":\"a\\\"b\",\"dict\":{},\"flags\":[\"cont\"],\"caller\":\"T77\","
	       "\"release\":\"6.4.0\"}\n";
	assert_int_equal(l.len, strlen(want));
	assert_memory_equal(l.p, want, l.len);
	assert_true(json_line_ok(l.p, l.len));
}

static void test_legacy(void **state)
{
	static const char wire[] = "[    5.000100] hi\tthere\n[    5.000100] second\n";
	struct ncx_legacy g;
	struct ncx_addr a;
	struct ncxd_line l = fresh();

	addr(&a, "127.0.0.1:6665");
	assert_int_equal(ncx_legacy_parse(wire, strlen(wire), &g), 0);
	ncxd_format_legacy(&l, NCXD_TEXT, T0, &a, &g);
	/* The text after the first prefix, escaped: one record, one line. */
	const char *want = "2026-11-22T01:13:34.123456Z [    5.000100] hi\\x09there\\x0a[    5.000100] "
			   "second\n";
	assert_int_equal(l.len, strlen(want));
	assert_memory_equal(l.p, want, l.len);

	l = fresh();
	ncxd_format_legacy(&l, NCXD_JSON, T0, &a, &g);
	want = "{\"time\":\"2026-11-22T01:13:34.123456Z\",\"host\":\"127.0.0.1\",\"port\":6665,"
	       "\"ts_usec\":5000100,\"text\":\"hi\\u0009there\\u000a[    5.000100] second\","
	       "\"legacy\":true}\n";
	assert_int_equal(l.len, strlen(want));
	assert_memory_equal(l.p, want, l.len);
	assert_true(json_line_ok(l.p, l.len));

	/* No timestamp: just the text. */
	assert_int_equal(ncx_legacy_parse("plain\xff", 6, &g), 0);
	l = fresh();
	ncxd_format_legacy(&l, NCXD_TEXT, 0, &a, &g);
	assert_int_equal(l.len, strlen("1970-01-01T00:00:00.000000Z plain\\xff\n"));
	assert_memory_equal(l.p, "1970-01-01T00:00:00.000000Z plain\\xff\n", l.len);
}

static void check_event(const struct ncxd_event *ev, const char *text, const char *json)
{
	struct ncx_addr a;
	struct ncxd_line l = fresh();
	char want[512];

	addr(&a, "10.1.2.3:6665");
	ncxd_format_event(&l, NCXD_TEXT, T0, &a, ev);
	snprintf(want, sizeof(want), "2026-11-22T01:13:34.123456Z ncx: %s\n", text);
	assert_int_equal(l.len, strlen(want));
	assert_memory_equal(l.p, want, l.len);
	l = fresh();
	ncxd_format_event(&l, NCXD_JSON, T0, &a, ev);
	snprintf(want, sizeof(want),
		 "{\"time\":\"2026-11-22T01:13:34.123456Z\",\"host\":\"10.1.2.3\",\"port\":6665,%s}\n",
		 json);
	assert_int_equal(l.len, strlen(want));
	assert_memory_equal(l.p, want, l.len);
	assert_true(json_line_ok(l.p, l.len));
}

static void test_events(void **state)
{
	check_event(&(struct ncxd_event){ .kind = NCXD_EV_GAP, .a = 10, .b = 12, .lost = true },
		    "gap seq=10..12 count=3 lost",
		    "\"event\":\"gap\",\"first\":10,\"last\":12,\"count\":3,\"lost\":true");
	check_event(&(struct ncxd_event){ .kind = NCXD_EV_GAP, .a = 5, .b = 5 },
		    "gap seq=5..5 count=1 not received",
		    "\"event\":\"gap\",\"first\":5,\"last\":5,\"count\":1,\"lost\":false");
	check_event(&(struct ncxd_event){ .kind = NCXD_EV_REBOOT, .a = 2423, .b = 0 },
		    "reboot prev_seq=2423 seq=0",
		    "\"event\":\"reboot\",\"prev_seq\":2423,\"seq\":0");
	check_event(&(struct ncxd_event){ .kind = NCXD_EV_SUPPRESSED, .a = 7, .b = 700 },
		    "suppressed records=7 bytes=700",
		    "\"event\":\"suppressed\",\"records\":7,\"bytes\":700");
	check_event(&(struct ncxd_event){ .kind = NCXD_EV_DROPPED, .a = 3, .reason = "write_error" },
		    "dropped records=3 reason=write_error",
		    "\"event\":\"dropped\",\"records\":3,\"reason\":\"write_error\"");
}

/* Every byte value alone: ASCII as itself (quote and backslash escaped),
 * controls and DEL as \u00XX, and any lone byte >= 0x80 (never valid
 * UTF-8 alone) as \u00XX too. */
static void test_json_every_byte(void **state)
{
	unsigned char all[256];

	for (int c = 0; c < 256; c++) {
		unsigned char b = (unsigned char)c;
		char want[8];
		struct ncxd_line l = fresh();

		all[c] = b;
		ncxd_json_string(&l, &b, 1);
		if (c == '"' || c == '\\')
			snprintf(want, sizeof(want), "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			snprintf(want, sizeof(want), "%c", c);
		else
			snprintf(want, sizeof(want), "\\u%04x", c);
		assert_int_equal(l.len, strlen(want));
		assert_memory_equal(l.p, want, l.len);
	}
	/* All 256 together make one valid JSON string. */
	struct ncxd_line l = fresh();

	ncxd_line_put(&l, "\"", 1);
	ncxd_json_string(&l, all, sizeof(all));
	ncxd_line_put(&l, "\"\n", 2);
	assert_true(json_line_ok(l.p, l.len));
}

static void json_is(const char *in, size_t n, const char *want)
{
	struct ncxd_line l = fresh();

	ncxd_json_string(&l, in, n);
	assert_int_equal(l.len, strlen(want));
	assert_memory_equal(l.p, want, l.len);
}

static void test_json_utf8(void **state)
{
	json_is("\xc3\xa9", 2, "\xc3\xa9");			/* é kept */
	json_is("\xe2\x82\xac", 3, "\xe2\x82\xac");		/* € kept */
	json_is("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");	/* emoji kept */
	json_is("\xc0\x80", 2, "\\u00c0\\u0080");		/* overlong NUL */
	json_is("\xed\xa0\x80", 3, "\\u00ed\\u00a0\\u0080");	/* surrogate */
	json_is("\xf4\x90\x80\x80", 4, "\\u00f4\\u0090\\u0080\\u0080"); /* > U+10FFFF */
	json_is("\xe2\x82", 2, "\\u00e2\\u0082");		/* cut short */
	json_is("\xe9x", 2, "\\u00e9x");			/* Latin-1 byte */
}

/* Random bytes, random escapes: always one valid JSON line. */
static void test_json_random(void **state)
{
	unsigned seed = 1;
	unsigned char buf[300];
	struct ncx_addr a;

	addr(&a, "127.0.0.1:1");
	for (int it = 0; it < 20000; it++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(buf));

		for (size_t i = 0; i < n; i++) {
			unsigned r = (unsigned)rand_r(&seed);

			/* Lean on the interesting bytes. */
			buf[i] = r % 4 == 0 ? (unsigned char)"\\x\"0e9f\n"[r / 4 % 8] : (unsigned char)(r >> 8);
		}
		struct ncx_legacy g = { .text = { (const char *)buf, n } };
		struct ncxd_line l = fresh();

		ncxd_format_legacy(&l, NCXD_JSON, 0, &a, &g);
		assert_true(json_line_ok(l.p, l.len));
		l = fresh();
		ncxd_line_put(&l, "\"", 1);
		ncxd_json_unescaped(&l, (const char *)buf, n);
		ncxd_line_put(&l, "\"\n", 2);
		assert_true(json_line_ok(l.p, l.len));
		l = fresh();
		ncxd_format_legacy(&l, NCXD_TEXT, 0, &a, &g);
		assert_null(memchr(l.p, '\n', l.len - 1)); /* one line */
	}
}

/* A line that must be cut still ends in a newline. */
static void test_truncated_line(void **state)
{
	char small[40];
	struct ncxd_line l = { .p = small, .cap = sizeof(small) };
	struct ncx_legacy g = { .text = { "0123456789012345678901234567890123456789", 40 } };
	struct ncx_addr a;

	addr(&a, "127.0.0.1:1");
	ncxd_format_legacy(&l, NCXD_TEXT, 0, &a, &g);
	assert_int_equal(l.len, sizeof(small));
	assert_int_equal(l.p[l.len - 1], '\n');
	assert_true(l.truncated);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validator_rejects), cmocka_unit_test(test_time),
		cmocka_unit_test(test_digits_match_printf),
		cmocka_unit_test(test_text_record),	  cmocka_unit_test(test_text_raw_bytes),
		cmocka_unit_test(test_json_record),
		cmocka_unit_test(test_legacy),		  cmocka_unit_test(test_events),
		cmocka_unit_test(test_json_every_byte),	  cmocka_unit_test(test_json_utf8),
		cmocka_unit_test(test_json_random),	  cmocka_unit_test(test_truncated_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
