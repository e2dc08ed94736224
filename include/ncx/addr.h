/* SPDX-License-Identifier: MIT */
/*
 * addr: a sender's identity, (address, port), in one canonical form. IPv4
 * senders that reach an IPv6 socket as v4-mapped addresses are folded back to
 * IPv4, so one host is one sender whichever socket it arrived on. The text
 * form comes from inet_ntop and nothing else: it is what ncxd builds file
 * paths from, so it must never carry bytes from a payload.
 */
#ifndef NCX_ADDR_H
#define NCX_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NCX_ADDR_TEXT_MAX 56 /* "[ffff:...:ffff]:65535" and a NUL */

struct ncx_addr {
	uint8_t family;	  /* AF_INET or AF_INET6 */
	uint16_t port;	  /* host byte order */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
};

/* From a socket address; returns 0 or -EAFNOSUPPORT. */
int ncx_addr_from_sockaddr(struct ncx_addr *out, const struct sockaddr *sa, socklen_t len);

/* To a socket address for sendto(); returns its length. */
socklen_t ncx_addr_to_sockaddr(const struct ncx_addr *a, struct sockaddr_storage *ss);

/* Parse "1.2.3.4", "1.2.3.4:666", "::1", "[::1]:666"; a missing port is
 * default_port. Returns 0 or -EINVAL. No DNS, ever. */
int ncx_addr_parse(const char *text, uint16_t default_port, struct ncx_addr *out);

/* Canonical text: "127.0.0.1" or "::1" (with_port false), "127.0.0.1:6665"
 * or "[::1]:6665" (with_port true). Returns the length, NUL-terminated. */
size_t ncx_addr_format(const struct ncx_addr *a, bool with_port, char *out, size_t cap);

bool ncx_addr_equal(const struct ncx_addr *a, const struct ncx_addr *b);
uint64_t ncx_addr_hash(const struct ncx_addr *a, uint64_t seed);

#endif /* NCX_ADDR_H */
