/* SPDX-License-Identifier: MIT */
/*
 * rx: the receiver engine, sans-I/O. Datagram bytes, the sender and the
 * current time go in; records in seq order, gap and reboot events, drops and
 * the response datagrams for reliable senders come out, through one callback,
 * synchronously, from inside ncx_rx_feed() and ncx_rx_tick(). The engine
 * reads no clock and touches no socket, so the same code runs in ncxd, in
 * `ncx listen`, in the tests (with a fake clock) and under the fuzzer.
 *
 * A sender is (address, port, stream id): a reliable sender names its
 * stream (ncid, per run or boot), so a new run is a new stream at once and
 * an old one's datagrams cannot touch it. A datagram without a name (a
 * stock kernel's, a sender from before names) joins the named stream of its
 * (address, port) only when it continues it (at or past next within the
 * window, or a duplicate of a record delivered), and never reboots it; else
 * it is the unnamed stream of that (address, port).
 * Per stream the engine keeps `next`, the
 * lowest seq it has neither delivered nor reported as a gap:
 *
 *   seq == next          delivered, with whatever it unblocks from the window
 *   next < seq < next+W  held in the window; the hole before it is open
 *   seq >= next+W        reliable: dropped (asked for again once the window
 *                        moves); stock: the hole is closed as a gap at once
 *   seq < next           a duplicate or a late record (counted, dropped), or
 *                        a new boot (a reboot event, then a fresh stream)
 *
 * An open hole is closed by the missing records arriving, or by its timeout:
 * short for stock senders (netconsole skips records above the console
 * loglevel, so a hole there proves nothing: "not received"), long for
 * reliable ones (asked for again every retx interval; "lost" when it
 * expires). A sender is reliable once a datagram of its says ncrx=1; only
 * those ever get a response.
 *
 * A reliable sender that no longer has seqs it was asked for says so with a
 * placeholder: an extended datagram at seq s with ncgone=n (wire.h). It is
 * not a record, and it is a claim, not a command: it closes only seqs the
 * receiver has asked for, those of the open hole [next, top) within the
 * window; those close as one lost GAP (records held inside the range, from
 * another path, are delivered) as soon as next reaches them, so nothing
 * behind them waits for the hole timeout. Past what was asked, it only says
 * that seq s exists (the hole opens to it, and is asked for), and is counted
 * as DROP UNASKED. From a stock sender the key means nothing and the
 * datagram is an ordinary record; a placeholder never makes a stock
 * sender's stream reliable (it may start a new one so).
 *
 * Responses: an ack of new progress at most once per ack_us, or at once
 * when half the window was delivered since the last ack; every retx_us
 * while a hole is open, the missing seqs in the window, lowest first, in up
 * to NCX_RX_RESPONSES_MAX datagrams of at most NCX_RX_RESPONSE_MAX bytes.
 * No amplification: a sender is never sent more than NCX_RX_AMPLIFY times
 * the bytes received from it (the rule QUIC sets for an address it has not
 * validated, RFC 9000 section 8), and all senders together no more than
 * cfg.resp_rate bytes a second; what that holds back is counted
 * (responses_held), and the protocol's timers and the sender's next
 * datagram (which raises its budget) make up for it.
 *
 * Reboot or duplicate, for seq < next: the engine keeps a 16-bit fingerprint
 * of (timestamp, text) for each of the last NCX_RX_HISTORY records it
 * delivered. Within that reach, a matching fingerprint is a duplicate and a
 * differing one is a new boot. Further back, a stock sender (which never
 * resends) has rebooted; a reliable sender has rebooted if the seq is at or
 * below an ack it was sent more than reliable_hole_us ago (it cannot still
 * be resending that), and is resending otherwise.
 *
 * Memory: a fixed-size record per sender (no window, no buffers while it is
 * in order and has no fragment open: see ncx_rx_sender_bytes()); window
 * slots and held records are allocated when a hole opens and freed when it
 * closes; reassembly buffers likewise. All of it is bounded by the config.
 * When a bound is hit the engine drops, counts, and emits a DROP event.
 *
 * Not thread-safe: one engine per thread (ncxd gives each worker its own,
 * and SO_REUSEPORT keeps a sender on one worker).
 */
#ifndef NCX_RX_H
#define NCX_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ncx/addr.h>
#include <ncx/auth.h>
#include <ncx/wire.h>

#define NCX_RX_HISTORY 64 /* delivered records remembered for duplicate/reboot checks */
#define NCX_RX_RESPONSE_MAX NCX_WIRE_RESP_MAX /* a response datagram is at most this long */
#define NCX_RX_RESPONSES_MAX 8	 /* response datagrams per sender per retransmission round */
#define NCX_RX_AMPLIFY 3	 /* response bytes per byte received, per sender, at most */

/* Where an earlier run of the receiver left a sender (cfg.resume). */
struct ncx_rx_resume {
	uint64_t next;	  /* the lowest seq it has not written */
	uint64_t last_ts; /* the timestamp of the record before next; 0 if unknown */
};

struct ncx_rx_config {
	uint32_t window;	   /* records held per sender behind a hole; default 4096 */
	uint32_t max_senders;	   /* default 100000; when full, a newcomer evicts the
				    * longest silent sender on probation (one datagram so
				    * far), or else the longest silent (rx_internal.h) */
	uint32_t max_frags;	   /* open reassemblies per sender; default 8 */
	size_t sender_bytes;	   /* held records + reassembly, per sender; default 8 MiB */
	size_t engine_bytes;	   /* the same, all senders together; default 512 MiB */
	uint64_t stock_hole_us;	   /* default 250 ms */
	uint64_t reliable_hole_us; /* default 30 s */
	uint64_t retx_us;	   /* ask again for missing records this often; default 100 ms */
	uint64_t ack_us;	   /* ack new progress at most this often; default 100 ms */
	uint64_t idle_us;	   /* forget a sender silent this long; default 1 hour; 0 never */
	uint64_t resp_rate;	   /* response bytes per second, all senders; 0 none (default) */
	uint32_t amplify;	   /* response bytes per byte received, per sender: default
				    * NCX_RX_AMPLIFY; 0 no limit (tests of the format alone) */
	uint64_t start_us;	   /* hold a new stream's first records this long, so seqs
				    * reordered before the first one are not late; default 0 */
	/*
	 * Optional, for a receiver that restarted: called once when the engine
	 * creates state for a sender. Fill *out with where an earlier run left
	 * it and return true, or return false if nothing is known. The engine
	 * applies every restart rule itself (so a new boot is told by one
	 * source, its REBOOT event):
	 *  - the first record decides. Below out->next and stamped more than
	 *    new_stream_us after out->last_ts (0: unknown), it starts a new
	 *    stream (the sender started over while the receiver was down, its
	 *    clock going on: a restarted program, a new `ncx send`): a REBOOT
	 *    event, prev_seq out->next - 1, and the stream starts there;
	 *  - otherwise the stream resumes at out->next: anything below it is a
	 *    duplicate, dropped and acked, and nothing below it is asked for. A
	 *    rebooted kernel (its clock starts again near zero) is told apart
	 *    later by the usual rules (see rx_stream.c).
	 * NULL: never.
	 */
	bool (*resume)(void *arg, const struct ncx_addr *from, uint64_t id,
		       struct ncx_rx_resume *out);
	void *resume_arg;
	uint64_t new_stream_us; /* see resume; default 1 s */
	/*
	 * Authentication (DESIGN.md, "Authentication (ncmac)"). With auth set,
	 * each sender's key is derived from auth_secret and its address; a
	 * datagram whose ncmac tag is wrong is dropped (DROP AUTH_BAD), and so
	 * is an untagged one (DROP AUTH_MISSING) with require_auth, or when it
	 * names a stream whose datagrams were tagged. Responses to a stream
	 * whose datagrams are tagged are tagged. Default: off.
	 */
	bool auth;
	bool require_auth;
	struct ncx_auth_key auth_secret;
};

/* Fill cfg with the defaults above. */
void ncx_rx_config_default(struct ncx_rx_config *cfg);

enum ncx_rx_kind {
	NCX_RX_RECORD,	 /* an extended record, in seq order */
	NCX_RX_LEGACY,	 /* a legacy datagram (no seq: delivered as it comes) */
	NCX_RX_GAP,	 /* seqs first..last will never be delivered */
	NCX_RX_REBOOT,	 /* the sender started over: a new boot */
	NCX_RX_DROP,	 /* records or datagrams dropped, and why */
	NCX_RX_RESPONSE, /* send this datagram back to the sender */
	NCX_RX_SENDER_GONE, /* the sender's state expired (idle) or was evicted to make
			     * room (max_senders); release *user */
};

enum ncx_rx_drop_reason {
	NCX_DROP_MALFORMED,	   /* not a datagram of either format */
	NCX_DROP_DUPLICATE,	   /* already delivered */
	NCX_DROP_LATE,		   /* arrived after its gap was reported */
	NCX_DROP_WINDOW,	   /* too far ahead of the window (reliable: will be asked again) */
	NCX_DROP_MEMORY,	   /* sender_bytes or engine_bytes reached */
	NCX_DROP_FRAGS,		   /* too many open reassemblies, or one timed out */
	NCX_DROP_TOO_MANY_SENDERS, /* no state could be made (max_senders 0, no memory) */
	NCX_DROP_UNASKED,	   /* a placeholder for seqs never asked for (rx_admit.c) */
	NCX_DROP_AUTH_BAD,	   /* an ncmac tag that is wrong under the sender's key */
	NCX_DROP_AUTH_MISSING,	   /* no tag where one is required (cfg.auth) */
	NCX_DROP_UNVERIFIED,	   /* a stock copy for a stream that tags, not what that
				    * stream delivered at its seq (rx_copies.c) */
	NCX_DROP_REASON_COUNT
};

const char *ncx_rx_drop_reason_name(enum ncx_rx_drop_reason r);

struct ncx_rx_event {
	enum ncx_rx_kind kind;
	const struct ncx_addr *from;
	/* The caller's per-sender slot, NULL for a new sender; the caller may
	 * store anything here (ncxd keeps its file state). NULL for events that
	 * have no sender state (e.g. TOO_MANY_SENDERS). */
	void **user;
	/* The ctx given to the ncx_rx_feed() call this event comes from; NULL
	 * for events of ncx_rx_tick() and the flushes. */
	void *ctx;
	bool reliable;	   /* the sender has said ncrx=1 */
	bool authed;	   /* the stream's datagrams carry good tags (cfg.auth) */
	uint64_t id;	   /* the stream's name (ncid); 0: none (a stock sender) */
	uint64_t rx_us;	   /* when the datagram (for a record: its last piece) arrived */
	/* RECORD, GAP, REBOOT: the stream's position after the event, one past
	 * the last seq delivered or reported (for REBOOT: the new boot's first
	 * seq, still to come). What a receiver that restarts resumes at. */
	uint64_t pos;
	union {
		struct ncx_ext record;	   /* RECORD: whole, reassembled; spans valid in the callback */
		struct ncx_legacy legacy;  /* LEGACY */
		struct {
			uint64_t first, last; /* count is last - first + 1 */
			bool lost;	      /* reliable sender: lost; stock: not received */
		} gap;
		struct {
			uint64_t prev_seq; /* the last seq of the old boot seen */
			uint64_t seq;	   /* the first of the new one */
		} reboot;
		struct {
			enum ncx_rx_drop_reason reason;
			uint64_t records; /* how many */
			uint64_t seq;	  /* the (first) seq concerned, if it has one */
			bool has_seq;
		} drop;
		struct ncx_span response; /* RESPONSE: "ncrx<acked>[ <seq>]*" */
		struct {
			bool evicted; /* the table was full (not idle): it may come back */
		} gone;
	};
};

typedef void (*ncx_rx_emit_fn)(void *arg, const struct ncx_rx_event *ev);

struct ncx_rx_stats {
	uint64_t datagrams;	/* fed */
	uint64_t bytes;		/* fed */
	uint64_t records;	/* RECORD events */
	uint64_t legacy;	/* LEGACY events */
	uint64_t fragments;	/* fragment datagrams fed */
	uint64_t gaps;		/* GAP events */
	uint64_t lost;		/* records in gaps of reliable senders */
	uint64_t missed;	/* records in gaps of stock senders (not received) */
	uint64_t reboots;
	uint64_t retx_requested; /* seqs asked for again (each time counts) */
	uint64_t responses;	/* RESPONSE events */
	uint64_t response_bytes; /* their bytes */
	uint64_t responses_held; /* not sent: over the sender's budget or resp_rate */
	uint64_t emergency;	/* ncemg=1 datagrams fed */
	uint64_t unverified;	/* records written from a stock kernel's untagged copies of
				 * a stream that tags, its sender silent (rx_copies.c) */
	uint64_t dropped[NCX_DROP_REASON_COUNT];
	uint64_t evicted;	/* senders evicted to make room (engine stats only) */
	uint64_t senders;	/* senders with state now (engine stats only) */
	uint64_t held_bytes;	/* bytes held in windows and reassembly now (engine stats only) */
};

struct ncx_rx;

/* NULL cfg means the defaults. Returns NULL on allocation failure. */
struct ncx_rx *ncx_rx_new(const struct ncx_rx_config *cfg, ncx_rx_emit_fn emit, void *arg);

/* Frees everything; emits nothing (call a flush first to drain). */
void ncx_rx_free(struct ncx_rx *rx);

/* One datagram from `from` at now_us. Never fails: bad input is counted and
 * dropped with a DROP event. The buffer is not kept. ctx is the caller's,
 * for this datagram alone (ncxd: the socket it came in on): every event the
 * call emits carries it, so no caller keeps state beside the call. */
void ncx_rx_feed(struct ncx_rx *rx, const struct ncx_addr *from, const void *buf, size_t len,
		 uint64_t now_us, void *ctx);

/* Run the timers due at now_us: hole timeouts, retransmission requests,
 * acks, fragment timeouts, idle expiry. Cheap when nothing is due. */
void ncx_rx_tick(struct ncx_rx *rx, uint64_t now_us);

/* The earliest time ncx_rx_tick() has work to do; UINT64_MAX if none. */
uint64_t ncx_rx_next_deadline(const struct ncx_rx *rx);

/* Close every open hole now (as gaps) and deliver everything held, for
 * every sender: used at shutdown so nothing received goes unwritten. */
void ncx_rx_flush(struct ncx_rx *rx, uint64_t now_us);

/*
 * The same for a receiver that resumes where it stopped (cfg.resume: ncxd),
 * except for reliable senders: their held records behind a hole, and open
 * reassemblies, are freed without delivery, gap or DROP event. The sender
 * never had them acked and still holds them: it resends them to the next
 * run, which resumes at the first seq not written, so they are written
 * then, in order, instead of now after a gap that was never a loss. What
 * continues a stream is delivered as ever. Stock senders as ncx_rx_flush().
 */
void ncx_rx_flush_resumable(struct ncx_rx *rx, uint64_t now_us);

void ncx_rx_stats(const struct ncx_rx *rx, struct ncx_rx_stats *out);

/* Per-sender counters (senders and held_bytes are 0). Returns 0, or
 * -ENOENT if the engine has no state for that sender. */
int ncx_rx_sender_stats(const struct ncx_rx *rx, const struct ncx_addr *from,
			struct ncx_rx_stats *out);

/* Visit every sender with state (for metrics). Must not feed or tick. */
typedef void (*ncx_rx_sender_fn)(void *arg, const struct ncx_addr *from, void *user,
				 const struct ncx_rx_stats *st);
void ncx_rx_each_sender(const struct ncx_rx *rx, ncx_rx_sender_fn fn, void *arg);

/* Bytes of state an idle, in-order sender costs (for the benchmark). */
size_t ncx_rx_sender_bytes(void);

#endif /* NCX_RX_H */
