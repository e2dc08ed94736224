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
};

const char *const ncxd_drop_name[NCXD_D_COUNT] = {
	[NCXD_D_LATE] = "late",
	[NCXD_D_WINDOW] = "window",
	[NCXD_D_MEMORY] = "memory",
	[NCXD_D_FRAGS] = "frags",
	[NCXD_D_TOO_MANY_SENDERS] = "too_many_senders",
	[NCXD_D_WRITE_ERROR] = "write_error",
	[NCXD_D_NO_BUFFER] = "no_buffer",
};

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

static void write_all(FILE *f, struct ncxd *d)
{
	struct ncxd_snapshot tot = { 0 };

	for (int w = 0; w < d->nworkers; w++) {
		struct ncxd_snapshot *s = &d->workers[w].snap;

		for (int i = 0; i < NCXD_C_COUNT; i++)
			tot.total.c[i] += s->total.c[i];
		for (int i = 0; i < NCXD_D_COUNT; i++)
			tot.total.drop[i] += s->total.drop[i];
		tot.denied += s->denied;
		tot.socket_drops += s->socket_drops;
		tot.hosts += s->hosts;
		tot.open_files += s->open_files;
		tot.buffers_used += s->buffers_used;
	}
	for (int i = 0; i < NCXD_C_COUNT; i++) {
		const char *n = ncxd_counter_name[i];

		fprintf(f, "# HELP ncxd_%s_total %s\n# TYPE ncxd_%s_total counter\n", n,
			counter_help[i], n);
		fprintf(f, "ncxd_%s_total %llu\n", n, (unsigned long long)tot.total.c[i]);
		for (int w = 0; w < d->nworkers; w++) {
			const struct ncxd_snapshot *s = &d->workers[w].snap;

			for (size_t h = 0; h < s->nhosts; h++) {
				fprintf(f, "ncxd_%s_total{", n);
				labels(f, &s->hosts_v[h].addr);
				fprintf(f, "} %llu\n", (unsigned long long)s->hosts_v[h].st.c[i]);
			}
		}
	}
	fputs("# HELP ncxd_dropped_total Records dropped, by reason.\n"
	      "# TYPE ncxd_dropped_total counter\n", f);
	for (int r = 0; r < NCXD_D_COUNT; r++)
		fprintf(f, "ncxd_dropped_total{reason=\"%s\"} %llu\n", ncxd_drop_name[r],
			(unsigned long long)tot.total.drop[r]);
	for (int w = 0; w < d->nworkers; w++) {
		const struct ncxd_snapshot *s = &d->workers[w].snap;

		for (size_t h = 0; h < s->nhosts; h++)
			for (int r = 0; r < NCXD_D_COUNT; r++) {
				if (!s->hosts_v[h].st.drop[r])
					continue;
				fputs("ncxd_dropped_total{", f);
				labels(f, &s->hosts_v[h].addr);
				fprintf(f, ",reason=\"%s\"} %llu\n", ncxd_drop_name[r],
					(unsigned long long)s->hosts_v[h].st.drop[r]);
			}
	}
	fprintf(f,
		"# HELP ncxd_denied_total Datagrams from addresses outside --allow.\n"
		"# TYPE ncxd_denied_total counter\nncxd_denied_total %llu\n"
		"# HELP ncxd_socket_drops_total Datagrams the kernel dropped on full socket buffers.\n"
		"# TYPE ncxd_socket_drops_total counter\nncxd_socket_drops_total %llu\n"
		"# HELP ncxd_hosts Senders with state now.\n# TYPE ncxd_hosts gauge\nncxd_hosts %llu\n"
		"# HELP ncxd_open_files Log files open now.\n# TYPE ncxd_open_files gauge\n"
		"ncxd_open_files %llu\n"
		"# HELP ncxd_buffers_used Write buffers in use now.\n# TYPE ncxd_buffers_used gauge\n"
		"ncxd_buffers_used %llu\n",
		(unsigned long long)tot.denied, (unsigned long long)tot.socket_drops,
		(unsigned long long)tot.hosts, (unsigned long long)tot.open_files,
		(unsigned long long)tot.buffers_used);
	fprintf(f,
		"# HELP ncxd_state_full_total Reliable senders that found no room in the state "
		"table (no resume after a restart).\n"
		"# TYPE ncxd_state_full_total counter\nncxd_state_full_total %llu\n",
		(unsigned long long)atomic_load(&d->state.full));
}

int ncxd_metrics_write(struct ncxd *d, const char *path)
{
	char tmp[4096];
	FILE *f;
	int rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	for (int w = 0; w < d->nworkers; w++)
		pthread_mutex_lock(&d->workers[w].lock);
	write_all(f, d);
	for (int w = 0; w < d->nworkers; w++)
		pthread_mutex_unlock(&d->workers[w].lock);
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
