/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: every parser of lib/wire.c on arbitrary bytes, with the
 * invariants they promise: spans stay inside the input, formatting what was
 * parsed parses back to the same fields, unescape/escape round trip.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static bool inside(struct ncx_span s, const void *buf, size_t len)
{
	const char *b = buf;

	if (s.len == 0)
		return true;
	return s.p >= b && s.p <= b + len && s.len <= (size_t)(b + len - s.p);
}

/* The kernel's own form: printable ASCII, '\' only as "\x" + 2 lower hex. */
static bool canonical(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c >= 0x7f)
			return false;
		if (c != '\\')
			continue;
		if (len - i < 4 || p[i + 1] != 'x')
			return false;
		for (size_t k = 2; k < 4; k++) {
			char h = p[i + k];

			if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f')))
				return false;
		}
		/* an escape must be needed: the byte must not be plain printable */
		{
			unsigned v = (unsigned)strtoul((char[]){ p[i + 2], p[i + 3], 0 }, NULL, 16);

			if (v >= 0x20 && v < 0x7f && v != '\\')
				return false;
		}
		i += 3;
	}
	return true;
}

static void check_escape(const char *p, size_t len)
{
	static char u[NCX_WIRE_DGRAM_MAX], u2[NCX_WIRE_DGRAM_MAX], inplace[NCX_WIRE_DGRAM_MAX];
	static char e[4 * NCX_WIRE_DGRAM_MAX];
	size_t ul, el, ul2;

	ul = ncx_unescape(p, len, u, sizeof(u));
	CHECK(ul <= len);
	/* in place gives the same */
	memcpy(inplace, p, len);
	CHECK(ncx_unescape(inplace, len, inplace, len) == ul);
	CHECK(memcmp(inplace, u, ul) == 0);
	/* a short cap writes a prefix and still says the whole length */
	if (ul > 1) {
		CHECK(ncx_unescape(p, len, u2, ul / 2) == ul);
		CHECK(memcmp(u2, u, ul / 2) == 0);
	}

	el = ncx_escape(u, ul, e, sizeof(e));
	CHECK(el <= sizeof(e) && el >= ul && el <= 4 * ul);
	for (size_t i = 0; i < el; i++)
		CHECK(e[i] >= 0x20 && e[i] < 0x7f);
	CHECK(canonical(e, el));
	ul2 = ncx_unescape(e, el, u2, sizeof(u2));
	CHECK(ul2 == ul && memcmp(u2, u, ul) == 0);
	if (canonical(p, len))
		CHECK(el == len && memcmp(e, p, len) == 0);
}

static void check_ext(const uint8_t *data, size_t size)
{
	static char fmt[4 * NCX_WIRE_DGRAM_MAX + 64], text[NCX_WIRE_DGRAM_MAX];
	struct ncx_ext e, b;
	struct ncx_span t, d, k, v;
	size_t n, tl, lines = 0;
	int rc = ncx_ext_parse(data, size, &e);

	if (rc) {
		CHECK(rc == -EBADMSG);
		return;
	}
	CHECK(ncx_ext_looks_like(data, size));
	CHECK(e.header.p == (const char *)data);
	CHECK(e.header.len <= NCX_WIRE_HDR_MAX);
	CHECK(e.header.len + 1 + e.body.len == size);
	CHECK(e.header.p[e.header.len] == ';');
	CHECK(e.body.p == e.header.p + e.header.len + 1);
	CHECK(inside(e.release, e.header.p, e.header.len));
	CHECK(e.level <= 7);
	CHECK(e.flag == '-' || e.flag == 'c' || e.flag == '+');
	CHECK(e.caller_kind == 0 || e.caller_kind == 'T' || e.caller_kind == 'C');
	CHECK(e.gone <= 1ULL << 32 && !(e.gone && e.frag));
	if (e.frag) {
		CHECK(e.frag_off < e.frag_total && e.frag_total <= NCX_WIRE_BODY_MAX);
		CHECK(e.body.len <= e.frag_total - e.frag_off);
	}

	/* the header we would write parses back to the same fields */
	n = ncx_ext_format_header(&e, fmt, sizeof(fmt));
	CHECK(n < sizeof(fmt));
	fmt[n] = ';';
	CHECK(ncx_ext_parse(fmt, n + 1, &b) == 0);
	CHECK(b.release.len == e.release.len);
	CHECK(!e.release.len || memcmp(b.release.p, e.release.p, e.release.len) == 0);
	CHECK(b.facility == e.facility && b.level == e.level && b.flag == e.flag);
	CHECK(b.seq == e.seq && b.ts_usec == e.ts_usec);
	CHECK(b.caller_kind == e.caller_kind && b.caller_id == e.caller_id);
	CHECK(b.emergency == e.emergency && b.reliable == e.reliable && b.gone == e.gone);
	CHECK(!b.frag && b.unknown_keys == 0);

	/* body, text, dictionary: all inside, all accounted for */
	ncx_ext_split_body(e.body, &t, &d);
	CHECK(inside(t, e.body.p, e.body.len) && inside(d, e.body.p, e.body.len));
	CHECK(t.len + d.len + (t.len < e.body.len ? 1 : 0) == e.body.len);
	CHECK(memchr(t.p, '\n', t.len) == NULL);
	while (ncx_dict_next(&d, &k, &v)) {
		CHECK(inside(k, e.body.p, e.body.len) && inside(v, e.body.p, e.body.len));
		CHECK(memchr(v.p, '\n', v.len) == NULL);
		CHECK(++lines <= e.body.len);
	}
	CHECK(d.len == 0);

	/* a whole record re-formats to a record that parses, same body text */
	tl = ncx_unescape(t.p, t.len, text, sizeof(text));
	ncx_ext_split_body(e.body, &t, &d);
	n = ncx_ext_format(&e, text, tl, d.p, d.len, fmt, sizeof(fmt));
	CHECK(n <= sizeof(fmt));
	CHECK(ncx_ext_parse(fmt, n, &b) == 0 || n > NCX_WIRE_DGRAM_MAX);
}

static void check_legacy(const uint8_t *data, size_t size)
{
	struct ncx_legacy l;
	struct ncx_span t, line;
	size_t lines = 0;
	int rc = ncx_legacy_parse(data, size, &l);

	if (size == 0 || memchr(data, 0, size)) {
		CHECK(rc == -EBADMSG);
		return;
	}
	CHECK(rc == 0);
	CHECK(inside(l.text, data, size));
	t = l.text;
	while (ncx_legacy_next_line(&t, &line)) {
		CHECK(inside(line, data, size));
		CHECK(memchr(line.p, '\n', line.len) == NULL);
		CHECK(++lines <= size);
	}
	CHECK(t.len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy so ASan sees any read past the end */
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	(void)ncx_ext_looks_like(buf, size);
	check_ext(buf, size);
	check_legacy(buf, size);
	if (size <= NCX_WIRE_DGRAM_MAX)
		check_escape((const char *)buf, size);
	free(buf);
	return 0;
}
