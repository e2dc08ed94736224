// SPDX-License-Identifier: GPL-2.0
/*
 * The panic path: what is not on disk yet is written before the machine
 * stops, synchronously, on the panicking CPU (docs/bcon.md, "At panic").
 *
 *  1. panic() prints "Kernel panic - not syncing", stops the other CPUs and
 *     calls the panic notifiers with interrupts off; ours marks the module
 *     panicking (the kthread writes nothing from then on) and flushes.
 *  2. Every record printed after that which reaches our console (kmsg
 *     dumpers' lines, "Rebooting in N seconds") flushes again, on the same
 *     CPU.
 *
 * A flush takes the tile lock by trylock, for at most 100 ms (a stopped CPU
 * may hold it: then the tile is taken over as it is), turns every record
 * not yet in the tile into lines, and writes every block of the tile that
 * is not known to be on disk (the kthread's last write may still be in
 * flight: its blocks are written again), tile after tile, with
 * bcon_write_panic(): our own bio, submitted past any plug of the
 * panicking task, polled to completion on the device's poll queue.
 * Nothing is allocated; the block layer takes a request from the poll
 * queue's preallocated tags (REQ_NOWAIT: never waits for one).
 *
 * What defeats it: a device without poll queues (virtio_blk needs
 * poll_queues=1 and two virtqueues, nvme poll_queues=N; others have none):
 * then each write is submitted once and not seen to complete, so only the
 * first flush is tried; a driver lock held by a stopped CPU (the submit
 * spins forever); a device that is itself what failed; the kthread's
 * in-flight write landing after ours on a device that reorders (the older
 * copy of a block would win). When a write fails or times out, the flush
 * stops: what was written stays written, the rest is lost, and the reader
 * shows a gap or a shorter tile.
 */
#include <linux/interrupt.h>
#include <linux/notifier.h>
#include <linux/panic_notifier.h>
#include <linux/ktime.h>

#include "ncxbcon.h"

#define PANIC_LOCK_NS (100 * NSEC_PER_MSEC)

static int in_flush;	/* the panicking CPU only: a write that prints comes back here */

/* Write what of the tile is not on disk: the whole tile if it is fresh
 * (the text area first, then the header: a header on disk means the zeros
 * under it are too).
 */
static int flush_tile(struct bcon *b)
{
	size_t from, to;
	int rc;

	if (b->fresh) {
		rc = bcon_write_panic(b, b->pos, b->lbs, b->tile);
		if (!rc)
			rc = bcon_write_panic(b, b->pos, 0, b->lbs);
	} else {
		from = round_down(b->disk, b->lbs);
		to = round_up(b->len, b->lbs);
		rc = to > from ? bcon_write_panic(b, b->pos, from, to) : 0;
	}
	if (!rc) {
		b->disk = b->len;
		b->fresh = false;
	}
	return rc;
}

void bcon_panic_flush(struct bcon *b)
{
	u64 until = ktime_get_mono_fast_ns() + PANIC_LOCK_NS;
	unsigned long flags;
	bool locked;
	int rc;

	if (in_flush)
		return;
	in_flush = 1;
	local_irq_save(flags);
	while (!(locked = spin_trylock(&b->lock)) && ktime_get_mono_fast_ns() < until)
		cpu_relax();
	if (!locked)
		b->stats.panic_busted++;
	b->stats.panic_flushes++;
	for (;;) {
		bcon_tile_fill(b, b->panic, UINT_MAX);
		rc = flush_tile(b);
		if (rc) {
			b->stats.panic_errors++;
			break;
		}
		if (!b->full)
			break;
		bcon_tile_start(b, b->pos + 1);
	}
	if (locked)
		spin_unlock(&b->lock);
	local_irq_restore(flags);
	in_flush = 0;
}

static int bcon_panic_notify(struct notifier_block *nb, unsigned long event, void *msg)
{
	struct bcon *b = container_of(nb, struct bcon, panic_nb);

	if (atomic_xchg(&b->panicking, 1))
		return NOTIFY_DONE;
	bcon_panic_flush(b);
	return NOTIFY_DONE;
}

int bcon_panic_register(struct bcon *b)
{
	b->panic_nb.notifier_call = bcon_panic_notify;
	/* Early: before notifiers that may hang or reset the machine. */
	b->panic_nb.priority = INT_MAX - 2;
	return atomic_notifier_chain_register(&panic_notifier_list, &b->panic_nb);
}

void bcon_panic_unregister(struct bcon *b)
{
	atomic_notifier_chain_unregister(&panic_notifier_list, &b->panic_nb);
}
