/* SPDX-License-Identifier: MIT */
/*
 * ncx-loadgen: simulate many netconsole hosts on loopback, for benchmarks and
 * tests of receivers. Each host is a socket bound to its own 127.x address
 * and the netconsole source port; each sends extended records with its own
 * seq from 0. It sends only to loopback, and stops by itself.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <ncx/log.h>
#include <ncx/num.h>

#include "loadgen.h"

#define MAX_HOSTS 100000

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncx-loadgen -t HOST:PORT [--hosts N] [--rate R] (--records T | --seconds S)\n"
		"                   [--base ADDR] [--src-port P] [--len BYTES] [--seed N]\n"
		"                   [--fragment-every K] [--burst B] [--seq-start N]\n\n"
		"Simulate N netconsole hosts sending extended records to a receiver on loopback.\n\n"
		"  -t, --target HOST:PORT  receiver; only 127.0.0.0/8 or ::1 (port default 6666)\n"
		"  -n, --hosts N           simulated hosts, one socket each (default 1, max %d)\n"
		"  -r, --rate R            records per second over all hosts; 0: unpaced (default 1000)\n"
		"      --records T         stop after T records per host\n"
		"      --seconds S         stop after S seconds (either or both limits; one is required)\n"
		"      --base ADDR         first host's source address; host i uses ADDR + i\n"
		"                          (default 127.1.0.1; ::1 for an IPv6 target, where the\n"
		"                          hosts differ by source port instead)\n"
		"      --src-port P        source port of every host (default 6665, as netconsole)\n"
		"      --len BYTES         mean text length, varied 0.5x..1.5x (default 120)\n"
		"      --seed N            content seed (default 1)\n"
		"      --fragment-every K  every K-th record of a host is 1200..3000 bytes of text,\n"
		"                          sent as netconsole fragments (default 0: none)\n"
		"      --burst B           records a host sends per turn (default 1, max 64)\n"
		"      --seq-start N       every host's first seq (default 0), so that a second\n"
		"                          run continues the first one's streams\n"
		"  -h, --help\n\n"
		"Record text is \"loadgen host=<i> seq=<s> \" then padding: \"a..z0..9\" cycled from\n"
		"index s %% 36. About one record in five has the dictionary\n"
		"\" SUBSYSTEM=net\\n DEVICE=+net:eth<i%%4>\\n\". Hosts take turns, so records\n"
		"interleave, and every host sends as many records as the others, give or take\n"
		"one turn.\n\n"
		"At the end one summary line goes to stderr:\n"
		"  ncx-loadgen: records=.. datagrams=.. bytes=.. errors=.. hosts=.. elapsed=..s\n"
		"  rate=../s per_host=MIN..MAX\n"
		"Exit status: 0, %d for bad usage, %d if sockets could not be set up, %d if any\n"
		"datagram could not be sent.\n",
		MAX_HOSTS, EX_USAGE, EX_OSERR, EX_IOERR);
}

static bool is_loopback(const struct ncx_addr *a)
{
	static const uint8_t v6_lo[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->addr[0] == 127;
	return !memcmp(a->addr, v6_lo, sizeof(v6_lo));
}

/* Every host's source address must be loopback too: base + N - 1 must not
 * leave 127.0.0.0/8 (nor be its broadcast address), a port must not wrap. */
static bool hosts_fit(const struct lg_opts *o)
{
	if (o->base.family == AF_INET6)
		return (uint32_t)o->base.port + o->hosts - 1 <= 65535;
	uint32_t first = (uint32_t)o->base.addr[1] << 16 | (uint32_t)o->base.addr[2] << 8 |
			 o->base.addr[3];

	return first + o->hosts - 1 < 0xffffff;
}

static int bad(const char *what, const char *arg)
{
	ncx_err("bad %s '%s' (try --help)\n", what, arg);
	return EX_USAGE;
}

enum { OPT_RECORDS = 256, OPT_SECONDS, OPT_BASE, OPT_SRCPORT, OPT_LEN, OPT_SEED, OPT_FRAG,
       OPT_BURST, OPT_SEQSTART };

static const struct option longopts[] = {
	{ "target", required_argument, NULL, 't' },
	{ "hosts", required_argument, NULL, 'n' },
	{ "rate", required_argument, NULL, 'r' },
	{ "records", required_argument, NULL, OPT_RECORDS },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "base", required_argument, NULL, OPT_BASE },
	{ "src-port", required_argument, NULL, OPT_SRCPORT },
	{ "len", required_argument, NULL, OPT_LEN },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "fragment-every", required_argument, NULL, OPT_FRAG },
	{ "burst", required_argument, NULL, OPT_BURST },
	{ "seq-start", required_argument, NULL, OPT_SEQSTART },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

/* One option into o; returns 0 or an exit status. */
static int take_opt(int c, const char *arg, struct lg_opts *o, const char **target,
		    const char **base, uint64_t *src_port)
{
	uint64_t v;
	char *end;

	switch (c) {
	case 't': *target = arg; return 0;
	case OPT_BASE: *base = arg; return 0;
	case 'n':
		if (ncx_num_parse(arg, 1, MAX_HOSTS, &v))
			return bad("--hosts", arg);
		o->hosts = (uint32_t)v;
		return 0;
	case 'r': return ncx_num_parse(arg, 0, 100000000, &o->rate) ? bad("--rate", arg) : 0;
	case OPT_RECORDS:
		return ncx_num_parse(arg, 1, UINT32_MAX, &o->records) ? bad("--records", arg) : 0;
	case OPT_SECONDS:
		errno = 0;
		o->seconds = strtod(arg, &end);
		if (errno || *end || end == arg || !(o->seconds > 0 && o->seconds <= 86400))
			return bad("--seconds", arg);
		return 0;
	case OPT_SRCPORT: return ncx_num_parse(arg, 1, 65535, src_port) ? bad("--src-port", arg) : 0;
	case OPT_LEN:
		if (ncx_num_parse(arg, 1, LG_TEXT_MAX, &v))
			return bad("--len", arg);
		o->len = (uint32_t)v;
		return 0;
	case OPT_SEED: return ncx_num_parse(arg, 0, UINT64_MAX, &o->seed) ? bad("--seed", arg) : 0;
	case OPT_FRAG:
		if (ncx_num_parse(arg, 0, UINT32_MAX, &v))
			return bad("--fragment-every", arg);
		o->frag_every = (uint32_t)v;
		return 0;
	case OPT_BURST:
		if (ncx_num_parse(arg, 1, 64, &v))
			return bad("--burst", arg);
		o->burst = (uint32_t)v;
		return 0;
	case OPT_SEQSTART:
		return ncx_num_parse(arg, 0, UINT64_MAX / 2, &o->seq_start) ? bad("--seq-start", arg) : 0;
	case 'h': usage(stdout); exit(0);
	default: usage(stderr); return EX_USAGE;
	}
}

/* The addresses, and the checks that keep traffic on loopback. */
static int resolve(struct lg_opts *o, const char *target, const char *base, uint64_t src_port)
{
	if (!target) {
		ncx_err("-t HOST:PORT is required (try --help)\n");
		return EX_USAGE;
	}
	if (ncx_addr_parse(target, 6666, &o->target) < 0 || o->target.port == 0)
		return bad("target", target);
	if (!is_loopback(&o->target)) {
		ncx_err("refusing target %s: only 127.0.0.0/8 and ::1\n", target);
		return EX_USAGE;
	}
	if (!base)
		base = o->target.family == AF_INET ? "127.1.0.1" : "::1";
	if (ncx_addr_parse(base, 0, &o->base) < 0 || !is_loopback(&o->base))
		return bad("--base (a 127.x.y.z or ::1 address)", base);
	if (o->base.family != o->target.family)
		return bad("--base (not the target's address family)", base);
	o->base.port = (uint16_t)src_port;
	if (!hosts_fit(o)) {
		ncx_err("%u hosts from %s do not fit in loopback\n", o->hosts, base);
		return EX_USAGE;
	}
	if (!o->records && o->seconds <= 0) {
		ncx_err("give --records or --seconds, so the run ends\n");
		return EX_USAGE;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct lg_opts *o)
{
	const char *target = NULL, *base = NULL;
	uint64_t src_port = 6665;
	int c, rc;

	*o = (struct lg_opts){ .hosts = 1, .rate = 1000, .len = 120, .seed = 1, .burst = 1 };
	while ((c = getopt_long(argc, argv, "t:n:r:h", longopts, NULL)) != -1)
		if ((rc = take_opt(c, optarg, o, &target, &base, &src_port)))
			return rc;
	if (optind < argc) {
		ncx_err("unexpected argument '%s' (try --help)\n", argv[optind]);
		return EX_USAGE;
	}
	return resolve(o, target, base, src_port);
}

static void on_signal(int sig)
{
	(void)sig;
	lg_stop = 1;
}

static void summary(const struct lg_opts *o, const struct lg_stats *st)
{
	double secs = (double)st->elapsed_us / 1e6;

	fprintf(stderr,
		"ncx-loadgen: records=%" PRIu64 " datagrams=%" PRIu64 " bytes=%" PRIu64
		" errors=%" PRIu64 " hosts=%u elapsed=%.3fs rate=%.0f/s per_host=%" PRIu64
		"..%" PRIu64 "\n",
		st->records, st->datagrams, st->bytes, st->errors, o->hosts, secs,
		secs > 0 ? (double)st->records / secs : 0.0, st->min_sent, st->max_sent);
	if (st->errors)
		ncx_warn("%" PRIu64 " datagrams not sent; first error: %s\n", st->errors,
			 strerror(st->first_errno));
	if (o->rate && secs > 1 && (double)st->records / secs < 0.95 * (double)o->rate)
		ncx_warn("could not keep up: %.0f of %" PRIu64 " records/s\n",
			 (double)st->records / secs, o->rate);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct lg_opts o;
	struct lg_hosts h;
	struct lg_stats st;
	int rc;

	/* Our own diagnostics through the log core (flushed at exit); the
	 * summary line is the tool's output and stays a plain print. */
	if (!ncx_log_start_stderr("ncx-loadgen", NCX_LOG_INFO)) {
		fprintf(stderr, "ncx-loadgen: cannot start the log: %s\n", strerror(errno));
		return EX_OSERR;
	}
	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	if (o.records && o.records * o.hosts / o.hosts != o.records)
		return bad("--records (too many in all)", "");
	if (lg_hosts_open(&h, &o) < 0)
		return EX_OSERR;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = lg_run(&o, &h, &st);
	lg_hosts_close(&h);
	if (rc < 0) {
		ncx_err("%s\n", strerror(-rc));
		return EX_OSERR;
	}
	summary(&o, &st);
	return st.errors ? EX_IOERR : 0;
}
