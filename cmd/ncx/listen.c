/* SPDX-License-Identifier: MIT */
/*
 * ncx listen: the receiver engine on a terminal. Every record from every
 * sender becomes one line on stdout; gaps, reboots (and with -v, drops) get
 * lines of their own; reliable senders get their acks and retransmission
 * requests. For a whole fleet, writing files, use ncxd.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ncx/addr.h>
#include <ncx/num.h>
#include <ncx/rx.h>
#include <ncx/udp.h>

#include "ncx.h"

#define MAX_SOCKETS 16

struct listener {
	struct ncx_rx *rx;
	int fds[MAX_SOCKETS];
	int nfds;
	bool verbose;
	bool dict;
	FILE *out;
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void print_from(struct listener *l, const struct ncx_addr *from)
{
	char a[NCX_ADDR_TEXT_MAX];

	ncx_addr_format(from, true, a, sizeof(a));
	fputs(a, l->out);
}

/* Text that came as raw bytes (legacy) is escaped the kernel's way, so one
 * record is always one line whatever it holds. */
static void print_escaped(FILE *out, const char *p, size_t len)
{
	char buf[4096];

	while (len) {
		size_t n = len > 1000 ? 1000 : len;
		size_t w = ncx_escape(p, n, buf, sizeof(buf));

		fwrite(buf, 1, w, out);
		p += n;
		len -= n;
	}
}

static void print_record(struct listener *l, const struct ncx_ext *r)
{
	struct ncx_span text, dict, key, val;

	ncx_ext_split_body(r->body, &text, &dict);
	fprintf(l->out, " seq=%llu %s [%5llu.%06llu] ", (unsigned long long)r->seq,
		ncx_level_name(r->level), (unsigned long long)(r->ts_usec / 1000000),
		(unsigned long long)(r->ts_usec % 1000000));
	/* Extended text is escaped on the wire already: print it as it came. */
	fwrite(text.p, 1, text.len, l->out);
	fputc('\n', l->out);
	while (l->dict && ncx_dict_next(&dict, &key, &val)) {
		fputs("    ", l->out);
		fwrite(key.p, 1, key.len, l->out);
		fputc('=', l->out);
		fwrite(val.p, 1, val.len, l->out);
		fputc('\n', l->out);
	}
}

static void print_legacy(struct listener *l, const struct ncx_legacy *g)
{
	if (g->dropped_notice) {
		fprintf(l->out, " legacy dropped=%llu (the sender's kernel dropped printk messages)\n",
			(unsigned long long)g->dropped);
		return;
	}
	if (g->has_ts)
		fprintf(l->out, " legacy [%5llu.%06llu] ", (unsigned long long)(g->ts_usec / 1000000),
			(unsigned long long)(g->ts_usec % 1000000));
	else
		fputs(" legacy ", l->out);
	print_escaped(l->out, g->text.p, g->text.len);
	fputc('\n', l->out);
}

static void send_response(struct listener *l, const struct ncx_rx_event *ev)
{
	struct sockaddr_storage ss;
	socklen_t len = ncx_addr_to_sockaddr(ev->from, &ss);
	int fd = (int)(intptr_t)*ev->user - 1;

	/* A lost response is recovered by the protocol's timers: no retry here. */
	(void)sendto(fd, ev->response.p, ev->response.len, MSG_DONTWAIT, (struct sockaddr *)&ss, len);
}

static void on_event(void *arg, const struct ncx_rx_event *ev)
{
	struct listener *l = arg;

	/* Remember which socket a sender reached (the feed's ctx), to answer
	 * from the same port, timers' responses too. */
	if (ev->user && ev->ctx)
		*ev->user = (void *)(intptr_t)(*(const int *)ev->ctx + 1);

	switch (ev->kind) {
	case NCX_RX_RECORD:
		print_from(l, ev->from);
		print_record(l, &ev->record);
		break;
	case NCX_RX_LEGACY:
		print_from(l, ev->from);
		print_legacy(l, &ev->legacy);
		break;
	case NCX_RX_GAP:
		print_from(l, ev->from);
		fprintf(l->out, " gap seq=%llu..%llu count=%llu %s\n",
			(unsigned long long)ev->gap.first, (unsigned long long)ev->gap.last,
			(unsigned long long)(ev->gap.last - ev->gap.first + 1),
			ev->gap.lost ? "lost" : "not received");
		break;
	case NCX_RX_REBOOT:
		print_from(l, ev->from);
		fprintf(l->out, " reboot prev_seq=%llu seq=%llu\n",
			(unsigned long long)ev->reboot.prev_seq, (unsigned long long)ev->reboot.seq);
		break;
	case NCX_RX_DROP:
		if (!l->verbose)
			break;
		print_from(l, ev->from);
		fprintf(l->out, " dropped %llu %s", (unsigned long long)ev->drop.records,
			ncx_rx_drop_reason_name(ev->drop.reason));
		if (ev->drop.has_seq)
			fprintf(l->out, " seq=%llu", (unsigned long long)ev->drop.seq);
		fputc('\n', l->out);
		break;
	case NCX_RX_RESPONSE:
		if (ev->user && *ev->user)
			send_response(l, ev);
		break;
	case NCX_RX_SENDER_GONE:
		break;
	}
}

static void receive_batch(struct listener *l, int *fd, struct ncx_udp_batch *b)
{
	uint64_t now;

	if (ncx_udp_recv_batch(*fd, b) == 0)
		return;
	now = ncx_now_us();
	for (int i = 0; i < b->n; i++)
		ncx_rx_feed(l->rx, &b->from[i], b->data[i], b->len[i], now, fd);
}

static int run(struct listener *l)
{
	struct ncx_udp_batch batch;
	struct pollfd pfd[MAX_SOCKETS];

	if (ncx_udp_batch_init(&batch, NCX_WIRE_DGRAM_MAX) < 0)
		return EX_OSERR;
	for (int i = 0; i < l->nfds; i++)
		pfd[i] = (struct pollfd){ .fd = l->fds[i], .events = POLLIN };

	while (!stop_signal) {
		uint64_t now = ncx_now_us(), due = ncx_rx_next_deadline(l->rx);
		int timeout = 1000;

		if (due != UINT64_MAX)
			timeout = due <= now ? 0 : (int)((due - now + 999) / 1000);
		if (timeout > 1000)
			timeout = 1000;
		if (poll(pfd, (nfds_t)l->nfds, timeout) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < l->nfds; i++)
			if (pfd[i].revents & POLLIN)
				receive_batch(l, &l->fds[i], &batch);
		ncx_rx_tick(l->rx, ncx_now_us());
		fflush(l->out);
	}
	/* Whatever was received is printed before we go, a reliable sender's
	 * records behind a hole too: a next run resumes nothing (no
	 * ncx_rx_flush_resumable()), so nobody would ask for them again. */
	ncx_rx_flush(l->rx, ncx_now_us());
	fflush(l->out);
	ncx_udp_batch_free(&batch);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncx listen [-l ADDR:PORT]... [-v] [--dict] [--rcvbuf BYTES]\n\n"
		"Receive netconsole traffic (extended and legacy) and print one line per record:\n"
		"  ADDR:PORT seq=SEQ LEVEL [ SEC.USEC] TEXT\n"
		"  ADDR:PORT legacy [ SEC.USEC] TEXT\n"
		"  ADDR:PORT gap seq=FIRST..LAST count=N lost|not received\n"
		"  ADDR:PORT reboot prev_seq=N seq=M\n"
		"Text is printed with the kernel's \\xNN escapes, so a record is always one line.\n"
		"Reliable senders (ncrx=1) get acks and retransmission requests.\n\n"
		"  -l, --listen ADDR:PORT  where to listen (repeatable; default 0.0.0.0:%d and [::]:%d)\n"
		"  -v, --verbose           also print dropped, duplicate and malformed datagrams\n"
		"      --dict              print dictionary lines (SUBSYSTEM=, DEVICE=, ...) indented\n"
		"      --rcvbuf BYTES      socket receive buffer (default 8 MiB)\n"
		"  -h, --help              this text\n\n"
		"SIGINT or SIGTERM: print what is held behind open holes, then exit 0.\n",
		CMD_DEFAULT_PORT, CMD_DEFAULT_PORT);
}

static int add_listener(struct listener *l, const char *text, int rcvbuf)
{
	struct ncx_udp_opts opts = { .rcvbuf = rcvbuf };
	struct ncx_addr at;
	int fd;

	if (l->nfds == MAX_SOCKETS) {
		cmd_err("listen", "at most %d addresses", MAX_SOCKETS);
		return EX_USAGE;
	}
	if (ncx_addr_parse(text, CMD_DEFAULT_PORT, &at)) {
		cmd_err("listen", "'%s' is not ADDR:PORT (e.g. 127.0.0.1:6666 or [::1]:6666)", text);
		return EX_USAGE;
	}
	fd = ncx_udp_bind(&at, &opts);
	if (fd < 0) {
		cmd_err("listen", "cannot listen on %s: %s", text, strerror(-fd));
		return EX_UNAVAILABLE;
	}
	l->fds[l->nfds++] = fd;
	return 0;
}

int cmd_listen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' }, { "verbose", no_argument, NULL, 'v' },
		{ "dict", no_argument, NULL, 'd' },	    { "rcvbuf", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },	    { NULL, 0, NULL, 0 }
	};
	struct listener l = { .out = stdout };
	const char *addrs[MAX_SOCKETS];
	int naddrs = 0, c, rc, rcvbuf = 8 << 20;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (naddrs == MAX_SOCKETS) {
				cmd_err("listen", "at most %d addresses", MAX_SOCKETS);
				return EX_USAGE;
			}
			addrs[naddrs++] = optarg;
			break;
		case 'v': l.verbose = true; break;
		case 'd': l.dict = true; break;
		case 'b': {
			uint64_t v;

			if (ncx_num_parse(optarg, 4096, INT_MAX, &v)) {
				cmd_err("listen", "--rcvbuf: '%s' is not a byte count from 4096 to %d",
					optarg, INT_MAX);
				return EX_USAGE;
			}
			rcvbuf = (int)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: return cmd_usage_error("listen", c, argv, longopts);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ncx listen: unexpected argument '%s'\nTry 'ncx listen --help'.\n",
			argv[optind]);
		return EX_USAGE;
	}
	if (naddrs == 0) {
		char v4[32], v6[32];

		snprintf(v4, sizeof(v4), "0.0.0.0:%d", CMD_DEFAULT_PORT);
		snprintf(v6, sizeof(v6), "[::]:%d", CMD_DEFAULT_PORT);
		if ((rc = add_listener(&l, v4, rcvbuf)))
			return rc;
		/* A host without IPv6 still gets its IPv4 listener. */
		if (add_listener(&l, v6, rcvbuf))
			cmd_err("listen", "continuing on IPv4 only");
	}
	for (int i = 0; i < naddrs; i++)
		if ((rc = add_listener(&l, addrs[i], rcvbuf)))
			return rc;

	l.rx = ncx_rx_new(NULL, on_event, &l);
	if (!l.rx) {
		cmd_err("listen", "out of memory");
		return EX_OSERR;
	}
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);

	rc = run(&l);
	ncx_rx_free(l.rx);
	for (int i = 0; i < l.nfds; i++)
		close(l.fds[i]);
	return rc;
}
