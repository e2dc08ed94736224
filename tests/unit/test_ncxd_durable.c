/* SPDX-License-Identifier: MIT */
/* ncxd's durable set: a reliable sender's position reaches its state slot
 * only once everything before it is in the file, and a response goes out
 * only once the file it vouches for is written; a file that cannot be
 * written holds its responses back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ncx/log.h>
#include <ncx/udp.h>

#include "scratch.h"
#include "../../cmd/ncxd/durable.h"

#define DAY0 (1795305600ull * 1000000u) /* 2026-11-22T00:00:00Z */

static char dir[64];

static int setup(void **state)
{
	assert_int_equal(scratch_make(dir, "ncxd-durable"), 0);
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(scratch_remove(dir), 0);
	return 0;
}

static void config(struct ncxd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->dir = dir;
	c->path = (char *)"%h/x.log";
	c->format = NCXD_TEXT;
	c->max_fds = 2;
	c->buffers = 2;
	c->buffer_size = 4096;
}

/* A reliable record at seq, handed to the sink and to the durable set. */
static void record(struct durable_set *ds, struct durable *d, const struct ncx_addr *a,
		   uint64_t seq)
{
	char wire[64];
	struct ncx_ext r;

	snprintf(wire, sizeof(wire), "6,%llu,%llu,-,ncrx=1;rec %llu", (unsigned long long)seq,
		 (unsigned long long)(1000 + seq), (unsigned long long)seq);
	assert_int_equal(ncx_ext_parse(wire, strlen(wire), &r), 0);
	sink_record(ds->sink, d->file, &r);
	durable_record(ds, d, a, true, 0, seq + 1, r.ts_usec);
}

static char *slurp(const char *rel)
{
	char path[256];
	static char buf[1 << 16];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Make the host's directory a file: nothing can be written there. */
static void block(const char *host)
{
	char path[128], cmd[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, host);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static void unblock(const char *host)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, host);
	assert_int_equal(unlink(path), 0);
}

/* The slot gets the position only when the sink has written everything;
 * a failing write leaves it where the file ends. */
static void test_state_position(void **state)
{
	struct ncxd_config c;
	struct ncxd_state st;
	struct ncxd_state_stats ss;
	struct sink s;
	struct durable_set ds;
	struct durable d;
	struct ncx_addr a;
	struct ncxd_state_slot *sl;

	config(&c);
	assert_int_equal(ncxd_state_open(&st, dir, 64, 1000, &ss), 0);
	assert_int_equal(sink_init(&s, &c), 0);
	sink_set_now(&s, 1, DAY0);
	durable_init(&ds, &st, &s);
	assert_int_equal(ncx_addr_parse("10.0.0.4:6665", 1, &a), 0);
	durable_attach(&d, sink_host_new(&s, &a));
	for (uint64_t seq = 5; seq < 8; seq++)
		record(&ds, &d, &a, seq);
	sl = ncxd_state_find(&st, &a);
	assert_non_null(sl);
	/* buffered, not written: the slot still says 5 */
	durable_round_end(&ds);
	assert_int_equal(ncxd_state_next(sl), 5);
	assert_int_equal(sink_flush_host(&s, d.file), 0);
	durable_round_end(&ds);
	assert_int_equal(ncxd_state_next(sl), 8);
	assert_int_equal(ncxd_state_ts(sl), 1007);
	assert_non_null(strstr(slurp("10.0.0.4/x.log"), "rec 7 seq=7\n"));
	/* the file cannot be written: the flush fails, the slot stays */
	sink_reopen(&s);
	block("10.0.0.4");
	record(&ds, &d, &a, 8);
	assert_true(sink_flush_host(&s, d.file) < 0);
	sink_flush_all(&s);
	durable_round_end(&ds);
	assert_int_equal(ncxd_state_next(sl), 8);
	/* writable again: the buffered record goes out, then the slot moves */
	unblock("10.0.0.4");
	assert_int_equal(sink_flush_host(&s, d.file), 0);
	durable_round_end(&ds);
	assert_int_equal(ncxd_state_next(sl), 9);
	assert_non_null(strstr(slurp("10.0.0.4/x.log"), "rec 8 seq=8\n"));
	/* evicted to make room: the slot stays, with what was written */
	record(&ds, &d, &a, 9);
	assert_int_equal(sink_flush_host(&s, d.file), 0);
	durable_forget(&ds, &d, true);
	assert_int_equal(ncxd_state_next(sl), 10);
	assert_ptr_equal(ncxd_state_find(&st, &a), sl);
	/* back, then forgotten (idle): the slot goes with it */
	durable_attach(&d, d.file);
	record(&ds, &d, &a, 10);
	durable_forget(&ds, &d, false);
	assert_null(ncxd_state_find(&st, &a));
	sink_finish(&s);
	sink_free(&s);
	ncxd_state_close(&st);
}

/* A socket on loopback to receive responses on, and its address. */
static int catcher(struct ncx_addr *at)
{
	struct ncx_addr any;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	assert_int_equal(ncx_addr_parse("127.0.0.1:0", 0, &any), 0);
	fd = ncx_udp_bind(&any, NULL);
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(ncx_addr_from_sockaddr(at, (struct sockaddr *)&ss, len), 0);
	return fd;
}

/* Responses wait for the round's end, and go only once their file is
 * written: what they ack is in the file before the sender hears of it. */
static void test_ack_only_written(void **state)
{
	struct ncxd_config c;
	struct sink s;
	struct durable_set ds;
	struct durable d;
	struct ncx_addr a, to;
	char buf[64];
	int rx = catcher(&to), tx = catcher(&(struct ncx_addr){ 0 });

	config(&c);
	assert_int_equal(sink_init(&s, &c), 0);
	sink_set_now(&s, 1, DAY0);
	durable_init(&ds, NULL, &s);
	assert_int_equal(ncx_addr_parse("10.0.0.5:6665", 1, &a), 0);
	durable_attach(&d, sink_host_new(&s, &a));
	record(&ds, &d, &a, 1);
	durable_reply(&ds, &d, tx, &to, "ncrx1", 5);
	record(&ds, &d, &a, 2);
	durable_reply(&ds, &d, tx, &to, "ncrx2", 5);
	assert_null(slurp("10.0.0.5/x.log")); /* nothing written, nothing sent yet */
	assert_true(recv(rx, buf, sizeof(buf), MSG_DONTWAIT) < 0);
	durable_round_end(&ds);
	assert_non_null(strstr(slurp("10.0.0.5/x.log"), "rec 2 seq=2\n"));
	assert_int_equal(recv(rx, buf, sizeof(buf), MSG_DONTWAIT), 5);
	assert_memory_equal(buf, "ncrx1", 5);
	assert_int_equal(recv(rx, buf, sizeof(buf), MSG_DONTWAIT), 5);
	assert_memory_equal(buf, "ncrx2", 5);
	assert_int_equal(ds.sent, 2);
	/* a file that cannot be written: its responses are held back */
	sink_reopen(&s);
	block("10.0.0.5");
	record(&ds, &d, &a, 3);
	durable_reply(&ds, &d, tx, &to, "ncrx3", 5);
	durable_round_end(&ds);
	assert_true(recv(rx, buf, sizeof(buf), MSG_DONTWAIT) < 0);
	assert_int_equal(ds.held_back, 1);
	unblock("10.0.0.5");
	sink_finish(&s);
	sink_free(&s);
	close(rx);
	close(tx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_only_written, setup, teardown),
	};

	ncx_log_init(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
