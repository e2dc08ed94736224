// SPDX-License-Identifier: GPL-2.0
/*
 * Sending: records to targets through netpoll, cut into datagrams by
 * lib/wire.c exactly as netconsole cuts them, each tagged by lib/auth.c
 * (ncmac) when auth_key is set, and the callbacks lib/tx.c drives (resend a
 * seq, say a run of seqs is gone).
 *
 * netpoll wants interrupts off; they are off for one datagram at a time, so
 * a long resend round never holds them off for long. xmit_lock keeps a
 * target's netpoll from going away (the device unregistered) in the middle
 * of a send.
 */
#include <linux/delay.h>
#include <linux/netdevice.h>
#include <linux/netpoll.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>

#include "ncxcon.h"

/*
 * At panic nothing runs netpoll's deferred transmit work any more: a datagram
 * that finds the device busy for a whole tick is queued there for good, and
 * every later one behind it (netpoll keeps the order). Under load the device
 * is slow to free its ring, and bursts were cut short that way. So at panic,
 * before each datagram, wait (at most PANIC_ROOM_NS) until the device has
 * room, reclaiming finished buffers as netpoll itself does, and send what
 * netpoll had queued first.
 */
#define PANIC_ROOM_NS (20 * NSEC_PER_MSEC)
#define PANIC_POLL_US 20

static bool dev_busy(struct net_device *dev)
{
	unsigned int i;

	for (i = 0; i < dev->real_num_tx_queues; i++)
		if (netif_xmit_stopped(netdev_get_tx_queue(dev, i)))
			return true;
	return false;
}

/*
 * Would netpoll queue a datagram now instead of sending it? It does when the
 * device is busy for a whole tick, and then queues every later one behind it
 * for a work item that retries every 100 ms: an unbounded queue, and resends
 * that arrive so late the receiver has given up on them. So the kthread
 * sends nothing while this is true: first sends wait (in the kernel's
 * buffer), resends are skipped (the receiver asks again).
 */
static bool netpoll_full(struct netpoll *np)
{
	struct netpoll_info *npinfo = rcu_dereference_raw(np->dev->npinfo);

	return (npinfo && skb_queue_len(&npinfo->txq)) || dev_busy(np->dev);
}

/* Is target t (every target that is up, for -1) too busy to send to? */
bool ncxcon_busy(struct ncxcon *nc, int target)
{
	unsigned long flags;
	unsigned int t;
	bool busy = false;

	spin_lock_irqsave(&nc->xmit_lock, flags);
	for (t = 0; t < nc->ntargets && !busy; t++)
		if ((target < 0 || (unsigned int)target == t) && nc->t[t].up)
			busy = netpoll_full(&nc->t[t].np);
	spin_unlock_irqrestore(&nc->xmit_lock, flags);
	if (busy)
		nc->stats.busy++;
	return busy;
}

static void panic_room(struct netpoll *np)
{
	struct net_device *dev = np->dev;
	struct netpoll_info *npinfo = rcu_dereference_raw(dev->npinfo);
	u64 end = ktime_get_mono_fast_ns() + PANIC_ROOM_NS;
	struct sk_buff *skb;

	while (ktime_get_mono_fast_ns() < end) {
		skb = npinfo ? skb_dequeue(&npinfo->txq) : NULL;
		if (skb) {
			/* Queued again, at the tail, if the device is still busy. */
			netpoll_send_skb(np, skb);
			continue;
		}
		if (!dev_busy(dev))
			return;
		netpoll_poll_dev(dev);
		udelay(PANIC_POLL_US);
	}
}

static void send_dgram(struct ncxcon *nc, struct ncxcon_target *t, const void *d, size_t len)
{
	bool panicking = atomic_read(&nc->panicking);
	unsigned long flags;
	bool locked;

	local_irq_save(flags);
	/* At panic the lock may be held by a CPU that panic stopped: go on
	 * without it, as the only CPU left running.
	 */
	locked = panicking ? spin_trylock(&nc->xmit_lock) : (spin_lock(&nc->xmit_lock), true);
	if (t->up) {
		if (panicking)
			panic_room(&t->np);
		netpoll_send_udp(&t->np, d, len);
		nc->stats.datagrams++;
	}
	if (locked)
		spin_unlock(&nc->xmit_lock);
	local_irq_restore(flags);
}

/* With auth_key set: copy datagram d into buf (NCXCON_DGRAM_MAX bytes) with
 * its ncmac tag; the tagged length, or 0 (cannot happen: buf has room for
 * the tag, and every datagram has a header).
 */
static size_t sign_dgram(struct ncxcon *nc, char *buf, const void *d, size_t len)
{
	long n;

	if (len > NCXCON_DGRAM_MAX)
		return 0;
	memcpy(buf, d, len);
	n = ncx_auth_dgram_sign(&nc->key, buf, len, NCXCON_DGRAM_MAX);
	return n > 0 ? n : 0;
}

struct emit {
	struct ncxcon *nc;
	int target;		/* -1: every target */
	char *buf;		/* NCXCON_DGRAM_MAX bytes for tagging */
	unsigned int n;		/* datagrams (to one target) */
};

/* One datagram (a whole record, or one fragment: each has its own tag). */
static int emit_dgram(void *arg, const void *d, size_t len)
{
	struct emit *e = arg;
	unsigned int t;

	if (e->nc->auth) {
		len = sign_dgram(e->nc, e->buf, d, len);
		if (!len)
			return 0;
		d = e->buf;
	}

	if (e->target >= 0) {
		send_dgram(e->nc, &e->nc->t[e->target], d, len);
	} else {
		for (t = 0; t < e->nc->ntargets; t++)
			send_dgram(e->nc, &e->nc->t[t], d, len);
	}
	e->n++;
	return 0;
}

static int count_dgram(void *arg, const void *d, size_t len)
{
	(*(unsigned int *)arg)++;
	return 0;
}

/* Send the record formatted in s->rec to target (or every target, -1); the
 * datagrams it took (per target).
 */
unsigned int ncxcon_xmit(struct ncxcon *nc, int target, struct ncxcon_scratch *s, size_t len)
{
	struct emit e = { .nc = nc, .target = target, .buf = s->dgram };

	if (ncx_ext_fragment(s->rec, len, emit_dgram, &e))
		return 0;
	return e.n;
}

unsigned int ncxcon_xmit_count(const char *rec, size_t len)
{
	unsigned int n = 0;

	if (ncx_ext_fragment(rec, len, count_dgram, &n))
		return 0;
	return n;
}

/* tx's resend callback: read seq again from the kernel's buffer. 0: gone. */
int ncxcon_resend(void *arg, unsigned int target, u64 seq, u64 cookie, bool emergency)
{
	struct ncxcon *nc = arg;
	struct ncxcon_record r;
	u64 s = seq;
	size_t len;

	if (ncxcon_record_read(&s, nc->work, &r) || s != seq)
		return 0;
	if (ncxcon_busy(nc, target))
		return -EBUSY;
	len = ncxcon_record_format(&r, emergency, nc->id, nc->work);
	return ncxcon_xmit(nc, target, nc->work, len);
}

/* tx's gone callback: one ncgone placeholder (tagged too). */
int ncxcon_send_gone(void *arg, unsigned int target, u64 first, u64 count)
{
	struct ncxcon *nc = arg;
	char d[NCX_WIRE_GONE_MAX + NCX_AUTH_DGRAM_TAG_LEN];
	size_t len = ncx_gone_format(first, count, nc->id, d, NCX_WIRE_GONE_MAX);
	long n;

	if (len > NCX_WIRE_GONE_MAX || ncxcon_busy(nc, target))
		return 0;
	if (nc->auth) {
		n = ncx_auth_dgram_sign(&nc->key, d, len, sizeof(d));
		if (n <= 0)
			return 0;
		len = n;
	}
	send_dgram(nc, &nc->t[target], d, len);
	return 1;
}

/*
 * First sends: up to budget new records from nc->next_seq on, as far as tx
 * lets them go (the stream-start hold, the in-flight cap, pacing). *more is
 * set if records are left that could go now.
 */
void ncxcon_send_new(struct ncxcon *nc, u64 now_us, unsigned int budget, bool *more)
{
	struct ncxcon_record r;
	unsigned int n;
	size_t len;
	u64 seq;

	*more = false;
	while (budget--) {
		if (ncxcon_busy(nc, -1)) {
			nc->held = true;
			return;
		}
		seq = nc->next_seq;
		if (ncxcon_record_read(&seq, nc->work, &r))
			return;
		if (!nc->started) {
			ncx_tx_start(nc->tx, seq);
			nc->started = true;
		}
		len = ncxcon_record_format(&r, false, nc->id, nc->work);
		n = ncxcon_xmit_count(nc->work->rec, len);
		if (!ncx_tx_may_send(nc->tx, n, now_us)) {
			nc->held = true;
			nc->stats.held++;
			return;
		}
		ncxcon_xmit(nc, -1, nc->work, len);
		ncx_tx_sent(nc->tx, seq, seq, n, now_us);
		nc->next_seq = seq + 1;
		nc->stats.records++;
		if (r.truncated)
			nc->stats.truncated++;
	}
	*more = true;
}
