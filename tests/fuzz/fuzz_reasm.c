/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: fragmenting and reassembly.
 *
 * Input byte 0 chooses the mode:
 *  even: the rest is [pad][ctl x 8][body]: a record with a header padded by
 *        `pad` bytes is cut with ncx_ext_fragment, and the fragments (plus
 *        re-sliced, overlapping pieces) are fed to a reassembly buffer in an
 *        order the control bytes choose, with duplicates and drops. The
 *        record completes exactly when every byte arrived, and then equals
 *        what was cut, with no conflicts.
 *  odd:  the rest is datagrams, each prefixed by a 2-byte little-endian
 *        length: hostile fragments fed to one reassembly buffer, which must
 *        never overflow and must be consistent when it says it is complete.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

#define MAXF 64

struct frags {
	size_t n;
	size_t len[MAXF];
	char d[MAXF][NCX_WIRE_CHUNK];
};

static int keep(void *arg, const void *dgram, size_t len)
{
	struct frags *f = arg;

	CHECK(len <= NCX_WIRE_CHUNK);
	if (f->n == MAXF)
		return 1; /* too many for us: stop, the caller skips the input */
	memcpy(f->d[f->n], dgram, len);
	f->len[f->n++] = len;
	return 0;
}

/* Tiny deterministic generator seeded from the input's control bytes. */
static uint32_t next_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

static void cut_and_join(const uint8_t *data, size_t size)
{
	static char rec[NCX_WIRE_HDR_MAX + NCX_WIRE_BODY_MAX + 2];
	static struct frags f;
	static unsigned char have[NCX_WIRE_BODY_MAX];
	struct ncx_reasm *r = NULL;
	struct ncx_ext e, out;
	uint64_t seed = 0, rec_seq;
	size_t pad, hlen, blen, len, covered = 0;
	int rc, complete = 0;

	if (size < 9)
		return;
	pad = data[0] * 2u;
	for (int i = 1; i < 9; i++)
		seed = seed << 8 | data[i];
	data += 9;
	size -= 9;
	rec_seq = seed;
	blen = size < NCX_WIRE_BODY_MAX ? size : NCX_WIRE_BODY_MAX;

	hlen = (size_t)snprintf(rec, sizeof(rec), "6,%llu,%llu,c,caller=T7",
				(unsigned long long)rec_seq, (unsigned long long)(rec_seq >> 7));
	if (pad) {
		memcpy(rec + hlen, ",x=", 3);
		memset(rec + hlen + 3, 'v', pad);
		hlen += 3 + pad;
	}
	rec[hlen] = ';';
	memcpy(rec + hlen + 1, data, blen);
	len = hlen + 1 + blen;

	memset(&f, 0, sizeof(f));
	rc = ncx_ext_fragment(rec, len, keep, &f);
	/* our headers always leave room for body bytes: never -EINVAL */
	CHECK(rc == 0 || rc == 1);
	if (rc == 1)
		return; /* more fragments than we keep */
	CHECK(f.n > 0);
	if (f.n == 1) {
		/* whole: the record as it is */
		CHECK(len <= NCX_WIRE_CHUNK && f.len[0] == len && memcmp(f.d[0], rec, len) == 0);
		return;
	}
	CHECK(len > NCX_WIRE_CHUNK);
	for (size_t k = 0; k < f.n; k++) {
		/* a header the parser refuses once ncfrag is added: nothing more */
		const char *semi = memchr(f.d[k], ';', f.len[k]);

		CHECK(semi);
		if ((size_t)(semi - f.d[k]) > NCX_WIRE_HDR_MAX) {
			CHECK(ncx_ext_parse(f.d[k], f.len[k], &e) == -EBADMSG);
			return;
		}
	}
	if (blen == 0)
		return;
	memset(have, 0, blen);
	for (size_t step = 0; step < 4 * f.n + 8; step++) {
		uint32_t x = next_rand(&seed);
		size_t k = x % f.n;

		CHECK(ncx_ext_parse(f.d[k], f.len[k], &e) == 0);
		CHECK(e.frag && e.frag_total == blen && e.seq == rec_seq);
		if (!r) {
			r = malloc(ncx_reasm_size(e.frag_total));
			CHECK(r);
			ncx_reasm_init(r, &e);
		}
		if ((x >> 8) % 4 == 0) /* drop this one */
			continue;
		if ((x >> 10) % 3 == 0 && e.body.len > 1) {
			/* re-slice: a sub-range of this fragment's bytes */
			size_t a = (x >> 12) % e.body.len;
			size_t b = a + 1 + (x >> 20) % (e.body.len - a);

			e.frag_off += (uint32_t)a;
			e.body.p += a;
			e.body.len = b - a;
		}
		rc = ncx_reasm_add(r, &e);
		CHECK(rc == 0 || rc == 1);
		for (size_t i = 0; i < e.body.len; i++) {
			covered += !have[e.frag_off + i];
			have[e.frag_off + i] = 1;
		}
		CHECK(r->filled == covered);
		CHECK((rc == 1) == (covered == blen));
		complete = rc;
	}
	if (r) {
		CHECK(r->conflicts == 0);
		rc = ncx_reasm_record(r, &out);
		if (!complete) {
			CHECK(rc == -EAGAIN);
		} else {
			CHECK(rc == 0);
			CHECK(out.header.len == hlen && memcmp(out.header.p, rec, hlen) == 0);
			CHECK(out.body.len == blen && memcmp(out.body.p, rec + hlen + 1, blen) == 0);
			CHECK(!out.frag && out.seq == rec_seq && out.caller_id == 7);
		}
	}
	free(r);
}

static void hostile(const uint8_t *data, size_t size)
{
	struct ncx_reasm *r = NULL;
	struct ncx_ext first = { 0 };
	size_t r_total = 0;

	while (size >= 2) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;
		struct ncx_ext e, out;
		uint8_t *dg;
		int rc;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		dg = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
		CHECK(dg);
		memcpy(dg, data, len);
		data += len;
		size -= len;
		if (ncx_ext_parse(dg, len, &e) != 0 || !e.frag) {
			free(dg);
			continue;
		}
		if (!r) {
			r_total = e.frag_total;
			first = e;
			r = malloc(ncx_reasm_size(e.frag_total));
			CHECK(r);
			ncx_reasm_init(r, &e);
			CHECK(r->hdr_len <= NCX_WIRE_HDR_MAX);
		}
		rc = ncx_reasm_add(r, &e);
		CHECK(rc == 0 || rc == 1 || rc == -EINVAL);
		if (rc == -EINVAL)
			CHECK(e.seq != r->seq || e.frag_total != r->total ||
			      e.ts_usec != first.ts_usec || e.facility != first.facility ||
			      e.level != first.level);
		if (rc >= 0 && r->hdr_len)
			CHECK(e.ts_usec == first.ts_usec && e.level == first.level);
		CHECK(r->total == r_total && r->filled <= r->total);
		rc = ncx_reasm_record(r, &out);
		if (r->filled < r->total) {
			CHECK(rc == -EAGAIN);
		} else {
			CHECK(rc == 0 || rc == -EBADMSG);
			if (rc == 0)
				CHECK(!out.frag && out.body.len == r->total);
		}
		free(dg);
	}
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		hostile(data + 1, size - 1);
	else
		cut_and_join(data + 1, size - 1);
	return 0;
}
