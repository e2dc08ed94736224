/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the response format of include/ncx/wire.h, both ways.
 *
 * The input's first byte picks the parser's cap (255: NCX_WIRE_RESP_SEQS_MAX,
 * else that many requests); the rest is a datagram for ncx_resp_parse(),
 * checked against a second, plain reading of the grammar written here
 * ("ncrx", digits, then " " digits, each at most 2^64-1, at most 1000 bytes,
 * at most cap requests). What it accepts must come back byte for byte from
 * the writer once leading zeros are dropped.
 *
 * The same bytes, eight at a time, are also seqs for ncx_resp_init() and
 * ncx_resp_add(): the writer must make exactly what snprintf would, stop
 * exactly when the next " <seq>" would pass NCX_WIRE_RESP_MAX, and its
 * output must parse back to the same numbers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

/* One field of digits: its value, if it has one in 64 bits. */
static bool ref_number(const char *p, size_t len, uint64_t *out)
{
	static const char max[] = "18446744073709551615";
	char digits[32];
	size_t i = 0, n;

	if (len == 0)
		return false;
	for (size_t k = 0; k < len; k++)
		if (p[k] < '0' || p[k] > '9')
			return false;
	while (i + 1 < len && p[i] == '0')
		i++;
	n = len - i;
	if (n > 20 || (n == 20 && memcmp(p + i, max, 20) > 0))
		return false;
	memcpy(digits, p + i, n);
	digits[n] = 0;
	*out = strtoull(digits, NULL, 10);
	return true;
}

/* The grammar read plainly: split at every ' ', each field a number. */
static int ref_parse(const char *p, size_t len, uint64_t *acked, uint64_t *seqs, size_t cap)
{
	size_t start = 4, n = 0;

	if (len > NCX_WIRE_RESP_MAX || len < 4 || memcmp(p, "ncrx", 4))
		return -EBADMSG;
	for (size_t i = 4; i <= len; i++) {
		uint64_t v;

		if (i < len && p[i] != ' ')
			continue;
		if (!ref_number(p + start, i - start, &v))
			return -EBADMSG;
		if (start == 4) {
			*acked = v;
		} else {
			if (n == cap)
				return -EBADMSG;
			seqs[n++] = v;
		}
		start = i + 1;
	}
	return (int)n;
}

static void check_parse(const char *p, size_t len, size_t cap)
{
	static uint64_t seqs[NCX_WIRE_RESP_SEQS_MAX], ref_seqs[NCX_WIRE_RESP_SEQS_MAX];
	uint64_t acked = 0, ref_acked = 0;
	int n = ncx_resp_parse(p, len, &acked, seqs, cap);
	int rn = ref_parse(p, len, &ref_acked, ref_seqs, cap);
	struct ncx_resp r;

	CHECK(n == rn);
	if (n < 0)
		return;
	CHECK(acked == ref_acked);
	CHECK(memcmp(seqs, ref_seqs, (size_t)n * sizeof(seqs[0])) == 0);
	/* The writer gives the same numbers back, no longer than they came. */
	ncx_resp_init(&r, acked);
	for (int i = 0; i < n; i++)
		CHECK(ncx_resp_add(&r, seqs[i]));
	CHECK(r.len <= len);
	if (r.len == len)	/* no leading zeros: the very bytes */
		CHECK(memcmp(r.buf, p, len) == 0);
}

static void check_write(const uint8_t *data, size_t size)
{
	static uint64_t seqs[NCX_WIRE_RESP_SEQS_MAX + 1], back[NCX_WIRE_RESP_SEQS_MAX];
	char want[NCX_WIRE_RESP_MAX + 32];
	struct ncx_resp r;
	uint64_t acked = 0, got;
	size_t n = 0, wlen;
	int k;

	/* Each 8 bytes a seq, shifted by its low bits so that every length of
	 * number turns up. */
	for (size_t i = 0; i + 8 <= size && n <= NCX_WIRE_RESP_SEQS_MAX; i += 8) {
		uint64_t v;

		memcpy(&v, data + i, 8);
		v >>= v & 63;
		if (i == 0)
			acked = v;
		else
			seqs[n++] = v;
	}
	ncx_resp_init(&r, acked);
	k = snprintf(want, sizeof(want), "ncrx%llu", (unsigned long long)acked);
	CHECK(k > 0);
	wlen = (size_t)k;
	CHECK(r.len == wlen && memcmp(r.buf, want, wlen) == 0);
	for (size_t i = 0; i < n; i++) {
		char num[24];
		size_t before = r.len;

		k = snprintf(num, sizeof(num), " %llu", (unsigned long long)seqs[i]);
		CHECK(k > 0);
		if (!ncx_resp_add(&r, seqs[i])) {
			CHECK(wlen + (size_t)k > NCX_WIRE_RESP_MAX);
			CHECK(r.len == before);
			n = i;
			break;
		}
		CHECK(wlen + (size_t)k <= NCX_WIRE_RESP_MAX);
		memcpy(want + wlen, num, (size_t)k);
		wlen += (size_t)k;
		CHECK(r.len == wlen && memcmp(r.buf, want, wlen) == 0);
	}
	CHECK(r.len <= NCX_WIRE_RESP_MAX);
	k = ncx_resp_parse(r.buf, r.len, &got, back, NCX_WIRE_RESP_SEQS_MAX);
	CHECK(k == (int)n);
	CHECK(got == acked);
	CHECK(memcmp(back, seqs, n * sizeof(seqs[0])) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap;

	if (size == 0)
		return 0;
	cap = data[0] == 255 ? NCX_WIRE_RESP_SEQS_MAX : data[0];
	check_parse((const char *)data + 1, size - 1, cap);
	check_write(data + 1, size - 1);
	return 0;
}
