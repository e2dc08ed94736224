/* SPDX-License-Identifier: MIT */
/*
 * control: the control socket `ncx status` talks to. A UNIX stream socket
 * (default /run/ncx/ncxd.sock, mode 0660), served by a thread of its own,
 * one client at a time, one request line per connection:
 *
 *   "status\n"        the 20 busiest senders
 *   "status N\n"      the N busiest (1..1000000)
 *   "status all\n"    every sender
 *
 * The answer is the machine-readable form docs/ncxd.md describes (ncx
 * status makes the table), then the connection is closed. The thread never
 * touches a worker's engine or sink: it reads the snapshots the workers
 * publish (asked for at most once a second, as the metrics writer does),
 * holding a worker's lock only to copy that worker's snapshot. Bounded: a
 * client has CONTROL_READ_MS to send its request line (at most
 * CONTROL_LINE_MAX bytes) and CONTROL_WRITE_MS to take the answer
 * (non-blocking writes); one that does not is dropped, counted and logged.
 * Others wait in the listen backlog meanwhile; ncxd's workers and main
 * thread never do, and a stop is seen within 200 ms even mid-client.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ncx/log.h>
#include <ncx/num.h>
#include <ncx/udp.h>

#include "ncxd.h"

#ifndef NCX_VERSION
#define NCX_VERSION "unknown"
#endif

#define CONTROL_READ_MS 2000
#define CONTROL_WRITE_MS 5000
#define CONTROL_LINE_MAX 128
#define CONTROL_BACKLOG 4
#define STATUS_DEFAULT 20
#define STATUS_MAX 1000000
#define REFRESH_MIN_US 1000000u

struct ncxd_control {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_t thread;
	bool running;
	uint64_t dropped; /* clients too slow to ask or to read */
};

/* ---- the answer ---------------------------------------------------------- */

struct row {
	struct ncx_addr addr;
	unsigned flags;
	uint64_t records, bytes, gaps, lost, missed, last_us;
	double rate;
};

static int busiest_first(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;

	if (a->rate != b->rate)
		return a->rate < b->rate ? 1 : -1;
	if (a->records != b->records)
		return a->records < b->records ? 1 : -1;
	return 0;
}

/* What a sender's stream is, as the status answer and the log lines name it. */
const char *ncxd_stream_kind(unsigned f)
{
	if (f & NCXD_SNAP_RELIABLE)
		return "reliable/extended";
	if ((f & (NCXD_SNAP_EXT | NCXD_SNAP_LEGACY)) == (NCXD_SNAP_EXT | NCXD_SNAP_LEGACY))
		return "stock/extended+legacy";
	if (f & NCXD_SNAP_LEGACY)
		return "stock/legacy";
	if (f & NCXD_SNAP_EXT)
		return "stock/extended";
	return "-";
}

/* "status", "status N", "status all": how many to show; -1 if not a request. */
static long parse_request(const char *req)
{
	uint64_t n;

	if (strncmp(req, "status", 6) || (req[6] && req[6] != ' '))
		return -1;
	req += 6;
	while (*req == ' ')
		req++;
	if (!*req)
		return STATUS_DEFAULT;
	if (!strcmp(req, "all"))
		return STATUS_MAX;
	if (ncx_num_parse(req, 1, STATUS_MAX, &n))
		return -1;
	return (long)n;
}

long ncxd_status_reply(struct ncxd *d, const char *request, char **out)
{
	long limit = parse_request(request);
	struct row *rows = NULL;
	size_t nrows = 0, cap = 0;
	struct ncxd_stats tot = { 0 };
	uint64_t hosts = 0, denied = 0, sockdrops = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	*out = NULL;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	if (limit < 0) {
		fprintf(f, "error unknown request '%.64s' (known: status, status N, status all)\n",
			request);
		goto done;
	}
	ncxd_refresh(d, REFRESH_MIN_US);
	for (int w = 0; w < d->nworkers; w++) {
		struct ncxd_worker *wk = &d->workers[w];

		/* Held only to copy this worker's snapshot: its next publish waits
		 * for nothing else. */
		pthread_mutex_lock(&wk->lock);
		const struct ncxd_snapshot *s = &wk->snap;

		for (int i = 0; i < NCXD_C_COUNT; i++)
			tot.c[i] += s->total.c[i];
		for (int i = 0; i < NCXD_D_COUNT; i++)
			tot.drop[i] += s->total.drop[i];
		hosts += s->hosts;
		denied += s->denied;
		sockdrops += s->socket_drops;
		if (nrows + s->nhosts > cap) {
			size_t ncap = nrows + s->nhosts;
			struct row *r = realloc(rows, ncap * sizeof(*r));

			if (r) {
				rows = r;
				cap = ncap;
			}
		}
		for (size_t h = 0; h < s->nhosts && nrows < cap; h++) {
			const struct ncxd_host_snap *hs = &s->hosts_v[h];

			rows[nrows++] = (struct row){
				.addr = hs->addr, .flags = hs->flags,
				.records = hs->st.c[NCXD_C_RECORDS] + hs->st.c[NCXD_C_LEGACY],
				.bytes = hs->st.c[NCXD_C_BYTES], .gaps = hs->st.c[NCXD_C_GAPS],
				.lost = hs->st.c[NCXD_C_LOST], .missed = hs->st.c[NCXD_C_MISSED],
				.last_us = hs->last_us, .rate = hs->rate,
			};
		}
		pthread_mutex_unlock(&wk->lock);
	}
	if (nrows > 1)
		qsort(rows, nrows, sizeof(*rows), busiest_first);
	uint64_t dropped = 0;

	for (int r = 0; r < NCXD_D_COUNT; r++)
		dropped += tot.drop[r];
	fprintf(f, "ncxd-status 1\nversion %s\nnow_ms %llu\nstart_ms %llu\nworkers %d\n",
		NCX_VERSION, (unsigned long long)(ncx_real_us() / 1000),
		(unsigned long long)(d->start_real_us / 1000), d->nworkers);
	fprintf(f, "senders %llu\nshown %zu\n", (unsigned long long)(hosts > nrows ? hosts : nrows),
		nrows < (size_t)limit ? nrows : (size_t)limit);
	fprintf(f, "total records=%llu bytes=%llu gaps=%llu lost=%llu missed=%llu dropped=%llu "
		   "denied=%llu socket_drops=%llu\n",
		(unsigned long long)(tot.c[NCXD_C_RECORDS] + tot.c[NCXD_C_LEGACY]),
		(unsigned long long)tot.c[NCXD_C_BYTES], (unsigned long long)tot.c[NCXD_C_GAPS],
		(unsigned long long)tot.c[NCXD_C_LOST], (unsigned long long)tot.c[NCXD_C_MISSED],
		(unsigned long long)dropped, (unsigned long long)denied,
		(unsigned long long)sockdrops);
	for (size_t i = 0; i < nrows && i < (size_t)limit; i++) {
		char a[NCX_ADDR_TEXT_MAX];

		ncx_addr_format(&rows[i].addr, false, a, sizeof(a));
		fprintf(f, "sender %s %u %s %llu %llu %llu %llu %llu %.1f %llu\n", a,
			(unsigned)rows[i].addr.port, ncxd_stream_kind(rows[i].flags),
			(unsigned long long)rows[i].records, (unsigned long long)rows[i].bytes,
			(unsigned long long)rows[i].gaps, (unsigned long long)rows[i].lost,
			(unsigned long long)rows[i].missed, rows[i].rate,
			(unsigned long long)(rows[i].last_us / 1000));
	}
	fputs("end\n", f);
done:
	free(rows);
	if (fclose(f) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return (long)len;
}

/* ---- the socket ---------------------------------------------------------- */

/* What is left of a client's time, in slices of 200 ms at most so that
 * ncxd's stop is seen; 0: time is up, or ncxd is stopping. */
static int ms_left(struct ncxd *d, uint64_t deadline)
{
	uint64_t now = ncx_now_us();

	if (now >= deadline || atomic_load(&d->stop))
		return 0;
	return deadline - now > 200000 ? 200 : (int)((deadline - now + 999) / 1000);
}

static void client_dropped(struct ncxd_control *c, const char *why)
{
	c->dropped++;
	ncx_warn("control socket: a client %s in time: dropped (%llu so far)\n", why,
		 (unsigned long long)c->dropped);
}

/* One connection: a request line, the answer, close. */
static void serve_client(struct ncxd *d, struct ncxd_control *c, int fd)
{
	char line[CONTROL_LINE_MAX + 1];
	size_t n = 0;
	uint64_t deadline = ncx_now_us() + CONTROL_READ_MS * 1000u;
	char *reply;
	long len;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;
		int t = ms_left(d, deadline);

		if (t == 0) {
			if (!atomic_load(&d->stop))
				client_dropped(c, "did not ask");
			return;
		}
		if (poll(&p, 1, t) == 0)
			continue;
		r = read(fd, line + n, CONTROL_LINE_MAX - n);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break; /* EOF: what came is the request */
		n += (size_t)r;
		if (memchr(line, '\n', n) || n == CONTROL_LINE_MAX)
			break;
	}
	line[n] = 0;
	line[strcspn(line, "\r\n")] = 0;
	len = ncxd_status_reply(d, line, &reply);
	if (len < 0) {
		static const char oom[] = "error out of memory\n";

		(void)send(fd, oom, sizeof(oom) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		return;
	}
	deadline = ncx_now_us() + CONTROL_WRITE_MS * 1000u;
	for (size_t off = 0; off < (size_t)len;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t w;
		int t = ms_left(d, deadline);

		if (t == 0) {
			if (!atomic_load(&d->stop))
				client_dropped(c, "did not read its answer");
			break;
		}
		if (poll(&p, 1, t) == 0)
			continue;
		w = send(fd, reply + off, (size_t)len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			break; /* the client went away */
		off += (size_t)w;
	}
	free(reply);
}

static void *control_main(void *arg)
{
	struct ncxd *d = arg;
	struct ncxd_control *c = d->control;

	while (!atomic_load(&d->stop)) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };

		/* Every 200 ms at least, to notice the stop flag. */
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS)
				usleep(100000); /* no busy loop on a queued connection */
			continue;
		}
		serve_client(d, c, fd);
		close(fd);
	}
	return NULL;
}

/* Is someone serving path? A socket nobody listens on is left by a crash. */
static bool in_use(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return false;
	strcpy(sun.sun_path, path);
	used = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return used;
}

/* The socket's directory, made if missing (one level: /run/ncx), for uid. */
static void make_parent(const char *path, int uid, int gid)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	if (mkdir(dir, 0755) == 0 && uid >= 0 && chown(dir, (uid_t)uid, (gid_t)gid) < 0)
		ncx_warn("cannot give %s to its user: %s\n", dir, strerror(errno));
}

int ncxd_control_open(struct ncxd *d, int uid, int gid)
{
	const char *path = d->cfg.control;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ncxd_control *c;
	struct stat st;
	const char *why = NULL;
	int err = 0;
	mode_t old;

	if (!path)
		return 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		why = "path too long";
		goto fail;
	}
	make_parent(path, uid, gid);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			why = "it exists and is not a socket";
			goto fail;
		}
		if (in_use(path)) {
			why = "another ncxd serves it";
			goto fail;
		}
		(void)unlink(path); /* left by an ncxd that did not exit cleanly */
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return EX_OSERR;
	strcpy(c->path, path);
	strcpy(sun.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	old = umask(0117); /* 0660 from the start, not after a chmod */
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		err = errno;
	umask(old);
	if (!err && uid >= 0 && chown(path, (uid_t)uid, (gid_t)gid) < 0)
		err = errno;
	if (!err && listen(c->fd, CONTROL_BACKLOG) < 0)
		err = errno;
	if (err) {
		if (c->fd >= 0) {
			close(c->fd);
			(void)unlink(path);
		}
		free(c);
		why = strerror(err);
		goto fail;
	}
	d->control = c;
	return 0;
fail:
	/* The default path is a convenience: without it ncxd still runs. */
	if (!d->cfg.control_given) {
		ncx_warn("no control socket %s (%s): `ncx status` cannot ask this ncxd; "
			 "--control PATH for another, --control '' for none\n", path, why);
		return 0;
	}
	ncx_err("cannot use control socket %s: %s\n", path, why);
	return EX_CANTCREAT;
}

int ncxd_control_start(struct ncxd *d)
{
	struct ncxd_control *c = d->control;

	if (!c)
		return 0;
	if (pthread_create(&c->thread, NULL, control_main, d))
		return -1;
	c->running = true;
	return 0;
}

void ncxd_control_stop(struct ncxd *d)
{
	struct ncxd_control *c = d->control;

	if (!c)
		return;
	if (c->running)
		pthread_join(c->thread, NULL);
	close(c->fd);
	(void)unlink(c->path);
	free(c);
	d->control = NULL;
}
