/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ncxbcon: the block console. The kernel's log, as text lines, written to the
 * disk blocks of a file `ncx bcon init` prepared, beneath its filesystem.
 * The format is include/ncx/bcon.h's (docs/bcon.md); the parts:
 *
 *   bcon_main.c   parameters, the console, the kthread, load and unload
 *   bcon_tile.c   the current tile in memory: records in, headers, ranges out
 *   bcon_io.c     the block device: opening it, reads and writes (waited on,
 *                 or polled at panic)
 *   bcon_panic.c  the panic path
 *   bcon_cpu.c    the CPU each record was logged on (the console tracepoint)
 */
#ifndef NCXBCON_H
#define NCXBCON_H

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/irq_work.h>
#include <linux/notifier.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "ncx/bcon.h"

#define BCON_EXTENTS_MAX 128
#define BCON_VECS (NCX_BCON_TILE_MAX / PAGE_SIZE)
#define BCON_LINE_MAX 2048	/* one record from kmsg_dump_get_line() */
#define BCON_OUT_MAX 4096	/* that record as our lines */

struct bcon_extent {
	sector_t dev;		/* where it starts on the device */
	u64 file;		/* where it starts in the file, in sectors */
	u64 len;		/* sectors */
};

/* Scratch memory for turning records into lines: one for the kthread, one
 * for the panic path (a stopped CPU may have been in the middle of using
 * the kthread's).
 */
struct bcon_scratch {
	char line[BCON_LINE_MAX];
	char out[BCON_OUT_MAX];
};

struct bcon_stats {
	u64 records, lines, lost, truncated, tiles, writes, write_errors;
	u64 panic_flushes, panic_writes, panic_errors, panic_timeouts, panic_busted;
};

struct bcon {
	/* Set at load. */
	dev_t devt;
	u64 id;
	u32 tile, ntiles, boot;
	unsigned int nextents, lbs;
	struct bcon_extent ext[BCON_EXTENTS_MAX];
	struct block_device *bdev;
	void *bdev_handle;	/* what closes it (a struct file from 6.9 on) */
	bool can_poll;

	/* The tile being written, in memory, and how much of it is on disk.
	 * Under lock (the kthread; the panic path takes it over).
	 */
	spinlock_t lock;
	char *tbuf;		/* tile bytes, page aligned (tpage) */
	struct page *tpage;
	u64 pos;		/* its position in the stream */
	size_t len;		/* bytes of it in use, header included */
	size_t disk;		/* bytes of it known to be on disk */
	bool fresh;		/* started, nothing of it written yet */
	bool full;		/* the next line does not fit */
	u64 next_seq;		/* the next record to turn into lines */
	u64 last_text_ns;	/* when text was last added */

	/* The kthread's copy of what it writes, and its bio. */
	char *iobuf;
	struct page *iopage;
	struct bio kbio;
	struct bio_vec kvec[BCON_VECS];

	/* The panic path's bio. */
	struct bio pbio;
	struct bio_vec pvec[BCON_VECS];
	int pdone;
	blk_status_t pstatus;
	bool pbio_busy;		/* submitted, never seen to complete */

	struct bcon_scratch *work, *panic;
	struct task_struct *thread;
	wait_queue_head_t wq;
	atomic_t kicked;
	struct irq_work kick_work;
	atomic_t panicking;
	struct notifier_block panic_nb;
	struct bcon_stats stats;
};

/* bcon_tile.c */
void bcon_tile_start(struct bcon *b, u64 pos);
bool bcon_tile_fill(struct bcon *b, struct bcon_scratch *s, unsigned int max_records);
int bcon_hdr_check(struct bcon *b, const char *buf, u32 slot, u64 *pos);
sector_t bcon_sector(struct bcon *b, u64 pos, size_t off);

/* bcon_io.c */
int bcon_dev_open(struct bcon *b);
void bcon_dev_close(struct bcon *b);
int bcon_read_block(struct bcon *b, sector_t sector, unsigned int len);
int bcon_write(struct bcon *b, u64 pos, size_t from, size_t to);
int bcon_write_panic(struct bcon *b, u64 pos, size_t from, size_t to);

/* bcon_panic.c */
int bcon_panic_register(struct bcon *b);
void bcon_panic_unregister(struct bcon *b);
void bcon_panic_flush(struct bcon *b);

/* bcon_cpu.c */
int bcon_cpu_start(void);
void bcon_cpu_stop(void);
u32 bcon_cpu_hash(u32 h, const char *s, size_t len);
#define BCON_HASH_INIT 2166136261u
int bcon_cpu_lookup(u32 hash);	/* -1: not known */

#endif
