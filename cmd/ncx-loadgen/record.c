/* SPDX-License-Identifier: MIT */
/*
 * The records a simulated host sends. Everything about a record follows from
 * (seed, host, seq), so a test can tell what arrived from what was sent:
 *
 *   text  "loadgen host=<i> seq=<s> " then padding: the 36 characters
 *         "a..z0..9" cycled, starting at index seq % 36
 *   dict  about one record in five carries " SUBSYSTEM=net\n DEVICE=+net:eth<i%4>\n",
 *         like a netdev_info() line does
 *   level mostly 6 (info), some 4 (warning) and 3 (err); facility 0 (kernel)
 *
 * The length varies around --len (half to one and a half times it), the way
 * kernel lines do; with --fragment-every K every K-th record of a host is
 * 1200..3000 bytes of text, so netconsole would cut it into fragments.
 */
#include <stdio.h>
#include <string.h>

#include "loadgen.h"

static const char pad_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* splitmix64: a cheap, well-mixed hash; determinism is what matters here. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint8_t pick_level(uint64_t r)
{
	if (r % 32 == 0)
		return 3;
	if (r % 8 == 1)
		return 4;
	return 6;
}

static size_t pick_len(const struct lg_opts *o, uint64_t seq, uint64_t r)
{
	size_t len;

	if (o->frag_every && seq % o->frag_every == o->frag_every - 1)
		len = 1200 + (size_t)(r % 1801);
	else
		len = o->len / 2 + (size_t)(r % (o->len + 1));
	return len < LG_TEXT_MAX ? len : LG_TEXT_MAX;
}

static size_t make_text(uint32_t host, uint64_t seq, size_t want, char *text)
{
	int n = snprintf(text, LG_TEXT_MAX + 1, "loadgen host=%u seq=%llu ", host,
			 (unsigned long long)seq);
	size_t len = (size_t)n;

	for (size_t i = 0; len < want; i++)
		text[len++] = pad_chars[(seq + i) % (sizeof(pad_chars) - 1)];
	return len;
}

size_t lg_record(const struct lg_opts *o, uint32_t host, uint64_t seq, uint64_t ts_usec,
		 char *out, size_t cap)
{
	uint64_t r = mix(o->seed ^ mix((uint64_t)host << 40 ^ seq));
	char text[LG_TEXT_MAX + 64];
	char dict[64];
	size_t text_len = make_text(host, seq, pick_len(o, seq, r >> 16), text);
	size_t dict_len = 0;
	struct ncx_ext rec = {
		.facility = 0,
		.level = pick_level(r),
		.flag = '-',
		.seq = seq,
		.ts_usec = ts_usec,
	};

	if ((r >> 8) % 5 == 0)
		dict_len = (size_t)snprintf(dict, sizeof(dict),
					    " SUBSYSTEM=net\n DEVICE=+net:eth%u\n", host % 4);
	return ncx_ext_format(&rec, text, text_len, dict, dict_len, out, cap);
}
