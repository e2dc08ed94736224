/* SPDX-License-Identifier: MIT */
/*
 * num: unsigned decimal numbers in text, both ways, for every option,
 * config value, protocol field and log line that has one.
 *
 * Parsing is strict: ASCII digits only (no sign, no blank, no "0x", no
 * empty string), no overflow, a range checked here rather than by each
 * caller. strtoul() is not: it skips blanks, takes "+5" and "-1" (as a
 * huge number) and needs errno to report an overflow.
 *
 * Formatting writes digits only, no NUL, into the caller's buffer: pure,
 * allocation-free and async-signal-safe (the log core's crash path uses it).
 */
#ifndef NCX_NUM_H
#define NCX_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Most digits a uint64_t has in decimal (18446744073709551615). */
#define NCX_NUM_DEC_MAX 20

/* The whole NUL-terminated s as a number in [min, max]. Returns 0 (and
 * *out), -EINVAL if s is not a number, -ERANGE if it is one outside the
 * range (or beyond UINT64_MAX). *out is untouched on error. */
int ncx_num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * The number at the start of the n bytes at s, read in one pass: how many
 * digits it has (0: s does not start with one), its value in *out. At most
 * 19 digits are read (they always fit in 64 bits): a caller that finds a
 * digit right after them has a number too long for it. Inline, because a
 * record header has three of these and the receiver parses 100,000
 * headers a second; ncx_num_parse_n() is built on it.
 */
static inline size_t ncx_num_scan(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < n && i < 19; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';

		if (d > 9)
			break;
		v = v * 10 + d;
	}
	*out = v;
	return i;
}

/* The same for the n bytes at s, which need not be NUL-terminated. */
int ncx_num_parse_n(const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *out);

/* How many of the n bytes at s, from the first, are digits: the length
 * of a number that text goes on after (then ncx_num_parse_n()). */
size_t ncx_num_digits(const char *s, size_t n);

/* A unit suffix and what it multiplies by; a list ends with suffix NULL. */
struct ncx_num_unit {
	const char *suffix;
	uint64_t mult;
};

/* k/K, m/M, g/G: powers of 1024 ("16M" = 16777216). */
extern const struct ncx_num_unit ncx_num_binary_units[];

/* A number with an optional suffix from units (matched exactly, the whole
 * rest of s); the value after multiplying must be in [min, max]. */
int ncx_num_parse_unit(const char *s, const struct ncx_num_unit *units, uint64_t min,
		       uint64_t max, uint64_t *out);

/* The decimal digits of v at out (room for NCX_NUM_DEC_MAX); returns how
 * many. No NUL. */
size_t ncx_num_dec(char *out, uint64_t v);

/* The same, padded on the left with pad to at least width characters
 * (width at most 32; room for the larger of width and NCX_NUM_DEC_MAX):
 * ("%5llu" is pad ' ', width 5; "%06llu" is '0', 6). */
size_t ncx_num_dec_pad(char *out, uint64_t v, size_t width, char pad);

#endif /* NCX_NUM_H */
