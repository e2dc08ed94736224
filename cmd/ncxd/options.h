/* SPDX-License-Identifier: MIT */
/*
 * options: ncxd's options, named once. Each entry of ncxd_options[] gives
 * an option's long name (also its name in the config file), its short name,
 * how its value is checked and stored, its default, and its help text; from
 * that one table come getopt_long()'s arguments (main.c), the config file's
 * names and checks (config.c), `ncxd --help`, and the OPTIONS list of
 * docs/man/ncxd.8 (`ncxd --help-man`, spliced in by `make man`;
 * tests/e2e/ncxd_man.sh fails if the page and the table differ).
 *
 * Adding an option: a field in struct ncxd_config (ncxd.h), an entry here
 * (options.c) and, if NCXD_OPT_UINT or NCXD_OPT_STR do not fit, a setter in
 * config.c; then `make man` and a line in docs/ncxd.md's table.
 */
#ifndef NCXD_OPTIONS_H
#define NCXD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ncxd_config;

/* Where a value comes from: the table's default, -c FILE or the command line. */
enum ncxd_src { NCXD_SRC_DEFAULT, NCXD_SRC_FILE, NCXD_SRC_CLI };

enum ncxd_opt_kind {
	NCXD_OPT_UINT, /* decimal in [min, max] (lib/num), stored at off (size 4 or 8) */
	NCXD_OPT_STR,  /* a string, malloc'd, at off (a char *) */
	NCXD_OPT_FUNC, /* set() checks and stores it; with no arg, a flag (the command
			* line gives set() NULL, the config file "yes") */
	NCXD_OPT_CMD,  /* the command line's alone (-c, -h, -V): main.c acts on it */
};

#define NCXD_OPT_REPEAT 0x1 /* a list: each use adds (help says "repeatable") */

struct ncxd_option {
	const char *name;  /* --name, and "name value" in the config file */
	char short_name;   /* -x, or 0 */
	enum ncxd_opt_kind kind;
	const char *arg;   /* the value's name in --help and the man page; NULL: none */
	uint64_t min, max; /* UINT */
	size_t off, size;  /* UINT, STR: the field in struct ncxd_config */
	/* UINT: what a value must be, for "NAME: 'V' is not WHAT";
	 * STR: the reason an empty value is refused ("empty"), NULL: allowed. */
	const char *what;
	/* FUNC: check v and store it; 0, or -EINVAL with a reason in err. */
	int (*set)(struct ncxd_config *c, const char *v, enum ncxd_src src, char *err,
		   size_t errlen);
	/* The default, as the value would be written (ncxd_config_default()
	 * applies it); NULL if there is none or it is made at start. The help
	 * text says it: a unit test checks that it does. */
	const char *def;
	/* --help: after "  -x, --name ARG", from column 27; '\n' starts an
	 * indented line. */
	const char *help;
	/* The man page's paragraph (roff); NULL: help's text. */
	const char *man;
	unsigned flags; /* NCXD_OPT_* */
};

/* Room for the table (options.c asserts it at compile time). */
#define NCXD_OPTIONS_MAX 32

extern const struct ncxd_option ncxd_options[];
extern const size_t ncxd_noptions;

/* The entry named name (long name); NULL if none. */
const struct ncxd_option *ncxd_option_find(const char *name);

/* getopt_long()'s arguments from the table: longopts (room for
 * NCXD_OPTIONS_MAX + 1; in table order) with val = the short name, or 0
 * for long-only ones, and shortopts (room for NCXD_SHORTOPTS_MAX), ':'
 * first. */
#define NCXD_SHORTOPTS_MAX (3 * NCXD_OPTIONS_MAX + 2)
struct option;
void ncxd_options_getopt(struct option *longopts, char *shortopts);

/* config.c: check v by o's entry and store it in c. Returns 0, or -EINVAL
 * with "NAME: reason" in err. */
int ncxd_config_apply(struct ncxd_config *c, const struct ncxd_option *o, const char *v,
		      enum ncxd_src src, char *err, size_t errlen);

/* `ncxd --help`: the synopsis, every option, signals. */
void ncxd_options_usage(FILE *f);
/* The man page's OPTIONS list: .TP paragraphs, one per option. */
void ncxd_options_man(FILE *f);

#endif /* NCXD_OPTIONS_H */
