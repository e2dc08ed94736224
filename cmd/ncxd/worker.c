/* SPDX-License-Identifier: MIT */
/*
 * worker: one thread, its own sockets (SO_REUSEPORT: the kernel's 4-tuple
 * hash keeps a sender on one worker), its own rx engine and its own sink.
 * Nothing per host is shared with any other thread but the state table
 * (state.c), where each sender has a slot of its own.
 *
 * Reliable senders: an ack says "written". Before a response goes out, the
 * sender's buffer is written to its file (write(2): the page cache survives
 * a SIGKILL) and its position stored in its state slot; if that write
 * fails, the response is not sent (the engine sends another with the next
 * progress, retransmission request or emergency datagram). On restart the
 * engine's resume hook gives each sender's first stream the position the
 * slot holds, so what was written is not written again, and what was not
 * is asked for.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sock_diag.h>
#include <ncx/log.h>
#include <ncx/udp.h>

#include "sink.h"

#define BATCH 32
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
#define CTRL_SPACE CMSG_SPACE(sizeof(uint32_t))

struct wstate {
	struct ncxd_worker *w;
	const struct ncxd_config *cfg;
	struct ncx_rx *rx;
	struct sink sink;
	int cur_fd;	  /* the socket the datagram being fed came in on */
	const void *cur_buf; /* the datagram being fed (NULL outside a feed) */
	size_t cur_len;
	/* A new stream the resume hook found: its reboot line is written when
	 * the engine's first event for that sender comes (right after). */
	bool restarted;
	struct ncx_addr restarted_from;
	uint64_t restarted_prev, restarted_seq;
	uint64_t real_us; /* wall clock for the lines being written */
	uint64_t mono_us;
	uint64_t denied, socket_drops;
	uint32_t ovfl[NCXD_MAX_LISTEN];
	struct ncxd_stats nohost; /* drops the engine reports without a sender */
	unsigned char (*bufs)[NCX_WIRE_DGRAM_MAX];
	char (*ctrl)[CTRL_SPACE];
};

/* Both clocks, once per batch or round: the engine and the sink run on them. */
static void read_clocks(struct wstate *s)
{
	s->mono_us = s->sink.mono_us = ncx_now_us();
	s->real_us = ncx_real_us();
}

static void send_response(struct wstate *s, struct sink_host *h, const struct ncx_rx_event *ev)
{
	struct sockaddr_storage ss;
	socklen_t len = ncx_addr_to_sockaddr(ev->from, &ss);

	if (h->resp_fd < 0)
		return;
	/* Acked means written: no ack for what could not be written. */
	if (sink_flush_host(&s->sink, h, s->real_us) < 0)
		return;
	/* A lost response is recovered by the protocol's timers: no retry. */
	(void)sendto(h->resp_fd, ev->response.p, ev->response.len, MSG_DONTWAIT,
		     (struct sockaddr *)&ss, len);
}

static void on_drop(struct wstate *s, struct sink_host *h, const struct ncx_rx_event *ev)
{
	enum ncxd_drop r;

	switch (ev->drop.reason) {
	case NCX_DROP_LATE: r = NCXD_D_LATE; break;
	case NCX_DROP_MEMORY: r = NCXD_D_MEMORY; break;
	case NCX_DROP_FRAGS: r = NCXD_D_FRAGS; break;
	case NCX_DROP_TOO_MANY_SENDERS: r = NCXD_D_TOO_MANY_SENDERS; break;
	/* Counted by the engine, not losses worth a line: a malformed datagram
	 * carries no record, a duplicate was written already, and a reliable
	 * sender's record beyond the window will be asked for again. */
	default: return;
	}
	if (h)
		sink_drop(&s->sink, h, s->real_us, r, ev->drop.records);
	else
		s->nohost.drop[r] += ev->drop.records;
}

/* The socket to answer a sender from: the one its datagram came in on, or
 * outside a feed (a timer's event for a sender not heard from yet) one of
 * its address family. */
static int reply_fd(struct wstate *s, const struct ncx_addr *from)
{
	if (s->cur_fd >= 0)
		return s->cur_fd;
	for (int i = 0; i < s->w->nfds; i++)
		if (s->w->family[i] == from->family)
			return s->w->fds[i];
	return -1;
}

/*
 * Is the datagram being fed the start of a new stream rather than a resend
 * of the one the slot describes? Within a stream a sender's timestamps go
 * on as its seqs do, so a record below the resume point stamped well after
 * the last record written (NCXD_NEW_STREAM_US: clock jitter between CPUs,
 * small steps) is not part of it: the sender started over while ncxd was
 * down (a program that logs through libncx restarted, a new `ncx send` on
 * the same port). A rebooted kernel's timestamps start again near zero and
 * are not caught here: the engine's own rule finds that reboot later.
 */
static bool new_stream(const struct wstate *s, uint64_t next, uint64_t last_ts,
		       uint64_t *seq)
{
	struct ncx_ext rec;

	if (!s->cur_buf || !last_ts || !next ||
	    ncx_ext_parse(s->cur_buf, s->cur_len, &rec) != 0)
		return false;
	*seq = rec.seq;
	return rec.seq < next && rec.ts_usec > last_ts &&
	       rec.ts_usec - last_ts > NCXD_NEW_STREAM_US;
}

/* The engine's resume hook: where an earlier run left this sender. */
static uint64_t resume_point(void *arg, const struct ncx_addr *from)
{
	struct wstate *s = arg;
	struct ncxd_state_slot *sl = ncxd_state_find(&s->w->d->state, from);
	uint64_t next, seq;

	if (!sl)
		return UINT64_MAX;
	next = ncxd_state_next(sl);
	if (new_stream(s, next, ncxd_state_ts(sl), &seq)) {
		s->restarted = true;
		s->restarted_from = *from;
		s->restarted_prev = next - 1;
		s->restarted_seq = seq;
		return UINT64_MAX; /* the stream starts where this record is */
	}
	return next;
}

/*
 * The live view on stderr: one line for a new sender, a gap, a reboot and
 * a sender gone idle, through the log core (never blocks: a line is a
 * record in its ring) and so under its per-call-site ratelimit (main.c
 * sets it for ncxd: NCXD_LOG_BURST lines, then NCXD_LOG_SILENCE s of
 * silence, then a count of what was suppressed).
 */
static void log_new_sender(const struct sink_host *h, const struct ncx_rx_event *ev)
{
	char a[NCX_ADDR_TEXT_MAX];
	unsigned f = ev->kind == NCX_RX_LEGACY ? NCXD_SNAP_LEGACY :
		     ev->kind == NCX_RX_RECORD ? NCXD_SNAP_EXT : 0;

	if (ev->reliable)
		f |= NCXD_SNAP_RELIABLE;
	ncx_addr_format(&h->addr, true, a, sizeof(a));
	ncx_info("new sender %s (%s)\n", a, ncxd_stream_kind(f));
}

static void log_gap(const struct sink_host *h, const struct ncx_rx_event *ev)
{
	char a[NCX_ADDR_TEXT_MAX];

	ncx_addr_format(&h->addr, true, a, sizeof(a));
	ncx_info("gap from %s: seq %llu..%llu, %llu records %s\n", a,
		 (unsigned long long)ev->gap.first, (unsigned long long)ev->gap.last,
		 (unsigned long long)(ev->gap.last - ev->gap.first + 1),
		 ev->gap.lost ? "lost" : "not received");
}

static void log_reboot(const struct sink_host *h, uint64_t prev, uint64_t seq)
{
	char a[NCX_ADDR_TEXT_MAX];

	ncx_addr_format(&h->addr, true, a, sizeof(a));
	ncx_info("reboot of %s: seq %llu, then a new boot from seq %llu\n", a,
		 (unsigned long long)prev, (unsigned long long)seq);
}

static void log_gone(const struct wstate *s, const struct sink_host *h)
{
	char a[NCX_ADDR_TEXT_MAX];

	ncx_addr_format(&h->addr, true, a, sizeof(a));
	ncx_info("sender %s gone idle (silent for %llu s): forgotten after %llu records\n", a,
		 (unsigned long long)s->cfg->idle_s,
		 (unsigned long long)h->records);
}

/* The reboot line for a new stream resume_point() found, first thing. */
static void restarted_line(struct wstate *s, struct sink_host *h)
{
	struct ncxd_event e = { .kind = NCXD_EV_REBOOT, .a = s->restarted_prev,
				.b = s->restarted_seq };

	if (!s->restarted || !ncx_addr_equal(&s->restarted_from, &h->addr))
		return;
	s->restarted = false;
	log_reboot(h, e.a, e.b);
	sink_event(&s->sink, h, s->real_us, &e);
}

/* A reliable sender's record: it gets a state slot, if there is room. */
static void track_reliable(struct wstate *s, struct sink_host *h, const struct ncx_rx_event *ev)
{
	struct ncxd_state *st = &s->w->d->state;

	if (h->slot || h->no_slot || !st->f)
		return;
	h->slot = ncxd_state_claim(st, ev->from, ev->record.seq, s->real_us / 1000000u);
	h->no_slot = !h->slot;
	if (!h->slot)
		ncx_warn("state table full: a sender gets no resume point (%llu so far)\n",
			 (unsigned long long)atomic_load(&st->full));
}

/* One past the last seq handed to the sink: where the stream stands, and
 * the timestamp of the record before it (0: unknown). */
static void set_pos(struct sink_host *h, uint64_t pos, uint64_t ts)
{
	h->pos = pos;
	h->pos_ts = ts;
	h->pos_valid = true;
}

static void sender_gone(struct wstate *s, struct sink_host *h)
{
	struct ncxd_state_slot *sl = h->slot;

	log_gone(s, h);
	/* Silent for --idle: it holds nothing unacked, so there is nothing to
	 * resume; a new boot must not be taken for resends of the old one. */
	sink_host_gone(&s->sink, h, s->real_us);
	if (sl)
		ncxd_state_forget(sl);
}

static void on_event(void *arg, const struct ncx_rx_event *ev)
{
	struct wstate *s = arg;
	struct sink_host *h = ev->user ? *ev->user : NULL;

	if (ev->kind == NCX_RX_SENDER_GONE) {
		if (h)
			sender_gone(s, h);
		if (ev->user)
			*ev->user = NULL;
		return;
	}
	if (ev->user && !h) {
		h = sink_host_new(&s->sink, ev->from, reply_fd(s, ev->from));
		*ev->user = h;
		if (h) {
			h->rate_us = s->mono_us;
			log_new_sender(h, ev);
			restarted_line(s, h);
		}
	}
	/* Answer from the socket the sender last reached. */
	if (h && s->cur_fd >= 0)
		h->resp_fd = s->cur_fd;
	if (!h) {
		if (ev->kind == NCX_RX_DROP)
			on_drop(s, NULL, ev);
		else if (ev->kind == NCX_RX_RECORD || ev->kind == NCX_RX_LEGACY)
			s->nohost.drop[NCXD_D_MEMORY]++;
		return;
	}
	switch (ev->kind) {
	case NCX_RX_RECORD:
		if (ev->reliable)
			track_reliable(s, h, ev);
		h->flags |= NCXD_SNAP_EXT | (ev->reliable ? NCXD_SNAP_RELIABLE : 0);
		h->last_us = s->real_us;
		h->records++;
		sink_record(&s->sink, h, s->real_us, s->mono_us, &ev->record);
		set_pos(h, ev->record.seq + 1, ev->record.ts_usec);
		break;
	case NCX_RX_LEGACY:
		h->flags |= NCXD_SNAP_LEGACY;
		h->last_us = s->real_us;
		h->records++;
		sink_legacy(&s->sink, h, s->real_us, s->mono_us, &ev->legacy);
		break;
	case NCX_RX_GAP: {
		struct ncxd_event e = { .kind = NCXD_EV_GAP, .a = ev->gap.first, .b = ev->gap.last,
					.lost = ev->gap.lost };

		log_gap(h, ev);
		sink_event(&s->sink, h, s->real_us, &e);
		set_pos(h, ev->gap.last + 1, h->pos_ts);
		break;
	}
	case NCX_RX_REBOOT: {
		struct ncxd_event e = { .kind = NCXD_EV_REBOOT, .a = ev->reboot.prev_seq,
					.b = ev->reboot.seq };

		log_reboot(h, e.a, e.b);
		sink_event(&s->sink, h, s->real_us, &e);
		set_pos(h, ev->reboot.seq, 0); /* the new boot's first is still to come */
		break;
	}
	case NCX_RX_DROP:
		on_drop(s, h, ev);
		break;
	case NCX_RX_RESPONSE:
		send_response(s, h, ev);
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

/* SO_RXQ_OVFL: the count as of each datagram received. */
static void read_ovfl(struct wstate *s, int idx, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
			uint32_t v;

			memcpy(&v, CMSG_DATA(c), sizeof(v));
			note_drops(s, idx, v);
		}
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

/* One recvmmsg batch from socket idx; returns how many datagrams. */
static int receive_batch(struct wstate *s, int idx)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	struct ncx_addr a;
	int fd = s->w->fds[idx], n;

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = s->bufs[i], .iov_len = NCX_WIRE_DGRAM_MAX };
		msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1,
						   .msg_name = &from[i],
						   .msg_namelen = sizeof(from[i]),
						   .msg_control = s->ctrl[i],
						   .msg_controllen = CTRL_SPACE };
	}
	n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	read_clocks(s);
	s->cur_fd = fd;
	/* The socket's drop count is cumulative: the last datagram's is news
	 * enough for the batch. */
	read_ovfl(s, idx, &msgs[n - 1].msg_hdr);
	for (int i = 0; i < n; i++) {
		struct msghdr *mh = &msgs[i].msg_hdr;

		if (ncx_addr_from_sockaddr(&a, (struct sockaddr *)&from[i], mh->msg_namelen))
			continue;
		if (!ncxd_allowed(s->cfg->allow, (size_t)s->cfg->nallow, &a)) {
			s->denied++;
			continue;
		}
		s->cur_buf = s->bufs[i];
		s->cur_len = msgs[i].msg_len;
		ncx_rx_feed(s->rx, &a, s->bufs[i], msgs[i].msg_len, s->mono_us);
	}
	s->cur_buf = NULL;
	s->cur_fd = -1; /* events from the timers come from no socket */
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

static void host_rate(struct sink_host *h, uint64_t now)
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
		struct sink_host *h = user;

		add_own(&hs->st, &h->st);
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

		if (got > 0 && got < BATCH && timeout > 0) {
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
				if (n < BATCH)
					break;
			}
		read_clocks(s);
		ncx_rx_tick(s->rx, s->mono_us);
		unsigned g = atomic_load(&d->reopen_gen);

		if (g != reopen_seen) {
			reopen_seen = g;
			sink_reopen(&s->sink, s->real_us);
		}
		/* Each buffer flush_ms after its oldest line went in. */
		sink_flush_due(&s->sink, s->real_us);
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
	sink_finish(&s->sink, s->real_us);
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
	s->cur_fd = -1;
	ncx_rx_config_default(&rc);
	rc.idle_us = s->cfg->idle_s * 1000000u;
	if (w->d->state.f) {
		rc.resume = resume_point;
		rc.resume_arg = s;
	}
	s->bufs = malloc(sizeof(*s->bufs) * BATCH);
	s->ctrl = calloc(BATCH, sizeof(*s->ctrl));
	if (!s->bufs || !s->ctrl || sink_init(&s->sink, s->cfg) < 0)
		goto fail;
	s->rx = ncx_rx_new(&rc, on_event, s);
	if (!s->rx)
		goto fail;
	serve(s);
	drain(s);
	publish(s, atomic_load(&w->d->metrics_gen));
	ncx_rx_free(s->rx);
	sink_free(&s->sink);
	free(s->bufs);
	free(s->ctrl);
	free(s);
	return NULL;
fail:
	ncx_err("worker %d: out of memory\n", w->id);
	if (s) {
		if (s->rx)
			ncx_rx_free(s->rx);
		if (s->sink.cfg)
			sink_free(&s->sink);
		free(s->bufs);
		free(s->ctrl);
		free(s);
	}
	w->failed = true;
	atomic_store(&w->d->stop, true);
	return NULL;
}
