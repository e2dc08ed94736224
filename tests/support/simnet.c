/* SPDX-License-Identifier: MIT */
/*
 * simnet: see simnet.h. Test-only code: simple over fast, and every check
 * says what broke. Layout:
 *
 *   the rx adapter    the only three places that call the receiver engine:
 *                     rx_feed(), rx_tick() and rx_event() (keep it so: the
 *                     rx API is still moving)
 *   decisions         fuzzer bytes, then a seeded PRNG
 *   the network       two bounded queues ordered by arrival time
 *   records           deterministic text and dictionary per (who, seq)
 *   the sender        ring + tx + a driver shaped like lib/netcon.c's thread
 *   the loop          the fake clock
 */
#include "simnet.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ncx/addr.h>
#include <ncx/auth.h>
#include <ncx/ring.h>
#include <ncx/rx.h>
#include <ncx/tx.h>
#include <ncx/wire.h>

#define DGRAM_MAX 1024		/* every datagram here is at most NCX_WIRE_CHUNK */
#define TEXT_CAP 2048		/* longest raw text a scenario may ask for */
#define OUT_CAP (NCX_WIRE_HDR_MAX + NCX_WIRE_BODY_MAX + 64)
#define BATCH 64		/* as netcon: records per send round */
#define POLL_US 5000		/* as netcon: how soon a held record is retried */
#define SAME_TIME_MAX 200000	/* loop rounds without the clock moving: a livelock */

enum { TO_RX, TO_TX };
enum { RELIABLE, STOCK };	/* who sent a datagram to the receiver */

/* Per record of the reliable sender. */
enum {
	F_WRITTEN = 1,
	F_SENT = 2,		/* sent the first time */
	F_RING_LOST = 4,	/* overwritten before the first send */
	F_DECLARED = 8,		/* covered by a placeholder tx sent */
	F_DELIVERED = 16,
	F_GAPPED = 32,
};

struct dgram {
	uint64_t at, order;
	uint16_t len;
	uint8_t who;
	char data[DGRAM_MAX];
};

struct queue {
	struct dgram *slot;
	unsigned *heap;		/* slot indices, a min-heap on (at, order) */
	unsigned *free;
	unsigned n, nfree, cap;
};

struct sim {
	const struct simnet_scenario *sc;
	struct simnet_result *res;
	uint64_t now;
	bool healed;

	/* decisions */
	size_t byte_i;
	uint64_t prng;

	/* network */
	struct queue q[2];
	uint64_t order;
	struct ncx_addr addr[2];	/* the reliable and the stock sender */
	struct ncx_auth_key key;	/* the reliable sender's host key (sc->auth) */
	char signed_buf[DGRAM_MAX + NCX_AUTH_DGRAM_TAG_LEN];

	/* receiver */
	struct ncx_rx *rx;
	struct ncx_rx_config rxcfg;
	uint64_t cursor;		/* next seq of the reliable stream expected out */
	bool rx_started;		/* the receiver has put out something of it */
	int in_rx;			/* depth of rx calls (events only come from inside) */

	/* sender */
	struct ncx_ring ring;
	void *ring_mem;
	struct ncx_ring_reader rd;
	struct ncx_tx *tx;
	bool started;
	uint64_t next_seq;
	uint64_t written;		/* records logged so far */
	uint8_t *flags;			/* per seq */
	uint64_t *pos, *written_us;	/* per seq */
	uint64_t *block_cookie;		/* per NCX_TX_STRIDE block: first send's position */
	char *text, *out, *chk;
	unsigned stock_sent;
};

static void fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* SIMNET_TRACE=1 in the environment: every datagram and event on stderr. */
static int tracing = -1;

#define TRACE(s, ...)                                                                      \
	do {                                                                               \
		if (tracing < 0)                                                           \
			tracing = getenv("SIMNET_TRACE") != NULL;                          \
		if (tracing) {                                                             \
			fprintf(stderr, "%10llu ", (unsigned long long)(s)->now);          \
			fprintf(stderr, __VA_ARGS__);                                      \
		}                                                                          \
	} while (0)

static void fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!s->res->ok)
		return;	/* keep the first */
	s->res->ok = false;
	n = snprintf(s->res->why, sizeof(s->res->why), "seed %llu t=%llu us: ",
		     (unsigned long long)s->sc->seed, (unsigned long long)s->now);
	if (n < 0 || (size_t)n >= sizeof(s->res->why))
		return;
	va_start(ap, fmt);
	vsnprintf(s->res->why + n, sizeof(s->res->why) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- records: text and dictionary, a pure function of (seed, who, seq) ---- */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Raw text bytes: mostly letters, some bytes the wire must escape. */
static size_t gen_text(const struct sim *s, int who, uint64_t seq, char *out)
{
	const struct simnet_scenario *sc = s->sc;
	uint64_t h = mix(sc->seed ^ ((uint64_t)who << 56) ^ mix(seq));
	size_t len = sc->text_min + h % (sc->text_max - sc->text_min + 1);
	static const char odd[] = "\n\\\x01\x7f\xff\t;,=";

	for (size_t i = 0; i < len; i++) {
		uint64_t r;

		h ^= h << 13, h ^= h >> 7, h ^= h << 17;
		r = h >> 40;
		out[i] = r % 16 == 0 ? odd[(r >> 8) % (sizeof(odd) - 1)] : (char)('a' + (r >> 8) % 26);
	}
	return len;
}

/* A dictionary on every third record, in wire form. */
static size_t gen_dict(int who, uint64_t seq, char *out, size_t cap)
{
	int n;

	if (seq % 3)
		return 0;
	n = snprintf(out, cap, " SUBSYSTEM=sim\n SIM_WHO=%d\n SIM_SEQ=%llu\n", who,
		     (unsigned long long)seq);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Check a delivered record against what (who, seq) logged. */
static void check_record(struct sim *s, int who, const struct ncx_ext *r)
{
	struct ncx_span text, dict;
	char want[TEXT_CAP], wdict[128];
	size_t wlen = gen_text(s, who, r->seq, want), dlen = gen_dict(who, r->seq, wdict, sizeof(wdict));
	size_t got;

	ncx_ext_split_body(r->body, &text, &dict);
	got = ncx_unescape(text.p, text.len, s->chk, NCX_WIRE_BODY_MAX);
	if (got != wlen || memcmp(s->chk, want, wlen))
		fail(s, "sender %d seq %llu: text differs (%zu bytes, want %zu)", who,
		     (unsigned long long)r->seq, got, wlen);
	else if (dict.len != dlen || (dlen && memcmp(dict.p, wdict, dlen)))
		fail(s, "sender %d seq %llu: dictionary differs", who, (unsigned long long)r->seq);
	else if (who == RELIABLE && r->ts_usec != s->written_us[r->seq])
		fail(s, "seq %llu: timestamp %llu, logged at %llu", (unsigned long long)r->seq,
		     (unsigned long long)r->ts_usec, (unsigned long long)s->written_us[r->seq]);
}

/* ---- the sender's knowledge: what it can no longer produce ---------------- */

/*
 * True if the driver could not send seq again: overwritten in the ring
 * before its first send, or overwritten since, or the checkpoint it would
 * be found from is overwritten (the driver then says gone, as netcon does).
 */
static bool sender_lacks(struct sim *s, uint64_t seq)
{
	uint64_t tail = ncx_ring_tail(&s->ring), blk = seq / NCX_TX_STRIDE;

	if (seq >= s->written)
		return false;
	if (s->flags[seq] & F_RING_LOST)
		return true;
	if ((int64_t)(tail - s->pos[seq]) > 0)
		return true;
	return s->block_cookie[blk] != UINT64_MAX && (int64_t)(tail - s->block_cookie[blk]) > 0;
}

/* ---- decisions ------------------------------------------------------------- */

/* 16 random bits: the high byte from the fuzzer's input while it lasts. */
static unsigned draw(struct sim *s)
{
	uint64_t x = s->prng;
	unsigned hi;

	x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	s->prng = x;
	hi = (unsigned)(x >> 32) & 0xff;
	if (s->byte_i < s->sc->nbytes)
		hi = s->sc->bytes[s->byte_i++];
	return hi << 8 | ((unsigned)(x >> 48) & 0xff);
}

static bool chance(struct sim *s, unsigned permille)
{
	return permille && (uint64_t)draw(s) * 1000 < (uint64_t)permille * 65536;
}

/* ---- the network ----------------------------------------------------------- */

static bool dg_before(const struct queue *q, unsigned a, unsigned b)
{
	const struct dgram *x = &q->slot[a], *y = &q->slot[b];

	return x->at < y->at || (x->at == y->at && x->order < y->order);
}

static int q_init(struct queue *q, unsigned cap)
{
	q->slot = calloc(cap, sizeof(*q->slot));
	q->heap = calloc(cap, sizeof(*q->heap));
	q->free = calloc(cap, sizeof(*q->free));
	if (!q->slot || !q->heap || !q->free)
		return -ENOMEM;
	q->cap = cap;
	for (unsigned i = 0; i < cap; i++)
		q->free[q->nfree++] = cap - 1 - i;
	return 0;
}

static void q_free(struct queue *q)
{
	free(q->slot);
	free(q->heap);
	free(q->free);
}

static uint64_t q_next(const struct queue *q)
{
	return q->n ? q->slot[q->heap[0]].at : UINT64_MAX;
}

/* Put one copy in flight, arriving after the delay and some jitter. */
static void q_put(struct sim *s, int dir, int who, const void *d, size_t len)
{
	struct queue *q = &s->q[dir];
	struct dgram *g;
	unsigned i, k;

	if (!q->nfree) {
		s->res->net_full++;
		return;
	}
	k = q->free[--q->nfree];
	g = &q->slot[k];
	g->at = s->now + s->sc->delay_us +
		(s->sc->jitter_us ? (uint64_t)draw(s) * s->sc->jitter_us / 65535 : 0);
	g->order = s->order++;
	g->len = (uint16_t)len;
	g->who = (uint8_t)who;
	memcpy(g->data, d, len);
	for (i = q->n++; i > 0 && dg_before(q, k, q->heap[(i - 1) / 2]); i = (i - 1) / 2)
		q->heap[i] = q->heap[(i - 1) / 2];
	q->heap[i] = k;
}

/* Send one datagram: maybe lost, maybe duplicated. */
static void net_send(struct sim *s, int dir, int who, const void *d, size_t len)
{
	unsigned loss = dir == TO_RX ? s->sc->loss_to_rx : s->sc->loss_to_tx;

	if (s->sc->auth && dir == TO_RX && who == RELIABLE && len <= DGRAM_MAX) {
		long n;

		memcpy(s->signed_buf, d, len);
		n = ncx_auth_dgram_sign(&s->key, s->signed_buf, len, sizeof(s->signed_buf));
		if (n < 0) {
			fail(s, "a datagram of %zu bytes could not be tagged", len);
			return;
		}
		d = s->signed_buf;
		len = (size_t)n;
	}

	if (len > DGRAM_MAX) {
		fail(s, "a datagram of %zu bytes", len);
		return;
	}
	(*(dir == TO_RX ? &s->res->to_rx : &s->res->to_tx))++;
	TRACE(s, "%s %d: %.*s\n", dir == TO_RX ? "send>rx" : "send>tx", who,
	      (int)(len < 80 ? len : 80), (const char *)d);
	if (s->healed)
		loss = 0;
	if (chance(s, loss))
		s->res->net_lost++;
	else
		q_put(s, dir, who, d, len);
	if (!s->healed && chance(s, s->sc->dup)) {
		s->res->net_dup++;
		q_put(s, dir, who, d, len);
	}
}

/* Take the first datagram due by now into *out (a copy: the slot is reused). */
static bool q_take(struct sim *s, int dir, struct dgram *out)
{
	struct queue *q = &s->q[dir];
	unsigned top, last, i = 0;

	if (!q->n || q->slot[q->heap[0]].at > s->now)
		return false;
	top = q->heap[0];
	*out = q->slot[top];
	last = q->heap[--q->n];
	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n && dg_before(q, q->heap[c + 1], q->heap[c]))
			c++;
		if (!dg_before(q, q->heap[c], last))
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	if (q->n)
		q->heap[i] = last;
	q->free[q->nfree++] = top;
	return true;
}

/* ---- the rx adapter: every call into the receiver engine is here ----------- */

static void on_gap(struct sim *s, const struct ncx_rx_event *ev);

/* The receiver's first record or gap of the reliable stream. */
static void rx_stream_start(struct sim *s)
{
	s->rx_started = true;
}

/* The one event handler. */
static void rx_event(void *arg, const struct ncx_rx_event *ev)
{
	struct sim *s = arg;
	int who = ncx_addr_equal(ev->from, &s->addr[RELIABLE]) ? RELIABLE : STOCK;

	if (!s->in_rx)
		fail(s, "an rx event outside an rx call");
	/* A feed's events carry its context (here: the sender's address). */
	if (ev->ctx && !ncx_addr_equal(ev->ctx, ev->from))
		fail(s, "an event of one sender with the context of another");
	if (ev->kind == NCX_RX_RECORD)
		TRACE(s, "rx RECORD %d: %llu\n", who, (unsigned long long)ev->record.seq);
	else if (ev->kind == NCX_RX_GAP)
		TRACE(s, "rx GAP %d: %llu..%llu\n", who, (unsigned long long)ev->gap.first,
		      (unsigned long long)ev->gap.last);
	else if (ev->kind == NCX_RX_DROP)
		TRACE(s, "rx DROP %d: %s, %llu records, seq %llu\n", who,
		      ncx_rx_drop_reason_name(ev->drop.reason), (unsigned long long)ev->drop.records,
		      (unsigned long long)ev->drop.seq);
	else if (ev->kind != NCX_RX_RESPONSE)
		TRACE(s, "rx event %d from %d\n", (int)ev->kind, who);
	switch (ev->kind) {
	case NCX_RX_RECORD:
		if (who == STOCK) {
			s->res->stock_delivered++;
			check_record(s, STOCK, &ev->record);
			break;
		}
		rx_stream_start(s);
		if (ev->record.seq != s->cursor || ev->record.seq >= s->written) {
			fail(s, "RECORD seq %llu, expected %llu (%llu logged)",
			     (unsigned long long)ev->record.seq, (unsigned long long)s->cursor,
			     (unsigned long long)s->written);
			break;
		}
		if (s->flags[ev->record.seq] & (F_DELIVERED | F_GAPPED)) {
			fail(s, "seq %llu delivered twice or after its gap",
			     (unsigned long long)ev->record.seq);
			break;
		}
		s->flags[ev->record.seq] |= F_DELIVERED;
		s->res->delivered++;
		if (s->now - s->written_us[ev->record.seq] > s->res->max_latency_us)
			s->res->max_latency_us = s->now - s->written_us[ev->record.seq];
		s->cursor++;
		check_record(s, RELIABLE, &ev->record);
		break;
	case NCX_RX_GAP:
		if (who == STOCK) {
			s->res->stock_gaps++;
			if (ev->gap.lost)
				fail(s, "a stock sender's gap reported as lost");
			break;
		}
		rx_stream_start(s);
		on_gap(s, ev);
		break;
	case NCX_RX_RESPONSE:
		s->res->responses++;
		if (who != RELIABLE || !ev->reliable) {
			fail(s, "a response to a sender that never said ncrx=1");
			break;
		}
		net_send(s, TO_TX, RELIABLE, ev->response.p, ev->response.len);
		break;
	case NCX_RX_REBOOT:
		if (who == RELIABLE)
			fail(s, "REBOOT of the reliable sender (%llu -> %llu)",
			     (unsigned long long)ev->reboot.prev_seq,
			     (unsigned long long)ev->reboot.seq);
		break;
	case NCX_RX_LEGACY:
		fail(s, "a LEGACY event: nobody sends legacy here");
		break;
	case NCX_RX_DROP:
		if (ev->drop.reason == NCX_DROP_WINDOW)
			s->res->rx_window += ev->drop.records;
		if (ev->drop.reason == NCX_DROP_MALFORMED)
			fail(s, "the engine found a datagram malformed");
		break;
	case NCX_RX_SENDER_GONE:
		break;
	}
}

static void rx_feed(struct sim *s, const struct dgram *g)
{
	TRACE(s, "rx feed %d: %.*s\n", g->who, (int)(g->len < 80 ? g->len : 80), g->data);
	s->in_rx++;
	ncx_rx_feed(s->rx, &s->addr[g->who], g->data, g->len, s->now, &s->addr[g->who]);
	s->in_rx--;
}

static void rx_tick(struct sim *s)
{
	s->in_rx++;
	ncx_rx_tick(s->rx, s->now);
	s->in_rx--;
}

static void rx_flush(struct sim *s)
{
	s->in_rx++;
	ncx_rx_flush(s->rx, s->now);
	s->in_rx--;
}

/* A lost gap of the reliable sender: in order, and only what was really lost. */
static void on_gap(struct sim *s, const struct ncx_rx_event *ev)
{
	uint64_t first = ev->gap.first, last = ev->gap.last;

	if (!ev->gap.lost)
		fail(s, "a reliable sender's gap not reported as lost");
	if (first != s->cursor || last < first || last >= s->written) {
		fail(s, "GAP %llu..%llu, expected it to start at %llu (%llu logged)",
		     (unsigned long long)first, (unsigned long long)last,
		     (unsigned long long)s->cursor, (unsigned long long)s->written);
		return;
	}
	for (uint64_t q = first; q <= last; q++) {
		if (s->flags[q] & (F_DELIVERED | F_GAPPED)) {
			fail(s, "seq %llu in a GAP after it was delivered or gapped",
			     (unsigned long long)q);
			return;
		}
		s->flags[q] |= F_GAPPED;
		if ((s->flags[q] & F_DECLARED) || sender_lacks(s, q)) {
			s->res->gap_gone++;
		} else if (s->now - s->written_us[q] >= s->rxcfg.reliable_hole_us) {
			s->res->gap_timeout++;
		} else {
			fail(s, "seq %llu reported lost in GAP %llu..%llu, but the sender has it "
				"and it was logged only %llu us ago",
			     (unsigned long long)q, (unsigned long long)first,
			     (unsigned long long)last, (unsigned long long)(s->now - s->written_us[q]));
			return;
		}
	}
	s->cursor = last + 1;
}

/* ---- the sender: ring, tx, and a driver shaped like netcon's thread -------- */

/* Render a ring record (netcon's render + prepare): extended, ncrx=1. */
static size_t render(struct sim *s, const struct ncx_ring_rec *rec, bool emergency)
{
	struct ncx_ext e = {
		.facility = rec->meta.facility,
		.level = rec->meta.level,
		.flag = '-',
		.seq = rec->seq,
		.ts_usec = rec->meta.ts_usec,
		.caller_kind = 'T',
		.caller_id = rec->meta.tid,
		.emergency = emergency,
		.reliable = true,
		.id = s->sc->stream_id,
	};
	char dict[128];
	size_t dlen = gen_dict(RELIABLE, rec->seq, dict, sizeof(dict));
	size_t n = ncx_ext_format(&e, s->text, rec->text_len, dict, dlen, s->out, OUT_CAP);

	if (n > OUT_CAP) {
		fail(s, "seq %llu renders to %zu bytes", (unsigned long long)rec->seq, n);
		return 0;
	}
	return n;
}

struct emit {
	struct sim *s;
	int who;
	unsigned n;
};

static int emit_count(void *arg, const void *d, size_t len)
{
	(void)d, (void)len;
	((struct emit *)arg)->n++;
	return 0;
}

static int emit_send(void *arg, const void *d, size_t len)
{
	struct emit *e = arg;

	net_send(e->s, TO_RX, e->who, d, len);
	e->n++;
	return 0;
}

/* tx's resend callback: walk from the checkpoint's position, as netcon does. */
static int resend(void *arg, unsigned t, uint64_t seq, uint64_t cookie, bool emergency)
{
	struct sim *s = arg;
	struct ncx_ring_reader rd = { .pos = cookie };
	unsigned found = 0;

	/* A seq skipped over (overwritten before its first send) may be asked
	 * for: the walk below passes it and says gone, as netcon's does. */
	if (t != 0 || seq >= s->written || !(s->flags[seq] & (F_SENT | F_RING_LOST))) {
		fail(s, "tx asked to resend seq %llu to target %u, never sent",
		     (unsigned long long)seq, t);
		return 0;
	}
	if ((int64_t)(ncx_ring_tail(&s->ring) - cookie) > 0)
		return 0;
	while (found < NCX_TX_STRIDE && (int64_t)(s->rd.pos - rd.pos) > 0) {
		struct ncx_ring_rec rec;
		size_t len;

		if (ncx_ring_read(&s->ring, &rd, &rec, s->text, TEXT_CAP) != 1 || rec.lost_bytes ||
		    rec.lost_records)
			break;
		found++;
		if (rec.seq > seq)
			break;
		if (rec.seq == seq) {
			struct emit e = { s, RELIABLE, 0 };

			len = render(s, &rec, emergency);
			if (!len)
				return 0;
			(void)ncx_ext_fragment(s->out, len, emit_send, &e);
			return (int)e.n;
		}
	}
	return 0;
}

/* tx's gone callback: check the claim, then send the placeholder. */
static int send_gone(void *arg, unsigned t, uint64_t first, uint64_t count)
{
	struct sim *s = arg;
	char d[NCX_WIRE_GONE_MAX];
	size_t n;

	if (t != 0 || !count || first + count > s->written) {
		fail(s, "placeholder for %llu+%llu to target %u (%llu logged)",
		     (unsigned long long)first, (unsigned long long)count, t,
		     (unsigned long long)s->written);
		return 0;
	}
	for (uint64_t q = first; q < first + count; q++) {
		if (!sender_lacks(s, q)) {
			fail(s, "placeholder %llu+%llu covers seq %llu, which the sender has",
			     (unsigned long long)first, (unsigned long long)count,
			     (unsigned long long)q);
			return 0;
		}
		s->flags[q] |= F_DECLARED;
	}
	n = ncx_gone_format(first, count, s->sc->stream_id, d, sizeof(d));
	if (n > sizeof(d))
		return 0;
	net_send(s, TO_RX, RELIABLE, d, n);
	return 1;
}

/* New records from the ring, BATCH at most (netcon's send_new). Returns
 * true if more may be waiting; *held if tx held the next one back. */
static bool send_new(struct sim *s, bool *held)
{
	*held = false;
	for (int i = 0; i < BATCH; i++) {
		struct ncx_ring_reader save = s->rd;
		struct emit cnt = { s, RELIABLE, 0 }, e = { s, RELIABLE, 0 };
		struct ncx_ring_rec rec;
		size_t len;

		if (ncx_ring_read(&s->ring, &s->rd, &rec, s->text, TEXT_CAP) != 1)
			return false;
		len = render(s, &rec, false);
		if (!len || ncx_ext_fragment(s->out, len, emit_count, &cnt) || !cnt.n) {
			fail(s, "seq %llu does not render", (unsigned long long)rec.seq);
			return false;
		}
		if (!ncx_tx_may_send(s->tx, cnt.n, s->now)) {
			s->rd = save;
			*held = true;
			return false;
		}
		for (uint64_t q = rec.seq - rec.lost_records; q < rec.seq; q++) {
			s->flags[q] |= F_RING_LOST;
			s->res->ring_lost++;
		}
		if (!s->started) {
			/* Seqs overwritten before the stream's first record are
			 * nobody's to report: the receiver starts where we do. */
			ncx_tx_start(s->tx, rec.seq);
			s->started = true;
			s->cursor = rec.seq;
			s->res->before_start = rec.seq;
		}
		(void)ncx_ext_fragment(s->out, len, emit_send, &e);
		ncx_tx_sent(s->tx, rec.seq, rec.pos, cnt.n, s->now);
		s->flags[rec.seq] |= F_SENT;
		if (s->block_cookie[rec.seq / NCX_TX_STRIDE] == UINT64_MAX)
			s->block_cookie[rec.seq / NCX_TX_STRIDE] = rec.pos;
		s->next_seq = rec.seq + 1;
	}
	return true;
}

/* The workload logs one record into the ring. */
static void log_one(struct sim *s)
{
	struct ncx_ring_meta m = { .ts_usec = s->now, .tid = 1, .cpu = 0, .level = 6 };
	char text[TEXT_CAP];
	uint64_t seq = s->written;
	size_t len = gen_text(s, RELIABLE, seq, text);
	uint64_t got, pos = ncx_ring_head(&s->ring);

	if (ncx_ring_write(&s->ring, &m, text, len, &got) || got != seq) {
		fail(s, "ring write of seq %llu failed", (unsigned long long)seq);
		return;
	}
	s->pos[seq] = pos;
	s->written_us[seq] = s->now;
	s->flags[seq] |= F_WRITTEN;
	s->written++;
}

/* The stock sender: each record once, no ncrx, as a stock netconsole. */
static void stock_one(struct sim *s)
{
	struct ncx_ext e = { .level = 6, .flag = '-', .seq = s->stock_sent, .ts_usec = s->now };
	char text[TEXT_CAP], dict[128];
	size_t len = gen_text(s, STOCK, s->stock_sent, text);
	size_t dlen = gen_dict(STOCK, s->stock_sent, dict, sizeof(dict));
	size_t n = ncx_ext_format(&e, text, len, dict, dlen, s->out, OUT_CAP);
	struct emit em = { s, STOCK, 0 };

	if (n <= OUT_CAP)
		(void)ncx_ext_fragment(s->out, n, emit_send, &em);
	s->stock_sent++;
}

/* ---- set-up and the loop ---------------------------------------------------- */

void simnet_default(struct simnet_scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->seed = 1;
	sc->delay_us = 1000;
	sc->jitter_us = 4000;
	sc->queue_max = 4096;
	sc->records = 200;
	sc->burst = 1;
	sc->interval_us = 2000;
	sc->text_min = 10;
	sc->text_max = 120;
	sc->ring_order = 16;
	sc->limit_us = 120000000;
}

static int setup(struct sim *s)
{
	const struct simnet_scenario *sc = s->sc;
	struct ncx_tx_config tc;
	size_t ring_size = (size_t)1 << sc->ring_order;
	uint64_t blocks = sc->records / NCX_TX_STRIDE + 1;

	s->prng = mix(sc->seed) | 1;
	s->addr[RELIABLE] = (struct ncx_addr){ .family = AF_INET, .port = 6665,
					       .addr = { 127, 0, 0, 2 } };
	s->addr[STOCK] = (struct ncx_addr){ .family = AF_INET, .port = 6665,
					    .addr = { 127, 0, 0, 3 } };
	if (q_init(&s->q[TO_RX], sc->queue_max) || q_init(&s->q[TO_TX], sc->queue_max))
		return -ENOMEM;

	ncx_rx_config_default(&s->rxcfg);
	if (sc->auth) {
		char text[NCX_ADDR_TEXT_MAX];
		size_t n = ncx_addr_format(&s->addr[RELIABLE], false, text, sizeof(text));

		s->rxcfg.auth = true;
		s->rxcfg.require_auth = !sc->stock_records;
		for (int i = 0; i < NCX_AUTH_KEY_BYTES; i++)
			s->rxcfg.auth_secret.k[i] = (uint8_t)(sc->seed >> (i % 8) * 8 ^ i);
		ncx_auth_derive(&s->rxcfg.auth_secret, text, n, &s->key);
	}
	s->rx = ncx_rx_new(&s->rxcfg, rx_event, s);

	ncx_tx_config_default(&tc);
	tc.max_pps = sc->max_pps;
	tc.gone = send_gone;
	s->tx = ncx_tx_new(&tc);

	s->ring_mem = aligned_alloc(64, ring_size);
	s->flags = calloc(sc->records + 1, 1);
	s->pos = calloc(sc->records + 1, sizeof(*s->pos));
	s->written_us = calloc(sc->records + 1, sizeof(*s->written_us));
	s->block_cookie = malloc(blocks * sizeof(*s->block_cookie));
	s->text = malloc(TEXT_CAP);
	s->out = malloc(OUT_CAP);
	s->chk = malloc(NCX_WIRE_BODY_MAX);
	if (!s->rx || !s->tx || !s->ring_mem || !s->flags || !s->pos || !s->written_us ||
	    !s->block_cookie || !s->text || !s->out || !s->chk)
		return -ENOMEM;
	memset(s->ring_mem, 0, ring_size);
	if (ncx_ring_init(&s->ring, s->ring_mem, ring_size))
		return -EINVAL;
	if (sc->text_max >= TEXT_CAP || sc->text_min > sc->text_max ||
	    sc->text_max > s->ring.text_max || !sc->burst || !sc->delay_us)
		return -EINVAL;
	for (uint64_t b = 0; b < blocks; b++)
		s->block_cookie[b] = UINT64_MAX;
	ncx_ring_reader_init(&s->ring, &s->rd, NCX_RING_OLDEST);
	return 0;
}

static void teardown(struct sim *s)
{
	q_free(&s->q[TO_RX]);
	q_free(&s->q[TO_TX]);
	ncx_rx_free(s->rx);
	ncx_tx_free(s->tx);
	free(s->ring_mem);
	free(s->flags);
	free(s->pos);
	free(s->written_us);
	free(s->block_cookie);
	free(s->text);
	free(s->out);
	free(s->chk);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The stock sender logs one record every 7 ms from 3 ms on. */
static uint64_t stock_at(unsigned i)
{
	return 3000 + (uint64_t)i * 7000;
}

int simnet_run(const struct simnet_scenario *sc, struct simnet_result *res)
{
	struct sim s = { .sc = sc, .res = res };
	uint64_t bursts = sc->burst ? (sc->records + sc->burst - 1) / sc->burst : 0;
	uint64_t last_log = bursts ? (bursts - 1) * sc->interval_us : 0;
	uint64_t heal_at = sc->heal_after_us ? last_log + sc->heal_after_us : UINT64_MAX;
	uint64_t limit = last_log + sc->heal_after_us + sc->limit_us, next_log = 0;
	unsigned same = 0;
	bool inconclusive = false;
	int err;

	memset(res, 0, sizeof(*res));
	res->ok = true;
	err = setup(&s);
	if (err) {
		teardown(&s);
		return err;
	}
	if (sc->stock_records && stock_at(sc->stock_records - 1) > last_log)
		limit += stock_at(sc->stock_records - 1);

	while (res->ok) {
		struct dgram g;
		uint64_t next;
		bool busy, held;

		if (s.now >= heal_at)
			s.healed = true;
		/* The receiver's side. */
		while (res->ok && q_take(&s, TO_RX, &g))
			rx_feed(&s, &g);
		if (ncx_rx_next_deadline(s.rx) <= s.now)
			rx_tick(&s);
		/* The sender's side, in netcon's order. */
		while (res->ok && q_take(&s, TO_TX, &g))
		{
			size_t plain = g.len;

			TRACE(&s, "tx response: %.*s\n", (int)(g.len < 80 ? g.len : 80), g.data);
			if (sc->auth && ncx_auth_resp_verify(&s.key, sc->stream_id, g.data, g.len,
							     &plain) != 1) {
				fail(&s, "a response without a good tag for the stream: %.*s",
				     (int)(g.len < 80 ? g.len : 80), g.data);
				break;
			}
			(void)ncx_tx_response(s.tx, 0, g.data, plain, s.now, resend, &s);
		}
		if (ncx_tx_next_deadline(s.tx) <= s.now)
			ncx_tx_tick(s.tx, s.now, resend, &s);
		while (s.written < sc->records && next_log <= s.now) {
			for (unsigned b = 0; b < sc->burst && s.written < sc->records; b++)
				log_one(&s);
			next_log += sc->interval_us;
		}
		while (s.stock_sent < sc->stock_records && stock_at(s.stock_sent) <= s.now)
			stock_one(&s);
		busy = send_new(&s, &held);
		if (!res->ok)
			break;

		/* Settled: everything logged is accounted for and acked. */
		if (s.written == sc->records && s.stock_sent == sc->stock_records &&
		    s.cursor == sc->records && s.rd.pos == ncx_ring_head(&s.ring) &&
		    (!s.started || ncx_tx_all_acked(s.tx)))
			break;
		if (sc->max_datagrams && res->to_rx + res->to_tx > sc->max_datagrams) {
			inconclusive = true;
			break;
		}
		if (s.now > limit) {
			fail(&s, "not settled: %llu of %llu accounted for, %llu unacked",
			     (unsigned long long)s.cursor, (unsigned long long)sc->records,
			     (unsigned long long)(s.started ? ncx_tx_unacked(s.tx, 0) : 0));
			break;
		}

		next = min64(q_next(&s.q[TO_RX]), q_next(&s.q[TO_TX]));
		next = min64(next, ncx_rx_next_deadline(s.rx));
		next = min64(next, ncx_tx_next_deadline(s.tx));
		if (s.written < sc->records)
			next = min64(next, next_log);
		if (s.stock_sent < sc->stock_records)
			next = min64(next, stock_at(s.stock_sent));
		if (!s.healed && heal_at != UINT64_MAX)
			next = min64(next, heal_at);
		if (held)
			next = min64(next, s.now + POLL_US);
		if (busy || next < s.now)
			next = s.now;
		if (next == UINT64_MAX) {
			fail(&s, "nothing left to happen, not settled: %llu of %llu accounted for",
			     (unsigned long long)s.cursor, (unsigned long long)sc->records);
			break;
		}
		if (next == s.now) {
			if (++same > SAME_TIME_MAX) {
				fail(&s, "livelock: the clock does not move");
				break;
			}
		} else {
			same = 0;
		}
		s.now = next;
	}
	if (res->ok && !inconclusive)
		rx_flush(&s);	/* the stock sender's open holes */
	if (res->ok && !inconclusive && s.cursor != sc->records)
		fail(&s, "after the flush: %llu of %llu accounted for",
		     (unsigned long long)s.cursor, (unsigned long long)sc->records);
	res->end_us = s.now;
	if (s.tx) {
		struct ncx_tx_stats ts;

		ncx_tx_stats(s.tx, &ts);
		res->placeholders = ts.placeholders;
		res->resent = ts.resent;
		res->emg_resent = ts.emg_resent;
		res->probes = ts.probes;
		res->emergencies = ts.emergencies;
		res->capped = ts.capped;
	}
	teardown(&s);
	return !res->ok ? -1 : inconclusive ? 1 : 0;
}
