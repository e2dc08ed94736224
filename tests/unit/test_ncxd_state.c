/* SPDX-License-Identifier: MIT */
/* ncxd's state table (cmd/ncxd/state.c) on a scratch directory: a sender's
 * position survives a reopen and a SIGKILL, is found whoever claimed it,
 * expires, is forgotten and reused, the table's bound is kept and counted,
 * a foreign file is replaced, and workers claiming at once get a slot each.
 * ncx:tsan */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errno.h>

#include "scratch.h"
#include "../../cmd/ncxd/ncxd.h"

static char dir[64];

static int setup(void **state)
{
	assert_int_equal(scratch_make(dir, "ncxd-state"), 0);
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(scratch_remove(dir), 0);
	return 0;
}

/* 127.x.y.z:port from n, or [::1]-like IPv6 when v6. */
static struct ncx_addr addr_n(uint32_t n, uint16_t port, bool v6)
{
	struct ncx_addr a;

	memset(&a, 0, sizeof(a));
	a.family = v6 ? AF_INET6 : AF_INET;
	a.port = port;
	a.addr[0] = v6 ? 0xfd : 127;
	a.addr[1] = (uint8_t)(n >> 16);
	a.addr[2] = (uint8_t)(n >> 8);
	a.addr[3] = (uint8_t)n;
	return a;
}

static void open_ok(struct ncxd_state *st, uint32_t nslots, uint64_t now_s,
		    struct ncxd_state_stats *ss)
{
	assert_int_equal(ncxd_state_open(st, dir, nslots, now_s, ss), 0);
}

static void test_claim_find_put(void **state)
{
	struct ncxd_state st;
	struct ncxd_state_stats ss;
	struct ncx_addr a = addr_n(1, 6665, false), b = addr_n(1, 6666, false);
	struct ncx_addr c = addr_n(1, 6665, true);
	struct ncxd_state_slot *sa, *sb, *sc;

	open_ok(&st, 1024, 1000, &ss);
	assert_false(ss.found);
	assert_null(ncxd_state_find(&st, &a));
	sa = ncxd_state_claim(&st, &a, 10, 1000);
	sb = ncxd_state_claim(&st, &b, 20, 1000);
	sc = ncxd_state_claim(&st, &c, 30, 1000);
	assert_non_null(sa);
	assert_true(sa != sb && sb != sc && sa != sc);
	/* the port and the family are part of the key */
	assert_ptr_equal(ncxd_state_find(&st, &a), sa);
	assert_ptr_equal(ncxd_state_find(&st, &b), sb);
	assert_ptr_equal(ncxd_state_find(&st, &c), sc);
	/* claiming again finds the same slot and keeps its value */
	assert_ptr_equal(ncxd_state_claim(&st, &a, 99, 1000), sa);
	assert_int_equal(ncxd_state_next(sa), 10);
	assert_int_equal(ncxd_state_ts(sa), 0);
	ncxd_state_put(sa, 0, 11, 777, 1001);
	assert_int_equal(ncxd_state_next(sa), 11);
	assert_int_equal(ncxd_state_ts(sa), 777);
	assert_int_equal(ncxd_state_next(sb), 20);
	ncxd_state_close(&st);
}

/* A reopen (the next run) finds every entry, wherever it lands now. */
static void test_reopen_keeps(void **state)
{
	struct ncxd_state st;
	struct ncxd_state_stats ss;

	open_ok(&st, 4096, 1000, &ss);
	for (uint32_t i = 0; i < 500; i++) {
		struct ncx_addr a = addr_n(i, 6665, i & 1);

		ncxd_state_put(ncxd_state_claim(&st, &a, 0, 1000), 0, i * 3, i * 5, 1000);
	}
	ncxd_state_close(&st);
	open_ok(&st, 4096, 2000, &ss);
	assert_true(ss.found);
	assert_int_equal(ss.unreadable, 0);
	assert_int_equal(ss.kept, 500);
	for (uint32_t i = 0; i < 500; i++) {
		struct ncx_addr a = addr_n(i, 6665, i & 1);
		struct ncxd_state_slot *sl = ncxd_state_find(&st, &a);

		assert_non_null(sl);
		assert_int_equal(ncxd_state_next(sl), i * 3);
		assert_int_equal(ncxd_state_ts(sl), i * 5);
	}
	ncxd_state_close(&st);
}

/* The point of the mmap: a store survives the process being killed. */
static void test_survives_sigkill(void **state)
{
	struct ncxd_state st;
	struct ncxd_state_stats ss;
	struct ncx_addr a = addr_n(7, 6665, false);
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct ncxd_state_slot *sl;

		if (ncxd_state_open(&st, dir, 1024, 1000, &ss) < 0)
			_exit(1);
		sl = ncxd_state_claim(&st, &a, 1, 1000);
		if (!sl)
			_exit(1);
		for (uint64_t n = 2; n <= 123456; n++)
			ncxd_state_put(sl, 0, n, n * 10, 1000);
		raise(SIGKILL);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	open_ok(&st, 1024, 1000, &ss);
	assert_non_null(ncxd_state_find(&st, &a));
	assert_int_equal(ncxd_state_next(ncxd_state_find(&st, &a)), 123456);
	ncxd_state_close(&st);
}

/* Entries not updated for NCXD_STATE_EXPIRE_S are gone at the next start. */
static void test_expiry(void **state)
{
	struct ncxd_state st;
	struct ncxd_state_stats ss;
	struct ncx_addr old = addr_n(1, 1, false), recent = addr_n(2, 1, false);
	uint64_t t0 = 100000000;

	open_ok(&st, 1024, t0, &ss);
	assert_non_null(ncxd_state_claim(&st, &old, 5, t0));
	ncxd_state_put(ncxd_state_claim(&st, &recent, 5, t0), 0, 6, 0, t0 + 100);
	ncxd_state_close(&st);
	open_ok(&st, 1024, t0 + NCXD_STATE_EXPIRE_S + 50, &ss);
	assert_int_equal(ss.kept, 1);
	assert_int_equal(ss.expired, 1);
	assert_null(ncxd_state_find(&st, &old));
	assert_non_null(ncxd_state_find(&st, &recent));
	ncxd_state_close(&st);
}

/* Forgotten: not found; its slot is taken again, and a lookup goes past
 * it to an entry further along the chain. */
static void test_forget_and_reuse(void **state)
{
	struct ncxd_state st;
	struct ncxd_state_stats ss;
	struct ncx_addr a[64];
	struct ncxd_state_slot *sl[64];

	/* 64 slots, more probes than that: every sender may land anywhere */
	open_ok(&st, 64, 1000, &ss);
	for (uint32_t i = 0; i < 64; i++) {
		a[i] = addr_n(i, 6665, false);
		sl[i] = ncxd_state_claim(&st, &a[i], i, 1000);
		assert_non_null(sl[i]);
	}
	/* full: counted, no slot */
	struct ncx_addr extra = addr_n(1000, 6665, false);

	assert_null(ncxd_state_claim(&st, &extra, 1, 1000));
	assert_int_equal(atomic_load(&st.full), 1);
	ncxd_state_forget(sl[10]);
	assert_null(ncxd_state_find(&st, &a[10]));
	for (uint32_t i = 0; i < 64; i++)
		if (i != 10)
			assert_ptr_equal(ncxd_state_find(&st, &a[i]), sl[i]);
	assert_ptr_equal(ncxd_state_claim(&st, &extra, 1, 1000), sl[10]);
	assert_ptr_equal(ncxd_state_find(&st, &extra), sl[10]);
	ncxd_state_close(&st);
	/* the rebuild drops the forgotten one for good */
	open_ok(&st, 64, 1000, &ss);
	assert_int_equal(ss.kept, 64);
	assert_null(ncxd_state_find(&st, &a[10]));
	ncxd_state_close(&st);
}

/* Not a table of ours: replaced by an empty one, and said so. */
static void test_foreign_file(void **state)
{
	struct ncxd_state st;
	struct ncxd_state_stats ss;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, NCXD_STATE_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a state table\n", f);
	fclose(f);
	open_ok(&st, 64, 1000, &ss);
	assert_false(ss.found);
	assert_int_equal(ss.unreadable, EBADMSG);
	struct ncx_addr a = addr_n(1, 1, false);

	assert_non_null(ncxd_state_claim(&st, &a, 1, 1000));
	ncxd_state_close(&st);
	/* a table of another size is read, and carried over into this size */
	open_ok(&st, 128, 1000, &ss);
	assert_true(ss.found);
	assert_non_null(ncxd_state_find(&st, &a));
	ncxd_state_close(&st);
}

/* One table per DIR: a second open while the first lives is refused. */
static void test_one_per_dir(void **state)
{
	struct ncxd_state st, st2;
	struct ncxd_state_stats ss;

	open_ok(&st, 64, 1000, &ss);
	assert_int_equal(ncxd_state_open(&st2, dir, 64, 1000, &ss), -EBUSY);
	assert_null(st2.f);
	ncxd_state_close(&st2);
	ncxd_state_close(&st);
	open_ok(&st2, 64, 1000, &ss);
	ncxd_state_close(&st2);
}

#define THREADS 4
#define PER 1000

struct worker_arg {
	struct ncxd_state *st;
	int id;
	struct ncxd_state_slot *sl[PER];
};

static void *claimer(void *p)
{
	struct worker_arg *w = p;

	for (uint32_t i = 0; i < PER; i++) {
		struct ncx_addr a = addr_n((uint32_t)w->id * PER + i, 6665, false);

		w->sl[i] = ncxd_state_claim(w->st, &a, i, 1000);
		if (w->sl[i])
			ncxd_state_put(w->sl[i], 0, (uint64_t)w->id << 32 | i, i, 1000);
	}
	return NULL;
}

/* Workers claiming at once: each sender one slot of its own. */
static void test_concurrent_claims(void **state)
{
	static struct worker_arg w[THREADS];
	struct ncxd_state st;
	struct ncxd_state_stats ss;
	pthread_t t[THREADS];

	open_ok(&st, 8192, 1000, &ss);
	for (int i = 0; i < THREADS; i++) {
		w[i].st = &st;
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, claimer, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&st.full), 0);
	for (int i = 0; i < THREADS; i++)
		for (uint32_t k = 0; k < PER; k++) {
			struct ncx_addr a = addr_n((uint32_t)i * PER + k, 6665, false);

			assert_non_null(w[i].sl[k]);
			assert_ptr_equal(ncxd_state_find(&st, &a), w[i].sl[k]);
			assert_int_equal(ncxd_state_next(w[i].sl[k]), (uint64_t)i << 32 | k);
		}
	ncxd_state_close(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_claim_find_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_survives_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_and_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_per_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
