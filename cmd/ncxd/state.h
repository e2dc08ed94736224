/* SPDX-License-Identifier: MIT */
/* state.c: DIR/.ncxd-state, where each reliable sender's stream stands, across restarts. */
#ifndef NCXD_STATE_H
#define NCXD_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ncx/addr.h>

#define NCXD_STATE_FILE ".ncxd-state"
#define NCXD_STATE_SLOTS 65536u
#define NCXD_STATE_PROBES 256
#define NCXD_STATE_EXPIRE_S (7u * 86400u) /* dropped at startup if not updated for this long */

struct ncxd_state_slot;
struct ncxd_state_file;

struct ncxd_state {
	struct ncxd_state_file *f; /* NULL: no state (ncxd runs without resume) */
	size_t len;
	int lock_fd;
	atomic_uint_least64_t full; /* senders that found no slot */
};

struct ncxd_state_stats {
	bool found;	 /* an earlier table was read */
	int unreadable;	 /* a file was there but could not be used (errno; EBADMSG: not
			  * a table of ours): started afresh */
	uint64_t kept, expired, no_room;
};

/* Build DIR/.ncxd-state afresh from the old one (live, recent entries only)
 * and map it. Single-threaded, before the workers start. Returns 0 or -errno
 * (-EBUSY: another ncxd holds DIR's table). */
int ncxd_state_open(struct ncxd_state *st, const char *dir, uint32_t nslots, uint64_t now_s,
		    struct ncxd_state_stats *ss);
void ncxd_state_close(struct ncxd_state *st);
/* The sender's slot, wherever it is; NULL if it has none. */
struct ncxd_state_slot *ncxd_state_find(struct ncxd_state *st, const struct ncx_addr *a);
/* Its slot, claimed (with next) if it has none; NULL (counted in full) if no room. */
struct ncxd_state_slot *ncxd_state_claim(struct ncxd_state *st, const struct ncx_addr *a,
					 uint64_t next, uint64_t now_s);
uint64_t ncxd_state_next(struct ncxd_state_slot *sl);
/* The sender's own timestamp (ts_usec) of seq next - 1; 0 if unknown. */
uint64_t ncxd_state_ts(struct ncxd_state_slot *sl);
/* Only the owning worker: stream id is written up to next - 1, whose
 * timestamp is ts (0 if unknown). */
void ncxd_state_put(struct ncxd_state_slot *sl, uint64_t id, uint64_t next, uint64_t ts,
		    uint64_t now_s);
/* The stream (ncid) the slot's next belongs to; 0: an unnamed one. */
uint64_t ncxd_state_id(struct ncxd_state_slot *sl);
/* The sender's state expired: its slot may be reused. */
void ncxd_state_forget(struct ncxd_state_slot *sl);

#endif /* NCXD_STATE_H */
