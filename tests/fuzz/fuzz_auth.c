/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ncmac tag parsers (lib/auth.c) and key text, fed
 * untrusted bytes. The first byte picks a key (of 256, derived from a fixed
 * secret), the rest is a datagram, a response and key text at once.
 *
 * Checked: verify returns only 1, 0 or -EBADMSG, never reads past the
 * input (ASan), and says 1 only for what sign made under that key: an
 * untagged datagram signed and verified is 1 (and so is the receiver's
 * check after parsing, ncx_auth_dgram_check(), which agrees with verify on
 * every tagged datagram that parses), and 0 under any other key
 * never becomes 1 (the wrong key fails); the same for responses, whose
 * tag also fails under another stream id. Key text
 * parses only as 32 hex digits and at most one newline, and formats back
 * to itself.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/auth.h>
#include <ncx/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

#define CAP 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ncx_auth_key secret = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
						      14, 15, 16 } };
	struct ncx_auth_key key, other, parsed;
	char buf[CAP], hex[NCX_AUTH_KEY_HEX + 1];
	const char *p, *why = NULL;
	struct ncx_ext ext;
	size_t n, plain;
	uint64_t id;
	long len;
	int rc;

	if (size < 1 || size > CAP - NCX_AUTH_DGRAM_TAG_LEN - 1)
		return 0;
	ncx_auth_derive(&secret, (const char *)data, 1, &key);
	ncx_auth_derive(&secret, "other", 5, &other);
	id = data[0] & 1 ? 0 : 0x0123456789abcdefULL * data[0];
	p = (const char *)data + 1;
	n = size - 1;

	/* Datagrams. */
	rc = ncx_auth_dgram_verify(&key, p, n);
	CHECK(rc == 1 || rc == 0 || rc == -EBADMSG);
	/* The receiver's shortcut, after parsing, agrees with verify. */
	if (ncx_ext_parse(p, n, &ext) == 0 && ext.tagged)
		CHECK((ncx_auth_dgram_check(&key, p, n, (size_t)(ext.header.p - p) +
						    ext.header.len) == 1) == (rc == 1));
	if (ncx_auth_dgram_find(p, n) == -1 && memchr(p, ';', n)) {
		memcpy(buf, p, n);
		len = ncx_auth_dgram_sign(&key, buf, n, sizeof(buf));
		CHECK(len == (long)(n + NCX_AUTH_DGRAM_TAG_LEN));
		CHECK(ncx_auth_dgram_verify(&key, buf, (size_t)len) == 1);
		if (ncx_ext_parse(buf, (size_t)len, &ext) == 0)
			CHECK(ext.tagged && ncx_auth_dgram_check(&key, buf, (size_t)len,
						(size_t)(ext.header.p - buf) + ext.header.len) == 1);
		CHECK(ncx_auth_dgram_verify(&other, buf, (size_t)len) == -EBADMSG);
	}

	/* Responses. */
	rc = ncx_auth_resp_verify(&key, id, p, n, &plain);
	CHECK(rc == 1 || rc == 0 || rc == -EBADMSG);
	if (rc >= 0)
		CHECK(plain <= n);
	if (!memchr(p, 'm', n)) {
		memcpy(buf, p, n);
		len = ncx_auth_resp_sign(&key, id, buf, n, sizeof(buf));
		CHECK(len == (long)(n + NCX_AUTH_RESP_TAG_LEN));
		CHECK(ncx_auth_resp_verify(&key, id, buf, (size_t)len, &plain) == 1 && plain == n);
		CHECK(ncx_auth_resp_verify(&other, id, buf, (size_t)len, NULL) == -EBADMSG);
		CHECK(ncx_auth_resp_verify(&key, id + 1, buf, (size_t)len, NULL) == -EBADMSG);
	}

	/* Key text. */
	rc = ncx_auth_key_parse(p, n, &parsed, &why);
	if (rc == 0) {
		CHECK(n == NCX_AUTH_KEY_HEX || (n == NCX_AUTH_KEY_HEX + 1 && p[n - 1] == '\n'));
		ncx_auth_key_format(&parsed, hex);
		CHECK(!strncasecmp(hex, p, NCX_AUTH_KEY_HEX));
	} else {
		CHECK(rc == -EINVAL && why);
	}
	return 0;
}
