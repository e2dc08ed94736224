/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few C library names that lib/wire.c and lib/tx.c use, mapped onto the
 * kernel's own, so that ncxcon speaks the protocol through the very code that
 * ncxd, ncx send and ncx forward use (and that the unit tests and fuzzers
 * cover). Every file in this directory is named after the C header it stands
 * in for and includes only this one.
 */
#ifndef NCX_KMOD_LIBC_H
#define NCX_KMOD_LIBC_H

#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/types.h>

#ifndef UINT16_MAX
#define UINT16_MAX U16_MAX
#endif
#ifndef UINT32_MAX
#define UINT32_MAX U32_MAX
#endif
#ifndef UINT64_MAX
#define UINT64_MAX U64_MAX
#endif

/* Only tx's checkpoint ring is allocated this way, once, when targets are set. */
static inline void *calloc(size_t n, size_t size)
{
	return kvcalloc(n, size, GFP_KERNEL);
}

static inline void free(void *p)
{
	kvfree(p);
}

static inline void qsort(void *base, size_t n, size_t size,
			 int (*cmp)(const void *, const void *))
{
	sort(base, n, size, cmp, NULL);
}

#endif /* NCX_KMOD_LIBC_H */
