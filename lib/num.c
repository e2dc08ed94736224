/* SPDX-License-Identifier: MIT */
/*
 * num: strict unsigned decimal parsing and allocation-free formatting
 * (include/ncx/num.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <ncx/num.h>

int ncx_num_parse_n(const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	size_t i = ncx_num_scan(s, n, &v);
	bool over = false;

	if (n == 0)
		return -EINVAL;
	/* 19 digits always fit in 64 bits (ncx_num_scan() reads those): only
	 * from the 20th on is an overflow possible. After an overflow it reads
	 * on: "99999999999999999999x" is not a number at all, which says more
	 * than "too big". */
	for (; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (over || __builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
			over = true;
	}
	if (over || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

size_t ncx_num_digits(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (unsigned)(unsigned char)s[i] - '0' <= 9)
		i++;
	return i;
}

int ncx_num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return ncx_num_parse_n(s, strlen(s), min, max, out);
}

const struct ncx_num_unit ncx_num_binary_units[] = {
	{ "k", 1ull << 10 }, { "K", 1ull << 10 }, { "m", 1ull << 20 }, { "M", 1ull << 20 },
	{ "g", 1ull << 30 }, { "G", 1ull << 30 }, { NULL, 0 },
};

int ncx_num_parse_unit(const char *s, const struct ncx_num_unit *units, uint64_t min,
		       uint64_t max, uint64_t *out)
{
	size_t n = ncx_num_digits(s, strlen(s));
	uint64_t v, mult = 1;
	int rc;

	if (s[n]) {
		const struct ncx_num_unit *u = units;

		while (u && u->suffix && strcmp(u->suffix, s + n))
			u++;
		if (!u || !u->suffix)
			return -EINVAL;
		mult = u->mult;
	}
	if ((rc = ncx_num_parse_n(s, n, 0, UINT64_MAX, &v)))
		return rc;
	if (mult && v > UINT64_MAX / mult)
		return -ERANGE;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Two digits per division: this is on ncxd's per-line path. */
static const char dec2[201] = "00010203040506070809101112131415161718192021222324"
			      "25262728293031323334353637383940414243444546474849"
			      "50515253545556575859606162636465666768697071727374"
			      "75767778798081828384858687888990919293949596979899";

/* Digits of v written backwards ending at end; returns where they start. */
static char *dec_rev(char *end, uint64_t v)
{
	char *q = end;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		q -= 2;
		memcpy(q, dec2 + 2 * r, 2);
	}
	if (v >= 10) {
		q -= 2;
		memcpy(q, dec2 + 2 * v, 2);
	} else {
		*--q = (char)('0' + v);
	}
	return q;
}

size_t ncx_num_dec(char *out, uint64_t v)
{
	char tmp[NCX_NUM_DEC_MAX];
	char *q = dec_rev(tmp + sizeof(tmp), v);
	size_t n = (size_t)(tmp + sizeof(tmp) - q);

	memcpy(out, q, n);
	return n;
}

size_t ncx_num_dec_pad(char *out, uint64_t v, size_t width, char pad)
{
	char tmp[32];
	char *q = dec_rev(tmp + sizeof(tmp), v);
	size_t n;

	while ((size_t)(tmp + sizeof(tmp) - q) < width && q > tmp)
		*--q = pad;
	n = (size_t)(tmp + sizeof(tmp) - q);
	memcpy(out, q, n);
	return n;
}
