/* SPDX-License-Identifier: MIT */
/* addr: parsing, canonical text, v4-mapped folding, equality and hashing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <ncx/addr.h>

static void roundtrip(const char *in, uint16_t defport, const char *want)
{
	struct ncx_addr a;
	char buf[NCX_ADDR_TEXT_MAX];

	assert_int_equal(ncx_addr_parse(in, defport, &a), 0);
	ncx_addr_format(&a, true, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_parse_format(void **state)
{
	roundtrip("127.0.0.1", 6666, "127.0.0.1:6666");
	roundtrip("127.1.2.3:6665", 6666, "127.1.2.3:6665");
	roundtrip("::1", 6666, "[::1]:6666");
	roundtrip("[::1]:7", 6666, "[::1]:7");
	roundtrip("[2001:DB8:0:0::1]:65535", 1, "[2001:db8::1]:65535");
	roundtrip("[::ffff:10.1.2.3]:9", 1, "10.1.2.3:9"); /* v4-mapped folds to v4 */
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = { "", ":6666", "host.example:1", "1.2.3.4:", "1.2.3.4:65536",
					   "1.2.3.4:-1", "[::1", "[::1]x", "[]:1", "1.2.3.4:1x",
					   "999.1.1.1" };
	struct ncx_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ncx_addr_parse(bad[i], 1, &a), -EINVAL);
}

static void test_sockaddr(void **state)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(6665) };
	struct sockaddr_storage ss;
	struct ncx_addr a, b;
	char buf[NCX_ADDR_TEXT_MAX];

	inet_pton(AF_INET6, "::ffff:127.0.0.9", &in6.sin6_addr);
	assert_int_equal(ncx_addr_from_sockaddr(&a, (struct sockaddr *)&in6, sizeof(in6)), 0);
	assert_int_equal(a.family, AF_INET);
	ncx_addr_format(&a, false, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.9");

	/* to_sockaddr and back is the identity, and the same host from a v4
	 * socket is the same sender. */
	socklen_t len = ncx_addr_to_sockaddr(&a, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ncx_addr_from_sockaddr(&b, (struct sockaddr *)&ss, len), 0);
	assert_true(ncx_addr_equal(&a, &b));
	assert_int_equal(ncx_addr_hash(&a, 1), ncx_addr_hash(&b, 1));

	b.port++;
	assert_false(ncx_addr_equal(&a, &b));
	assert_int_not_equal(ncx_addr_hash(&a, 1), ncx_addr_hash(&b, 1));
	assert_int_not_equal(ncx_addr_hash(&a, 1), ncx_addr_hash(&a, 2));

	struct sockaddr sa = { .sa_family = AF_UNIX };
	assert_int_equal(ncx_addr_from_sockaddr(&a, &sa, sizeof(sa)), -EAFNOSUPPORT);
	/* A short length is not trusted. */
	assert_int_equal(ncx_addr_from_sockaddr(&a, (struct sockaddr *)&in6, 8), -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_sockaddr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
