/* SPDX-License-Identifier: MIT */
/* ncxd's path template: expansion, the checks that keep files below DIR,
 * and that only the canonical address, the port and the date get in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../cmd/ncxd/ncxd.h"

#define T0 ((time_t)1795310014) /* 2026-11-22T01:13:34Z */

static void expand_is(const char *tmpl, const char *addr, const char *want)
{
	struct ncx_addr a;
	char out[512];

	assert_int_equal(ncx_addr_parse(addr, 6665, &a), 0);
	assert_int_equal(ncxd_path_expand(tmpl, &a, T0, out, sizeof(out)), (int)strlen(want));
	assert_string_equal(out, want);
}

static void test_expand(void **state)
{
	expand_is("%h/%Y-%m-%d.log", "10.0.0.5:6665", "10.0.0.5/2026-11-22.log");
	expand_is("%h/%Y-%m-%d.log", "[2001:db8::1]:6665", "2001:db8::1/2026-11-22.log");
	expand_is("%h/%Y-%m-%d.log", "[::ffff:10.1.2.3]:1", "10.1.2.3/2026-11-22.log");
	expand_is("%h-%p/%H%M.log", "127.0.0.1:6665", "127.0.0.1-6665/0113.log");
	expand_is("by-host/%h/100%%.log", "127.0.0.1", "by-host/127.0.0.1/100%.log");
	expand_is("%h/%p/%p", "127.0.0.1:7", "127.0.0.1/7/7");
	/* A '%h' produced by strftime text is not expanded again: only one pass. */
	expand_is("%h/%%h", "127.0.0.1", "127.0.0.1/%h");
}

static void test_too_long(void **state)
{
	struct ncx_addr a;
	char out[16];

	assert_int_equal(ncx_addr_parse("[2001:db8::1]:6665", 1, &a), 0);
	assert_int_equal(ncxd_path_expand("%h/%Y-%m-%d.log", &a, T0, out, sizeof(out)),
			 -ENAMETOOLONG);
	char big[2000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "%h/", 3);
	char out2[4096];

	assert_int_equal(ncxd_path_expand(big, &a, T0, out2, sizeof(out2)), -ENAMETOOLONG);
}

static void test_check(void **state)
{
	assert_null(ncxd_path_check("%h/%Y-%m-%d.log"));
	assert_null(ncxd_path_check("%h.log"));
	assert_null(ncxd_path_check("x/..y/%h"));
	assert_null(ncxd_path_check("x/y../%h"));
	assert_non_null(ncxd_path_check(""));
	assert_non_null(ncxd_path_check("/var/log/%h"));
	assert_non_null(ncxd_path_check("../%h"));
	assert_non_null(ncxd_path_check("a/../%h"));
	assert_non_null(ncxd_path_check("%h/.."));
	assert_non_null(ncxd_path_check("%h/"));
	assert_non_null(ncxd_path_check("all.log")); /* no %h: hosts would share */
}

/* Whatever the sender, %h and %p give only address characters: no '/',
 * no "..", nothing a sender controls beyond its (real) address. */
static void test_only_address_text(void **state)
{
	unsigned seed = 7;

	for (int i = 0; i < 20000; i++) {
		struct ncx_addr a = { .family = (i & 1) ? AF_INET6 : AF_INET };
		char out[256];
		int n;

		for (int k = 0; k < ((i & 1) ? 16 : 4); k++)
			a.addr[k] = (uint8_t)rand_r(&seed);
		a.port = (uint16_t)rand_r(&seed);
		/* Not v4-mapped (those fold to v4 and are covered above). */
		if (a.family == AF_INET6 && a.addr[10] == 0xff)
			a.addr[10] = 0;
		n = ncxd_path_expand("%h_%p", &a, T0, out, sizeof(out));
		assert_true(n > 0);
		assert_int_equal(strspn(out, "0123456789abcdef.:_"), (size_t)n);
		assert_null(strstr(out, ".."));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_only_address_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
