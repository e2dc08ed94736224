/* SPDX-License-Identifier: MIT */
/*
 * rx: the senders. A chained hash table keyed by (address, port, stream id),
 * hashed on (address, port) alone with a per-engine random seed, so that
 * every stream of one (address, port) shares a chain (rx_streams() walks it);
 * and two LRU lists for idle expiry and for making room (rx_internal.h says
 * how they are kept cheaply, and the rule).
 */
#include "rx_internal.h"

int rx_table_init(struct ncx_rx *rx)
{
	rx->nbuckets = 64;
	rx->buckets = calloc(rx->nbuckets, sizeof(*rx->buckets));
	return rx->buckets ? 0 : -1;
}

/* Field by field: struct ncx_addr has a padding byte. */
static bool same_addr(const struct sender *s, const struct ncx_addr *a, uint64_t hash)
{
	return s->hash == hash && s->addr.port == a->port && s->addr.family == a->family &&
	       !memcmp(s->addr.addr, a->addr, sizeof(a->addr));
}

static struct sender *find(const struct ncx_rx *rx, const struct ncx_addr *a, uint64_t id,
			   uint64_t hash)
{
	struct sender *s = rx->buckets[hash & (rx->nbuckets - 1)];

	for (; s; s = s->hnext)
		if (s->id == id && same_addr(s, a, hash))
			return s;
	return NULL;
}

struct sender *rx_sender_find(const struct ncx_rx *rx, const struct ncx_addr *a, uint64_t id)
{
	return find(rx, a, id, ncx_addr_hash(a, rx->seed));
}

struct sender *rx_sender_any(const struct ncx_rx *rx, const struct ncx_addr *a)
{
	uint64_t hash = ncx_addr_hash(a, rx->seed);
	struct sender *s = rx->buckets[hash & (rx->nbuckets - 1)], *best = NULL;

	for (; s; s = s->hnext)
		if (same_addr(s, a, hash) && (!best || s->last_rx > best->last_rx))
			best = s;
	return best;
}

void rx_streams(const struct ncx_rx *rx, const struct ncx_addr *a, uint64_t id,
		struct rx_streams *out)
{
	struct sender *s;

	out->hash = ncx_addr_hash(a, rx->seed);
	out->match = out->unnamed = out->named = NULL;
	for (s = rx->buckets[out->hash & (rx->nbuckets - 1)]; s; s = s->hnext) {
		if (!same_addr(s, a, out->hash))
			continue;
		if (s->id == id)
			out->match = s;
		if (!s->id)
			out->unnamed = s;
		else if (!out->named || s->last_rx > out->named->last_rx)
			out->named = s;
	}
}

static void bucket_insert(struct sender **b, size_t nb, struct sender *s)
{
	struct sender **head = &b[s->hash & (nb - 1)];

	s->hnext = *head;
	*head = s;
}

/* Double the table once it averages a sender per bucket. */
static void table_grow(struct ncx_rx *rx)
{
	size_t nb = rx->nbuckets * 2;
	struct sender **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < rx->nbuckets; i++) {
		struct sender *s = rx->buckets[i], *nx;

		for (; s; s = nx) {
			nx = s->hnext;
			bucket_insert(b, nb, s);
		}
	}
	free(rx->buckets);
	rx->buckets = b;
	rx->nbuckets = nb;
}

static void table_remove(struct ncx_rx *rx, struct sender *s)
{
	struct sender **pp = &rx->buckets[s->hash & (rx->nbuckets - 1)];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
}

static struct lru *list_of(struct ncx_rx *rx, const struct sender *s)
{
	return &rx->lru[s->probation];
}

static void lru_unlink(struct ncx_rx *rx, struct sender *s)
{
	struct lru *l = list_of(rx, s);

	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		l->head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		l->tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void lru_append(struct ncx_rx *rx, struct sender *s)
{
	struct lru *l = list_of(rx, s);

	s->lru_prev = l->tail;
	s->lru_next = NULL;
	if (l->tail)
		l->tail->lru_next = s;
	else
		l->head = s;
	l->tail = s;
}

/* A datagram came: the sender is the most recently heard (moved only on
 * its first datagram in a granule); its second ends its probation. */
static void touch(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	uint64_t g = now >> rx->lru_shift;

	s->last_rx = now;
	if (s->probation && s->st.datagrams > 1) {
		lru_unlink(rx, s);
		s->probation = false;
		s->lru_gran = g;
		lru_append(rx, s);
		return;
	}
	if (g != s->lru_gran) {
		s->lru_gran = g;
		if (list_of(rx, s)->tail != s) {
			lru_unlink(rx, s);
			lru_append(rx, s);
		}
	}
}

struct sender *rx_first(const struct ncx_rx *rx)
{
	return rx->lru[0].head ? rx->lru[0].head : rx->lru[1].head;
}

struct sender *rx_next(const struct ncx_rx *rx, const struct sender *s)
{
	if (s->lru_next)
		return s->lru_next;
	return s->probation ? NULL : rx->lru[1].head;
}

/* When the longest silent sender is due to expire; NONE if none or never. */
uint64_t rx_idle_deadline(const struct ncx_rx *rx)
{
	uint64_t d = NONE;

	if (!rx->cfg.idle_us)
		return NONE;
	for (int i = 0; i < 2; i++)
		if (rx->lru[i].head)
			d = min64(d, sat_add(rx->lru[i].head->last_rx, rx->cfg.idle_us));
	return d;
}

static void sender_expire(struct ncx_rx *rx, struct sender *s, bool evicted, uint64_t now);

/* The table is full: the longest silent on probation makes room, or else
 * the longest silent of all. */
static void evict_one(struct ncx_rx *rx, uint64_t now)
{
	struct sender *v = rx->lru[1].head ? rx->lru[1].head : rx->lru[0].head;
	void *ctx = rx->ctx;

	rx->st.evicted++;
	rx->ctx = NULL; /* its event is not of the datagram being fed */
	sender_expire(rx, v, true, now);
	rx->ctx = ctx;
}

/* The key a sender's tags are made with: derived from its address alone
 * (DESIGN.md), so every stream of one host shares it. */
void rx_host_key(const struct ncx_rx *rx, const struct ncx_addr *a, struct ncx_auth_key *out)
{
	char text[NCX_ADDR_TEXT_MAX];
	size_t n = ncx_addr_format(a, false, text, sizeof(text));

	ncx_auth_derive(&rx->cfg.auth_secret, text, n < sizeof(text) ? n : 0, out);
}

static struct sender *sender_new(struct ncx_rx *rx, const struct ncx_addr *a, uint64_t id,
				 uint64_t hash, uint64_t now)
{
	struct sender *s;

	if (rx->nsenders >= rx->cfg.max_senders) {
		if (!rx->nsenders)
			return NULL; /* max_senders 0: nobody, ever */
		evict_one(rx, now);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->addr = *a;
	s->id = id;
	s->hash = hash;
	if (rx->cfg.auth)
		rx_host_key(rx, a, &s->key);
	s->heap_idx = HEAP_NONE;
	s->deadline = s->hole_since = s->retx_due = s->ack_due = NONE;
	s->last_acked = s->last_resp_us = s->stable_ack = NONE;
	s->resume.next = NONE;
	if (rx->cfg.resume && !rx->cfg.resume(rx->cfg.resume_arg, a, id, &s->resume))
		s->resume.next = NONE;
	s->lru_gran = NONE; /* moved (appended) by the touch that follows */
	s->probation = true;
	if (rx->nsenders >= rx->nbuckets)
		table_grow(rx);
	bucket_insert(rx->buckets, rx->nbuckets, s);
	lru_append(rx, s);
	rx->nsenders++;
	return s;
}

struct sender *rx_sender_seen(struct ncx_rx *rx, struct sender *s, const struct ncx_addr *a,
			      uint64_t id, uint64_t hash, size_t len, uint64_t now)
{
	if (!s && !(s = sender_new(rx, a, id, hash, now))) {
		rx_emit_drop(rx, NULL, a, NCX_DROP_TOO_MANY_SENDERS, 1, NULL, now);
		return NULL;
	}
	s->st.datagrams++;
	s->st.bytes += len;
	touch(rx, s, now);
	return s;
}

struct sender *rx_sender_get(struct ncx_rx *rx, const struct ncx_addr *a, uint64_t id,
			     size_t len, uint64_t now)
{
	uint64_t hash = ncx_addr_hash(a, rx->seed);

	return rx_sender_seen(rx, find(rx, a, id, hash), a, id, hash, len, now);
}

static void sender_free(struct sender *s)
{
	rx_win_free(s);
	rx_frags_free(s);
	rx_copies_free(s);
	free(s);
}

static void sender_expire(struct ncx_rx *rx, struct sender *s, bool evicted, uint64_t now)
{
	struct ncx_rx_event ev;

	rx_sender_flush(rx, s, now);
	rx_ev_init(rx, &ev, NCX_RX_SENDER_GONE, s, NULL, now);
	ev.gone.evicted = evicted;
	rx->emit(rx->arg, &ev);
	rx_heap_remove(rx, s);
	table_remove(rx, s);
	lru_unlink(rx, s);
	rx->nsenders--;
	rx->held_bytes -= s->held_bytes;
	sender_free(s);
}

void rx_expire_idle(struct ncx_rx *rx, uint64_t now)
{
	if (!rx->cfg.idle_us)
		return;
	for (int i = 0; i < 2; i++)
		while (rx->lru[i].head && sat_add(rx->lru[i].head->last_rx, rx->cfg.idle_us) <= now)
			sender_expire(rx, rx->lru[i].head, false, now);
}

void rx_table_free(struct ncx_rx *rx)
{
	struct sender *s, *nx;

	for (s = rx_first(rx); s; s = nx) {
		nx = rx_next(rx, s);
		sender_free(s);
	}
	free(rx->buckets);
}
