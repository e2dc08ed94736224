/* SPDX-License-Identifier: MIT */
/*
 * udp: the few socket chores every ncx program shares: bind a listening
 * socket the way a log collector wants it, batch-receive with the sender's
 * address, and read the monotonic clock the sans-I/O cores are fed with.
 */
#ifndef NCX_UDP_H
#define NCX_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ncx/addr.h>

struct ncx_udp_opts {
	int rcvbuf;	/* SO_RCVBUF(FORCE) bytes; 0 leaves the system default */
	bool reuseport; /* SO_REUSEPORT, for one socket per worker */
	bool rxq_ovfl;	/* SO_RXQ_OVFL: the kernel reports its drop count */
};

/* A bound, non-blocking UDP socket; an IPv6 one is v6-only so that
 * 0.0.0.0 and [::] can share a port. Returns the fd or -errno. */
int ncx_udp_bind(const struct ncx_addr *at, const struct ncx_udp_opts *opts);

/* Monotonic time in microseconds. */
uint64_t ncx_now_us(void);
/* Wall-clock time (CLOCK_REALTIME) in microseconds since the epoch. */
uint64_t ncx_real_us(void);

#endif /* NCX_UDP_H */
