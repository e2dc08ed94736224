/* SPDX-License-Identifier: MIT */
/*
 * worker: one thread, its own sockets (SO_REUSEPORT: the kernel's 4-tuple
 * hash keeps a sender on one worker), its own rx engine, its own sink and
 * its own durable set. Nothing per host is shared with any other thread
 * but the state table (state.c), where each sender has a slot of its own.
 *
 * A datagram's way: receive_batch() reads a batch (udp.h), each datagram
 * goes into the engine with the socket it came in on as its context, and
 * the engine's events come back to on_event(): records and events to the
 * sink (the host's file), positions and responses to durable.c, which
 * sends the responses at the round's end, once what they ack is written.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sock_diag.h>
#include <ncx/log.h>
#include <ncx/udp.h>

#include "durable.h"
#include "sink.h"

/*
 * After a round that found less than a batch, wait this long before reading
 * again, instead of going straight back to poll(2): under steady traffic a
 * worker would otherwise wake for every datagram or two, and each wake-up
 * (a context switch each way) costs more than everything ncxd does with a
 * record. Meanwhile ~WAIT_US x rate datagrams queue up and come in one
 * recvmmsg; at 50,000 datagrams/s per worker that is ~25, about 0.05% of a
 * 32 MiB socket buffer. Costs at most WAIT_US of latency, far below the
 * 100 ms flush and ack granularity; never longer than the next timer; and
 * not at all while batches come full (then nothing waits).
 */
#define WAIT_US 500

/* What the worker keeps per sender (the engine's user slot points here). */
struct host {
	struct durable dur;
	int reply_fd; /* the socket the sender last reached: responses go out from it */
	/* For the live view: what the stream has been, when it was last heard
	 * from, and its rate over the last interval. */
	unsigned flags;	     /* NCXD_SNAP_* */
	uint64_t last_us;    /* wall clock of the last record */
	uint64_t records;    /* records and legacy datagrams delivered */
	uint64_t rate_recs, rate_us; /* records and monotonic time at the interval's start */
	double rate;
	struct sink_host file; /* the sink's part, kept here: one allocation per sender */
};

struct wstate {
	struct ncxd_worker *w;
	const struct ncxd_config *cfg;
	struct ncx_rx *rx;
	struct sink sink;
	struct durable_set dur;
	struct ncx_udp_batch batch;
	uint64_t real_us; /* wall clock for the lines being written */
	uint64_t mono_us;
	uint64_t denied, socket_drops;
	bool evicted_said;
	uint64_t held_peak; /* the engine's held bytes at their highest since the last give_back() */
	uint32_t ovfl[NCXD_MAX_LISTEN];
	struct ncxd_stats nohost; /* drops the engine reports without a sender */
};

/* Both clocks, once per batch or round: the engine and the sink run on them. */
static void read_clocks(struct wstate *s)
{
	s->mono_us = ncx_now_us();
	s->real_us = ncx_real_us();
	sink_set_now(&s->sink, s->mono_us, s->real_us);
}

/* A tag that fails is a wrong key or a forgery: the operator should hear
 * of it (the log core's per-call-site limit keeps a flood to a few lines). */
static void log_auth_drop(const struct ncx_rx_event *ev)
{
	char a[NCX_ADDR_TEXT_MAX];

	ncx_addr_format(ev->from, true, a, sizeof(a));
	if (ev->drop.reason == NCX_DROP_AUTH_BAD)
		ncx_warn("%s: a datagram with a wrong tag, dropped (its key is not the one "
			 "ncx key derive gives for this address, or it is forged)\n", a);
	else
		ncx_warn("%s: a datagram without a tag, dropped (--require-auth, or its stream "
			 "tags everything)\n", a);
}

static void on_drop(struct wstate *s, struct host *h, const struct ncx_rx_event *ev)
{
	int r = ncxd_drop_from_rx(ev->drop.reason); /* -1: the engine's count is enough */

	if (ev->drop.reason == NCX_DROP_AUTH_BAD || ev->drop.reason == NCX_DROP_AUTH_MISSING)
		log_auth_drop(ev);
	if (r < 0)
		return;
	if (h)
		sink_drop(&s->sink, &h->file, (enum ncxd_drop)r, ev->drop.records);
	else
		s->nohost.drop[r] += ev->drop.records;
}

/* The socket to answer a sender from, for a timer's event before it has
 * reached any: one of its address family. */
static int family_fd(const struct wstate *s, const struct ncx_addr *from)
{
	for (int i = 0; i < s->w->nfds; i++)
		if (s->w->family[i] == from->family)
			return s->w->fds[i];
	return -1;
}

/*
 * The live view on stderr: one line for a new sender, a gap, a reboot and
 * a sender gone idle, through the log core (never blocks: a line is a
 * record in its ring) and so under its per-call-site ratelimit (main.c
 * sets it for ncxd: NCXD_LOG_BURST lines, then NCXD_LOG_SILENCE s of
 * silence, then a count of what was suppressed).
 */
static void log_new_sender(const struct ncx_rx_event *ev)
{
	char a[NCX_ADDR_TEXT_MAX];
	unsigned f = ev->kind == NCX_RX_LEGACY ? NCXD_SNAP_LEGACY :
		     ev->kind == NCX_RX_RECORD ? NCXD_SNAP_EXT : 0;

	if (ev->reliable)
		f |= NCXD_SNAP_RELIABLE;
	ncx_addr_format(ev->from, true, a, sizeof(a));
	ncx_info("new sender %s (%s)\n", a, ncxd_stream_kind(f));
}

static void log_gap(const struct ncx_rx_event *ev)
{
	char a[NCX_ADDR_TEXT_MAX];

	ncx_addr_format(ev->from, true, a, sizeof(a));
	ncx_info("gap from %s: seq %llu..%llu, %llu records %s\n", a,
		 (unsigned long long)ev->gap.first, (unsigned long long)ev->gap.last,
		 (unsigned long long)(ev->gap.last - ev->gap.first + 1),
		 ev->gap.lost ? "lost" : "not received");
}

static void log_reboot(const struct ncx_rx_event *ev)
{
	char a[NCX_ADDR_TEXT_MAX];

	ncx_addr_format(ev->from, true, a, sizeof(a));
	ncx_info("reboot of %s: seq %llu, then a new boot from seq %llu\n", a,
		 (unsigned long long)ev->reboot.prev_seq, (unsigned long long)ev->reboot.seq);
}

static void log_gone(const struct wstate *s, const struct ncx_rx_event *ev,
		     const struct host *h)
{
	char a[NCX_ADDR_TEXT_MAX];

	ncx_addr_format(ev->from, true, a, sizeof(a));
	ncx_info("sender %s gone idle (silent for %llu s): forgotten after %llu records\n", a,
		 (unsigned long long)s->cfg->idle_s, (unsigned long long)h->records);
}

static struct host *host_new(struct wstate *s, const struct ncx_rx_event *ev)
{
	struct host *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	sink_host_init(&s->sink, &h->file, ev->from);
	durable_attach(&h->dur, &h->file);
	h->reply_fd = family_fd(s, ev->from);
	h->rate_us = s->mono_us;
	log_new_sender(ev);
	return h;
}

/* A sender evicted to make room (rx.h): said once per worker, then only
 * counted (ncxd_senders_evicted_total). */
static void log_evicted(struct wstate *s, const struct ncx_rx_event *ev)
{
	char a[NCX_ADDR_TEXT_MAX];

	if (s->evicted_said)
		return;
	s->evicted_said = true;
	ncx_addr_format(ev->from, true, a, sizeof(a));
	ncx_warn("sender table full (--max-senders %llu per worker): %s evicted to make room, "
		 "senders heard only once go first; further evictions are counted in the "
		 "metrics\n", (unsigned long long)s->cfg->max_senders, a);
}

static void host_gone(struct wstate *s, const struct ncx_rx_event *ev, struct host *h)
{
	if (ev->gone.evicted) {
		/* It may well be back: its resume point stays in the state
		 * table, saved once what it was handed is written. */
		log_evicted(s, ev);
		(void)sink_flush_host(&s->sink, &h->file);
		durable_forget(&s->dur, &h->dur, true);
	} else {
		log_gone(s, ev, h);
		durable_forget(&s->dur, &h->dur, false);
	}
	sink_host_gone(&s->sink, &h->file);
	free(h);
}

static void on_record(struct wstate *s, struct host *h, const struct ncx_rx_event *ev)
{
	h->flags |= NCXD_SNAP_EXT | (ev->reliable ? NCXD_SNAP_RELIABLE : 0);
	h->last_us = s->real_us;
	h->records++;
	sink_record(&s->sink, &h->file, &ev->record);
	durable_record(&s->dur, &h->dur, ev->from, ev->reliable, ev->id, ev->pos,
		       ev->record.ts_usec);
}

static void on_event(void *arg, const struct ncx_rx_event *ev)
{
	struct wstate *s = arg;
	struct host *h = ev->user ? *ev->user : NULL;

	if (ev->kind == NCX_RX_SENDER_GONE) {
		if (h)
			host_gone(s, ev, h);
		*ev->user = NULL;
		return;
	}
	if (ev->user && !h)
		h = *ev->user = host_new(s, ev);
	if (!h) {
		if (ev->kind == NCX_RX_DROP)
			on_drop(s, NULL, ev);
		else if (ev->kind == NCX_RX_RECORD || ev->kind == NCX_RX_LEGACY)
			s->nohost.drop[NCXD_D_MEMORY]++;
		return;
	}
	/* Answer from the socket the sender last reached (the feed's context). */
	if (ev->ctx)
		h->reply_fd = *(const int *)ev->ctx;
	switch (ev->kind) {
	case NCX_RX_RECORD:
		on_record(s, h, ev);
		break;
	case NCX_RX_LEGACY:
		h->flags |= NCXD_SNAP_LEGACY;
		h->last_us = s->real_us;
		h->records++;
		sink_legacy(&s->sink, &h->file, &ev->legacy);
		break;
	case NCX_RX_GAP: {
		struct ncxd_event e = { .kind = NCXD_EV_GAP, .a = ev->gap.first, .b = ev->gap.last,
					.lost = ev->gap.lost };

		log_gap(ev);
		sink_event(&s->sink, &h->file, &e);
		durable_moved(&s->dur, &h->dur, ev->pos, h->dur.pos_ts);
		break;
	}
	case NCX_RX_REBOOT: {
		struct ncxd_event e = { .kind = NCXD_EV_REBOOT, .a = ev->reboot.prev_seq,
					.b = ev->reboot.seq };

		log_reboot(ev);
		sink_event(&s->sink, &h->file, &e);
		durable_moved(&s->dur, &h->dur, ev->pos, 0); /* the new boot's first is to come */
		break;
	}
	case NCX_RX_DROP:
		on_drop(s, h, ev);
		break;
	case NCX_RX_RESPONSE:
		durable_reply(&s->dur, &h->dur, h->reply_fd, ev->from, ev->response.p,
			      ev->response.len);
		break;
	case NCX_RX_SENDER_GONE:
		break;
	}
}

/* The kernel's running count of datagrams socket idx dropped (it wraps at
 * 2^32): add what is new since we last looked. */
static void note_drops(struct wstate *s, int idx, uint32_t v)
{
	if ((int32_t)(v - s->ovfl[idx]) > 0) {
		s->socket_drops += (uint32_t)(v - s->ovfl[idx]);
		s->ovfl[idx] = v;
	}
}

/* The same count read now (SO_MEMINFO): drops after the last datagram that
 * was queued show in no cmsg until another one gets through. */
static void poll_drops(struct wstate *s)
{
#ifdef SO_MEMINFO
	for (int i = 0; i < s->w->nfds; i++) {
		uint32_t mi[SK_MEMINFO_VARS];
		socklen_t len = sizeof(mi);

		if (getsockopt(s->w->fds[i], SOL_SOCKET, SO_MEMINFO, mi, &len) == 0 &&
		    len > SK_MEMINFO_DROPS * sizeof(uint32_t))
			note_drops(s, i, mi[SK_MEMINFO_DROPS]);
	}
#endif
}

/* One batch from socket idx into the engine; returns how many datagrams. */
static int receive_batch(struct wstate *s, int idx)
{
	struct ncx_udp_batch *b = &s->batch;
	int n = ncx_udp_recv_batch(s->w->fds[idx], b);

	if (n == 0)
		return 0;
	read_clocks(s);
	if (b->has_drops)
		note_drops(s, idx, b->drops);
	for (int i = 0; i < b->n; i++) {
		if (!ncxd_allowed(s->cfg->allow, (size_t)s->cfg->nallow, &b->from[i])) {
			s->denied++;
			continue;
		}
		ncx_rx_feed(s->rx, &b->from[i], b->data[i], b->len[i], s->mono_us,
			    &s->w->fds[idx]);
	}
	return n;
}

static void add_stats(struct ncxd_stats *st, const struct ncx_rx_stats *e)
{
	st->c[NCXD_C_RECORDS] += e->records;
	st->c[NCXD_C_LEGACY] += e->legacy;
	st->c[NCXD_C_BYTES] += e->bytes;
	st->c[NCXD_C_GAPS] += e->gaps;
	st->c[NCXD_C_LOST] += e->lost;
	st->c[NCXD_C_MISSED] += e->missed;
	st->c[NCXD_C_RETX] += e->retx_requested;
	st->c[NCXD_C_DUPLICATES] += e->dropped[NCX_DROP_DUPLICATE];
	st->c[NCXD_C_REBOOTS] += e->reboots;
	st->c[NCXD_C_MALFORMED] += e->dropped[NCX_DROP_MALFORMED];
	st->drop[NCXD_D_LATE] += e->dropped[NCX_DROP_LATE];
	st->drop[NCXD_D_WINDOW] += e->dropped[NCX_DROP_WINDOW];
	st->drop[NCXD_D_MEMORY] += e->dropped[NCX_DROP_MEMORY];
	st->drop[NCXD_D_FRAGS] += e->dropped[NCX_DROP_FRAGS];
	st->drop[NCXD_D_TOO_MANY_SENDERS] += e->dropped[NCX_DROP_TOO_MANY_SENDERS];
	st->c[NCXD_C_RESP_BYTES] += e->response_bytes;
	st->c[NCXD_C_RESP_HELD] += e->responses_held;
	st->c[NCXD_C_UNASKED] += e->dropped[NCX_DROP_UNASKED];
	st->c[NCXD_C_AUTH_BAD] += e->dropped[NCX_DROP_AUTH_BAD];
	st->c[NCXD_C_AUTH_MISSING] += e->dropped[NCX_DROP_AUTH_MISSING];
	st->c[NCXD_C_UNVERIFIED] += e->unverified;
	st->c[NCXD_C_UNVERIFIED_DROPPED] += e->dropped[NCX_DROP_UNVERIFIED];
}

static void add_own(struct ncxd_stats *st, const struct ncxd_stats *own)
{
	st->c[NCXD_C_SUPPRESSED] += own->c[NCXD_C_SUPPRESSED];
	st->c[NCXD_C_SUPPRESSED_BYTES] += own->c[NCXD_C_SUPPRESSED_BYTES];
	st->c[NCXD_C_WRITTEN_BYTES] += own->c[NCXD_C_WRITTEN_BYTES];
	st->drop[NCXD_D_WRITE_ERROR] += own->drop[NCXD_D_WRITE_ERROR];
	st->drop[NCXD_D_NO_BUFFER] += own->drop[NCXD_D_NO_BUFFER];
}

struct snap_ctx {
	struct ncxd_snapshot *snap;
	size_t cap;
	uint64_t mono_us;
};

/* A sender's rate: records/s over the interval since its last snapshot, if
 * that was 1 s ago or more (a snapshot sooner keeps the last rate: two
 * readers asking close together must not make it a rate over 10 ms). */
#define RATE_MIN_US 1000000u

static void host_rate(struct host *h, uint64_t now)
{
	if (now - h->rate_us < RATE_MIN_US)
		return;
	h->rate = (double)(h->records - h->rate_recs) * 1e6 / (double)(now - h->rate_us);
	h->rate_recs = h->records;
	h->rate_us = now;
}

static void snap_sender(void *arg, const struct ncx_addr *from, void *user,
			const struct ncx_rx_stats *st)
{
	struct snap_ctx *c = arg;
	struct ncxd_host_snap *hs;

	if (c->snap->nhosts == c->cap)
		return;
	hs = &c->snap->hosts_v[c->snap->nhosts++];
	memset(hs, 0, sizeof(*hs));
	hs->addr = *from;
	add_stats(&hs->st, st);
	if (user) {
		struct host *h = user;

		add_own(&hs->st, &h->file.st);
		host_rate(h, c->mono_us);
		hs->flags = h->flags;
		hs->last_us = h->last_us;
		hs->rate = h->rate;
	}
}

/* Build this worker's snapshot from its own engine and sink, then swap it in. */
static void publish(struct wstate *s, unsigned gen)
{
	struct ncxd_snapshot snap = { 0 };
	struct ncx_rx_stats e;
	struct snap_ctx c = { .snap = &snap, .mono_us = ncx_now_us() };

	poll_drops(s);
	ncx_rx_stats(s->rx, &e);
	add_stats(&snap.total, &e);
	add_own(&snap.total, &s->sink.total);
	for (int r = 0; r < NCXD_D_COUNT; r++)
		snap.total.drop[r] += s->nohost.drop[r];
	snap.denied = s->denied;
	snap.socket_drops = s->socket_drops;
	snap.evicted = e.evicted;
	snap.hosts = e.senders;
	snap.open_files = (uint64_t)s->sink.nopen;
	snap.buffers_used = (uint64_t)(s->cfg->buffers - s->sink.nfree);
	c.cap = (size_t)e.senders;
	snap.hosts_v = c.cap ? calloc(c.cap, sizeof(*snap.hosts_v)) : NULL;
	if (snap.hosts_v)
		ncx_rx_each_sender(s->rx, snap_sender, &c);
	pthread_mutex_lock(&s->w->lock);
	ncxd_snapshot_free(&s->w->snap);
	s->w->snap = snap;
	s->w->snap_gen = gen;
	pthread_mutex_unlock(&s->w->lock);
}

/*
 * Memory the engine freed goes back to the system, not only to malloc's
 * free lists (each worker thread has its own arena, which glibc otherwise
 * keeps): once the bytes held have fallen below a quarter of a peak of
 * 16 MiB or more. So a burst (forged reassemblies, a long hole) costs
 * memory while it lasts, not for the life of the process.
 */
#define GIVE_BACK_MIN (16u << 20)

static void give_back(struct wstate *s)
{
	struct ncx_rx_stats st;

	ncx_rx_stats(s->rx, &st);
	if (st.held_bytes > s->held_peak)
		s->held_peak = st.held_bytes;
	if (s->held_peak < GIVE_BACK_MIN || st.held_bytes > s->held_peak / 4)
		return;
	s->held_peak = st.held_bytes;
	(void)malloc_trim(0);
}

static int poll_timeout(struct wstate *s)
{
	uint64_t now = ncx_now_us(), due = ncx_rx_next_deadline(s->rx);
	uint64_t flush = sink_next_due(&s->sink);

	if (flush < due)
		due = flush;
	/* At least every flush interval anyway: stop, reopen and metrics
	 * requests are seen there. */
	if (due > now + (uint64_t)s->cfg->flush_ms * 1000u)
		due = now + (uint64_t)s->cfg->flush_ms * 1000u;
	if (due <= now)
		return 0;
	return (int)((due - now + 999) / 1000);
}

static void serve(struct wstate *s)
{
	struct ncxd *d = s->w->d;
	struct pollfd pfd[NCXD_MAX_LISTEN];
	unsigned reopen_seen = atomic_load(&d->reopen_gen), metrics_seen = 0;

	int got = 0; /* datagrams the last round read */

	for (int i = 0; i < s->w->nfds; i++)
		pfd[i] = (struct pollfd){ .fd = s->w->fds[i], .events = POLLIN };
	while (!atomic_load(&d->stop)) {
		int timeout = poll_timeout(s);

		if (got > 0 && got < NCX_UDP_BATCH && timeout > 0) {
			/* Traffic, but light: let more queue (WAIT_US), then read every socket. */
			long us = timeout * 1000L < WAIT_US ? timeout * 1000L : WAIT_US;
			struct timespec ts = { 0, us * 1000L };

			(void)nanosleep(&ts, NULL);
			for (int i = 0; i < s->w->nfds; i++)
				pfd[i].revents = POLLIN;
		} else if (poll(pfd, (nfds_t)s->w->nfds, timeout) < 0 && errno != EINTR) {
			break;
		}
		got = 0;
		for (int i = 0; i < s->w->nfds; i++)
			/* A few batches per socket, then the timers get their turn. */
			for (int k = 0; k < 8 && (pfd[i].revents & POLLIN); k++) {
				int n = receive_batch(s, i);

				got += n;
				if (n < NCX_UDP_BATCH)
					break;
			}
		read_clocks(s);
		ncx_rx_tick(s->rx, s->mono_us);
		give_back(s);
		unsigned g = atomic_load(&d->reopen_gen);

		if (g != reopen_seen) {
			reopen_seen = g;
			sink_reopen(&s->sink);
		}
		/* Each buffer flush_ms after its oldest line went in; then the
		 * round's responses, each file they vouch for written first. */
		sink_flush_due(&s->sink);
		durable_round_end(&s->dur);
		g = atomic_load(&d->metrics_gen);
		if (g != metrics_seen) {
			metrics_seen = g;
			publish(s, g);
		}
	}
}

/* At exit: what is queued in the sockets, then what the engine holds. */
static void drain(struct wstate *s)
{
	for (int i = 0; i < s->w->nfds; i++)
		for (int k = 0; k < 100000 && receive_batch(s, i) > 0; k++)
			;
	read_clocks(s);
	/* Reliable senders keep what is held behind a hole: the next run resumes
	 * at the first unwritten seq and gets it resent (rx.h). */
	ncx_rx_flush_resumable(s->rx, s->mono_us);
	durable_round_end(&s->dur);
	sink_finish(&s->sink);
	durable_round_end(&s->dur); /* the positions sink_finish settled */
}

/* At exit, after sink_free(): the worker's records of its senders. */
static void free_host(void *arg, const struct ncx_addr *from, void *user,
		      const struct ncx_rx_stats *st)
{
	free(user);
}

/* The engine's resume hook: where an earlier run left this sender. */
static bool resume_point(void *arg, const struct ncx_addr *from, uint64_t id,
			 struct ncx_rx_resume *out)
{
	struct wstate *s = arg;

	return durable_resume(&s->w->d->state, from, id, out);
}

void *ncxd_worker_main(void *arg)
{
	struct ncxd_worker *w = arg;
	struct wstate *s = calloc(1, sizeof(*s));
	struct ncx_rx_config rc;

	if (!s)
		goto fail;
	s->w = w;
	s->cfg = &w->d->cfg;
	ncx_rx_config_default(&rc);
	rc.idle_us = s->cfg->idle_s * 1000000u;
	rc.max_senders = (uint32_t)s->cfg->max_senders;
	rc.auth = s->w->d->auth;
	rc.require_auth = s->cfg->require_auth;
	rc.auth_secret = s->w->d->auth_secret;
	rc.resp_rate = s->cfg->resp_rate / (uint64_t)s->cfg->threads;
	rc.engine_bytes = NCXD_HELD_BYTES / (size_t)s->cfg->threads;
	if (w->d->state.f) {
		rc.resume = resume_point;
		rc.resume_arg = s;
	}
	if (ncx_udp_batch_init(&s->batch, NCX_WIRE_DGRAM_MAX) < 0 ||
	    sink_init(&s->sink, s->cfg) < 0)
		goto fail;
	durable_init(&s->dur, &w->d->state, &s->sink);
	s->rx = ncx_rx_new(&rc, on_event, s);
	if (!s->rx)
		goto fail;
	serve(s);
	drain(s);
	publish(s, atomic_load(&w->d->metrics_gen));
	sink_free(&s->sink); /* before the hosts that hold its parts go */
	ncx_rx_each_sender(s->rx, free_host, NULL);
	ncx_rx_free(s->rx);
	ncx_udp_batch_free(&s->batch);
	free(s);
	return NULL;
fail:
	ncx_err("worker %d: out of memory\n", w->id);
	if (s) {
		if (s->rx)
			ncx_rx_free(s->rx);
		if (s->sink.cfg)
			sink_free(&s->sink);
		ncx_udp_batch_free(&s->batch);
		free(s);
	}
	w->failed = true;
	atomic_store(&w->d->stop, true);
	return NULL;
}
