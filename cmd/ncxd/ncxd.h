/* SPDX-License-Identifier: MIT */
/*
 * ncxd: the collector. One UDP port, thousands of senders, a file per host.
 * Each module has its header (NAME.c, NAME.h); this one includes them all,
 * with the constants the daemon as a whole is built around.
 *
 *   main.c     options, config file, startup, privileges, signals, threads
 *   worker.c   one thread: its sockets, its rx engine, its sink, its durable set
 *   durable.c  a reliable sender's position and slot; acks only for what is written
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
 *   sandbox.c  seccomp and Landlock after binding (docs/security.md)
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

#include "allow.h"
#include "bucket.h"
#include "config.h"
#include "control.h"
#include "format.h"
#include "metrics.h"
#include "path.h"
#include "sandbox.h"
#include "state.h"
#include "worker.h"

/* Records held behind holes and open reassemblies, all workers together
 * (split evenly: rx.h engine_bytes); what is freed goes back to the system
 * (worker.c, give_back()). */
#define NCXD_HELD_BYTES (256u << 20)
/* Defaults made at start, for the whole daemon, split among the workers:
 * open files (or fewer, if the fd limit is lower), and the bytes of write
 * buffers (reserved, touched only as hosts use them). */
#define NCXD_AUTO_FILES 16384
#define NCXD_AUTO_BUFFER_BYTES (64u << 20)

#endif /* NCXD_H */
