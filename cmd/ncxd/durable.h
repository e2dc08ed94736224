/* SPDX-License-Identifier: MIT */
/*
 * durable: what ncxd promises a reliable sender. An ack makes the sender
 * drop its copy, so ncxd acks only what is written; and a restarted ncxd
 * resumes each reliable stream where the last run had written, so nothing
 * is written twice and nothing acked is lost. One owner for both halves:
 *
 *  - responses (acks, retransmission requests) are queued during a worker
 *    round and sent at its end, after one flush of each file they vouch
 *    for (durable_round_end()); a response whose file cannot be written is
 *    not sent (the engine sends another with the next progress, request or
 *    emergency datagram). So a reliable sender costs at most one write per
 *    round it is answered in, not one per response.
 *  - the stream's position (one past the last seq handed to the sink,
 *    written or dropped and reported, with the timestamp of the record
 *    before it) goes to the sender's slot in the state table (state.c)
 *    once the sink says everything handed over is settled, never before.
 *    The next run's resume hook reads it back (durable_resume()).
 */
#ifndef NCXD_DURABLE_H
#define NCXD_DURABLE_H

#include "sink.h"

#define DURABLE_QUEUE 64 /* responses queued per round before an early send */

/* Per reliable sender, inside the worker's record of it. */
struct durable {
	struct ncxd_state_slot *slot; /* NULL until its first reliable record */
	bool no_slot;		      /* the state table had no room: not tried again */
	bool has_pos;
	uint64_t pos, pos_ts;
	uint64_t id;		      /* the stream's name (ncid) the slot records */
	uint64_t saved;		      /* the pos the slot has; UINT64_MAX: none */
	struct durable *prev, *next;  /* on the unsaved list while pos != saved */
	bool unsaved;
	struct sink_host *file;	      /* the sender's file (the sink's) */
};

struct durable_reply {
	struct durable *d;
	int fd;
	struct ncx_addr to;
	uint16_t len;
	char data[NCX_RX_RESPONSE_MAX];
};

/* One per worker. */
struct durable_set {
	struct ncxd_state *st; /* the state table; its f NULL: no resume kept */
	struct sink *sink;
	struct durable *unsaved;
	struct durable_reply q[DURABLE_QUEUE];
	int nq;
	uint64_t sent, held_back; /* responses sent; not sent (their file failed) */
	bool full_said;		  /* the state table's "full" was said */
};

void durable_init(struct durable_set *ds, struct ncxd_state *st, struct sink *sink);
void durable_attach(struct durable *d, struct sink_host *file);

/* A record went to the sink: the stream stands at pos (seq + 1), the
 * record's timestamp ts. reliable: it claims a state slot first. */
void durable_record(struct durable_set *ds, struct durable *d, const struct ncx_addr *from,
		    bool reliable, uint64_t id, uint64_t pos, uint64_t ts);
/* A gap or a new boot moved the position without a record (ts 0: unknown). */
void durable_moved(struct durable_set *ds, struct durable *d, uint64_t pos, uint64_t ts);
/* Queue a response to send at the round's end (sent early if the queue fills). */
void durable_reply(struct durable_set *ds, struct durable *d, int fd, const struct ncx_addr *to,
		   const void *p, size_t len);
/* The round is over: flush the files the queued responses vouch for, send
 * those whose file is written, then save every settled position. */
void durable_round_end(struct durable_set *ds);
/* The sender's state is gone: off every list. Idle (keep_slot false): it
 * holds nothing unacked, so there is nothing to resume and its slot is
 * freed. Evicted to make room (keep_slot): its slot keeps its position. */
void durable_forget(struct durable_set *ds, struct durable *d, bool keep_slot);

/* The resume hook's answer for a sender, from the state table. */
bool durable_resume(struct ncxd_state *st, const struct ncx_addr *from, uint64_t id,
		    struct ncx_rx_resume *out);

#endif
