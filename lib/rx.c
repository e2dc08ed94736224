/* SPDX-License-Identifier: MIT */
/*
 * rx: the receiver engine's API and its events. The contract is
 * include/ncx/rx.h; the data structures are described in rx_internal.h.
 * A datagram's way through the engine, file by file:
 *
 *   rx.c        ncx_rx_feed(): parse (wire), find the sender (rx_table.c)
 *   rx_admit.c  the one admission rule for records, fragments, placeholders
 *   rx_reasm.c  fragments, until a whole record goes back to rx_admit.c
 *   rx_window.c records ahead of a hole, held until it closes
 *   rx_stream.c delivery in seq order, gaps, stream starts, reboots
 *   rx_respond.c acks and retransmission requests to reliable senders
 *   rx_timer.c  every sender's next deadline, for ncx_rx_tick()
 *
 * Choices the header leaves open are written where they are made.
 */
#include <errno.h>
#include <sys/random.h>

#include "rx_internal.h"

/* ---- events --------------------------------------------------------------- */

void rx_ev_init(const struct ncx_rx *rx, struct ncx_rx_event *ev, enum ncx_rx_kind kind,
		struct sender *s, const struct ncx_addr *from, uint64_t now)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->from = s ? &s->addr : from;
	ev->user = s ? &s->user : NULL;
	ev->ctx = rx->ctx;
	ev->reliable = s ? s->reliable : false;
	ev->authed = s ? s->authed : false;
	ev->id = s ? s->id : 0;
	ev->rx_us = now;
	ev->pos = s ? s->next : 0;
}

void rx_emit_drop(struct ncx_rx *rx, struct sender *s, const struct ncx_addr *from,
		  enum ncx_rx_drop_reason why, uint64_t records, const uint64_t *seq, uint64_t now)
{
	struct ncx_rx_event ev;

	COUNT(rx, s, dropped[why], records);
	rx_ev_init(rx, &ev, NCX_RX_DROP, s, from, now);
	ev.drop.reason = why;
	ev.drop.records = records;
	ev.drop.has_seq = seq != NULL;
	ev.drop.seq = seq ? *seq : 0;
	rx->emit(rx->arg, &ev);
}

void rx_drop_seq(struct ncx_rx *rx, struct sender *s, enum ncx_rx_drop_reason why, uint64_t seq,
		 uint64_t now)
{
	rx_emit_drop(rx, s, NULL, why, 1, &seq, now);
}

/* ---- the API ------------------------------------------------------------- */

void ncx_rx_config_default(struct ncx_rx_config *cfg)
{
	cfg->window = 4096;
	cfg->max_senders = 100000;
	cfg->max_frags = 8;
	cfg->sender_bytes = 8u << 20;
	cfg->engine_bytes = 512u << 20;
	cfg->stock_hole_us = 250000;
	cfg->reliable_hole_us = 30000000;
	cfg->retx_us = 100000;
	cfg->ack_us = 100000;
	cfg->idle_us = 3600ULL * 1000000;
	cfg->resp_rate = 0;
	cfg->amplify = NCX_RX_AMPLIFY;
	cfg->start_us = 0;
	cfg->resume = NULL;
	cfg->resume_arg = NULL;
	cfg->new_stream_us = 1000000;
	cfg->auth = false;
	cfg->require_auth = false;
	memset(&cfg->auth_secret, 0, sizeof(cfg->auth_secret));
}

const char *ncx_rx_drop_reason_name(enum ncx_rx_drop_reason r)
{
	static const char *const names[NCX_DROP_REASON_COUNT] = {
		[NCX_DROP_MALFORMED] = "malformed",
		[NCX_DROP_DUPLICATE] = "duplicate",
		[NCX_DROP_LATE] = "late",
		[NCX_DROP_WINDOW] = "window",
		[NCX_DROP_MEMORY] = "memory",
		[NCX_DROP_FRAGS] = "frags",
		[NCX_DROP_TOO_MANY_SENDERS] = "too_many_senders",
		[NCX_DROP_UNASKED] = "unasked",
		[NCX_DROP_AUTH_BAD] = "auth_bad",
		[NCX_DROP_AUTH_MISSING] = "auth_missing",
		[NCX_DROP_UNVERIFIED] = "unverified",
	};

	return (unsigned)r < NCX_DROP_REASON_COUNT ? names[r] : "unknown";
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t c = 1;

	while (c < n && c < WIN_MAX_CAP)
		c <<= 1;
	return c;
}

static uint64_t engine_seed(const void *salt)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	/* No entropy yet (early boot): still differ per engine. */
	return (uint64_t)(uintptr_t)salt * 0x9e3779b97f4a7c15ULL ^ 0x6e63782d7278ULL;
}

struct ncx_rx *ncx_rx_new(const struct ncx_rx_config *cfg, ncx_rx_emit_fn emit, void *arg)
{
	struct ncx_rx *rx = calloc(1, sizeof(*rx));

	if (!rx)
		return NULL;
	if (cfg)
		rx->cfg = *cfg;
	else
		ncx_rx_config_default(&rx->cfg);
	/* A window of 0 would hold nothing ever: make it 1 (same meaning). */
	if (rx->cfg.window == 0)
		rx->cfg.window = 1;
	if (rx->cfg.window > WIN_MAX_CAP)
		rx->cfg.window = WIN_MAX_CAP;
	if (rx->cfg.retx_us == 0)
		rx->cfg.retx_us = 1; /* a timer must move forward */
	/* The LRU granule: the largest power of two of µs within idle_us / 64,
	 * at most 2^20 (~1 s); 1 µs for a tiny idle_us. */
	while (rx->lru_shift < 20 && (2ULL << rx->lru_shift) <= rx->cfg.idle_us / 64)
		rx->lru_shift++;
	if (!rx->cfg.idle_us)
		rx->lru_shift = 20; /* no expiry: the order matters to nothing */
	rx->ack_soon = rx->cfg.window / 2 ? rx->cfg.window / 2 : 1;
	rx->win_cap_max = pow2_at_least(rx->cfg.window);
	if (rx->win_cap_max < WIN_MIN_CAP)
		rx->win_cap_max = WIN_MIN_CAP;
	rx->resp_tokens = rx->cfg.resp_rate; /* a full second's worth to start */
	rx->emit = emit;
	rx->arg = arg;
	rx->seed = engine_seed(rx);
	if (rx_table_init(rx) < 0) {
		free(rx);
		return NULL;
	}
	return rx;
}

void ncx_rx_free(struct ncx_rx *rx)
{
	if (!rx)
		return;
	rx_table_free(rx);
	free(rx->heap);
	free(rx);
}

static void feed_malformed(struct ncx_rx *rx, const struct ncx_addr *from, size_t len,
			   uint64_t now)
{
	struct sender *s = rx_sender_any(rx, from);

	if (s) {
		s->st.datagrams++;
		s->st.bytes += len;
	}
	rx_emit_drop(rx, s, from, NCX_DROP_MALFORMED, 1, NULL, now);
}

/*
 * Does rec continue stream s, of another name (rx.h): at or past next
 * within the window, or below it what s would take for a copy of its own
 * (rx_stream.c's rule for seqs below next): a record it delivered (the same
 * fingerprint; a later fragment has none of its own), one it reported in a
 * gap, or, further back, one it may still be resent (never below an ack s
 * was sent more than the reliable hole timeout ago). So the stock kernel's
 * copies merge with `ncx forward`'s or the module's stream however far
 * behind they come (netconsole prints the whole log buffer when it starts),
 * while a new boot's records go to a stream of their own. A placeholder
 * never continues another stream: it is only its own stream's to make.
 */
static bool continues(struct ncx_rx *rx, struct sender *s, const struct ncx_ext *rec,
		      uint64_t now)
{
	uint64_t seq = rec->seq;
	unsigned i = (unsigned)(seq % NCX_RX_HISTORY);
	uint16_t fp;

	if (rec->gone || s->stream == STREAM_NONE)
		return false;
	if (seq >= s->next)
		return seq - s->next < rx->cfg.window;
	if (s->next - seq <= NCX_RX_HISTORY && !(s->hist_unk >> i & 1)) {
		if (!(s->hist_ok >> i & 1))
			return true; /* reported in a gap: late */
		return !rx_record_fp(rec, &fp) || s->hist_fp[i] == fp;
	}
	rx_promote_ack(rx, s, now);
	return s->stable_ack == NONE || seq > s->stable_ack;
}

/*
 * The stream a datagram belongs to, if the engine has it (rx.h): its named
 * stream; for one without a name, the named stream of its (address, port)
 * that it continues, else the unnamed one. A named stream's first datagram
 * takes over (*adopt) the unnamed stream it continues (a stock kernel heard
 * before `ncx forward` started), so the two paths stay one stream.
 */
static struct sender *route(struct ncx_rx *rx, const struct rx_streams *st,
			    const struct ncx_ext *rec, bool *adopt, uint64_t now)
{
	*adopt = false;
	if (rec->id) {
		if (st->match)
			return st->match;
		*adopt = st->unnamed && continues(rx, st->unnamed, rec, now);
		return *adopt ? st->unnamed : NULL;
	}
	if (st->named && continues(rx, st->named, rec, now))
		return st->named;
	return st->unnamed;
}

/* rec (parsed from buf, so its header is buf's and holds one ncmac key at
 * most) says it is tagged: 1 if the tag is good under the host's key, -1
 * if not. s: the stream it goes to, if known (its key is the host's). */
static int check_tag(const struct ncx_rx *rx, const struct sender *s, const struct ncx_addr *from,
		     const struct ncx_ext *rec, const void *buf, size_t len)
{
	size_t hdr = (size_t)(rec->header.p - (const char *)buf) + rec->header.len;
	struct ncx_auth_key k;

	if (!s)
		rx_host_key(rx, from, &k);
	return ncx_auth_dgram_check(s ? &s->key : &k, buf, len, hdr) == 1 ? 1 : -1;
}

static void feed_ext(struct ncx_rx *rx, const struct ncx_addr *from, const struct ncx_ext *rec,
		     const void *buf, size_t len, uint64_t now)
{
	struct rx_streams st;
	struct sender *s;
	bool adopt;
	int tag = 0;

	/* seq UINT64_MAX has no successor for next to become. */
	if (rec->seq == UINT64_MAX) {
		feed_malformed(rx, from, len, now);
		return;
	}
	rx_streams(rx, from, rec->id, &st);
	s = route(rx, &st, rec, &adopt, now);
	/* A datagram that fails authentication is counted, and nothing else:
	 * its bytes buy no response budget (NCX_RX_AMPLIFY), anyone can send them. */
	if (rx->cfg.auth && (rec->tagged || rx->cfg.require_auth || (s && s->authed))) {
		tag = rec->tagged ? check_tag(rx, s, from, rec, buf, len) : 0;
		if (tag < 0) {
			rx_emit_drop(rx, s, from, NCX_DROP_AUTH_BAD, 1, NULL, now);
			return;
		}
		/* A stream that tags its datagrams tags every one of them. */
		if (!tag && (rx->cfg.require_auth || (rec->id && s && s->authed))) {
			rx_emit_drop(rx, s, from, NCX_DROP_AUTH_MISSING, 1, NULL, now);
			return;
		}
	}
	if (adopt)
		s->id = rec->id; /* same chain: the hash is the address's */
	s = rx_sender_seen(rx, s, from, rec->id, st.hash, len, now);
	if (!s)
		return;
	if (tag > 0 && rec->id == s->id) {
		s->authed = true;
		s->tagged_rx = now;
	}
	if (s->authed && tag <= 0 && rec->id != s->id) {
		/* A stock kernel's copy: waits beside the stream, never in it. */
		rx_copy_add(rx, s, rec, now);
		rx_settle(rx, s, now);
		return;
	}
	/* For good: one stream, whichever path. But a placeholder is a claim:
	 * it may say what a new stream is, never turn a stock one reliable. */
	if (rec->reliable && (!rec->gone || s->stream == STREAM_NONE))
		s->reliable = true;
	if (rec->emergency)
		COUNT(rx, s, emergency, 1);
	rx_admit_ext(rx, s, rec, now);
	if (rec->emergency)
		rx_ack_emergency(rx, s, now);
	if (s->copies)
		rx_copies_trim(rx, s, now);
	rx_settle(rx, s, now);
}

static void feed_legacy(struct ncx_rx *rx, const struct ncx_addr *from, const void *buf,
			size_t len, uint64_t now)
{
	struct ncx_rx_event ev;
	struct ncx_legacy lg;
	struct sender *s;

	if (ncx_legacy_parse(buf, len, &lg) != 0) {
		feed_malformed(rx, from, len, now);
		return;
	}
	if (rx->cfg.require_auth) {
		rx_emit_drop(rx, rx_sender_find(rx, from, 0), from, NCX_DROP_AUTH_MISSING, 1, NULL,
			     now);
		return;
	}
	s = rx_sender_get(rx, from, 0, len, now);
	if (!s)
		return;
	COUNT(rx, s, legacy, 1);
	rx_ev_init(rx, &ev, NCX_RX_LEGACY, s, NULL, now);
	ev.legacy = lg;
	rx->emit(rx->arg, &ev);
}

void ncx_rx_feed(struct ncx_rx *rx, const struct ncx_addr *from, const void *buf, size_t len,
		 uint64_t now_us, void *ctx)
{
	struct ncx_ext rec;

	rx->ctx = ctx;
	rx->st.datagrams++;
	rx->st.bytes += len;
	/* Parse first: the common case pays for one pass, not two. */
	if (!buf || len == 0 || len > NCX_WIRE_DGRAM_MAX)
		feed_malformed(rx, from, len, now_us);
	else if (ncx_ext_parse(buf, len, &rec) == 0)
		feed_ext(rx, from, &rec, buf, len, now_us);
	else if (ncx_ext_looks_like(buf, len))
		feed_malformed(rx, from, len, now_us);
	else
		feed_legacy(rx, from, buf, len, now_us);
	rx->ctx = NULL;
}

void ncx_rx_tick(struct ncx_rx *rx, uint64_t now_us)
{
	rx_run_due(rx, now_us);
	rx_expire_idle(rx, now_us);
}

uint64_t ncx_rx_next_deadline(const struct ncx_rx *rx)
{
	uint64_t d = rx->heap_len ? rx->heap[0]->deadline : NONE;

	d = min64(d, rx_idle_deadline(rx));
	return d;
}

void ncx_rx_flush(struct ncx_rx *rx, uint64_t now_us)
{
	for (struct sender *s = rx_first(rx); s; s = rx_next(rx, s)) {
		rx_sender_flush(rx, s, now_us);
		rx_settle(rx, s, now_us);
	}
}

void ncx_rx_flush_resumable(struct ncx_rx *rx, uint64_t now_us)
{
	for (struct sender *s = rx_first(rx); s; s = rx_next(rx, s)) {
		if (!s->reliable) {
			rx_sender_flush(rx, s, now_us);
		} else {
			/* What continues the stream, then nothing more: what is held
			 * is freed unreported (the sender resends it to the next run). */
			if (s->stream == STREAM_STARTING)
				rx_start_end(rx, s, now_us);
			rx_win_discard(rx, s);
			rx_frags_discard(rx, s);
			rx_copies_discard(rx, s);
			if (s->stream != STREAM_NONE)
				s->top = s->next;
		}
		rx_settle(rx, s, now_us);
	}
}

void ncx_rx_stats(const struct ncx_rx *rx, struct ncx_rx_stats *out)
{
	*out = rx->st;
	out->senders = rx->nsenders;
	out->held_bytes = rx->held_bytes;
}

int ncx_rx_sender_stats(const struct ncx_rx *rx, const struct ncx_addr *from,
			struct ncx_rx_stats *out)
{
	const struct sender *s = rx_sender_any(rx, from);

	if (!s)
		return -ENOENT;
	*out = s->st;
	out->senders = 0;
	out->held_bytes = 0;
	return 0;
}

void ncx_rx_each_sender(const struct ncx_rx *rx, ncx_rx_sender_fn fn, void *arg)
{
	for (const struct sender *s = rx_first(rx); s; s = rx_next(rx, s))
		fn(arg, &s->addr, s->user, &s->st);
}

size_t ncx_rx_sender_bytes(void)
{
	/* The record, plus its share of a hash table kept at one bucket per sender. */
	return sizeof(struct sender) + sizeof(struct sender *);
}
