/* SPDX-License-Identifier: MIT */
/*
 * Tests of lib/wire.c over every datagram of real kernel traffic:
 * tests/data/ext.hex and legacy.hex, recorded from Debian's stock 6.1 kernel
 * booted twice (tests/data/README.md says what is in them).
 *
 *  1. every extended datagram parses;
 *  2. fragments reassemble, and every record, formatted again from its
 *     parsed fields, unescaped text and dictionary, and cut again, gives
 *     back exactly the datagrams that were received;
 *  3. the extended and legacy captures carry the same records: see
 *     test_legacy_cross_check() for the exact rule.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ncx/wire.h>

#include "hexfile.h"

/* What the captures hold (counted independently of this code, with a
 * throwaway script over the .hex files); a change here means the data or
 * the parser changed. */
#define EXT_DGRAMS 4855
#define EXT_FRAGS 10	       /* datagrams with ncfrag= */
#define EXT_RECORDS 4849
#define EXT_FRAGMENTED 4       /* records sent in fragments: 2 per boot (3 + 2 pieces) */
#define EXT_BOOT_A 2424	       /* records of the first boot: seq 0..2423 */
#define EXT_DICT_RECORDS 94    /* records with dictionary lines */
#define EXT_DICT_LINES 188
#define EXT_ESCAPED_RECORDS 18 /* records whose text holds a \xNN escape */
#define LEGACY_DGRAMS 4853
#define LEGACY_RECORDS 4851    /* after joining a record's 1000-byte slices */
#define LEGACY_CONT 2	       /* slices that continue the record before them */

/* One reassembled extended record, with copies of its bytes. */
struct rec {
	struct ncx_ext e;	/* spans point into hdr and body below */
	char *hdr, *body;
	size_t first, ndgrams;	/* its datagrams in the capture */
	int boot;		/* 0 or 1 */
};

struct capture {
	struct ncx_hexfile ext, legacy;
	struct rec *recs;
	size_t nrecs;
	size_t nfrags;
};

static char *dup_span(struct ncx_span s)
{
	char *p = malloc(s.len + 1);

	assert_non_null(p);
	if (s.len)
		memcpy(p, s.p, s.len);
	p[s.len] = 0;
	return p;
}

static void add_rec(struct capture *c, const struct ncx_ext *e, size_t first, size_t n, int boot)
{
	struct rec *r = &c->recs[c->nrecs++];

	r->e = *e;
	r->hdr = dup_span(e->header);
	r->body = dup_span(e->body);
	r->e.header.p = r->hdr;
	r->e.body.p = r->body;
	/* the release span points into the header */
	if (e->release.len)
		r->e.release.p = r->hdr + (e->release.p - e->header.p);
	r->first = first;
	r->ndgrams = n;
	r->boot = boot;
}

/*
 * Walk the extended capture: parse each datagram, reassemble fragments
 * (one record's fragments are consecutive here: nothing was lost or
 * reordered), and note which datagrams made each record.
 */
static void load_records(struct capture *c)
{
	struct ncx_reasm *ra = NULL;
	size_t ra_first = 0;
	uint64_t next_seq = 0;
	int boot = 0;

	c->recs = calloc(c->ext.n, sizeof(*c->recs));
	assert_non_null(c->recs);
	for (size_t i = 0; i < c->ext.n; i++) {
		struct ncx_ext e, whole;
		int rc = ncx_ext_parse(c->ext.d[i].p, c->ext.d[i].len, &e);

		if (rc)
			fail_msg("ext datagram %zu does not parse: %d", i, rc);
		assert_int_equal(e.unknown_keys, 0);
		if (!e.frag) {
			assert_null(ra);
			whole = e;
			ra_first = i;
		} else {
			c->nfrags++;
			if (!ra) {
				ra = malloc(ncx_reasm_size(e.frag_total));
				assert_non_null(ra);
				ncx_reasm_init(ra, &e);
				ra_first = i;
			}
			rc = ncx_reasm_add(ra, &e);
			assert_true(rc == 0 || rc == 1);
			if (rc == 0)
				continue;
			assert_int_equal(ra->conflicts, 0);
			assert_int_equal(ncx_reasm_record(ra, &whole), 0);
		}
		/* seq runs 0, 1, 2, ... and starts over once: the second boot */
		if (whole.seq == 0 && next_seq != 0) {
			boot++;
			assert_int_equal(boot, 1);
		} else if (whole.seq != next_seq) {
			fail_msg("datagram %zu: seq %llu, expected %llu", i,
				 (unsigned long long)whole.seq, (unsigned long long)next_seq);
		}
		next_seq = whole.seq + 1;
		add_rec(c, &whole, ra_first, i - ra_first + 1, boot);
		free(ra);
		ra = NULL;
	}
	assert_null(ra); /* no record left half-done */
	assert_int_equal(boot, 1);
}

static int setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));
	char path[512];

	if (!c)
		return -1;
	if (!ncx_testdata_path("ext.hex", path, sizeof(path)) || ncx_hexfile_load(path, &c->ext)) {
		fprintf(stderr, "cannot load %s (run from the repository top, or set NCX_TESTDATA)\n",
			path);
		free(c);
		return -1;
	}
	if (!ncx_testdata_path("legacy.hex", path, sizeof(path)) ||
	    ncx_hexfile_load(path, &c->legacy)) {
		fprintf(stderr, "cannot load %s\n", path);
		ncx_hexfile_free(&c->ext);
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct capture *c = *state;

	if (!c) /* setup failed */
		return 0;
	for (size_t i = 0; i < c->nrecs; i++) {
		free(c->recs[i].hdr);
		free(c->recs[i].body);
	}
	free(c->recs);
	ncx_hexfile_free(&c->ext);
	ncx_hexfile_free(&c->legacy);
	free(c);
	return 0;
}

/* ---- 1. every datagram parses ---------------------------------------------- */

static void test_ext_parse_all(void **state)
{
	struct capture *c = *state;
	size_t frags = 0;

	assert_int_equal(c->ext.n, EXT_DGRAMS);
	for (size_t i = 0; i < c->ext.n; i++) {
		const unsigned char *d = c->ext.d[i].p;
		size_t len = c->ext.d[i].len;
		struct ncx_ext e;

		assert_true(len <= NCX_WIRE_CHUNK);
		assert_true(ncx_ext_looks_like(d, len));
		if (ncx_ext_parse(d, len, &e))
			fail_msg("ext datagram %zu does not parse", i);
		/* the spans lie inside the datagram and cover it all */
		assert_ptr_equal(e.header.p, (const char *)d);
		assert_int_equal(e.header.len + 1 + e.body.len, len);
		assert_int_equal(e.header.p[e.header.len], ';');
		/* a stock 6.1 sender: no release, no caller, no ncx keys */
		assert_int_equal(e.release.len, 0);
		assert_int_equal(e.caller_kind, 0);
		assert_false(e.emergency);
		assert_false(e.reliable);
		assert_int_equal(e.unknown_keys, 0);
		assert_int_equal(e.flag, '-');
		frags += e.frag;
		/* legacy text is never taken for extended */
		if (i < c->legacy.n)
			assert_false(ncx_ext_looks_like(c->legacy.d[i].p, c->legacy.d[i].len));
	}
	assert_int_equal(frags, EXT_FRAGS);
}

/* ---- 2. reassemble, re-format, re-cut: the same bytes ---------------------- */

struct recut {
	const struct ncx_hexfile *hf;
	size_t next, end;
};

static int compare_dgram(void *arg, const void *dgram, size_t len)
{
	struct recut *rc = arg;
	const struct ncx_hexfile_dgram *want;

	if (rc->next >= rc->end)
		fail_msg("re-cut gave more datagrams than datagram %zu's record had", rc->end);
	want = &rc->hf->d[rc->next];
	if (len != want->len || memcmp(dgram, want->p, len) != 0)
		fail_msg("re-cut datagram differs from capture datagram %zu", rc->next);
	rc->next++;
	return 0;
}

/* Rebuild the dictionary from its parsed lines (exercises ncx_dict_next). */
static size_t rebuild_dict(struct ncx_span dict, char *out, size_t cap, size_t *lines)
{
	struct ncx_span k, v;
	size_t n = 0;

	while (ncx_dict_next(&dict, &k, &v)) {
		assert_true(k.len > 0);
		assert_true(n + k.len + v.len + 3 <= cap);
		out[n++] = ' ';
		memcpy(out + n, k.p, k.len);
		n += k.len;
		out[n++] = '=';
		memcpy(out + n, v.p, v.len);
		n += v.len;
		out[n++] = '\n';
		(*lines)++;
	}
	return n;
}

static void test_ext_reformat(void **state)
{
	struct capture *c = *state;
	static char text[NCX_WIRE_BODY_MAX], dict[NCX_WIRE_BODY_MAX];
	static char out[NCX_WIRE_HDR_MAX + NCX_WIRE_BODY_MAX + 2];
	size_t fragmented = 0, dict_recs = 0, dict_lines = 0, escaped = 0, boot_a = 0;

	load_records(c);
	assert_int_equal(c->nfrags, EXT_FRAGS);
	assert_int_equal(c->nrecs, EXT_RECORDS);
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];
		struct ncx_span t, d;
		size_t tlen, dlen, n;
		struct recut rc = { &c->ext, r->first, r->first + r->ndgrams };

		ncx_ext_split_body(r->e.body, &t, &d);
		/* every record ends its text with a newline */
		assert_int_equal(t.len + 1 + d.len, r->e.body.len);
		tlen = ncx_unescape(t.p, t.len, text, sizeof(text));
		assert_true(tlen <= sizeof(text));
		escaped += tlen != t.len;
		dlen = rebuild_dict(d, dict, sizeof(dict), &dict_lines);
		assert_int_equal(dlen, d.len);
		dict_recs += dlen > 0;

		n = ncx_ext_format(&r->e, text, tlen, dict, dlen, out, sizeof(out));
		assert_true(n <= sizeof(out));
		/* the record, byte for byte */
		assert_int_equal(n, r->e.header.len + 1 + r->e.body.len);
		assert_memory_equal(out, r->e.header.p, r->e.header.len);
		assert_memory_equal(out + r->e.header.len + 1, r->e.body.p, r->e.body.len);
		/* and cut again, exactly the datagrams received */
		assert_int_equal(ncx_ext_fragment(out, n, compare_dgram, &rc), 0);
		if (rc.next != rc.end)
			fail_msg("record at datagram %zu re-cut into %zu datagrams, not %zu", r->first,
				 rc.next - r->first, r->ndgrams);
		fragmented += r->ndgrams > 1;
		boot_a += r->boot == 0;
	}
	assert_int_equal(fragmented, EXT_FRAGMENTED);
	assert_int_equal(dict_recs, EXT_DICT_RECORDS);
	assert_int_equal(dict_lines, EXT_DICT_LINES);
	assert_int_equal(escaped, EXT_ESCAPED_RECORDS);
	assert_int_equal(boot_a, EXT_BOOT_A);
}

/* ---- 3. extended and legacy: the same records --------------------------------- */

/* A legacy record: its 1000-byte slices joined again. */
struct lrec {
	char *p;
	size_t len;
	size_t first, ndgrams;
};

static struct lrec *join_legacy(const struct ncx_hexfile *hf, size_t *count, size_t *conts)
{
	struct lrec *l = calloc(hf->n, sizeof(*l));
	size_t n = 0;

	assert_non_null(l);
	*conts = 0;
	for (size_t i = 0; i < hf->n; i++) {
		struct ncx_legacy lg;

		assert_int_equal(ncx_legacy_parse(hf->d[i].p, hf->d[i].len, &lg), 0);
		assert_false(lg.dropped_notice);
		assert_true(hf->d[i].len <= NCX_WIRE_CHUNK);
		if (!lg.has_ts) {
			/* no marker: a slice without a prefix continues the record
			 * before it, and that one must have been a full slice */
			assert_true(n > 0);
			assert_int_equal(hf->d[i - 1].len, NCX_WIRE_CHUNK);
			l[n - 1].p = realloc(l[n - 1].p, l[n - 1].len + hf->d[i].len);
			assert_non_null(l[n - 1].p);
			memcpy(l[n - 1].p + l[n - 1].len, hf->d[i].p, hf->d[i].len);
			l[n - 1].len += hf->d[i].len;
			l[n - 1].ndgrams++;
			(*conts)++;
			continue;
		}
		l[n].p = malloc(hf->d[i].len);
		assert_non_null(l[n].p);
		memcpy(l[n].p, hf->d[i].p, hf->d[i].len);
		l[n].len = hf->d[i].len;
		l[n].first = i;
		l[n].ndgrams = 1;
		n++;
	}
	*count = n;
	return l;
}

/*
 * The legacy form of an extended record, as printk 6.1 makes it: for every
 * line of the unescaped text, "[%5lu.%06lu] " + line + "\n".
 */
static size_t legacy_form(const struct rec *r, char *out, size_t cap)
{
	static char text[NCX_WIRE_BODY_MAX];
	struct ncx_span t, d;
	char pfx[48];
	size_t tlen, n = 0, start = 0;
	int plen;

	ncx_ext_split_body(r->e.body, &t, &d);
	tlen = ncx_unescape(t.p, t.len, text, sizeof(text));
	assert_true(tlen <= sizeof(text));
	plen = snprintf(pfx, sizeof(pfx), "[%5llu.%06llu] ",
			(unsigned long long)(r->e.ts_usec / 1000000),
			(unsigned long long)(r->e.ts_usec % 1000000));
	for (size_t i = 0; i <= tlen; i++) {
		if (i < tlen && text[i] != '\n')
			continue;
		assert_true(n + (size_t)plen + (i - start) + 1 <= cap);
		memcpy(out + n, pfx, (size_t)plen);
		n += (size_t)plen;
		memcpy(out + n, text + start, i - start);
		n += i - start;
		out[n++] = '\n';
		start = i + 1;
	}
	return n;
}

/* Also through the parser: the legacy record's lines, without prefixes,
 * joined with '\n', are the unescaped extended text; its timestamp the
 * record's. */
static void check_legacy_parse(const struct lrec *l, const struct rec *r)
{
	static char text[NCX_WIRE_BODY_MAX], joined[NCX_WIRE_BODY_MAX];
	struct ncx_legacy lg;
	struct ncx_span t, d, line;
	size_t tlen, n = 0;

	assert_int_equal(ncx_legacy_parse(l->p, l->len, &lg), 0);
	assert_true(lg.has_ts);
	assert_true(lg.ts_usec == r->e.ts_usec);
	t = lg.text;
	while (ncx_legacy_next_line(&t, &line)) {
		if (n)
			joined[n++] = '\n';
		assert_true(n + line.len <= sizeof(joined));
		memcpy(joined + n, line.p, line.len);
		n += line.len;
	}
	ncx_ext_split_body(r->e.body, &t, &d);
	tlen = ncx_unescape(t.p, t.len, text, sizeof(text));
	assert_int_equal(n, tlen);
	assert_memory_equal(joined, text, n);
}

/*
 * The rule, established from the data:
 *
 *  - The captures hold the same records in the same order. Each extended
 *    record's legacy form is exactly, byte for byte, one "[%5lu.%06lu] "
 *    prefix (the record's own timestamp) + line + '\n' for every line of
 *    its unescaped text; dictionary lines do not appear in legacy. That
 *    form is sent in 1000-byte slices (no marker).
 *  - No record here is long enough for printk's 1024-byte legacy cut
 *    (asserted below, so the rule cannot silently go untested if the
 *    data changes).
 *  - One exception, once per boot: the legacy capture has one record the
 *    extended one lacks, "printk: console [netcon0] disabled", the very
 *    last of each boot. netconsole unregisters its extended console
 *    (netcon_ext0) first: that console still sends its own "disabled"
 *    line, but is gone when the plain console's line is logged, so only
 *    the legacy target carries it.
 */
static const char legacy_only[] = "printk: console [netcon0] disabled";

static bool is_legacy_only(const struct lrec *l, const struct rec *prev)
{
	struct ncx_legacy lg;

	assert_int_equal(ncx_legacy_parse(l->p, l->len, &lg), 0);
	return lg.has_ts && lg.ts_usec >= prev->e.ts_usec && lg.text.len == sizeof(legacy_only) - 1 &&
	       memcmp(lg.text.p, legacy_only, lg.text.len) == 0;
}

static void test_legacy_cross_check(void **state)
{
	struct capture *c = *state;
	static char want[4 * NCX_WIRE_BODY_MAX];
	size_t nl, conts, j = 0, exceptions = 0;
	struct lrec *l;

	assert_int_equal(c->legacy.n, LEGACY_DGRAMS);
	if (!c->nrecs)
		load_records(c);
	assert_int_equal(c->nrecs, EXT_RECORDS);
	l = join_legacy(&c->legacy, &nl, &conts);
	assert_int_equal(nl, LEGACY_RECORDS);
	assert_int_equal(conts, LEGACY_CONT);

	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];
		size_t n = legacy_form(r, want, sizeof(want));

		/* the exception: the legacy-only line, last of a boot */
		if (j < nl && i > 0 && r->boot != c->recs[i - 1].boot &&
		    is_legacy_only(&l[j], &c->recs[i - 1])) {
			exceptions++;
			j++;
		}
		if (j >= nl)
			fail_msg("ext record %zu (seq %llu) has no legacy record", i,
				 (unsigned long long)r->e.seq);
		assert_true(n <= NCX_WIRE_LEGACY_MAX);
		if (l[j].len != n || memcmp(l[j].p, want, n) != 0)
			fail_msg("ext record %zu (boot %d seq %llu) differs from legacy datagram %zu:\n"
				 "  want: %.*s  got:  %.*s",
				 i, r->boot, (unsigned long long)r->e.seq, l[j].first, (int)n, want,
				 (int)l[j].len, l[j].p);
		/* sliced as netconsole slices: 1000 bytes at a time */
		assert_int_equal(l[j].ndgrams, (n + NCX_WIRE_CHUNK - 1) / NCX_WIRE_CHUNK);
		check_legacy_parse(&l[j], r);
		j++;
	}
	/* the last boot's exception, at the very end */
	if (j < nl && is_legacy_only(&l[j], &c->recs[c->nrecs - 1])) {
		exceptions++;
		j++;
	}
	assert_int_equal(j, nl);		/* every legacy record matched */
	assert_int_equal(exceptions, 2);	/* once per boot, no more */

	for (size_t k = 0; k < nl; k++)
		free(l[k].p);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ext_parse_all),
		cmocka_unit_test(test_ext_reformat),
		cmocka_unit_test(test_legacy_cross_check),
	};

	return cmocka_run_group_tests_name("capture", tests, setup, teardown);
}
