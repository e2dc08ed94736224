/* SPDX-License-Identifier: MIT */
/*
 * netcon: the reliable network console. It reads a ring (ring.h) on a
 * thread of its own, sends each record in the kernel's extended netconsole
 * format marked ncrx=1 (fragmented with ncfrag at 1000 bytes, exactly as
 * netconsole does), listens on its source port for the receivers'
 * responses, and resends from the ring what they ask for or have not acked
 * (the protocol state is tx.h's; this is its I/O).
 *
 * Memory is the ring and nothing else: no allocation per record or per
 * datagram; tx's checkpoints and one datagram buffer are allocated at start.
 * A record the pacing cap holds back stays in the ring (the reader simply
 * does not advance); if writers lap it, the console learns the exact loss
 * from the ring and logs it, and the receiver sees the hole.
 *
 * A record a receiver asks for that the ring no longer holds (or never
 * held: a seq render skipped over) is answered with an ncgone placeholder
 * for its run (tx.h, wire.h), so the receiver stops waiting for it.
 *
 * Only responses from a configured target's exact address and port are
 * accepted; anything else arriving on the socket is counted (forged) and
 * ignored, so nobody can make the console send anywhere else or resend
 * on command.
 *
 * Every datagram names its stream: ncid=<16 hex> (DESIGN.md, stream
 * identity), so a receiver tells a new run or boot from the old one even
 * on the same address and port. With a key (auth), every datagram also
 * carries its own ncmac tag (each fragment, resend and placeholder), and
 * only responses with a good tag for this stream's id are taken; the rest
 * are counted (bad_tag) and ignored.
 *
 * Any stock netconsole receiver reads what netcon sends (it ignores the
 * ncrx, ncid and ncmac keys); ncxd and `ncx listen` answer it.
 */
#ifndef NCX_NETCON_H
#define NCX_NETCON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ncx/addr.h>
#include <ncx/auth.h>
#include <ncx/ring.h>
#include <ncx/tx.h>

/*
 * Render one ring record as an extended record (header ';' body, exactly
 * what netconsole would send before fragmenting, without ncrx/ncemg: the
 * driver inserts those). *seq arrives holding the driver's own numbering
 * (one more than the previous record that was not skipped); render may
 * replace it with the record's own seq (the ring's, or a kernel's). Return
 * the length (at most cap; longer is cut), or 0 to skip the record (e.g.
 * below a level threshold: skipped records take no seq). Called on
 * netcon's thread, for first sends and again for resends, so it must give
 * the same answer for the same record.
 */
typedef size_t (*ncx_netcon_render_fn)(void *arg, const struct ncx_ring_rec *rec,
				       const char *text, char *out, size_t cap, uint64_t *seq);

struct ncx_netcon_config {
	struct ncx_addr targets[NCX_TX_TARGETS_MAX]; /* IPv4 and IPv6 alike */
	unsigned ntargets;
	uint16_t src_port;	/* 0: an ephemeral port (the same for both families) */
	bool from_oldest;	/* start at the ring's oldest record, not the next one */
	struct ncx_tx_config tx; /* ntargets and gone are filled in by netcon */
	uint64_t stream_id;	/* ncid; 0: a random one per start (getrandom) */
	bool auth;		/* tag datagrams and check responses with key */
	struct ncx_auth_key key; /* the host's key (ncx key derive) */
};

/* Defaults: no targets, ephemeral port, from the next record, tx defaults,
 * a random stream id, no auth. */
void ncx_netcon_config_default(struct ncx_netcon_config *cfg);

struct ncx_netcon_stats {
	struct ncx_tx_stats tx;
	uint64_t forged;	/* datagrams on our port not from a target */
	uint64_t bad_tag;	/* with auth: responses without a good tag (ignored) */
	uint64_t send_errors;	/* sendto() failures (counted; the protocol recovers) */
	uint64_t ring_lost;	/* records writers overwrote before we sent them */
	uint64_t skipped;	/* records render skipped */
	uint64_t acked;		/* lowest acked seq over all targets (UINT64_MAX: none yet) */
	uint64_t unacked;	/* most unacked records of any target */
};

struct ncx_netcon;

/*
 * Bind the sockets and start the thread. Returns 0 and *out, or a negative
 * errno (-EINVAL for a bad config, -EADDRINUSE, ...). The ring must outlive
 * the console.
 */
int ncx_netcon_start(struct ncx_netcon **out, const struct ncx_netcon_config *cfg,
		     struct ncx_ring *ring, ncx_netcon_render_fn render, void *arg);

/*
 * Wait until every record in the ring when called has been sent and acked
 * by every target, or timeout_ms passes (negative: no limit). Returns 0 or
 * -ETIMEDOUT.
 */
int ncx_netcon_wait_acked(struct ncx_netcon *nc, int timeout_ms);

/* Stop the thread, close the sockets, free. Unacked records stay unacked. */
void ncx_netcon_stop(struct ncx_netcon *nc);

void ncx_netcon_get_stats(struct ncx_netcon *nc, struct ncx_netcon_stats *st);

/* The port the console sends from (useful with src_port 0). */
uint16_t ncx_netcon_port(const struct ncx_netcon *nc);

/* The stream id every datagram carries (never 0). */
uint64_t ncx_netcon_stream_id(const struct ncx_netcon *nc);

/*
 * Render for rings written by the log core (log.h): ncx_log_format_ext().
 * arg is a const struct ncx_netcon_log * (level threshold and flags, as a
 * log console's; NULL: every record, as with NCX_CON_ALLDATA). With
 * NCX_CON_ALLDATA the ring's seq is the wire seq; with a threshold, the
 * driver's numbering is kept, so the records that pass go out as 0, 1,
 * 2, ... and the receiver sees no hole for what was filtered (a hole would
 * be asked for, and reported lost, in vain).
 */
struct ncx_netcon_log {
	int level;
	unsigned flags;
};
size_t ncx_netcon_render_log(void *arg, const struct ncx_ring_rec *rec, const char *text,
			     char *out, size_t cap, uint64_t *seq);

#endif /* NCX_NETCON_H */
