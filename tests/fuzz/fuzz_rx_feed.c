/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the receiver engine fed a script of datagrams.
 *
 * The input is one byte of options (bit 0: a start grace, start_us; bit 1:
 * a resume hook that gives the first two senders a resume point, bits 3-6
 * times 7, bit 2 a last timestamp; bit 7: authentication on, cfg.auth, and
 * with bit 6 require_auth), then a sequence of operations, each:
 *
 *   op    1 byte: bits 0-1 the sender (4 addresses, one more than the
 *         engine may keep), bit 2 tick after feeding, bit 3 flush after
 *         (ncx_rx_flush_resumable() if step is odd), bits 4-6 a time scale,
 *         bit 7: tag the datagram first (ncmac) with the sender's host key,
 *         or with another key if step is 255
 *   step  1 byte: the clock advances by step << scale microseconds
 *   len   2 bytes, little endian (cut to what is left)
 *   data  len bytes: the datagram
 *
 * fed to one engine with small limits, so windows fill, memory bounds and
 * the sender limit are hit, and holes, acks, fragments and idle expiry all
 * time out within a short input. Checked on every event: per stream
 * (address and ncid), records and gaps move strictly forward except across
 * a REBOOT (or after SENDER_GONE, or a named stream's taking over the
 * unnamed one), and a resumed sender's first ones start at or above its
 * resume point; responses go to reliable senders only, are at most 1000
 * bytes and read "ncrx<n>[ <n>]*", with a good tag for the stream's id
 * under its host key if the stream tags; with require_auth every stream
 * tags. After every operation: held bytes stay within engine_bytes, and
 * after a tick nothing is left due.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ncx/auth.h>
#include <ncx/rx.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

#define NADDR 4
#define NTRACK 64 /* streams tracked; more are not checked */

struct track {
	int addr;	/* index into addr[] */
	uint64_t id;	/* the stream's ncid */
	bool started;	/* covered is valid */
	uint64_t covered; /* highest seq delivered or reported in a gap */
	bool resumed;	/* floor is valid: no record or gap below it until a reboot */
	uint64_t floor;
};

struct state {
	struct ncx_addr addr[NADDR];
	struct ncx_auth_key key[NADDR]; /* each address's host key */
	struct track t[NTRACK];
	int ntrack;
	bool auth, require_auth;
	uint64_t resume_at, resume_ts;
	void *ctx; /* what the feed being made passes; NULL in tick and flush */
};

static int who(const struct state *st, const struct ncx_addr *a);

/* The stream's track, made on first sight; NULL when the table is full. */
static struct track *track_of(struct state *st, int addr, uint64_t id)
{
	struct track *t;

	for (int i = 0; i < st->ntrack; i++)
		if (st->t[i].addr == addr && st->t[i].id == id)
			return &st->t[i];
	if (st->ntrack == NTRACK)
		return NULL;
	t = &st->t[st->ntrack++];
	memset(t, 0, sizeof(*t));
	t->addr = addr;
	t->id = id;
	return t;
}

static bool resume_hook(void *arg, const struct ncx_addr *from, uint64_t id,
			struct ncx_rx_resume *out)
{
	struct state *st = arg;
	int i = who(st, from);
	struct track *t;

	if (i >= 2)
		return false;
	t = track_of(st, i, id);
	if (!t)
		return true;
	t->resumed = true;
	t->floor = st->resume_at;
	out->next = st->resume_at;
	out->last_ts = st->resume_ts; /* a later first record may start a new stream */
	return true;
}

static int who(const struct state *st, const struct ncx_addr *a)
{
	for (int i = 0; i < NADDR; i++)
		if (ncx_addr_equal(a, &st->addr[i]))
			return i;
	CHECK(!"an event for an address never fed");
	return 0;
}

static void check_response(const struct state *st, const struct ncx_rx_event *ev)
{
	const char *p = ev->response.p;
	size_t n = ev->response.len, i = 4;

	CHECK(ev->reliable);
	CHECK(n <= NCX_RX_RESPONSE_MAX);
	CHECK(ev->authed == (ncx_auth_resp_verify(&st->key[who(st, ev->from)], ev->id, p, n,
						  &n) == 1));
	CHECK(n > 4 && memcmp(p, "ncrx", 4) == 0);
	for (;;) {
		size_t d = i;

		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		CHECK(i > d && i - d <= 20);
		if (i == n)
			break;
		CHECK(p[i] == ' ');
		i++;
	}
}

/* Records and gaps of one sender cover seqs strictly upwards. */
static void advance(struct track *t, uint64_t first, uint64_t last)
{
	CHECK(first <= last);
	if (!t->started && t->resumed)
		CHECK(first >= t->floor);
	if (t->started)
		CHECK(first > t->covered);
	t->started = true;
	t->covered = last;
}

static void on_event(void *arg, const struct ncx_rx_event *ev)
{
	struct state *st = arg;
	struct track *t;

	if (ev->kind == NCX_RX_DROP && ev->drop.reason == NCX_DROP_TOO_MANY_SENDERS) {
		CHECK(ev->user == NULL);
		return;
	}
	if (ev->kind == NCX_RX_DROP && !ev->user)
		return; /* malformed from a sender without state */
	CHECK(ev->user != NULL);
	CHECK(!st->require_auth || ev->authed);
	CHECK(st->auth || !ev->authed);
	if (ev->kind == NCX_RX_RESPONSE) {
		check_response(st, ev);
		return;
	}
	t = track_of(st, who(st, ev->from), ev->id);
	if (!t)
		return;
	/* A feed's events carry its ctx (here, the address fed), but those of a
	 * stream evicted to make room for it (not of this datagram: none, and
	 * it may be another stream of the same address); ticks' events, none. */
	CHECK(ev->ctx == st->ctx || (!ev->ctx && st->ctx)); /* another stream may go */
	switch (ev->kind) {
	case NCX_RX_RECORD:
		CHECK(ev->pos == ev->record.seq + 1);
		advance(t, ev->record.seq, ev->record.seq);
		CHECK(!ev->record.frag);
		CHECK(ev->record.body.p != NULL || ev->record.body.len == 0);
		break;
	case NCX_RX_GAP:
		CHECK(ev->pos == ev->gap.last + 1);
		advance(t, ev->gap.first, ev->gap.last);
		CHECK(ev->gap.lost == ev->reliable);
		break;
	case NCX_RX_REBOOT:
		CHECK(ev->pos == ev->reboot.seq);
		/* fall through */
	case NCX_RX_SENDER_GONE:
		t->started = false;
		t->resumed = false;
		break;
	case NCX_RX_RESPONSE:
		break;
	case NCX_RX_DROP:
		CHECK(ev->drop.reason < NCX_DROP_REASON_COUNT);
		CHECK(ev->drop.records > 0);
		break;
	case NCX_RX_LEGACY:
		break;
	}
}

static void setup(struct state *st, struct ncx_rx_config *cfg, uint8_t options)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < NADDR; i++) {
		st->addr[i].family = i == 3 ? AF_INET6 : AF_INET;
		st->addr[i].port = (uint16_t)(6665 + (i & 1));
		st->addr[i].addr[0] = i == 3 ? 0 : 127;
		st->addr[i].addr[15] = 1;
		st->addr[i].addr[3] = (uint8_t)(i + 1);
	}
	st->auth = options & 0x80;
	st->require_auth = st->auth && (options & 0x40);
	ncx_rx_config_default(cfg);
	cfg->window = 16;
	cfg->max_senders = 3;
	cfg->max_frags = 2;
	cfg->sender_bytes = 24 * 1024;
	cfg->engine_bytes = 40 * 1024;
	cfg->stock_hole_us = 50000;
	cfg->reliable_hole_us = 500000;
	cfg->retx_us = 20000;
	cfg->ack_us = 20000;
	cfg->idle_us = 2000000;
	cfg->start_us = options & 1 ? 30000 : 0;
	cfg->auth = st->auth;
	cfg->require_auth = st->require_auth;
	for (int i = 0; i < 16; i++)
		cfg->auth_secret.k[i] = (uint8_t)(i * 17);
	for (int i = 0; i < NADDR; i++) {
		char text[NCX_ADDR_TEXT_MAX];
		size_t n = ncx_addr_format(&st->addr[i], false, text, sizeof(text));

		ncx_auth_derive(&cfg->auth_secret, text, n, &st->key[i]);
	}
	if (options & 2) {
		cfg->resume = resume_hook;
		cfg->resume_arg = st;
		st->resume_at = (uint64_t)(options >> 3 & 15) * 7;
		st->resume_ts = options & 4 ? 1000 : 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ncx_rx_config cfg;
	struct ncx_rx_stats stats;
	struct state st;
	struct ncx_rx *rx;
	uint64_t now = 1;
	size_t i = 1;
	static char tagged[65536 + NCX_AUTH_DGRAM_TAG_LEN];
	struct ncx_ext ext;

	if (size == 0)
		return 0;
	setup(&st, &cfg, data[0]);
	rx = ncx_rx_new(&cfg, on_event, &st);
	CHECK(rx);
	while (size - i >= 4) {
		uint8_t op = data[i], step = data[i + 1];
		size_t len = (size_t)data[i + 2] | (size_t)data[i + 3] << 8;

		i += 4;
		if (len > size - i)
			len = size - i;
		now += (uint64_t)step << (op >> 4 & 7);
		st.ctx = &st.addr[op & 3];
		/* A named datagram may take over its address's unnamed stream
		 * (rx.h), with no event: an unnamed one after it starts anew. */
		if (ncx_ext_parse(data + i, len, &ext) == 0 && ext.id) {
			struct track *t = track_of(&st, op & 3, 0);

			if (t)
				t->started = t->resumed = false;
		}
		if (op & 0x80) {
			static const struct ncx_auth_key other = { { 1 } };
			long n;

			memcpy(tagged, data + i, len);
			n = ncx_auth_dgram_sign(step == 255 ? &other : &st.key[op & 3], tagged, len,
						sizeof(tagged));
			ncx_rx_feed(rx, &st.addr[op & 3], n > 0 ? tagged : (const char *)data + i,
				    n > 0 ? (size_t)n : len, now, st.ctx);
		} else {
			ncx_rx_feed(rx, &st.addr[op & 3], data + i, len, now, st.ctx);
		}
		st.ctx = NULL;
		i += len;
		if (op & 4) {
			ncx_rx_tick(rx, now);
			CHECK(ncx_rx_next_deadline(rx) > now);
		}
		if (op & 8) {
			if (step & 1)
				ncx_rx_flush_resumable(rx, now);
			else
				ncx_rx_flush(rx, now);
		}
		ncx_rx_stats(rx, &stats);
		CHECK(stats.held_bytes <= cfg.engine_bytes);
		CHECK(stats.senders <= cfg.max_senders);
	}
	ncx_rx_flush(rx, now);
	ncx_rx_stats(rx, &stats);
	CHECK(stats.held_bytes == 0);
	ncx_rx_tick(rx, UINT64_MAX - 1);
	ncx_rx_stats(rx, &stats);
	CHECK(stats.senders == 0);
	ncx_rx_free(rx);
	return 0;
}
