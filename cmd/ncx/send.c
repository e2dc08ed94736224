/* SPDX-License-Identifier: MIT */
/*
 * ncx send: log lines through the log core and a reliable netcon, and wait
 * until every receiver has acked them. The smallest complete sender: the
 * same ring, the same console and the same protocol a program linking
 * libncx uses, driven from the command line.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ncx/addr.h>
#include <ncx/auth.h>
#include <ncx/log.h>
#include <ncx/netcon.h>
#include <ncx/udp.h>

#include "ncx.h"

#define DEFAULT_TIMEOUT 60
#define RING_BYTES (16u << 20)
/*
 * Records logged but not yet acked by every receiver may fill half the
 * ring, counted as if each were as long as the longest logged so far (at
 * most NCX_LOG_LINE_MAX + 40 bytes: 8192 records; short lines: many more).
 * What is in flight is never overwritten before the receivers have it,
 * however fast stdin comes; the other half is slack for the console's own
 * notices. The window is what bounds throughput: the receiver acks about
 * every 100 ms.
 */
#define WINDOW_MAX (1u << 20)
/* Waiting for acks this long without a single answer: say so, once. */
#define NO_ANSWER_US 3000000u
#define TAG_MAX 128

enum { OPT_NO_WAIT = 256, OPT_TIMEOUT, OPT_RATE, OPT_AUTH_KEY };

struct sender {
	struct ncx_netcon_config cfg;
	struct ncx_netcon *nc;
	struct ncx_ring *ring;
	int level;
	int timeout_s;		/* 0: no limit */
	bool wait;
	bool verbose;
	uint64_t logged;	/* records this run wrote */
	uint64_t longest;	/* ring bytes of the longest record so far */
	uint64_t start_us;	/* when the console started */
	bool told;		/* "no answer yet" said, or an answer came */
	size_t taglen;		/* "TAG: " at the start of line, or 0 */
	char line[NCX_LOG_LINE_MAX]; /* one record: the tag, then the text */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncx send -t HOST:PORT [-t HOST:PORT]... [-p SRCPORT] [-L LEVEL] [-T TAG]\n"
		"                [--no-wait] [--timeout SECONDS] [--rate PPS] [--auth-key FILE] [-v]\n"
		"                [MESSAGE...]\n"
		"\n"
		"Log MESSAGE (the arguments joined by spaces) as one record, or, with no\n"
		"arguments, each line of standard input as one record, and send the records\n"
		"to every target as a reliable netconsole sender: the kernel's extended\n"
		"format marked ncrx=1, which ncxd and `ncx listen` acknowledge. Records a\n"
		"receiver asks for again are resent; if a receiver acks nothing for 10 s,\n"
		"the unacked records are resent marked ncemg=1, every 100 ms backing off to\n"
		"once a second. The first record goes alone until every target has acked\n"
		"it (a receiver starts a sender's stream at the first record it gets), for\n"
		"at most 5 s. Any stock netconsole receiver reads the records too (it\n"
		"ignores the ncrx key; it costs those 5 s). A line longer than %d bytes\n"
		"becomes several records. Every run is a stream of its own: its datagrams\n"
		"carry a random stream id (ncid=<16 hex digits>), new each run.\n"
		"\n"
		"By default ncx send exits 0 once every record has been acked by every\n"
		"target, and 69 (EX_UNAVAILABLE) if that has not happened within the\n"
		"timeout, saying on stderr how many records were never acked. If no target\n"
		"has answered at all after 3 s, it says so once on stderr and waits on.\n"
		"\n"
		"  -t, --target HOST:PORT  a receiver: a numeric IPv4 or IPv6 address\n"
		"                          (127.0.0.1:6666, [::1]:6666; no DNS); the port\n"
		"                          defaults to %d. Repeatable, up to %d targets.\n"
		"  -p, --src-port PORT     send from this UDP port (default: one the kernel\n"
		"                          picks). Every run starts again at seq 0; a receiver\n"
		"                          that knows stream ids (ncxd) sees each run's new id\n"
		"                          and starts a new stream. One that does not knows a\n"
		"                          sender by address and port only: to it, runs from\n"
		"                          one fixed port look like reboots of one sender.\n"
		"  -L, --level LEVEL       the records' level: emerg, alert, crit, err (error),\n"
		"                          warning (warn), notice, info, debug, or 0..7\n"
		"                          (default info)\n"
		"  -T, --tag TAG           begin each record's text with \"TAG: \" (as logger(1)\n"
		"                          does; at most %d bytes)\n"
		"      --no-wait           exit once every record is sent, without waiting\n"
		"                          for acks (a short pause lets early answers in);\n"
		"                          the first record is not held for its ack either\n"
		"      --timeout SECONDS   how long to wait for the acks after the last record\n"
		"                          is logged, and how long a full window of unacked\n"
		"                          records (half the ring) may wait for progress\n"
		"                          while reading (default %d; 0: wait for ever)\n"
		"      --rate PPS          send at most PPS datagrams per second, all targets\n"
		"                          together (default: no cap)\n"
		"      --auth-key FILE     tag every datagram with this host's key (ncmac) and\n"
		"                          take only responses with a good tag: FILE holds 32\n"
		"                          hex digits (ncx key derive --secret SECRET ADDRESS,\n"
		"                          ADDRESS this host's as the receiver sees it) and\n"
		"                          must not be readable by group or others\n"
		"  -v, --verbose           print the console's counters on stderr at exit\n"
		"  -h, --help              this text\n"
		"\n"
		"Exit status: 0 all acked (or sent, with --no-wait); 64 a bad command line\n"
		"or key file; 69 not all acked in time, or the source port cannot be bound;\n"
		"71 another system error (memory, threads).\n"
		"\n"
		"Examples:\n"
		"  ncx send -t 10.0.0.5:6666 \"backup finished\"\n"
		"  dmesg | ncx send -t 10.0.0.5 -t [fd00::5]:6666 -L notice -T dmesg --timeout 120\n",
		NCX_LOG_LINE_MAX, CMD_DEFAULT_PORT, NCX_TX_TARGETS_MAX, TAG_MAX, DEFAULT_TIMEOUT);
}

/* A level by name or number; -1 if neither. */
static int parse_level(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
		{ "emerg", 0 },	 { "alert", 1 },   { "crit", 2 },    { "err", 3 },
		{ "error", 3 },	 { "warning", 4 }, { "warn", 4 },    { "notice", 5 },
		{ "info", 6 },	 { "debug", 7 },
	};

	if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
		return s[0] - '0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].level;
	return -1;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return false;
	*out = v;
	return true;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Records in the ring not yet acked by every target. tx never acks past
 * what was sent (an ack of seqs not sent yet is ignored), but this is a
 * count that goes into a message: never let it wrap. */
static uint64_t in_flight(struct sender *s, uint64_t *acked_next)
{
	struct ncx_netcon_stats st;
	uint64_t next = ncx_ring_next_seq(s->ring);

	ncx_netcon_get_stats(s->nc, &st);
	*acked_next = st.acked + 1;	/* UINT64_MAX (none yet) wraps to 0 */
	return *acked_next >= next ? 0 : next - *acked_next;
}

/*
 * After NO_ANSWER_US of waiting without a single response from any target,
 * once, on stderr only (not a record: it is not for the receivers). Only
 * when acks are awaited.
 */
static void check_answer(struct sender *s)
{
	struct ncx_netcon_stats st;
	char list[NCX_TX_TARGETS_MAX * (NCX_ADDR_TEXT_MAX + 2)];
	size_t n = 0;

	if (s->told || !s->wait || ncx_now_us() - s->start_us < NO_ANSWER_US)
		return;
	s->told = true;
	ncx_netcon_get_stats(s->nc, &st);
	if (st.tx.responses)
		return;
	for (unsigned i = 0; i < s->cfg.ntargets; i++) {
		if (i)
			n += (size_t)snprintf(list + n, sizeof(list) - n, ", ");
		n += ncx_addr_format(&s->cfg.targets[i], true, list + n, sizeof(list) - n);
	}
	/* Answers that all failed the tag check: most likely the wrong key. */
	if (st.bad_tag)
		fprintf(stderr, "ncx send: no answer from %s with a good tag yet (%llu without: "
				"does ncxd have --auth-key, and is ours the key it derives for "
				"this host?)\n",
			list, (unsigned long long)st.bad_tag);
	else if (s->cfg.auth)	/* a receiver that requires tags drops wrong ones silently */
		fprintf(stderr, "ncx send: no answer from %s yet (is ncxd running, and is "
				"--auth-key the key it derives for this host?)\n", list);
	else
		fprintf(stderr, "ncx send: no answer from %s yet (is ncxd running?)\n", list);
}

static uint64_t window(const struct sender *s)
{
	uint64_t w = RING_BYTES / 2 / s->longest;

	return w < WINDOW_MAX ? w : WINDOW_MAX;
}

/*
 * Wait for room in the window for a record of len bytes. Returns false if
 * the receivers made no progress for the whole timeout.
 */
static bool window_wait(struct sender *s, size_t len)
{
	uint64_t acked, last = 0, since = ncx_now_us();

	if (ncx_ring_rec_bytes(len) > s->longest)
		s->longest = ncx_ring_rec_bytes(len);
	while (in_flight(s, &acked) >= window(s)) {
		if (acked != last) {
			last = acked;
			since = ncx_now_us();
		} else if (s->timeout_s && ncx_now_us() - since > (uint64_t)s->timeout_s * 1000000) {
			return false;
		}
		check_answer(s);
		sleep_ms(1);
	}
	return true;
}

/* One logical line as records of at most NCX_LOG_LINE_MAX bytes, each
 * with the tag (if any) in front. */
static bool log_line(struct sender *s, const char *p, size_t len)
{
	size_t room = NCX_LOG_LINE_MAX - s->taglen;

	do {
		size_t n = len > room ? room : len;
		int err;

		if (!window_wait(s, s->taglen + n))
			return false;
		memcpy(s->line + s->taglen, p, n);
		err = ncx_log_write(s->level, s->line, s->taglen + n);
		if (err) {
			cmd_err("send", "cannot log: %s", strerror(-err));
			return false;
		}
		s->logged++;
		p += n, len -= n;
	} while (len);
	return true;
}

static bool log_args(struct sender *s, int argc, char **argv)
{
	size_t len = 0;
	char *msg, *p;
	bool ok;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	msg = p = malloc(len);
	if (!msg)
		return false;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);

		memcpy(p, argv[i], n);
		p += n;
		*p++ = ' ';
	}
	ok = log_line(s, msg, len - 1);
	free(msg);
	return ok;
}

static bool log_stdin(struct sender *s)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool ok = true;

	while (ok && (n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		ok = log_line(s, line, (size_t)n);
	}
	if (ok && ferror(stdin)) {
		cmd_err("send", "reading standard input: %s", strerror(errno));
		ok = false;
	}
	free(line);
	return ok;
}

/* The -v summary is the command's output, not a log line: plain stderr. */
static void print_stats(struct sender *s)
{
	struct ncx_netcon_stats st;

	ncx_netcon_get_stats(s->nc, &st);
	fprintf(stderr,
		"ncx send: %llu records logged; sent %llu in %llu datagrams; resent %llu, "
		"emergency resends %llu (%llu emergencies), tail probes %llu, gone %llu "
		"(placeholders %llu), paced %llu, waits for acks %llu; "
		"responses %llu, malformed %llu, forged %llu, bad tags %llu, acks ahead %llu; "
		"send errors %llu, "
		"ring lost %llu; "
		"acked up to seq ",
		(unsigned long long)s->logged, (unsigned long long)st.tx.sent,
		(unsigned long long)st.tx.datagrams, (unsigned long long)st.tx.resent,
		(unsigned long long)st.tx.emg_resent, (unsigned long long)st.tx.emergencies,
		(unsigned long long)st.tx.probes, (unsigned long long)st.tx.gone,
		(unsigned long long)st.tx.placeholders, (unsigned long long)st.tx.paced,
		(unsigned long long)st.tx.capped,
		(unsigned long long)st.tx.responses, (unsigned long long)st.tx.malformed,
		(unsigned long long)st.forged, (unsigned long long)st.bad_tag,
		(unsigned long long)st.tx.ack_ahead,
		(unsigned long long)st.send_errors, (unsigned long long)st.ring_lost);
	if (st.acked == UINT64_MAX)
		fputs("(none)", stderr);
	else
		fprintf(stderr, "%llu", (unsigned long long)st.acked);
	fprintf(stderr, ", unacked %llu\n", (unsigned long long)st.unacked);
}

/* --no-wait: until the console has taken every record (5 s at most). */
static void wait_sent(struct sender *s)
{
	uint64_t end = ncx_now_us() + 5000000;
	struct ncx_netcon_stats st;

	do {
		ncx_netcon_get_stats(s->nc, &st);
		if (st.tx.sent + st.skipped + st.ring_lost >= ncx_ring_next_seq(s->ring))
			break;
		sleep_ms(1);
	} while (ncx_now_us() < end);
	(void)ncx_netcon_wait_acked(s->nc, 100);	/* the short drain */
}

/* ncx_netcon_wait_acked() in slices, to say "no answer yet" on time. */
static int wait_acked(struct sender *s)
{
	uint64_t end = s->timeout_s ? ncx_now_us() + (uint64_t)s->timeout_s * 1000000u : UINT64_MAX;

	for (;;) {
		uint64_t now = ncx_now_us();
		int slice = end - now < 200000 ? (int)((end - now) / 1000) : 200;

		if (ncx_netcon_wait_acked(s->nc, slice) == 0)
			return 0;
		check_answer(s);
		if (ncx_now_us() >= end)
			return -ETIMEDOUT;
	}
}

static int finish(struct sender *s, bool logged_all)
{
	int rc = 0;

	if (!s->wait) {
		wait_sent(s);
	} else if (!logged_all || wait_acked(s)) {
		uint64_t acked;
		uint64_t left = in_flight(s, &acked);

		cmd_err("send", "%llu of %llu records were not acked by every receiver within %d s",
			(unsigned long long)left, (unsigned long long)ncx_ring_next_seq(s->ring),
			s->timeout_s);
		rc = EX_UNAVAILABLE;
	}
	if (s->verbose)
		print_stats(s);
	ncx_netcon_stop(s->nc);
	explicit_bzero(&s->cfg.key, sizeof(s->cfg.key));
	return rc;
}


static int parse_args(struct sender *s, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "src-port", required_argument, NULL, 'p' },
		{ "level", required_argument, NULL, 'L' },
		{ "tag", required_argument, NULL, 'T' },
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "auth-key", required_argument, NULL, OPT_AUTH_KEY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long v;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:p:L:T:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if ((rc = cmd_add_target("send", &s->cfg, optarg)))
				return rc;
			break;
		case 'p':
			if (!parse_uint(optarg, 65535, &v) || !v) {
				cmd_err("send", "source port '%s' is not 1..65535", optarg);
				return EX_USAGE;
			}
			s->cfg.src_port = (uint16_t)v;
			break;
		case 'T': {
			size_t n = strlen(optarg);

			if (n > TAG_MAX || strchr(optarg, '\n')) {
				cmd_err("send", "tag: at most %d bytes, one line", TAG_MAX);
				return EX_USAGE;
			}
			memcpy(s->line, optarg, n);
			memcpy(s->line + n, ": ", 2);
			s->taglen = n + 2;
			break;
		}
		case 'L':
			if ((s->level = parse_level(optarg)) < 0) {
				cmd_err("send", "'%s' is not a level (emerg..debug or 0..7)", optarg);
				return EX_USAGE;
			}
			break;
		case OPT_NO_WAIT:
			s->wait = false;
			/* No acks awaited: no point holding the stream for its first ack. */
			s->cfg.tx.start_hold_us = 0;
			break;
		case OPT_TIMEOUT:
			if (!parse_uint(optarg, 24 * 3600 * 365, &v)) {
				cmd_err("send", "timeout '%s' is not a number of seconds", optarg);
				return EX_USAGE;
			}
			s->timeout_s = (int)v;
			break;
		case OPT_RATE:
			if (!parse_uint(optarg, UINT32_MAX, &v) || !v) {
				cmd_err("send", "rate '%s' is not a positive number of datagrams/s", optarg);
				return EX_USAGE;
			}
			s->cfg.tx.max_pps = (uint32_t)v;
			break;
		case OPT_AUTH_KEY: {
			char why[512];

			if (ncx_auth_key_load(optarg, &s->cfg.key, why, sizeof(why))) {
				cmd_err("send", "--auth-key: %s", why);
				return EX_USAGE;
			}
			s->cfg.auth = true;
			break;
		}
		case 'v': s->verbose = true; break;
		case 'h': usage(stdout); return -1;
		default: return cmd_usage_error("send", c, argv, longopts);
		}
	}
	if (!s->cfg.ntargets) {
		cmd_err("send", "no target: say where with -t HOST:PORT (try --help)");
		return EX_USAGE;
	}
	return 0;
}

int cmd_send(int argc, char **argv)
{
	static struct ncx_netcon_log all = { .level = NCX_LOG_DEBUG, .flags = NCX_CON_ALLDATA };
	struct ncx_log_config lc = { .ring_size = RING_BYTES };
	struct sender s = { .level = NCX_LOG_INFO, .timeout_s = DEFAULT_TIMEOUT, .wait = true };
	int rc, err;
	bool ok;

	ncx_netcon_config_default(&s.cfg);
	rc = parse_args(&s, argc, argv);
	if (rc)
		return rc < 0 ? 0 : rc;
	/*
	 * The log core is what we send, and it has no console on stderr: a
	 * console filters by level only, so it would print the records too.
	 * Our own errors (cmd_err()) go into the ring once it is up, and so
	 * out to the receivers, as a kernel's own messages go out on
	 * netconsole; cmd_err() also prints them on stderr itself.
	 */
	err = ncx_log_init(&lc);
	if (err && err != -EALREADY) {
		cmd_err("send", "cannot set up the log: %s", strerror(-err));
		return EX_OSERR;
	}
	s.ring = ncx_log_ring();
	s.cfg.from_oldest = true;	/* nothing logged before the console starts is missed */
	err = ncx_netcon_start(&s.nc, &s.cfg, s.ring, ncx_netcon_render_log, &all);
	if (err) {
		cmd_err("send", "cannot start the console%s: %s",
			err == -EADDRINUSE ? " (the source port is in use)" : "", strerror(-err));
		/* As replay and forward: a socket that cannot be bound is 69. */
		return err == -ENOMEM || err == -EAGAIN ? EX_OSERR : EX_UNAVAILABLE;
	}
	signal(SIGPIPE, SIG_IGN);
	s.start_us = ncx_now_us();
	ok = optind < argc ? log_args(&s, argc - optind, argv + optind) : log_stdin(&s);
	return finish(&s, ok);
}
