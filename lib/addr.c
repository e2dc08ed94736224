/* SPDX-License-Identifier: MIT */
/*
 * addr: sender identity in canonical form. See include/ncx/addr.h.
 */
#include <ncx/addr.h>
#include <ncx/num.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int ncx_addr_from_sockaddr(struct ncx_addr *out, const struct sockaddr *sa, socklen_t len)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		out->family = AF_INET;
		out->port = ntohs(in->sin_port);
		memcpy(out->addr, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		out->port = ntohs(in6->sin6_port);
		/* One host is one sender, whichever socket its packets reached. */
		if (!memcmp(&in6->sin6_addr, v4mapped_prefix, sizeof(v4mapped_prefix))) {
			out->family = AF_INET;
			memcpy(out->addr, (const uint8_t *)&in6->sin6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->addr, &in6->sin6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

socklen_t ncx_addr_to_sockaddr(const struct ncx_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(a->port);
		memcpy(&in->sin_addr, a->addr, 4);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(a->port);
	memcpy(&in6->sin6_addr, a->addr, 16);
	return sizeof(*in6);
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (ncx_num_parse(s, 0, 65535, &v))
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int ncx_addr_parse(const char *text, uint16_t default_port, struct ncx_addr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *port = NULL;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	out->port = default_port;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close)
			return -EINVAL;
		hlen = (size_t)(close - text - 1);
		text++;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return -EINVAL;
	} else {
		const char *colon = strchr(text, ':');

		/* More than one colon and no brackets: a bare IPv6 address. */
		if (colon && !strchr(colon + 1, ':')) {
			hlen = (size_t)(colon - text);
			port = colon + 1;
		} else {
			hlen = strlen(text);
		}
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (port && parse_port(port, &out->port))
		return -EINVAL;

	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		if (!memcmp(out->addr, v4mapped_prefix, sizeof(v4mapped_prefix))) {
			memmove(out->addr, out->addr + 12, 4);
			memset(out->addr + 4, 0, 12);
			out->family = AF_INET;
		}
		return 0;
	}
	return -EINVAL;
}

size_t ncx_addr_format(const struct ncx_addr *a, bool with_port, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->addr, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	if (!with_port)
		n = snprintf(out, cap, "%s", host);
	else if (a->family == AF_INET)
		n = snprintf(out, cap, "%s:%u", host, a->port);
	else
		n = snprintf(out, cap, "[%s]:%u", host, a->port);
	return n < 0 ? 0 : (size_t)n;
}

bool ncx_addr_equal(const struct ncx_addr *a, const struct ncx_addr *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

/* A keyed 64-bit mix (splitmix64 finaliser over the address words): the
 * seed keeps a remote sender from choosing addresses that collide. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t ncx_addr_hash(const struct ncx_addr *a, uint64_t seed)
{
	uint64_t w0, w1;

	memcpy(&w0, a->addr, 8);
	memcpy(&w1, a->addr + 8, 8);
	uint64_t h = mix64(seed ^ ((uint64_t)a->family << 16 | a->port));

	h = mix64(h ^ w0);
	return mix64(h ^ w1);
}
