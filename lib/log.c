/* SPDX-License-Identifier: MIT */
/*
 * log: printk for programs, on top of the ring.
 *
 * The path of one ncx_log() call:
 *
 *   1. The call site's ratelimit: one load and (usually) one
 *      compare-and-swap on its 4-byte static state (include/ncx/ratelimit.h
 *      decides). A silenced call ends here, before any formatting, and
 *      while a console runs without reading a clock (rl_apply()).
 *   2. Format straight into the thread's line buffer (1 KiB, TLS): the
 *      common conversions by fast_format() (log_format.h), anything else
 *      by vsnprintf.
 *   3. Every complete line becomes one ring record: reserve, copy, commit
 *      (lib/ring.c). What follows the last newline waits in the buffer.
 *   4. If a console thread sleeps, wake it (a futex); under load they never
 *      sleep, so a busy program makes no system call per record.
 *
 * Consoles each run on a thread of their own with their own ring reader.
 * A console's reader and callback are owned by whoever holds its "busy"
 * word: its thread, ncx_log_flush(), or the crash handler. Writers never
 * look at it.
 *
 * Memory: the ring (mmap'd and populated at init, so RSS does not move
 * afterwards), a fixed table of console slots, one 1 KiB line buffer per
 * thread that logs. Nothing is allocated per record.
 *
 * Beside this core: log_format.h (the formatter), log_render.c (records
 * as text), log_console.c (the built-in text console), log_crash.c (the
 * crash hook); log_internal.h is what they share with it.
 */
#include "ncx/log.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ncx/ratelimit.h"
#include "log_format.h"
#include "log_internal.h"

enum { ST_OFF, ST_READY };

/* One registered console. */
struct slot {
	struct ncx_console *_Atomic con;	/* NULL: free */
	_Atomic int busy;			/* tid of the owner of rd and the callback, or 0 */
	_Atomic int stop;
	bool has_thread;
	pthread_t thread;
	struct ncx_ring_reader rd;
	uint64_t carry_records, carry_bytes;	/* loss seen on records this console filtered out */
	char text[4096];
};

static struct {
	_Atomic int state;
	struct ncx_ring ring;
	void *mem;
	size_t mem_size;
	struct ncx_rl_params rl;
	uint8_t facility;
	uint64_t (*clock_usec)(void);
	struct slot slots[NCX_LOG_CONSOLES_MAX];
	_Atomic uint32_t wake_gen;
	_Atomic int sleepers;
	/* The ratelimit's seconds, cached for silenced calls: see rl_apply(). */
	_Atomic uint32_t rl_now;
	_Atomic int keepers;			/* console threads running (they refresh rl_now) */
	_Atomic uint64_t suppressed, cut;
	pthread_mutex_t lock;			/* init, shutdown, register: never on the logging path */
	pthread_key_t key;
	bool atexit_done;
} G = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The calling thread's line buffer and bookkeeping. */
struct tls {
	uint32_t tid;
	bool keyed;				/* the exit destructor is armed */
	uint8_t level;				/* level of the line in the buffer */
	uint16_t len;
	/* What the crash handler may trust: 0 idle, 1 formatting after len
	 * (buf[0, len) intact), 2 editing the buffer (not intact). */
	volatile sig_atomic_t phase;
	struct ncx_ring_resv *volatile active;	/* a reservation this thread is filling */
	uint8_t rl_skip;			/* silenced calls since this thread read the clock */
	char buf[NCX_LOG_LINE_MAX + 1];		/* + vsnprintf's NUL */
};
static __thread struct tls T;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* ---- small helpers ------------------------------------------------------ */

static uint32_t my_tid(void)
{
	if (!T.tid)
		T.tid = (uint32_t)syscall(SYS_gettid);
	return T.tid;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	if (G.clock_usec)
		return G.clock_usec();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Seconds for the ratelimit: a coarse clock is plenty and costs little. */
static uint32_t clock_sec(void)
{
	struct timespec ts;

	if (G.clock_usec)
		return (uint32_t)(G.clock_usec() / 1000000);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

/*
 * Read the ratelimit's clock and move the cache (G.rl_now) up to it. The
 * cache never moves back, so it is never ahead of the clock: a silenced
 * call that trusts it can end a silence late, never early (rl_apply()).
 */
static uint32_t now_sec(void)
{
	uint32_t s = clock_sec();
	uint32_t c = atomic_load_explicit(&G.rl_now, memory_order_relaxed);

	/* Relaxed: a number, ordering nothing. Moves once a second. */
	while ((int32_t)(s - c) > 0 &&
	       !atomic_compare_exchange_weak_explicit(&G.rl_now, &c, s, memory_order_relaxed,
						      memory_order_relaxed))
		;
	return s;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val, long timeout_us)
{
	struct timespec ts = { timeout_us / 1000000, (timeout_us % 1000000) * 1000 };

	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void wake_consoles(void)
{
	atomic_fetch_add_explicit(&G.wake_gen, 1, memory_order_relaxed);
	syscall(SYS_futex, (uint32_t *)&G.wake_gen, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* ---- records ------------------------------------------------------------ */

/*
 * Write one record. Async-signal-safe: a handler that interrupts this very
 * function on the same thread gets a reservation of its own, and only the
 * outermost one is published in T.active for the crash handler.
 */
static int emit(int level, unsigned kind, unsigned flags, const char *text, size_t len)
{
	struct ncx_ring_resv resv;
	struct ncx_ring_resv *outer = T.active;
	struct ncx_ring_meta m;
	int cpu = sched_getcpu();
	int err;

	m.ts_usec = now_usec();
	m.tid = my_tid();
	m.cpu = (uint16_t)(cpu < 0 ? 0 : cpu);
	m.flags = (uint16_t)(kind | flags << 8);
	m.level = (uint8_t)(level & 7);
	m.facility = G.facility;
	err = ncx_ring_reserve(&G.ring, len, &resv);
	if (err)
		return err;
	if (!outer) {
		T.active = &resv;
		atomic_signal_fence(memory_order_seq_cst);
	}
	ncx_ring_fill(&G.ring, &resv, 0, text, len);
	ncx_ring_commit(&G.ring, &resv, &m);
	if (!outer) {
		atomic_signal_fence(memory_order_seq_cst);
		T.active = NULL;
	}
	/* Relaxed: a wake-up missed here costs a console at most its 100 ms nap. */
	if (atomic_load_explicit(&G.sleepers, memory_order_relaxed))
		wake_consoles();
	return 0;
}

/* Commit whatever the thread's buffer holds as one record. */
static void commit_partial(void)
{
	if (T.len) {
		emit(T.level, NCX_LOG_REC_MSG, 0, T.buf, T.len);
		T.len = 0;
	}
}

static void tls_exit(void *arg)
{
	(void)arg;
	if (atomic_load_explicit(&G.state, memory_order_acquire) == ST_READY)
		commit_partial();
}

static void arm_exit_flush(void)
{
	if (!T.keyed) {
		T.keyed = true;
		pthread_setspecific(G.key, &T);
	}
}

/* A line reached NCX_LOG_LINE_MAX without a newline: commit it as cut. */
static void commit_cut(void)
{
	emit(T.level, NCX_LOG_REC_MSG, NCX_LOG_F_CUT, T.buf, T.len);
	T.len = 0;
	atomic_fetch_add_explicit(&G.cut, 1, memory_order_relaxed);
}

/*
 * n new bytes were formatted in place at buf[start]: commit every complete
 * line, keep the rest at the front of the buffer.
 */
static void take_in_place(int level, size_t start, size_t n)
{
	char *b = T.buf, *nl;
	size_t end = start + n, ls = 0, scan = start;
	int lvl = start ? T.level : level;

	while (scan < end && (nl = memchr(b + scan, '\n', end - scan))) {
		size_t i = (size_t)(nl - b);

		emit(lvl, NCX_LOG_REC_MSG, 0, b + ls, i - ls);
		ls = scan = i + 1;
		lvl = level;
	}
	if (ls && end > ls)
		memmove(b, b + ls, end - ls);
	T.len = (uint16_t)(end - ls);
	T.level = (uint8_t)lvl;
	if (T.len == NCX_LOG_LINE_MAX)
		commit_cut();
}

/* Feed text through the line buffer (the long-message path). */
static void line_put(int level, const char *s, size_t n)
{
	while (n) {
		const char *nl = memchr(s, '\n', n);
		size_t take = nl ? (size_t)(nl - s) : n;
		size_t room = NCX_LOG_LINE_MAX - T.len;

		if (T.len == 0)
			T.level = (uint8_t)level;
		if (take > room)
			take = room, nl = NULL;
		memcpy(T.buf + T.len, s, take);
		T.len = (uint16_t)(T.len + take);
		s += take, n -= take;
		if (nl) {
			emit(T.level, NCX_LOG_REC_MSG, 0, T.buf, T.len);
			T.len = 0;
			s++, n--;
		} else if (T.len == NCX_LOG_LINE_MAX) {
			commit_cut();
		}
	}
}

/* A message too long for the room left in the line buffer. */
static __attribute__((noinline, format(printf, 2, 0))) void long_message(int level,
									   const char *fmt,
									   va_list ap)
{
	char tmp[NCX_LOG_MSG_MAX];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);

	if (n < 0)
		return;
	T.phase = 2;
	if ((size_t)n >= sizeof(tmp)) {
		line_put(level, tmp, sizeof(tmp) - 1);
		/* Cut off: end the line so the next call starts clean. */
		emit(T.level, NCX_LOG_REC_MSG, NCX_LOG_F_TRUNC, T.buf, T.len);
		T.len = 0;
		return;
	}
	line_put(level, tmp, (size_t)n);
}

/* ---- ratelimit ---------------------------------------------------------- */

static void rl_notice(int level, enum ncx_rl_verdict v, uint32_t suppressed, const char *file,
		      int line)
{
	char text[256];
	struct sbuf b = { text, sizeof(text), 0 };

	if (v == NCX_RL_LIMIT) {
		sb_str(&b, "ratelimit in effect: ");
		sb_str(&b, file);
		sb_str(&b, ":");
		sb_u64(&b, (uint64_t)line);
		sb_str(&b, ": silent for ");
		sb_u64(&b, G.rl.silence);
		sb_str(&b, " s");
	} else {
		sb_str(&b, "ratelimit: ");
		sb_str(&b, file);
		sb_str(&b, ":");
		sb_u64(&b, (uint64_t)line);
		sb_str(&b, ": ");
		sb_u64(&b, suppressed);
		sb_str(&b, suppressed >= NCX_RL_COUNT_MAX ? " or more" : "");
		sb_str(&b, " records suppressed");
		atomic_fetch_add_explicit(&G.suppressed, suppressed, memory_order_relaxed);
	}
	emit(level, v == NCX_RL_LIMIT ? NCX_LOG_REC_RL_LIMIT : NCX_LOG_REC_RL_RESUME, 0, text,
	     b.len < b.cap ? b.len : b.cap);
}

/*
 * Silenced calls read no clock: they take the seconds from G.rl_now, which
 * every other call through here refreshes (it reads the clock anyway), and
 * so do the console threads each time they wake (at least every 100 ms).
 * The cache is never ahead of the clock, and it is only ever used to drop
 * a call: any other verdict is taken again with a fresh reading. So a
 * silence never ends early; it ends late by as much as the cache is stale.
 * To bound that, the cache is used only while a console thread runs, and
 * each thread reads the clock itself on the RL_REFRESH_CALLS-th silenced
 * call since it last read it. A silence therefore ends late by at most the shorter of
 * (a) the time since a console thread last woke (100 ms, unless the
 * scheduler keeps it off the CPU longer) and (b) the time the calling
 * thread takes for RL_REFRESH_CALLS - 1 silenced calls; the calls dropped
 * in that extra time are counted like any other and reported at resume.
 */
#define RL_REFRESH_CALLS 16

static enum ncx_rl_verdict rl_apply(_Atomic uint32_t *rl, uint32_t *suppressed)
{
	uint32_t old = atomic_load_explicit(rl, memory_order_relaxed), next, now;
	bool fresh = true;
	enum ncx_rl_verdict v;

	if ((old & NCX_RL_SILENT) && ++T.rl_skip < RL_REFRESH_CALLS &&
	    atomic_load_explicit(&G.keepers, memory_order_relaxed)) {
		now = atomic_load_explicit(&G.rl_now, memory_order_relaxed);
		fresh = false;
	} else {
		T.rl_skip = 0;
		now = now_sec();
	}
	/* Relaxed: the state orders nothing else; the CAS makes each step atomic. */
	for (;;) {
		next = ncx_rl_step(old, now, &G.rl, &v, suppressed);
		if (!fresh && v != NCX_RL_DROP) {
			/* The silence may be over (or the cache is behind the
			 * stamp another thread just wrote): ask the clock. */
			T.rl_skip = 0;
			now = now_sec();
			fresh = true;
			continue;
		}
		if (next == old)
			break;	/* a saturated silence: nothing to store */
		if (atomic_compare_exchange_weak_explicit(rl, &old, next, memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	return v;
}

/* ---- setup -------------------------------------------------------------- */

static void make_key(void)
{
	pthread_key_create(&G.key, tls_exit);
}

static void at_exit(void)
{
	if (atomic_load_explicit(&G.state, memory_order_acquire) == ST_READY)
		ncx_log_flush_timeout(2000);
}

/* Hold the setup lock across fork(), so the child never inherits it taken. */
static void before_fork(void)
{
	pthread_mutex_lock(&G.lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&G.lock);
}

static void after_fork_child(void)
{
	pthread_mutex_unlock(&G.lock);
	/* Only the forking thread exists in the child: no console threads. */
	T.tid = 0;
	atomic_store(&G.keepers, 0);
	for (int i = 0; i < NCX_LOG_CONSOLES_MAX; i++) {
		atomic_store(&G.slots[i].busy, 0);
		G.slots[i].has_thread = false;
	}
}

static int init_locked(const struct ncx_log_config *cfg)
{
	struct ncx_log_config c = { 0 };
	void *mem;

	if (atomic_load_explicit(&G.state, memory_order_relaxed) == ST_READY)
		return -EALREADY;
	if (cfg)
		c = *cfg;
	if (!c.ring_size)
		c.ring_size = (size_t)1 << NCX_RING_DEFAULT_ORDER;
	if (c.facility > 23 || c.rl_burst > NCX_RL_COUNT_MAX || c.rl_silence > 32767)
		return -EINVAL;
	/* At least 8 KiB: a 1 KiB line must fit in one record (text_max = size/4 - 40). */
	if (c.ring_size < ((size_t)1 << 13) ||
	    c.ring_size > ((size_t)1 << NCX_RING_MAX_ORDER) || (c.ring_size & (c.ring_size - 1)))
		return -EINVAL;
	/* Populated now: the ring's pages are resident from the start, so
	 * logging never faults them in and RSS does not grow under spam. */
	mem = mmap(NULL, c.ring_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	ncx_ring_init(&G.ring, mem, c.ring_size);
	G.mem = mem;
	G.mem_size = c.ring_size;
	G.facility = c.facility ? c.facility : 1;
	G.rl.burst = c.rl_burst ? c.rl_burst : NCX_RL_BURST;
	G.rl.silence = c.rl_silence ? c.rl_silence : NCX_RL_SILENCE;
	G.clock_usec = c.clock_usec;
	atomic_store(&G.rl_now, clock_sec());	/* a fake clock may have gone back */
	atomic_store(&G.suppressed, 0);
	atomic_store(&G.cut, 0);
	pthread_once(&key_once, make_key);
	if (!G.atexit_done) {
		G.atexit_done = true;
		atexit(at_exit);
		pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	}
	atomic_store_explicit(&G.state, ST_READY, memory_order_release);
	return 0;
}

int ncx_log_init(const struct ncx_log_config *cfg)
{
	int err;

	pthread_mutex_lock(&G.lock);
	err = init_locked(cfg);
	pthread_mutex_unlock(&G.lock);
	return err;
}

/* Logging before ncx_log_init(): set up the defaults. */
static bool ready(void)
{
	if (__builtin_expect(atomic_load_explicit(&G.state, memory_order_acquire) == ST_READY, 1))
		return true;
	ncx_log_init(NULL);
	return atomic_load_explicit(&G.state, memory_order_acquire) == ST_READY;
}

/* ---- the API ------------------------------------------------------------ */

/*
 * The ratelimit, before anything else: a silenced call ends here, before
 * the variable arguments are even looked at. Returns true to go on.
 */
static inline bool pass(_Atomic uint32_t *rl, const char *file, int line, int level)
{
	enum ncx_rl_verdict v;
	uint32_t suppressed;

	if (!ready())
		return false;
	v = rl_apply(rl, &suppressed);
	if (__builtin_expect(v == NCX_RL_PASS, 1))
		return true;
	if (v == NCX_RL_DROP)
		return false;
	rl_notice(level & 7, v, suppressed, file, line);
	return v == NCX_RL_RESUME;
}

/* Format into the line buffer and commit what is complete. */
static __attribute__((format(printf, 2, 0))) void format_line(int level, const char *fmt,
							     va_list ap)
{
	size_t room = NCX_LOG_LINE_MAX - T.len;
	va_list aq;
	int n;

	level &= 7;
	T.phase = 1;
	va_copy(aq, ap);
	n = fast_format(T.buf + T.len, room, fmt, aq);
	va_end(aq);
	if (n < 0) {
		va_copy(aq, ap);
		n = vsnprintf(T.buf + T.len, room + 1, fmt, aq);
		va_end(aq);
	}
	if (n > 0 && (size_t)n <= room) {
		T.phase = 2;
		take_in_place(level, T.len, (size_t)n);
	} else if (n > 0) {
		long_message(level, fmt, ap);
	}
	if (T.len)
		arm_exit_flush();
	T.phase = 0;
}

/*
 * The common case of a silenced call, inline and before anything else: the
 * site is silent, the cached seconds say it still is (see rl_apply(), whose
 * rules this follows exactly), and the count is saturated or goes up by one.
 * false: take the whole path.
 */
static inline bool dropped_fast(_Atomic uint32_t *rl, uint32_t old)
{
	if (T.rl_skip >= RL_REFRESH_CALLS - 1 ||
	    !atomic_load_explicit(&G.keepers, memory_order_relaxed))
		return false;
	if ((uint16_t)(atomic_load_explicit(&G.rl_now, memory_order_relaxed) - ncx_rl_stamp(old)) >=
	    G.rl.silence)
		return false;
	if (ncx_rl_count(old) < NCX_RL_COUNT_MAX &&
	    !atomic_compare_exchange_strong_explicit(rl, &old, old + 1, memory_order_relaxed,
						     memory_order_relaxed))
		return false;
	T.rl_skip++;
	return true;
}

/*
 * The common case of a call that passes, inline: the site is in an open
 * window (not silent, at least one call counted, fewer than the burst) and
 * by a fresh reading of the clock the window is not over, so the count
 * goes up by one: exactly what ncx_rl_step() gives for it (same state,
 * same verdict), without its generality. false: take the whole path.
 */
static inline bool passed_fast(_Atomic uint32_t *rl, uint32_t old)
{
	uint32_t count = ncx_rl_count(old);

	if (atomic_load_explicit(&G.state, memory_order_acquire) != ST_READY || count == 0 ||
	    count >= G.rl.burst)
		return false;
	T.rl_skip = 0;		/* as rl_apply(): this thread read the clock */
	if ((uint16_t)(now_sec() - ncx_rl_stamp(old)) >= G.rl.silence)
		return false;	/* the window is over: a new one, the whole path */
	/* old + 1 = ncx_rl_make(stamp, 0, count + 1), as count < burst <= NCX_RL_COUNT_MAX. */
	return atomic_compare_exchange_strong_explicit(rl, &old, old + 1, memory_order_relaxed,
						       memory_order_relaxed);
}

/* The ratelimit's verdict on a call: the two common cases inline, then
 * the whole path. true: log it. */
static inline __attribute__((always_inline)) bool admit(_Atomic uint32_t *rl, const char *file,
						      int line, int level)
{
	uint32_t old = atomic_load_explicit(rl, memory_order_relaxed);

	if (!(old & NCX_RL_SILENT)) {
		if (passed_fast(rl, old))
			return true;
	} else if (dropped_fast(rl, old)) {
		return false;
	}
	return pass(rl, file, line, level);
}

void ncx_vlog_at(_Atomic uint32_t *rl, const char *file, int line, int level, const char *fmt,
		 va_list ap)
{
	if (admit(rl, file, line, level))
		format_line(level, fmt, ap);
}

void ncx_log_at(_Atomic uint32_t *rl, const char *file, int line, int level, const char *fmt,
		...)
{
	va_list ap;

	if (!admit(rl, file, line, level))
		return;
	va_start(ap, fmt);
	format_line(level, fmt, ap);
	va_end(ap);
}

int ncx_log_write(int level, const char *text, size_t len)
{
	unsigned flags = 0;

	if (atomic_load_explicit(&G.state, memory_order_acquire) != ST_READY)
		return -ENODEV;		/* no lazy init here: it allocates */
	if (len && text[len - 1] == '\n')
		len--;
	if (len > NCX_LOG_LINE_MAX)
		len = NCX_LOG_LINE_MAX, flags = NCX_LOG_F_TRUNC;
	return emit(level, NCX_LOG_REC_MSG, flags, text, len);
}

struct ncx_ring *ncx_log_ring(void)
{
	return atomic_load_explicit(&G.state, memory_order_acquire) == ST_READY ? &G.ring : NULL;
}

void ncx_log_get_stats(struct ncx_log_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (atomic_load_explicit(&G.state, memory_order_acquire) != ST_READY)
		return;
	st->records = ncx_ring_next_seq(&G.ring);
	st->refused = ncx_ring_refused(&G.ring);
	st->suppressed = atomic_load_explicit(&G.suppressed, memory_order_relaxed);
	st->cut = atomic_load_explicit(&G.cut, memory_order_relaxed);
}

/* ---- consoles ----------------------------------------------------------- */

/*
 * Take ownership of a console's reader and callback. Waits up to
 * timeout_us (negative: for ever); with steal, takes it anyway after
 * that (the crash path). Returns false on timeout.
 */
static bool claim(struct slot *s, long timeout_us, bool steal)
{
	int me = (int)my_tid();
	long waited = 0;

	for (;;) {
		int cur = 0;

		/* LMM(claim:A): acquire pairs with LMM(release:A): we see the
		 * reader state the previous owner left. */
		if (atomic_compare_exchange_strong_explicit(&s->busy, &cur, me, memory_order_acquire,
							    memory_order_relaxed))
			return true;
		if (steal && (cur == me || (timeout_us >= 0 && waited >= timeout_us))) {
			atomic_store_explicit(&s->busy, me, memory_order_seq_cst);
			return true;
		}
		if (timeout_us >= 0 && waited >= timeout_us)
			return false;
		sleep_us(200);
		waited += 200;
	}
}

static void release(struct slot *s)
{
	/* LMM(release:A): pairs with LMM(claim:A). */
	atomic_store_explicit(&s->busy, 0, memory_order_release);
}

/* Deliver every readable record to c. Returns how many it delivered. */
static unsigned deliver(struct slot *s, struct ncx_console *c)
{
	struct ncx_ring_rec rr;
	unsigned n = 0;

	while (ncx_ring_read(&G.ring, &s->rd, &rr, s->text, sizeof(s->text)) == 1) {
		struct ncx_log_record rec;

		s->carry_records += rr.lost_records;
		s->carry_bytes += rr.lost_bytes;
		if (!(c->flags & NCX_CON_ALLDATA) && rr.meta.level > c->level)
			continue;
		rec.seq = rr.seq;
		rec.ts_usec = rr.meta.ts_usec;
		rec.tid = rr.meta.tid;
		rec.cpu = rr.meta.cpu;
		rec.level = rr.meta.level;
		rec.facility = rr.meta.facility;
		rec.kind = (uint8_t)(rr.meta.flags & 0xff);
		rec.flags = (uint8_t)(rr.meta.flags >> 8);
		rec.text = s->text;
		rec.len = rr.text_len < sizeof(s->text) ? rr.text_len : sizeof(s->text);
		rec.lost_records = s->carry_records;
		rec.lost_bytes = s->carry_bytes;
		s->carry_records = s->carry_bytes = 0;
		c->write(c, &rec);
		n++;
	}
	if (n && c->flush)
		c->flush(c);
	return n;
}

/*
 * Deliver until the reader reaches target, waiting (up to timeout_us) for
 * writers that are mid-record. Caller owns the slot.
 */
static bool drain_to(struct slot *s, struct ncx_console *c, uint64_t target, long timeout_us)
{
	long waited = 0;

	for (;;) {
		deliver(s, c);
		if ((int64_t)(s->rd.pos - target) >= 0)
			return true;
		if (timeout_us >= 0 && waited >= timeout_us)
			return false;
		sleep_us(100);
		waited += 100;
	}
}

static void *console_main(void *arg)
{
	struct slot *s = arg;
	sigset_t all;

	/* Leave asynchronous signals to the program's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	atomic_fetch_add(&G.keepers, 1);
	while (!atomic_load(&s->stop)) {
		uint32_t gen = atomic_load(&G.wake_gen);
		struct ncx_console *c = atomic_load_explicit(&s->con, memory_order_acquire);
		unsigned n;
		uint64_t pos;

		now_sec();	/* keep the ratelimit's cached seconds fresh */
		if (!claim(s, 100000, false))
			continue;
		n = deliver(s, c);
		pos = s->rd.pos;
		release(s);
		if (n)
			continue;
		atomic_fetch_add(&G.sleepers, 1);
		if (ncx_ring_head(&G.ring) != pos)
			sleep_us(50);	/* a writer is mid-record: it will not be long */
		else if (!atomic_load(&s->stop))
			futex_wait(&G.wake_gen, gen, 100000);
		atomic_fetch_sub(&G.sleepers, 1);
	}
	atomic_fetch_sub(&G.keepers, 1);
	return NULL;
}

int ncx_console_register(struct ncx_console *con)
{
	struct slot *free_slot = NULL;
	int err = 0;

	if (!con || !con->write)
		return -EINVAL;
	if (!ready())
		return -ENOMEM;
	pthread_mutex_lock(&G.lock);
	for (int i = 0; i < NCX_LOG_CONSOLES_MAX; i++) {
		struct ncx_console *c = atomic_load(&G.slots[i].con);

		if (c == con)
			err = -EEXIST;
		if (!c && !free_slot)
			free_slot = &G.slots[i];
	}
	if (!err && !free_slot)
		err = -ENOSPC;
	if (!err) {
		struct slot *s = free_slot;

		ncx_ring_reader_init(&G.ring, &s->rd,
				     (con->flags & NCX_CON_REPLAY) ? NCX_RING_OLDEST : NCX_RING_NEWEST);
		s->carry_records = s->carry_bytes = 0;
		atomic_store(&s->busy, 0);
		atomic_store(&s->stop, 0);
		/* Published last: the crash handler walks the slots without a lock. */
		atomic_store_explicit(&s->con, con, memory_order_release);
		err = -pthread_create(&s->thread, NULL, console_main, s);
		s->has_thread = err == 0;
		if (err)
			atomic_store(&s->con, NULL);
	}
	pthread_mutex_unlock(&G.lock);
	return err;
}

static void stop_slot(struct slot *s)
{
	struct ncx_console *c = atomic_load(&s->con);

	if (claim(s, (long)NCX_LOG_FLUSH_MS * 1000, false)) {
		drain_to(s, c, ncx_ring_head(&G.ring), (long)NCX_LOG_FLUSH_MS * 1000);
		release(s);
	}
	atomic_store(&s->stop, 1);
	wake_consoles();
	if (s->has_thread)
		pthread_join(s->thread, NULL);
	s->has_thread = false;
	atomic_store(&s->con, NULL);
}

int ncx_log_respawn(void)
{
	int err = 0;

	pthread_mutex_lock(&G.lock);
	for (int i = 0; i < NCX_LOG_CONSOLES_MAX; i++) {
		struct slot *s = &G.slots[i];
		int rc;

		if (!atomic_load(&s->con) || !s->has_thread)
			continue;
		/* The reader's place is the slot's, not the thread's. */
		atomic_store(&s->stop, 1);
		wake_consoles();
		pthread_join(s->thread, NULL);
		atomic_store(&s->stop, 0);
		rc = -pthread_create(&s->thread, NULL, console_main, s);
		s->has_thread = rc == 0;
		if (rc && !err)
			err = rc;
	}
	pthread_mutex_unlock(&G.lock);
	return err;
}

int ncx_console_unregister(struct ncx_console *con)
{
	int err = -ENOENT;

	pthread_mutex_lock(&G.lock);
	for (int i = 0; i < NCX_LOG_CONSOLES_MAX; i++) {
		if (con && atomic_load(&G.slots[i].con) == con) {
			stop_slot(&G.slots[i]);
			err = 0;
		}
	}
	pthread_mutex_unlock(&G.lock);
	return err;
}

void ncx_log_shutdown(void)
{
	pthread_mutex_lock(&G.lock);
	if (atomic_load(&G.state) == ST_READY) {
		commit_partial();
		for (int i = 0; i < NCX_LOG_CONSOLES_MAX; i++)
			if (atomic_load(&G.slots[i].con))
				stop_slot(&G.slots[i]);
		atomic_store(&G.state, ST_OFF);
		munmap(G.mem, G.mem_size);
		G.mem = NULL;
	}
	pthread_mutex_unlock(&G.lock);
}

int ncx_log_flush_timeout(int timeout_ms)
{
	long limit = timeout_ms < 0 ? -1 : (long)timeout_ms * 1000;
	uint64_t target;
	int err = 0;

	if (atomic_load_explicit(&G.state, memory_order_acquire) != ST_READY)
		return 0;
	now_sec();	/* the ratelimit's cached seconds, brought up to date too */
	commit_partial();
	target = ncx_ring_head(&G.ring);
	for (int i = 0; i < NCX_LOG_CONSOLES_MAX; i++) {
		struct slot *s = &G.slots[i];
		struct ncx_console *c = atomic_load_explicit(&s->con, memory_order_acquire);

		if (!c)
			continue;
		if (!claim(s, limit, false)) {
			err = -ETIMEDOUT;
			continue;
		}
		if (!drain_to(s, c, target, limit))
			err = -ETIMEDOUT;
		release(s);
	}
	return err;
}

int ncx_log_flush(void)
{
	return ncx_log_flush_timeout(NCX_LOG_FLUSH_MS);
}

/* ---- for the crash hook (lib/log_crash.c) ------------------------------- */

int ncx__log_emit(int level, unsigned kind, unsigned flags, const char *text, size_t len)
{
	return emit(level, kind, flags, text, len);
}

uint32_t ncx__log_tid(void)
{
	return my_tid();
}

void ncx__log_crash_line(void)
{
	/* A record left half-written is discarded: readers count it as one
	 * lost record instead of stopping at it. */
	if (T.active)
		ncx_ring_discard(&G.ring, T.active);
	/* phase 2: the buffer was being rearranged, its bytes mean nothing. */
	if (T.phase != 2)
		commit_partial();
	T.len = 0;
}

void ncx__log_crash_drain(void)
{
	uint64_t target = ncx_ring_head(&G.ring);

	for (int i = 0; i < NCX_LOG_CONSOLES_MAX; i++) {
		struct slot *s = &G.slots[i];
		struct ncx_console *c = atomic_load_explicit(&s->con, memory_order_acquire);

		if (!c)
			continue;
		/* A console mid-callback gets a second to finish; if it
		 * is the crashed thread itself, it never will. */
		claim(s, 1000000, true);
		drain_to(s, c, target, 200000);
		release(s);
	}
}

void ncx__log_lock(void)
{
	pthread_mutex_lock(&G.lock);
}

void ncx__log_unlock(void)
{
	pthread_mutex_unlock(&G.lock);
}
