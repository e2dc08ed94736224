/* SPDX-License-Identifier: MIT */
/*
 * metrics: the Prometheus text format, node_exporter textfile style (FILE.tmp,
 * then rename). Each worker publishes a snapshot of its own engine and sink
 * (engines are not thread-safe); this file only merges what was published.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ncxd.h"

#ifndef NCX_VERSION
#define NCX_VERSION "unknown"
#endif

const char *const ncxd_counter_name[NCXD_C_COUNT] = {
	[NCXD_C_RECORDS] = "records",
	[NCXD_C_LEGACY] = "legacy_records",
	[NCXD_C_BYTES] = "bytes",
	[NCXD_C_GAPS] = "gaps",
	[NCXD_C_LOST] = "lost",
	[NCXD_C_MISSED] = "missed",
	[NCXD_C_RETX] = "retransmit_requests",
	[NCXD_C_DUPLICATES] = "duplicates",
	[NCXD_C_REBOOTS] = "reboots",
	[NCXD_C_MALFORMED] = "malformed",
	[NCXD_C_SUPPRESSED] = "suppressed",
	[NCXD_C_SUPPRESSED_BYTES] = "suppressed_bytes",
	[NCXD_C_WRITTEN_BYTES] = "written_bytes",
	[NCXD_C_RESP_BYTES] = "response_bytes",
	[NCXD_C_RESP_HELD] = "responses_held",
	[NCXD_C_UNASKED] = "placeholders_unasked",
	[NCXD_C_AUTH_BAD] = "auth_bad",
	[NCXD_C_AUTH_MISSING] = "auth_missing",
	[NCXD_C_UNVERIFIED] = "unverified_records",
	[NCXD_C_UNVERIFIED_DROPPED] = "unverified_dropped",
};

static const char *const counter_help[NCXD_C_COUNT] = {
	[NCXD_C_RECORDS] = "Extended records delivered in order.",
	[NCXD_C_LEGACY] = "Legacy (non-extended) datagrams delivered.",
	[NCXD_C_BYTES] = "Datagram bytes received.",
	[NCXD_C_GAPS] = "Gap events (seq holes closed without the records).",
	[NCXD_C_LOST] = "Records lost in gaps of reliable senders.",
	[NCXD_C_MISSED] = "Records not received in gaps of stock senders (maybe filtered by loglevel).",
	[NCXD_C_RETX] = "Retransmission requests sent (each seq each time).",
	[NCXD_C_DUPLICATES] = "Duplicate records dropped.",
	[NCXD_C_REBOOTS] = "Sender reboots seen.",
	[NCXD_C_MALFORMED] = "Malformed datagrams dropped.",
	[NCXD_C_SUPPRESSED] = "Records suppressed by the per-host rate limit.",
	[NCXD_C_SUPPRESSED_BYTES] = "Payload bytes suppressed by the per-host rate limit.",
	[NCXD_C_WRITTEN_BYTES] = "Bytes written to the log files.",
	[NCXD_C_RESP_BYTES] = "Bytes of acks and retransmission requests sent.",
	[NCXD_C_RESP_HELD] = "Responses held back: over the sender's 3x budget or --resp-rate.",
	[NCXD_C_UNASKED] = "Placeholders (ncgone) for seqs never asked for: claims not taken.",
	[NCXD_C_AUTH_BAD] = "Datagrams dropped for a wrong ncmac tag (--auth-key).",
	[NCXD_C_AUTH_MISSING] = "Datagrams dropped for want of a tag (--require-auth, or a tagging stream).",
	[NCXD_C_UNVERIFIED] = "Records written from untagged copies of a tagging stream gone silent.",
	[NCXD_C_UNVERIFIED_DROPPED] = "Untagged copies that the tagging stream contradicted at their seq.",
};

/*
 * ncxd's drop reasons: five are the engine's, named by it
 * (ncx_rx_drop_reason_name()), two are the sink's own. counted: the worker
 * writes a line and counts it (the others the engine counts alone: a
 * malformed datagram carries no record, a duplicate was written already, a
 * reliable sender's record beyond the window will be asked for again).
 */
static const struct {
	int rx;		  /* enum ncx_rx_drop_reason, or -1: ncxd's own */
	const char *name; /* ncxd's own reasons' names */
	bool counted;
} drop_reason[NCXD_D_COUNT] = {
	[NCXD_D_LATE] = { NCX_DROP_LATE, NULL, true },
	[NCXD_D_WINDOW] = { NCX_DROP_WINDOW, NULL, false },
	[NCXD_D_MEMORY] = { NCX_DROP_MEMORY, NULL, true },
	[NCXD_D_FRAGS] = { NCX_DROP_FRAGS, NULL, true },
	[NCXD_D_TOO_MANY_SENDERS] = { NCX_DROP_TOO_MANY_SENDERS, NULL, true },
	[NCXD_D_WRITE_ERROR] = { -1, "write_error", true },
	[NCXD_D_NO_BUFFER] = { -1, "no_buffer", true },
};

const char *ncxd_drop_reason_name(enum ncxd_drop r)
{
	if ((unsigned)r >= NCXD_D_COUNT)
		return "unknown";
	if (drop_reason[r].rx < 0)
		return drop_reason[r].name;
	return ncx_rx_drop_reason_name((enum ncx_rx_drop_reason)drop_reason[r].rx);
}

int ncxd_drop_from_rx(enum ncx_rx_drop_reason r)
{
	for (int i = 0; i < NCXD_D_COUNT; i++)
		if (drop_reason[i].rx == (int)r)
			return drop_reason[i].counted ? i : -1;
	return -1;
}

void ncxd_snapshot_free(struct ncxd_snapshot *s)
{
	free(s->hosts_v);
	memset(s, 0, sizeof(*s));
}

static void labels(FILE *f, const struct ncx_addr *a)
{
	char host[NCX_ADDR_TEXT_MAX];

	ncx_addr_format(a, false, host, sizeof(host));
	fprintf(f, "host=\"%s\",port=\"%u\"", host, (unsigned)a->port);
}

static uint64_t host_records(const struct ncxd_host_snap *h)
{
	return h->st.c[NCXD_C_RECORDS] + h->st.c[NCXD_C_LEGACY];
}

/*
 * The per-host series: the --metrics-per-host busiest senders by records,
 * kept in a min-heap while each worker's snapshot is read (so the file
 * and the work stay bounded at any number of senders).
 */
struct top {
	struct ncxd_host_snap *v;
	size_t n, cap;
};

static void heap_down(struct top *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < t->n && host_records(&t->v[l]) < host_records(&t->v[m]))
			m = l;
		if (r < t->n && host_records(&t->v[r]) < host_records(&t->v[m]))
			m = r;
		if (m == i)
			return;
		struct ncxd_host_snap tmp = t->v[i];

		t->v[i] = t->v[m];
		t->v[m] = tmp;
		i = m;
	}
}

static void top_add(struct top *t, const struct ncxd_host_snap *h)
{
	if (t->n < t->cap) {
		size_t i = t->n++;

		t->v[i] = *h;
		while (i && host_records(&t->v[(i - 1) / 2]) > host_records(&t->v[i])) {
			struct ncxd_host_snap tmp = t->v[i];

			t->v[i] = t->v[(i - 1) / 2];
			t->v[(i - 1) / 2] = tmp;
			i = (i - 1) / 2;
		}
	} else if (t->cap && host_records(h) > host_records(&t->v[0])) {
		t->v[0] = *h;
		heap_down(t, 0);
	}
}

static int busiest_first(const void *pa, const void *pb)
{
	uint64_t a = host_records(pa), b = host_records(pb);

	return a < b ? 1 : a > b ? -1 : 0;
}

/* Counters only grow: a sum that would pass 2^64 - 1 stays there. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * A *_total is a counter: whatever a source says, what is written is never
 * lower than what was written before (Prometheus takes a drop for a
 * restart of ncxd and counts the whole value again). The engines' counts
 * are cumulative and should never go down, but they add sizes that the
 * senders choose (a gap of 2^64 - 3 records: issue #10, finding 8), so
 * this is where the rule is held whatever they do.
 */
static void hold_floor(uint64_t *v, uint64_t *floor)
{
	if (*v < *floor)
		*v = *floor;
	*floor = *v;
}

struct merged {
	struct ncxd_snapshot tot;
	uint64_t seen; /* senders in the snapshots */
	struct top top;
};

/* Each worker's snapshot in turn, under its lock only while it is read. */
static void merge(struct ncxd *d, struct merged *m)
{
	for (int w = 0; w < d->nworkers; w++) {
		struct ncxd_worker *wk = &d->workers[w];
		const struct ncxd_snapshot *s = &wk->snap;

		pthread_mutex_lock(&wk->lock);
		for (int i = 0; i < NCXD_C_COUNT; i++)
			m->tot.total.c[i] = sat_add(m->tot.total.c[i], s->total.c[i]);
		for (int i = 0; i < NCXD_D_COUNT; i++)
			m->tot.total.drop[i] = sat_add(m->tot.total.drop[i], s->total.drop[i]);
		m->tot.denied = sat_add(m->tot.denied, s->denied);
		m->tot.socket_drops = sat_add(m->tot.socket_drops, s->socket_drops);
		m->tot.evicted = sat_add(m->tot.evicted, s->evicted);
		m->tot.hosts += s->hosts;
		m->tot.open_files += s->open_files;
		m->tot.buffers_used += s->buffers_used;
		m->seen += s->nhosts;
		for (size_t h = 0; h < s->nhosts; h++)
			top_add(&m->top, &s->hosts_v[h]);
		pthread_mutex_unlock(&wk->lock);
	}
	if (m->top.n > 1)
		qsort(m->top.v, m->top.n, sizeof(*m->top.v), busiest_first);
	for (int i = 0; i < NCXD_C_COUNT; i++)
		hold_floor(&m->tot.total.c[i], &d->metrics_floor.c[i]);
	for (int i = 0; i < NCXD_D_COUNT; i++)
		hold_floor(&m->tot.total.drop[i], &d->metrics_floor.drop[i]);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_all(FILE *f, struct ncxd *d, const struct merged *m)
{
	const struct ncxd_snapshot *tot = &m->tot;
	char name[96], help[256];

	/* NCX_VERSION is "0.1.0 (git describe)", or "0.1.0" outside a checkout. */
	const char *rev = strstr(NCX_VERSION, " (");
	int vlen = rev ? (int)(rev - NCX_VERSION) : (int)strlen(NCX_VERSION);
	int rlen = rev ? (int)strlen(rev + 2) - 1 : 0;

	family(f, "ncxd_build_info", "gauge",
	       "ncxd's release (version) and the commit it was built from (revision); always 1.");
	fprintf(f, "ncxd_build_info{version=\"%.*s\",revision=\"%.*s\"} 1\n", vlen, NCX_VERSION,
		rlen > 0 ? rlen : 0, rev ? rev + 2 : "");
	family(f, "ncxd_start_time_seconds", "gauge", "When ncxd started, seconds since the epoch.");
	fprintf(f, "ncxd_start_time_seconds %llu\n",
		(unsigned long long)(d->start_real_us / 1000000u));
	/* Totals: one unlabelled sample per family. */
	for (int i = 0; i < NCXD_C_COUNT; i++) {
		snprintf(name, sizeof(name), "ncxd_%s_total", ncxd_counter_name[i]);
		family(f, name, "counter", counter_help[i]);
		fprintf(f, "%s %llu\n", name, (unsigned long long)tot->total.c[i]);
	}
	family(f, "ncxd_dropped_total", "counter", "Records dropped, by reason (docs/ncxd.md).");
	for (int r = 0; r < NCXD_D_COUNT; r++)
		fprintf(f, "ncxd_dropped_total{reason=\"%s\"} %llu\n", ncxd_drop_reason_name(r),
			(unsigned long long)tot->total.drop[r]);
	fprintf(f,
		"# HELP ncxd_denied_total Datagrams from addresses outside --allow.\n"
		"# TYPE ncxd_denied_total counter\nncxd_denied_total %llu\n"
		"# HELP ncxd_socket_drops_total Datagrams the kernel dropped on full socket buffers.\n"
		"# TYPE ncxd_socket_drops_total counter\nncxd_socket_drops_total %llu\n"
		"# HELP ncxd_senders_evicted_total Senders evicted from a full table (--max-senders).\n"
		"# TYPE ncxd_senders_evicted_total counter\nncxd_senders_evicted_total %llu\n"
		"# HELP ncxd_hosts Senders with state now.\n# TYPE ncxd_hosts gauge\nncxd_hosts %llu\n"
		"# HELP ncxd_open_files Log files open now.\n# TYPE ncxd_open_files gauge\n"
		"ncxd_open_files %llu\n"
		"# HELP ncxd_buffers_used Write buffers in use now.\n# TYPE ncxd_buffers_used gauge\n"
		"ncxd_buffers_used %llu\n",
		(unsigned long long)tot->denied, (unsigned long long)tot->socket_drops,
		(unsigned long long)tot->evicted,
		(unsigned long long)tot->hosts, (unsigned long long)tot->open_files,
		(unsigned long long)tot->buffers_used);
	fprintf(f,
		"# HELP ncxd_state_full_total Reliable senders that found no room in the state "
		"table (no resume after a restart).\n"
		"# TYPE ncxd_state_full_total counter\nncxd_state_full_total %llu\n",
		(unsigned long long)atomic_load(&d->state.full));
	family(f, "ncxd_metrics_hosts_omitted", "gauge",
	       "Senders with state now but no per-host series (beyond --metrics-per-host).");
	fprintf(f, "ncxd_metrics_hosts_omitted %llu\n",
		(unsigned long long)(m->seen > m->top.n ? m->seen - m->top.n : 0));
	if (!m->top.n)
		return;
	/* Per host: families of their own (ncxd_host_*), so that sum() of a
	 * total family never counts a sender twice. */
	for (int i = 0; i < NCXD_C_COUNT; i++) {
		snprintf(name, sizeof(name), "ncxd_host_%s_total", ncxd_counter_name[i]);
		snprintf(help, sizeof(help), "Per sender (the --metrics-per-host busiest): %s",
			 counter_help[i]);
		family(f, name, "counter", help);
		for (size_t h = 0; h < m->top.n; h++) {
			fprintf(f, "%s{", name);
			labels(f, &m->top.v[h].addr);
			fprintf(f, "} %llu\n", (unsigned long long)m->top.v[h].st.c[i]);
		}
	}
	family(f, "ncxd_host_dropped_total", "counter",
	       "Per sender (the --metrics-per-host busiest): records dropped, by reason.");
	for (size_t h = 0; h < m->top.n; h++)
		for (int r = 0; r < NCXD_D_COUNT; r++) {
			if (!m->top.v[h].st.drop[r])
				continue;
			fputs("ncxd_host_dropped_total{", f);
			labels(f, &m->top.v[h].addr);
			fprintf(f, ",reason=\"%s\"} %llu\n", ncxd_drop_reason_name(r),
				(unsigned long long)m->top.v[h].st.drop[r]);
		}
}

int ncxd_metrics_write(struct ncxd *d, const char *path)
{
	char tmp[4096];
	struct merged m = { 0 };
	FILE *f;
	int rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	m.top.cap = (size_t)d->cfg.metrics_per_host;
	if (m.top.cap && !(m.top.v = calloc(m.top.cap, sizeof(*m.top.v))))
		m.top.cap = 0; /* no memory: totals only, this time */
	merge(d, &m);
	f = fopen(tmp, "we");
	if (!f) {
		rc = -errno;
		free(m.top.v);
		return rc;
	}
	write_all(f, d, &m);
	free(m.top.v);
	if (fflush(f) || ferror(f))
		rc = errno ? -errno : -EIO;
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}
