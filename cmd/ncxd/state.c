/* SPDX-License-Identifier: MIT */
/*
 * state: where each reliable sender's stream stands in the files, kept in
 * DIR/.ncxd-state so that a restarted ncxd (even after SIGKILL) resumes
 * every stream where the files end: nothing lost, nothing written twice.
 *
 * The file is a fixed table of slots, an open-addressing hash keyed by
 * (address, port) with a seed of its own (kept in the header, so a lookup
 * works across runs, and random, so no sender can aim at one chain). It is
 * mmap'd MAP_SHARED: an update is a store into the page cache, no syscall,
 * and survives the process being killed (not the machine losing power).
 *
 * Slot states, in the low two bits of `tag` (the rest a generation count,
 * bumped by every claim):
 *
 *   FREE   never used since the table was built; ends a lookup
 *   BUSY   being claimed: a lookup goes past it
 *   LIVE   key and next valid
 *   DEAD   the sender's state expired (--idle): a lookup goes past it, a
 *          claim may take it
 *
 * Workers share the table. A slot is claimed with a compare-and-swap from
 * FREE or DEAD to BUSY of the next generation; its key is then written and
 * the tag set LIVE with release order, read with acquire by lookups
 * (LMM(claim:A) pairs with LMM(find:A)). A dead slot may be claimed again
 * while another worker's lookup reads its key, so a lookup reads the tag
 * again after the key and trusts the key only if the tag is unchanged, as
 * a seqlock reader does (LMM(find:B)). Only the worker that owns the sender
 * (SO_REUSEPORT keeps it on one) writes its `next`, so `next` needs no
 * more than an atomic store.
 * A run with another number of workers may find a sender anywhere: lookups
 * search the whole probe sequence, whoever claimed it.
 *
 * Bounds: NCXD_STATE_SLOTS slots, NCXD_STATE_PROBES probes per lookup. A
 * sender that finds no slot within its probes is counted (`full`) and goes
 * without a resume point. At startup the table is rebuilt into a new file
 * (renamed over the old one): tombstones go, and so do the entries not
 * updated for NCXD_STATE_EXPIRE_S. One ncxd per DIR: the table is locked
 * (flock on DIR/.ncxd-state.lock) for as long as the process lives, and a
 * second ncxd on the same DIR runs without one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

#define MAGIC "ncxdst2\n" /* 2: slots carry the stream id */

enum { FREE = 0, BUSY = 1, LIVE = 2, DEAD = 3 };
#define STATE(tag) ((tag) & 3u)
#define GEN_ONE 4u

struct ncxd_state_slot {
	_Atomic uint32_t tag;
	uint8_t family, pad;
	uint16_t port;
	uint8_t addr[16];
	_Atomic uint64_t next; /* the lowest seq not yet written */
	_Atomic uint64_t ts;   /* the sender's timestamp of seq next - 1; 0 unknown */
	_Atomic uint64_t seen; /* unix seconds of the last update */
	_Atomic uint64_t id;   /* the stream next belongs to (ncid); 0: unnamed */
};

struct ncxd_state_file {
	char magic[8];
	uint32_t slot_size, nslots;
	uint64_t seed;
	uint8_t reserved[40];
	struct ncxd_state_slot slot[];
};

_Static_assert(sizeof(struct ncxd_state_slot) == 56, "the slot is part of the file format");
_Static_assert(sizeof(struct ncxd_state_file) == 64, "the header is part of the file format");

static size_t file_bytes(uint32_t nslots)
{
	return sizeof(struct ncxd_state_file) + (size_t)nslots * sizeof(struct ncxd_state_slot);
}

static bool key_is(const struct ncxd_state_slot *sl, const struct ncx_addr *a)
{
	return sl->family == a->family && sl->port == a->port &&
	       !memcmp(sl->addr, a->addr, sizeof(sl->addr));
}

static uint32_t home(const struct ncxd_state *st, const struct ncx_addr *a)
{
	return (uint32_t)(ncx_addr_hash(a, st->f->seed) & (st->f->nslots - 1));
}

struct ncxd_state_slot *ncxd_state_find(struct ncxd_state *st, const struct ncx_addr *a)
{
	uint32_t mask = st->f->nslots - 1, i = home(st, a);

	for (int p = 0; p < NCXD_STATE_PROBES; p++, i = (i + 1) & mask) {
		struct ncxd_state_slot *sl = &st->f->slot[i];
		/* LMM(find:A): pairs with LMM(claim:A); the key is complete. */
		uint32_t tag = atomic_load_explicit(&sl->tag, memory_order_acquire);
		bool match;

		if (STATE(tag) == FREE)
			return NULL;
		if (STATE(tag) != LIVE)
			continue;
		match = key_is(sl, a);
		/* LMM(find:B): the key read before the tag is read again. */
		atomic_thread_fence(memory_order_acquire);
		if (match && atomic_load_explicit(&sl->tag, memory_order_relaxed) == tag)
			return sl;
	}
	return NULL;
}

/* Take slot sl for a if it is free or dead; false if someone else did. */
static bool claim(struct ncxd_state_slot *sl, const struct ncx_addr *a, uint64_t next,
		  uint64_t now_s)
{
	uint32_t tag = atomic_load_explicit(&sl->tag, memory_order_relaxed);
	uint32_t gen = (tag & ~3u) + GEN_ONE;

	if (STATE(tag) != FREE && STATE(tag) != DEAD)
		return false;
	if (!atomic_compare_exchange_strong(&sl->tag, &tag, gen | BUSY))
		return false;
	sl->family = a->family;
	sl->port = a->port;
	memcpy(sl->addr, a->addr, sizeof(sl->addr));
	atomic_store_explicit(&sl->next, next, memory_order_relaxed);
	atomic_store_explicit(&sl->ts, 0, memory_order_relaxed);
	atomic_store_explicit(&sl->id, 0, memory_order_relaxed);
	atomic_store_explicit(&sl->seen, now_s, memory_order_relaxed);
	/* LMM(claim:A): the key before LIVE; pairs with LMM(find:A). */
	atomic_store_explicit(&sl->tag, gen | LIVE, memory_order_release);
	return true;
}

struct ncxd_state_slot *ncxd_state_claim(struct ncxd_state *st, const struct ncx_addr *a,
					 uint64_t next, uint64_t now_s)
{
	struct ncxd_state_slot *sl = ncxd_state_find(st, a);
	uint32_t mask = st->f->nslots - 1, i = home(st, a);

	if (sl)
		return sl;
	for (int p = 0; p < NCXD_STATE_PROBES; p++, i = (i + 1) & mask)
		if (claim(&st->f->slot[i], a, next, now_s))
			return &st->f->slot[i];
	atomic_fetch_add_explicit(&st->full, 1, memory_order_relaxed);
	return NULL;
}

uint64_t ncxd_state_next(struct ncxd_state_slot *sl)
{
	return atomic_load_explicit(&sl->next, memory_order_relaxed);
}

uint64_t ncxd_state_ts(struct ncxd_state_slot *sl)
{
	return atomic_load_explicit(&sl->ts, memory_order_relaxed);
}

uint64_t ncxd_state_id(struct ncxd_state_slot *sl)
{
	return atomic_load_explicit(&sl->id, memory_order_relaxed);
}

void ncxd_state_put(struct ncxd_state_slot *sl, uint64_t id, uint64_t next, uint64_t ts,
		    uint64_t now_s)
{
	/* Aligned 8-byte stores: a reader after SIGKILL sees each old or new.
	 * ts first: killed in between, the slot pairs an older next with a
	 * later ts, which only makes the new-stream test (worker.c) say no. */
	atomic_store_explicit(&sl->ts, ts, memory_order_relaxed);
	if (atomic_load_explicit(&sl->id, memory_order_relaxed) != id)
		atomic_store_explicit(&sl->id, id, memory_order_relaxed);
	atomic_store_explicit(&sl->next, next, memory_order_relaxed);
	if (atomic_load_explicit(&sl->seen, memory_order_relaxed) != now_s)
		atomic_store_explicit(&sl->seen, now_s, memory_order_relaxed);
}

void ncxd_state_forget(struct ncxd_state_slot *sl)
{
	uint32_t tag = atomic_load_explicit(&sl->tag, memory_order_relaxed);

	atomic_store_explicit(&sl->tag, (tag & ~3u) | DEAD, memory_order_release);
}

/* ---- the file ---------------------------------------------------------- */

/* Map path (read-only) if it is a table of ours; NULL otherwise, with
 * *err 0 (none there), an errno, or EBADMSG (not a table of ours). */
static struct ncxd_state_file *map_old(const char *path, size_t *len, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct ncxd_state_file *f;
	struct stat sb;

	*err = fd < 0 && errno != ENOENT ? errno : 0;
	if (fd < 0)
		return NULL;
	*err = EBADMSG;
	if (fstat(fd, &sb) < 0 || (size_t)sb.st_size < sizeof(*f)) {
		close(fd);
		return NULL;
	}
	f = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (f == MAP_FAILED) {
		*err = errno;
		return NULL;
	}
	*len = (size_t)sb.st_size;
	if (memcmp(f->magic, MAGIC, 8) || f->slot_size != sizeof(struct ncxd_state_slot) ||
	    !f->nslots || (f->nslots & (f->nslots - 1)) || file_bytes(f->nslots) != *len) {
		munmap(f, *len);
		return NULL;
	}
	*err = 0;
	return f;
}

/* A fresh table file at path, mapped read-write; -errno on failure. */
static int map_new(const char *path, uint32_t nslots, struct ncxd_state_file **out)
{
	size_t len = file_bytes(nslots);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	struct ncxd_state_file *f;
	int rc = 0;

	if (fd < 0)
		return -errno;
	/* Blocks now, not a SIGBUS on first touch when the disk is full. */
	if ((rc = posix_fallocate(fd, 0, (off_t)len)) != 0 && rc != EOPNOTSUPP) {
		close(fd);
		return -rc;
	}
	if (rc && ftruncate(fd, (off_t)len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	f = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rc = f == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	memcpy(f->magic, MAGIC, 8);
	f->slot_size = sizeof(struct ncxd_state_slot);
	f->nslots = nslots;
	if (getrandom(&f->seed, sizeof(f->seed), GRND_NONBLOCK) != (ssize_t)sizeof(f->seed))
		f->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	*out = f;
	return 0;
}

/* Copy the old table's live, recent entries into the new one. */
static void carry_over(struct ncxd_state *st, struct ncxd_state_file *old,
		       uint64_t now_s, struct ncxd_state_stats *ss)
{
	for (uint32_t i = 0; i < old->nslots; i++) {
		struct ncxd_state_slot *o = &old->slot[i];
		struct ncx_addr a;

		if (STATE(atomic_load(&o->tag)) != LIVE)
			continue;
		if (now_s > NCXD_STATE_EXPIRE_S && atomic_load(&o->seen) < now_s - NCXD_STATE_EXPIRE_S) {
			ss->expired++;
			continue;
		}
		memset(&a, 0, sizeof(a));
		a.family = o->family;
		a.port = o->port;
		memcpy(a.addr, o->addr, sizeof(a.addr));
		struct ncxd_state_slot *sl = ncxd_state_claim(st, &a, atomic_load(&o->next),
							      atomic_load(&o->seen));

		if (sl) {
			atomic_store(&sl->ts, atomic_load(&o->ts));
			atomic_store(&sl->id, atomic_load(&o->id));
		}
		ss->kept += sl != NULL;
		ss->no_room += sl == NULL;
	}
}

/* The table's lock, held until ncxd_state_close(): -EBUSY if another has it. */
static int lock_dir(struct ncxd_state *st, const char *path)
{
	char lock[4096 + 8];
	int rc;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (st->lock_fd < 0)
		return -errno;
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
	close(st->lock_fd);
	st->lock_fd = -1;
	return rc;
}

int ncxd_state_open(struct ncxd_state *st, const char *dir, uint32_t nslots, uint64_t now_s,
		    struct ncxd_state_stats *ss)
{
	char path[4096], tmp[4096 + 8];
	struct ncxd_state_file *old;
	size_t old_len = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(ss, 0, sizeof(*ss));
	st->lock_fd = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/" NCXD_STATE_FILE, dir) >= sizeof(path))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((rc = lock_dir(st, path)) < 0)
		return rc;
	old = map_old(path, &old_len, &ss->unreadable);
	ss->found = old != NULL;
	if ((rc = map_new(tmp, nslots, &st->f)) < 0) {
		if (old)
			munmap(old, old_len);
		ncxd_state_close(st);
		return rc;
	}
	st->len = file_bytes(nslots);
	if (old) {
		carry_over(st, old, now_s, ss);
		munmap(old, old_len);
	}
	atomic_store(&st->full, 0);
	/* The rebuilt table replaces the old one whole, or not at all. */
	if (rename(tmp, path) < 0) {
		rc = -errno;
		ncxd_state_close(st);
		unlink(tmp);
		return rc;
	}
	return 0;
}

void ncxd_state_close(struct ncxd_state *st)
{
	if (st->f)
		munmap(st->f, st->len);
	st->f = NULL;
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
}
