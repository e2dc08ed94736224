// SPDX-License-Identifier: GPL-2.0
/*
 * The panic path. Nothing can be received any more (netpoll does not
 * receive, and no softirq will run), so what cannot be acked is repeated:
 * every record a target has not acked, and every record printed after that
 * until the machine stops, is sent panic_repeat times (default 16). With
 * independent loss p per datagram a record of k datagrams is lost with
 * probability at most k * p^16: at 50% loss 1.5e-5 per datagram, so 8e-5 for
 * the largest record the kernel makes (5 datagrams), under the 0.1% the
 * design asks for.
 *
 * Order of work (docs/kmod.md says why each step is safe):
 *  1. panic() has printed "Kernel panic - not syncing" and stopped the other
 *     CPUs; then it calls the panic notifiers, ours among the first.
 *  2. ncxcon_panic_notify(): set panicking (from now on the console sends
 *     instead of kicking the kthread), then send every record from the oldest
 *     one any target has not acked to the newest, in panic_repeat passes
 *     over the whole range (repeats far apart in time survive a burst of
 *     loss better than repeats back to back).
 *  3. Every later record (kmsg dumpers, "Rebooting in N seconds", the end
 *     line) reaches our console's write, on the panicking CPU:
 *     ncxcon_panic_console() sends it panic_repeat times.
 * The path reads records with kmsg_dump_get_line() (lockless), formats them
 * in scratch memory of its own (a stopped CPU may have been using the
 * kthread's), allocates nothing itself, and takes no lock it could wait on:
 * xmit_lock only by trylock (xmit.c). netpoll allocates an skb per datagram
 * with GFP_ATOMIC, falling back to its own pool, as for netconsole. Before
 * each datagram it waits, bounded, for room in the device (xmit.c,
 * panic_room()): netpoll's fallback, a queue for a work item, never drains
 * once the machine is dying.
 */
#include <linux/notifier.h>
#include <linux/panic_notifier.h>

#include "ncxcon.h"

/* Send records from *seq to the newest, repeat times each; *seq ends past
 * the newest. Passes over the whole range: see above.
 */
static void send_range(struct ncxcon *nc, u64 *seq, unsigned int repeat)
{
	struct ncxcon_scratch *s = nc->panic;
	struct ncxcon_record r;
	unsigned int pass;
	u64 from = *seq, q;
	size_t len;

	for (pass = 0; pass < repeat; pass++) {
		for (q = from; !ncxcon_record_read(&q, s, &r); q++) {
			len = ncxcon_record_format(&r, false, nc->id, s);
			nc->stats.panic_datagrams += ncxcon_xmit(nc, -1, s, len);
			if (!pass)
				nc->stats.panic_records++;
			*seq = q + 1;
		}
	}
}

/* The oldest seq some target has not acked (nothing sent yet: next_seq). */
static u64 oldest_unacked(struct ncxcon *nc)
{
	u64 from = nc->next_seq, u;
	unsigned int t;

	if (!nc->started)
		return from;
	for (t = 0; t < nc->ntargets; t++) {
		u = ncx_tx_unacked(nc->tx, t);
		if (u <= nc->next_seq && nc->next_seq - u < from)
			from = nc->next_seq - u;
	}
	return from;
}

static int ncxcon_panic_notify(struct notifier_block *nb, unsigned long event, void *msg)
{
	struct ncxcon *nc = container_of(nb, struct ncxcon, panic_nb);

	if (!READ_ONCE(nc->live) || atomic_xchg(&nc->panicking, 1))
		return NOTIFY_DONE;
	nc->panic_next = oldest_unacked(nc);
	send_range(nc, &nc->panic_next, READ_ONCE(nc->panic_repeat));
	return NOTIFY_DONE;
}

/* Our console's write while panicking: what was printed since. */
void ncxcon_panic_console(struct ncxcon *nc)
{
	if (READ_ONCE(nc->live))
		send_range(nc, &nc->panic_next, READ_ONCE(nc->panic_repeat));
}

int ncxcon_panic_register(struct ncxcon *nc)
{
	nc->panic_nb.notifier_call = ncxcon_panic_notify;
	/* Before notifiers that may hang or reset the machine. */
	nc->panic_nb.priority = INT_MAX - 1;
	return atomic_notifier_chain_register(&panic_notifier_list, &nc->panic_nb);
}

void ncxcon_panic_unregister(struct ncxcon *nc)
{
	atomic_notifier_chain_unregister(&panic_notifier_list, &nc->panic_nb);
}
