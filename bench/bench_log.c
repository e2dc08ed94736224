/* SPDX-License-Identifier: MIT */
/*
 * bench_log: what one ncx_log() call costs, next to fprintf(3) to a file and
 * syslog(3), with 1 and 2 threads; what a silenced call site costs; and RSS
 * before and after a spell of logging as fast as the threads can.
 *
 *   build/bench/bench_log [--calls N] [--spam-seconds S] [--threads T] [--pairs P]
 *
 * Each call formats a 64-byte message. The ncx_log calls go through
 * ncx_log_at() with call-site states from an array (65,536 per thread, as
 * if the program had that many call sites), because one call site may only
 * log 30,000 records per 300 s: that is the ratelimit, not the cost being
 * measured. The timed runs have no console attached (a console runs on its
 * own thread and would compete for the 2 CPUs), except the second silenced
 * run: with a console registered (idle: silenced calls write nothing),
 * silenced calls trust the ratelimit's cached seconds; without one they
 * read the clock. The spam run has a text console writing to /dev/null,
 * the realistic worst case for memory.
 *
 * Two more baselines show what two threads can gain on this machine at
 * all: snprintf(3) of the same message into a private buffer, and the same
 * plus one atomic add on a shared counter per call (the one shared cache
 * line every ncx_log record writes: the ring's head), and the same plus
 * ncx_ring_write() of the text to a ring of the bench's own: the ring
 * alone, without the rest of the log core.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ncx/log.h"
#include "ncx/ratelimit.h"

#define SITES 65536
#define MAXT 8
#define FMT "req %08u from %s took %5u us: status %s, bytes %6u\n"

static _Atomic uint32_t sites[MAXT][SITES];
static FILE *bench_file;
static _Atomic int go, stop;

enum what { W_NCX, W_FPRINTF, W_SYSLOG, W_SILENCED, W_SNPRINTF, W_SHARED, W_RING };

static _Alignas(64) _Atomic uint64_t shared_count;
static struct ncx_ring bench_ring;	/* W_RING: a ring of the bench's own, no log core */

struct job {
	enum what what;
	unsigned t;
	uint64_t calls;		/* to make; or made, for a timed spam */
	double ns;		/* wall time per call */
	double cpu_ns;		/* this thread's CPU time per call: what the call costs
				 * when the machine is shared with other work */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void one_call(enum what what, unsigned t, uint64_t i)
{
	unsigned u = (unsigned)i;

	switch (what) {
	case W_NCX:
		ncx_log_at(&sites[t][i & (SITES - 1)], __FILE__, __LINE__, NCX_LOG_INFO, FMT, u,
			   "10.1.2.3", u % 99999, "ok", u % 999999);
		break;
	case W_FPRINTF:
		fprintf(bench_file, FMT, u, "10.1.2.3", u % 99999, "ok", u % 999999);
		break;
	case W_SYSLOG:
		syslog(LOG_INFO, FMT, u, "10.1.2.3", u % 99999, "ok", u % 999999);
		break;
	case W_SILENCED:
		ncx_log_at(&sites[t][0], __FILE__, __LINE__, NCX_LOG_INFO, FMT, u, "10.1.2.3",
			   u % 99999, "ok", u % 999999);
		break;
	case W_SNPRINTF:
	case W_SHARED:
	case W_RING: {
		char buf[128];
		/* volatile: the result is used, so the call cannot go away */
		volatile int n = snprintf(buf, sizeof(buf), FMT, u, "10.1.2.3", u % 99999, "ok",
					  u % 999999);

		(void)n;
		if (what == W_SHARED)
			atomic_fetch_add_explicit(&shared_count, 1, memory_order_relaxed);
		if (what == W_RING) {
			struct ncx_ring_meta m = { .ts_usec = i, .tid = t, .level = NCX_LOG_INFO };

			ncx_ring_write(&bench_ring, &m, buf, (size_t)n, NULL);
		}
		break;
	}
	}
}

static void *worker(void *arg)
{
	struct job *j = arg;
	double t0, c0;

	while (!atomic_load(&go))
		;
	t0 = now_s();
	c0 = cpu_s();
	if (j->calls) {
		for (uint64_t i = 0; i < j->calls; i++)
			one_call(j->what, j->t, i);
	} else {
		uint64_t i = 0;

		while (!atomic_load_explicit(&stop, memory_order_relaxed))
			for (int k = 0; k < 1024; k++, i++)
				one_call(j->what, j->t, i);
		j->calls = i;
	}
	j->ns = (now_s() - t0) * 1e9 / (double)j->calls;
	j->cpu_ns = (cpu_s() - c0) * 1e9 / (double)j->calls;
	return NULL;
}

/* Run nthreads workers; returns ns per call per thread (the mean) and the
 * aggregate calls per second in *rate, the mean CPU ns per call in *cpu. */
static double run(enum what what, unsigned nthreads, uint64_t calls, double *rate, double *cpu)
{
	pthread_t th[MAXT];
	struct job jobs[MAXT];
	double t0, secs, ns = 0;

	atomic_store(&go, 0);
	for (unsigned t = 0; t < nthreads; t++) {
		jobs[t] = (struct job){ .what = what, .t = t, .calls = calls };
		pthread_create(&th[t], NULL, worker, &jobs[t]);
	}
	t0 = now_s();
	atomic_store(&go, 1);
	for (unsigned t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	secs = now_s() - t0;
	if (cpu)
		*cpu = 0;
	for (unsigned t = 0; t < nthreads; t++) {
		ns += jobs[t].ns / nthreads;
		if (cpu)
			*cpu += jobs[t].cpu_ns / nthreads;
	}
	if (rate)
		*rate = (double)calls * nthreads / secs;
	return ns;
}

static long rss_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

/*
 * What moving one cache line between two CPUs costs here: two threads hand
 * a line back and forth. Every record's shared line (the ring's head) moves
 * once per record when two threads log, which bounds what a second thread
 * can add: 2w / (w + move) for w ns of a thread's own work per record.
 */
static _Alignas(64) _Atomic uint64_t pingpong;

static void *pong(void *arg)
{
	uint64_t n = *(uint64_t *)arg;

	for (uint64_t i = 1; i <= n; i++) {
		while (atomic_load_explicit(&pingpong, memory_order_acquire) != 2 * i - 1)
			;
		atomic_store_explicit(&pingpong, 2 * i, memory_order_release);
	}
	return NULL;
}

static double line_move_ns(uint64_t n)
{
	pthread_t th;
	double t0;

	atomic_store(&pingpong, 0);
	if (pthread_create(&th, NULL, pong, &n))
		return -1;
	t0 = now_s();
	for (uint64_t i = 1; i <= n; i++) {
		atomic_store_explicit(&pingpong, 2 * i - 1, memory_order_release);
		while (atomic_load_explicit(&pingpong, memory_order_acquire) != 2 * i)
			;
	}
	double ns = (now_s() - t0) * 1e9 / (double)(2 * n);

	pthread_join(th, NULL);
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * What a second thread gains, measured as pairs: a short run with one
 * thread, then one with T, again and again, and the median of the pairs'
 * ratios. The machine's speed moves by up to 2x within minutes here; the
 * two runs of a pair are a fraction of a second apart, so a pair sees one
 * speed, where two long runs minutes apart may not.
 */
static void scaling(enum what what, const char *name, unsigned nthreads, uint64_t calls,
		    unsigned pairs)
{
	double proj[64], thr[64], cpu1[64], cpu2[64];

	if (pairs > 64)
		pairs = 64;
	for (unsigned i = 0; i < pairs; i++) {
		double r1, r2, c1, c2;

		run(what, 1, calls, &r1, &c1);
		run(what, nthreads, calls, &r2, &c2);
		proj[i] = nthreads * c1 / c2;
		thr[i] = r2 / r1;
		cpu1[i] = c1;
		cpu2[i] = c2;
	}
	qsort(proj, pairs, sizeof(double), cmp_double);
	qsort(thr, pairs, sizeof(double), cmp_double);
	qsort(cpu1, pairs, sizeof(double), cmp_double);
	qsort(cpu2, pairs, sizeof(double), cmp_double);
	printf("%s %u threads vs 1: projected %.2fx (quartiles %.2f-%.2f), calls/s %.2fx "
	       "(%.2f-%.2f); cpu ns/call %.1f vs %.1f  [%u pairs]\n",
	       name, nthreads, proj[pairs / 2], proj[pairs / 4], proj[3 * pairs / 4], thr[pairs / 2],
	       thr[pairs / 4], thr[3 * pairs / 4], cpu1[pairs / 2], cpu2[pairs / 2], pairs);
}

static double median_line_move(void)
{
	double v[5];

	for (int i = 0; i < 5; i++)
		v[i] = line_move_ns(200000);
	qsort(v, 5, sizeof(double), cmp_double);
	return v[2];
}

static void reset_sites(void)
{
	memset(sites, 0, sizeof(sites));
}

/* The same calls with one thread, then with T: a row each. */
static void one_vs_many(enum what what, const char *name, unsigned nthreads, uint64_t calls)
{
	double w1, w2, r1, r2, c1, c2;

	if (what == W_NCX)
		reset_sites();
	w1 = run(what, 1, calls, &r1, &c1);
	if (what == W_NCX)
		reset_sites();
	w2 = run(what, nthreads, calls, &r2, &c2);
	printf("%s 1 thread : %7.1f ns/call wall %7.1f cpu  %6.2f M calls/s\n", name, w1, c1,
	       r1 / 1e6);
	printf("%s %u threads: %7.1f ns/call wall %7.1f cpu  %6.2f M calls/s  "
	       "(%.2fx one thread; projected %.2fx)\n",
	       name, nthreads, w2, c2, r2 / 1e6, r2 / r1, nthreads * c1 / c2);
}

int main(int argc, char **argv)
{
	uint64_t calls = 2000000;
	double spam = 2, r1, r2, c1, c2;
	unsigned threads = 2, pairs = 15;
	char path[] = "/tmp/bench_log.XXXXXX";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--calls") && i + 1 < argc)
			calls = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--spam-seconds") && i + 1 < argc)
			spam = atof(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
			pairs = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--calls N] [--spam-seconds S] [--threads T] [--pairs P]\n",
				argv[0]);
			return 64;
		}
	}
	if (threads < 1 || threads > MAXT)
		threads = 2;

	if (ncx_log_init(NULL)) {
		fprintf(stderr, "bench_log: ncx_log_init failed\n");
		return 70;
	}
	int fd = mkstemp(path);
	bench_file = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!bench_file) {
		fprintf(stderr, "bench_log: %s: %s\n", path, strerror(errno));
		return 73;
	}
	openlog("bench_log", LOG_NDELAY, LOG_USER);
	printf("bench_log: %llu calls per thread, 64-byte formatted message, ring 16 MiB, no console\n",
	       (unsigned long long)calls);

	printf("(wall ns/call per thread; cpu ns/call = the thread's own CPU time per call;\n"
	       " projected = threads x cpu(1) / cpu(T): the speed-up on otherwise idle CPUs)\n");
	run(W_NCX, 1, calls / 4, NULL, NULL);	/* warm up: ring pages, caches */
	one_vs_many(W_NCX, "ncx_log  ", threads, calls);
	one_vs_many(W_FPRINTF, "fprintf  ", threads, calls);
	fclose(bench_file);
	unlink(path);
	one_vs_many(W_SNPRINTF, "snprintf ", threads, calls);
	one_vs_many(W_SHARED, "+shared  ", threads, calls);

	if (pairs) {
		size_t rsz = (size_t)1 << NCX_RING_DEFAULT_ORDER;
		void *rmem = mmap(NULL, rsz, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

		if (rmem == MAP_FAILED || ncx_ring_init(&bench_ring, rmem, rsz)) {
			fprintf(stderr, "bench_log: cannot set up the bench's ring\n");
			return 70;
		}
		uint64_t pc = calls / 10 ? calls / 10 : 1;

		printf("scaling, %u pairs of %llu calls per thread (median, quartiles of the pairs):\n",
		       pairs, (unsigned long long)pc);
		scaling(W_NCX, "ncx_log  ", threads, pc, pairs);
		scaling(W_SNPRINTF, "snprintf ", threads, pc, pairs);
		scaling(W_SHARED, "+shared  ", threads, pc, pairs);
		scaling(W_RING, "+ring    ", threads, pc, pairs);
		printf("line move: %.1f ns (one cache line between two threads, median of 5)\n",
		       median_line_move());
	}

	uint64_t sl_calls = calls / 20 ? calls / 20 : 1;
	double s1 = run(W_SYSLOG, 1, sl_calls, &r1, &c1);
	double s2 = run(W_SYSLOG, threads, sl_calls, &r2, &c2);
	printf("syslog(3) 1 thread : %7.1f ns/call wall %7.1f cpu  %6.2f M calls/s  (/dev/log %s)\n",
	       s1, c1, r1 / 1e6, access("/dev/log", F_OK) ? "absent" : "present");
	printf("syslog(3) %u threads: %7.1f ns/call wall %7.1f cpu  %6.2f M calls/s\n", threads, s2,
	       c2, r2 / 1e6);
	closelog();

	/* One site: use up its burst, then time the silenced calls. */
	reset_sites();
	run(W_SILENCED, 1, NCX_RL_BURST + 10, NULL, NULL);
	double sil = run(W_SILENCED, 1, calls * 5, NULL, &c1);
	printf("ncx_log   silenced : %7.1f ns/call wall %7.1f cpu  (no console: reads the clock)\n",
	       sil, c1);
	{
		struct ncx_console *idle = ncx_console_file("/dev/null", NCX_LOG_DEBUG, 0);

		ncx_console_register(idle);
		sil = run(W_SILENCED, 1, calls * 5, NULL, &c1);
		printf("ncx_log   silenced : %7.1f ns/call wall %7.1f cpu  (a console registered: "
		       "cached seconds)\n",
		       sil, c1);
		ncx_console_unregister(idle);
		ncx_console_free(idle);
	}

	if (spam > 0) {
		struct ncx_console *con = ncx_console_file("/dev/null", NCX_LOG_DEBUG, 0);
		pthread_t th[MAXT];
		struct job jobs[MAXT];
		uint64_t total = 0;
		struct ncx_log_stats st;

		reset_sites();
		ncx_console_register(con);
		long before = rss_kb("VmRSS:");
		atomic_store(&stop, 0);
		atomic_store(&go, 0);
		for (unsigned t = 0; t < threads; t++) {
			jobs[t] = (struct job){ .what = W_NCX, .t = t, .calls = 0 };
			pthread_create(&th[t], NULL, worker, &jobs[t]);
		}
		atomic_store(&go, 1);
		long mid = -1;
		struct timespec half = { (time_t)(spam / 2), (long)((spam / 2 - (time_t)(spam / 2)) * 1e9) };
		nanosleep(&half, NULL);
		mid = rss_kb("VmRSS:");
		nanosleep(&half, NULL);
		atomic_store(&stop, 1);
		for (unsigned t = 0; t < threads; t++) {
			pthread_join(th[t], NULL);
			total += jobs[t].calls;
		}
		long after = rss_kb("VmRSS:");
		ncx_log_get_stats(&st);
		printf("spam      %u threads, %.0f s, /dev/null console: %.1f M calls, %.1f M records, "
		       "%llu suppressed\n",
		       threads, spam, (double)total / 1e6, (double)st.records / 1e6,
		       (unsigned long long)st.suppressed);
		printf("RSS       before %ld KiB, halfway %ld KiB, after %ld KiB, peak %ld KiB\n", before,
		       mid, after, rss_kb("VmHWM:"));
		ncx_console_unregister(con);
		ncx_console_free(con);
	}
	ncx_log_shutdown();
	return 0;
}
