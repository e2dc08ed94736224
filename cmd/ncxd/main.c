/* SPDX-License-Identifier: MIT */
/*
 * ncxd: options, config file, startup, privileges, signals and threads.
 * The main thread only starts workers, waits for signals, writes metrics
 * and joins; the workers do the work (worker.c).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ncx/log.h>
#include <ncx/udp.h>

#include "ncxd.h"
#include "options.h"

#ifndef NCX_VERSION
#define NCX_VERSION "unknown"
#endif

static struct ncx_console *console;

/* ncxd's own messages go through the log core to stderr, one line each.
 * The signals the main thread waits for are blocked first, so the
 * console's thread (like every worker) never takes one. */
/*
 * The log core's ratelimit, per call site, for ncxd: the live view's lines
 * (a new sender, a gap, a reboot, a sender gone idle: worker.c) come from
 * a whole fleet, so a site says at most NCXD_LOG_BURST lines, then is
 * silent for NCXD_LOG_SILENCE s, then says how many it suppressed.
 */
#define NCXD_LOG_BURST 200
#define NCXD_LOG_SILENCE 60

static int log_start(void)
{
	struct ncx_log_config lc = { .ring_size = 1u << 20, .rl_burst = NCXD_LOG_BURST,
				     .rl_silence = NCXD_LOG_SILENCE };

	if (ncx_log_init(&lc) < 0 || !(console = ncx_console_fd(2, NCX_LOG_INFO, 0)) ||
	    ncx_console_register(console) < 0) {
		fprintf(stderr, "ncxd: cannot set up logging\n");
		return EX_OSERR;
	}
	return 0;
}

static void log_stop(void)
{
	ncx_log_flush();
	ncx_console_unregister(console);
	ncx_console_free(console);
	console = NULL;
}

static void block_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGHUP);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
}

static const struct ncxd_option *short_option(int c)
{
	for (size_t i = 0; i < ncxd_noptions; i++)
		if (ncxd_options[i].short_name == c)
			return &ncxd_options[i];
	return NULL;
}

/*
 * A bad command line, in two plain lines (not log lines: no time, level or
 * thread), the way coreutils say it:
 *   ncxd: unknown option '--foo'
 *   Try 'ncxd --help'.
 * For getopt_long() with opterr = 0 and ':' first in the optstring.
 */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ncxd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ncxd --help'.\n", stderr);
	return EX_USAGE;
}

static int bad_option(int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	bool is_long = !strncmp(arg, "--", 2) && arg[2];
	int n = is_long ? (int)strcspn(arg, "=") : 0;

	if (c == ':' && is_long)
		return usage_error("option '%.*s' needs a value", n, arg);
	if (c == ':')
		return usage_error("option '-%c' needs a value", optopt);
	if (is_long && optopt && arg[n] == '=')
		return usage_error("option '%.*s' takes no value", n, arg);
	if (optopt)
		return usage_error("unknown option '-%c'", optopt);
	return usage_error("unknown option '%.*s'", n ? n : (int)strlen(arg), arg);
}

/* -c first (wherever it is), then the rest, so the command line wins.
 * Returns -1 to go on, or an exit code. Errors are plain stderr lines. */
static int parse_args(struct ncxd_config *cfg, int argc, char **argv)
{
	struct option longopts[NCXD_OPTIONS_MAX + 1];
	char shortopts[NCXD_SHORTOPTS_MAX], err[512];
	int c, idx;

	ncxd_options_getopt(longopts, shortopts);
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		if (c != 'c')
			continue;
		int rc = ncxd_config_file(cfg, optarg, err, sizeof(err));

		if (rc == -EINVAL) {
			fprintf(stderr, "ncxd: %s\n", err);
			return EX_CONFIG;
		}
		if (rc) {
			fprintf(stderr, "ncxd: cannot read config %s\n", err);
			return EX_NOINPUT;
		}
	}
	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		/* A long option's entry is at idx; a short one's is found by letter. */
		const struct ncxd_option *o = c ? short_option(c) : &ncxd_options[idx];

		switch (c) {
		case 'c': continue;
		case 'h': ncxd_options_usage(stdout); return 0;
		case 'V': printf("ncxd %s\n", NCX_VERSION); return 0;
		case '?':
		case ':': return bad_option(c, argv);
		default: break;
		}
		if (!o || o->kind == NCXD_OPT_CMD)
			return usage_error("unknown option '-%c'", c);
		if (ncxd_config_apply(cfg, o, optarg, NCXD_SRC_CLI, err, sizeof(err)))
			return usage_error("--%s", err);
	}
	if (optind != argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	ncxd_config_default_listen(cfg);
	return -1;
}

/* One SO_REUSEPORT socket per listen address per worker. */
static int bind_all(struct ncxd *d)
{
	struct ncxd_config *cfg = &d->cfg;
	struct ncx_udp_opts opts = { .rcvbuf = cfg->rcvbuf, .reuseport = true, .rxq_ovfl = true };

	for (int i = 0; i < cfg->nlisten; i++) {
		struct ncx_addr at;

		if (ncx_addr_parse(cfg->listen[i], NCXD_DEFAULT_PORT, &at))
			return EX_USAGE;
		/* SO_REUSEPORT would let us share the port with another ncxd of the
		 * same user, which would then get part of the traffic: a plain bind
		 * first fails if anyone holds it. */
		int probe = ncx_udp_bind(&at, NULL);

		if (probe >= 0)
			close(probe);
		else if (!(cfg->listen_default && probe == -EAFNOSUPPORT)) {
			ncx_err("cannot listen on %s: %s\n", cfg->listen[i], strerror(-probe));
			return EX_UNAVAILABLE;
		}
		for (int w = 0; w < d->nworkers; w++) {
			int fd = ncx_udp_bind(&at, &opts);

			if (fd < 0 && cfg->listen_default && fd == -EAFNOSUPPORT) {
				/* A host without IPv6 still gets its IPv4 listener. */
				ncx_warn("no IPv6 (%s); listening on IPv4 only\n", strerror(-fd));
				break;
			}
			if (fd < 0) {
				ncx_err("cannot listen on %s: %s\n", cfg->listen[i], strerror(-fd));
				return EX_UNAVAILABLE;
			}
			d->workers[w].family[d->workers[w].nfds] = at.family;
			d->workers[w].fds[d->workers[w].nfds++] = fd;
		}
	}
	return 0;
}

/* mkdir -p DIR: DIR itself 0750 and owned by the user we will run as; its
 * parents, if we have to make them, 0755 so that user can reach it. */
static int make_dir(const char *dir, const struct passwd *pw)
{
	struct stat st;

	if (strlen(dir) >= PATH_MAX)
		return -ENAMETOOLONG;
	ncxd_mkdir_parents(dir, 0755);
	if (mkdir(dir, 0750) == 0 && pw && chown(dir, pw->pw_uid, pw->pw_gid) < 0)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return 0;
}

static int drop_privileges(const struct passwd *pw)
{
	if (setgid(pw->pw_gid) < 0 || initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		ncx_err("cannot become user %s: %s\n", pw->pw_name, strerror(errno));
		return EX_NOPERM;
	}
	/* Make sure it stuck: root must not be reachable again. */
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		ncx_err("privileges could be regained after dropping them; refusing to run\n");
		return EX_SOFTWARE;
	}
	return 0;
}

/* Used by the main thread (metrics) and the control thread (status): a
 * worker answers a newer request too, so each waits for its own or later. */
void ncxd_refresh(struct ncxd *d, uint64_t max_age_us)
{
	uint64_t now = ncx_now_us();

	if (max_age_us && now - atomic_load(&d->refreshed_us) < max_age_us)
		return;
	atomic_store(&d->refreshed_us, now);
	unsigned g = atomic_fetch_add(&d->metrics_gen, 1) + 1;

	for (int tries = 0; tries < 100; tries++) {
		int done = 0;

		for (int w = 0; w < d->nworkers; w++) {
			pthread_mutex_lock(&d->workers[w].lock);
			done += (int)(d->workers[w].snap_gen - g) >= 0;
			pthread_mutex_unlock(&d->workers[w].lock);
		}
		if (done == d->nworkers)
			break;
		usleep(10000);
	}
}

/* Ask every worker for a fresh snapshot, wait a little for them, write. */
static void write_metrics(struct ncxd *d)
{
	if (!d->cfg.metrics)
		return;
	ncxd_refresh(d, 0);
	static bool failing;
	int rc = ncxd_metrics_write(d, d->cfg.metrics);

	/* Said once per episode, not every interval. */
	if (rc < 0 && !failing)
		ncx_err("cannot write metrics %s: %s\n", d->cfg.metrics, strerror(-rc));
	else if (rc == 0 && failing)
		ncx_info("writing metrics %s works again\n", d->cfg.metrics);
	failing = rc < 0;
}

/* The main thread: signals and metrics until told to stop. */
static void main_loop(struct ncxd *d, const sigset_t *sigs)
{
	uint64_t interval = (uint64_t)d->cfg.metrics_interval * 1000000u;
	uint64_t next = ncx_now_us();

	while (!atomic_load(&d->stop)) {
		uint64_t now = ncx_now_us();

		if (now >= next) {
			write_metrics(d);
			next = now + interval;
		}
		/* Wake at least every 200 ms to notice a failed worker. */
		uint64_t wait = next - now > 200000 ? 200000 : next - now;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)wait * 1000 };
		int sig = sigtimedwait(sigs, NULL, &ts);

		if (sig == SIGHUP) {
			ncx_info("SIGHUP: reopening files\n");
			atomic_fetch_add(&d->reopen_gen, 1);
		} else if (sig == SIGTERM || sig == SIGINT) {
			ncx_info("%s: writing what is held, then exiting\n",
				 sig == SIGTERM ? "SIGTERM" : "SIGINT");
			atomic_store(&d->stop, true);
		}
	}
}

/* Room for every worker's files: raise the soft fd limit to the hard one,
 * and if that is still short, give each worker fewer files (with a word).
 * Without --max-files: NCXD_AUTO_FILES in all, or as many as the limit
 * allows, split among the workers (said only if that is below the default). */
static void fit_fd_limit(struct ncxd_config *cfg)
{
	struct rlimit rl;
	const rlim_t reserve = 64 + (rlim_t)cfg->nlisten * (rlim_t)cfg->threads;
	bool automatic = cfg->max_fds == 0;

	if (automatic)
		cfg->max_fds = (NCXD_AUTO_FILES + cfg->threads - 1) / cfg->threads;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (automatic && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)cfg->max_fds * (rlim_t)cfg->threads + reserve > rl.rlim_cur) {
		rlim_t per = rl.rlim_cur > reserve ? (rl.rlim_cur - reserve) / (rlim_t)cfg->threads : 1;

		cfg->max_fds = per < 1 ? 1 : (int)per;
		ncx_info("fd limit %llu: %d open files per worker\n",
			 (unsigned long long)rl.rlim_cur, cfg->max_fds);
		return;
	}
	if (rl.rlim_cur == RLIM_INFINITY ||
	    (rlim_t)cfg->max_fds * (rlim_t)cfg->threads + reserve <= rl.rlim_cur)
		return;
	rlim_t per = rl.rlim_cur > reserve ? (rl.rlim_cur - reserve) / (rlim_t)cfg->threads : 1;

	if (per < 1)
		per = 1;
	ncx_warn("fd limit %llu: open files per worker lowered from %d to %llu\n",
		 (unsigned long long)rl.rlim_cur, cfg->max_fds, (unsigned long long)per);
	cfg->max_fds = (int)per;
}

/* The state table that lets a restart resume every reliable stream. Without
 * it ncxd still runs (as before: no resume), and says so. */
static void open_state(struct ncxd *d)
{
	struct ncxd_state_stats ss;
	int rc = ncxd_state_open(&d->state, d->cfg.dir, NCXD_STATE_SLOTS, (uint64_t)time(NULL), &ss);

	if (rc < 0) {
		ncx_warn("cannot keep state in %s/%s: %s; a restart will not resume streams\n",
			 d->cfg.dir, NCXD_STATE_FILE,
			 rc == -EBUSY ? "another ncxd uses this directory" : strerror(-rc));
		return;
	}
	if (ss.unreadable)
		ncx_warn("cannot use %s/%s (%s): started afresh\n", d->cfg.dir, NCXD_STATE_FILE,
			 ss.unreadable == EBADMSG ? "not a state table of ours" : strerror(ss.unreadable));
	if (ss.found)
		ncx_info("state: resuming %llu senders (%llu expired, %llu without room)\n",
			 (unsigned long long)ss.kept, (unsigned long long)ss.expired,
			 (unsigned long long)ss.no_room);
}

static int start(struct ncxd *d, const sigset_t *sigs)
{
	struct ncxd_config *cfg = &d->cfg;
	struct passwd *pw = NULL;
	int rc;

	if (cfg->user && !(pw = getpwnam(cfg->user))) {
		ncx_err("no such user '%s'\n", cfg->user);
		return EX_NOUSER;
	}
	if ((rc = make_dir(cfg->dir, pw)) < 0) {
		ncx_err("cannot use log directory %s: %s\n", cfg->dir, strerror(-rc));
		return EX_CANTCREAT;
	}
	if (cfg->require_auth && !cfg->auth_key) {
		ncx_err("--require-auth needs --auth-key\n");
		return EX_USAGE;
	}
	if (cfg->auth_key) {
		char err[512];

		if ((rc = ncx_auth_key_load(cfg->auth_key, &d->auth_secret, err, sizeof(err)))) {
			ncx_err("--auth-key: %s\n", err);
			return EX_CONFIG;
		}
		d->auth = true;
	}
	fit_fd_limit(cfg);
	if (cfg->buffers == 0) {
		/* NCXD_AUTO_BUFFER_BYTES in all, at least 16 buffers a worker. */
		size_t n = NCXD_AUTO_BUFFER_BYTES / (size_t)cfg->threads / cfg->buffer_size;

		cfg->buffers = n < 16 ? 16 : n > (1u << 20) ? 1 << 20 : (int)n;
	}
	d->nworkers = cfg->threads;
	d->workers = calloc((size_t)d->nworkers, sizeof(*d->workers));
	if (!d->workers)
		return EX_OSERR;
	if ((rc = bind_all(d)))
		return rc;
	if ((rc = ncxd_control_open(d, pw ? (int)pw->pw_uid : -1, pw ? (int)pw->pw_gid : -1)))
		return rc;
	if (pw && (rc = drop_privileges(pw)))
		return rc;
	if (access(cfg->dir, W_OK | X_OK) < 0) {
		ncx_err("log directory %s is not writable%s%s: %s\n", cfg->dir,
			 pw ? " by user " : "", pw ? pw->pw_name : "", strerror(errno));
		return EX_CANTCREAT;
	}
	open_state(d);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = ncxd_sandbox_enter(d)))
		return rc;
	for (int w = 0; w < d->nworkers; w++) {
		d->workers[w].d = d;
		d->workers[w].id = w;
		pthread_mutex_init(&d->workers[w].lock, NULL);
		if ((rc = pthread_create(&d->workers[w].thread, NULL, ncxd_worker_main,
					 &d->workers[w]))) {
			ncx_err("cannot start a thread: %s\n", strerror(rc));
			atomic_store(&d->stop, true);
			d->nworkers = w;
			break;
		}
	}
	if (d->control && ncxd_control_start(d)) {
		ncx_err("cannot start the control thread\n");
		atomic_store(&d->stop, true);
	}
	ncx_info("ready: %d threads, %d addresses, writing %s/%s (%s)\n", d->nworkers,
		 cfg->nlisten, cfg->dir, cfg->path, cfg->format == NCXD_JSON ? "json" : "text");
	main_loop(d, sigs);
	ncxd_control_stop(d);
	rc = 0;
	for (int w = 0; w < d->nworkers; w++) {
		pthread_join(d->workers[w].thread, NULL);
		if (d->workers[w].failed)
			rc = EX_OSERR;
	}
	/* Not left behind with its last values, as if ncxd were still running
	 * (and still counting): a textfile collector then reports nothing. */
	if (cfg->metrics && unlink(cfg->metrics) < 0 && errno != ENOENT)
		ncx_warn("cannot remove metrics %s: %s\n", cfg->metrics, strerror(errno));
	if (rc == 0)
		ncx_info("exiting\n");
	return rc;
}

int main(int argc, char **argv)
{
	static struct ncxd d;
	sigset_t sigs;
	int rc;

	/* Every thread (the log console's, the workers) inherits a mask
	 * without our signals: only the main thread takes them. */
	block_signals(&sigs);
	d.state.lock_fd = -1; /* nothing to close until open_state() */
	d.start_real_us = ncx_real_us();
	if ((rc = log_start()))
		return rc;
	ncxd_config_default(&d.cfg);
	/* For `make man`: the man page's option list, from the table. */
	if (argc == 2 && !strcmp(argv[1], "--help-man")) {
		ncxd_options_man(stdout);
		rc = 0;
	} else if ((rc = parse_args(&d.cfg, argc, argv)) < 0) {
		rc = start(&d, &sigs);
	}
	if (d.workers) {
		for (int w = 0; w < d.nworkers; w++) {
			for (int i = 0; i < d.workers[w].nfds; i++)
				close(d.workers[w].fds[i]);
			ncxd_snapshot_free(&d.workers[w].snap);
		}
		free(d.workers);
	}
	ncxd_control_stop(&d);
	ncxd_state_close(&d.state);
	ncxd_config_free(&d.cfg);
	log_stop();
	return rc;
}
