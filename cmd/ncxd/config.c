/* SPDX-License-Identifier: MIT */
/*
 * config: every setting by its long option name, so that the command line
 * and -c FILE share one parser and one set of error messages. What each
 * option is (its type, range, default) is options.c's table; this file
 * checks and stores values by it and reads the file.
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

#include <ncx/num.h>

#include "ncxd.h"
#include "options.h"

/* Every option's default from the table; then what the table cannot say
 * (made from the machine: threads; at start: max-files, buffers; after the
 * command line: listen, ncxd_config_default_listen()). */
void ncxd_config_default(struct ncxd_config *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	char err[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ncxd_noptions; i++) {
		const struct ncxd_option *o = &ncxd_options[i];

		/* The table's defaults are checked by the unit tests. */
		if (o->def && ncxd_config_apply(c, o, o->def, NCXD_SRC_DEFAULT, err, sizeof(err)))
			abort();
	}
	c->threads = n > 0 ? (int)(n > 64 ? 64 : n) : 1;
}

static const char *const default_listen[] = { "0.0.0.0:6666", "[::]:6666" };

void ncxd_config_default_listen(struct ncxd_config *c)
{
	if (c->nlisten)
		return;
	for (size_t i = 0; i < sizeof(default_listen) / sizeof(default_listen[0]); i++)
		c->listen[c->nlisten++] = strdup(default_listen[i]);
	c->listen_default = true;
}

void ncxd_config_free(struct ncxd_config *c)
{
	for (int i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	for (size_t i = 0; i < ncxd_noptions; i++)
		if (ncxd_options[i].kind == NCXD_OPT_STR)
			free(*(char **)((char *)c + ncxd_options[i].off));
	free(c->path);
	free(c->control);
	memset(c, 0, sizeof(*c));
}

bool ncxd_config_known(const char *name)
{
	const struct ncxd_option *o = ncxd_option_find(name);

	return o && o->kind != NCXD_OPT_CMD;
}

static void store_uint(struct ncxd_config *c, const struct ncxd_option *o, uint64_t v)
{
	void *field = (char *)c + o->off;

	if (o->size == sizeof(uint32_t)) {
		uint32_t v32 = (uint32_t)v;

		memcpy(field, &v32, sizeof(v32));
	} else if (o->size == sizeof(uint64_t)) {
		memcpy(field, &v, sizeof(v));
	} else {
		abort(); /* a field the table cannot describe: caught by any test */
	}
}

int ncxd_config_apply(struct ncxd_config *c, const struct ncxd_option *o, const char *v,
		      enum ncxd_src src, char *err, size_t errlen)
{
	uint64_t n;

	switch (o->kind) {
	case NCXD_OPT_UINT:
		if (ncx_num_parse(v, o->min, o->max, &n)) {
			snprintf(err, errlen, "%s: '%s' is not %s", o->name, v, o->what);
			return -EINVAL;
		}
		store_uint(c, o, n);
		return 0;
	case NCXD_OPT_STR: {
		char **slot = (char **)((char *)c + o->off);

		if (!*v && o->what) {
			snprintf(err, errlen, "%s: %s", o->name, o->what);
			return -EINVAL;
		}
		free(*slot);
		*slot = strdup(v);
		return 0;
	}
	case NCXD_OPT_FUNC:
		return o->set(c, v, src, err, errlen);
	case NCXD_OPT_CMD:
		break;
	}
	snprintf(err, errlen, "unknown option '%s'", o->name);
	return -EINVAL;
}

int ncxd_config_set(struct ncxd_config *c, const char *name, const char *v, bool from_cli,
		    char *err, size_t errlen)
{
	const struct ncxd_option *o = ncxd_option_find(name);

	if (!o || o->kind == NCXD_OPT_CMD) {
		snprintf(err, errlen, "unknown option '%s'", name);
		return -EINVAL;
	}
	return ncxd_config_apply(c, o, v, from_cli ? NCXD_SRC_CLI : NCXD_SRC_FILE, err, errlen);
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
