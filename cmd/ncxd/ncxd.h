/* SPDX-License-Identifier: MIT */
/*
 * ncxd: the collector. One UDP port, thousands of senders, a file per host.
 *
 *   main.c     options, config file, startup, privileges, signals, threads
 *   worker.c   one thread: its sockets, its rx engine, its sink
 *   sink.c     per-host files: path, LRU of fds, buffer pool, flush, errors
 *   path.c     the path template (pure)
 *   format.c   text and JSON lines (pure)
 *   bucket.c   the per-host token bucket (pure)
 *   allow.c    --allow CIDR lists (pure)
 *   options.c  the option table: names, checks, defaults, --help, man page
 *   config.c   option values by the table, shared by argv and -c FILE (pure)
 *   metrics.c  the Prometheus textfile
 *   control.c  the control socket (`ncx status`): a thread of its own
 *   state.c    DIR/.ncxd-state: each reliable sender's written position
 *
 * Workers share nothing per host: the kernel's SO_REUSEPORT hash keeps a
 * sender on one worker, and each worker owns its engine, its hosts and their
 * files. The only shared state is the read-only config, two flags set by
 * the main thread (stop, reopen), each worker's published metrics and the
 * state table (a slot per sender, written only by the sender's worker).
 */
#ifndef NCXD_H
#define NCXD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>
#include <sys/types.h>
#include <time.h>

#include <ncx/addr.h>
#include <ncx/rx.h>
#include <ncx/wire.h>

#define NCXD_MAX_LISTEN 16
#define NCXD_MAX_ALLOW 256
#define NCXD_DEFAULT_PORT 6666
#define NCXD_DEFAULT_CONTROL "/run/ncx/ncxd.sock"
/* Records held behind holes and open reassemblies, all workers together
 * (split evenly: rx.h engine_bytes); what is freed goes back to the system
 * (worker.c, give_back()). */
#define NCXD_HELD_BYTES (256u << 20)
/* Defaults made at start, for the whole daemon, split among the workers:
 * open files (or fewer, if the fd limit is lower), and the bytes of write
 * buffers (reserved, touched only as hosts use them). */
#define NCXD_AUTO_FILES 16384
#define NCXD_AUTO_BUFFER_BYTES (64u << 20)

/* ---- allow.c: CIDR lists ---- */

struct ncxd_cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bits;
	uint8_t addr[16]; /* masked to bits */
};

/* "10.0.0.0/8", "2001:db8::/32", "1.2.3.4" (= /32), "::1" (= /128). Host
 * bits beyond the prefix are cleared. Returns 0 or -EINVAL. */
int ncxd_cidr_parse(const char *text, struct ncxd_cidr *out);
bool ncxd_cidr_match(const struct ncxd_cidr *c, const struct ncx_addr *a);
/* An empty list allows everyone. */
bool ncxd_allowed(const struct ncxd_cidr *list, size_t n, const struct ncx_addr *a);

/* ---- bucket.c: token bucket, bytes per second ---- */

struct ncxd_bucket {
	uint64_t tokens_us; /* tokens scaled by 1e6 (byte-microseconds), for exact refill */
	uint64_t last_us;
	bool started;
};

/* Take n bytes at now_us: true if they fit (and are taken). rate 0 = off. */
bool ncxd_bucket_take(struct ncxd_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_us,
		      uint64_t n);

/* ---- path.c: the path template ---- */

/* Check a template once at startup: relative, no "..", names %h. Returns
 * NULL or a one-line reason. */
const char *ncxd_path_check(const char *tmpl);

/* Expand tmpl for sender a at UTC time t: %h the canonical address text,
 * %p the port, %% a '%', anything else strftime's. Nothing from a payload
 * can reach here. Returns the length, or -ENAMETOOLONG / -EINVAL. */
int ncxd_path_expand(const char *tmpl, const struct ncx_addr *a, time_t t, char *out, size_t cap);

/* mkdir -p for the directories above path's last component, each with
 * mode (the one mkdir -p: for DIR itself, and for a host's file in it). */
void ncxd_mkdir_parents(const char *path, mode_t mode);

/* ---- format.c: the lines we write ---- */

enum ncxd_format { NCXD_TEXT, NCXD_JSON };

/* An output line under construction; appends stop at cap (truncated set). */
struct ncxd_line {
	char *p;
	size_t len, cap;
	bool truncated;
};

void ncxd_line_put(struct ncxd_line *l, const void *p, size_t n);
void ncxd_line_puts(struct ncxd_line *l, const char *s);
void ncxd_line_printf(struct ncxd_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The kernel's "[%5lu.%06lu] " prefix of a record's own time; its length. */
size_t ncxd_ts_text(uint64_t ts_usec, char out[48]);
/* The length of the valid UTF-8 sequence at p (n bytes left), 0 if none. */
size_t ncxd_utf8_len(const unsigned char *p, size_t n);

/* "2026-11-22T01:13:34.123456Z" from a CLOCK_REALTIME time in µs. */
void ncxd_format_time(uint64_t real_us, char out[32]);

/* Bytes as the inside of a JSON string: valid UTF-8 kept, '"' '\\' escaped,
 * control bytes and every byte of invalid UTF-8 as \u00XX (so the byte's
 * value survives and the output is always valid JSON). */
void ncxd_json_string(struct ncxd_line *l, const void *p, size_t n);
/* The same for escaped wire text: unescaped first. */
void ncxd_json_unescaped(struct ncxd_line *l, const char *p, size_t n);

struct ncxd_event {
	enum { NCXD_EV_GAP, NCXD_EV_REBOOT, NCXD_EV_SUPPRESSED, NCXD_EV_DROPPED } kind;
	uint64_t a, b;	    /* gap first,last; reboot prev_seq,seq; suppressed records,bytes; dropped records */
	bool lost;	    /* gap */
	const char *reason; /* dropped */
};

/* Each appends one whole line, '\n' included. */
void ncxd_format_record(struct ncxd_line *l, enum ncxd_format f, uint64_t real_us,
			const struct ncx_addr *from, const struct ncx_ext *rec);
void ncxd_format_legacy(struct ncxd_line *l, enum ncxd_format f, uint64_t real_us,
			const struct ncx_addr *from, const struct ncx_legacy *g);
void ncxd_format_event(struct ncxd_line *l, enum ncxd_format f, uint64_t real_us,
		       const struct ncx_addr *from, const struct ncxd_event *ev);

/* ---- config.c: settings from argv and from -c FILE ---- */

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

/* ---- metrics: what a worker publishes ---- */

enum ncxd_counter {
	NCXD_C_RECORDS,
	NCXD_C_LEGACY,
	NCXD_C_BYTES,
	NCXD_C_GAPS,
	NCXD_C_LOST,
	NCXD_C_MISSED,
	NCXD_C_RETX,
	NCXD_C_DUPLICATES,
	NCXD_C_REBOOTS,
	NCXD_C_MALFORMED,
	NCXD_C_SUPPRESSED,
	NCXD_C_SUPPRESSED_BYTES,
	NCXD_C_WRITTEN_BYTES,
	NCXD_C_RESP_BYTES,
	NCXD_C_RESP_HELD,
	NCXD_C_UNASKED,
	NCXD_C_COUNT
};

enum ncxd_drop {
	NCXD_D_LATE,
	NCXD_D_WINDOW,
	NCXD_D_MEMORY,
	NCXD_D_FRAGS,
	NCXD_D_TOO_MANY_SENDERS,
	NCXD_D_WRITE_ERROR,
	NCXD_D_NO_BUFFER,
	NCXD_D_COUNT
};

extern const char *const ncxd_counter_name[NCXD_C_COUNT];
/* A drop reason's name in metrics and in the files' "dropped" lines: the
 * engine's (ncx_rx_drop_reason_name()) for the engine's reasons. */
const char *ncxd_drop_reason_name(enum ncxd_drop r);
/* The reason ncxd counts an engine drop under (and writes a line for), or
 * -1 for those the engine's counters alone keep (malformed, duplicate,
 * window). */
int ncxd_drop_from_rx(enum ncx_rx_drop_reason r);
/* The same names as ncxd_drop_reason_name(), for sink.c until it calls that. */

struct ncxd_stats {
	uint64_t c[NCXD_C_COUNT];
	uint64_t drop[NCXD_D_COUNT];
};

/* What a sender's stream has been (struct ncxd_host_snap.flags). */
#define NCXD_SNAP_RELIABLE 0x1 /* said ncrx=1 */
#define NCXD_SNAP_EXT 0x2      /* extended records */
#define NCXD_SNAP_LEGACY 0x4   /* legacy datagrams */
/* "reliable/extended", "stock/legacy", ...: a stream's kind from NCXD_SNAP_ flags. */
const char *ncxd_stream_kind(unsigned flags);

struct ncxd_host_snap {
	struct ncx_addr addr;
	struct ncxd_stats st;
	unsigned flags;	  /* NCXD_SNAP_* */
	uint64_t last_us; /* wall clock of its last record (0: none yet) */
	double rate;	  /* records/s over the last interval of >= 1 s */
};

struct ncxd_snapshot {
	struct ncxd_stats total;
	uint64_t denied;       /* datagrams from outside --allow */
	uint64_t socket_drops; /* SO_RXQ_OVFL */
	uint64_t evicted;      /* senders evicted to make room (--max-senders) */
	uint64_t hosts, open_files, buffers_used;
	struct ncxd_host_snap *hosts_v;
	size_t nhosts;
};

/* ---- state.c: where each reliable sender's stream stands, across restarts ---- */

#define NCXD_STATE_FILE ".ncxd-state"
#define NCXD_STATE_SLOTS 65536u
#define NCXD_STATE_PROBES 256
#define NCXD_STATE_EXPIRE_S (7u * 86400u) /* dropped at startup if not updated for this long */

struct ncxd_state_slot;
struct ncxd_state_file;

struct ncxd_state {
	struct ncxd_state_file *f; /* NULL: no state (ncxd runs without resume) */
	size_t len;
	int lock_fd;
	atomic_uint_least64_t full; /* senders that found no slot */
};

struct ncxd_state_stats {
	bool found;	 /* an earlier table was read */
	int unreadable;	 /* a file was there but could not be used (errno; EBADMSG: not
			  * a table of ours): started afresh */
	uint64_t kept, expired, no_room;
};

/* Build DIR/.ncxd-state afresh from the old one (live, recent entries only)
 * and map it. Single-threaded, before the workers start. Returns 0 or -errno
 * (-EBUSY: another ncxd holds DIR's table). */
int ncxd_state_open(struct ncxd_state *st, const char *dir, uint32_t nslots, uint64_t now_s,
		    struct ncxd_state_stats *ss);
void ncxd_state_close(struct ncxd_state *st);
/* The sender's slot, wherever it is; NULL if it has none. */
struct ncxd_state_slot *ncxd_state_find(struct ncxd_state *st, const struct ncx_addr *a);
/* Its slot, claimed (with next) if it has none; NULL (counted in full) if no room. */
struct ncxd_state_slot *ncxd_state_claim(struct ncxd_state *st, const struct ncx_addr *a,
					 uint64_t next, uint64_t now_s);
uint64_t ncxd_state_next(struct ncxd_state_slot *sl);
/* The sender's own timestamp (ts_usec) of seq next - 1; 0 if unknown. */
uint64_t ncxd_state_ts(struct ncxd_state_slot *sl);
/* Only the owning worker: the stream is written up to next - 1, whose
 * timestamp is ts (0 if unknown). */
void ncxd_state_put(struct ncxd_state_slot *sl, uint64_t next, uint64_t ts, uint64_t now_s);
/* The sender's state expired: its slot may be reused. */
void ncxd_state_forget(struct ncxd_state_slot *sl);

/* ---- worker.c ---- */

struct ncxd;

struct ncxd_worker {
	struct ncxd *d;
	int id;
	int fds[NCXD_MAX_LISTEN];
	int family[NCXD_MAX_LISTEN]; /* of each socket: AF_INET or AF_INET6 */
	int nfds;
	pthread_t thread;
	/* Published for the metrics writer, under lock. */
	pthread_mutex_t lock;
	struct ncxd_snapshot snap;
	unsigned snap_gen; /* the request generation the snapshot answers */
	bool failed;
};

/* Shared by all threads; only the atomics change after startup. */
struct ncxd {
	struct ncxd_config cfg;
	struct ncxd_worker *workers;
	int nworkers;
	atomic_bool stop;
	atomic_uint reopen_gen;
	atomic_uint metrics_gen;
	/* When snapshots were last asked for (ncxd_refresh()), monotonic µs. */
	atomic_uint_least64_t refreshed_us;
	uint64_t start_real_us; /* wall clock at start */
	struct ncxd_state state;
	struct ncxd_control *control; /* NULL: no control socket */
	/* metrics.c: the totals last written; no *_total is ever written lower. */
	struct ncxd_stats metrics_floor;
};

void *ncxd_worker_main(void *arg);

/* Ask every worker for a fresh snapshot and wait for them (1 s at most).
 * max_age_us: if snapshots were asked for less than this long ago, do
 * nothing (0: always). */
void ncxd_refresh(struct ncxd *d, uint64_t max_age_us);

/* control.c: the control socket. open: create and listen (before privileges
 * are dropped: uid/gid own it, -1 to leave as is); returns 0 or an exit
 * status. start: its thread. stop: join it, close and remove the socket. */
int ncxd_control_open(struct ncxd *d, int uid, int gid);
int ncxd_control_start(struct ncxd *d);
void ncxd_control_stop(struct ncxd *d);
/* The status reply for one request line (without its newline) into a
 * malloc'd buffer: the machine-readable form docs/ncxd.md describes.
 * Returns its length, or -ENOMEM; *out NULL on error. */
long ncxd_status_reply(struct ncxd *d, const char *request, char **out);

/* sandbox.c (docs/security.md): enter the sandbox, unless cfg.no_sandbox
 * (0, or an exit status after saying why).
 * ncxd_sandbox_rules: the Landlock rules for cfg into r (bufs: room for two
 * directory names), returns how many. */
struct ncx_sb_rule;
int ncxd_sandbox_enter(struct ncxd *d);
int ncxd_sandbox_rules(const struct ncxd_config *cfg, struct ncx_sb_rule *r, size_t cap,
		       char (*bufs)[4096]);

/* metrics.c: write FILE.tmp and rename it to FILE. Returns 0 or -errno. */
int ncxd_metrics_write(struct ncxd *d, const char *path);
void ncxd_snapshot_free(struct ncxd_snapshot *s);

#endif /* NCXD_H */
