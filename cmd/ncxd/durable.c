/* SPDX-License-Identifier: MIT */
/*
 * durable: acks only for what is written, positions kept across restarts.
 * See durable.h.
 */
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <ncx/log.h>

#include "durable.h"

#define NOT_SAVED UINT64_MAX

void durable_init(struct durable_set *ds, struct ncxd_state *st, struct sink *sink)
{
	memset(ds, 0, sizeof(*ds));
	ds->st = st;
	ds->sink = sink;
}

void durable_attach(struct durable *d, struct sink_host *file)
{
	memset(d, 0, sizeof(*d));
	d->saved = NOT_SAVED;
	d->file = file;
}

static void list_add(struct durable_set *ds, struct durable *d)
{
	if (d->unsaved)
		return;
	d->unsaved = true;
	d->prev = NULL;
	d->next = ds->unsaved;
	if (ds->unsaved)
		ds->unsaved->prev = d;
	ds->unsaved = d;
}

static void list_del(struct durable_set *ds, struct durable *d)
{
	if (!d->unsaved)
		return;
	if (d->prev)
		d->prev->next = d->next;
	else
		ds->unsaved = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->unsaved = false;
	d->prev = d->next = NULL;
}

static void set_pos(struct durable_set *ds, struct durable *d, uint64_t pos, uint64_t ts)
{
	d->pos = pos;
	d->pos_ts = ts;
	d->has_pos = true;
	if (d->slot && pos != d->saved)
		list_add(ds, d);
}

/* A reliable sender's first record gets it a state slot, if there is room. */
static void claim(struct durable_set *ds, struct durable *d, const struct ncx_addr *from,
		  uint64_t seq)
{
	if (d->slot || d->no_slot || !ds->st || !ds->st->f)
		return;
	d->slot = ncxd_state_claim(ds->st, from, seq, ds->sink->real_us / 1000000u);
	d->no_slot = !d->slot;
	/* Said once per worker; the count is in the metrics (state_full). */
	if (!d->slot && !ds->full_said) {
		ds->full_said = true;
		ncx_warn("state table full: reliable senders without a slot get no resume point "
			 "after a restart (counted in the metrics from now on)\n");
	}
}

void durable_record(struct durable_set *ds, struct durable *d, const struct ncx_addr *from,
		    bool reliable, uint64_t id, uint64_t pos, uint64_t ts)
{
	if (d->id != id) {
		d->id = id; /* a named stream took over the unnamed one (rx.h) */
		if (d->slot)
			list_add(ds, d);
	}
	if (reliable)
		claim(ds, d, from, pos - 1);
	set_pos(ds, d, pos, ts);
}

void durable_moved(struct durable_set *ds, struct durable *d, uint64_t pos, uint64_t ts)
{
	set_pos(ds, d, pos, ts);
}

static void send_queued(struct durable_set *ds)
{
	for (int i = 0; i < ds->nq; i++) {
		struct durable_reply *r = &ds->q[i];
		struct sockaddr_storage ss;
		socklen_t len;

		/* Acked means written. The first response of a file in the
		 * queue flushes it; a file that fails holds back all of its. */
		if (sink_flush_host(ds->sink, r->d->file) < 0) {
			ds->held_back++;
			continue;
		}
		len = ncx_addr_to_sockaddr(&r->to, &ss);
		/* A lost response is recovered by the protocol's timers: no retry. */
		(void)sendto(r->fd, r->data, r->len, MSG_DONTWAIT, (struct sockaddr *)&ss, len);
		ds->sent++;
	}
	ds->nq = 0;
}

void durable_reply(struct durable_set *ds, struct durable *d, int fd, const struct ncx_addr *to,
		   const void *p, size_t len)
{
	struct durable_reply *r;

	if (fd < 0 || len > sizeof(r->data))
		return;
	if (ds->nq == DURABLE_QUEUE)
		send_queued(ds);
	r = &ds->q[ds->nq++];
	r->d = d;
	r->fd = fd;
	r->to = *to;
	r->len = (uint16_t)len;
	memcpy(r->data, p, len);
}

void durable_round_end(struct durable_set *ds)
{
	struct durable *d, *next;
	uint64_t now_s = ds->sink->real_us / 1000000u;

	send_queued(ds);
	for (d = ds->unsaved; d; d = next) {
		next = d->next;
		if (!sink_host_settled(d->file))
			continue;
		ncxd_state_put(d->slot, d->id, d->pos, d->pos_ts, now_s);
		d->saved = d->pos;
		list_del(ds, d);
	}
}

void durable_forget(struct durable_set *ds, struct durable *d, bool keep_slot)
{
	/* A reply still queued for it goes nowhere: its file is about to go. */
	for (int i = 0; i < ds->nq; i++)
		if (ds->q[i].d == d)
			ds->q[i--] = ds->q[--ds->nq];
	/* Its file is written by now (sink_host_gone() comes next and writes
	 * what is left): an evicted sender's settled position is saved. */
	if (keep_slot && d->slot && d->unsaved && sink_host_settled(d->file))
		ncxd_state_put(d->slot, d->id, d->pos, d->pos_ts, ds->sink->real_us / 1000000u);
	list_del(ds, d);
	/* Silent for --idle: it holds nothing unacked, so there is nothing to
	 * resume; a new boot must not be taken for resends of the old one. */
	if (d->slot && !keep_slot)
		ncxd_state_forget(d->slot);
	d->slot = NULL;
}

bool durable_resume(struct ncxd_state *st, const struct ncx_addr *from, uint64_t id,
		    struct ncx_rx_resume *out)
{
	struct ncxd_state_slot *sl = ncxd_state_find(st, from);

	/* Another stream's point is not this one's: a new run or boot. */
	if (!sl || ncxd_state_id(sl) != id)
		return false;
	out->next = ncxd_state_next(sl);
	out->last_ts = ncxd_state_ts(sl);
	return true;
}
