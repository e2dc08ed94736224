/* SPDX-License-Identifier: MIT */
/* ncx-loadgen: many simulated netconsole hosts on loopback. See main.c. */
#ifndef NCX_LOADGEN_H
#define NCX_LOADGEN_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ncx/addr.h>
#include <ncx/wire.h>

struct lg_opts {
	struct ncx_addr target;
	struct ncx_addr base;	/* first host's source address; port = source port */
	uint32_t hosts;
	uint64_t rate;		/* records per second over all hosts; 0: as fast as possible */
	uint64_t records;	/* per host; 0: no limit */
	uint64_t seq_start;	/* every host's first seq */
	double seconds;		/* 0: no limit */
	uint32_t len;		/* mean text length */
	uint64_t seed;
	uint32_t frag_every;	/* every K-th record of a host is long; 0: none */
	uint32_t burst;		/* records one host sends per turn */
};

/* The largest record we build: a long text plus its dictionary, escaped
 * the way the kernel does, stays inside the kernel's own record limit. */
#define LG_TEXT_MAX 4000
#define LG_RECORD_MAX NCX_WIRE_BODY_MAX

/* record.c: the bytes of one record of one host, and nothing else. */
size_t lg_record(const struct lg_opts *o, uint32_t host, uint64_t seq, uint64_t ts_usec,
		 char *out, size_t cap);

/* hosts.c: one bound socket per host. */
struct lg_hosts {
	uint32_t n;
	int *fd;
	struct sockaddr_storage to;
	socklen_t tolen;
};

int lg_hosts_open(struct lg_hosts *h, const struct lg_opts *o);
void lg_hosts_close(struct lg_hosts *h);

/* send.c: the paced, interleaved run. */
struct lg_stats {
	uint64_t records;
	uint64_t datagrams;
	uint64_t bytes;
	uint64_t errors;	/* datagrams the kernel refused to send */
	uint64_t elapsed_us;
	uint64_t min_sent;	/* records of the host that sent fewest */
	uint64_t max_sent;	/* records of the host that sent most */
	int first_errno;
};

int lg_run(const struct lg_opts *o, const struct lg_hosts *h, struct lg_stats *st);

/* Set from a signal handler: finish the current turn and stop. */
extern volatile sig_atomic_t lg_stop;

#endif
