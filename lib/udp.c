/* SPDX-License-Identifier: MIT */
/*
 * udp: shared socket chores. See include/ncx/udp.h.
 */
#include <ncx/udp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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

#define CTRL_SPACE CMSG_SPACE(sizeof(uint32_t))

struct batch_priv {
	struct mmsghdr msgs[NCX_UDP_BATCH];
	struct iovec iov[NCX_UDP_BATCH];
	struct sockaddr_storage from[NCX_UDP_BATCH];
	char ctrl[NCX_UDP_BATCH][CTRL_SPACE];
};

int ncx_udp_batch_init(struct ncx_udp_batch *b, size_t dgram_max)
{
	memset(b, 0, sizeof(*b));
	b->dgram_max = dgram_max;
	b->bufs = malloc(NCX_UDP_BATCH * dgram_max);
	b->priv = calloc(1, sizeof(struct batch_priv));
	if (!b->bufs || !b->priv) {
		ncx_udp_batch_free(b);
		return -ENOMEM;
	}
	return 0;
}

void ncx_udp_batch_free(struct ncx_udp_batch *b)
{
	free(b->bufs);
	free(b->priv);
	b->bufs = NULL;
	b->priv = NULL;
}

/* SO_RXQ_OVFL: the socket's drop count as of this datagram. */
static void read_drops(struct ncx_udp_batch *b, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
			memcpy(&b->drops, CMSG_DATA(c), sizeof(b->drops));
			b->has_drops = true;
		}
	}
}

int ncx_udp_recv_batch(int fd, struct ncx_udp_batch *b)
{
	struct batch_priv *p = b->priv;
	int n;

	for (int i = 0; i < NCX_UDP_BATCH; i++) {
		p->iov[i] = (struct iovec){ .iov_base = b->bufs + (size_t)i * b->dgram_max,
					    .iov_len = b->dgram_max };
		p->msgs[i].msg_len = 0;
		p->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &p->iov[i], .msg_iovlen = 1,
						      .msg_name = &p->from[i],
						      .msg_namelen = sizeof(p->from[i]),
						      .msg_control = p->ctrl[i],
						      .msg_controllen = CTRL_SPACE };
	}
	b->n = 0;
	b->has_drops = false;
	n = recvmmsg(fd, p->msgs, NCX_UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	/* The drop count is cumulative: the last datagram's is news enough. */
	read_drops(b, &p->msgs[n - 1].msg_hdr);
	for (int i = 0; i < n; i++) {
		struct msghdr *mh = &p->msgs[i].msg_hdr;

		if (ncx_addr_from_sockaddr(&b->from[b->n], (struct sockaddr *)&p->from[i],
					   mh->msg_namelen))
			continue;
		b->data[b->n] = p->iov[i].iov_base;
		b->len[b->n] = p->msgs[i].msg_len;
		b->n++;
	}
	return n;
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
