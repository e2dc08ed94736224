/* SPDX-License-Identifier: MIT */
/*
 * ncx forward: the kernel's log, every level, sent reliably. It reads
 * /dev/kmsg, keeps each record as the kernel wrote it in a ring of its own
 * (the memory is the ring: allocated once), and a reliable netcon
 * (netcon.h) sends it from there with the kernel's own seq, from the stock
 * netconsole's source port by default. A receiver therefore sees one
 * sender, merges the kernel's netconsole copy of a record with ours, and
 * its acks and retransmission requests reach us. See docs/forward.md.
 *
 * The stream id (ncid) comes from the kernel's boot id, so a restart within
 * one boot continues the same stream at the receiver and a reboot starts a
 * new one. The key (--auth-key) is read before the sandbox closes the files.
 *
 * Threads: this one reads /dev/kmsg and writes the ring; netcon's own
 * thread sends, resends and takes the responses; the log core's console
 * thread prints our own lines on stderr (log.c: set up by main(), a
 * notice and up, info too with -v). SIGINT and SIGTERM are blocked
 * everywhere but inside this thread's ppoll(), so they always land here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ncx/addr.h>
#include <ncx/auth.h>
#include <ncx/kmsg.h>
#include <ncx/log.h>
#include <ncx/netcon.h>
#include <ncx/ring.h>
#include <ncx/udp.h>
#include <ncx/wire.h>

#include "ncx.h"

#define DEFAULT_SRC_PORT 6665	 /* the stock netconsole's */
#define STATE_DIR "/var/lib/ncx"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define READ_BUF (64 << 10)	 /* far above NCX_KMSG_REC_MAX: EINVAL should never happen */
#define READ_BATCH 4096		 /* records per round, so the state is saved during a flood */
#define SAVE_EVERY_US 1000000
#define EXIT_WAIT_MS 2000	 /* at exit, for the last records' acks */

enum from { FROM_OLDEST, FROM_NOW };

struct forward {
	/* options */
	struct ncx_netcon_config nc_cfg;
	char targets[NCX_KMSG_TARGETS_MAX + 1]; /* canonical, for the state file */
	char state_path[4096];	/* "" : no state file */
	enum from from;
	size_t ring_size;
	bool verbose;
	bool no_sandbox;

	/* running */
	int kfd;
	char *buf;
	void *ring_mem;
	struct ncx_ring ring;
	struct ncx_netcon *nc;
	struct ncx_kmsg_seq seq;
	char boot_id[NCX_KMSG_BOOT_ID_LEN + 1];
	uint64_t saved_acked;	/* what the state file holds (UINT64_MAX: nothing written) */
	uint64_t last_save_us;
	bool save_failing;	/* a failed save was reported; quiet until it works again */
	int last_errno;		/* EPIPE or EINVAL before the next record, to explain a gap */
	uint64_t unparsed;	/* records that were not extended records (not sent) */
	uint64_t refused;	/* ring writes refused */
	bool first_logged;
	uint64_t ring_lost, gone; /* netcon's counts, as far as reported */
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncx forward -t HOST:PORT [-t HOST:PORT]... [-p SRCPORT] [--state FILE|none]\n"
		"                   [--from oldest|now] [--ring-size BYTES] [-r RATE] [-v]\n"
		"                   [--auth-key FILE] [--no-sandbox]\n"
		"\n"
		"Send the kernel's log (/dev/kmsg, every level) to netconsole receivers, reliably:\n"
		"each record goes out in the kernel's extended netconsole format with the kernel's\n"
		"own seq, marked ncrx=1; receivers that answer (ncxd, ncx listen) get what they ask\n"
		"for again, and what nobody acked for 10 s is resent until it is. Records the\n"
		"kernel overwrote before they could be read are counted exactly and reported.\n"
		"\n"
		"By default the forwarder sends from port %d, the stock netconsole's, so that a\n"
		"receiver that also gets this host's netconsole traffic sees one sender and one\n"
		"stream: each record once, the kernel's copy or ours, whichever comes first.\n"
		"Its datagrams name the stream (ncid): the first 16 hex digits of the kernel's\n"
		"boot id, so a restart within one boot continues the stream.\n"
		"\n"
		"  -t, --target HOST:PORT  a receiver (numeric address; port default %d);\n"
		"                          repeatable, up to %d\n"
		"  -p, --src-port SRCPORT  the source port, where responses come back\n"
		"                          (default %d; 0: any free port)\n"
		"      --state FILE        where the last seq every target acked is kept, so that a\n"
		"                          restart resumes after it (default %s/forward-SRCPORT.state;\n"
		"                          'none': keep no state)\n"
		"      --from oldest|now   where to start when the state file gives no resume point\n"
		"                          (none yet, another boot, other targets): the oldest record\n"
		"                          the kernel still holds (default), or the next one logged\n"
		"      --ring-size BYTES   memory for the records not yet acked: a power of two,\n"
		"                          64K..1G, suffix K, M or G allowed (default 16M)\n"
		"  -r, --rate N            at most N datagrams per second (default: no cap)\n"
		"      --auth-key FILE     tag every datagram with this host's key (ncmac) and\n"
		"                          take only responses with a good tag: FILE holds 32\n"
		"                          hex digits (ncx key derive --secret SECRET ADDRESS)\n"
		"                          and must not be readable by group or others\n"
		"  -v, --verbose           say where it starts and resumes; statistics at exit\n"
		"      --no-sandbox        no seccomp filter, no Landlock (by default, once\n"
		"                          /dev/kmsg is open, only the system calls it needs and\n"
		"                          only the state file's directory: docs/security.md)\n"
		"  -h, --help              this text\n"
		"\n"
		"Reading /dev/kmsg needs CAP_SYSLOG when kernel.dmesg_restrict is 1 (Debian's\n"
		"default): run as root, or give the binary the capability (setcap cap_syslog+ep).\n"
		"\n"
		"SIGINT or SIGTERM: wait up to %d s for the last acks, save the state, exit 0.\n"
		"Exit status: 0; 64 bad usage or key file; 69 the port cannot be bound; 71 out of\n"
		"memory; 74 /dev/kmsg read error; 77 no permission to read /dev/kmsg.\n",
		DEFAULT_SRC_PORT, CMD_DEFAULT_PORT, NCX_TX_TARGETS_MAX, DEFAULT_SRC_PORT,
		STATE_DIR, EXIT_WAIT_MS / 1000);
}

/* "16M", "65536", "1G": a power of two within the ring's limits. */
static int parse_ring_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end || v < (64u << 10) || v > (1ull << NCX_RING_MAX_ORDER) || (v & (v - 1)))
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int add_target(struct forward *f, const char *text)
{
	struct ncx_netcon_config *c = &f->nc_cfg;
	char a[NCX_ADDR_TEXT_MAX];
	size_t used = strlen(f->targets);
	int rc = cmd_add_target("forward", c, text);

	if (rc)
		return rc;
	ncx_addr_format(&c->targets[c->ntargets - 1], true, a, sizeof(a));
	snprintf(f->targets + used, sizeof(f->targets) - used, "%s%s", used ? " " : "", a);
	return 0;
}

/* Read now, while every file may be opened: the sandbox comes later. */
static int load_key(struct forward *f, const char *path)
{
	char why[512];

	if (ncx_auth_key_load(path, &f->nc_cfg.key, why, sizeof(why))) {
		cmd_err("forward", "--auth-key: %s", why);
		return EX_USAGE;
	}
	f->nc_cfg.auth = true;
	return 0;
}

static int parse_args(struct forward *f, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' }, { "src-port", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 'p' }, /* the old name: a hidden alias */
		{ "state", required_argument, NULL, 's' },  { "from", required_argument, NULL, 'f' },
		{ "ring-size", required_argument, NULL, 'R' }, { "rate", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },	    { "help", no_argument, NULL, 'h' },
		{ "no-sandbox", no_argument, NULL, 'S' },
		{ "auth-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL;
	unsigned long v;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:p:r:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if ((rc = add_target(f, optarg)))
				return rc;
			break;
		case 'p':
			if (parse_uint(optarg, 65535, &v)) {
				cmd_err("forward", "-p '%s': a port number, 0..65535", optarg);
				return EX_USAGE;
			}
			f->nc_cfg.src_port = (uint16_t)v;
			break;
		case 's': state = optarg; break;
		case 'S': f->no_sandbox = true; break;
		case 'K':
			if ((rc = load_key(f, optarg)))
				return rc;
			break;
		case 'f':
			if (!strcmp(optarg, "oldest"))
				f->from = FROM_OLDEST;
			else if (!strcmp(optarg, "now"))
				f->from = FROM_NOW;
			else {
				cmd_err("forward", "--from '%s': oldest or now", optarg);
				return EX_USAGE;
			}
			break;
		case 'R':
			if (parse_ring_size(optarg, &f->ring_size)) {
				cmd_err("forward", "--ring-size '%s': a power of two, 64K..1G", optarg);
				return EX_USAGE;
			}
			break;
		case 'r':
			if (parse_uint(optarg, UINT32_MAX, &v)) {
				cmd_err("forward", "-r '%s': datagrams per second (0: no cap)", optarg);
				return EX_USAGE;
			}
			f->nc_cfg.tx.max_pps = (uint32_t)v;
			break;
		case 'v': f->verbose = true; break;
		case 'h': usage(stdout); return -1;
		default: return cmd_usage_error("forward", c, argv, longopts);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ncx forward: unexpected argument '%s'\nTry 'ncx forward --help'.\n",
			argv[optind]);
		return EX_USAGE;
	}
	if (f->nc_cfg.ntargets == 0) {
		cmd_err("forward", "no target: give at least one -t HOST:PORT (see ncx forward --help)");
		return EX_USAGE;
	}
	if (!state)
		snprintf(f->state_path, sizeof(f->state_path), STATE_DIR "/forward-%u.state",
			 (unsigned)f->nc_cfg.src_port);
	else if (strcmp(state, "none")) {
		if (!*state || strlen(state) >= sizeof(f->state_path)) {
			cmd_err("forward", "--state: a file name, or 'none'");
			return EX_USAGE;
		}
		strcpy(f->state_path, state);
	}
	return 0;
}

/* ---- /dev/kmsg ---------------------------------------------------------- */

static int open_kmsg(struct forward *f)
{
	f->kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (f->kfd >= 0)
		return 0;
	if (errno == EPERM || errno == EACCES) {
		cmd_err("forward", "cannot read /dev/kmsg: permission denied (needs CAP_SYSLOG: run "
				   "as root, or grant it, e.g. setcap cap_syslog+ep, or sysctl "
				   "kernel.dmesg_restrict=0)");
		return EX_NOPERM;
	}
	cmd_err("forward", "cannot open /dev/kmsg: %s", strerror(errno));
	return EX_UNAVAILABLE;
}

/* Why the seqs jumped: the read error just before says it. */
static void report_gap(struct forward *f, const struct ncx_kmsg_gap *g)
{
	unsigned long long n = g->count, a = g->first, b = g->last;

	if (g->at_resume)
		ncx_warn("the kernel no longer held %llu records (seq %llu..%llu) that were never "
			 "acked: they were overwritten while no forwarder ran\n", n, a, b);
	else if (f->last_errno == EINVAL)
		ncx_warn("%llu records (seq %llu..%llu) lost: longer than the %d-byte read buffer\n",
			 n, a, b, READ_BUF);
	else if (f->last_errno == EPIPE)
		ncx_warn("the kernel dropped %llu records (seq %llu..%llu) before they could be "
			 "read\n", n, a, b);
	else
		ncx_warn("%llu records (seq %llu..%llu) missing from /dev/kmsg\n", n, a, b);
}

/* The ring's meta holds what a console would show; render reads the record. */
static void put_record(struct forward *f, const struct ncx_ext *e, size_t len)
{
	struct ncx_ring_meta meta = {
		.ts_usec = e->ts_usec,
		.level = e->level,
		.facility = e->facility > 23 ? 23 : e->facility,
	};

	if (ncx_ring_write(&f->ring, &meta, f->buf, len, NULL))
		f->refused++;
	if (!f->first_logged) {
		f->first_logged = true;
		ncx_info("first record forwarded: seq=%llu\n", (unsigned long long)e->seq);
	}
}

static void handle_record(struct forward *f, size_t len)
{
	struct ncx_kmsg_gap gap;
	struct ncx_ext e;
	uint64_t seq;
	bool ok = ncx_ext_parse(f->buf, len, &e) == 0;

	if (ok)
		seq = e.seq;
	else if (ncx_kmsg_seq_of(f->buf, len, &seq)) {
		/* Without a seq it cannot even be accounted for. */
		f->unparsed++;
		ncx_warn("a /dev/kmsg record without a seq was not sent (%zu bytes)\n", len);
		return;
	}
	enum ncx_kmsg_verdict v = ncx_kmsg_seq_next(&f->seq, seq, &gap);

	if (gap.count)
		report_gap(f, &gap);
	f->last_errno = 0;
	if (v == NCX_KMSG_STALE)
		ncx_warn("seq %llu after %llu from /dev/kmsg: not sent\n", (unsigned long long)seq,
			 (unsigned long long)f->seq.last);
	if (v != NCX_KMSG_FORWARD)
		return;
	if (!ok) {
		f->unparsed++;
		ncx_warn("record seq=%llu is not an extended record: not sent\n",
			 (unsigned long long)seq);
		return;
	}
	put_record(f, &e, len);
}

/* Read what the kernel has, up to READ_BATCH records. Returns 0, or an
 * exit status for an error nothing can cure. */
static int read_kmsg(struct forward *f)
{
	for (int i = 0; i < READ_BATCH && !stop_signal; i++) {
		ssize_t n = read(f->kfd, f->buf, READ_BUF);

		if (n > 0) {
			handle_record(f, (size_t)n);
			continue;
		}
		if (n == 0 || errno == EAGAIN)
			return 0;
		switch (errno) {
		case EINTR:
			continue;
		case EPIPE:	/* overrun: the next read gives the oldest record left */
		case EINVAL:	/* record too long: the kernel has skipped it */
			f->last_errno = errno;
			continue;
		default:
			ncx_err("reading /dev/kmsg: %s\n", strerror(errno));
			return EX_IOERR;
		}
	}
	return 0;
}

/* ---- the state file ----------------------------------------------------- */

static int read_boot_id(char *out)
{
	char b[64];
	int fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, b, sizeof(b));
	close(fd);
	if (n < NCX_KMSG_BOOT_ID_LEN)
		return -EIO;
	memcpy(out, b, NCX_KMSG_BOOT_ID_LEN);
	out[NCX_KMSG_BOOT_ID_LEN] = 0;
	return 0;
}

/* Decide where to start: resume after the state's acked seq if it is for
 * this boot and these targets; otherwise --from. */
static void choose_start(struct forward *f)
{
	struct ncx_kmsg_state st;
	char b[NCX_KMSG_STATE_MAX];
	const char *why = "no state file";
	ssize_t n = -1;
	int fd = -1;

	if (*f->state_path)
		fd = open(f->state_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, b, sizeof(b));
		close(fd);
		why = "the state file does not parse";
	} else if (*f->state_path && errno != ENOENT) {
		ncx_warn("cannot read the state file %s: %s\n", f->state_path, strerror(errno));
	}
	if (n >= 0 && ncx_kmsg_state_parse(b, (size_t)n, &st) == 0) {
		if (strcmp(st.boot_id, f->boot_id))
			why = "the state file is from another boot";
		else if (strcmp(st.targets, f->targets))
			why = "the state file is for other targets";
		else {
			ncx_kmsg_seq_init(&f->seq, true, st.acked);
			f->saved_acked = st.acked;
			ncx_info("resuming after seq %llu (the state file %s)\n",
				 (unsigned long long)st.acked, f->state_path);
			return;
		}
	} else if (n >= 0) {
		ncx_warn("%s does not parse as a state file: ignored\n", f->state_path);
	}
	ncx_kmsg_seq_init(&f->seq, false, 0);
	if (f->from == FROM_NOW && lseek(f->kfd, 0, SEEK_END) < 0)
		ncx_warn("cannot seek /dev/kmsg to its end (%s): starting from the oldest record\n",
			 strerror(errno));
	ncx_info("%s: starting from the %s record\n", why,
		 f->from == FROM_NOW ? "next" : "oldest");
}

static int mkdir_parent(const char *path)
{
	char dir[sizeof(((struct forward *)0)->state_path)];
	char *slash;

	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Write tmp, rename over: a reader sees the old state or the new one, never
 * half. No fsync: the state only matters within one boot (boot_id), and
 * within a boot the page cache outlives any crash of ours.
 */
static int write_state(const struct forward *f, uint64_t acked)
{
	struct ncx_kmsg_state st = { .acked = acked };
	char tmp[sizeof(f->state_path) + 8], b[NCX_KMSG_STATE_MAX];
	size_t len;
	int fd, rc = 0;

	memcpy(st.boot_id, f->boot_id, sizeof(st.boot_id));
	memcpy(st.targets, f->targets, sizeof(st.targets));
	len = ncx_kmsg_state_format(&st, b, sizeof(b));
	if (len >= sizeof(b))
		return -EOVERFLOW;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", f->state_path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	if ((rc = mkdir_parent(f->state_path)))
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	errno = 0;
	if (write(fd, b, len) != (ssize_t)len)
		rc = errno ? -errno : -EIO; /* a short write sets no errno */
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, f->state_path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* Save when every target's acks moved on. A failure is reported once, then
 * again only after a save has worked in between. */
static void save_state(struct forward *f, const struct ncx_netcon_stats *sp)
{
	struct ncx_netcon_stats st = *sp;
	int rc;

	if (!*f->state_path)
		return;
	if (st.acked == UINT64_MAX || st.acked == f->saved_acked)
		return;
	rc = write_state(f, st.acked);
	if (rc && !f->save_failing)
		ncx_warn("cannot write the state file %s: %s (forwarding goes on; a restart will "
			 "resend)\n", f->state_path, strerror(-rc));
	if (!rc && f->save_failing)
		ncx_notice("the state file %s is written again\n", f->state_path);
	f->save_failing = rc != 0;
	if (!rc)
		f->saved_acked = st.acked;
}

/* ---- running ------------------------------------------------------------ */

/*
 * netcon counts what it could not send from our ring, but only a log core
 * ring gets its notices: say it here, once per tick at most. Lost: our ring
 * wrapped before netcon read the records (a stalled sender, or a ring too
 * small for a burst); gone: a receiver asked for records the ring no longer
 * held (down for longer than the ring holds).
 */
static void report_ring(struct forward *f, const struct ncx_netcon_stats *st)
{
	if (st->ring_lost > f->ring_lost) {
		ncx_warn("%llu records overwritten in the ring before they were sent (a bigger "
			 "--ring-size holds more)\n",
			 (unsigned long long)(st->ring_lost - f->ring_lost));
		f->ring_lost = st->ring_lost;
	}
	if (st->tx.gone > f->gone) {
		ncx_warn("%llu records asked for again were no longer in the ring\n",
			 (unsigned long long)(st->tx.gone - f->gone));
		f->gone = st->tx.gone;
	}
}

static void tick(struct forward *f)
{
	struct ncx_netcon_stats st;

	ncx_netcon_get_stats(f->nc, &st);
	report_ring(f, &st);
	save_state(f, &st);
}

static int start_netcon(struct forward *f)
{
	int rc;

	f->nc_cfg.from_oldest = true; /* whatever was written before we started */
	rc = ncx_netcon_start(&f->nc, &f->nc_cfg, &f->ring, ncx_kmsg_render, NULL);
	if (rc == 0) {
		ncx_info("stream id %016llx%s\n", (unsigned long long)ncx_netcon_stream_id(f->nc),
			 f->nc_cfg.auth ? ", datagrams tagged" : "");
		return 0;
	}
	if (rc == -EADDRINUSE)
		cmd_err("forward", "source port %u is in use (is another ncx forward running? the "
				   "stock netconsole binds no socket, so it is not the cause)",
			(unsigned)f->nc_cfg.src_port);
	else if (rc == -EACCES)
		cmd_err("forward", "cannot bind source port %u: permission denied",
			(unsigned)f->nc_cfg.src_port);
	else
		cmd_err("forward", "cannot start the sender: %s", strerror(-rc));
	return rc == -ENOMEM ? EX_OSERR : EX_UNAVAILABLE;
}

static int run(struct forward *f, const sigset_t *unblocked)
{
	struct pollfd pfd = { .fd = f->kfd, .events = POLLIN };
	int rc = 0;

	while (!stop_signal) {
		uint64_t now;
		struct timespec ts = { .tv_sec = 1 };

		if ((rc = read_kmsg(f)))
			break;
		now = ncx_now_us();
		if (now - f->last_save_us >= SAVE_EVERY_US) {
			tick(f);
			f->last_save_us = now;
		}
		/* POLLERR comes with an overrun; the next read says EPIPE. */
		if (ppoll(&pfd, 1, &ts, unblocked) < 0 && errno != EINTR) {
			ncx_err("poll on /dev/kmsg: %s\n", strerror(errno));
			rc = EX_IOERR;
			break;
		}
	}
	return rc;
}

static void log_stats(struct forward *f)
{
	struct ncx_netcon_stats st;
	const struct ncx_kmsg_seq *s = &f->seq;

	ncx_netcon_get_stats(f->nc, &st);
	ncx_info("read %llu records: %llu forwarded, %llu acked before (not resent), %llu stale, "
		 "%llu not parsed, %llu refused by the ring; the kernel dropped %llu in %llu gaps\n",
		 (unsigned long long)s->read, (unsigned long long)s->forwarded,
		 (unsigned long long)s->resumed, (unsigned long long)s->stale,
		 (unsigned long long)f->unparsed, (unsigned long long)f->refused,
		 (unsigned long long)s->dropped, (unsigned long long)s->gaps);
	ncx_info("sent %llu records in %llu datagrams; resent %llu on request, %llu in emergency "
		 "(%llu emergencies), %llu as tail probes, %llu gone (%llu placeholders sent); "
		 "%llu responses, %llu malformed, %llu forged, %llu with a bad tag, %llu acks ahead; "
		 "%llu send errors; "
		 "%llu lost in the ring\n",
		 (unsigned long long)st.tx.sent, (unsigned long long)st.tx.datagrams,
		 (unsigned long long)st.tx.resent, (unsigned long long)st.tx.emg_resent,
		 (unsigned long long)st.tx.emergencies, (unsigned long long)st.tx.probes,
		 (unsigned long long)st.tx.gone, (unsigned long long)st.tx.placeholders,
		 (unsigned long long)st.tx.responses, (unsigned long long)st.tx.malformed,
		 (unsigned long long)st.forged, (unsigned long long)st.bad_tag,
		 (unsigned long long)st.tx.ack_ahead,
		 (unsigned long long)st.send_errors, (unsigned long long)st.ring_lost);
	if (st.acked == UINT64_MAX)
		ncx_info("nothing acked yet; %llu unacked\n", (unsigned long long)st.unacked);
	else
		ncx_info("acked through seq %llu by every target; %llu unacked\n",
			 (unsigned long long)st.acked, (unsigned long long)st.unacked);
}

/* Stop: the last acks (bounded), the state, the statistics. */
static void finish(struct forward *f)
{
	if (ncx_netcon_wait_acked(f->nc, EXIT_WAIT_MS))
		ncx_notice("stopping with records not acked by every target\n");
	tick(f);
	if (f->verbose)
		log_stats(f);
	ncx_netcon_stop(f->nc);
	f->nc = NULL;
}

static int setup(struct forward *f)
{
	int rc;

	if ((rc = open_kmsg(f)))
		return rc;
	rc = read_boot_id(f->boot_id);
	if (!rc)
		rc = ncx_boot_stream_id(f->boot_id, strlen(f->boot_id), &f->nc_cfg.stream_id);
	if (rc) {
		/* Without it a state file could resume into another boot; netcon
		 * picks a random stream id (stream_id stays 0), so a restart
		 * looks like a new stream to the receiver. */
		cmd_err("forward", "cannot read %s: %s (keeping no state; a random stream id)",
			BOOT_ID_PATH, strerror(-rc));
		f->state_path[0] = 0;
	}
	f->buf = malloc(READ_BUF);
	f->ring_mem = calloc(1, f->ring_size); /* calloc: zeroed, as the ring requires */
	if (!f->buf || !f->ring_mem) {
		cmd_err("forward", "out of memory (ring of %zu bytes)", f->ring_size);
		return EX_OSERR;
	}
	if (ncx_ring_init(&f->ring, f->ring_mem, f->ring_size)) {
		cmd_err("forward", "bad ring size %zu", f->ring_size);
		return EX_USAGE;
	}
	choose_start(f);
	if (!f->no_sandbox && (rc = forward_sandbox_enter(f->state_path)))
		return rc;
	return start_netcon(f);
}

static void teardown(struct forward *f)
{
	if (f->nc)
		ncx_netcon_stop(f->nc);
	if (f->kfd >= 0)
		close(f->kfd);
	free(f->buf);
	free(f->ring_mem);
	explicit_bzero(&f->nc_cfg.key, sizeof(f->nc_cfg.key));
}

int cmd_forward(int argc, char **argv)
{
	struct forward f = {
		.kfd = -1,
		.ring_size = (size_t)1 << NCX_RING_DEFAULT_ORDER,
		.nc_cfg.src_port = DEFAULT_SRC_PORT,
		.saved_acked = UINT64_MAX,
	};
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t stops, old;
	int rc;

	ncx_netcon_config_default(&f.nc_cfg);
	f.nc_cfg.src_port = DEFAULT_SRC_PORT;
	/* The receiver also hears the kernel's own netconsole, and is often
	 * ahead: an ack of seqs not sent yet acks what was sent (tx.h). */
	f.nc_cfg.tx.ack_ahead_clamp = true;
	rc = parse_args(&f, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;

	/* Blocked before our threads start, so they inherit the block and the
	 * signals wait for this thread's ppoll() (the log's console thread,
	 * already running, blocks every signal itself). */
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigdelset(&old, SIGINT);
	sigdelset(&old, SIGTERM);
	if (f.verbose)
		cmd_log_level(NCX_LOG_INFO);

	rc = setup(&f);
	if (rc == 0) {
		rc = run(&f, &old);
		finish(&f);
	}
	teardown(&f);
	return rc;
}
