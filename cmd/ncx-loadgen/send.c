/* SPDX-License-Identifier: MIT */
/*
 * The run: hosts take turns (round robin, --burst records each), so records
 * of different hosts interleave the way they do on a real network, and the
 * total is paced to --rate. One sendmmsg() carries a host's turn, fragments
 * included; with one record per turn that is one datagram per call, which is
 * the honest cost of N independent senders.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ncx/udp.h>

#include "loadgen.h"

#define BATCH 64

volatile sig_atomic_t lg_stop;

struct batch {
	const struct lg_hosts *h;
	int fd;
	unsigned n;
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	char buf[BATCH][NCX_WIRE_CHUNK];
	struct lg_stats *st;
};

static void flush(struct batch *b)
{
	unsigned i = 0;

	while (i < b->n) {
		int r = sendmmsg(b->fd, b->msg + i, b->n - i, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			/* Skip the datagram the kernel refused; count it. */
			if (!b->st->first_errno)
				b->st->first_errno = errno;
			b->st->errors++;
			i++;
			continue;
		}
		for (int k = 0; k < r; k++)
			b->st->bytes += b->msg[i + (unsigned)k].msg_len;
		b->st->datagrams += (uint64_t)r;
		i += (unsigned)r;
	}
	b->n = 0;
}

static int emit(void *arg, const void *dgram, size_t len)
{
	struct batch *b = arg;
	unsigned i;

	if (b->n == BATCH)
		flush(b);
	i = b->n++;
	memcpy(b->buf[i], dgram, len);
	b->iov[i] = (struct iovec){ .iov_base = b->buf[i], .iov_len = len };
	b->msg[i].msg_hdr = (struct msghdr){
		.msg_name = (void *)&b->h->to,
		.msg_namelen = b->h->tolen,
		.msg_iov = &b->iov[i],
		.msg_iovlen = 1,
	};
	return 0;
}

/* One host's turn: n records, all their datagrams in as few calls as fit. */
static void send_turn(const struct lg_opts *o, struct batch *b, uint32_t host, uint64_t *seq,
		      unsigned n, uint64_t el_us)
{
	static char rec[LG_RECORD_MAX];

	b->fd = b->h->fd[host];
	for (unsigned k = 0; k < n; k++) {
		/* Hosts "booted" a little apart, as machines do. */
		uint64_t ts = 5000000 + (uint64_t)host * 1009 + el_us;
		size_t len = lg_record(o, host, *seq, ts, rec, sizeof(rec));

		if (len > sizeof(rec) || ncx_ext_fragment(rec, len, emit, b) < 0) {
			b->st->errors++;
			if (!b->st->first_errno)
				b->st->first_errno = EMSGSIZE;
		}
		(*seq)++;
		b->st->records++;
	}
	flush(b);
}

/* Records due after el_us microseconds, so the rate holds on average. */
static uint64_t due_at(const struct lg_opts *o, uint64_t el_us, uint64_t total)
{
	uint64_t due;

	if (!o->rate)
		return total;
	due = o->rate * (el_us / 1000000) + o->rate * (el_us % 1000000) / 1000000 + 1;
	return due < total ? due : total;
}

/* Ahead of schedule: sleep until a small bunch (about 0.5 ms worth) is due,
 * not for every single record; the timer could not keep 10 µs anyway. */
static void wait_for(const struct lg_opts *o, uint64_t start, uint64_t sent, uint64_t deadline)
{
	uint64_t chunk = o->rate / 2000 ? o->rate / 2000 : 1;
	uint64_t n = sent + chunk;
	uint64_t at = start + (n / o->rate) * 1000000 + (n % o->rate) * 1000000 / o->rate;
	struct timespec ts;

	if (deadline && at > deadline)
		at = deadline;
	ts.tv_sec = (time_t)(at / 1000000);
	ts.tv_nsec = (long)(at % 1000000) * 1000;
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void per_host_range(const uint64_t *seq, uint64_t first, uint32_t n, struct lg_stats *st)
{
	st->min_sent = UINT64_MAX;
	st->max_sent = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t sent = seq[i] - first;

		if (sent < st->min_sent)
			st->min_sent = sent;
		if (sent > st->max_sent)
			st->max_sent = sent;
	}
}

int lg_run(const struct lg_opts *o, const struct lg_hosts *h, struct lg_stats *st)
{
	uint64_t total = o->records ? o->records * o->hosts : UINT64_MAX;
	uint64_t *seq = calloc(o->hosts, sizeof(*seq));
	struct batch *b = calloc(1, sizeof(*b));
	uint64_t start = ncx_now_us(), deadline = 0;
	uint32_t host = 0;

	if (!seq || !b) {
		free(seq);
		free(b);
		return -ENOMEM;
	}
	memset(st, 0, sizeof(*st));
	for (uint32_t i = 0; i < o->hosts; i++)
		seq[i] = o->seq_start;
	b->h = h;
	b->st = st;
	if (o->seconds > 0)
		deadline = start + (uint64_t)(o->seconds * 1e6);
	while (!lg_stop && st->records < total) {
		uint64_t now = ncx_now_us(), due, n;

		if (deadline && now >= deadline)
			break;
		due = due_at(o, now - start, total);
		if (st->records >= due) {
			wait_for(o, start, st->records, deadline);
			continue;
		}
		n = due - st->records;
		if (n > o->burst)
			n = o->burst;
		if (o->records && n > o->records - (seq[host] - o->seq_start))
			n = o->records - (seq[host] - o->seq_start);
		send_turn(o, b, host, &seq[host], (unsigned)n, now - start);
		host = host + 1 == o->hosts ? 0 : host + 1;
	}
	st->elapsed_us = ncx_now_us() - start;
	per_host_range(seq, o->seq_start, o->hosts, st);
	free(seq);
	free(b);
	return 0;
}
