/* SPDX-License-Identifier: MIT */
/*
 * sink: per-host files.
 *
 * Every line goes into the host's write buffer; a buffer goes to its file
 * one flush interval (100 ms) after its oldest line went in, when full, and
 * at exit. So no line waits longer than the interval, and a host sending
 * ten lines a second gets about one write per two lines, not one per line
 * as a flush of every buffer every interval would give it. Bounds:
 *  - open files: an LRU of at most max_fds per worker; the least recently
 *    written file is closed to open another (it opens again when needed);
 *  - buffers: a fixed pool per worker, one mapping of buffers x buffer_size
 *    reserved at start. Its pages are touched only as buffers are used, and
 *    a buffer given back is the next one taken (a stack), so the memory a
 *    worker really uses follows the number of hosts holding a buffer at
 *    once, not the pool's size. A host that needs one when the pool is dry
 *    forces the oldest holders to flush and takes the first buffer freed;
 *    if none can be freed the line is dropped and counted (no_buffer). A
 *    host holds one buffer, written when full; only while its file cannot
 *    be written does it take more, up to SINK_HOST_BYTES, written with one
 *    writev once it can;
 *  - write errors (disk full, ...): what is buffered stays buffered and is
 *    retried on every flush; what does not fit behind it is dropped and
 *    counted (write_error). Once writing works again, a "dropped" event line
 *    follows the buffered lines, at the place where the loss happened.
 *
 * The sink knows nothing of streams or acks: it says how far it got
 * (sink_host_settled()), and durable.c decides what that vouches for.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <ncx/log.h>
#include <ncx/udp.h>

#include "sink.h"

#define LINE_MAX_BYTES (7 * NCX_WIRE_DGRAM_MAX) /* a 64 KiB legacy datagram, JSON-escaped */

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static void list_init(struct link *l)
{
	l->prev = l->next = l;
}

static bool list_empty(const struct link *l)
{
	return l->next == l;
}

static void list_del(struct link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

static void list_add_tail(struct link *head, struct link *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static void count_drop(struct sink *s, struct sink_host *h, enum ncxd_drop r, uint64_t n)
{
	h->st.drop[r] += n;
	s->total.drop[r] += n;
	h->pend_drop[r] += n;
}

int sink_init(struct sink *s, const struct ncxd_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->flush_slice_us = SINK_FLUSH_SLICE_US;
	list_init(&s->all);
	list_init(&s->lru);
	list_init(&s->dirty);
	s->pool = calloc((size_t)cfg->buffers, sizeof(char *));
	s->line.cap = LINE_MAX_BYTES;
	s->line.p = malloc(s->line.cap);
	if (!s->pool || !s->line.p)
		return -ENOMEM;
	/* Reserved up front: the pool's size is the bound, not a hint. One
	 * mapping, not a malloc per buffer, whose headers would touch every
	 * page at once. */
	if (cfg->buffers < 1 || cfg->buffer_size > SIZE_MAX / (size_t)cfg->buffers)
		return -ENOMEM;
	s->arena_len = (size_t)cfg->buffers * cfg->buffer_size;
	s->arena = mmap(NULL, s->arena_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->arena == MAP_FAILED) {
		s->arena = NULL;
		return -ENOMEM;
	}
	s->host_bufs = (int)(SINK_HOST_BYTES / cfg->buffer_size);
	if (s->host_bufs < 1)
		s->host_bufs = 1;
	if (s->host_bufs > SINK_HOST_BUFS)
		s->host_bufs = SINK_HOST_BUFS;
	/* The first buffers taken are the first in the mapping. */
	for (int i = cfg->buffers - 1; i >= 0; i--)
		s->pool[s->nfree++] = s->arena + (size_t)i * cfg->buffer_size;
	return 0;
}

/* ---- files ---- */

static void host_close(struct sink *s, struct sink_host *h)
{
	if (h->fd < 0)
		return;
	close(h->fd);
	h->fd = -1;
	list_del(&h->lru);
	s->nopen--;
}

static int host_open(struct sink *s, struct sink_host *h)
{
	if (h->fd >= 0) {
		list_del(&h->lru);
		list_add_tail(&s->lru, &h->lru);
		return 0;
	}
	if (s->nopen >= s->cfg->max_fds && !list_empty(&s->lru))
		host_close(s, container_of(s->lru.next, struct sink_host, lru));
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY;

	h->fd = open(h->path, flags, 0640);
	if (h->fd < 0 && (errno == EMFILE || errno == ENFILE) && !list_empty(&s->lru)) {
		/* Out of fds after all: give one of ours back and try once more. */
		host_close(s, container_of(s->lru.next, struct sink_host, lru));
		h->fd = open(h->path, flags, 0640);
	}
	if (h->fd < 0 && errno == ENOENT) {
		ncxd_mkdir_parents(h->path, 0750);
		h->fd = open(h->path, flags, 0640);
	}
	if (h->fd < 0)
		return -errno;
	list_add_tail(&s->lru, &h->lru);
	s->nopen++;
	return 0;
}

static void log_failure(struct sink_host *h, const char *what, int err)
{
	if (!h->failing)
		ncx_err("%s %s: %s (buffering, then dropping with a count, until it works)\n",
			 what, h->path, strerror(err));
	h->failing = true;
}

/* Buffers beyond the first go back to the pool (h holds nothing beyond it). */
static void trim_buffers(struct sink *s, struct sink_host *h)
{
	while (h->nbuf > 1)
		s->pool[s->nfree++] = h->buf[--h->nbuf];
}

/*
 * One write(2)/writev(2) to h's open file, counted. Returns the bytes it
 * took (maybe fewer than asked), or -errno after saying so once; a file
 * that fails for another reason than a full disk is closed, to be opened
 * afresh next time.
 */
static ssize_t host_write(struct sink *s, struct sink_host *h, const struct iovec *iov, int k)
{
	ssize_t w;

	do
		w = k == 1 ? write(h->fd, iov[0].iov_base, iov[0].iov_len) : writev(h->fd, iov, k);
	while (w < 0 && errno == EINTR);
	if (w <= 0) {
		int rc = w < 0 ? -errno : -EIO;

		log_failure(h, "cannot write", -rc);
		if (rc != -ENOSPC && rc != -EDQUOT)
			host_close(s, h);
		return rc;
	}
	s->total.c[NCXD_C_WRITTEN_BYTES] += (uint64_t)w;
	h->st.c[NCXD_C_WRITTEN_BYTES] += (uint64_t)w;
	return w;
}

/* Write everything buffered, in one write (or one writev when it spans
 * buffers). On failure what was not written stays. */
static int host_flush(struct sink *s, struct sink_host *h)
{
	const size_t cap = s->cfg->buffer_size;
	int rc;

	if (h->len == h->head) {
		h->len = h->head = 0;
		return 0;
	}
	if ((rc = host_open(s, h)) < 0) {
		log_failure(h, "cannot open", -rc);
		return rc;
	}
	while (h->head < h->len) {
		struct iovec iov[SINK_HOST_BUFS];
		int k = 0;
		ssize_t w;

		for (size_t pos = h->head; pos < h->len; k++) {
			size_t off = pos % cap, n = cap - off;

			if (n > h->len - pos)
				n = h->len - pos;
			iov[k] = (struct iovec){ .iov_base = h->buf[pos / cap] + off, .iov_len = n };
			pos += n;
		}
		if ((w = host_write(s, h, iov, k)) < 0)
			return (int)w;
		h->head += (size_t)w;
	}
	h->len = h->head = 0;
	trim_buffers(s, h);
	if (h->failing)
		ncx_info("writing %s works again\n", h->path);
	h->failing = false;
	return 0;
}

static void release_buffer(struct sink *s, struct sink_host *h)
{
	if (!h->nbuf || h->len)
		return;
	while (h->nbuf > 0)
		s->pool[s->nfree++] = h->buf[--h->nbuf];
	list_del(&h->dirty);
}

/* A buffer for h: from the pool, or freed by flushing the oldest holders. */
static bool acquire_buffer(struct sink *s, struct sink_host *h)
{
	for (int tries = 0; s->nfree == 0 && tries < 8 && !list_empty(&s->dirty); tries++) {
		struct sink_host *v = container_of(s->dirty.next, struct sink_host, dirty);

		if (host_flush(s, v) == 0) {
			release_buffer(s, v);
		} else {
			list_del(&v->dirty);
			list_add_tail(&s->dirty, &v->dirty);
		}
	}
	if (s->nfree == 0)
		return false;
	h->buf[0] = s->pool[--s->nfree];
	h->nbuf = 1;
	h->len = h->head = 0;
	h->since_us = s->mono_us;
	list_add_tail(&s->dirty, &h->dirty);
	return true;
}

/* Keep h->path right for the receive time: a new day may mean a new file. */
static int host_path(struct sink *s, struct sink_host *h)
{
	int64_t sec = (int64_t)(s->real_us / 1000000u);
	char rel[PATH_MAX], full[PATH_MAX];
	int n;

	if (h->path && sec == h->path_sec)
		return 0;
	n = ncxd_path_expand(s->cfg->path, &h->addr, (time_t)sec, rel, sizeof(rel));
	if (n < 0)
		return n;
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", s->cfg->dir, rel) >= sizeof(full))
		return -ENAMETOOLONG;
	h->path_sec = sec;
	if (h->path && !strcmp(full, h->path))
		return 0;
	/* What is buffered belongs to the old file. */
	if (h->path) {
		(void)host_flush(s, h);
		host_close(s, h);
	}
	char *p = strdup(full);

	if (!p)
		return -ENOMEM;
	free(h->path);
	h->path = p;
	return 0;
}

/* Append one line; false if it had to be dropped (the caller counts). */
static bool put(struct sink *s, struct sink_host *h, const char *p, size_t n)
{
	const size_t cap = s->cfg->buffer_size;

	if (host_path(s, h) < 0)
		return false;
	if (!h->nbuf && !acquire_buffer(s, h))
		return false;
	if (h->len + n > (size_t)h->nbuf * cap) {
		/* Full: write it out. While failing, only the periodic flush
		 * retries (no write per line): hold more, within the bound. */
		if (h->failing || host_flush(s, h) < 0) {
			while (h->len + n > (size_t)h->nbuf * cap && h->nbuf < s->host_bufs &&
			       s->nfree > 0)
				h->buf[h->nbuf++] = s->pool[--s->nfree];
			if (h->len + n > (size_t)h->nbuf * cap)
				return false;
		}
	}
	if (n > cap && h->len == 0 && !h->failing) {
		/* Longer than a whole buffer: straight to the file (buffer is
		 * empty now), as host_flush() writes, short writes continued. */
		int rc = host_open(s, h);

		if (rc < 0) {
			log_failure(h, "cannot open", -rc);
			return false;
		}
		for (size_t done = 0; done < n;) {
			struct iovec iov = { .iov_base = (char *)p + done, .iov_len = n - done };
			ssize_t w = host_write(s, h, &iov, 1);

			if (w < 0)
				return false;
			done += (size_t)w;
		}
		return true;
	}
	if (h->len == 0 && s->dirty.prev != &h->dirty) {
		/* The first line in an empty buffer: its interval starts now. */
		h->since_us = s->mono_us;
		list_del(&h->dirty);
		list_add_tail(&s->dirty, &h->dirty);
	}
	/* Into the buffers, across a boundary if it must (written as one). */
	while (n) {
		size_t off = h->len % cap, k = cap - off;

		if (k > n)
			k = n;
		memcpy(h->buf[h->len / cap] + off, p, k);
		h->len += k;
		p += k;
		n -= k;
	}
	return true;
}

/* Format an event line in a buffer of its own (not s->line) and put it. */
static bool put_event(struct sink *s, struct sink_host *h,
		      const struct ncxd_event *ev)
{
	char buf[512];
	struct ncxd_line l = { .p = buf, .cap = sizeof(buf) };

	ncxd_format_event(&l, s->cfg->format, s->real_us, &h->addr, ev);
	return put(s, h, l.p, l.len);
}

/* Write the events owed: drops first (they happened before what follows). */
static void put_pending(struct sink *s, struct sink_host *h, bool suppressed)
{
	for (int r = 0; r < NCXD_D_COUNT; r++) {
		if (!h->pend_drop[r])
			continue;
		struct ncxd_event ev = { .kind = NCXD_EV_DROPPED, .a = h->pend_drop[r],
					 .reason = ncxd_drop_reason_name(r) };

		if (!put_event(s, h, &ev))
			return; /* still owed; the count stays */
		h->pend_drop[r] = 0;
	}
	if (suppressed && h->supp_records) {
		struct ncxd_event ev = { .kind = NCXD_EV_SUPPRESSED, .a = h->supp_records,
					 .b = h->supp_bytes };

		if (put_event(s, h, &ev))
			h->supp_records = h->supp_bytes = 0;
	}
}

/*
 * A record of `cost` payload bytes through the host's bucket, before it is
 * formatted: a record the rate limit drops costs no formatting (a flooding
 * host is exactly the one that sends most). If it passes, the events owed
 * go first (they happened before it) and s->line is ready for the record.
 */
static bool admit_record(struct sink *s, struct sink_host *h,
			 uint64_t cost)
{
	if (!ncxd_bucket_take(&h->bucket, s->cfg->rate, s->cfg->burst, s->mono_us, cost)) {
		h->supp_records++;
		h->supp_bytes += cost;
		h->st.c[NCXD_C_SUPPRESSED]++;
		h->st.c[NCXD_C_SUPPRESSED_BYTES] += cost;
		s->total.c[NCXD_C_SUPPRESSED]++;
		s->total.c[NCXD_C_SUPPRESSED_BYTES] += cost;
		return false;
	}
	put_pending(s, h, true);
	s->line.len = 0;
	s->line.truncated = false;
	return true;
}

static void put_line(struct sink *s, struct sink_host *h)
{
	if (!put(s, h, s->line.p, s->line.len))
		count_drop(s, h, h->nbuf ? NCXD_D_WRITE_ERROR : NCXD_D_NO_BUFFER, 1);
}

void sink_record(struct sink *s, struct sink_host *h,
		 const struct ncx_ext *rec)
{
	if (!admit_record(s, h, rec->body.len))
		return;
	ncxd_format_record(&s->line, s->cfg->format, s->real_us, &h->addr, rec);
	put_line(s, h);
}

void sink_legacy(struct sink *s, struct sink_host *h,
		 const struct ncx_legacy *g)
{
	if (!admit_record(s, h, g->text.len))
		return;
	ncxd_format_legacy(&s->line, s->cfg->format, s->real_us, &h->addr, g);
	put_line(s, h);
}

void sink_event(struct sink *s, struct sink_host *h, const struct ncxd_event *ev)
{
	put_pending(s, h, false);
	/* Events are not rate-limited: they are few and they are the news. */
	if (!put_event(s, h, ev))
		count_drop(s, h, h->nbuf ? NCXD_D_WRITE_ERROR : NCXD_D_NO_BUFFER, 1);
}

void sink_drop(struct sink *s, struct sink_host *h, enum ncxd_drop r, uint64_t n)
{
	count_drop(s, h, r, n);
	put_pending(s, h, false);
}

static bool owes(const struct sink_host *h)
{
	for (int r = 0; r < NCXD_D_COUNT; r++)
		if (h->pend_drop[r])
			return true;
	return false;
}

int sink_flush_host(struct sink *s, struct sink_host *h)
{
	int rc = host_flush(s, h);

	if (rc < 0)
		return rc;
	/* Writing works: the drop events owed go right after what was buffered. */
	if (owes(h)) {
		put_pending(s, h, false);
		if ((rc = host_flush(s, h)) < 0)
			return rc;
	}
	release_buffer(s, h);
	return 0;
}

static void flush_host(struct sink *s, struct sink_host *h)
{
	(void)sink_flush_host(s, h);
}

void sink_flush_all(struct sink *s)
{
	struct link *l = s->dirty.next;

	while (l != &s->dirty) {
		struct link *next = l->next;

		flush_host(s, container_of(l, struct sink_host, dirty));
		l = next;
	}
}

void sink_flush_due(struct sink *s)
{
	const uint64_t iv = (uint64_t)s->cfg->flush_ms * 1000u;
	uint64_t until = 0;	/* set at the first due host: no clock read when none is */

	/*
	 * A host that fails goes to the tail with since_us = now: the loop
	 * stops when it comes round (iv > 0). The time slice: when thousands
	 * of hosts are new at once (a cold start, or midnight with a dated
	 * path), each flush first creates a file, and flushing them all in
	 * one go could keep the sockets unread longer than their buffers last
	 * on a slow file system. In slices, those writes come late instead (a
	 * line may then wait longer than flush_ms), not the datagrams lost.
	 */
	while (!list_empty(&s->dirty)) {
		struct sink_host *h = container_of(s->dirty.next, struct sink_host, dirty);

		if (h->since_us + iv > s->mono_us)
			break;
		if (!until)
			until = ncx_now_us() + s->flush_slice_us;
		else if (ncx_now_us() >= until) {
			s->flush_slices_cut++;
			break;
		}
		if (sink_flush_host(s, h) != 0) {
			/* Failing: again one interval from now, after the others. */
			h->since_us = s->mono_us;
			list_del(&h->dirty);
			list_add_tail(&s->dirty, &h->dirty);
		}
	}
}

uint64_t sink_next_due(const struct sink *s)
{
	if (list_empty(&s->dirty))
		return UINT64_MAX;
	return container_of(s->dirty.next, struct sink_host, dirty)->since_us +
	       (uint64_t)s->cfg->flush_ms * 1000u;
}

void sink_reopen(struct sink *s)
{
	sink_flush_all(s);
	while (!list_empty(&s->lru))
		host_close(s, container_of(s->lru.next, struct sink_host, lru));
}

void sink_set_now(struct sink *s, uint64_t mono_us, uint64_t real_us)
{
	s->mono_us = mono_us;
	s->real_us = real_us;
}

bool sink_host_settled(const struct sink_host *h)
{
	return h->len == h->head;
}

void sink_host_init(struct sink *s, struct sink_host *h, const struct ncx_addr *a)
{
	memset(h, 0, sizeof(*h));
	h->addr = *a;
	h->fd = -1;
	h->path_sec = -1;
	list_init(&h->lru);
	list_init(&h->dirty);
	list_add_tail(&s->all, &h->all);
	s->nhosts++;
}

struct sink_host *sink_host_new(struct sink *s, const struct ncx_addr *a)
{
	struct sink_host *h = malloc(sizeof(*h));

	if (!h)
		return NULL;
	sink_host_init(s, h, a);
	h->owned = true;
	return h;
}

/* Everything owed and buffered, out; what cannot be written is said aloud. */
static void host_final(struct sink *s, struct sink_host *h)
{
	if (h->supp_records || owes(h))
		put_pending(s, h, true);
	flush_host(s, h);
	if (h->nbuf && h->len > h->head) {
		const size_t cap = s->cfg->buffer_size;
		size_t lines = 0;

		for (size_t i = h->head; i < h->len; i++)
			lines += h->buf[i / cap][i % cap] == '\n';
		ncx_err("%s: %zu lines (%zu bytes) could not be written and are lost\n", h->path,
			 lines, h->len - h->head);
		h->st.drop[NCXD_D_WRITE_ERROR] += lines;
		s->total.drop[NCXD_D_WRITE_ERROR] += lines;
		h->len = h->head = 0;
	}
	release_buffer(s, h);
	host_close(s, h);
}

void sink_host_gone(struct sink *s, struct sink_host *h)
{
	host_final(s, h);
	list_del(&h->all);
	s->nhosts--;
	free(h->path);
	h->path = NULL;
	if (h->owned)
		free(h);
}

void sink_finish(struct sink *s)
{
	for (struct link *l = s->all.next; l != &s->all; l = l->next)
		host_final(s, container_of(l, struct sink_host, all));
}

void sink_free(struct sink *s)
{
	while (!list_empty(&s->all)) {
		struct sink_host *h = container_of(s->all.next, struct sink_host, all);

		/* sink_finish wrote what could be; a buffer still held is given back. */
		h->len = h->head = 0;
		release_buffer(s, h);
		host_close(s, h);
		list_del(&h->all);
		free(h->path);
		h->path = NULL;
		if (h->owned)
			free(h);
	}
	if (s->arena)
		munmap(s->arena, s->arena_len);
	free(s->pool);
	free(s->line.p);
	memset(s, 0, sizeof(*s));
}
