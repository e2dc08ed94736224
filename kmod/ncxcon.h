/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ncxcon: the kernel's log sent reliably to ncxd (docs/kmod.md).
 *
 * Data flows one way. Records stay in the kernel's own log buffer; ncxcon
 * keeps only positions (seqs). A kthread reads each new record by seq
 * (record.c), formats it in the extended netconsole format with lib/wire.c,
 * and sends it to every target with netpoll (xmit.c). Responses from the
 * targets come in on ordinary UDP sockets (ack.c) and go to lib/tx.c, the
 * same protocol state ncx send and ncx forward use, which asks for resends
 * by seq; the kthread reads those records again from the kernel's buffer.
 * At panic, panic.c sends everything unacked, repeated, and every record
 * printed after that, from the panicking CPU alone.
 *
 * The console that ncxcon registers does nothing but kick the kthread: the
 * path printk drives allocates nothing, takes no lock of ours, and sends
 * nothing (except at panic).
 */
#ifndef NCXCON_H
#define NCXCON_H

#include <linux/irq_work.h>
#include <linux/kmsg_dump.h>
#include <linux/netpoll.h>
#include <linux/notifier.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <ncx/auth.h>
#include <ncx/tx.h>
#include <ncx/wire.h>

#define NCXCON_TARGETS_MAX NCX_TX_TARGETS_MAX
/* One record as kmsg_dump_get_line() prints it: up to 1024 bytes of text,
 * each of its lines behind a prefix of up to 32 bytes.
 */
#define NCXCON_LINE_MAX (32 * 1024)
/* One record in the extended format: header, and the text escaped (x4). */
#define NCXCON_REC_MAX (NCX_WIRE_HDR_MAX + 4 * 1024 + 64)
/* One datagram (a record of at most NCX_WIRE_CHUNK bytes, or a fragment of
 * one) and its ncmac tag.
 */
#define NCXCON_DGRAM_MAX (NCX_WIRE_CHUNK + NCX_AUTH_DGRAM_TAG_LEN)

struct ncxcon_target {
	struct netpoll np;
	struct socket *sock;	/* where its responses arrive (shared by
				 * targets with the same source address)
				 */
	bool sock_owner;	/* this target created sock */
	bool up;		/* netpoll set up, the device still there */
	char spec[128];		/* as configured, for messages */
};

/* Scratch space for reading and formatting one record. The kthread and the
 * panic path each have their own: a CPU stopped by panic may have been
 * inside the kthread's.
 */
struct ncxcon_scratch {
	char line[NCXCON_LINE_MAX];
	char text[NCXCON_LINE_MAX];
	char rec[NCXCON_REC_MAX];
	char dgram[NCXCON_DGRAM_MAX];	/* one datagram being tagged */
};

/* A record read back from the kernel's buffer: rec's fields and the
 * unescaped text (in the scratch's text buffer).
 */
struct ncxcon_record {
	struct ncx_ext ext;
	const char *text;
	size_t text_len;
	bool truncated;		/* more than the scratch could hold */
};

struct ncxcon_stats {
	u64 records;		/* records sent the first time */
	u64 datagrams;		/* every datagram, every target */
	u64 responses;		/* datagrams from a target on its port */
	u64 forged;		/* datagrams on our ports from anyone else */
	u64 auth_bad;		/* responses from a target without a good tag
				 * (with auth_key set): ignored
				 */
	u64 truncated;		/* records cut to fit NCXCON_REC_MAX */
	u64 busy;		/* sends put off: netpoll would have queued them */
	u64 held;		/* rounds whose first sends tx held back (pacing,
				 * the in-flight cap, the stream-start hold)
				 */
	u64 panic_records;	/* records sent by the panic path */
	u64 panic_datagrams;
};

struct ncxcon {
	struct ncxcon_target t[NCXCON_TARGETS_MAX];
	unsigned int ntargets;
	struct ncx_tx *tx;
	u64 id;			/* the stream's name (ncid): from the boot id,
				 * so one boot is one stream (main.c)
				 */
	struct ncx_auth_key key;	/* auth_key=, set at load only */
	bool auth;		/* key set: tag every datagram, take only
				 * responses with a good tag
				 */
	u64 next_seq;		/* the next record to send the first time */
	bool started;		/* ncx_tx_start() done */
	bool held;		/* tx held first sends back: look again soon */
	bool live;		/* targets set up: the panic path may use them */

	/* Keeps a target's netpoll from going away during a send (xmit.c). */
	spinlock_t xmit_lock;
	struct task_struct *thread;
	wait_queue_head_t wq;
	atomic_t kicked;
	struct irq_work kick_work;

	struct ncxcon_scratch *work;	/* the kthread's */
	struct ncxcon_scratch *panic;	/* the panic path's */
	char *rbuf;			/* one response */

	u32 max_pps;
	unsigned int panic_repeat;
	atomic_t panicking;
	u64 panic_next;		/* the next record the panic path sends */
	struct notifier_block panic_nb;
	struct ncxcon_stats stats;
};

/* target.c */
int ncxcon_targets_parse(const char *spec, struct ncxcon_target *t, unsigned int max,
			 unsigned int *n);

/* record.c */
int ncxcon_record_read(u64 *seq, struct ncxcon_scratch *s, struct ncxcon_record *r);
u64 ncxcon_record_oldest(void);
size_t ncxcon_record_format(struct ncxcon_record *r, bool emergency, u64 id,
			     struct ncxcon_scratch *s);

/* xmit.c */
unsigned int ncxcon_xmit(struct ncxcon *nc, int target, struct ncxcon_scratch *s, size_t len);
unsigned int ncxcon_xmit_count(const char *rec, size_t len);
bool ncxcon_busy(struct ncxcon *nc, int target);
int ncxcon_resend(void *arg, unsigned int target, u64 seq, u64 cookie, bool emergency);
int ncxcon_send_gone(void *arg, unsigned int target, u64 first, u64 count);
void ncxcon_send_new(struct ncxcon *nc, u64 now_us, unsigned int budget, bool *more);

/* ack.c */
int ncxcon_ack_open(struct ncxcon *nc);
void ncxcon_ack_close(struct ncxcon *nc);
void ncxcon_ack_read(struct ncxcon *nc, u64 now_us, bool *more);
size_t ncxcon_ack_buf_size(void);

/* panic.c */
int ncxcon_panic_register(struct ncxcon *nc);
void ncxcon_panic_unregister(struct ncxcon *nc);
void ncxcon_panic_console(struct ncxcon *nc);

void ncxcon_kick(struct ncxcon *nc);

#endif /* NCXCON_H */
