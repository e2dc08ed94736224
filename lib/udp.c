/* SPDX-License-Identifier: MIT */
/*
 * udp: shared socket chores. See include/ncx/udp.h.
 */
#include <ncx/udp.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int ncx_udp_bind(const struct ncx_addr *at, const struct ncx_udp_opts *opts)
{
	struct sockaddr_storage ss;
	socklen_t len = ncx_addr_to_sockaddr(at, &ss);
	int one = 1, fd, err;

	fd = socket(at->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (at->family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (opts && opts->reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (opts && opts->rcvbuf > 0) {
		/* FORCE (root) lifts the rmem_max cap; the plain form is the fallback. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &opts->rcvbuf, sizeof(int)) < 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opts->rcvbuf, sizeof(int));
	}
	if (opts && opts->rxq_ovfl)
		(void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ncx_now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

uint64_t ncx_real_us(void)
{
	return clock_us(CLOCK_REALTIME);
}
