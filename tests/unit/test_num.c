/* SPDX-License-Identifier: MIT */
/* num: strict decimal parsing (every way a number can be wrong), unit
 * suffixes, and the formatter against snprintf over the whole range. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ncx/num.h>

static int parse(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	*v = 12345; /* must stay untouched on error */
	return ncx_num_parse(s, min, max, v);
}

static void test_parse_good(void **state)
{
	uint64_t v;

	assert_int_equal(parse("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse("65535", 0, 65535, &v), 0);
	assert_int_equal(v, 65535);
}

static void test_parse_bad(void **state)
{
	static const char *const not_numbers[] = {
		"", " 1", "1 ", "+1", "-1", "0x10", "1.5", "1e3", "12a", "a", "١",
		"99999999999999999999x",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
		assert_int_equal(parse(not_numbers[i], 0, UINT64_MAX, &v), -EINVAL);
		assert_int_equal(v, 12345);
	}
	assert_int_equal(parse("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse("11", 0, 10, &v), -ERANGE);
	assert_int_equal(parse("0", 1, 10, &v), -ERANGE);
	assert_int_equal(v, 12345);
}

static void test_parse_n(void **state)
{
	uint64_t v = 0;

	/* Only the n bytes count: what follows is not looked at. */
	assert_int_equal(ncx_num_parse_n("123abc", 3, 0, 1000, &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(ncx_num_parse_n("123abc", 4, 0, 1000, &v), -EINVAL);
	assert_int_equal(ncx_num_parse_n("123", 0, 0, 1000, &v), -EINVAL);
	assert_int_equal(ncx_num_parse_n("1\0" "2", 3, 0, 1000, &v), -EINVAL);
	/* 19 digits, 20, and past UINT64_MAX by one in the last digit. */
	assert_int_equal(ncx_num_parse_n("9999999999999999999", 19, 0, UINT64_MAX, &v), 0);
	assert_true(v == 9999999999999999999ull);
	assert_int_equal(ncx_num_parse_n("10000000000000000000", 20, 0, UINT64_MAX, &v), 0);
	assert_true(v == 10000000000000000000ull);
	assert_int_equal(ncx_num_parse_n("18446744073709551616", 20, 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(ncx_num_parse_n("99999999999999999999", 20, 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(ncx_num_parse_n("000000000000000000000000001", 27, 0, 1, &v), 0);
	assert_int_equal(v, 1);
}

static void test_digits(void **state)
{
	assert_int_equal(ncx_num_digits("123,4", 5), 3);
	assert_int_equal(ncx_num_digits("123", 2), 2);
	assert_int_equal(ncx_num_digits(",1", 2), 0);
	assert_int_equal(ncx_num_digits("", 0), 0);
	assert_int_equal(ncx_num_digits("9/:", 3), 1); /* '/' and ':' border '0'..'9' */
}

static void test_parse_unit(void **state)
{
	static const struct ncx_num_unit ms[] = { { "ms", 1 }, { "s", 1000 }, { NULL, 0 } };
	const struct ncx_num_unit *bin = ncx_num_binary_units;
	uint64_t v = 0;

	assert_int_equal(ncx_num_parse_unit("65536", bin, 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(ncx_num_parse_unit("16M", bin, 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 16u << 20);
	assert_int_equal(ncx_num_parse_unit("64k", bin, 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 64u << 10);
	assert_int_equal(ncx_num_parse_unit("1G", bin, 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 1u << 30);
	assert_int_equal(ncx_num_parse_unit("2s", ms, 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(ncx_num_parse_unit("2ms", ms, 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 2);

	assert_int_equal(ncx_num_parse_unit("M", bin, 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(ncx_num_parse_unit("16MB", bin, 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(ncx_num_parse_unit("16 M", bin, 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(ncx_num_parse_unit("-1M", bin, 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(ncx_num_parse_unit("16T", bin, 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(ncx_num_parse_unit("16M", NULL, 0, UINT64_MAX, &v), -EINVAL);
	/* The range applies to the value after the unit, overflow included. */
	assert_int_equal(ncx_num_parse_unit("2G", bin, 0, 1u << 30, &v), -ERANGE);
	assert_int_equal(ncx_num_parse_unit("17179869184G", bin, 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(ncx_num_parse_unit("17179869183G", bin, 0, UINT64_MAX, &v), 0);
}

static void check_dec(uint64_t v)
{
	char want[32], got[NCX_NUM_DEC_MAX + 1];
	int n = snprintf(want, sizeof(want), "%llu", (unsigned long long)v);

	memset(got, 'x', sizeof(got));
	assert_int_equal(ncx_num_dec(got, v), n);
	assert_memory_equal(got, want, (size_t)n);
	if ((size_t)n < sizeof(got))
		assert_int_equal(got[n], 'x'); /* no NUL, nothing past the digits */
}

static void test_dec(void **state)
{
	uint64_t p = 1;

	check_dec(0);
	check_dec(UINT64_MAX);
	for (int i = 0; i < 20; i++, p *= 10) {
		check_dec(p - 1);
		check_dec(p);
		check_dec(p + 1);
	}
	for (uint64_t v = 0; v < 100000; v++)
		check_dec(v);
	for (uint64_t v = 1, x = 88172645463325252ull; v < 100000; v++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		check_dec(x >> (v % 64));
	}
}

static void test_dec_pad(void **state)
{
	char buf[40];
	size_t n;

	n = ncx_num_dec_pad(buf, 42, 5, ' ');
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "   42", 5);
	n = ncx_num_dec_pad(buf, 7, 6, '0');
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "000007", 6);
	n = ncx_num_dec_pad(buf, 1234567, 6, '0');
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "1234567", 7);
	n = ncx_num_dec_pad(buf, 0, 0, ' ');
	assert_int_equal(n, 1);
	assert_memory_equal(buf, "0", 1);
	n = ncx_num_dec_pad(buf, UINT64_MAX, 32, '.');
	assert_int_equal(n, 32);
	assert_memory_equal(buf, "............18446744073709551615", 32);
	n = ncx_num_dec_pad(buf, 5, 40, '.'); /* beyond 32: 32 */
	assert_int_equal(n, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good), cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_n),	   cmocka_unit_test(test_digits),
		cmocka_unit_test(test_parse_unit),
		cmocka_unit_test(test_dec),	   cmocka_unit_test(test_dec_pad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
