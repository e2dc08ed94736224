/* SPDX-License-Identifier: MIT */
/*
 * netcon: the reliable network console. See include/ncx/netcon.h.
 *
 * DOC: overview
 *
 * One thread per console owns everything below except the published
 * snapshot. Its loop:
 *
 *   1. take every datagram waiting on the sockets; one from a target's exact
 *      address and port is a response for tx (which may call back to
 *      resend), anything else is counted as forged;
 *   2. ncx_tx_tick(): emergency rounds that are due;
 *   3. read new records from the ring (a batch at most, so responses are
 *      never starved): render, mark ncrx=1, cut into datagrams, and, if
 *      pacing gives the tokens, send them to every target and tell tx; if
 *      not, the reader is put back and the record waits in the ring;
 *   4. publish the counters and the reader's position (for wait_acked);
 *   5. poll the sockets, a stop eventfd and an eventfd the ring's writers
 *      signal (ncx_ring_notify_add(): armed only while the thread sleeps,
 *      so a busy ring costs writers nothing), until tx's next deadline or
 *      a pending notice is due, IDLE_MS at most; not at all if a batch was
 *      cut short; POLL_MS at most while pacing or the stream-start hold
 *      keeps a record waiting (nothing signals when tokens come back).
 *
 * Numbering. render gets *seq preset to the driver's numbering: the first
 * record rendered starts it (at 0, or wherever render puts it), each
 * record sent takes the next one. render may replace it (ALLDATA log
 * rings: the ring's seq, so a ring overrun shows as a hole the receiver
 * asks for and we report gone). A seq that goes backwards restarts the
 * stream (tx starts over there; the receiver sees a reboot).
 *
 * Resends. tx gives the seq and the cookie of the checkpoint at or before
 * it: the ring position of the first record sent in that block of
 * NCX_TX_STRIDE seqs. A temporary reader is placed there and reads forward,
 * rendering with the numbering preset as the first send had it (the
 * driver's numbering has no holes, so the block's first record had
 * max(block start, stream start)), until the seq matches. The record is
 * gone if writers overwrote the checkpoint (tail passed it), if anything
 * was lost on the way (a discarded record counts too: rare, and erring on
 * the side of "gone" never sends a wrong record), or if the walk passes
 * the seq. tx then has a placeholder sent for the run the seq belongs to
 * (ncgone: send_gone()), so the receiver stops waiting for it. Gone records are summed up in one log record per second at
 * most, when the ring is the log core's; those notices are ordinary
 * records, sent like any other, and never trigger notices of their own
 * beyond that one-per-second summary.
 *
 * Stream start: tx holds first sends (ncx_tx_may_send() says no, as for
 * pacing) until every target has acked the stream's first record, and
 * resends it from ncx_tx_tick() meanwhile; netcon needs nothing special.
 *
 * Identity and tags. Every datagram carries ncid (ncx_ext_mark() puts it
 * in the header before fragmenting, so each fragment repeats it). With
 * auth, seal() tags each datagram as it leaves, after fragmenting: the tag
 * covers exactly the bytes of that datagram, its ncfrag key included, and
 * one datagram sent to several targets is tagged once. A response is taken
 * only if its tag is good for our id; anything else from a target is
 * bad_tag, counted and ignored, as forged ones are.
 *
 * Memory: the record text buffer (NCX_RING_TEXT_MAX), one rendering
 * buffer, one datagram buffer for tagging, tx's checkpoints; all allocated
 * at start.
 */
#include "ncx/netcon.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ncx/log.h"
#include "ncx/udp.h"
#include "ncx/wire.h"

#define POLL_MS 5		/* how soon a held-back record is retried */
#define IDLE_MS 1000		/* longest sleep with nothing to do (the ring wakes us) */
#define BATCH 64		/* records sent per loop before looking at responses */
#define RECV_BATCH 256		/* datagrams taken per loop */
#define NOTICE_US 1000000	/* at most one gone/lost summary per second */
#define RECV_BUF 1024		/* > NCX_WIRE_RESP_MAX: longer ones are malformed */
#define KEYS_MAX NCX_WIRE_MARK_MAX	/* what marking adds */
#define OUT_CAP (NCX_WIRE_HDR_MAX + NCX_WIRE_BODY_MAX + KEYS_MAX)
/* A datagram is a record or fragment of at most NCX_WIRE_CHUNK bytes, or a
 * placeholder; a tag adds its bytes after the cut. */
#define DGRAM_CAP (NCX_WIRE_CHUNK + NCX_AUTH_DGRAM_TAG_LEN)
_Static_assert(NCX_WIRE_GONE_MAX <= NCX_WIRE_CHUNK, "a placeholder is one datagram");

struct ncx_netcon {
	struct ncx_netcon_config cfg;
	struct ncx_ring *ring;
	ncx_netcon_render_fn render;
	void *arg;
	struct ncx_tx *tx;
	int fd[2];		/* IPv4, IPv6; -1 if unused */
	int stop_fd;		/* eventfd */
	int ring_fd;		/* eventfd the ring's writers signal; -1: poll every POLL_MS */
	uint16_t port;
	struct sockaddr_storage ss[NCX_TX_TARGETS_MAX];
	socklen_t sslen[NCX_TX_TARGETS_MAX];
	pthread_t thread;
	bool log_ring;		/* the ring is the log core's: notices go there */
	uint64_t id;		/* the stream's ncid, never 0 */

	/* Owned by the thread. */
	struct ncx_ring_reader rd;
	bool started;		/* tx has a stream */
	uint64_t base_seq;	/* first seq of tx's stream */
	uint64_t next_seq;	/* the driver's numbering: preset for the next record */
	char *text;		/* one record's text */
	char *out;		/* one rendered, marked record */
	char *dgram;		/* one tagged datagram (auth only) */
	uint64_t forged, bad_tag, send_errors, ring_lost, skipped;
	struct {		/* the pending summary */
		uint64_t gone, lo, hi;
		unsigned target;
		bool several;
		uint64_t lost, lost_bytes;
		uint64_t last_us;
	} notice;

	/* Shared: under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ncx_netcon_stats pub;
	uint64_t pub_pos;	/* the reader's position */
	bool pub_all_acked;	/* everything sent before pub_pos is acked */
	bool pub_stopped;
};

void ncx_netcon_config_default(struct ncx_netcon_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	ncx_tx_config_default(&cfg->tx);
}

/* ---- rendering and marking --------------------------------------------- */

/*
 * Render rec and mark it ncrx=1 (ncemg=1 too if emergency). Returns the
 * length in nc->out, or 0 if the record is skipped (by render, or because
 * what it rendered is no extended record).
 */
static size_t prepare(struct ncx_netcon *nc, const struct ncx_ring_rec *rec, uint64_t *seq,
		      bool emergency)
{
	size_t len = nc->render(nc->arg, rec, nc->text, nc->out, OUT_CAP - KEYS_MAX, seq);

	if (len > OUT_CAP - KEYS_MAX)
		len = OUT_CAP - KEYS_MAX;
	return ncx_ext_mark(nc->out, len, OUT_CAP, emergency, nc->id);
}

static int count_dgram(void *arg, const void *d, size_t len)
{
	(void)d, (void)len;
	(*(unsigned *)arg)++;
	return 0;
}

/* ---- sending ------------------------------------------------------------ */

static int target_fd(const struct ncx_netcon *nc, unsigned t)
{
	return nc->fd[nc->cfg.targets[t].family == AF_INET6];
}

/* One datagram to one target; a full socket buffer gets a short wait. */
static int send_to(struct ncx_netcon *nc, unsigned t, const void *d, size_t len)
{
	int fd = target_fd(nc, t);

	for (int tries = 0;; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (sendto(fd, d, len, 0, (const struct sockaddr *)&nc->ss[t], nc->sslen[t]) >= 0)
			return 0;
		if ((errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) || tries == 3)
			break;
		(void)poll(&p, 1, 10);
	}
	nc->send_errors++;
	return -errno;
}

/*
 * The bytes to send for datagram d: d itself, or with auth a tagged copy
 * in nc->dgram (*len updated). NULL if it cannot be tagged (it has no ';':
 * nothing netcon makes); sending it untagged would only be dropped.
 */
static const void *seal(struct ncx_netcon *nc, const void *d, size_t *len)
{
	long n;

	if (!nc->cfg.auth)
		return d;
	if (*len > NCX_WIRE_CHUNK)
		return NULL;
	memcpy(nc->dgram, d, *len);
	n = ncx_auth_dgram_sign(&nc->cfg.key, nc->dgram, *len, DGRAM_CAP);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return nc->dgram;
}

struct emit_ctx {
	struct ncx_netcon *nc;
	int target;		/* -1: every target */
	unsigned sent;		/* datagrams that went (to the one target) */
	int err;
};

static int emit_dgram(void *arg, const void *d, size_t len)
{
	struct emit_ctx *e = arg;

	d = seal(e->nc, d, &len);
	if (!d) {
		e->err = -EINVAL;
		return 0;
	}
	if (e->target >= 0) {
		int rc = send_to(e->nc, (unsigned)e->target, d, len);

		if (rc)
			e->err = rc;
		else
			e->sent++;
		return 0;
	}
	for (unsigned t = 0; t < e->nc->cfg.ntargets; t++)
		(void)send_to(e->nc, t, d, len);
	return 0;
}

/* ---- notices ------------------------------------------------------------ */

static void note_gone(struct ncx_netcon *nc, unsigned t, uint64_t seq)
{
	if (!nc->notice.gone) {
		nc->notice.lo = nc->notice.hi = seq;
		nc->notice.target = t;
		nc->notice.several = false;
	}
	nc->notice.gone++;
	if (seq < nc->notice.lo)
		nc->notice.lo = seq;
	if (seq > nc->notice.hi)
		nc->notice.hi = seq;
	if (t != nc->notice.target)
		nc->notice.several = true;
}

/* One summary record per NOTICE_US at most, into the log core's ring. */
static void flush_notice(struct ncx_netcon *nc, uint64_t now)
{
	char line[256], who[NCX_ADDR_TEXT_MAX];
	int n = 0;

	if (!nc->notice.gone && !nc->notice.lost)
		return;
	if (nc->notice.last_us && now - nc->notice.last_us < NOTICE_US)
		return;
	if (nc->notice.gone) {
		ncx_addr_format(&nc->cfg.targets[nc->notice.target], true, who, sizeof(who));
		n = snprintf(line, sizeof(line),
			     "netcon: %llu records asked for by %s%s are gone from the ring "
			     "(seq %llu..%llu)",
			     (unsigned long long)nc->notice.gone, who,
			     nc->notice.several ? " and others" : "",
			     (unsigned long long)nc->notice.lo, (unsigned long long)nc->notice.hi);
	}
	if (nc->notice.lost && n >= 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      "%snetcon: %llu records (%llu bytes) were overwritten in the ring "
			      "before they could be sent",
			      n ? "; " : "", (unsigned long long)nc->notice.lost,
			      (unsigned long long)nc->notice.lost_bytes);
	if (n > 0 && nc->log_ring)
		(void)ncx_log_write(NCX_LOG_WARNING, line,
				    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	nc->notice.gone = nc->notice.lost = nc->notice.lost_bytes = 0;
	nc->notice.last_us = now;
}

/* ---- resends ------------------------------------------------------------ */

/* tx's resend callback: find seq from the checkpoint at cookie and send it. */
static int resend(void *arg, unsigned t, uint64_t seq, uint64_t cookie, bool emergency)
{
	struct ncx_netcon *nc = arg;
	struct ncx_ring_reader rd = { .pos = cookie };
	uint64_t preset = seq - seq % NCX_TX_STRIDE;
	unsigned found = 0;

	if (preset < nc->base_seq)
		preset = nc->base_seq;
	if ((int64_t)(ncx_ring_tail(nc->ring) - cookie) > 0)
		goto gone;
	/* Never past the main reader: nothing beyond it was sent. */
	while (found < NCX_TX_STRIDE && (int64_t)(nc->rd.pos - rd.pos) > 0) {
		struct ncx_ring_rec rec;
		uint64_t rseq = preset;
		size_t len;

		if (ncx_ring_read(nc->ring, &rd, &rec, nc->text, NCX_RING_TEXT_MAX) != 1 ||
		    rec.lost_bytes || rec.lost_records)
			break;
		len = prepare(nc, &rec, &rseq, emergency);
		if (!len)
			continue;
		found++;
		if (rseq > seq)
			break;
		if (rseq == seq) {
			struct emit_ctx e = { nc, (int)t, 0, 0 };

			(void)ncx_ext_fragment(nc->out, len, emit_dgram, &e);
			return e.sent ? (int)e.sent : (e.err ? e.err : -EIO);
		}
		preset = rseq + 1;
	}
gone:
	note_gone(nc, t, seq);
	return 0;
}

/* tx's gone callback: a placeholder for first..first+count-1 (tx.h, wire.h). */
static int send_gone(void *arg, unsigned t, uint64_t first, uint64_t count)
{
	struct ncx_netcon *nc = arg;
	char d[NCX_WIRE_GONE_MAX];
	size_t n = ncx_gone_format(first, count, nc->id, d, sizeof(d));
	const void *sealed;

	if (n > sizeof(d))
		return 0;
	sealed = seal(nc, d, &n);
	if (!sealed)
		return 0;
	return send_to(nc, t, sealed, n) ? 0 : 1;
}

/* ---- responses ---------------------------------------------------------- */

static int match_target(const struct ncx_netcon *nc, const struct sockaddr_storage *ss,
			socklen_t len)
{
	struct ncx_addr from;

	if (ncx_addr_from_sockaddr(&from, (const struct sockaddr *)ss, len))
		return -1;
	for (unsigned t = 0; t < nc->cfg.ntargets; t++)
		if (ncx_addr_equal(&from, &nc->cfg.targets[t]))
			return (int)t;
	return -1;
}

/*
 * With auth: a response counts only with a good tag for our stream (the
 * tag binds the id, so one meant for another run or boot fails too);
 * *len becomes the length without the tag. A response from a target's
 * address without one is either forged or from a receiver without our
 * key: either way it must not move tx.
 */
static bool verified(struct ncx_netcon *nc, const char *buf, size_t *len)
{
	size_t plain;

	if (ncx_auth_resp_verify(&nc->cfg.key, nc->id, buf, *len, &plain) != 1) {
		nc->bad_tag++;
		return false;
	}
	*len = plain;
	return true;
}

static void receive(struct ncx_netcon *nc, int fd)
{
	char buf[RECV_BUF];

	for (int i = 0; i < RECV_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&ss, &sl);
		size_t len;
		int t;

		if (n < 0)
			return;	/* EAGAIN, or an ICMP error surfacing: nothing to take */
		t = match_target(nc, &ss, sl);
		if (t < 0) {
			nc->forged++;
			continue;
		}
		/* MSG_TRUNC gives the real length: an oversized one is malformed. */
		len = n > (ssize_t)sizeof(buf) ? sizeof(buf) : (size_t)n;
		if (nc->cfg.auth && !verified(nc, buf, &len))
			continue;
		(void)ncx_tx_response(nc->tx, (unsigned)t, buf, len, ncx_now_us(), resend, nc);
	}
}

/* ---- first sends -------------------------------------------------------- */

/* Account for what the reader lost before rec. */
static void note_lost(struct ncx_netcon *nc, const struct ncx_ring_rec *rec)
{
	if (!rec->lost_records && !rec->lost_bytes)
		return;
	nc->ring_lost += rec->lost_records;
	nc->notice.lost += rec->lost_records;
	nc->notice.lost_bytes += rec->lost_bytes;
}

/*
 * Send new records, BATCH at most. Returns true if it stopped at the
 * batch limit (more may be waiting), false if the ring is drained or
 * pacing holds the next record back.
 */
static bool send_new(struct ncx_netcon *nc, bool *held)
{
	*held = false;
	for (int i = 0; i < BATCH; i++) {
		struct ncx_ring_reader save = nc->rd;
		struct emit_ctx e = { nc, -1, 0, 0 };
		struct ncx_ring_rec rec;
		uint64_t seq = nc->next_seq, now;
		unsigned frags = 0;
		size_t len;

		if (ncx_ring_read(nc->ring, &nc->rd, &rec, nc->text, NCX_RING_TEXT_MAX) != 1)
			return false;
		len = prepare(nc, &rec, &seq, false);
		if (!len || ncx_ext_fragment(nc->out, len, count_dgram, &frags) || !frags) {
			note_lost(nc, &rec);
			nc->skipped++;
			continue;
		}
		now = ncx_now_us();
		if (!ncx_tx_may_send(nc->tx, frags, now)) {
			nc->rd = save;	/* it waits in the ring */
			*held = true;
			return false;
		}
		note_lost(nc, &rec);
		if (!nc->started || seq < nc->next_seq) {
			ncx_tx_start(nc->tx, seq);
			nc->started = true;
			nc->base_seq = seq;
		}
		(void)ncx_ext_fragment(nc->out, len, emit_dgram, &e);
		ncx_tx_sent(nc->tx, seq, rec.pos, frags, now);
		nc->next_seq = seq + 1;
	}
	return true;
}

/* ---- the thread --------------------------------------------------------- */

static void publish(struct ncx_netcon *nc)
{
	struct ncx_netcon_stats *st = &nc->pub;

	pthread_mutex_lock(&nc->lock);
	ncx_tx_stats(nc->tx, &st->tx);
	st->forged = nc->forged;
	st->bad_tag = nc->bad_tag;
	st->send_errors = nc->send_errors;
	st->ring_lost = nc->ring_lost;
	st->skipped = nc->skipped;
	st->acked = nc->started ? ncx_tx_acked(nc->tx) : UINT64_MAX;
	st->unacked = 0;
	for (unsigned t = 0; t < nc->cfg.ntargets; t++) {
		uint64_t u = ncx_tx_unacked(nc->tx, t);

		if (u > st->unacked)
			st->unacked = u;
	}
	nc->pub_pos = nc->rd.pos;
	nc->pub_all_acked = ncx_tx_all_acked(nc->tx);
	pthread_cond_broadcast(&nc->cond);
	pthread_mutex_unlock(&nc->lock);
}

static int poll_timeout(const struct ncx_netcon *nc, bool busy, bool held, uint64_t now)
{
	uint64_t d = ncx_tx_next_deadline(nc->tx);
	int ms = busy ? 0 : held || nc->ring_fd < 0 ? POLL_MS : IDLE_MS;

	if ((nc->notice.gone || nc->notice.lost) && nc->notice.last_us) {
		uint64_t due = nc->notice.last_us + NOTICE_US;

		if (due < d)
			d = due;
	}
	if (d != UINT64_MAX && !busy) {
		uint64_t left = d > now ? (d - now + 999) / 1000 : 0;

		if (left < (uint64_t)ms)
			ms = (int)left;
	}
	return ms;
}

static void *run(void *arg)
{
	struct ncx_netcon *nc = arg;
	struct pollfd p[4];
	sigset_t all;
	nfds_t np = 0;
	int stop_idx;

	/* Leave asynchronous signals to the program's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (int i = 0; i < 2; i++)
		if (nc->fd[i] >= 0)
			p[np++] = (struct pollfd){ .fd = nc->fd[i], .events = POLLIN };
	stop_idx = (int)np;
	p[np++] = (struct pollfd){ .fd = nc->stop_fd, .events = POLLIN };
	if (nc->ring_fd >= 0)
		p[np++] = (struct pollfd){ .fd = nc->ring_fd, .events = POLLIN };

	for (;;) {
		uint64_t now;
		bool busy, held, armed = false;
		int ms, rc;

		for (int i = 0; i < 2; i++)
			if (nc->fd[i] >= 0)
				receive(nc, nc->fd[i]);
		ncx_tx_tick(nc->tx, ncx_now_us(), resend, nc);
		busy = send_new(nc, &held);
		now = ncx_now_us();
		flush_notice(nc, now);
		publish(nc);
		ms = poll_timeout(nc, busy, held, now);
		if (ms && !held && nc->ring_fd >= 0) {
			/* Sleep until a writer finishes a record at our position. */
			int a = ncx_ring_wait_arm(nc->ring, nc->rd.pos);

			armed = true;
			if (a == 1)
				ms = 0;
			else if (a == 2 && ms > 1)
				ms = 1;
		}
		rc = poll(p, np, ms);
		if (armed) {
			uint64_t v;

			ncx_ring_wait_disarm(nc->ring);
			if (read(nc->ring_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: not signalled */
			}
		}
		if (rc > 0 && (p[stop_idx].revents & POLLIN))
			break;
	}
	pthread_mutex_lock(&nc->lock);
	nc->pub_stopped = true;
	pthread_cond_broadcast(&nc->cond);
	pthread_mutex_unlock(&nc->lock);
	return NULL;
}

/* ---- set-up ------------------------------------------------------------- */

static int check_config(const struct ncx_netcon_config *cfg)
{
	if (cfg->ntargets < 1 || cfg->ntargets > NCX_TX_TARGETS_MAX)
		return -EINVAL;
	for (unsigned t = 0; t < cfg->ntargets; t++) {
		const struct ncx_addr *a = &cfg->targets[t];

		if ((a->family != AF_INET && a->family != AF_INET6) || !a->port)
			return -EINVAL;
		for (unsigned u = 0; u < t; u++)
			if (ncx_addr_equal(a, &cfg->targets[u]))
				return -EINVAL;	/* one target twice: acks could not be told apart */
	}
	return 0;
}

static bool uses_family(const struct ncx_netcon_config *cfg, int family)
{
	for (unsigned t = 0; t < cfg->ntargets; t++)
		if (cfg->targets[t].family == family)
			return true;
	return false;
}

static int bind_any(int family, uint16_t port)
{
	struct ncx_addr a = { .family = (uint8_t)family, .port = port };

	return ncx_udp_bind(&a, NULL);
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct ncx_addr a;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) ||
	    ncx_addr_from_sockaddr(&a, (struct sockaddr *)&ss, sl))
		return 0;
	return a.port;
}

/*
 * One socket per family in use, both on the same port. With an ephemeral
 * port the second family may find it taken: try another few.
 */
static int bind_sockets(struct ncx_netcon *nc)
{
	bool v4 = uses_family(&nc->cfg, AF_INET), v6 = uses_family(&nc->cfg, AF_INET6);
	int first = v4 ? 0 : 1;

	for (int tries = 0; tries < 16; tries++) {
		int fd = bind_any(first ? AF_INET6 : AF_INET, nc->cfg.src_port);

		if (fd < 0)
			return fd;
		nc->fd[first] = fd;
		nc->port = bound_port(fd);
		if (!nc->port)
			return -EADDRNOTAVAIL;
		if (!(v4 && v6))
			return 0;
		fd = bind_any(AF_INET6, nc->port);
		if (fd >= 0) {
			nc->fd[1] = fd;
			return 0;
		}
		close(nc->fd[0]);
		nc->fd[0] = -1;
		if (fd != -EADDRINUSE || nc->cfg.src_port)
			return fd;
	}
	return -EADDRINUSE;
}

static void destroy(struct ncx_netcon *nc)
{
	explicit_bzero(&nc->cfg.key, sizeof(nc->cfg.key));	/* no key left in freed memory */
	for (int i = 0; i < 2; i++)
		if (nc->fd[i] >= 0)
			close(nc->fd[i]);
	if (nc->stop_fd >= 0)
		close(nc->stop_fd);
	if (nc->ring_fd >= 0) {
		ncx_ring_notify_del(nc->ring, nc->ring_fd);	/* no writer uses it after this */
		close(nc->ring_fd);
	}
	ncx_tx_free(nc->tx);
	free(nc->text);
	free(nc->out);
	free(nc->dgram);
	pthread_mutex_destroy(&nc->lock);
	pthread_cond_destroy(&nc->cond);
	free(nc);
}

/* A nonzero random id: a new run is a new stream to the receiver. 8 bytes
 * never come short; a signal before any came is tried again. */
static int random_id(uint64_t *id)
{
	do {
		ssize_t n = getrandom(id, sizeof(*id), 0);

		if (n < 0 && errno == EINTR)
			*id = 0;
		else if (n != (ssize_t)sizeof(*id))
			return n < 0 ? -errno : -EIO;
	} while (!*id);
	return 0;
}

/* wait_acked's timeout is on the monotonic clock: wall-clock steps do not move it. */
static void init_sync(struct ncx_netcon *nc)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&nc->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nc->cond, &ca);
	pthread_condattr_destroy(&ca);
}

int ncx_netcon_start(struct ncx_netcon **out, const struct ncx_netcon_config *cfg,
		     struct ncx_ring *ring, ncx_netcon_render_fn render, void *arg)
{
	struct ncx_tx_config tc;
	struct ncx_netcon *nc;
	int err;

	if (!out || !cfg || !ring || !render || check_config(cfg))
		return -EINVAL;
	nc = calloc(1, sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	nc->fd[0] = nc->fd[1] = nc->stop_fd = nc->ring_fd = -1;
	init_sync(nc);
	nc->cfg = *cfg;
	nc->ring = ring;
	nc->render = render;
	nc->arg = arg;
	nc->log_ring = ring == ncx_log_ring();
	tc = cfg->tx;
	tc.ntargets = cfg->ntargets;
	tc.gone = send_gone;
	nc->tx = ncx_tx_new(&tc);
	nc->text = malloc(NCX_RING_TEXT_MAX);
	nc->out = malloc(OUT_CAP);
	nc->dgram = cfg->auth ? malloc(DGRAM_CAP) : NULL;
	if (!nc->tx || !nc->text || !nc->out || (cfg->auth && !nc->dgram)) {
		err = nc->tx ? -ENOMEM : -EINVAL;
		goto fail;
	}
	nc->id = cfg->stream_id;
	if (!nc->id && (err = random_id(&nc->id)))
		goto fail;
	for (unsigned t = 0; t < cfg->ntargets; t++)
		nc->sslen[t] = ncx_addr_to_sockaddr(&cfg->targets[t], &nc->ss[t]);
	err = bind_sockets(nc);
	if (err)
		goto fail;
	nc->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nc->stop_fd < 0) {
		err = -errno;
		goto fail;
	}
	/* The ring's wake-up; without one (all slots taken), poll every POLL_MS. */
	nc->ring_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nc->ring_fd >= 0 && ncx_ring_notify_add(ring, nc->ring_fd)) {
		close(nc->ring_fd);
		nc->ring_fd = -1;
	}
	ncx_ring_reader_init(ring, &nc->rd, cfg->from_oldest ? NCX_RING_OLDEST : NCX_RING_NEWEST);
	nc->pub_pos = nc->rd.pos;
	nc->pub_all_acked = true;
	nc->pub.acked = UINT64_MAX;
	err = -pthread_create(&nc->thread, NULL, run, nc);
	if (err)
		goto fail;
	*out = nc;
	return 0;
fail:
	destroy(nc);
	return err;
}

int ncx_netcon_wait_acked(struct ncx_netcon *nc, int timeout_ms)
{
	uint64_t target = ncx_ring_head(nc->ring);
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	if (timeout_ms >= 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L)
			until.tv_sec++, until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&nc->lock);
	while (!((int64_t)(nc->pub_pos - target) >= 0 && nc->pub_all_acked)) {
		if (nc->pub_stopped) {
			rc = -ETIMEDOUT;
			break;
		}
		if (timeout_ms < 0) {
			pthread_cond_wait(&nc->cond, &nc->lock);
		} else if (pthread_cond_timedwait(&nc->cond, &nc->lock, &until) == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&nc->lock);
	return rc;
}

void ncx_netcon_stop(struct ncx_netcon *nc)
{
	uint64_t one = 1;

	if (!nc)
		return;
	if (write(nc->stop_fd, &one, sizeof(one)) != sizeof(one))
		abort();	/* an eventfd write cannot fail here; never hang in join */
	pthread_join(nc->thread, NULL);
	destroy(nc);
}

void ncx_netcon_get_stats(struct ncx_netcon *nc, struct ncx_netcon_stats *st)
{
	pthread_mutex_lock(&nc->lock);
	*st = nc->pub;
	pthread_mutex_unlock(&nc->lock);
}

uint16_t ncx_netcon_port(const struct ncx_netcon *nc)
{
	return nc->port;
}

uint64_t ncx_netcon_stream_id(const struct ncx_netcon *nc)
{
	return nc->id;
}

/* ---- the log core's records --------------------------------------------- */

size_t ncx_netcon_render_log(void *arg, const struct ncx_ring_rec *rec, const char *text,
			     char *out, size_t cap, uint64_t *seq)
{
	const struct ncx_netcon_log *l = arg;
	bool all = !l || (l->flags & NCX_CON_ALLDATA);
	struct ncx_log_record r;
	size_t n;

	if (!all && rec->meta.level > l->level)
		return 0;
	if (all)
		*seq = rec->seq;
	memset(&r, 0, sizeof(r));
	r.seq = *seq;
	r.ts_usec = rec->meta.ts_usec;
	r.tid = rec->meta.tid;
	r.cpu = rec->meta.cpu;
	r.level = rec->meta.level;
	r.facility = rec->meta.facility;
	r.kind = (uint8_t)(rec->meta.flags & 0xff);
	r.flags = (uint8_t)(rec->meta.flags >> 8);
	r.text = text;
	r.len = rec->text_len;
	n = ncx_log_format_ext(&r, out, cap);
	return n < cap ? n : cap;
}
