/* SPDX-License-Identifier: MIT */
/* metrics.c: what a worker publishes (counters, drop reasons, snapshots)
 * and the Prometheus textfile made of it. */
#ifndef NCXD_METRICS_H
#define NCXD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <ncx/addr.h>
#include <ncx/rx.h>

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
	NCXD_C_AUTH_BAD,
	NCXD_C_AUTH_MISSING,
	NCXD_C_UNVERIFIED,
	NCXD_C_UNVERIFIED_DROPPED,
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

struct ncxd;

/* metrics.c: write FILE.tmp and rename it to FILE. Returns 0 or -errno. */
int ncxd_metrics_write(struct ncxd *d, const char *path);
void ncxd_snapshot_free(struct ncxd_snapshot *s);
#endif /* NCXD_METRICS_H */
