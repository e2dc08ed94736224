// SPDX-License-Identifier: GPL-2.0
/*
 * Responses ("ncrx<acked>[ <seq>]*") from the targets. netpoll cannot
 * receive, so an ordinary kernel UDP socket is bound to each target's source
 * address and port (targets that share both share the socket); netconsole
 * uses no socket, so the stock netconsole may send from the same port and
 * the receiver sees one stream. A datagram wakes the kthread, which reads
 * it and hands it to lib/tx.c; only the configured target's exact address
 * and port count, anything else is counted as forged and dropped. With
 * auth_key set, a response counts only with a good tag (lib/auth.c: under
 * the key and our stream id) and goes to tx with the tag cut off; any other
 * is counted as auth_bad and dropped.
 */
#include <linux/in.h>
#include <linux/net.h>
#include <linux/uio.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "ncxcon.h"

/* Responses are at most 1000 bytes; a longer one must reach tx's strict
 * parser as too long, not cut to a valid-looking prefix.
 */
#define RESP_BUF 1024
#define READS_PER_ROUND 64

static void data_ready(struct sock *sk)
{
	struct ncxcon *nc;

	read_lock_bh(&sk->sk_callback_lock);
	nc = sk->sk_user_data;
	if (nc)
		ncxcon_kick(nc);
	read_unlock_bh(&sk->sk_callback_lock);
}

static int open_one(struct ncxcon *nc, unsigned int i)
{
	struct ncxcon_target *t = &nc->t[i];
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(t->np.local_port),
		.sin_addr.s_addr = t->np.local_ip.ip,
	};
	struct socket *sock;
	unsigned int j;
	int rc;

	for (j = 0; j < i; j++) {
		if (nc->t[j].np.local_ip.ip == t->np.local_ip.ip &&
		    nc->t[j].np.local_port == t->np.local_port) {
			t->sock = nc->t[j].sock;
			return 0;
		}
	}
	rc = sock_create_kern(&init_net, AF_INET, SOCK_DGRAM, IPPROTO_UDP, &sock);
	if (rc) {
		pr_err("ncxcon: target %u: no socket for the responses: %d\n", i + 1, rc);
		return rc;
	}
	rc = kernel_bind(sock, (struct sockaddr *)&sin, sizeof(sin));
	if (rc) {
		pr_err("ncxcon: target %u: cannot bind %pI4:%u for the responses (%d%s)\n",
		       i + 1, &sin.sin_addr, t->np.local_port, rc,
		       rc == -EADDRINUSE ? ": the port is in use" : "");
		sock_release(sock);
		return rc;
	}
	write_lock_bh(&sock->sk->sk_callback_lock);
	sock->sk->sk_user_data = nc;
	sock->sk->sk_data_ready = data_ready;
	write_unlock_bh(&sock->sk->sk_callback_lock);
	t->sock = sock;
	t->sock_owner = true;
	return 0;
}

int ncxcon_ack_open(struct ncxcon *nc)
{
	unsigned int i;
	int rc;

	for (i = 0; i < nc->ntargets; i++) {
		rc = open_one(nc, i);
		if (rc) {
			ncxcon_ack_close(nc);
			return rc;
		}
	}
	return 0;
}

void ncxcon_ack_close(struct ncxcon *nc)
{
	struct socket *sock;
	unsigned int i;

	for (i = 0; i < nc->ntargets; i++) {
		sock = nc->t[i].sock;
		nc->t[i].sock = NULL;
		if (!sock || !nc->t[i].sock_owner)
			continue;
		nc->t[i].sock_owner = false;
		write_lock_bh(&sock->sk->sk_callback_lock);
		sock->sk->sk_user_data = NULL;
		write_unlock_bh(&sock->sk->sk_callback_lock);
		sock_release(sock);
	}
}

static int match(const struct ncxcon *nc, const struct socket *sock,
		 const struct sockaddr_in *from)
{
	unsigned int i;

	for (i = 0; i < nc->ntargets; i++) {
		const struct netpoll *np = &nc->t[i].np;

		if (nc->t[i].sock == sock && np->remote_ip.ip == from->sin_addr.s_addr &&
		    np->remote_port == ntohs(from->sin_port))
			return i;
	}
	return -1;
}

/* Read what is waiting (at most READS_PER_ROUND per socket; *more if that
 * was not all) and feed it to tx.
 */
void ncxcon_ack_read(struct ncxcon *nc, u64 now_us, bool *more)
{
	unsigned int i, n;
	size_t plain;
	int len, t;

	for (i = 0; i < nc->ntargets; i++) {
		struct socket *sock = nc->t[i].sock;

		if (!nc->t[i].sock_owner)
			continue;
		for (n = 0; n < READS_PER_ROUND; n++) {
			struct sockaddr_in from = { 0 };
			struct kvec iov = { .iov_base = nc->rbuf, .iov_len = RESP_BUF };
			struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from) };

			len = kernel_recvmsg(sock, &msg, &iov, 1, RESP_BUF, MSG_DONTWAIT | MSG_TRUNC);
			if (len < 0)
				break;
			t = match(nc, sock, &from);
			if (t < 0) {
				nc->stats.forged++;
				continue;
			}
			nc->stats.responses++;
			plain = min_t(int, len, RESP_BUF);
			if (nc->auth && ncx_auth_resp_verify(&nc->key, nc->id, nc->rbuf, plain,
							     &plain) != 1) {
				nc->stats.auth_bad++;
				continue;
			}
			ncx_tx_response(nc->tx, t, nc->rbuf, plain, now_us, ncxcon_resend, nc);
		}
		if (n == READS_PER_ROUND)
			*more = true;
	}
}

size_t ncxcon_ack_buf_size(void)
{
	return RESP_BUF;
}
