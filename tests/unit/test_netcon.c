/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of lib/netcon.c with real sockets on loopback (127.0.0.1 and
 * ::1 only): the test plays the receiver on a socket of its own, reads what
 * the console sends, and answers it as ncxd would. The console runs on its
 * own thread, so the tests only ever wait for a condition, with a generous
 * bound, and never measure time. Threaded: ncx:tsan
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <ncx/addr.h>
#include <ncx/auth.h>
#include <ncx/log.h>
#include <ncx/netcon.h>
#include <ncx/ring.h>
#include <ncx/udp.h>
#include <ncx/wire.h>

#define WAIT_MS 10000	/* "eventually": generous, never a measurement */
#define TEST_ID 0x0123456789abcdefull	/* config1's stream id */
#define TEST_ID_KEY ",ncid=0123456789abcdef"

static _Alignas(64) uint64_t ring_mem[(64 << 10) / 8];
static struct ncx_ring ring;
static const struct ncx_netcon_log alldata = { NCX_LOG_DEBUG, NCX_CON_ALLDATA };

/* ---- helpers -------------------------------------------------------------- */

static void ring_fresh(size_t size)
{
	memset(ring_mem, 0, sizeof(ring_mem));
	assert_int_equal(ncx_ring_init(&ring, ring_mem, size), 0);
}

static const struct ncx_ring_meta meta6 = {
	.ts_usec = 1234567890, .tid = 42, .cpu = 3, .level = 6, .facility = 1
};

static uint64_t log_text(const char *text, size_t len, int level)
{
	struct ncx_ring_meta m = meta6;
	uint64_t seq;

	m.level = (uint8_t)level;
	assert_int_equal(ncx_ring_write(&ring, &m, text, len, &seq), 0);
	return seq;
}

static uint64_t log_str(const char *text)
{
	return log_text(text, strlen(text), 6);
}

/* A receiver socket on addr ("127.0.0.1" or "::1"), ephemeral port. */
static int rx_socket(const char *addr, struct ncx_addr *at)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd;

	if (ncx_addr_parse(addr, 0, at))
		return -1;
	fd = ncx_udp_bind(at, NULL);
	if (fd < 0)
		return fd;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(ncx_addr_from_sockaddr(at, (struct sockaddr *)&ss, sl), 0);
	return fd;
}

/* Next datagram, waiting up to WAIT_MS; its length (or -1) and sender. */
static ssize_t rx_dgram(int fd, char *buf, size_t cap, struct ncx_addr *from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n;

	if (poll(&p, 1, WAIT_MS) != 1)
		return -1;
	n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &sl);
	if (n >= 0 && from)
		assert_int_equal(ncx_addr_from_sockaddr(from, (struct sockaddr *)&ss, sl), 0);
	return n;
}

/* Next datagram, parsed. */
static void rx_ext(int fd, char *buf, size_t cap, struct ncx_ext *e, size_t *len)
{
	ssize_t n = rx_dgram(fd, buf, cap, NULL);

	assert_true(n > 0);
	assert_int_equal(ncx_ext_parse(buf, (size_t)n, e), 0);
	if (len)
		*len = (size_t)n;
}

/* Receive until a datagram of seq (not a fragment) arrives; returns its ncemg. */
static bool rx_until_seq(int fd, uint64_t seq)
{
	char buf[1100];
	struct ncx_ext e;

	for (int i = 0; i < 10000; i++) {
		rx_ext(fd, buf, sizeof(buf), &e, NULL);
		if (e.seq == seq)
			return e.emergency;
	}
	fail_msg("seq %llu never came", (unsigned long long)seq);
	return false;
}

static void answer(int fd, const struct ncx_netcon *nc, const char *family_addr, const char *text)
{
	struct ncx_addr to;
	struct sockaddr_storage ss;
	socklen_t sl;

	assert_int_equal(ncx_addr_parse(family_addr, ncx_netcon_port(nc), &to), 0);
	sl = ncx_addr_to_sockaddr(&to, &ss);
	assert_int_equal(sendto(fd, text, strlen(text), 0, (struct sockaddr *)&ss, sl),
			 (ssize_t)strlen(text));
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct ncx_netcon_stats stats(struct ncx_netcon *nc)
{
	struct ncx_netcon_stats st;

	ncx_netcon_get_stats(nc, &st);
	return st;
}

/* Wait until expr (over `st`, fresh stats) holds, or fail. */
#define EVENTUALLY(nc, expr)                                                         \
	do {                                                                         \
		struct ncx_netcon_stats st;                                          \
		int ms_ = 0;                                                         \
		for (;; ms_++) {                                                     \
			st = stats(nc);                                              \
			if (expr)                                                    \
				break;                                               \
			if (ms_ >= WAIT_MS)                                          \
				fail_msg("never: %s", #expr);                        \
			sleep_ms(1);                                                 \
		}                                                                    \
	} while (0)

static struct ncx_netcon *start(struct ncx_netcon_config *cfg, const void *render_arg)
{
	struct ncx_netcon *nc = NULL;

	assert_int_equal(ncx_netcon_start(&nc, cfg, &ring, ncx_netcon_render_log,
					  (void *)render_arg), 0);
	assert_non_null(nc);
	assert_int_not_equal(ncx_netcon_port(nc), 0);
	return nc;
}

static void config1(struct ncx_netcon_config *cfg, const struct ncx_addr *target)
{
	ncx_netcon_config_default(cfg);
	cfg->targets[0] = *target;
	cfg->ntargets = 1;
	cfg->from_oldest = true;
	cfg->tx.start_hold_us = 0;	/* test_start_hold has it on */
	cfg->tx.probe_us = 0;		/* test_probe has it on: exact datagram counts */
	cfg->stream_id = TEST_ID;	/* known bytes; test_random_id has it 0 */
}

/* A fresh ring and one receiver socket on loopback, the config aimed at it. */
static int one_receiver(struct ncx_netcon_config *cfg, struct ncx_addr *at)
{
	int fd;

	ring_fresh(sizeof(ring_mem));
	fd = rx_socket("127.0.0.1", at);
	assert_true(fd >= 0);
	config1(cfg, at);
	return fd;
}

/* What netconsole would send for a record of ours, with the ncrx and ncid
 * keys. */
static size_t expected(uint64_t seq, const char *text, size_t len, int level, char *out,
		       size_t cap)
{
	struct ncx_log_record r = { .seq = seq, .ts_usec = meta6.ts_usec, .tid = meta6.tid,
				    .cpu = meta6.cpu, .level = (uint8_t)level,
				    .facility = meta6.facility, .text = text, .len = len };
	char tmp[20000];
	size_t n = ncx_log_format_ext(&r, tmp, sizeof(tmp));
	char *semi = memchr(tmp, ';', n);
	size_t h = (size_t)(semi - tmp);

	const char keys[] = ",ncrx=1" TEST_ID_KEY;
	size_t k = sizeof(keys) - 1;

	assert_true(n + k <= cap);
	memcpy(out, tmp, h);
	memcpy(out + h, keys, k);
	memcpy(out + h + k, semi, n - h);
	return n + k;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_config_errors(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc = NULL;
	struct ncx_addr a, b;
	int fd;

	(void)state;
	ring_fresh(sizeof(ring_mem));
	ncx_netcon_config_default(&cfg);
	assert_int_equal(ncx_netcon_start(&nc, &cfg, &ring, ncx_netcon_render_log, NULL), -EINVAL);
	assert_int_equal(ncx_addr_parse("127.0.0.1:9", 0, &a), 0);
	cfg.targets[0] = cfg.targets[1] = a;
	cfg.ntargets = 2;	/* the same target twice */
	assert_int_equal(ncx_netcon_start(&nc, &cfg, &ring, ncx_netcon_render_log, NULL), -EINVAL);
	cfg.ntargets = 1;
	cfg.targets[0].port = 0;
	assert_int_equal(ncx_netcon_start(&nc, &cfg, &ring, ncx_netcon_render_log, NULL), -EINVAL);
	cfg.targets[0] = a;
	assert_int_equal(ncx_netcon_start(&nc, &cfg, &ring, NULL, NULL), -EINVAL);
	/* A source port already taken. */
	assert_int_equal(ncx_addr_parse("0.0.0.0", 0, &b), 0);
	fd = rx_socket("0.0.0.0", &b);
	assert_true(fd >= 0);
	cfg.src_port = b.port;
	assert_int_equal(ncx_netcon_start(&nc, &cfg, &ring, ncx_netcon_render_log, NULL),
			 -EADDRINUSE);
	close(fd);
	/* Now free: it binds there. */
	nc = start(&cfg, NULL);
	assert_int_equal(ncx_netcon_port(nc), b.port);
	ncx_netcon_stop(nc);
}

static void test_records_arrive(void **state)
{
	static const char *const texts[] = { "hello", "a \\ back\x01slash", "third" };
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at, from;
	char buf[2000], want[2000];
	int fd;

	(void)state;
	ring_fresh(sizeof(ring_mem));
	fd = rx_socket("127.0.0.1", &at);
	assert_true(fd >= 0);
	log_str(texts[0]);	/* before the start: from_oldest takes it */
	config1(&cfg, &at);
	nc = start(&cfg, &alldata);
	log_str(texts[1]);
	log_str(texts[2]);
	for (uint64_t s = 0; s < 3; s++) {
		ssize_t n = rx_dgram(fd, buf, sizeof(buf), &from);
		size_t w = expected(s, texts[s], strlen(texts[s]), 6, want, sizeof(want));
		struct ncx_ext e;

		assert_int_equal(n, (ssize_t)w);
		assert_memory_equal(buf, want, w);
		assert_int_equal(ncx_ext_parse(buf, (size_t)n, &e), 0);
		assert_true(e.reliable);
		assert_false(e.emergency);
		assert_int_equal(e.seq, s);
		assert_int_equal(e.id, TEST_ID);
		assert_int_equal(from.port, ncx_netcon_port(nc));
	}
	/* Nothing acked: wait_acked cannot return 0. */
	assert_int_equal(ncx_netcon_wait_acked(nc, 20), -ETIMEDOUT);
	answer(fd, nc, "127.0.0.1", "ncrx2");
	assert_int_equal(ncx_netcon_wait_acked(nc, WAIT_MS), 0);
	EVENTUALLY(nc, st.acked == 2 && st.unacked == 0 && st.tx.sent == 3 &&
			       st.tx.datagrams == 3 && st.tx.responses == 1);
	ncx_netcon_stop(nc);
	close(fd);
}

/* Each fragment exactly what ncx_ext_fragment() makes of the marked record. */
struct frags {
	char d[16][1000];
	size_t len[16];
	int n;
};

static int collect(void *arg, const void *d, size_t len)
{
	struct frags *f = arg;

	assert_true(f->n < 16);
	memcpy(f->d[f->n], d, len);
	f->len[f->n++] = len;
	return 0;
}

static void test_fragments(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at;
	static char text[3000], want[20000];
	static struct frags f;
	char buf[2000];
	size_t w;
	int fd;

	(void)state;
	ring_fresh(sizeof(ring_mem));
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	text[100] = '\n';	/* escaped: \x0a */
	fd = rx_socket("127.0.0.1", &at);
	config1(&cfg, &at);
	nc = start(&cfg, &alldata);
	log_str("short");
	rx_until_seq(fd, 0);
	log_text(text, sizeof(text), 6);
	w = expected(1, text, sizeof(text), 6, want, sizeof(want));
	f.n = 0;
	assert_int_equal(ncx_ext_fragment(want, w, collect, &f), 0);
	assert_true(f.n >= 4);
	for (int i = 0; i < f.n; i++) {
		ssize_t n = rx_dgram(fd, buf, sizeof(buf), NULL);
		struct ncx_ext e;

		assert_int_equal(n, (ssize_t)f.len[i]);
		assert_memory_equal(buf, f.d[i], f.len[i]);
		assert_int_equal(ncx_ext_parse(buf, (size_t)n, &e), 0);
		assert_true(e.frag && e.reliable);
	}
	/* Asked for again: all its fragments again. */
	log_str("next");
	rx_until_seq(fd, 2);
	answer(fd, nc, "127.0.0.1", "ncrx0 1");
	for (int i = 0; i < f.n; i++) {
		ssize_t n = rx_dgram(fd, buf, sizeof(buf), NULL);

		assert_int_equal(n, (ssize_t)f.len[i]);
		assert_memory_equal(buf, f.d[i], f.len[i]);
	}
	EVENTUALLY(nc, st.tx.resent == 1 && st.tx.datagrams == (uint64_t)(2 * f.n + 2));
	ncx_netcon_stop(nc);
	close(fd);
}

static void test_resend_request(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at;
	char buf[2000], want[2000], t[32];
	struct ncx_ext e;
	size_t n, w;
	int fd;

	(void)state;
	fd = one_receiver(&cfg, &at);
	nc = start(&cfg, &alldata);
	for (int i = 0; i < 40; i++) {
		snprintf(t, sizeof(t), "record %d", i);
		log_str(t);
	}
	rx_until_seq(fd, 39);
	/* Seq 21 is in the second checkpoint block: found by walking from 16. */
	answer(fd, nc, "127.0.0.1", "ncrx3 21");
	rx_ext(fd, buf, sizeof(buf), &e, &n);
	assert_int_equal(e.seq, 21);
	w = expected(21, "record 21", 9, 6, want, sizeof(want));
	assert_int_equal(n, w);
	assert_memory_equal(buf, want, w);
	EVENTUALLY(nc, st.tx.resent == 1 && st.acked == 3 && st.unacked == 36);
	answer(fd, nc, "127.0.0.1", "ncrx39");
	assert_int_equal(ncx_netcon_wait_acked(nc, WAIT_MS), 0);
	ncx_netcon_stop(nc);
	close(fd);
}

static void test_forged(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at, other, other_addr;
	struct ncx_netcon_stats s;
	int fd, fd2, fd3;

	(void)state;
	ring_fresh(sizeof(ring_mem));
	fd = rx_socket("127.0.0.1", &at);
	fd2 = rx_socket("127.0.0.1", &other);		/* right address, wrong port */
	config1(&cfg, &at);
	nc = start(&cfg, &alldata);
	for (int i = 0; i < 5; i++)
		log_str("x");
	rx_until_seq(fd, 4);
	answer(fd2, nc, "127.0.0.1", "ncrx0 2 3");
	/* Right port, wrong address (all of 127/8 is loopback). */
	assert_int_equal(ncx_addr_parse("127.0.0.2", at.port, &other_addr), 0);
	fd3 = ncx_udp_bind(&other_addr, NULL);
	if (fd3 >= 0) {
		answer(fd3, nc, "127.0.0.1", "ncrx4");
		EVENTUALLY(nc, st.forged == 2);
		close(fd3);
	} else {
		EVENTUALLY(nc, st.forged == 1);
	}
	/* The real one after them: once it is taken, the forged ones were
	 * taken before it, and did nothing. */
	answer(fd, nc, "127.0.0.1", "ncrx1");
	EVENTUALLY(nc, st.tx.responses == 1);
	s = stats(nc);
	assert_int_equal(s.tx.resent, 0);
	assert_int_equal(s.tx.malformed, 0);
	assert_int_equal(s.tx.datagrams, 5);
	assert_int_equal(s.acked, 1);
	assert_int_equal(s.unacked, 3);
	ncx_netcon_stop(nc);
	close(fd);
	close(fd2);
}

static void test_ipv6(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at, at4, from;
	char buf[2000];
	int fd, fd4;

	(void)state;
	ring_fresh(sizeof(ring_mem));
	fd = rx_socket("::1", &at);
	if (fd < 0)
		skip();		/* no IPv6 on this host */
	fd4 = rx_socket("127.0.0.1", &at4);
	config1(&cfg, &at);
	cfg.targets[1] = at4;	/* both families: both sockets, one port */
	cfg.ntargets = 2;
	nc = start(&cfg, &alldata);
	log_str("over v6");
	assert_true(rx_dgram(fd, buf, sizeof(buf), &from) > 0);
	assert_int_equal(from.family, AF_INET6);
	assert_int_equal(from.port, ncx_netcon_port(nc));
	assert_true(rx_dgram(fd4, buf, sizeof(buf), &from) > 0);
	assert_int_equal(from.family, AF_INET);
	assert_int_equal(from.port, ncx_netcon_port(nc));
	answer(fd, nc, "::1", "ncrx0");
	EVENTUALLY(nc, st.tx.responses == 1);
	assert_int_equal(ncx_netcon_wait_acked(nc, 20), -ETIMEDOUT);	/* v4 has not acked */
	answer(fd4, nc, "127.0.0.1", "ncrx0");
	assert_int_equal(ncx_netcon_wait_acked(nc, WAIT_MS), 0);
	ncx_netcon_stop(nc);
	close(fd);
	close(fd4);
}

static const struct ncx_auth_key test_key = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
						15, 16 } };
static const struct ncx_auth_key other_key = { { 16, 15, 14 } };

/* A response tagged as ncxd tags it: under key, for stream id. */
static void answer_tagged(int fd, const struct ncx_netcon *nc, const struct ncx_auth_key *key,
			  uint64_t id, const char *text)
{
	char b[NCX_WIRE_RESP_MAX + NCX_AUTH_RESP_TAG_LEN + 1];
	size_t n = strlen(text);
	long m;

	memcpy(b, text, n);
	m = ncx_auth_resp_sign(key, id, b, n, sizeof(b) - 1);
	assert_true(m > (long)n);
	b[m] = 0;
	answer(fd, nc, "127.0.0.1", b);
}

/* The request for seq 1 after the ring lapped it: a placeholder (tagged,
 * with auth, as everything else). */
static void gone(bool auth)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at;
	char t[200];
	uint64_t last = 0;
	int fd;

	ring_fresh(4096);	/* the smallest ring: easy to lap */
	fd = rx_socket("127.0.0.1", &at);
	config1(&cfg, &at);
	cfg.auth = auth;
	cfg.key = test_key;
	nc = start(&cfg, &alldata);
	log_str("first");
	log_str("second");
	rx_until_seq(fd, 1);
	/* Lap the ring, slowly enough that the console sends it all. */
	memset(t, 'z', sizeof(t));
	for (int i = 0; i < 60; i++) {
		last = log_text(t, 100, 6);
		if (i % 8 == 7)
			EVENTUALLY(nc, st.tx.sent + st.ring_lost >= last + 1);
	}
	assert_true(ncx_ring_tail(&ring) > 0);
	if (auth)
		answer_tagged(fd, nc, &test_key, TEST_ID, "ncrx0 1");
	else
		answer(fd, nc, "127.0.0.1", "ncrx0 1");
	EVENTUALLY(nc, st.tx.gone == 1 && st.tx.responses == 1);
	assert_int_equal(stats(nc).tx.resent, 0);
	/* The answer: a placeholder for seq 1 (after whatever else came). */
	for (int i = 0;; i++) {
		char buf[1100];
		struct ncx_ext e;
		size_t len;

		assert_true(i < 1000);
		rx_ext(fd, buf, sizeof(buf), &e, &len);
		if (!e.gone)
			continue;
		assert_int_equal(e.seq, 1);
		assert_int_equal(e.gone, 1);
		assert_int_equal(e.id, TEST_ID);
		assert_int_equal(e.tagged, auth);
		if (auth)
			assert_int_equal(ncx_auth_dgram_verify(&test_key, buf, len), 1);
		assert_true(e.reliable);
		assert_false(e.frag);
		assert_non_null(memmem(e.body.p, e.body.len, "1 records (seq 1..1) were lost", 30));
		break;
	}
	assert_int_equal(stats(nc).tx.placeholders, 1);
	ncx_netcon_stop(nc);
	close(fd);
}

static void test_gone(void **state)
{
	(void)state;
	gone(false);
}

static void test_gone_auth(void **state)
{
	(void)state;
	gone(true);
}

/* A lost last record: the tail probe sends it again, ncemg=1, unasked. */
static void test_probe(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at;
	int fd;

	(void)state;
	fd = one_receiver(&cfg, &at);
	cfg.tx.probe_us = 20000;
	nc = start(&cfg, &alldata);
	log_str("first");
	rx_until_seq(fd, 0);
	answer(fd, nc, "127.0.0.1", "ncrx0");
	EVENTUALLY(nc, st.acked == 0);
	log_str("last"); /* "lost": the receiver says nothing */
	assert_false(rx_until_seq(fd, 1));
	assert_true(rx_until_seq(fd, 1)); /* the probe */
	EVENTUALLY(nc, st.tx.probes >= 1);
	assert_int_equal(stats(nc).tx.emg_resent, 0);
	answer(fd, nc, "127.0.0.1", "ncrx1");
	EVENTUALLY(nc, st.acked == 1 && st.unacked == 0);
	ncx_netcon_stop(nc);
	close(fd);
}

static void test_emergency(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at;
	char buf[2000];
	struct ncx_ext e;
	int fd;

	(void)state;
	fd = one_receiver(&cfg, &at);
	cfg.tx.emergency_us = 200000;
	nc = start(&cfg, &alldata);
	log_str("one");
	log_str("two");
	log_str("three");
	assert_false(rx_until_seq(fd, 2));
	answer(fd, nc, "127.0.0.1", "ncrx0");
	/* Nobody acks 1 and 2: they come again, marked, oldest first. */
	rx_ext(fd, buf, sizeof(buf), &e, NULL);
	assert_true(e.emergency);
	assert_true(e.reliable);
	assert_int_equal(e.seq, 1);
	rx_ext(fd, buf, sizeof(buf), &e, NULL);
	assert_true(e.emergency);
	assert_int_equal(e.seq, 2);
	EVENTUALLY(nc, st.tx.emergencies >= 1 && st.tx.emg_resent >= 2);
	answer(fd, nc, "127.0.0.1", "ncrx2");
	assert_int_equal(ncx_netcon_wait_acked(nc, WAIT_MS), 0);
	ncx_netcon_stop(nc);
	close(fd);
}

/* With a level threshold the driver numbers what passes 0, 1, 2, ... and
 * finds them again across the records it skipped. */
static void test_threshold_numbering(void **state)
{
	static const struct ncx_netcon_log warn = { NCX_LOG_WARNING, 0 };
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at;
	char buf[2000], want[2000];
	struct ncx_ext e;
	size_t n, w;
	int fd;

	(void)state;
	fd = one_receiver(&cfg, &at);
	nc = start(&cfg, &warn);
	for (int i = 0; i < 50; i++) {
		char t[32];

		snprintf(t, sizeof(t), "r%d", i);
		log_text(t, strlen(t), i % 5 == 0 ? 3 : 7);	/* every 5th passes */
	}
	for (uint64_t s = 0; s < 10; s++) {
		rx_ext(fd, buf, sizeof(buf), &e, NULL);
		assert_int_equal(e.seq, s);
	}
	EVENTUALLY(nc, st.skipped == 40 && st.tx.sent == 10);
	answer(fd, nc, "127.0.0.1", "ncrx0 7");
	rx_ext(fd, buf, sizeof(buf), &e, &n);
	w = expected(7, "r35", 3, 3, want, sizeof(want));
	assert_int_equal(n, w);
	assert_memory_equal(buf, want, w);
	ncx_netcon_stop(nc);
	close(fd);
}

static void test_pacing(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at;
	int fd;

	(void)state;
	fd = one_receiver(&cfg, &at);
	cfg.tx.max_pps = 100;
	nc = start(&cfg, &alldata);
	for (int i = 0; i < 150; i++)
		log_str("paced");
	/* More than a bucket: they all come, in order, none lost. */
	for (uint64_t s = 0; s < 150; s++) {
		char buf[2000];
		struct ncx_ext e;

		rx_ext(fd, buf, sizeof(buf), &e, NULL);
		assert_int_equal(e.seq, s);
	}
	answer(fd, nc, "127.0.0.1", "ncrx149");
	assert_int_equal(ncx_netcon_wait_acked(nc, WAIT_MS), 0);
	assert_int_equal(stats(nc).ring_lost, 0);
	ncx_netcon_stop(nc);
	close(fd);
}

/* On the log core's ring, gone records are reported in a log record. */
static void test_gone_notice(void **state)
{
	struct ncx_log_config lc = { .ring_size = 8192 };
	static const struct ncx_netcon_log all = { NCX_LOG_DEBUG, NCX_CON_ALLDATA };
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc = NULL;
	struct ncx_addr at;
	char t[100], buf[2000], who[NCX_ADDR_TEXT_MAX], want[200];
	struct ncx_ext e;
	int fd;

	(void)state;
	assert_int_equal(ncx_log_init(&lc), 0);
	fd = rx_socket("127.0.0.1", &at);
	config1(&cfg, &at);
	assert_int_equal(ncx_netcon_start(&nc, &cfg, ncx_log_ring(), ncx_netcon_render_log,
					  (void *)&all), 0);
	memset(t, 'q', sizeof(t));
	for (int i = 0; i < 120; i++) {
		assert_int_equal(ncx_log_write(NCX_LOG_INFO, t, sizeof(t)), 0);
		if (i % 8 == 7)
			EVENTUALLY(nc, st.tx.sent + st.ring_lost >= (uint64_t)i + 1);
	}
	rx_until_seq(fd, 119);
	answer(fd, nc, "127.0.0.1", "ncrx0 1 2");
	ncx_addr_format(&at, true, who, sizeof(who));
	snprintf(want, sizeof(want),
		 "netcon: 2 records asked for by %s are gone from the ring (seq 1..2)", who);
	for (;;) {
		rx_ext(fd, buf, sizeof(buf), &e, NULL);
		if (e.seq >= 120)
			break;
	}
	assert_int_equal(e.seq, 120);
	assert_non_null(memmem(e.body.p, e.body.len, want, strlen(want)));
	assert_int_equal(e.level, NCX_LOG_WARNING);
	ncx_netcon_stop(nc);
	ncx_log_shutdown();
	close(fd);
}

/* With the default start hold, nothing follows the first record until the
 * receiver has acked it; it comes again, marked ncemg, meanwhile. */
static void test_start_hold(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at;
	char buf[2000];
	struct ncx_ext e;
	int fd;

	(void)state;
	fd = one_receiver(&cfg, &at);
	ncx_tx_config_default(&cfg.tx);
	nc = start(&cfg, &alldata);
	log_str("one");
	log_str("two");
	log_str("three");
	rx_ext(fd, buf, sizeof(buf), &e, NULL);
	assert_int_equal(e.seq, 0);
	assert_false(e.emergency);
	rx_ext(fd, buf, sizeof(buf), &e, NULL);
	assert_int_equal(e.seq, 0);	/* not 1: held */
	assert_true(e.emergency);
	answer(fd, nc, "127.0.0.1", "ncrx0");
	do	/* retries already on their way may come first */
		rx_ext(fd, buf, sizeof(buf), &e, NULL);
	while (e.seq == 0);
	assert_int_equal(e.seq, 1);
	assert_false(e.emergency);
	rx_ext(fd, buf, sizeof(buf), &e, NULL);
	assert_int_equal(e.seq, 2);
	answer(fd, nc, "127.0.0.1", "ncrx2");
	assert_int_equal(ncx_netcon_wait_acked(nc, WAIT_MS), 0);
	ncx_netcon_stop(nc);
	close(fd);
}

/* Without a configured id, each start picks a random one of its own. */
static void test_random_id(void **state)
{
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_addr at;
	char buf[2000];
	struct ncx_ext e;
	uint64_t id[2];
	int fd;

	(void)state;
	fd = one_receiver(&cfg, &at);
	cfg.stream_id = 0;
	for (int i = 0; i < 2; i++) {
		ring_fresh(sizeof(ring_mem));
		nc = start(&cfg, &alldata);
		id[i] = ncx_netcon_stream_id(nc);
		assert_true(id[i] != 0);
		log_str("x");
		rx_ext(fd, buf, sizeof(buf), &e, NULL);
		assert_int_equal(e.id, id[i]);
		ncx_netcon_stop(nc);
	}
	assert_true(id[0] != id[1]);	/* 2^-64 */
	close(fd);
}

/* A datagram with a good tag under test_key and our id; its parse in *e. */
static void rx_signed(int fd, struct ncx_ext *e, char *buf, size_t cap)
{
	size_t n;

	rx_ext(fd, buf, cap, e, &n);
	assert_true(n <= NCX_WIRE_CHUNK + NCX_AUTH_DGRAM_TAG_LEN);
	assert_true(e->tagged);
	assert_int_equal(e->id, TEST_ID);
	assert_int_equal(ncx_auth_dgram_verify(&test_key, buf, n), 1);
	assert_int_equal(ncx_auth_dgram_verify(&other_key, buf, n), -EBADMSG);
}

/*
 * With a key: every datagram (records, each fragment, resends,
 * placeholders) has its own good tag; responses count only with a good tag
 * for this stream's id, the rest are bad_tag and move nothing.
 */
static void test_auth(void **state)
{
	static char text[2500], buf[2000];
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_netcon_stats s;
	struct ncx_addr at;
	struct ncx_ext e;
	int fd, frags = 0;

	(void)state;
	fd = one_receiver(&cfg, &at);
	cfg.auth = true;
	cfg.key = test_key;
	nc = start(&cfg, &alldata);
	memset(text, 'f', sizeof(text));
	log_str("zero");
	log_text(text, sizeof(text), 6);	/* seq 1: three fragments */
	rx_signed(fd, &e, buf, sizeof(buf));
	assert_int_equal(e.seq, 0);
	do {
		rx_signed(fd, &e, buf, sizeof(buf));
		assert_int_equal(e.seq, 1);
		assert_true(e.frag);
		frags++;
	} while (e.frag_off + e.body.len < e.frag_total);
	assert_true(frags >= 3);

	/* Untagged, wrong key, wrong stream, a tag cut short: all ignored. */
	answer(fd, nc, "127.0.0.1", "ncrx1");
	answer_tagged(fd, nc, &other_key, TEST_ID, "ncrx1");
	answer_tagged(fd, nc, &test_key, TEST_ID + 1, "ncrx1");
	answer(fd, nc, "127.0.0.1", "ncrx1 m0123");
	EVENTUALLY(nc, st.bad_tag == 4);
	s = stats(nc);
	assert_int_equal(s.tx.responses, 0);
	assert_int_equal(s.tx.malformed, 0);
	assert_int_equal(s.acked, UINT64_MAX);

	/* A good one asking for 1 again: every fragment again, each tagged. */
	answer_tagged(fd, nc, &test_key, TEST_ID, "ncrx0 1");
	for (int i = 0; i < frags; i++) {
		rx_signed(fd, &e, buf, sizeof(buf));
		assert_int_equal(e.seq, 1);
	}
	EVENTUALLY(nc, st.tx.responses == 1 && st.acked == 0 && st.tx.resent == 1);

	for (int i = 0; i < 40; i++)
		log_str("more");
	do
		rx_signed(fd, &e, buf, sizeof(buf));
	while (e.seq != 41);
	assert_int_equal(ncx_netcon_wait_acked(nc, 20), -ETIMEDOUT);
	answer_tagged(fd, nc, &test_key, TEST_ID, "ncrx41");
	assert_int_equal(ncx_netcon_wait_acked(nc, WAIT_MS), 0);
	assert_int_equal(stats(nc).bad_tag, 4);
	ncx_netcon_stop(nc);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_records_arrive),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_resend_request),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_gone),
		cmocka_unit_test(test_gone_auth),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_emergency),
		cmocka_unit_test(test_threshold_numbering),
		cmocka_unit_test(test_pacing),
		cmocka_unit_test(test_gone_notice),
		cmocka_unit_test(test_start_hold),
		cmocka_unit_test(test_random_id),
		cmocka_unit_test(test_auth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
