/* SPDX-License-Identifier: MIT */
/* config.c: ncxd's settings, from argv and from -c FILE, by the option table (options.h). */
#ifndef NCXD_CONFIG_H
#define NCXD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allow.h"
#include "format.h"

#define NCXD_MAX_LISTEN 16
#define NCXD_MAX_ALLOW 256
#define NCXD_DEFAULT_PORT 6666
#define NCXD_DEFAULT_CONTROL "/run/ncx/ncxd.sock"

struct ncxd_config {
	char *listen[NCXD_MAX_LISTEN];
	int nlisten;
	char *dir;
	char *path;
	enum ncxd_format format;
	int threads;
	char *metrics;
	unsigned metrics_interval; /* seconds */
	int metrics_per_host;	   /* per-host series for this many senders, the busiest */
	struct ncxd_cidr allow[NCXD_MAX_ALLOW];
	int nallow;
	char *user;
	uint64_t rate, burst; /* bytes/s per host; 0 = off */
	int rcvbuf;
	uint64_t idle_s;
	uint64_t max_senders;	/* per worker: the engine's table (rx.h max_senders) */
	uint64_t resp_rate;	/* response bytes/s, all workers (rx.h resp_rate); 0 none */
	int max_fds;	     /* open files per worker; 0 until start: NCXD_AUTO_FILES */
	int buffers;	     /* write buffers per worker; 0 until start: NCXD_AUTO_BUFFER_BYTES */
	size_t buffer_size;  /* bytes each */
	unsigned flush_ms;
	char *control;	     /* the control socket's path; NULL: none */
	bool control_given;  /* set by the user (failing to create it is then fatal) */
	/* Set while reading argv, so that a list given there replaces the file's. */
	bool listen_cli, allow_cli;
	/* listen[] is the default pair (given neither in argv nor the file): a
	 * host without IPv6 then listens on IPv4 alone. */
	bool listen_default;
	bool no_sandbox;     /* --no-sandbox: no seccomp filter, no Landlock */
	char *auth_key;	     /* --auth-key: the collector secret's file; NULL: none */
	bool require_auth;   /* --require-auth: drop what has no good tag */
};

/* Every option's default (options.c's table); listen stays empty. */
void ncxd_config_default(struct ncxd_config *c);
/* After argv and the file: if no listen address was given, the defaults
 * 0.0.0.0:6666 and [::]:6666, and listen_default set. */
void ncxd_config_default_listen(struct ncxd_config *c);
void ncxd_config_free(struct ncxd_config *c);

/* Apply one setting by its long option name. from_cli: a list option's
 * first use on the command line replaces what the file gave. Returns 0, or
 * -EINVAL with a reason in err. */
int ncxd_config_set(struct ncxd_config *c, const char *name, const char *value, bool from_cli,
		    char *err, size_t errlen);

/* Read "option value" lines ('#' starts a comment line). Returns 0, or
 * -errno if the file cannot be read, or -EINVAL with "FILE:LINE: reason". */
int ncxd_config_file(struct ncxd_config *c, const char *path, char *err, size_t errlen);

/* Names accepted by ncxd_config_set() (for the file and --help). */
bool ncxd_config_known(const char *name);

#endif /* NCXD_CONFIG_H */
