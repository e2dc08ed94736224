/* SPDX-License-Identifier: MIT */
/*
 * The plain stderr console (ncx_console_stderr(), lib/log_console.c): the
 * exact lines, the gap line, the level threshold, a batch larger than the
 * console's buffer. Each test points fd 2 at a file for as long as it
 * runs. One test goes through the core's console thread: ncx:tsan
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ncx/log.h"

/* ---- fd 2 into a file, and back ---- */

static int saved_fd2 = -1;
static char cap_path[64];

static void capture_start(void)
{
	int fd;

	strcpy(cap_path, "/tmp/test_log_console.XXXXXX");
	fd = mkstemp(cap_path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_fd2 = dup(2);
	assert_true(saved_fd2 >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
}

/* Put fd 2 back; returns what was written to it (NUL-terminated, malloc'd). */
static char *capture_end(size_t *len)
{
	FILE *f;
	char *out;
	long n;

	fflush(stderr);
	dup2(saved_fd2, 2);
	close(saved_fd2);
	saved_fd2 = -1;
	f = fopen(cap_path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
	out[n] = 0;
	fclose(f);
	unlink(cap_path);
	if (len)
		*len = (size_t)n;
	return out;
}

static struct ncx_log_record rec_of(const char *text, size_t len, int level)
{
	struct ncx_log_record r = {
		.seq = 7, .ts_usec = 1763775234123456ull, .tid = 4242, .cpu = 1,
		.level = (uint8_t)level, .facility = 1, .text = text, .len = len,
	};

	return r;
}

/* ---- tests ---- */

static void test_lines_exact(void **state)
{
	static const char ctl[] = "a\tb\x01" "c\\d\x7f" "e\x1b[0m";
	struct ncx_console *con = ncx_console_stderr("ncx listen", NCX_LOG_NOTICE, 0);
	struct ncx_log_record r;
	char *out;

	(void)state;
	assert_non_null(con);
	assert_string_equal(con->name, "stderr");
	assert_int_equal(con->level, NCX_LOG_NOTICE);
	capture_start();
	r = rec_of("cannot listen on 1.2.3.4:6666: Address in use", 45, NCX_LOG_ERR);
	con->write(con, &r);
	r = rec_of(ctl, sizeof(ctl) - 1, NCX_LOG_ERR);
	con->write(con, &r);
	r = rec_of("", 0, NCX_LOG_ERR);
	con->write(con, &r);
	con->flush(con);
	out = capture_end(NULL);
	assert_string_equal(out, "ncx listen: cannot listen on 1.2.3.4:6666: Address in use\n"
				 "ncx listen: a\tb\\x01c\\x5cd\\x7fe\\x1b[0m\n"
				 "ncx listen: \n");
	free(out);
	ncx_console_free(con);
}

static void test_gap_line(void **state)
{
	struct ncx_console *con = ncx_console_stderr("tool", NCX_LOG_DEBUG, 0);
	struct ncx_log_record r = rec_of("after the gap", 13, NCX_LOG_WARNING);
	char *out;

	(void)state;
	assert_non_null(con);
	capture_start();
	r.lost_records = 1234;
	r.lost_bytes = 56789;
	con->write(con, &r);
	r.lost_records = r.lost_bytes = 0;
	r.text = "next";
	r.len = 4;
	con->write(con, &r);
	con->flush(con);
	out = capture_end(NULL);
	assert_string_equal(out, "tool: ** 1234 records lost **\n"
				 "tool: after the gap\n"
				 "tool: next\n");
	free(out);
	ncx_console_free(con);
}

/* Nothing is written before the batch ends; ncx_console_free() writes what is left. */
static void test_buffered_until_flush(void **state)
{
	struct ncx_console *con = ncx_console_stderr("tool", NCX_LOG_DEBUG, 0);
	struct ncx_log_record r = rec_of("held", 4, NCX_LOG_ERR);
	size_t len;
	char *out;

	(void)state;
	capture_start();
	con->write(con, &r);
	out = capture_end(&len);
	assert_int_equal(len, 0);
	free(out);
	capture_start();
	ncx_console_free(con);
	out = capture_end(NULL);
	assert_string_equal(out, "tool: held\n");
	free(out);
}

/* A batch of fully escaped maximum-length lines, far more than the buffer. */
static void test_batch_over_buffer(void **state)
{
	struct ncx_console *con = ncx_console_stderr("tool", NCX_LOG_DEBUG, 0);
	static char text[NCX_LOG_LINE_MAX];
	const size_t line = 6 + 4 * sizeof(text) + 1, lines = 40;
	size_t len;
	char *out;

	(void)state;
	memset(text, 0x01, sizeof(text));
	capture_start();
	for (size_t i = 0; i < lines; i++) {
		struct ncx_log_record r = rec_of(text, sizeof(text), NCX_LOG_INFO);

		con->write(con, &r);
	}
	con->flush(con);
	out = capture_end(&len);
	assert_int_equal(len, lines * line);
	for (size_t i = 0; i < lines; i++) {
		const char *l = out + i * line;

		assert_memory_equal(l, "tool: \\x01\\x01", 14);
		assert_memory_equal(l + line - 5, "\\x01\n", 5);
	}
	free(out);
	ncx_console_free(con);
}

static void test_bad_prog(void **state)
{
	char long_prog[NCX_CON_PROG_MAX + 2];
	struct ncx_console *con;

	(void)state;
	errno = 0;
	assert_null(ncx_console_stderr(NULL, NCX_LOG_ERR, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(ncx_console_stderr("", NCX_LOG_ERR, 0));
	assert_int_equal(errno, EINVAL);
	memset(long_prog, 'p', sizeof(long_prog) - 1);
	long_prog[sizeof(long_prog) - 1] = 0;
	errno = 0;
	assert_null(ncx_console_stderr(long_prog, NCX_LOG_ERR, 0));
	assert_int_equal(errno, EINVAL);
	long_prog[NCX_CON_PROG_MAX] = 0;
	con = ncx_console_stderr(long_prog, NCX_LOG_ERR, 0);
	assert_non_null(con);
	ncx_console_free(con);
}

/* Through the core: its thread, its level threshold, ncx_log_flush(). */
static void test_through_core(void **state)
{
	struct ncx_log_config cfg = { .ring_size = 64 << 10 };
	struct ncx_console *con = ncx_console_stderr("ncx forward", NCX_LOG_WARNING, 0);
	struct ncx_console *all = ncx_console_stderr("all", NCX_LOG_EMERG, NCX_CON_ALLDATA);
	char mine[512] = "", others[512] = "", *out;

	(void)state;
	assert_int_equal(ncx_log_init(&cfg), 0);
	capture_start();
	assert_int_equal(ncx_console_register(con), 0);
	assert_int_equal(ncx_console_register(all), 0);
	ncx_info("starting\n");
	ncx_err("cannot open %s: %s\n", "/dev/kmsg", "Permission denied");
	ncx_debug("detail\n");
	ncx_warn("%d records (seq %u..%u) missing", 3, 10u, 12u);
	ncx_warn(" from /dev/kmsg\n");
	ncx_notice("not shown\n");
	ncx_emerg("shown\n");
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(ncx_console_unregister(con), 0);
	assert_int_equal(ncx_console_unregister(all), 0);
	out = capture_end(NULL);
	/* Two consoles, each in its own order; their lines may interleave. */
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char *to = strncmp(l, "all: ", 5) ? mine : others;

		strcat(to, l);
		strcat(to, "\n");
	}
	assert_string_equal(mine, "ncx forward: cannot open /dev/kmsg: Permission denied\n"
				  "ncx forward: 3 records (seq 10..12) missing from /dev/kmsg\n"
				  "ncx forward: shown\n");
	assert_string_equal(others, "all: starting\n"
				    "all: cannot open /dev/kmsg: Permission denied\n"
				    "all: detail\n"
				    "all: 3 records (seq 10..12) missing from /dev/kmsg\n"
				    "all: not shown\n"
				    "all: shown\n");
	free(out);
	ncx_console_free(con);
	ncx_console_free(all);
	ncx_log_shutdown();
}

/* One call sets up a program's logging: a small ring, the plain console. */
static void test_start_stderr(void **state)
{
	struct ncx_console *con;
	char *out;

	(void)state;
	errno = 0;
	assert_null(ncx_log_start_stderr("", NCX_LOG_INFO));
	assert_int_equal(errno, EINVAL);
	ncx_log_shutdown();
	capture_start();
	con = ncx_log_start_stderr("ncx-relay", NCX_LOG_INFO);
	assert_non_null(con);
	assert_int_equal(ncx_log_ring()->size, NCX_LOG_CLI_RING);
	ncx_notice("blackout %s\n", "begins");
	ncx_debug("not shown\n");
	assert_int_equal(ncx_log_flush(), 0);
	assert_int_equal(ncx_console_unregister(con), 0);
	out = capture_end(NULL);
	assert_string_equal(out, "ncx-relay: blackout begins\n");
	free(out);
	ncx_console_free(con);
	ncx_log_shutdown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_exact),
		cmocka_unit_test(test_gap_line),
		cmocka_unit_test(test_buffered_until_flush),
		cmocka_unit_test(test_batch_over_buffer),
		cmocka_unit_test(test_bad_prog),
		cmocka_unit_test(test_through_core),
		cmocka_unit_test(test_start_stderr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
