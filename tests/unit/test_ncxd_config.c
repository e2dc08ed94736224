/* SPDX-License-Identifier: MIT */
/* ncxd's settings: defaults, every option's checks, the config file's
 * errors (with file and line), and the option table they come from. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cmd/ncxd/ncxd.h"
#include "../../cmd/ncxd/options.h"

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

/* The default listen pair comes after argv and the file, flagged as such. */
static void test_default_listen(void **state)
{
	struct ncxd_config c;

	ncxd_config_default(&c);
	ncxd_config_default_listen(&c);
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[0], "0.0.0.0:6666");
	assert_string_equal(c.listen[1], "[::]:6666");
	assert_true(c.listen_default);
	ncxd_config_free(&c);

	/* Given (even the same text): not the default, IPv6 must work. */
	ncxd_config_default(&c);
	assert_int_equal(set(&c, "listen", "[::]:6666"), 0);
	ncxd_config_default_listen(&c);
	assert_int_equal(c.nlisten, 1);
	assert_false(c.listen_default);
	ncxd_config_free(&c);
}

/* Whitespace runs as one blank, to find a phrase across help's lines. */
static void squeeze(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (; *in && n + 1 < cap; in++) {
		if (isspace((unsigned char)*in)) {
			if (n && out[n - 1] != ' ')
				out[n++] = ' ';
		} else {
			out[n++] = *in;
		}
	}
	out[n] = 0;
}

/* The table: whole entries, defaults that parse and that help states. */
static void test_table(void **state)
{
	struct ncxd_config c;

	for (size_t i = 0; i < ncxd_noptions; i++) {
		const struct ncxd_option *o = &ncxd_options[i];
		char text[512], want[128];

		assert_non_null(o->name);
		assert_ptr_equal(ncxd_option_find(o->name), o);
		assert_non_null(o->help);
		assert_non_null(o->man);
		/* a value, but for -c/-h/-V and flags (FUNC with no arg) */
		assert_true(o->kind == NCXD_OPT_CMD || o->kind == NCXD_OPT_FUNC || o->arg);
		assert_true(ncxd_config_known(o->name) == (o->kind != NCXD_OPT_CMD));
		if (o->kind == NCXD_OPT_UINT) {
			assert_non_null(o->what);
			assert_true(o->size == 4 || o->size == 8);
			assert_true(o->min <= o->max);
			assert_true(o->size == 8 || o->max <= INT32_MAX);
		}
		if (o->kind == NCXD_OPT_FUNC)
			assert_non_null(o->set);
		for (size_t j = 0; j < i; j++)
			assert_false(o->short_name && o->short_name == ncxd_options[j].short_name);
		if (!o->def)
			continue;
		/* It parses, and both texts say it. */
		ncxd_config_default(&c);
		assert_int_equal(set(&c, o->name, o->def), 0);
		ncxd_config_free(&c);
		snprintf(want, sizeof(want), "default %s", o->def);
		squeeze(o->help, text, sizeof(text));
		if (!strstr(text, want))
			fail_msg("--%s: help does not say '%s': %s", o->name, want, text);
		squeeze(o->man, text, sizeof(text));
		if (!strstr(text, want))
			fail_msg("--%s: man does not say '%s': %s", o->name, want, text);
	}
	assert_true(ncxd_noptions <= NCXD_OPTIONS_MAX);
	assert_null(ncxd_option_find("bogus"));
	assert_false(ncxd_config_known("help"));
	assert_false(ncxd_config_known("config"));
}

/* getopt_long()'s view: every option by both names, values as the table says. */
static void test_getopt(void **state)
{
	struct option lo[NCXD_OPTIONS_MAX + 1];
	char so[NCXD_SHORTOPTS_MAX];
	struct ncxd_config c;
	char *argv[] = { "ncxd", "-l", "127.0.0.1:1", "--listen=127.0.0.2:2", "--threads", "3",
			 "-d", "/srv", "--rate", "10", NULL };
	int argc = 10, opt, idx = -1;

	ncxd_options_getopt(lo, so);
	assert_string_equal(so, ":l:d:c:hV");
	for (size_t i = 0; i < ncxd_noptions; i++) {
		assert_string_equal(lo[i].name, ncxd_options[i].name);
		assert_int_equal(lo[i].val, ncxd_options[i].short_name);
	}
	assert_null(lo[ncxd_noptions].name);

	ncxd_config_default(&c);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, so, lo, &idx)) != -1) {
		const struct ncxd_option *o = ncxd_options;

		/* idx is set for long options only (as main.c reads it). */
		if (opt)
			while (o->short_name != opt)
				o++;
		else
			o = &ncxd_options[idx];
		assert_int_equal(ncxd_config_apply(&c, o, optarg, NCXD_SRC_CLI, err, sizeof(err)), 0);
	}
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[1], "127.0.0.2:2");
	assert_int_equal(c.threads, 3);
	assert_string_equal(c.dir, "/srv");
	assert_int_equal(c.rate, 10);
	assert_int_equal(c.burst, 64 << 10);
	ncxd_config_free(&c);
}

/* The texts made from the table. */
static void test_texts(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	ncxd_options_usage(f);
	fclose(f);
	assert_non_null(strstr(buf, "\n  -l, --listen ADDR:PORT   listen here (repeatable"));
	assert_non_null(strstr(buf, "\n      --metrics-interval S seconds between"));
	assert_non_null(strstr(buf, "\n      --control PATH       control socket for `ncx status` (default\n"
				    "                           /run/ncx/ncxd.sock; '' for none)\n"));
	free(buf);

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	ncxd_options_man(f);
	fclose(f);
	assert_non_null(strstr(buf, ".TP\n\\fB\\-l\\fR, \\fB\\-\\-listen\\fR \\fIADDR:PORT\\fR\n"));
	assert_non_null(strstr(buf, ".TP\n\\fB\\-\\-max\\-files\\fR \\fIN\\fR\n"));
	for (char *line = buf; *line; line = strchr(line, '\n') + 1) {
		assert_true(strcspn(line, "\n") <= 100);
		assert_true(*line != '\'' && (*line != '.' || !strncmp(line, ".TP\n", 4)));
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_control_and_per_host),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_default_listen),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_getopt),
		cmocka_unit_test(test_texts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
