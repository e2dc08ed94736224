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

/*
 * One batch of datagrams from one socket (recvmmsg), each with its sender's
 * address: the receive loop ncxd's workers and `ncx listen` share. The
 * buffers are allocated once, NCX_UDP_BATCH of dgram_max bytes.
 */
#define NCX_UDP_BATCH 32

struct ncx_udp_batch {
	int n;				    /* datagrams in the batch (valid senders) */
	const unsigned char *data[NCX_UDP_BATCH];
	size_t len[NCX_UDP_BATCH];
	struct ncx_addr from[NCX_UDP_BATCH];
	bool has_drops;			    /* drops is valid (SO_RXQ_OVFL on the socket) */
	uint32_t drops;			    /* the socket's running drop count, as of the last */
	/* private */
	unsigned char *bufs;
	size_t dgram_max;
	void *priv;
};

/* 0, or -ENOMEM. */
int ncx_udp_batch_init(struct ncx_udp_batch *b, size_t dgram_max);
void ncx_udp_batch_free(struct ncx_udp_batch *b);
/* Read what is queued on fd, up to NCX_UDP_BATCH, without blocking. Returns
 * the number of datagrams read (a datagram whose address cannot be
 * understood counts, but is left out of b), 0 if none. */
int ncx_udp_recv_batch(int fd, struct ncx_udp_batch *b);

/* Monotonic time in microseconds. */
uint64_t ncx_now_us(void);
/* Wall-clock time (CLOCK_REALTIME) in microseconds since the epoch. */
uint64_t ncx_real_us(void);

#endif /* NCX_UDP_H */
