/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the receiver engine's stream identity (ncid) and
 * authentication (ncmac): issue #10's findings 3 (injection into a reliable
 * stream) and 5 (a second run taken for resends of the first), replays, and
 * the merge of a stock kernel's unnamed datagrams with a named stream.
 * Datagrams are built with wire.h and auth.h, as the senders build them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <ncx/auth.h>
#include <ncx/rx.h>
#include <ncx/wire.h>

#define MS 1000ULL
#define SEC 1000000ULL
#define RUN_A 0x1111111111111111ULL
#define RUN_B 0x2222222222222222ULL

/* What the tests look at, per event kind. */
struct seen {
	uint64_t records, reboots, gaps, responses;
	uint64_t drops[NCX_DROP_REASON_COUNT];
	char text[64][32]; /* RECORD texts in order, the first 64 */
	uint64_t id[64];   /* and their stream ids */
	bool authed[64];
	char resp[8][NCX_RX_RESPONSE_MAX + 1]; /* the last responses */
	uint64_t resp_id[8];
};

static void on_event(void *arg, const struct ncx_rx_event *ev)
{
	struct seen *s = arg;

	switch (ev->kind) {
	case NCX_RX_RECORD:
		if (s->records < 64) {
			size_t n = ev->record.body.len < 31 ? ev->record.body.len : 31;
			const char *nl = memchr(ev->record.body.p, '\n', n);

			if (nl)
				n = (size_t)(nl - ev->record.body.p);
			memcpy(s->text[s->records], ev->record.body.p, n);
			s->text[s->records][n] = 0;
			s->id[s->records] = ev->id;
			s->authed[s->records] = ev->authed;
		}
		s->records++;
		break;
	case NCX_RX_REBOOT:
		s->reboots++;
		break;
	case NCX_RX_GAP:
		s->gaps++;
		break;
	case NCX_RX_DROP:
		s->drops[ev->drop.reason] += ev->drop.records;
		break;
	case NCX_RX_RESPONSE:
		memcpy(s->resp[s->responses % 8], ev->response.p, ev->response.len);
		s->resp[s->responses % 8][ev->response.len] = 0;
		s->resp_id[s->responses % 8] = ev->id;
		s->responses++;
		break;
	default:
		break;
	}
}

static const struct ncx_auth_key secret = { { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 } };

/* One datagram: record seq of stream id (0: unnamed), reliable, text,
 * tagged under key if key is not NULL. Returns its length. */
static size_t dgram(char *buf, size_t cap, uint64_t id, uint64_t seq, bool reliable,
		    const char *text, const struct ncx_auth_key *key)
{
	struct ncx_ext r = { .level = 6, .seq = seq, .ts_usec = 1000 + seq, .flag = '-',
			     .reliable = reliable, .id = id };
	size_t n = ncx_ext_format(&r, text, strlen(text), NULL, 0, buf, cap);
	long m;

	assert_true(n < cap);
	if (!key)
		return n;
	m = ncx_auth_dgram_sign(key, buf, n, cap);
	assert_true(m > 0);
	return (size_t)m;
}

/* A key that is not the host's: another secret's. */
static struct ncx_auth_key t_wrong_key(void)
{
	static const struct ncx_auth_key other = { { 1 } };
	struct ncx_auth_key k;

	ncx_auth_derive(&other, "192.0.2.7", 9, &k);
	return k;
}

struct t {
	struct ncx_rx *rx;
	struct seen seen;
	struct ncx_addr host;
	struct ncx_auth_key key; /* host's, derived as ncx key derive does */
	uint64_t now;
};

static void setup_t(struct t *t, bool auth, bool require)
{
	struct ncx_rx_config cfg;
	char text[NCX_ADDR_TEXT_MAX];
	size_t n;

	memset(t, 0, sizeof(*t));
	ncx_rx_config_default(&cfg);
	cfg.auth = auth;
	cfg.require_auth = require;
	cfg.auth_secret = secret;
	cfg.amplify = 0;
	t->rx = ncx_rx_new(&cfg, on_event, &t->seen);
	assert_non_null(t->rx);
	assert_int_equal(ncx_addr_parse("192.0.2.7:6665", 0, &t->host), 0);
	n = ncx_addr_format(&t->host, false, text, sizeof(text));
	ncx_auth_derive(&secret, text, n, &t->key);
	t->now = 1 * SEC;
}

static void feed(struct t *t, uint64_t id, uint64_t seq, bool reliable, const char *text,
		 const struct ncx_auth_key *key)
{
	char buf[512];
	size_t n = dgram(buf, sizeof(buf), id, seq, reliable, text, key);

	t->now += MS;
	ncx_rx_feed(t->rx, &t->host, buf, n, t->now, NULL);
}

static void line(char *out, size_t cap, const char *run, uint64_t i)
{
	snprintf(out, cap, "%s line %llu", run, (unsigned long long)i);
}

/* Finding 5: a second run on the same port, seqs from 1 again, right after
 * the first: every line of both is delivered, none taken as a duplicate
 * (200 lines: beyond the reach of the fingerprint history, where a
 * reliable sender's resend and a new run look alike without a name). */
static void test_second_run(void **state)
{
	struct t t;
	char text[32];

	(void)state;
	setup_t(&t, false, false);
	for (uint64_t i = 1; i <= 200; i++) {
		line(text, sizeof(text), "a", i);
		feed(&t, RUN_A, i, true, text, NULL);
	}
	for (uint64_t i = 1; i <= 200; i++) {
		line(text, sizeof(text), "b", i);
		feed(&t, RUN_B, i, true, text, NULL);
	}
	assert_int_equal(t.seen.records, 400);
	assert_int_equal(t.seen.drops[NCX_DROP_DUPLICATE], 0);
	assert_int_equal(t.seen.reboots, 0);
	/* Replays of the first run's datagrams change nothing. */
	for (uint64_t i = 1; i <= 200; i++) {
		line(text, sizeof(text), "a", i);
		feed(&t, RUN_A, i, true, text, NULL);
	}
	assert_int_equal(t.seen.records, 400);
	assert_int_equal(t.seen.drops[NCX_DROP_DUPLICATE], 200);
	assert_int_equal(t.seen.reboots, 0);
	ncx_rx_free(t.rx);
}

/* The stock kernel's unnamed copy of a named stream (ncx forward beside
 * netconsole, one port) merges with it: what continues it joins it, a copy
 * of a delivered record is a duplicate, and nothing unnamed reboots it. */
static void test_unnamed_merges(void **state)
{
	struct t t;
	char text[32];

	(void)state;
	setup_t(&t, false, false);
	for (uint64_t i = 10; i <= 20; i++) {
		line(text, sizeof(text), "k", i);
		feed(&t, RUN_A, i, true, text, NULL);
	}
	line(text, sizeof(text), "k", 21);
	feed(&t, 0, 21, false, text, NULL); /* the stock path first */
	feed(&t, RUN_A, 21, true, text, NULL);
	assert_int_equal(t.seen.records, 12);
	assert_int_equal(t.seen.id[11], RUN_A);
	assert_int_equal(t.seen.drops[NCX_DROP_DUPLICATE], 1);
	line(text, sizeof(text), "k", 15);
	feed(&t, 0, 15, false, text, NULL); /* a late stock copy */
	assert_int_equal(t.seen.drops[NCX_DROP_DUPLICATE], 2);
	/* A different record at a delivered seq (a new boot's, or forged) is
	 * not the named stream's: it goes to the unnamed one, no reboot. */
	feed(&t, 0, 16, false, "another boot", NULL);
	assert_int_equal(t.seen.reboots, 0);
	assert_int_equal(t.seen.records, 13);
	assert_string_equal(t.seen.text[12], "another boot");
	assert_int_equal(t.seen.id[12], 0);
	/* The named stream goes on undisturbed. */
	line(text, sizeof(text), "k", 22);
	feed(&t, RUN_A, 22, true, text, NULL);
	assert_int_equal(t.seen.records, 14);
	assert_int_equal(t.seen.id[13], RUN_A);
	ncx_rx_free(t.rx);
}

/* The stock kernel heard first (the forwarder not yet started): the named
 * stream's first datagram takes the unnamed stream over where it continues
 * it, so what both sent is written once. */
static void test_named_adopts_unnamed(void **state)
{
	struct t t;
	char text[32];

	(void)state;
	setup_t(&t, false, false);
	for (uint64_t i = 1; i <= 5; i++) {
		line(text, sizeof(text), "k", i);
		feed(&t, 0, i, false, text, NULL);
	}
	for (uint64_t i = 3; i <= 8; i++) {
		line(text, sizeof(text), "k", i);
		feed(&t, RUN_A, i, true, text, NULL);
	}
	assert_int_equal(t.seen.records, 8);
	assert_int_equal(t.seen.drops[NCX_DROP_DUPLICATE], 3);
	assert_int_equal(t.seen.id[7], RUN_A);
	t.now += SEC;
	ncx_rx_tick(t.rx, t.now);
	assert_true(t.seen.responses > 0);
	assert_string_equal(t.seen.resp[t.seen.responses - 1], "ncrx8");
	ncx_rx_free(t.rx);
}

/* Finding 3: with keys, nothing untagged or wrongly tagged gets into a
 * stream that tags; its responses are tagged for its id alone. */
static void test_auth_injection(void **state)
{
	struct ncx_auth_key wrong = t_wrong_key();
	struct t t;
	size_t plain;

	(void)state;
	setup_t(&t, true, false);
	feed(&t, RUN_A, 1, true, "real 1", &t.key);
	feed(&t, RUN_A, 3, true, "real 3", &t.key);
	/* Forged seq 2, in the open hole: untagged, then under a wrong key. */
	feed(&t, RUN_A, 2, true, "forged", NULL);
	feed(&t, RUN_A, 2, true, "forged", &wrong);
	assert_int_equal(t.seen.drops[NCX_DROP_AUTH_MISSING], 1);
	assert_int_equal(t.seen.drops[NCX_DROP_AUTH_BAD], 1);
	assert_int_equal(t.seen.records, 1);
	feed(&t, RUN_A, 2, true, "real 2", &t.key);
	assert_int_equal(t.seen.records, 3);
	assert_string_equal(t.seen.text[1], "real 2");
	assert_true(t.seen.authed[0] && t.seen.authed[2]);
	/* Every response is tagged, for this stream and no other. */
	t.now += SEC;
	ncx_rx_tick(t.rx, t.now);
	assert_true(t.seen.responses > 0);
	for (uint64_t i = 0; i < t.seen.responses && i < 8; i++) {
		const char *r = t.seen.resp[i];

		assert_int_equal(ncx_auth_resp_verify(&t.key, RUN_A, r, strlen(r), &plain), 1);
		assert_int_equal(ncx_auth_resp_verify(&t.key, RUN_B, r, strlen(r), NULL), -EBADMSG);
	}
	ncx_rx_free(t.rx);
}

/* Only tagged datagrams with --require-auth: stock and legacy ones too are
 * dropped and counted, and a wrong key is no key. */
static void test_require_auth(void **state)
{
	struct ncx_auth_key wrong = t_wrong_key();
	struct t t;

	(void)state;
	setup_t(&t, true, true);
	feed(&t, 0, 1, false, "stock", NULL);
	ncx_rx_feed(t.rx, &t.host, "<6>legacy text\n", 15, t.now, NULL);
	feed(&t, RUN_A, 1, true, "wrong key", &wrong);
	assert_int_equal(t.seen.records, 0);
	assert_int_equal(t.seen.drops[NCX_DROP_AUTH_MISSING], 2);
	assert_int_equal(t.seen.drops[NCX_DROP_AUTH_BAD], 1);
	feed(&t, RUN_A, 1, true, "good", &t.key);
	assert_int_equal(t.seen.records, 1);
	/* A datagram with a tag that does not parse is bad, not missing. */
	ncx_rx_feed(t.rx, &t.host, "6,2,0,-,ncmac=zz;x", 18, t.now, NULL);
	assert_int_equal(t.seen.records, 1);
	ncx_rx_free(t.rx);
}

/* Without --require-auth a stock sender is taken as ever beside tagging
 * ones; a tag from the wrong key still drops. */
static void test_auth_optional(void **state)
{
	struct ncx_auth_key wrong = t_wrong_key();
	struct t t;

	(void)state;
	setup_t(&t, true, false);
	feed(&t, 0, 1, false, "stock 1", NULL);
	feed(&t, 0, 2, false, "stock 2", NULL);
	feed(&t, 0, 3, false, "stock 3", &wrong);
	assert_int_equal(t.seen.records, 2);
	assert_int_equal(t.seen.drops[NCX_DROP_AUTH_BAD], 1);
	assert_false(t.seen.authed[0]);
	assert_int_equal(t.seen.responses, 0);
	ncx_rx_free(t.rx);
}

/* A replayed tagged datagram is the same record of the same stream: a
 * duplicate, however often and however late (within the stream's life). */
static void test_auth_replay(void **state)
{
	struct t t;
	char buf[512];
	size_t n;

	(void)state;
	setup_t(&t, true, true);
	n = dgram(buf, sizeof(buf), RUN_A, 1, true, "once", &t.key);
	for (int i = 0; i < 5; i++) {
		t.now += 10 * SEC;
		ncx_rx_feed(t.rx, &t.host, buf, n, t.now, NULL);
	}
	assert_int_equal(t.seen.records, 1);
	assert_int_equal(t.seen.drops[NCX_DROP_DUPLICATE], 4);
	assert_int_equal(t.seen.reboots, 0);
	ncx_rx_free(t.rx);
}

/* ncx forward with a key beside the stock netconsole: the kernel's
 * untagged copies never enter the stream (a forged one cannot), are
 * dropped as the tagged path confirms or contradicts them, and what only
 * they carry (a crash report: the forwarder died first) is written once the
 * tagged path has been silent for the reliable hole timeout. */
static void test_auth_stock_copies(void **state)
{
	struct ncx_rx_stats st;
	struct t t;
	char text[32];

	(void)state;
	setup_t(&t, true, false);
	for (uint64_t i = 1; i <= 5; i++) {
		line(text, sizeof(text), "k", i);
		feed(&t, RUN_A, i, true, text, &t.key);
	}
	line(text, sizeof(text), "k", 6);
	feed(&t, 0, 6, false, text, NULL); /* the kernel's copy first */
	assert_int_equal(t.seen.records, 5);
	feed(&t, RUN_A, 6, true, text, &t.key);
	assert_int_equal(t.seen.records, 6);
	assert_true(t.seen.authed[5]);
	feed(&t, 0, 7, false, "forged 7", NULL);
	feed(&t, RUN_A, 7, true, "real 7", &t.key);
	assert_int_equal(t.seen.records, 7);
	assert_string_equal(t.seen.text[6], "real 7");
	assert_int_equal(t.seen.drops[NCX_DROP_UNVERIFIED], 1);
	/* The forwarder is gone; the kernel goes on alone (seq 11 not heard). */
	feed(&t, 0, 8, false, "panic 8", NULL);
	feed(&t, 0, 9, false, "panic 9", NULL);
	feed(&t, 0, 10, false, "panic 10", NULL);
	feed(&t, 0, 12, false, "panic 12", NULL);
	ncx_rx_tick(t.rx, t.now + 29 * SEC);
	assert_int_equal(t.seen.records, 7);
	assert_true(ncx_rx_next_deadline(t.rx) <= t.now + 31 * SEC);
	ncx_rx_tick(t.rx, t.now + 31 * SEC);
	assert_int_equal(t.seen.records, 11);
	assert_string_equal(t.seen.text[7], "panic 8");
	assert_string_equal(t.seen.text[10], "panic 12");
	assert_int_equal(t.seen.id[10], RUN_A);
	assert_int_equal(t.seen.gaps, 1);
	ncx_rx_stats(t.rx, &st);
	assert_int_equal(st.unverified, 4);
	assert_int_equal(st.lost, 1);
	assert_int_equal(st.held_bytes, 0);
	ncx_rx_free(t.rx);
}

/* Copies are bounded by the window and by the byte bounds; past the
 * window an unnamed datagram is no copy but the unnamed stream's (a stock
 * sender's, taken without --require-auth). The tagged path wins each seq. */
static void test_auth_copies_bounded(void **state)
{
	struct ncx_rx_stats st;
	struct t t;

	(void)state;
	setup_t(&t, true, false);
	feed(&t, RUN_A, 1, true, "real 1", &t.key);
	for (uint64_t i = 2; i < 2 + 5000; i++)
		feed(&t, 0, i, false, "forged", NULL);
	ncx_rx_stats(t.rx, &st);
	assert_int_equal(st.held_bytes > 0, 1);
	assert_int_equal(t.seen.records, 1 + 5000 - 4096); /* the unnamed stream's */
	assert_int_equal(t.seen.id[1], 0);
	feed(&t, RUN_A, 2, true, "real 2", &t.key);
	assert_int_equal(t.seen.records, 1 + 5000 - 4096 + 1);
	assert_int_equal(t.seen.drops[NCX_DROP_UNVERIFIED], 1);
	ncx_rx_flush(t.rx, t.now);
	ncx_rx_stats(t.rx, &st);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.unverified, 4095);
	ncx_rx_free(t.rx);
}

static uint64_t resume_id;
static unsigned resume_calls;

static bool resume_hook(void *arg, const struct ncx_addr *from, uint64_t id,
			struct ncx_rx_resume *out)
{
	(void)arg, (void)from;
	resume_calls++;
	if (id != resume_id)
		return false; /* another stream's point is not this one's */
	out->next = 11;
	out->last_ts = 0;
	return true;
}

/* After a receiver restart a named stream resumes only at its own point:
 * the same id continues (below it: duplicates), a new id starts afresh. */
static void test_resume_by_id(void **state)
{
	struct ncx_rx_config cfg;
	struct seen seen = { 0 };
	struct ncx_addr host;
	struct ncx_rx *rx;
	char buf[256];
	size_t n;

	(void)state;
	ncx_rx_config_default(&cfg);
	cfg.resume = resume_hook;
	resume_id = RUN_A;
	rx = ncx_rx_new(&cfg, on_event, &seen);
	assert_int_equal(ncx_addr_parse("192.0.2.8:6665", 0, &host), 0);
	n = dgram(buf, sizeof(buf), RUN_A, 5, true, "resent", NULL);
	ncx_rx_feed(rx, &host, buf, n, SEC, NULL);
	assert_int_equal(seen.records, 0); /* written by the earlier run */
	n = dgram(buf, sizeof(buf), RUN_B, 5, true, "new run", NULL);
	ncx_rx_feed(rx, &host, buf, n, SEC + 1, NULL);
	assert_int_equal(seen.records, 1);
	assert_int_equal(resume_calls, 2);
	assert_int_equal(seen.reboots, 0);
	ncx_rx_free(rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_run),
		cmocka_unit_test(test_unnamed_merges),
		cmocka_unit_test(test_named_adopts_unnamed),
		cmocka_unit_test(test_auth_injection),
		cmocka_unit_test(test_require_auth),
		cmocka_unit_test(test_auth_optional),
		cmocka_unit_test(test_auth_replay),
		cmocka_unit_test(test_auth_stock_copies),
		cmocka_unit_test(test_auth_copies_bounded),
		cmocka_unit_test(test_resume_by_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
