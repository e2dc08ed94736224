// SPDX-License-Identifier: GPL-2.0
/*
 * The CPU each record was logged on. The kernel's log buffer does not keep
 * it (a record's caller id is a task id outside interrupts), so it is taken
 * where it is known: the "console" tracepoint, which vprintk_store() fires
 * on the logging CPU with the record's text, at every level. The probe puts
 * (hash of the text, CPU) into a fixed ring; the kthread (or the panic path)
 * looks a record's text hash up there, in order. It allocates nothing, takes
 * no lock, and is safe in NMI (one atomic increment and one store). A record
 * not found (continuation pieces hash differently; the ring overrun) gets
 * "C?".
 */
#include <linux/atomic.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/tracepoint.h>

#include "ncxbcon.h"

#define RING 16384		/* entries (128 KiB); a power of two */
#define WINDOW 512		/* how far ahead a lookup searches */

static u64 ring[RING];		/* hash << 32 | cpu */
static atomic64_t head;
static u64 cursor;		/* the kthread's or the panic path's: one at a time */
static struct tracepoint *tp;

static void probe(void *data, const char *text, size_t len)
{
	u64 i = atomic64_inc_return(&head) - 1;

	WRITE_ONCE(ring[i & (RING - 1)],
		   ((u64)bcon_cpu_hash(BCON_HASH_INIT, text, len) << 32) | raw_smp_processor_id());
}

int bcon_cpu_lookup(u32 hash)
{
	u64 h = atomic64_read(&head), i;

	if (!tp)
		return -1;
	if (h - cursor > RING)
		cursor = h - RING;
	for (i = cursor; i < h && i < cursor + WINDOW; i++) {
		u64 v = READ_ONCE(ring[i & (RING - 1)]);

		if ((u32)(v >> 32) == hash) {
			cursor = i + 1;
			return (int)(u32)v;
		}
	}
	return -1;
}

static void find(struct tracepoint *t, void *priv)
{
	if (!strcmp(t->name, "console"))
		*(struct tracepoint **)priv = t;
}

int bcon_cpu_start(void)
{
	struct tracepoint *t = NULL;
	int rc;

	for_each_kernel_tracepoint(find, &t);
	if (!t)
		return -ENOENT;
	rc = tracepoint_probe_register(t, probe, NULL);
	if (!rc)
		tp = t;
	return rc;
}

void bcon_cpu_stop(void)
{
	if (!tp)
		return;
	tracepoint_probe_unregister(tp, probe, NULL);
	tracepoint_synchronize_unregister();
	tp = NULL;
}
