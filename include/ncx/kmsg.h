/* SPDX-License-Identifier: MIT */
/*
 * kmsg: the pure parts of forwarding /dev/kmsg (`ncx forward`, see
 * docs/forward.md): no I/O, no clock, no allocation, so that the tests and
 * the fuzzer reach every branch.
 *
 * One read() of /dev/kmsg returns one record in the kernel's extended
 * format (wire.h), exactly the bytes the kernel's own netconsole sends for
 * it (less a release prefix). ncx forward stores each record as it came in
 * a ring (ring.h); ncx_kmsg_render() hands it to netcon (netcon.h) with the
 * kernel's seq as the wire seq, so a receiver merges the forwarder's copy
 * and the kernel's netconsole copy of a record into one stream.
 *
 * The seq of /dev/kmsg is dense: every record the kernel ever logged in
 * this boot has one, so a jump between two reads is an exact count of the
 * records the kernel overwrote (or could not format) before we read them.
 * struct ncx_kmsg_seq keeps that arithmetic, and the resume point a state
 * file gives.
 */
#ifndef NCX_KMSG_H
#define NCX_KMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ncx/ring.h>

#define NCX_KMSG_REC_MAX 8192	  /* kernel's CONSOLE_EXT_LOG_MAX: one read never returns more */
#define NCX_KMSG_BOOT_ID_LEN 36	  /* /proc/sys/kernel/random/boot_id: a UUID in text */
#define NCX_KMSG_TARGETS_MAX 480  /* the targets line: up to 8 "[v6]:port" and spaces */
#define NCX_KMSG_STATE_MAX 1024	  /* the whole state file */

/*
 * The state file: where a restarted forwarder resumes.
 *
 *   ncx-forward-state 1
 *   boot_id 8d3c2c1e-3c4a-4c3e-9a4b-0f6b6c1d2e3f
 *   acked 1234
 *   targets 127.0.0.1:6666 [::1]:6666
 *
 * acked is the lowest seq every target has acked; it holds only for the
 * boot named and for that set of targets (in the order given).
 */
struct ncx_kmsg_state {
	char boot_id[NCX_KMSG_BOOT_ID_LEN + 1];	/* NUL-terminated */
	uint64_t acked;
	char targets[NCX_KMSG_TARGETS_MAX + 1];	/* NUL-terminated, no newline */
};

/* The file's text, newline-terminated lines as above. Returns the length
 * needed (like snprintf), writing at most cap bytes, no NUL. */
size_t ncx_kmsg_state_format(const struct ncx_kmsg_state *st, char *out, size_t cap);

/* Parse what ncx_kmsg_state_format() wrote. Strict: the version line first,
 * then each of the three keys exactly once (any order), nothing else but
 * blank lines. Returns 0 or -EBADMSG (out is then undefined). */
int ncx_kmsg_state_parse(const char *buf, size_t len, struct ncx_kmsg_state *out);

/*
 * The seq of a record as /dev/kmsg gives it ("pri,seq,..."), leniently:
 * enough to account for a record that the strict parser (ncx_ext_parse)
 * refuses. Returns 0 or -EBADMSG.
 */
int ncx_kmsg_seq_of(const void *rec, size_t len, uint64_t *seq);

/* What to do with a record, and what was missed just before it. */
enum ncx_kmsg_verdict {
	NCX_KMSG_FORWARD,	/* send it */
	NCX_KMSG_RESUMED,	/* at or below the resume point: already acked, not sent */
	NCX_KMSG_STALE,		/* seq not above the last one read: never sent (tx needs order) */
};

struct ncx_kmsg_gap {
	uint64_t first, last;	/* the missing seqs, inclusive */
	uint64_t count;		/* last - first + 1, or 0: no gap */
	bool at_resume;		/* missing between the resume point and the first record
				   read (lost while no forwarder ran), not during the run */
};

struct ncx_kmsg_seq {
	bool resume;		/* resume_after is set */
	uint64_t resume_after;	/* records up to this seq were acked before */
	bool have_last;
	uint64_t last;		/* the last seq read */
	uint64_t read;		/* records read */
	uint64_t forwarded;
	uint64_t resumed;	/* not sent: at or below the resume point */
	uint64_t stale;
	uint64_t dropped;	/* records the kernel lost before we read them */
	uint64_t gaps;		/* times that happened */
};

/* Start the accounting: resume after seq `after` (resume true) or take
 * every record from the first one read. */
void ncx_kmsg_seq_init(struct ncx_kmsg_seq *s, bool resume, uint64_t after);

/* Account for the record with this seq, just read. *gap tells what the
 * kernel dropped just before it (count 0 if nothing). */
enum ncx_kmsg_verdict ncx_kmsg_seq_next(struct ncx_kmsg_seq *s, uint64_t seq,
					struct ncx_kmsg_gap *gap);

/*
 * netcon's render callback (ncx_netcon_render_fn) for a ring of raw
 * /dev/kmsg records: the record as it is, and *seq set to the kernel's seq
 * in it. A record that does not parse as extended is skipped (returns 0).
 * arg is unused. A record longer than cap is cut to cap.
 */
size_t ncx_kmsg_render(void *arg, const struct ncx_ring_rec *rec, const char *text, char *out,
		       size_t cap, uint64_t *seq);

#endif /* NCX_KMSG_H */
