/* SPDX-License-Identifier: MIT */
/*
 * sink: one worker's hosts and their files. Not thread-safe: each worker
 * has its own. See sink.c for the buffering and error policy.
 */
#ifndef NCXD_SINK_H
#define NCXD_SINK_H

#include "ncxd.h"

/* What one host may hold buffered while its file cannot be written (a full
 * disk): up to this many bytes of pool buffers, at least one buffer. */
#define SINK_HOST_BYTES (64u << 10)
#define SINK_HOST_BUFS 16
/* The periodic flush works in slices of at most this long (the default of
 * struct sink's flush_slice_us): see sink_flush_due(). */
#define SINK_FLUSH_SLICE_US 5000

struct link {
	struct link *prev, *next;
};

/* One host's file: its path, its descriptor, its buffered bytes. Nothing
 * of the network lives here (worker.c and durable.c keep that). */
struct sink_host {
	struct ncx_addr addr;
	int fd;		/* -1 while closed */
	char *path;	/* the file, DIR included; NULL until the first line */
	int64_t path_sec; /* the second path was expanded for */
	struct link all, lru, dirty;
	/* Buffered bytes [head, len) of a stream cut in pool buffers: buf[i]
	 * holds bytes [i x buffer_size, (i + 1) x buffer_size). One buffer
	 * normally; more (up to SINK_HOST_BYTES) only while the file cannot be
	 * written. head: bytes a partial write took already. */
	char *buf[SINK_HOST_BUFS];
	int nbuf;
	size_t head, len;
	uint64_t since_us; /* monotonic: when the oldest line still buffered went in */
	struct ncxd_bucket bucket;
	uint64_t supp_records, supp_bytes;  /* suppressed, not yet written as an event */
	uint64_t pend_drop[NCXD_D_COUNT];   /* dropped, not yet written as an event */
	bool failing;	/* the last write failed (logged once per episode) */
	bool owned;	/* sink_host_new() allocated it: the sink frees it */
	struct ncxd_stats st;
};

struct sink {
	const struct ncxd_config *cfg;
	/* dirty: the hosts holding a buffer, oldest line first (since_us) */
	struct link all, lru, dirty;
	size_t nhosts;
	/* Now, read once per worker round (sink_set_now()): the lines' times,
	 * the paths' dates, the rate limit and the flush deadlines all use it. */
	uint64_t mono_us, real_us;
	uint64_t flush_slice_us; /* sink_flush_due()'s budget per call (real time) */
	uint64_t flush_slices_cut; /* calls that stopped with work left */
	int nopen;
	char *arena;	/* every buffer: one mapping of buffers x buffer_size */
	size_t arena_len;
	char **pool;	/* the free buffers, a stack */
	int nfree;
	int host_bufs;	/* buffers one host may hold: SINK_HOST_BYTES, 1..SINK_HOST_BUFS */
	struct ncxd_line line; /* scratch for one formatted line */
	struct ncxd_stats total;
};

int sink_init(struct sink *s, const struct ncxd_config *cfg);
/* Write every pending event and buffer, close every file. */
void sink_finish(struct sink *s);
/* Free every host and the pool (after sink_finish). */
void sink_free(struct sink *s);

/* The time for everything that follows: monotonic and wall clock, µs. */
void sink_set_now(struct sink *s, uint64_t mono_us, uint64_t real_us);

/* A host in storage the caller owns (the worker keeps it inside its own
 * record of the sender, one allocation and nearby in memory), or allocated
 * here; either way sink_host_gone() or sink_free() takes it off the sink. */
void sink_host_init(struct sink *s, struct sink_host *h, const struct ncx_addr *a);
struct sink_host *sink_host_new(struct sink *s, const struct ncx_addr *a);
/* True if every line handed over for h is in its file, or was dropped and
 * counted: how far the sink got, for whoever must only vouch for what is
 * written (durable.c). */
bool sink_host_settled(const struct sink_host *h);
/* The sender's state expired: write what it has, close, free. */
void sink_host_gone(struct sink *s, struct sink_host *h);

void sink_record(struct sink *s, struct sink_host *h,
		 const struct ncx_ext *rec);
void sink_legacy(struct sink *s, struct sink_host *h,
		 const struct ncx_legacy *g);
void sink_event(struct sink *s, struct sink_host *h, const struct ncxd_event *ev);
/* n records were dropped for reason r: counted now, written as an event. */
void sink_drop(struct sink *s, struct sink_host *h, enum ncxd_drop r, uint64_t n);

/* Everything h has buffered, and the events it owes, to its file: 0, or
 * -errno with what was not written still buffered. */
int sink_flush_host(struct sink *s, struct sink_host *h);
/* Every buffer to its file, idle buffers back to the pool. */
void sink_flush_all(struct sink *s);
/* The periodic flush: each buffer whose oldest line went in flush_ms ago or
 * more (at s->mono_us) to its file; one that fails is tried again flush_ms
 * later. Stops after flush_slice_us of real time with work left (at least
 * one host per call): sink_next_due() then says "now", and the worker
 * reads its sockets before it goes on. */
void sink_flush_due(struct sink *s);
/* When sink_flush_due() next has work (monotonic µs); UINT64_MAX: none. */
uint64_t sink_next_due(const struct sink *s);
/* SIGHUP: flush, then close every file; the next write opens it again. */
void sink_reopen(struct sink *s);

#endif
