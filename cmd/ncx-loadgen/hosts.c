/* SPDX-License-Identifier: MIT */
/*
 * One socket per simulated host, each bound to its own loopback address and
 * the netconsole source port, so the receiver sees N distinct senders exactly
 * as it would see N machines. (Only ::1 exists in IPv6 loopback, so there the
 * hosts differ by source port instead.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ncx/log.h>

#include "loadgen.h"

/* N sockets need N descriptors; raise our own limit rather than ask the
 * caller to run ulimit first. Raising the hard limit works for root. */
static int raise_nofile(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	rl.rlim_cur = need;
	if (rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return 0;
}

static void host_addr(const struct lg_opts *o, uint32_t i, struct ncx_addr *a)
{
	*a = o->base;
	if (a->family == AF_INET) {
		uint32_t v;

		memcpy(&v, a->addr, 4);
		v = htonl(ntohl(v) + i);
		memcpy(a->addr, &v, 4);
	} else {
		a->port = (uint16_t)(o->base.port + i);
	}
}

static int open_one(const struct ncx_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = ncx_addr_to_sockaddr(a, &ss);
	int fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int lg_hosts_open(struct lg_hosts *h, const struct lg_opts *o)
{
	char text[NCX_ADDR_TEXT_MAX];
	int rc = raise_nofile((rlim_t)o->hosts + 32);

	if (rc < 0) {
		ncx_err("cannot raise the open-file limit to %u: %s\n", o->hosts + 32,
			strerror(-rc));
		return rc;
	}
	h->n = 0;
	h->fd = calloc(o->hosts, sizeof(*h->fd));
	if (!h->fd)
		return -ENOMEM;
	h->tolen = ncx_addr_to_sockaddr(&o->target, &h->to);
	for (uint32_t i = 0; i < o->hosts; i++) {
		struct ncx_addr a;

		host_addr(o, i, &a);
		rc = open_one(&a);
		if (rc < 0) {
			ncx_addr_format(&a, true, text, sizeof(text));
			ncx_err("host %u: bind %s: %s\n", i, text, strerror(-rc));
			lg_hosts_close(h);
			return rc;
		}
		h->fd[h->n++] = rc;
	}
	return 0;
}

void lg_hosts_close(struct lg_hosts *h)
{
	for (uint32_t i = 0; i < h->n; i++)
		close(h->fd[i]);
	free(h->fd);
	h->fd = NULL;
	h->n = 0;
}
