/* SPDX-License-Identifier: MIT */
/*
 * log: printk for programs. See docs/log.md for the whole story.
 *
 *	ncx_log_init(NULL);                      // 16 MiB ring, defaults
 *	struct ncx_console *con = ncx_console_fd(2, NCX_LOG_INFO, 0);
 *	ncx_console_register(con);
 *	ncx_info("listening on %s\n", addr);
 *	...
 *	ncx_log_flush();
 *
 * Every call goes through the call site's ratelimit (4 bytes of static
 * state per site), then the calling thread's 1 KiB line buffer; each
 * complete line becomes one record in the ring (include/ncx/ring.h).
 * Consoles read the ring on their own threads, each at its own position:
 * a slow or stuck console never holds up a caller, and learns exactly what
 * it missed.
 *
 * Async-signal-safe: ncx_log_write(), ncx_log_format_text(),
 * ncx_log_format_ext(), ncx_log_ring() and the crash handler that
 * ncx_log_crash_hook() installs. Nothing else (ncx_log() hands floating
 * point and rarer conversions to vsnprintf; flush waits).
 */
#ifndef NCX_LOG_H
#define NCX_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ncx/ring.h"

/* Levels, as syslog(3) and the kernel number them. */
enum {
	NCX_LOG_EMERG = 0,
	NCX_LOG_ALERT = 1,
	NCX_LOG_CRIT = 2,
	NCX_LOG_ERR = 3,
	NCX_LOG_WARNING = 4,
	NCX_LOG_NOTICE = 5,
	NCX_LOG_INFO = 6,
	NCX_LOG_DEBUG = 7,
};

#define NCX_LOG_LINE_MAX 1024		/* a line longer than this is cut into records */
#define NCX_LOG_MSG_MAX 8192		/* one call's formatted text; the rest is cut off */
#define NCX_LOG_CONSOLES_MAX 8
#define NCX_LOG_FLUSH_MS 5000		/* ncx_log_flush()'s wait for a stuck console */

/* What a record is (struct ncx_log_record.kind, the ring's flags low byte). */
enum {
	NCX_LOG_REC_MSG = 0,		/* a line the program logged */
	NCX_LOG_REC_RL_LIMIT = 1,	/* "ratelimit in effect" for a call site */
	NCX_LOG_REC_RL_RESUME = 2,	/* "<n> records suppressed" at a call site */
	NCX_LOG_REC_CRASH = 3,		/* the crash hook caught a signal */
};
/* Record flags (struct ncx_log_record.flags, the ring's flags high byte). */
#define NCX_LOG_F_CUT 0x1		/* line reached NCX_LOG_LINE_MAX: continued in the next record */
#define NCX_LOG_F_TRUNC 0x2		/* the call's text exceeded NCX_LOG_MSG_MAX and was cut off */

struct ncx_log_config {
	size_t ring_size;		/* bytes, a power of two, 8 KiB .. 1 GiB; 0: 16 MiB */
	uint8_t facility;		/* 0..23; 0 means 1 (user), as for syslog(3) */
	uint16_t rl_burst;		/* calls per window per site; 0: 30,000 */
	uint16_t rl_silence;		/* seconds; 0: 300 */
	/* Clock in microseconds for record times and (divided by 10^6) the
	 * ratelimit. NULL: CLOCK_REALTIME for records, CLOCK_MONOTONIC_COARSE
	 * for the ratelimit. Tests give a fake one. */
	uint64_t (*clock_usec)(void);
};

/*
 * Set up the log core: allocate the ring (the only allocation the core
 * makes on the logging path's behalf). Returns 0, -EALREADY, -EINVAL or
 * -ENOMEM. Logging before ncx_log_init() sets up the defaults on first use.
 * At exit the core flushes (atexit), with a bounded wait.
 */
int ncx_log_init(const struct ncx_log_config *cfg);

/*
 * Unregister every console (flushing each), free the ring. Only when no
 * other thread logs any more; afterwards ncx_log_init() may be called
 * again (the tests do). Ratelimit state lives in the call sites and is
 * not reset.
 */
void ncx_log_shutdown(void);

/* Log at a call site; normally through the macros below. */
void ncx_log_at(_Atomic uint32_t *rl, const char *file, int line, int level, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));
void ncx_vlog_at(_Atomic uint32_t *rl, const char *file, int line, int level, const char *fmt,
		 va_list ap) __attribute__((format(printf, 5, 0)));

/* Each expansion is a call site with its own 4-byte ratelimit state. */
#define ncx_log(level, ...)                                                    \
	do {                                                                   \
		static _Atomic uint32_t ncx_rl_site_;                          \
		ncx_log_at(&ncx_rl_site_, __FILE__, __LINE__, (level), __VA_ARGS__); \
	} while (0)

#define ncx_emerg(...) ncx_log(NCX_LOG_EMERG, __VA_ARGS__)
#define ncx_alert(...) ncx_log(NCX_LOG_ALERT, __VA_ARGS__)
#define ncx_crit(...) ncx_log(NCX_LOG_CRIT, __VA_ARGS__)
#define ncx_err(...) ncx_log(NCX_LOG_ERR, __VA_ARGS__)
#define ncx_warn(...) ncx_log(NCX_LOG_WARNING, __VA_ARGS__)
#define ncx_notice(...) ncx_log(NCX_LOG_NOTICE, __VA_ARGS__)
#define ncx_info(...) ncx_log(NCX_LOG_INFO, __VA_ARGS__)
#define ncx_debug(...) ncx_log(NCX_LOG_DEBUG, __VA_ARGS__)

/*
 * One record with exactly this text (a trailing newline is dropped, the
 * text is cut at NCX_LOG_LINE_MAX): no formatting, no line buffer, no
 * ratelimit. Async-signal-safe. Returns 0 or a negative errno
 * (-ENOBUFS: see ncx_ring_write()).
 */
int ncx_log_write(int level, const char *text, size_t len);

/*
 * Commit the calling thread's partial line (if any), then drain every
 * console: return once each has taken every record committed before the
 * call. Waits at most timeout_ms for a console that does not get there
 * (-ETIMEDOUT); negative: no limit. ncx_log_flush() waits NCX_LOG_FLUSH_MS.
 */
int ncx_log_flush_timeout(int timeout_ms);
int ncx_log_flush(void);

/* A record as a console receives it. */
struct ncx_log_record {
	uint64_t seq;
	uint64_t ts_usec;
	uint32_t tid;
	uint16_t cpu;
	uint8_t level;
	uint8_t facility;
	uint8_t kind;			/* NCX_LOG_REC_* */
	uint8_t flags;			/* NCX_LOG_F_* */
	const char *text;		/* not NUL-terminated; never holds the line's newline */
	size_t len;
	uint64_t lost_records;		/* this console missed these just before this record */
	uint64_t lost_bytes;
};

#define NCX_CON_ALLDATA 0x1		/* take every level, whatever the threshold */
#define NCX_CON_REPLAY 0x2		/* start at the oldest record in the ring, not the next */

/*
 * A console: a write callback and a level threshold. It gets the records
 * whose level is <= level (numerically: level NCX_LOG_INFO takes all but
 * debug), or all of them with NCX_CON_ALLDATA. Callbacks run on the
 * console's own thread, from ncx_log_flush() in the flushing thread, and
 * from the crash handler: never two at once for one console (except when
 * the crash handler gives up waiting for a hung callback). To be of use on
 * the crash path they should be async-signal-safe.
 */
struct ncx_console {
	const char *name;
	int level;
	unsigned flags;			/* NCX_CON_* */
	void (*write)(struct ncx_console *con, const struct ncx_log_record *rec);
	void (*flush)(struct ncx_console *con);	/* optional: after each batch */
	void *arg;			/* the console's own */
};

/*
 * Start delivering to con on a thread of its own. con must stay valid
 * until ncx_console_unregister(). Returns 0, -ENOSPC (NCX_LOG_CONSOLES_MAX
 * registered), -EEXIST, or an error from pthread_create().
 */
int ncx_console_register(struct ncx_console *con);

/* Drain con (bounded wait), stop its thread, forget it. Returns 0 or -ENOENT. */
int ncx_console_unregister(struct ncx_console *con);

/*
 * Start every console's thread again, from the calling thread, each where
 * it was (nothing lost, nothing shown twice). For a program that enters a
 * sandbox which binds only the caller and the threads it starts from then
 * on (Landlock): its consoles, started before, are then inside it too.
 * Returns 0, or the first error from pthread_create() (that console stays
 * registered without a thread: ncx_log_flush() still drains it).
 */
int ncx_log_respawn(void);

/*
 * The built-in text console: one line per record, rendered by
 * ncx_log_format_text(), written to fd (ncx_console_fd) or to a file opened
 * for appending (ncx_console_file). A gap is written as its own line:
 * "** <n> records (<b> bytes) lost **". Buffered (64 KiB), written out at
 * the end of every batch. Free with ncx_console_free() after unregistering
 * (closes the file it opened, never an fd it was given).
 */
struct ncx_console *ncx_console_fd(int fd, int level, unsigned flags);
struct ncx_console *ncx_console_file(const char *path, int level, unsigned flags);
void ncx_console_free(struct ncx_console *con);

/*
 * The plain console for command-line programs, on stderr: one line per
 * record, "<prog>: <text>\n", the text escaped as above and no other
 * decoration (no time, level or thread); a gap as its own line,
 * "<prog>: ** <n> records lost **". prog (1..NCX_CON_PROG_MAX bytes) is
 * copied. Buffered and written like the text console, async-signal-safe
 * likewise; freed with ncx_console_free(). NULL: errno says why (EINVAL
 * for prog, ENOMEM).
 */
#define NCX_CON_PROG_MAX 64
struct ncx_console *ncx_console_stderr(const char *prog, int level, unsigned flags);

/*
 * A command-line program's logging in one call: ncx_log_init() with a
 * small ring (NCX_LOG_CLI_RING bytes: a program's own diagnostics) and
 * the plain console on stderr at level, registered. Returns the console
 * (to change its level, unregister it, set ->level, register it again; to
 * stop, unregister and free it), or NULL with errno set; then nothing is
 * registered and the program may print its diagnostics itself.
 */
#define NCX_LOG_CLI_RING (64 << 10)
struct ncx_console *ncx_log_start_stderr(const char *prog, int level);

/*
 * Render a record as one text line, newline included:
 *   "[<sec>.<usec>] <<level>> [T<tid> C<cpu>] <text>\n"
 * with bytes < 0x20 (but tab), 0x7f and '\' in the text written as \xNN.
 * Returns the length needed, writes at most cap bytes, no NUL.
 * Async-signal-safe.
 */
size_t ncx_log_format_text(const struct ncx_log_record *rec, char *out, size_t cap);

/*
 * Render a record as the kernel's extended format (include/ncx/wire.h):
 *   "<fac<<3|level>,<seq>,<ts_usec>,-,caller=T<tid>;<escaped text>\n cpu=<cpu>\n"
 * ready to go out as /dev/kmsg or netconsole would send it. Returns the
 * length needed, writes at most cap bytes, no NUL. Async-signal-safe.
 */
size_t ncx_log_format_ext(const struct ncx_log_record *rec, char *out, size_t cap);

/*
 * Opt-in crash hook for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT: the
 * handler commits the thread's partial line, writes a record naming the
 * signal, drains every console from inside the handler, then re-raises
 * the signal with its default action (core dump as usual). It runs on an
 * alternate stack for the thread that installed it (stack overflows).
 * Returns 0 or a negative errno. enable=false puts back the old handlers.
 */
int ncx_log_crash_hook(bool enable);

struct ncx_log_stats {
	uint64_t records;		/* written to the ring */
	uint64_t suppressed;		/* by ratelimits, as reported at resume */
	uint64_t refused;		/* the ring refused (ncx_ring_refused()) */
	uint64_t cut;			/* lines cut at NCX_LOG_LINE_MAX */
};
void ncx_log_get_stats(struct ncx_log_stats *st);

/* The ring under the log core, for consoles that read it themselves. */
struct ncx_ring *ncx_log_ring(void);

#endif /* NCX_LOG_H */
