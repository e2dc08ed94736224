/* SPDX-License-Identifier: MIT */
/* worker.c: one thread per worker, and struct ncxd, what all threads share. */
#ifndef NCXD_WORKER_H
#define NCXD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"
#include "state.h"

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
	bool auth;		       /* --auth-key was loaded into auth_secret */
	struct ncx_auth_key auth_secret;
	struct ncxd_control *control; /* NULL: no control socket */
	/* metrics.c: the totals last written; no *_total is ever written lower. */
	struct ncxd_stats metrics_floor;
};

void *ncxd_worker_main(void *arg);

/* Ask every worker for a fresh snapshot and wait for them (1 s at most).
 * max_age_us: if snapshots were asked for less than this long ago, do
 * nothing (0: always). */
void ncxd_refresh(struct ncxd *d, uint64_t max_age_us);

#endif /* NCXD_WORKER_H */
