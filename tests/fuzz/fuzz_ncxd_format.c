/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: ncxd's line formats on any datagram. The input is one
 * byte of options (bit 0: JSON, bit 1: as legacy), then the datagram. An
 * extended datagram that parses (whole or a fragment) and any legacy one
 * must give exactly one line: one '\n', at the end. Text lines hold only
 * printable ASCII; JSON lines hold no raw control byte, only valid UTF-8,
 * and their quotes balance outside escapes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/num.h>

#include "../../cmd/ncxd/ncxd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

static char out[8 * NCX_WIRE_DGRAM_MAX];

static void check_line(const struct ncxd_line *l, bool json)
{
	bool in_str = false;

	CHECK(!l->truncated);
	CHECK(l->len > 0 && l->p[l->len - 1] == '\n');
	for (size_t i = 0; i + 1 < l->len;) {
		unsigned char c = (unsigned char)l->p[i];

		CHECK(c >= 0x20);
		if (!json) {
			CHECK(c < 0x7f);
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t n = ncxd_utf8_len((const unsigned char *)l->p + i, l->len - 1 - i);

			CHECK(n > 0);
			i += n;
			continue;
		}
		CHECK(c != 0x7f);
		if (in_str && c == '\\') {
			i += 2;
			continue;
		}
		if (c == '"')
			in_str = !in_str;
		i++;
	}
	if (json)
		CHECK(!in_str && l->p[0] == '{' && l->p[l->len - 2] == '}');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ncx_addr a = { .family = AF_INET, .port = 6665, .addr = { 10, 0, 0, 1 } };
	struct ncxd_line l = { .p = out, .cap = sizeof(out) };
	enum ncxd_format f;

	if (size < 1 || size > NCX_WIRE_DGRAM_MAX + 1)
		return 0;
	f = (data[0] & 1) ? NCXD_JSON : NCXD_TEXT;
	data++;
	size--;
	if (data[-1] & 2) {
		struct ncx_legacy g;

		if (ncx_legacy_parse(data, size, &g) == 0) {
			ncxd_format_legacy(&l, f, 1795310014123456ull, &a, &g);
			check_line(&l, f == NCXD_JSON);
		}
	} else {
		struct ncx_ext r;

		if (ncx_ext_parse(data, size, &r) == 0) {
			ncxd_format_record(&l, f, 1795310014123456ull, &a, &r);
			check_line(&l, f == NCXD_JSON);
		}
	}
	struct ncxd_event ev = { .kind = (int)(size % 4), .a = size, .b = size * 7,
				 .lost = size & 1, .reason = "write_error" };

	l.len = 0;
	ncxd_format_event(&l, f, 0, &a, &ev);
	check_line(&l, f == NCXD_JSON);
	return 0;
}
