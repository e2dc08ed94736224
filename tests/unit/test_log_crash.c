/* SPDX-License-Identifier: MIT */
/*
 * The crash hook (lib/log_crash.c): a child logs, then dies of a signal; its
 * file console must hold the last records, the partial line and the
 * record naming the signal. Forks and kills, so it is not run under TSan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ncx/log.h"

enum how { SEGV, ABORT, FPE_RAISE, IN_FORMAT };

static void child(const char *path, enum how how)
{
	struct rlimit no_core = { 0, 0 };
	struct ncx_console *con;

	setrlimit(RLIMIT_CORE, &no_core);
	if (ncx_log_init(NULL) && ncx_log_ring() == NULL)
		_exit(2);
	con = ncx_console_file(path, NCX_LOG_INFO, 0);
	if (!con || ncx_console_register(con) || ncx_log_crash_hook(true))
		_exit(3);
	for (int i = 0; i < 1000; i++)
		ncx_info("last words %d\n", i);
	ncx_debug("filtered out by the console's level\n");
	ncx_err("a partial line without its newline");
	switch (how) {
	case SEGV: {
		volatile int *volatile p = NULL;

		*p = 42;
		break;
	}
	case ABORT:
		abort();
	case FPE_RAISE:
		raise(SIGFPE);
		break;
	case IN_FORMAT: {
		/* The classic: a bad pointer for %s faults inside ncx_log() itself. */
		const char *volatile bad = (const char *)16;

		ncx_err(": %s\n", bad);
		break;
	}
	}
	_exit(4);	/* not reached */
}

static char *slurp(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = 0;
	return buf;
}

static void crash_and_check(enum how how, int sig, const char *signame)
{
	char path[] = "/tmp/ncx-crash-XXXXXX";
	int fd = mkstemp(path), status = 0;
	pid_t pid;
	char want[64];

	assert_true(fd >= 0);
	close(fd);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child(path, how);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		fail_msg("child status 0x%x", status);
	assert_int_equal(WTERMSIG(status), sig);

	const char *out = slurp(path);
	const char *last = strstr(out, "] last words 999\n");
	const char *partial = strstr(out, "] a partial line without its newline\n");
	snprintf(want, sizeof(want), "] caught %s (signal %d,", signame, sig);
	const char *crash = strstr(out, want);

	assert_non_null(strstr(out, "] last words 0\n"));
	assert_non_null(last);
	assert_non_null(partial);
	assert_non_null(crash);
	assert_null(strstr(out, "filtered out"));
	assert_null(strstr(out, "lost **"));
	/* In the order they were logged, the signal last. */
	assert_true(last < partial && partial < crash);
	assert_non_null(strstr(partial - 40, "<3> [T"));
	assert_non_null(strstr(crash - 40, "<0> [T"));
	unlink(path);
}

static void test_crash_segv(void **state)
{
	crash_and_check(SEGV, SIGSEGV, "SIGSEGV");
}

static void test_crash_abort(void **state)
{
	crash_and_check(ABORT, SIGABRT, "SIGABRT");
}

static void test_crash_raised_fpe(void **state)
{
	crash_and_check(FPE_RAISE, SIGFPE, "SIGFPE");
}

/* Crashing while formatting: the line so far is still committed. */
static void test_crash_inside_ncx_log(void **state)
{
	crash_and_check(IN_FORMAT, SIGSEGV, "SIGSEGV");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_segv),
		cmocka_unit_test(test_crash_abort),
		cmocka_unit_test(test_crash_raised_fpe),
		cmocka_unit_test(test_crash_inside_ncx_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
