/* SPDX-License-Identifier: MIT */
/*
 * allow: --allow CIDR lists. Checked before a datagram reaches the engine,
 * so a sender outside the list costs a counter and nothing else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/num.h>

#include "allow.h"

int ncxd_cidr_parse(const char *text, struct ncxd_cidr *out)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	int max;

	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, alen);
	buf[alen] = 0;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	out->bits = (uint8_t)max;
	if (slash) {
		uint64_t bits;

		/* At most three digits: not "/0008" (nor " 8", "+8", "0x8"). */
		if (strlen(slash + 1) > 3 || ncx_num_parse(slash + 1, 0, (uint64_t)max, &bits))
			return -EINVAL;
		out->bits = (uint8_t)bits;
	}
	/* A v4-mapped v6 prefix would never match: ncx_addr folds those to v4. */
	for (int i = out->bits; i < max; i++)
		out->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	return 0;
}

bool ncxd_cidr_match(const struct ncxd_cidr *c, const struct ncx_addr *a)
{
	int full = c->bits / 8, rest = c->bits % 8;

	if (c->family != a->family)
		return false;
	if (memcmp(c->addr, a->addr, (size_t)full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff00u >> rest);

		if ((c->addr[full] & mask) != (a->addr[full] & mask))
			return false;
	}
	return true;
}

bool ncxd_allowed(const struct ncxd_cidr *list, size_t n, const struct ncx_addr *a)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (ncxd_cidr_match(&list[i], a))
			return true;
	return false;
}
