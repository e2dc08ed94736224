/* SPDX-License-Identifier: MIT */
/*
 * config: every setting by its long option name, so that the command line
 * and -c FILE share one parser and one set of error messages.
 *
 * File format: one "option value" per line, the names of the long options
 * without "--"; blank lines and lines whose first non-blank is '#' are
 * skipped; the value is the rest of the line, blanks trimmed at both ends.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ncxd.h"

void ncxd_config_default(struct ncxd_config *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	c->dir = strdup("/var/log/ncx");
	c->path = strdup("%h/%Y-%m-%d.log");
	c->format = NCXD_TEXT;
	c->threads = n > 0 ? (int)(n > 64 ? 64 : n) : 1;
	c->metrics_interval = 10;
	c->metrics_per_host = 100;
	c->rate = 1u << 20;
	c->burst = 4u << 20;
	c->rcvbuf = 32 << 20;
	c->idle_s = 3600;
	c->max_fds = 0;	/* from the fd limit at start: NCXD_AUTO_FILES */
	c->buffers = 0;	/* from NCXD_AUTO_BUFFER_BYTES at start */
	c->buffer_size = 4 << 10;
	c->flush_ms = 100;
	c->control = strdup(NCXD_DEFAULT_CONTROL);
}

void ncxd_config_free(struct ncxd_config *c)
{
	for (int i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	free(c->dir);
	free(c->path);
	free(c->metrics);
	free(c->user);
	free(c->control);
	memset(c, 0, sizeof(*c));
}

/* A whole decimal number in [min, max]; no sign, no blanks, no suffix. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void replace(char **slot, const char *value)
{
	free(*slot);
	*slot = strdup(value);
}

/* --rate BYTES_PER_S[:BURST]; the burst defaults to 4 s worth (at least 64 KiB). */
static int set_rate(struct ncxd_config *c, const char *v)
{
	char buf[64];
	const char *colon = strchr(v, ':');
	uint64_t rate, burst;

	if (strlen(v) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, v);
	if (colon)
		buf[colon - v] = 0;
	if (parse_u64(buf, 0, 1ull << 40, &rate))
		return -EINVAL;
	if (colon) {
		if (parse_u64(colon + 1, 1, 1ull << 40, &burst) || (rate && burst < 1))
			return -EINVAL;
	} else {
		burst = rate * 4 < (64u << 10) ? 64u << 10 : rate * 4;
	}
	c->rate = rate;
	c->burst = burst;
	return 0;
}

static const char *const known[] = { "listen", "dir", "path", "format", "threads", "metrics",
				     "metrics-interval", "metrics-per-host", "allow", "user", "rate", "rcvbuf",
				     "idle", "max-files", "buffers", "buffer-size", "flush-ms",
				     "control", NULL };

bool ncxd_config_known(const char *name)
{
	for (int i = 0; known[i]; i++)
		if (!strcmp(known[i], name))
			return true;
	return false;
}

#define FAIL(...)                                     \
	do {                                          \
		snprintf(err, errlen, __VA_ARGS__);   \
		return -EINVAL;                       \
	} while (0)

int ncxd_config_set(struct ncxd_config *c, const char *name, const char *v, bool from_cli,
		    char *err, size_t errlen)
{
	uint64_t n;

	if (!strcmp(name, "listen")) {
		struct ncx_addr a;

		if (from_cli && !c->listen_cli) {
			for (int i = 0; i < c->nlisten; i++)
				free(c->listen[i]);
			c->nlisten = 0;
			c->listen_cli = true;
		}
		if (ncx_addr_parse(v, NCXD_DEFAULT_PORT, &a))
			FAIL("listen: '%s' is not ADDR[:PORT] (e.g. 0.0.0.0:6666 or [::]:6666)", v);
		if (c->nlisten == NCXD_MAX_LISTEN)
			FAIL("listen: at most %d addresses", NCXD_MAX_LISTEN);
		c->listen[c->nlisten++] = strdup(v);
	} else if (!strcmp(name, "allow")) {
		if (from_cli && !c->allow_cli) {
			c->nallow = 0;
			c->allow_cli = true;
		}
		if (c->nallow == NCXD_MAX_ALLOW)
			FAIL("allow: at most %d prefixes", NCXD_MAX_ALLOW);
		if (ncxd_cidr_parse(v, &c->allow[c->nallow]))
			FAIL("allow: '%s' is not an address or ADDR/BITS (e.g. 10.0.0.0/8, fd00::/8)", v);
		c->nallow++;
	} else if (!strcmp(name, "dir")) {
		if (!*v)
			FAIL("dir: empty");
		replace(&c->dir, v);
	} else if (!strcmp(name, "path")) {
		const char *why = ncxd_path_check(v);

		if (why)
			FAIL("path: '%s' %s", v, why);
		replace(&c->path, v);
	} else if (!strcmp(name, "format")) {
		if (!strcmp(v, "text"))
			c->format = NCXD_TEXT;
		else if (!strcmp(v, "json"))
			c->format = NCXD_JSON;
		else
			FAIL("format: '%s' is neither text nor json", v);
	} else if (!strcmp(name, "threads")) {
		if (parse_u64(v, 1, 64, &n))
			FAIL("threads: '%s' is not a number from 1 to 64", v);
		c->threads = (int)n;
	} else if (!strcmp(name, "metrics")) {
		if (!*v)
			FAIL("metrics: empty file name");
		replace(&c->metrics, v);
	} else if (!strcmp(name, "metrics-interval")) {
		if (parse_u64(v, 1, 86400, &n))
			FAIL("metrics-interval: '%s' is not a number of seconds from 1 to 86400", v);
		c->metrics_interval = (unsigned)n;
	} else if (!strcmp(name, "metrics-per-host")) {
		if (parse_u64(v, 0, 100000, &n))
			FAIL("metrics-per-host: '%s' is not a number from 0 to 100000", v);
		c->metrics_per_host = (int)n;
	} else if (!strcmp(name, "user")) {
		if (!*v)
			FAIL("user: empty");
		replace(&c->user, v);
	} else if (!strcmp(name, "rate")) {
		if (set_rate(c, v))
			FAIL("rate: '%s' is not BYTES_PER_S[:BURST] (0 turns it off)", v);
	} else if (!strcmp(name, "rcvbuf")) {
		if (parse_u64(v, 0, 1u << 30, &n))
			FAIL("rcvbuf: '%s' is not a byte count up to 1 GiB", v);
		c->rcvbuf = (int)n;
	} else if (!strcmp(name, "idle")) {
		if (parse_u64(v, 0, 365ull * 86400, &n))
			FAIL("idle: '%s' is not a number of seconds (0 = never)", v);
		c->idle_s = n;
	} else if (!strcmp(name, "max-files")) {
		if (parse_u64(v, 1, 1 << 20, &n))
			FAIL("max-files: '%s' is not a number from 1 to 1048576", v);
		c->max_fds = (int)n;
	} else if (!strcmp(name, "buffers")) {
		if (parse_u64(v, 1, 1 << 20, &n))
			FAIL("buffers: '%s' is not a number from 1 to 1048576", v);
		c->buffers = (int)n;
	} else if (!strcmp(name, "buffer-size")) {
		if (parse_u64(v, 4096, 64u << 20, &n))
			FAIL("buffer-size: '%s' is not a byte count from 4096 to 64 MiB", v);
		c->buffer_size = (size_t)n;
	} else if (!strcmp(name, "flush-ms")) {
		if (parse_u64(v, 1, 100, &n))
			FAIL("flush-ms: '%s' is not a number from 1 to 100", v);
		c->flush_ms = (unsigned)n;
	} else if (!strcmp(name, "control")) {
		/* '' turns it off. */
		free(c->control);
		c->control = *v ? strdup(v) : NULL;
		c->control_given = true;
		if (*v && strlen(v) >= 108)
			FAIL("control: '%s' is too long for a socket path (107 bytes at most)", v);
	} else {
		FAIL("unknown option '%s'", name);
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int ncxd_config_file(struct ncxd_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, why[256];
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (getline(&line, &cap, f) > 0) {
		char *s = trim(line), *v;

		lineno++;
		if (!*s || *s == '#')
			continue;
		v = s + strcspn(s, " \t");
		if (*v)
			*v++ = 0;
		v = trim(v);
		if (!ncxd_config_known(s)) {
			snprintf(err, errlen, "%s:%u: unknown option '%s'", path, lineno, s);
			rc = -EINVAL;
			break;
		}
		if (!*v) {
			snprintf(err, errlen, "%s:%u: %s: missing value", path, lineno, s);
			rc = -EINVAL;
			break;
		}
		if (ncxd_config_set(c, s, v, false, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			rc = -EINVAL;
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}
