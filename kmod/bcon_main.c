// SPDX-License-Identifier: GPL-2.0
/*
 * ncxbcon: the block console (ncxbcon.h says how the parts fit; docs/bcon.md
 * is the operator's guide). Loaded with what `ncx bcon init` prints:
 *
 *   insmod ncxbcon.ko dev=MAJ:MIN id=HEX tile=BYTES extents=SECTOR+COUNT,...
 *
 * At load it reads every tile's header through the device, refuses to load
 * unless each one is this file's (so a wrong dev= or extents= writes
 * nothing), and starts after the newest tile holding text. Records reach
 * the disk from a kthread: the console's write only queues an irq_work that
 * wakes it, and records above the console loglevel are found by looking
 * every 100 ms. Full blocks are written at once, a partial one after a
 * second with nothing new. Memory is fixed at load: two tile-sized buffers
 * and two scratch areas.
 */
#include <linux/console.h>
#include <linux/delay.h>
#include <linux/kmsg_dump.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/ktime.h>

#include "ncxbcon.h"

#define POLL_JIFFIES (HZ / 10)
#define QUIET_NS NSEC_PER_SEC
#define RECORDS_PER_ROUND 64
#define ERROR_PAUSE_MS 1000

static struct bcon bcon;

static char *dev;
module_param(dev, charp, 0444);
MODULE_PARM_DESC(dev, "the block device holding the file, MAJ:MIN (ncx bcon init prints it)");
static char *id;
module_param(id, charp, 0444);
MODULE_PARM_DESC(id, "the file's id, hex (ncx bcon init prints it)");
static unsigned int tile = NCX_BCON_TILE_DEFAULT;
module_param(tile, uint, 0444);
MODULE_PARM_DESC(tile, "the tile size in bytes (ncx bcon init prints it)");
static char *extents;
module_param(extents, charp, 0444);
MODULE_PARM_DESC(extents, "the file's extents on dev, in file order: SECTOR+COUNT,... (512-byte sectors)");

/* ---- the kthread ------------------------------------------------------- */

/*
 * One round: records into the tile, then what of it should be on disk and
 * is not, written from a copy (iobuf) outside the lock. Returns true if
 * there is more to do at once.
 */
static bool bcon_round(struct bcon *b, bool final)
{
	size_t from, to, len;
	unsigned long flags;
	bool more, fresh, quiet;
	u64 pos;
	int rc;

	spin_lock_irqsave(&b->lock, flags);
	if (atomic_read(&b->panicking)) {
		spin_unlock_irqrestore(&b->lock, flags);
		return false;
	}
	if (b->full && !b->fresh && b->disk >= b->len)
		bcon_tile_start(b, b->pos + 1);
	more = bcon_tile_fill(b, b->work, RECORDS_PER_ROUND);
	quiet = final || b->full || ktime_get_mono_fast_ns() - b->last_text_ns >= QUIET_NS;
	pos = b->pos;
	len = b->len;
	fresh = b->fresh;
	from = fresh ? 0 : round_down(b->disk, b->lbs);
	to = quiet ? round_up(len, b->lbs) : round_down(len, b->lbs);
	if (fresh)
		to = b->tile;	/* the header, and zeros over the last wrap's text */
	if (to > from)
		memcpy(b->iobuf + from, b->tbuf + from, to - from);
	spin_unlock_irqrestore(&b->lock, flags);
	if (to <= from)
		return more;

	if (fresh) {
		/* The text area first: a header on disk means the zeros are too. */
		rc = bcon_write(b, pos, b->lbs, to);
		if (!rc)
			rc = bcon_write(b, pos, 0, b->lbs);
	} else {
		rc = bcon_write(b, pos, from, to);
	}
	spin_lock_irqsave(&b->lock, flags);
	if (rc) {
		b->stats.write_errors++;
	} else {
		b->stats.writes++;
		if (b->pos == pos) {
			b->disk = max(b->disk, min(len, to));
			if (fresh)
				b->fresh = false;
		}
	}
	spin_unlock_irqrestore(&b->lock, flags);
	if (rc) {
		pr_err_ratelimited("ncxbcon: write to tile %llu failed (%d); trying again\n", pos, rc);
		msleep_interruptible(ERROR_PAUSE_MS);
		return false;
	}
	return more || b->full;
}

static int bcon_thread(void *arg)
{
	struct bcon *b = arg;

	while (!kthread_should_stop()) {
		if (bcon_round(b, false)) {
			cond_resched();
			continue;
		}
		wait_event_interruptible_timeout(b->wq,
						 atomic_xchg(&b->kicked, 0) || kthread_should_stop(),
						 POLL_JIFFIES);
	}
	/* Unloading: everything, the partial block included. */
	while (bcon_round(b, true))
		;
	return 0;
}

static void kick_work(struct irq_work *w)
{
	struct bcon *b = container_of(w, struct bcon, kick_work);

	atomic_set(&b->kicked, 1);
	wake_up(&b->wq);
}

/* ---- the console ------------------------------------------------------- */

static void console_write(struct console *con, const char *s, unsigned int len)
{
	if (atomic_read(&bcon.panicking))
		bcon_panic_flush(&bcon);
	else
		irq_work_queue(&bcon.kick_work);
}

static struct console bcon_console = {
	.name = "ncxbcon",
	.flags = CON_ENABLED,	/* enabled without console=, as netconsole */
	.write = console_write,
	.index = -1,
};

/* ---- status ------------------------------------------------------------ */

static int status_get(char *buf, const struct kernel_param *kp)
{
	struct bcon *b = &bcon;
	struct bcon_stats st;
	unsigned long flags;
	u64 pos, next;
	size_t len, disk;

	if (!b->tbuf)
		return scnprintf(buf, PAGE_SIZE, "loaded 0\n");
	spin_lock_irqsave(&b->lock, flags);
	st = b->stats;
	pos = b->pos;
	next = b->next_seq;
	len = b->len;
	disk = b->disk;
	spin_unlock_irqrestore(&b->lock, flags);
	return scnprintf(buf, PAGE_SIZE,
			 "loaded 1\ntiles %u\ntile %u\npos %llu\nwrap %llu\nlen %zu\ndisk %zu\n"
			 "next %llu\nrecords %llu\nlines %llu\nlost %llu\ntruncated %llu\n"
			 "tiles_started %llu\nwrites %llu\nwrite_errors %llu\npanic_poll %d\n"
			 "panic_flushes %llu\npanic_writes %llu\npanic_errors %llu\n"
			 "panic_timeouts %llu\npanic_busted %llu\n",
			 b->ntiles, b->tile, pos, div_u64(pos, b->ntiles), len, disk, next,
			 st.records, st.lines, st.lost, st.truncated, st.tiles, st.writes,
			 st.write_errors, b->can_poll, st.panic_flushes, st.panic_writes,
			 st.panic_errors, st.panic_timeouts, st.panic_busted);
}

static const struct kernel_param_ops status_ops = {
	.get = status_get,
};

module_param_cb(status, &status_ops, NULL, 0444);
MODULE_PARM_DESC(status, "counters and where it writes (read only)");

/* ---- load and unload --------------------------------------------------- */

static int parse_params(struct bcon *b)
{
	unsigned int maj, min, n = 0;
	u64 file = 0, per_tile;
	char *p = extents;
	int used;

	if (!dev || sscanf(dev, "%u:%u%n", &maj, &min, &used) != 2 || dev[used]) {
		pr_err("ncxbcon: dev= MAJ:MIN is needed (ncx bcon init prints it)\n");
		return -EINVAL;
	}
	b->devt = MKDEV(maj, min);
	if (!id || kstrtou64(id, 16, &b->id) || !b->id) {
		pr_err("ncxbcon: id= the file's id in hex is needed (ncx bcon init prints it)\n");
		return -EINVAL;
	}
	if (tile < NCX_BCON_TILE_MIN || tile > NCX_BCON_TILE_MAX || (tile & (tile - 1))) {
		pr_err("ncxbcon: tile=%u: a power of two from %u to %u\n", tile,
		       NCX_BCON_TILE_MIN, NCX_BCON_TILE_MAX);
		return -EINVAL;
	}
	b->tile = tile;
	per_tile = tile >> SECTOR_SHIFT;
	while (p && *p) {
		unsigned long long s, c;

		if (n == BCON_EXTENTS_MAX || sscanf(p, "%llu+%llu%n", &s, &c, &used) != 2 ||
		    (p[used] && p[used] != ',') || !c || c % per_tile) {
			pr_err("ncxbcon: extents= at \"%.32s\": SECTOR+COUNT,..., each COUNT a multiple of the tile's %llu sectors, at most %d\n",
			       p, per_tile, BCON_EXTENTS_MAX);
			return -EINVAL;
		}
		b->ext[n].dev = s;
		b->ext[n].file = file;
		b->ext[n].len = c;
		file += c;
		n++;
		p += used + (p[used] == ',');
	}
	b->nextents = n;
	if (div64_u64(file, per_tile) < NCX_BCON_TILES_MIN ||
	    div64_u64(file, per_tile) > U32_MAX) {
		pr_err("ncxbcon: extents= must cover at least %d tiles\n", NCX_BCON_TILES_MIN);
		return -EINVAL;
	}
	b->ntiles = div64_u64(file, per_tile);
	return 0;
}

/* Every tile's header must be this file's; the newest with text is found. */
static int scan(struct bcon *b, u64 *start)
{
	unsigned int rlen = max_t(unsigned int, b->lbs, NCX_BCON_TILE_MIN);
	bool any = false;
	u64 newest = 0, pos;
	u32 slot;
	int rc;

	for (slot = 0; slot < b->ntiles; slot++) {
		sector_t s = bcon_sector(b, slot, 0);

		rc = bcon_read_block(b, s, rlen);
		if (rc) {
			pr_err("ncxbcon: reading tile %u at sector %llu failed (%d)\n", slot,
			       (unsigned long long)s, rc);
			return rc;
		}
		memcpy(b->work->line, b->iobuf, NCX_BCON_HDR);
		b->work->line[NCX_BCON_HDR] = '\0';
		rc = bcon_hdr_check(b, b->work->line, slot, &pos);
		if (rc < 0) {
			pr_err("ncxbcon: tile %u at sector %llu of %u:%u is not file %016llx's: wrong dev= or extents=? Nothing written.\n",
			       slot, (unsigned long long)s, MAJOR(b->devt), MINOR(b->devt), b->id);
			return -EINVAL;
		}
		if (!rc && b->iobuf[NCX_BCON_HDR] && (!any || pos > newest)) {
			newest = pos;
			any = true;
		}
	}
	*start = any ? newest + 1 : 0;
	return 0;
}

static void bcon_free(struct bcon *b)
{
	bcon_dev_close(b);
	if (b->tpage)
		__free_pages(b->tpage, get_order(b->tile));
	if (b->iopage)
		__free_pages(b->iopage, get_order(b->tile));
	b->tpage = NULL;
	b->iopage = NULL;
	b->tbuf = NULL;
	kfree(b->work);
	kfree(b->panic);
}

static int __init bcon_init(void)
{
	struct bcon *b = &bcon;
	struct kmsg_dump_iter it;
	unsigned int i;
	u64 start;
	int rc;

	rc = parse_params(b);
	if (rc)
		return rc;
	spin_lock_init(&b->lock);
	init_waitqueue_head(&b->wq);
	init_irq_work(&b->kick_work, kick_work);
	b->boot = get_random_u32();
	b->tpage = alloc_pages(GFP_KERNEL | __GFP_ZERO, get_order(b->tile));
	b->iopage = alloc_pages(GFP_KERNEL | __GFP_ZERO, get_order(b->tile));
	b->work = kzalloc(sizeof(*b->work), GFP_KERNEL);
	b->panic = kzalloc(sizeof(*b->panic), GFP_KERNEL);
	rc = -ENOMEM;
	if (!b->tpage || !b->iopage || !b->work || !b->panic)
		goto fail;
	b->iobuf = page_address(b->iopage);

	rc = bcon_dev_open(b);
	if (rc) {
		pr_err("ncxbcon: cannot open block device %u:%u for writing (%d)\n",
		       MAJOR(b->devt), MINOR(b->devt), rc);
		b->bdev_handle = NULL;
		goto fail;
	}
	rc = -EINVAL;
	if (b->lbs > NCX_BCON_TILE_MIN || b->tile % b->lbs) {
		pr_err("ncxbcon: the device's %u-byte blocks do not divide a tile\n", b->lbs);
		goto fail;
	}
	for (i = 0; i < b->nextents; i++) {
		if ((b->ext[i].dev << SECTOR_SHIFT) % b->lbs ||
		    b->ext[i].dev + b->ext[i].len > bdev_nr_sectors(b->bdev)) {
			pr_err("ncxbcon: extent %u (sector %llu) is not aligned to the device's blocks or is past its end\n",
			       i + 1, (unsigned long long)b->ext[i].dev);
			goto fail;
		}
	}
	rc = scan(b, &start);
	if (rc)
		goto fail;
	b->tbuf = page_address(b->tpage);
	bcon_tile_start(b, start);
	kmsg_dump_rewind(&it);
	b->next_seq = it.cur_seq;

	rc = bcon_cpu_start();
	if (rc)
		pr_warn("ncxbcon: no console tracepoint (%d): the CPU of each record shows as C?\n",
			rc);
	b->thread = kthread_run(bcon_thread, b, "ncxbcon");
	if (IS_ERR(b->thread)) {
		rc = PTR_ERR(b->thread);
		b->thread = NULL;
		goto cpu;
	}
	rc = bcon_panic_register(b);
	if (rc)
		goto thread;
	register_console(&bcon_console);
	pr_info("ncxbcon: writing to %u:%u, %u tiles of %u bytes, from tile %llu; at panic %s\n",
		MAJOR(b->devt), MINOR(b->devt), b->ntiles, b->tile, start,
		b->can_poll ? "polled writes" :
		"one unconfirmed write (the device has no poll queue: docs/bcon.md)");
	return 0;
thread:
	kthread_stop(b->thread);
cpu:
	bcon_cpu_stop();
fail:
	b->tbuf = NULL;
	bcon_free(b);
	return rc;
}

static void __exit bcon_exit(void)
{
	struct bcon *b = &bcon;

	unregister_console(&bcon_console);
	irq_work_sync(&b->kick_work);
	bcon_panic_unregister(b);
	kthread_stop(b->thread);
	bcon_cpu_stop();
	bcon_free(b);
}

module_init(bcon_init);
module_exit(bcon_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ncxbcon: the kernel's log written to the blocks of a preallocated file");
MODULE_VERSION(NCXCON_VERSION);
