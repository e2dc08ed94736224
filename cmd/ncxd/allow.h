/* SPDX-License-Identifier: MIT */
/* allow.c: --allow CIDR lists (pure). */
#ifndef NCXD_ALLOW_H
#define NCXD_ALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ncx/addr.h>

struct ncxd_cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bits;
	uint8_t addr[16]; /* masked to bits */
};

/* "10.0.0.0/8", "2001:db8::/32", "1.2.3.4" (= /32), "::1" (= /128). Host
 * bits beyond the prefix are cleared. Returns 0 or -EINVAL. */
int ncxd_cidr_parse(const char *text, struct ncxd_cidr *out);
bool ncxd_cidr_match(const struct ncxd_cidr *c, const struct ncx_addr *a);
/* An empty list allows everyone. */
bool ncxd_allowed(const struct ncxd_cidr *list, size_t n, const struct ncx_addr *a);

#endif /* NCXD_ALLOW_H */
