/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of lib/sandbox.c with ncxd's own lists (cmd/ncxd/sandbox.c):
 * each case forks a child that enters the real filter or ruleset and then
 * tries what it must not do. seccomp: a call not on the list kills the
 * child with SIGSYS (SECCOMP_RET_KILL_PROCESS), and what is on it works;
 * /proc/self/status then says Seccomp 2 and NoNewPrivs 1. Landlock: the
 * child can use its log directory, the metrics file's directory and remove
 * the control socket, and cannot open anything else, for reading or
 * writing. Skipped (with a word) where the kernel has no Landlock.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <limits.h>

#include <ncx/log.h>

#include "../../cmd/ncxd/ncxd.h"
#include "../../lib/sandbox.h"

/* Run fn in a child; returns its wait status. */
static int in_child(int (*fn)(void *), void *arg)
{
	int st;
	pid_t p;

	fflush(NULL);
	p = fork();
	assert_true(p >= 0);
	if (p == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(p, &st, 0), p);
	return st;
}

static int enter_seccomp(void)
{
	const char *calls[256];
	size_t n = 0;
	char msg[256];

	for (size_t i = 0; i < ncxd_sandbox_ncalls && n < 192; i++)
		calls[n++] = ncxd_sandbox_calls[i];
	for (size_t i = 0; i < ncx_sb_sanitizer_ncalls && n < 256; i++)
		calls[n++] = ncx_sb_sanitizer_calls[i];
	if (ncx_sb_seccomp(calls, n, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "seccomp: %s\n", msg);
		return 1;
	}
	return 0;
}

static int try_socket(void *arg)
{
	(void)arg;
	if (enter_seccomp())
		return 1;
	(void)socket(AF_INET, SOCK_STREAM, 0);	/* not on ncxd's list */
	return 2;
}

static int try_execve(void *arg)
{
	char *argv[] = { "/bin/true", NULL };

	(void)arg;
	if (enter_seccomp())
		return 1;
	execve("/bin/true", argv, NULL);
	return 2;
}

static int try_ioctl(void *arg)
{
	int fds[2], n;

	(void)arg;
	if (pipe(fds) || enter_seccomp())
		return 1;
	(void)ioctl(fds[0], FIONREAD, &n);	/* only TCGETS is allowed */
	return 2;
}

static int try_fork(void *arg)
{
	(void)arg;
	if (enter_seccomp())
		return 1;
	/* clone without CLONE_THREAD: a new process, not a thread. */
	(void)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	return 2;
}

static int cmp_int(const void *a, const void *b)
{
	return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* What ncxd does all day works, and the status says so. */
static int try_allowed(void *arg)
{
	char buf[4096];
	ssize_t n;
	int fd;

	(void)arg;
	if (enter_seccomp())
		return 1;
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 3;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 4;
	buf[n] = 0;
	if (!strstr(buf, "\nSeccomp:\t2\n"))
		return 5;
	if (!strstr(buf, "\nNoNewPrivs:\t1\n"))
		return 6;
	if (isatty(2) < 0)	/* ioctl TCGETS */
		return 7;
	/* glibc's qsort of a big array asks sysinfo for the memory size
	 * (ncxd sorts its status table and busiest hosts). */
	size_t cnt = 100000;
	int *v = malloc(cnt * sizeof(*v));	/* mmap */

	if (!v)
		return 8;
	for (size_t i = 0; i < cnt; i++)
		v[i] = (int)(cnt - i);
	qsort(v, cnt, sizeof(*v), cmp_int);
	if (v[0] != 1)
		return 9;
	free(v);
	return 0;
}

static void test_seccomp_kills(void **state)
{
	int st;

	(void)state;
	st = in_child(try_socket, NULL);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_child(try_execve, NULL);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_child(try_ioctl, NULL);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	if (!ncx_sb_sanitizer_build) {	/* LSan needs clone for its exit check */
		st = in_child(try_fork, NULL);
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), SIGSYS);
	}
}

static void test_seccomp_allows(void **state)
{
	int st;

	(void)state;
	st = in_child(try_allowed, NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("child: %s %d", WIFEXITED(st) ? "exit" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ---- Landlock ----------------------------------------------------------- */

static char top[64];

static void path_in(char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s/%s", top, rel);
}

static int can_create(const char *rel)
{
	char p[256];
	int fd;

	path_in(p, sizeof(p), rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int can_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int landlock_child(void *arg)
{
	struct ncxd_config cfg = { 0 };
	static char bufs[2][PATH_MAX];
	struct ncx_sb_rule rules[8];
	char dir[256], metrics[256], ctl[256], p[256], q[256];
	char msg[512];
	int n, rc;

	(void)arg;
	path_in(dir, sizeof(dir), "logs");
	path_in(metrics, sizeof(metrics), "mdir/ncxd.prom");
	path_in(ctl, sizeof(ctl), "run/control");
	cfg.dir = dir;
	cfg.metrics = metrics;
	cfg.control = ctl;
	n = ncxd_sandbox_rules(&cfg, rules, 8, bufs);
	rc = ncx_sb_landlock(rules, (size_t)n, msg, sizeof(msg));
	if (rc == 0)
		return 77;	/* no Landlock here */
	if (rc < 0) {
		fprintf(stderr, "landlock: %s\n", msg);
		return 1;
	}
	/* What ncxd needs: files and dirs beneath the log directory, renames
	 * there (the state table), the metrics file and its .tmp, the socket. */
	path_in(p, sizeof(p), "logs/127.0.0.1");
	if (mkdir(p, 0750))
		return 10;
	if (can_create("logs/127.0.0.1/2026-01-01.log"))
		return 11;
	path_in(p, sizeof(p), "logs/127.0.0.1/2026-01-01.log");
	path_in(q, sizeof(q), "logs/127.0.0.1/2026-01-02.log");
	if (rename(p, q))
		return 12;
	if (can_read(q))
		return 13;
	if (can_create("mdir/ncxd.prom.tmp"))
		return 14;
	path_in(p, sizeof(p), "mdir/ncxd.prom.tmp");
	if (rename(p, metrics) || unlink(metrics))
		return 15;
	if (unlink(ctl))
		return 16;
	/* Nothing else: not beside the log directory, not in the control
	 * socket's directory, not /etc, not /tmp, for reading or writing. */
	if (can_create("outside") != -EACCES)
		return 20;
	path_in(p, sizeof(p), "secret");
	if (can_read(p) != -EACCES)
		return 21;
	if (can_create("run/new") != -EACCES)
		return 22;
	if (can_read("/etc/passwd") != -EACCES)
		return 23;
	if (can_read("/proc/self/status") != -EACCES)
		return 24;
	path_in(p, sizeof(p), "mdir/../secret");
	if (can_read(p) != -EACCES)
		return 25;
	path_in(p, sizeof(p), "logs/../../escape");
	if (can_read(p) != -EACCES && can_read(p) != -ENOENT)
		return 26;
	/* A symlink inside pointing out does not lead out. */
	path_in(p, sizeof(p), "logs/link");
	path_in(q, sizeof(q), "secret");
	if (symlink(q, p) == 0 || errno != EACCES)
		return 27;	/* MAKE_SYM is not granted either */
	return 0;
}

static void test_landlock_confines(void **state)
{
	char p[256];
	int st, fd;

	(void)state;
	snprintf(top, sizeof(top), "/tmp/ncx-test-sandbox.%d", (int)getpid());
	assert_int_equal(mkdir(top, 0700), 0);
	path_in(p, sizeof(p), "logs");
	assert_int_equal(mkdir(p, 0700), 0);
	path_in(p, sizeof(p), "mdir");
	assert_int_equal(mkdir(p, 0700), 0);
	path_in(p, sizeof(p), "run");
	assert_int_equal(mkdir(p, 0700), 0);
	path_in(p, sizeof(p), "run/control");
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	path_in(p, sizeof(p), "secret");
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);

	st = in_child(landlock_child, NULL);
	snprintf(p, sizeof(p), "rm -rf '%s'", top);
	assert_true(system(p) == 0);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	if (WEXITSTATUS(st))
		fail_msg("Landlock child failed at check %d", WEXITSTATUS(st));
}

/* What the log console's thread got when it tried to read a file outside
 * the rules: 0 (it could) or an errno. */
static volatile int console_open_err = -1;

static void probe_write(struct ncx_console *con, const struct ncx_log_record *rec)
{
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);

	(void)con, (void)rec;
	console_open_err = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
}

/* Wait (5 s at most) for the console thread's next result. */
static int console_result(void)
{
	int r;

	for (int i = 0; i < 5000 && console_open_err == -1; i++)
		usleep(1000);
	r = console_open_err;
	console_open_err = -1;
	return r;
}

/* The log core's thread, started before the sandbox, is outside Landlock's
 * domain until ncx_log_respawn() starts it again from inside. */
static int respawn_child(void *arg)
{
	static struct ncx_console con = { .name = "probe", .level = NCX_LOG_DEBUG,
					  .write = probe_write };
	struct ncx_log_config lc = { .ring_size = 1u << 16 };
	struct ncx_sb_rule rules[8];
	struct ncxd_config cfg = { 0 };
	char bufs[2][PATH_MAX], dir[256], msg[PATH_MAX + 64];
	int n, rc;

	(void)arg;
	if (ncx_log_init(&lc) || ncx_console_register(&con))
		return 1;
	path_in(dir, sizeof(dir), "logs");
	cfg.dir = dir;
	n = ncxd_sandbox_rules(&cfg, rules, 8, bufs);
	rc = ncx_sb_landlock(rules, (size_t)n, msg, sizeof(msg));
	if (rc == 0)
		return 77;
	if (rc < 0)
		return 2;
	/* The console's own thread delivers (not ncx_log_flush(), which would
	 * deliver from this, confined, thread). */
	ncx_log(NCX_LOG_INFO, "before\n");
	if (console_result() != 0)
		return 3;	/* the old thread was confined: the test shows nothing */
	if (ncx_log_respawn())
		return 4;
	ncx_log(NCX_LOG_INFO, "after\n");
	if (console_result() != EACCES)
		return 5;
	return 0;
}

static void test_landlock_log_thread(void **state)
{
	char p[256];
	int st;

	(void)state;
	snprintf(top, sizeof(top), "/tmp/ncx-test-sandbox-log.%d", (int)getpid());
	assert_int_equal(mkdir(top, 0700), 0);
	path_in(p, sizeof(p), "logs");
	assert_int_equal(mkdir(p, 0700), 0);
	st = in_child(respawn_child, NULL);
	snprintf(p, sizeof(p), "rm -rf '%s'", top);
	assert_true(system(p) == 0);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	if (WEXITSTATUS(st))
		fail_msg("log thread child failed at check %d", WEXITSTATUS(st));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seccomp_kills),
		cmocka_unit_test(test_seccomp_allows),
		cmocka_unit_test(test_landlock_confines),
		cmocka_unit_test(test_landlock_log_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
