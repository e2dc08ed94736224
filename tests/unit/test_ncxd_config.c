/* SPDX-License-Identifier: MIT */
/* ncxd's settings: defaults, every option's checks, and the config file's
 * errors (with file and line). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>

#include "../../cmd/ncxd/allow.c"
#include "../../cmd/ncxd/config.c"
#include "../../cmd/ncxd/path.c"

static char err[512];

static int set(struct ncxd_config *c, const char *name, const char *v)
{
	err[0] = 0;
	return ncxd_config_set(c, name, v, true, err, sizeof(err));
}

static void test_defaults(void **state)
{
	struct ncxd_config c;

	ncxd_config_default(&c);
	assert_string_equal(c.dir, "/var/log/ncx");
	assert_string_equal(c.path, "%h/%Y-%m-%d.log");
	assert_int_equal(c.format, NCXD_TEXT);
	assert_true(c.threads >= 1);
	assert_int_equal(c.rate, 1 << 20);
	assert_int_equal(c.burst, 4 << 20);
	assert_int_equal(c.rcvbuf, 32 << 20);
	assert_int_equal(c.metrics_interval, 10);
	assert_int_equal(c.nlisten, 0); /* main fills in 0.0.0.0:6666 and [::]:6666 */
	assert_string_equal(c.control, "/run/ncx/ncxd.sock");
	assert_false(c.control_given);
	assert_int_equal(c.metrics_per_host, 100);
	ncxd_config_free(&c);
}

/* --control PATH, --control '' (none), --metrics-per-host N (0: none). */
static void test_control_and_per_host(void **state)
{
	struct ncxd_config c;

	ncxd_config_default(&c);
	assert_int_equal(set(&c, "control", "/tmp/x.sock"), 0);
	assert_string_equal(c.control, "/tmp/x.sock");
	assert_true(c.control_given);
	assert_int_equal(set(&c, "control", ""), 0);
	assert_null(c.control);
	assert_int_equal(set(&c, "metrics-per-host", "0"), 0);
	assert_int_equal(c.metrics_per_host, 0);
	assert_int_equal(set(&c, "metrics-per-host", "100000"), 0);
	assert_int_equal(set(&c, "metrics-per-host", "100001"), -EINVAL);
	assert_non_null(strstr(err, "metrics-per-host"));
	assert_int_equal(set(&c, "metrics-per-host", "-1"), -EINVAL);
	char longpath[200];

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	assert_int_equal(set(&c, "control", longpath), -EINVAL);
	assert_true(ncxd_config_known("control"));
	assert_true(ncxd_config_known("metrics-per-host"));
	ncxd_config_free(&c);
}

static void test_values(void **state)
{
	struct ncxd_config c;

	ncxd_config_default(&c);
	assert_int_equal(set(&c, "format", "json"), 0);
	assert_int_equal(c.format, NCXD_JSON);
	assert_int_equal(set(&c, "rate", "1000:5000"), 0);
	assert_int_equal(c.rate, 1000);
	assert_int_equal(c.burst, 5000);
	assert_int_equal(set(&c, "rate", "0"), 0);
	assert_int_equal(c.rate, 0);
	assert_int_equal(set(&c, "rate", "1000000"), 0);
	assert_int_equal(c.burst, 4000000);
	assert_int_equal(set(&c, "threads", "64"), 0);
	assert_int_equal(set(&c, "idle", "0"), 0);
	assert_int_equal(set(&c, "path", "%h/%p.log"), 0);
	assert_string_equal(c.path, "%h/%p.log");
	assert_int_equal(set(&c, "allow", "10.0.0.0/8"), 0);
	assert_int_equal(set(&c, "allow", "::1"), 0);
	assert_int_equal(c.nallow, 2);
	ncxd_config_free(&c);
}

static void test_rejects(void **state)
{
	static const char *const bad[][2] = {
		{ "format", "xml" },	  { "threads", "0" },	     { "threads", "65" },
		{ "threads", "-1" },	  { "threads", "2x" },	     { "threads", "" },
		{ "rate", "fast" },	  { "rate", "100:" },	     { "rate", ":100" },
		{ "rate", "100:0" },	  { "listen", "nowhere" },   { "listen", "1.2.3.4:99999" },
		{ "allow", "10.0.0.0/33" }, { "path", "/abs/%h" },   { "path", "../%h" },
		{ "path", "flat.log" },	  { "metrics-interval", "0" }, { "rcvbuf", "lots" },
		{ "max-files", "0" },	  { "buffer-size", "10" },   { "flush-ms", "1000" },
		{ "dir", "" },		  { "bogus", "1" },
	};
	struct ncxd_config c;

	ncxd_config_default(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(set(&c, bad[i][0], bad[i][1]), -EINVAL);
		assert_true(strlen(err) > 0);
	}
	ncxd_config_free(&c);
}

static char *write_file(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/ncxd-conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void file_error(const char *text, const char *want_suffix)
{
	struct ncxd_config c;
	char *path = write_file(text), want[256];

	ncxd_config_default(&c);
	assert_int_equal(ncxd_config_file(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:%s", path, want_suffix);
	assert_string_equal(err, want);
	unlink(path);
	ncxd_config_free(&c);
}

static void test_file(void **state)
{
	struct ncxd_config c;
	char *path = write_file("# ncxd.conf\n\n  listen 127.0.0.1:7000  \n"
				"listen [::1]:7000\n\tdir /srv/log dir/with space \n"
				"format json\n  # indented comment\nallow 10.0.0.0/8\nrate 0\n");

	ncxd_config_default(&c);
	assert_int_equal(ncxd_config_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[0], "127.0.0.1:7000");
	assert_string_equal(c.listen[1], "[::1]:7000");
	assert_string_equal(c.dir, "/srv/log dir/with space");
	assert_int_equal(c.format, NCXD_JSON);
	assert_int_equal(c.nallow, 1);
	assert_int_equal(c.rate, 0);
	/* The command line's first -l replaces the file's list; later ones add. */
	assert_int_equal(set(&c, "listen", "127.0.0.2:1"), 0);
	assert_int_equal(set(&c, "listen", "127.0.0.3:1"), 0);
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[0], "127.0.0.2:1");
	unlink(path);
	ncxd_config_free(&c);

	file_error("format text\nbogus 1\n", "2: unknown option 'bogus'");
	file_error("threads\n", "1: threads: missing value");
	file_error("\n\nthreads many\n", "3: threads: 'many' is not a number from 1 to 64");
	file_error("--dir /x\n", "1: unknown option '--dir'");
	file_error("listen 1.2.3.4:0x10\n",
		   "1: listen: '1.2.3.4:0x10' is not ADDR[:PORT] (e.g. 0.0.0.0:6666 or [::]:6666)");

	ncxd_config_default(&c);
	assert_int_equal(ncxd_config_file(&c, "/nonexistent/ncxd.conf", err, sizeof(err)), -ENOENT);
	ncxd_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_control_and_per_host),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
