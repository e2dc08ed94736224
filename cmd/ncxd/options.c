/* SPDX-License-Identifier: MIT */
/*
 * options: the table of ncxd's options (options.h), the setters of those
 * that need more than a number or a string, and the texts made from the
 * table: getopt_long()'s arguments, --help, the man page's list.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <ncx/num.h>

#include "ncxd.h"
#include "options.h"

static int reject(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int reject(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void replace(char **slot, const char *value)
{
	free(*slot);
	*slot = strdup(value);
}

/* A list's first use on the command line replaces what the file gave. */
static int set_listen(struct ncxd_config *c, const char *v, enum ncxd_src src, char *err,
		      size_t errlen)
{
	struct ncx_addr a;

	if (src == NCXD_SRC_CLI && !c->listen_cli) {
		for (int i = 0; i < c->nlisten; i++)
			free(c->listen[i]);
		c->nlisten = 0;
		c->listen_cli = true;
	}
	if (ncx_addr_parse(v, NCXD_DEFAULT_PORT, &a))
		return reject(err, errlen,
			    "listen: '%s' is not ADDR[:PORT] (e.g. 0.0.0.0:6666 or [::]:6666)", v);
	if (c->nlisten == NCXD_MAX_LISTEN)
		return reject(err, errlen, "listen: at most %d addresses", NCXD_MAX_LISTEN);
	c->listen[c->nlisten++] = strdup(v);
	return 0;
}

static int set_allow(struct ncxd_config *c, const char *v, enum ncxd_src src, char *err,
		     size_t errlen)
{
	if (src == NCXD_SRC_CLI && !c->allow_cli) {
		c->nallow = 0;
		c->allow_cli = true;
	}
	if (c->nallow == NCXD_MAX_ALLOW)
		return reject(err, errlen, "allow: at most %d prefixes", NCXD_MAX_ALLOW);
	if (ncxd_cidr_parse(v, &c->allow[c->nallow]))
		return reject(err, errlen,
			    "allow: '%s' is not an address or ADDR/BITS (e.g. 10.0.0.0/8, fd00::/8)", v);
	c->nallow++;
	return 0;
}

static int set_path(struct ncxd_config *c, const char *v, enum ncxd_src src, char *err,
		    size_t errlen)
{
	const char *why = ncxd_path_check(v);

	if (why)
		return reject(err, errlen, "path: '%s' %s", v, why);
	replace(&c->path, v);
	return 0;
}

static int set_format(struct ncxd_config *c, const char *v, enum ncxd_src src, char *err,
		      size_t errlen)
{
	if (!strcmp(v, "text"))
		c->format = NCXD_TEXT;
	else if (!strcmp(v, "json"))
		c->format = NCXD_JSON;
	else
		return reject(err, errlen, "format: '%s' is neither text nor json", v);
	return 0;
}

/* BYTES_PER_S[:BURST]; the burst defaults to 4 s worth (at least 64 KiB). */
static int parse_rate(struct ncxd_config *c, const char *v)
{
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);
	uint64_t rate, burst;

	if (ncx_num_parse_n(v, n, 0, 1ull << 40, &rate))
		return -EINVAL;
	if (colon) {
		if (ncx_num_parse(colon + 1, 1, 1ull << 40, &burst))
			return -EINVAL;
	} else {
		burst = rate * 4 < (64u << 10) ? 64u << 10 : rate * 4;
	}
	c->rate = rate;
	c->burst = burst;
	return 0;
}

static int set_rate(struct ncxd_config *c, const char *v, enum ncxd_src src, char *err,
		    size_t errlen)
{
	if (parse_rate(c, v))
		return reject(err, errlen, "rate: '%s' is not BYTES_PER_S[:BURST] (0 turns it off)", v);
	return 0;
}

/* '' turns it off. Given by the user, failing to create it is fatal. */
static int set_control(struct ncxd_config *c, const char *v, enum ncxd_src src, char *err,
		       size_t errlen)
{
	const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	free(c->control);
	c->control = *v ? strdup(v) : NULL;
	c->control_given = src != NCXD_SRC_DEFAULT;
	if (*v && strlen(v) > max)
		return reject(err, errlen,
			    "control: '%s' is too long for a socket path (%zu bytes at most)", v, max);
	return 0;
}

/* A flag: no value on the command line; "yes" in the config file. */
static int set_no_sandbox(struct ncxd_config *c, const char *v, enum ncxd_src src, char *err,
			  size_t errlen)
{
	if (v && strcmp(v, "yes")) {
		snprintf(err, errlen, "no-sandbox: '%s' is not yes", v);
		return -EINVAL;
	}
	c->no_sandbox = true;
	return 0;
}

static int set_require_auth(struct ncxd_config *c, const char *v, enum ncxd_src src, char *err,
			    size_t errlen)
{
	if (v && strcmp(v, "yes"))
		return reject(err, errlen, "require-auth: '%s' is not yes", v);
	c->require_auth = true;
	return 0;
}

#define FIELD(f) .off = offsetof(struct ncxd_config, f), .size = sizeof(((struct ncxd_config *)0)->f)
#define UINT(f, lo, hi, w) .kind = NCXD_OPT_UINT, FIELD(f), .min = (lo), .max = (hi), .what = (w)
#define STR(f, w) .kind = NCXD_OPT_STR, FIELD(f), .what = (w)
#define FUNC(fn) .kind = NCXD_OPT_FUNC, .set = (fn)

const struct ncxd_option ncxd_options[] = {
	{ "listen", 'l', FUNC(set_listen), .arg = "ADDR:PORT", .flags = NCXD_OPT_REPEAT,
	  .help = "listen here (repeatable; default 0.0.0.0:6666 and [::]:6666)",
	  .man = "Listen address, repeatable. Default 0.0.0.0:6666 and [::]:6666; on a host "
		 "without IPv6 the default [::]:6666 is skipped with a message." },
	{ "dir", 'd', STR(dir, "empty"), .arg = "DIR", .def = "/var/log/ncx",
	  .help = "log directory (default /var/log/ncx)",
	  .man = "Log directory (default /var/log/ncx), created 0750 (owned by \\fB\\-\\-user\\fR) "
		 "if missing." },
	{ "path", 0, FUNC(set_path), .arg = "TEMPLATE", .def = "%h/%Y-%m-%d.log",
	  .help = "file below DIR (default %h/%Y-%m-%d.log): %h address,\n"
		  "%p port, other % escapes strftime's, receive time in UTC",
	  .man = "File below DIR (default %h/%Y-%m-%d.log): %h the sender's address, %p its "
		 "port, other escapes strftime(3)'s for the receive time in UTC. Relative, no "
		 "\"..\", must contain %h." },
	{ "format", 0, FUNC(set_format), .arg = "text|json", .def = "text",
	  .help = "line format (default text)",
	  .man = "Line format (default text)." },
	{ "threads", 0, UINT(threads, 1, 64, "a number from 1 to 64"), .arg = "N",
	  .help = "worker threads (default: the number of CPUs)",
	  .man = "Worker threads, 1 to 64 (default: the number of CPUs). No short option: "
		 "\\fB\\-t\\fR is a target in ncx(1)." },
	{ "metrics", 0, STR(metrics, "empty file name"), .arg = "FILE",
	  .help = "write Prometheus metrics to FILE (via FILE.tmp and rename)",
	  .man = "Write Prometheus metrics to FILE (via FILE.tmp and rename): totals in "
		 "unlabelled families (ncxd_records_total, ...), per-host series in families of "
		 "their own (ncxd_host_records_total, ...), ncxd_build_info and "
		 "ncxd_start_time_seconds. FILE is removed when ncxd exits." },
	{ "metrics-interval", 0,
	  UINT(metrics_interval, 1, 86400, "a number of seconds from 1 to 86400"), .arg = "S",
	  .def = "10", .help = "seconds between metrics writes (default 10)",
	  .man = "Seconds between metrics writes, 1 to 86400 (default 10)." },
	{ "metrics-per-host", 0, UINT(metrics_per_host, 0, 100000, "a number from 0 to 100000"),
	  .arg = "N", .def = "100",
	  .help = "per-host series for the N busiest senders (default\n"
		  "100; 0 none); FILE is removed when ncxd exits",
	  .man = "Per-host series only for the N senders with the most records (default 100; "
		 "0 none)." },
	{ "allow", 0, FUNC(set_allow), .arg = "CIDR", .flags = NCXD_OPT_REPEAT,
	  .help = "accept only these senders (repeatable; default all)",
	  .man = "Accept only these senders (repeatable; IPv4 and IPv6; default everyone)." },
	{ "user", 0, STR(user, "empty"), .arg = "USER",
	  .help = "drop privileges to USER after binding",
	  .man = "Drop privileges to USER after binding and creating DIR." },
	{ "rate", 0, FUNC(set_rate), .arg = "B[:BURST]", .def = "1048576:4194304",
	  .help = "per-host byte rate limit (default 1048576:4194304; 0 off)",
	  .man = "Per-host rate limit in bytes per second, and the burst (default "
		 "1048576:4194304; without BURST, 4 s worth, at least 64 KiB; 0 turns it off)." },
	{ "rcvbuf", 0, UINT(rcvbuf, 0, 1u << 30, "a byte count up to 1 GiB"), .arg = "BYTES",
	  .def = "33554432", .help = "socket receive buffer (default 33554432)",
	  .man = "Socket receive buffer (default 33554432, 32 MiB; at most 1 GiB)." },
	{ "idle", 0, UINT(idle_s, 0, 365ull * 86400, "a number of seconds (0 = never)"),
	  .arg = "S", .def = "3600", .help = "forget a sender silent this long (default 3600; 0 never)",
	  .man = "Forget senders silent this long (default 3600; 0 never)." },
	{ "max-senders", 0, UINT(max_senders, 1, 10000000, "a number from 1 to 10000000"),
	  .arg = "N", .def = "100000",
	  .help = "senders with state per worker (default 100000); when\n"
		  "full, those heard only once make room first",
	  .man = "Senders with state per worker (default 100000). When the table is full, a "
		 "newcomer takes the place of the longest silent sender heard only once, or else "
		 "of the longest silent of all; the first eviction is said on stderr, all are "
		 "counted (ncxd_senders_evicted_total)." },
	{ "resp-rate", 0, UINT(resp_rate, 0, 1ull << 40, "a number of bytes per second"),
	  .arg = "BYTES", .def = "8388608",
	  .help = "acks and requests, bytes/s, all senders (default\n"
		  "8388608; 0 no cap); each sender gets at most 3x\n"
		  "what it sent in any case",
	  .man = "Bytes per second of acks and retransmission requests, all senders together "
		 "(default 8388608; 0 no cap). Each sender is sent at most 3 times the bytes "
		 "received from it in any case; what either rule holds back is counted "
		 "(ncxd_responses_held_total)." },
	{ "max-files", 0, UINT(max_fds, 1, 1 << 20, "a number from 1 to 1048576"), .arg = "N",
	  .help = "open log files per worker (default: 16384 in all,\n"
		  "or what the fd limit allows, split among the workers)",
	  .man = "Open files per worker (default 16384 in all, split among the workers; fewer "
		 "if the fd limit is lower)." },
	{ "buffers", 0, UINT(buffers, 1, 1 << 20, "a number from 1 to 1048576"), .arg = "N",
	  .help = "write buffers per worker (default: 64 MiB of\n"
		  "buffers in all, split among the workers)",
	  .man = "Write buffers per worker (default 64 MiB of buffers in all, split among the "
		 "workers)." },
	{ "buffer-size", 0,
	  UINT(buffer_size, 4096, 64u << 20, "a byte count from 4096 to 64 MiB"), .arg = "BYTES",
	  .def = "4096", .help = "bytes per write buffer (default 4096)",
	  .man = "Bytes per write buffer (default 4096)." },
	{ "flush-ms", 0, UINT(flush_ms, 1, 100, "a number from 1 to 100"), .arg = "MS",
	  .def = "100", .help = "flush buffers at least this often (default 100)",
	  .man = "A buffer is written MS after its oldest line went in (default 100, at most "
		 "100), later only while many new files are being created at once (see ncxd.md)." },
	{ "control", 0, FUNC(set_control), .arg = "PATH", .def = NCXD_DEFAULT_CONTROL,
	  .help = "control socket for `ncx status` (default\n" NCXD_DEFAULT_CONTROL "; '' for none)",
	  .man = "The control socket that \\fBncx status\\fR asks (default " NCXD_DEFAULT_CONTROL
		 ", mode 0660; '' for none). A default path that cannot be used is skipped with a "
		 "warning; an explicit one is an error (exit 73). Removed on a clean exit." },
	{ "auth-key", 0, STR(auth_key, "empty file name"), .arg = "FILE",
	  .help = "the collector secret (ncx key new): check each\n"
		  "sender's ncmac tags under its host key, tag answers",
	  .man = "The collector secret, 32 hex digits (\\fBncx key new\\fR), in a file no one "
		 "but its owner may read. Each sender's key is derived from it and the sender's "
		 "address (\\fBncx key derive\\fR); a datagram with a wrong tag is dropped and "
		 "counted (ncxd_auth_bad_total), responses to a stream that tags are tagged. "
		 "Read once, before the sandbox; docs/security.md." },
	{ "require-auth", 0, FUNC(set_require_auth),
	  .help = "with --auth-key: drop every datagram without a good\n"
		  "tag, the stock netconsole's too",
	  .man = "With \\fB\\-\\-auth\\-key\\fR: drop and count (ncxd_auth_missing_total) every "
		 "datagram without a good tag, a stock netconsole's too, which cannot tag. In "
		 "the config file: \\fBrequire-auth yes\\fR." },
	{ "no-sandbox", 0, FUNC(set_no_sandbox),
	  .help = "no seccomp filter, no Landlock (docs/security.md)",
	  .man = "Run without the seccomp filter and the Landlock rules ncxd enters after "
		 "binding (docs/security.md). In the config file: \\fBno-sandbox yes\\fR." },
	{ "config", 'c', .kind = NCXD_OPT_CMD, .arg = "FILE",
	  .help = "read settings from FILE: 'option value' lines with the\n"
		  "long option names, '#' comments; the command line wins",
	  .man = "Read settings from FILE: one \"option value\" per line, long option names, "
		 "\"#\" comments. The command line wins." },
	{ "help", 'h', .kind = NCXD_OPT_CMD, .help = "this text",
	  .man = "Print the options and exit." },
	{ "version", 'V', .kind = NCXD_OPT_CMD, .help = "print the version",
	  .man = "Print the version and exit." },
};

const size_t ncxd_noptions = sizeof(ncxd_options) / sizeof(ncxd_options[0]);
_Static_assert(sizeof(ncxd_options) / sizeof(ncxd_options[0]) <= NCXD_OPTIONS_MAX,
	       "NCXD_OPTIONS_MAX is too small for the table");

const struct ncxd_option *ncxd_option_find(const char *name)
{
	for (size_t i = 0; i < ncxd_noptions; i++)
		if (!strcmp(ncxd_options[i].name, name))
			return &ncxd_options[i];
	return NULL;
}

void ncxd_options_getopt(struct option *longopts, char *shortopts)
{
	char *s = shortopts;

	*s++ = ':'; /* a missing value is ':', not '?' (main.c's bad_option()) */
	for (size_t i = 0; i < ncxd_noptions; i++) {
		const struct ncxd_option *o = &ncxd_options[i];

		longopts[i] = (struct option){ o->name, o->arg ? required_argument : no_argument,
					       NULL, o->short_name };
		if (o->short_name) {
			*s++ = o->short_name;
			if (o->arg)
				*s++ = ':';
		}
	}
	longopts[ncxd_noptions] = (struct option){ NULL, 0, NULL, 0 };
	*s = 0;
}

#define HELP_COLUMN 27

void ncxd_options_usage(FILE *f)
{
	fputs("usage: ncxd [-l ADDR:PORT]... [-d DIR] [--path TEMPLATE] [--format text|json]\n"
	      "            [--threads N] [--metrics FILE] [--allow CIDR]... [--user USER]\n"
	      "            [--rate BYTES_PER_S[:BURST]] [-c FILE] [more options below]\n\n"
	      "Collect netconsole traffic (extended and legacy) from many hosts into a file per "
	      "host.\n\n", f);
	for (size_t i = 0; i < ncxd_noptions; i++) {
		const struct ncxd_option *o = &ncxd_options[i];
		char head[64];
		int n;

		if (o->short_name)
			n = snprintf(head, sizeof(head), "  -%c, --%s", o->short_name, o->name);
		else
			n = snprintf(head, sizeof(head), "      --%s", o->name);
		if (o->arg)
			n += snprintf(head + n, sizeof(head) - (size_t)n, " %s", o->arg);
		fprintf(f, "%-*s ", HELP_COLUMN - 1, head);
		for (const char *p = o->help; *p; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fprintf(f, "%*s", HELP_COLUMN, "");
		}
		fputc('\n', f);
	}
	fputs("\nSIGHUP reopens every file (logrotate). SIGTERM or SIGINT: write everything, "
	      "exit 0.\n", f);
}

/* Text into roff: '-' as "\-" (a minus, so that it can be searched and
 * copied), '\' kept (the man texts carry their own escapes). */
static void roff_name(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '-')
			fputc('\\', f);
		fputc(*s, f);
	}
}

/* A paragraph, filled to lines of at most ~90 columns (so that the page
 * reads well as source); a line never starts with '.' or '\''. */
static void roff_fill(FILE *f, const char *s)
{
	size_t col = 0;

	while (*s) {
		size_t w = strcspn(s, " ");

		if (col && col + 1 + w > 90) {
			fputc('\n', f);
			col = 0;
		} else if (col) {
			fputc(' ', f);
			col++;
		}
		if (!col && (*s == '.' || *s == '\''))
			col += (size_t)fprintf(f, "\\&");
		fwrite(s, 1, w, f);
		col += w;
		s += w;
		s += strspn(s, " ");
	}
	fputc('\n', f);
}

void ncxd_options_man(FILE *f)
{
	for (size_t i = 0; i < ncxd_noptions; i++) {
		const struct ncxd_option *o = &ncxd_options[i];

		fputs(".TP\n", f);
		if (o->short_name)
			fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
		fputs("\\fB\\-\\-", f);
		roff_name(f, o->name);
		fputs("\\fR", f);
		if (o->arg) {
			fputs(" \\fI", f);
			roff_name(f, o->arg);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		roff_fill(f, o->man ? o->man : o->help);
	}
}
