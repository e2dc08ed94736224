/* SPDX-License-Identifier: MIT */
/*
 * kmsg: the pure parts of forwarding /dev/kmsg. See include/ncx/kmsg.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ncx/kmsg.h>
#include <ncx/num.h>
#include <ncx/wire.h>

#define STATE_MAGIC "ncx-forward-state 1"

size_t ncx_kmsg_state_format(const struct ncx_kmsg_state *st, char *out, size_t cap)
{
	int n = snprintf(out, cap, STATE_MAGIC "\nboot_id %s\nacked %llu\ntargets %s\n",
			 st->boot_id, (unsigned long long)st->acked, st->targets);

	/* snprintf wrote a NUL we do not promise; the length is what counts. */
	return n < 0 ? 0 : (size_t)n;
}

/* A decimal u64: digits only, no sign, no overflow, at least one digit. */
static int parse_u64(const char *p, size_t len, uint64_t *out)
{
	return ncx_num_parse_n(p, len, 0, UINT64_MAX, out) ? -EBADMSG : 0;
}

static bool is_boot_id(const char *p, size_t len)
{
	if (len != NCX_KMSG_BOOT_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
					(c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static bool printable(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

/* One "key value" line into st; *seen collects the keys met so far. */
static int parse_line(const char *p, size_t len, struct ncx_kmsg_state *st, unsigned *seen)
{
	const char *sp = memchr(p, ' ', len);
	size_t klen, vlen;
	const char *v;
	unsigned bit;

	if (!sp)
		return -EBADMSG;
	klen = (size_t)(sp - p);
	v = sp + 1;
	vlen = len - klen - 1;
	if (klen == 7 && !memcmp(p, "boot_id", 7)) {
		if (!is_boot_id(v, vlen))
			return -EBADMSG;
		memcpy(st->boot_id, v, vlen);
		st->boot_id[vlen] = 0;
		bit = 1;
	} else if (klen == 5 && !memcmp(p, "acked", 5)) {
		if (parse_u64(v, vlen, &st->acked))
			return -EBADMSG;
		bit = 2;
	} else if (klen == 7 && !memcmp(p, "targets", 7)) {
		if (vlen > NCX_KMSG_TARGETS_MAX || !printable(v, vlen))
			return -EBADMSG;
		memcpy(st->targets, v, vlen);
		st->targets[vlen] = 0;
		bit = 4;
	} else {
		return -EBADMSG;
	}
	if (*seen & bit)
		return -EBADMSG;
	*seen |= bit;
	return 0;
}

int ncx_kmsg_state_parse(const char *buf, size_t len, struct ncx_kmsg_state *out)
{
	const char *p = buf, *end = buf + len;
	unsigned seen = 0;
	bool first = true;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		/* A file cut short (no final newline) is not trusted. */
		if (!nl)
			return -EBADMSG;
		if (first) {
			if (n != sizeof(STATE_MAGIC) - 1 || memcmp(p, STATE_MAGIC, n))
				return -EBADMSG;
			first = false;
		} else if (n && parse_line(p, n, out, &seen)) {
			return -EBADMSG;
		}
		p = nl + 1;
	}
	return seen == 7 ? 0 : -EBADMSG;
}

int ncx_kmsg_seq_of(const void *rec, size_t len, uint64_t *seq)
{
	const char *p = rec, *end = p + len, *comma = memchr(p, ',', len);
	const char *q;

	if (!comma)
		return -EBADMSG;
	q = comma + 1;
	q += ncx_num_digits(q, (size_t)(end - q));
	if (q == end || *q != ',')
		return -EBADMSG;
	return parse_u64(comma + 1, (size_t)(q - comma - 1), seq);
}

void ncx_kmsg_seq_init(struct ncx_kmsg_seq *s, bool resume, uint64_t after)
{
	memset(s, 0, sizeof(*s));
	s->resume = resume;
	s->resume_after = after;
}

static void set_gap(struct ncx_kmsg_gap *gap, uint64_t first, uint64_t last, bool at_resume)
{
	gap->first = first;
	gap->last = last;
	gap->count = last - first + 1;
	gap->at_resume = at_resume;
}

enum ncx_kmsg_verdict ncx_kmsg_seq_next(struct ncx_kmsg_seq *s, uint64_t seq,
					struct ncx_kmsg_gap *gap)
{
	memset(gap, 0, sizeof(*gap));
	s->read++;
	if (s->have_last && seq <= s->last) {
		/* Not seen from a real kernel (its seq only grows within a boot);
		 * sending it would break tx's increasing seqs. */
		s->stale++;
		return NCX_KMSG_STALE;
	}
	if (s->have_last && seq > s->last + 1)
		set_gap(gap, s->last + 1, seq - 1, false);
	else if (!s->have_last && s->resume && s->resume_after < UINT64_MAX &&
		 seq > s->resume_after + 1)
		set_gap(gap, s->resume_after + 1, seq - 1, true);
	s->have_last = true;
	s->last = seq;
	if (gap->count) {
		s->dropped += gap->count;
		s->gaps++;
	}
	if (s->resume && seq <= s->resume_after) {
		s->resumed++;
		return NCX_KMSG_RESUMED;
	}
	s->forwarded++;
	return NCX_KMSG_FORWARD;
}

size_t ncx_kmsg_render(void *arg, const struct ncx_ring_rec *rec, const char *text, char *out,
		       size_t cap, uint64_t *seq)
{
	struct ncx_ext e;
	size_t n = rec->text_len;

	(void)arg;
	if (ncx_ext_parse(text, n, &e))
		return 0;
	*seq = e.seq;
	if (n > cap)
		n = cap;
	memcpy(out, text, n);
	return n;
}
