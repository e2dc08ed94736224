// SPDX-License-Identifier: GPL-2.0
/*
 * The block device: opened by its number (not exclusively: its filesystem
 * holds it), and written with bios we own (struct bio and bio_vec inside
 * struct bcon, pages allocated at load), so no write allocates. The kthread
 * waits for its bios (submit_bio_wait); the panic path polls for its own
 * (bcon_panic.c says why and what can defeat it).
 *
 * Two kernel interfaces changed between the kernels supported (Kbuild looks
 * at the headers and says which): opening a block device (blkdev_get_by_dev()
 * on 6.1; a struct file from bdev_file_open_by_dev() from 6.9 on: the 6.5-6.8
 * interfaces in between are not supported), and how a queue says it can poll
 * (a queue flag on 6.1; BLK_FEAT_POLL from 6.11 on).
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/ktime.h>

#include "ncxbcon.h"

#define PANIC_POLL_NS (2 * NSEC_PER_SEC)	/* a polled write that takes longer is given up */
#define PANIC_UNPOLLED_NS (200 * NSEC_PER_MSEC)
#define PANIC_TRIES 8

int bcon_dev_open(struct bcon *b)
{
	struct request_queue *q;

#ifdef NCXBCON_BDEV_FILE
	struct file *f = bdev_file_open_by_dev(b->devt, BLK_OPEN_READ | BLK_OPEN_WRITE, NULL, NULL);

	if (IS_ERR(f))
		return PTR_ERR(f);
	b->bdev_handle = f;
	b->bdev = file_bdev(f);
#else
	b->bdev = blkdev_get_by_dev(b->devt, FMODE_READ | FMODE_WRITE, NULL);
	if (IS_ERR(b->bdev))
		return PTR_ERR(b->bdev);
	b->bdev_handle = b->bdev;
#endif
	b->lbs = bdev_logical_block_size(b->bdev);
	q = bdev_get_queue(b->bdev);
#ifdef NCXBCON_FEAT_POLL
	b->can_poll = q->limits.features & BLK_FEAT_POLL;
#else
	b->can_poll = test_bit(QUEUE_FLAG_POLL, &q->queue_flags);
#endif
	return 0;
}

void bcon_dev_close(struct bcon *b)
{
	if (!b->bdev_handle)
		return;
#ifdef NCXBCON_BDEV_FILE
	fput(b->bdev_handle);
#else
	blkdev_put(b->bdev, FMODE_READ | FMODE_WRITE);
#endif
	b->bdev_handle = NULL;
	b->bdev = NULL;
}

/* Bytes from..to of the buffer whose first page is base. */
static void bcon_add_pages(struct bio *bio, struct page *base, size_t from, size_t to)
{
	while (from < to) {
		size_t off = offset_in_page(from);
		size_t n = min_t(size_t, PAGE_SIZE - off, to - from);

		__bio_add_page(bio, base + (from >> PAGE_SHIFT), n, off);
		from += n;
	}
}

/* Read len bytes at sector into the start of iobuf (at load). */
int bcon_read_block(struct bcon *b, sector_t sector, unsigned int len)
{
	int rc;

	bio_init(&b->kbio, b->bdev, b->kvec, BCON_VECS, REQ_OP_READ);
	b->kbio.bi_iter.bi_sector = sector;
	bcon_add_pages(&b->kbio, b->iopage, 0, len);
	rc = submit_bio_wait(&b->kbio);
	bio_uninit(&b->kbio);
	return rc;
}

/* Bytes from..to of tile pos, from iobuf (the same offsets), waited on. */
int bcon_write(struct bcon *b, u64 pos, size_t from, size_t to)
{
	int rc;

	bio_init(&b->kbio, b->bdev, b->kvec, BCON_VECS, REQ_OP_WRITE | REQ_SYNC | REQ_IDLE);
	b->kbio.bi_iter.bi_sector = bcon_sector(b, pos, from);
	bcon_add_pages(&b->kbio, b->iopage, from, to);
	rc = submit_bio_wait(&b->kbio);
	bio_uninit(&b->kbio);
	return rc;
}

static void panic_end_io(struct bio *bio)
{
	struct bcon *b = bio->bi_private;

	b->pstatus = bio->bi_status;
	WRITE_ONCE(b->pdone, 1);
}

/*
 * At panic: bytes from..to of tile pos, straight from tbuf. With a poll
 * queue the bio goes to it and we poll it to completion (interrupts are
 * off: its completion would never be delivered otherwise); without one it
 * is submitted and, unseen, given up on after a moment: -ETIMEDOUT, and the
 * bio stays the device's, so no later panic write is tried.
 */
static int write_panic_once(struct bcon *b, u64 pos, size_t from, size_t to)
{
	blk_opf_t opf = REQ_OP_WRITE | REQ_SYNC | REQ_IDLE;
	struct blk_plug *plug = current->plug;
	struct bio_list *bl = current->bio_list;
	u64 deadline;
	int rc = 0;

	if (b->can_poll)
		opf |= REQ_POLLED | REQ_NOWAIT;
	bio_init(&b->pbio, b->bdev, b->pvec, BCON_VECS, opf);
	b->pbio.bi_iter.bi_sector = bcon_sector(b, pos, from);
	b->pbio.bi_end_io = panic_end_io;
	b->pbio.bi_private = b;
	bcon_add_pages(&b->pbio, b->tpage, from, to);
	b->pdone = 0;
	/* Straight to the driver: not into a plug or the bio list of whatever
	 * the panicking task was doing, which nothing would ever flush.
	 */
	current->plug = NULL;
	current->bio_list = NULL;
	submit_bio(&b->pbio);
	deadline = ktime_get_mono_fast_ns() + (b->can_poll ? PANIC_POLL_NS : PANIC_UNPOLLED_NS);
	while (!READ_ONCE(b->pdone)) {
		if (b->can_poll)
			bio_poll(&b->pbio, NULL, 0);
		if (ktime_get_mono_fast_ns() > deadline) {
			b->pbio_busy = true;
			b->stats.panic_timeouts++;
			rc = -ETIMEDOUT;
			break;
		}
		cpu_relax();
	}
	current->plug = plug;
	current->bio_list = bl;
	if (rc)
		return rc;
	bio_uninit(&b->pbio);
	return blk_status_to_errno(b->pstatus);
}

int bcon_write_panic(struct bcon *b, u64 pos, size_t from, size_t to)
{
	int rc, tries = 0;

	if (b->pbio_busy)
		return -EBUSY;
	do {
		/* -EAGAIN: REQ_NOWAIT found no free request; polling frees them. */
		rc = write_panic_once(b, pos, from, to);
	} while (rc == -EAGAIN && b->can_poll && ++tries < PANIC_TRIES);
	if (!rc)
		b->stats.panic_writes++;
	return rc;
}
