/* SPDX-License-Identifier: MIT */
/* ncxd's --allow: CIDR parsing and matching, v4 and v6. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "../../cmd/ncxd/ncxd.h"

static bool m(const char *cidr, const char *addr)
{
	struct ncxd_cidr c;
	struct ncx_addr a;

	assert_int_equal(ncxd_cidr_parse(cidr, &c), 0);
	assert_int_equal(ncx_addr_parse(addr, 1, &a), 0);
	return ncxd_cidr_match(&c, &a);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = { "", "/8", "1.2.3.4/", "1.2.3.4/33", "::/129",
					   "1.2.3.4/ 8", "1.2.3.4/+8", "1.2.3.4/8x", "host/8",
					   "1.2.3/8", "1.2.3.4/0x8", "1.2.3.4/0008", "1.2.3.4 ",
					   "[::1]/128", "1.2.3.4/-1" };
	struct ncxd_cidr c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ncxd_cidr_parse(bad[i], &c), -EINVAL);
}

static void test_match_v4(void **state)
{
	assert_true(m("10.0.0.0/8", "10.255.1.2"));
	assert_false(m("10.0.0.0/8", "11.0.0.1"));
	assert_true(m("10.1.2.3/8", "10.9.9.9")); /* host bits cleared */
	assert_true(m("192.168.16.0/20", "192.168.31.255"));
	assert_false(m("192.168.16.0/20", "192.168.32.0"));
	assert_false(m("192.168.16.0/20", "192.168.15.255"));
	assert_true(m("1.2.3.4", "1.2.3.4"));
	assert_false(m("1.2.3.4", "1.2.3.5"));
	assert_true(m("0.0.0.0/0", "203.0.113.9"));
	assert_false(m("0.0.0.0/0", "::1"));
	/* A v4 sender on a v6 socket arrives v4-mapped, folded to v4: it matches. */
	assert_true(m("10.0.0.0/8", "[::ffff:10.1.1.1]:5"));
}

static void test_match_v6(void **state)
{
	assert_true(m("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(m("2001:db8::/32", "2001:db9::1"));
	assert_true(m("fd00::/7", "fdff::1"));
	assert_false(m("fd00::/7", "fe00::1"));
	assert_true(m("::1", "::1"));
	assert_false(m("::1", "::2"));
	assert_true(m("::/0", "2001:db8::1"));
	assert_false(m("::/0", "1.2.3.4"));
}

static void test_list(void **state)
{
	struct ncxd_cidr l[2];
	struct ncx_addr a;

	assert_int_equal(ncx_addr_parse("127.0.0.9", 1, &a), 0);
	assert_true(ncxd_allowed(l, 0, &a)); /* empty: everyone */
	assert_int_equal(ncxd_cidr_parse("10.0.0.0/8", &l[0]), 0);
	assert_false(ncxd_allowed(l, 1, &a));
	assert_int_equal(ncxd_cidr_parse("127.0.0.0/30", &l[1]), 0);
	assert_false(ncxd_allowed(l, 2, &a));
	assert_int_equal(ncx_addr_parse("127.0.0.3", 1, &a), 0);
	assert_true(ncxd_allowed(l, 2, &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_match_v4),
		cmocka_unit_test(test_match_v6),
		cmocka_unit_test(test_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
