/* SPDX-License-Identifier: MIT */
/*
 * log_format: the log core's own printf for the common conversions, so
 * that an ncx_log() call mostly does not pay for vsnprintf.
 *
 * Internal to libncx, and included by lib/log.c alone: this is the hot
 * path of every call, and compiled anywhere else it would cost a call
 * into another file, about 9 instructions of the 1,200 an ncx_log() takes
 * (callgrind). So the whole formatter lives here, static, and is compiled
 * into its one caller exactly as before it had a file of its own.
 */
#ifndef NCX_LOG_FORMAT_H
#define NCX_LOG_FORMAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/*
 * glibc's vsnprintf is most of the cost of a call. The common conversions
 * (d i u x X o c s p %, flags - and 0, width, precision, length modifiers
 * hh h l ll z j t) are formatted here directly; anything else (floating
 * point, %m, %n, the flags + space # ', a NULL for %s or %p) makes the
 * whole call fall back to vsnprintf, so the output is always exactly what
 * printf would give. The tests compare the two.
 */
struct fo {
	char *p, *end;
};

/* Room for n more bytes? */
static inline bool fo_room(const struct fo *o, size_t n)
{
	return (size_t)(o->end - o->p) >= n;
}

/*
 * Short copies are the rule (literal runs, an IP address, digits): two
 * overlapping 8-byte (or 4-byte) moves beat both a byte loop and a call to
 * memcpy. Reads stay inside [s, s + n): a format string is never read past.
 */
static inline void fo_copy(char *d, const char *s, size_t n)
{
	if (n >= 8) {
		uint64_t a, b;

		if (n > 16) {
			memcpy(d, s, n);
			return;
		}
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;

		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else if (n) {
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	}
}

/*
 * n bytes of c at o->p, and o->p moved past them. Padding is short: with
 * 16 bytes of room, two 8-byte stores (the bytes past the padding are
 * scratch: whatever comes next overwrites them, or they lie past the end
 * of the text). No loop, so the compiler makes no memset call of it.
 */
static inline void fo_pad(struct fo *o, char c, size_t n)
{
	if (n <= 16 && fo_room(o, 16)) {
		uint64_t w = 0x0101010101010101ull * (unsigned char)c;

		memcpy(o->p, &w, 8);
		memcpy(o->p + 8, &w, 8);
	} else if (n) {
		memset(o->p, c, n);
	}
	o->p += n;
}

struct spec {
	bool left, zero;
	int width, prec;	/* prec < 0: none */
};

static const char dig2[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Digits of v, written backwards ending at q; returns where they start. */
static inline char *digits_rev(char *q, uint64_t v, unsigned base, bool upper)
{
	if (base == 10) {
		/* Two digits per division, in 32 bits once the value fits. */
		while (v > UINT32_MAX) {
			unsigned r = (unsigned)(v % 100);

			v /= 100;
			q -= 2;
			memcpy(q, dig2 + 2 * r, 2);
		}
		uint32_t w = (uint32_t)v;

		while (w >= 100) {
			unsigned r = w % 100;

			w /= 100;
			q -= 2;
			memcpy(q, dig2 + 2 * r, 2);
		}
		if (w >= 10) {
			q -= 2;
			memcpy(q, dig2 + 2 * w, 2);
		} else {
			*--q = (char)('0' + w);
		}
		return q;
	}
	const char *digs = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned shift = base == 16 ? 4 : 3;

	do {
		*--q = digs[v & (base - 1)];
		v >>= shift;
	} while (v);
	return q;
}

/* Decimal digits in v (1 for 0). */
static inline unsigned dec_len32(uint32_t v)
{
	static const uint32_t p10[10] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
					  100000000, 1000000000 };
	/* floor(log10(2) * bit length) is the count or one less; v | 1 has
	 * the digits of v (powers of ten above 1 are even). */
	unsigned t = ((32 - (unsigned)__builtin_clz(v | 1)) * 1233) >> 12;

	return t + ((v | 1) >= p10[t]);
}

/* false: did not fit (the caller falls back to vsnprintf). */
static inline __attribute__((always_inline)) bool fo_int(struct fo *o, const struct spec *sp,
							 uint64_t v, bool neg, unsigned base,
							 bool upper)
{
	char d[24], *q = d + sizeof(d);
	size_t n, zeros, len, pad;
	/* A decimal that fits 32 bits (the rule) is written straight into
	 * the output, its length known first; anything else via d[]. */
	bool direct = base == 10 && v <= UINT32_MAX;

	if (direct && sp->width == 0 && sp->prec < 0) {
		/* The most common of all: a plain %d or %u. */
		n = dec_len32((uint32_t)v);
		if (!fo_room(o, n + neg))
			return false;
		/* (room for n >= 1 bytes: the sign's byte is always ours) */
		*o->p = '-';
		o->p += neg;
		digits_rev(o->p + n, v, 10, false);
		o->p += n;
		return true;
	}
	if (sp->prec == 0 && v == 0)
		n = 0;
	else if (direct)
		n = dec_len32((uint32_t)v);
	else
		q = digits_rev(q, v, base, upper), n = (size_t)(d + sizeof(d) - q);
	zeros = sp->prec > (int)n ? (size_t)sp->prec - n : 0;
	len = n + zeros + (neg ? 1 : 0);
	pad = sp->width > (int)len ? (size_t)sp->width - len : 0;
	if (!fo_room(o, len + pad))
		return false;
	if (sp->zero && !sp->left && sp->prec < 0)
		zeros += pad, pad = 0;
	if (!sp->left)
		fo_pad(o, ' ', pad);
	if (neg)
		*o->p++ = '-';
	fo_pad(o, '0', zeros);
	if (direct) {
		if (n)
			digits_rev(o->p + n, v, 10, false);
	} else {
		fo_copy(o->p, q, n);
	}
	o->p += n;
	if (sp->left)
		fo_pad(o, ' ', pad);
	return true;
}

static bool fo_str(struct fo *o, const struct spec *sp, const char *s, size_t n)
{
	size_t pad = sp->width > (int)n ? (size_t)sp->width - n : 0;

	if (!fo_room(o, n + pad))
		return false;
	if (!sp->left)
		fo_pad(o, ' ', pad);
	fo_copy(o->p, s, n);
	o->p += n;
	if (sp->left)
		fo_pad(o, ' ', pad);
	return true;
}

/* Parse digits; false if absurdly large (let vsnprintf deal with it). */
static inline bool fo_num(const char **f, int *v)
{
	const char *s = *f;
	unsigned d, n = 0;

	while ((d = (unsigned)(unsigned char)*s - '0') < 10) {
		n = n * 10 + d;
		s++;
		if (n > 4096)
			return false;
	}
	*f = s;
	*v = (int)n;
	return true;
}

/*
 * Where the literal text at f ends (the first '%' or NUL), and where a %s
 * argument ends. A table lookup per byte was the largest single item of a
 * call (~230 of ~1,800 instructions for the benchmark's message), and a
 * %s was copied a byte at a time; with SSE2, 16 bytes are looked at at
 * once. The loads are aligned, so they never cross a page and never
 * fault, but they may read up to 15 bytes past the string's NUL (as
 * glibc's own string functions do); nothing past the NUL is ever used.
 * The sanitizers would flag those bytes, so their builds keep byte loops.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FMT_SCAN_BYTES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define FMT_SCAN_BYTES 1
#endif
#endif
#if !defined(FMT_SCAN_BYTES) && defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * The first byte at or after f that is NUL or stop (stop may be NUL too:
 * then it is the end of the string).
 */
static inline const char *scan_to(const char *f, char stop)
{
#if defined(FMT_SCAN_BYTES) || !defined(__SSE2__)
	while (*f && *f != stop)
		f++;
	return f;
#else
	uintptr_t a = (uintptr_t)f & ~(uintptr_t)15;
	const __m128i st = _mm_set1_epi8(stop), nul = _mm_setzero_si128();
	__m128i w = _mm_load_si128((const __m128i *)a);
	/* Hits before f are shifted out. */
	unsigned m = (unsigned)_mm_movemask_epi8(
			     _mm_or_si128(_mm_cmpeq_epi8(w, st), _mm_cmpeq_epi8(w, nul))) >>
		     ((uintptr_t)f & 15);

	if (m)
		return f + __builtin_ctz(m);
	for (;;) {
		a += 16;
		w = _mm_load_si128((const __m128i *)a);
		m = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(w, st), _mm_cmpeq_epi8(w, nul)));
		if (m)
			return (const char *)a + __builtin_ctz(m);
	}
#endif
}

/* Where the literal text at f ends: the first '%' or NUL. */
static inline const char *lit_end(const char *f)
{
#if defined(FMT_SCAN_BYTES) || !defined(__SSE2__)
	/* The bytes that end a run of literal format text. */
	static const bool fmt_stop[256] = { [0] = true, ['%'] = true };

	while (!fmt_stop[(unsigned char)*f])
		f++;
	return f;
#else
	return scan_to(f, '%');
#endif
}
/* Returns the length formatted into out (at most cap), or -1: use vsnprintf. */
static int fast_format(char *out, size_t cap, const char *f, va_list ap)
{
	struct fo o = { out, out + cap };

	for (;;) {
		struct spec sp = { false, false, 0, -1 };
		int lmod = 0;	/* 'H' hh, 'h', 0, 'l', 'L' ll, 'z', 'j', 't' */
		bool neg = false, ok;
		uint64_t u;
		char c;

		/* The literal text up to the next conversion: find its end
		 * with one table lookup per byte, then copy it (the runs are
		 * short: no strchrnul + memcpy calls). */
		const char *lit = f;

		f = lit_end(f);
		if (!fo_room(&o, (size_t)(f - lit)))
			return -1;
		fo_copy(o.p, lit, (size_t)(f - lit));
		o.p += f - lit;
		if (!*f++)
			return (int)(o.p - out);
		/* Flags, width, precision: all below 'A'; a conversion letter
		 * or length modifier right after the '%' skips them. */
		if ((unsigned char)*f < 'A') {
			if (*f == '-' || *f == '0') {
				for (;; f++) {
					if (*f == '-')
						sp.left = true;
					else if (*f == '0')
						sp.zero = true;
					else
						break;
				}
			}
			if (*f == '*') {
				sp.width = va_arg(ap, int);
				if (sp.width < 0) {
					if (sp.width < -4096)
						return -1;
					sp.left = true, sp.width = -sp.width;
				}
				f++;
			} else if (!fo_num(&f, &sp.width)) {
				return -1;
			}
			if (sp.width > 4096)
				return -1;
			if (*f == '.') {
				f++;
				if (*f == '*') {
					sp.prec = va_arg(ap, int);
					if (sp.prec < 0)
						sp.prec = -1;
					f++;
				} else if (!fo_num(&f, &sp.prec)) {
					return -1;
				}
				if (sp.prec > 4096)
					return -1;
			}
		}
		/* One switch for the length modifier and the conversion: a
		 * modifier (at most one: "hh" and "ll" count as one) comes
		 * back here for the conversion after it. */
	conv:
		switch (*f++) {
		case 'h':
		case 'l':
			if (lmod)
				return -1;
			c = f[-1];
			lmod = *f == c ? (f++, c == 'h' ? 'H' : 'L') : c;
			goto conv;
		case 'z': case 'j': case 't':
			if (lmod)
				return -1;
			lmod = f[-1];
			goto conv;
		case 'd':
		case 'i': {
			int64_t v;

			if (!lmod) {	/* the rule */
				v = va_arg(ap, int);
			} else {
				switch (lmod) {
				case 'H': v = (signed char)va_arg(ap, int); break;
				case 'h': v = (short)va_arg(ap, int); break;
				case 'l': v = va_arg(ap, long); break;
				case 'L': v = va_arg(ap, long long); break;
				case 'z': v = va_arg(ap, ssize_t); break;
				case 'j': v = va_arg(ap, intmax_t); break;
				default: v = va_arg(ap, ptrdiff_t); break;
				}
			}
			neg = v < 0;
			ok = fo_int(&o, &sp, neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, neg, 10,
				    false);
			break;
		}
		case 'u': case 'x': case 'X': case 'o': {
			c = f[-1];
			if (!lmod) {	/* the rule */
				u = va_arg(ap, unsigned);
			} else {
				switch (lmod) {
				case 'H': u = (unsigned char)va_arg(ap, unsigned); break;
				case 'h': u = (unsigned short)va_arg(ap, unsigned); break;
				case 'l': u = va_arg(ap, unsigned long); break;
				case 'L': u = va_arg(ap, unsigned long long); break;
				case 'z': u = va_arg(ap, size_t); break;
				case 'j': u = va_arg(ap, uintmax_t); break;
				default: u = (uint64_t)va_arg(ap, ptrdiff_t); break;
				}
			}
			/* Decimal on a path of its own: fo_int() made for base 10. */
			if (c == 'u')
				ok = fo_int(&o, &sp, u, false, 10, false);
			else
				ok = fo_int(&o, &sp, u, false, c == 'o' ? 8 : 16, c == 'X');
			break;
		}
		case 'c':
			c = (char)va_arg(ap, int);
			if (lmod || sp.zero)
				return -1;
			ok = fo_str(&o, &sp, &c, 1);
			break;
		case 's': {
			const char *str;

			if (lmod || sp.zero)
				return -1;
			str = va_arg(ap, const char *);
			if (!str)
				return -1;	/* glibc's "(null)" rules: leave them to it */
			if (sp.width == 0 && sp.prec < 0) {
				/* The common case: find the end as the literal
				 * runs are found, then one short copy. */
				size_t n = (size_t)(scan_to(str, 0) - str);

				if (!fo_room(&o, n))
					return -1;
				fo_copy(o.p, str, n);
				o.p += n;
				ok = true;
				break;
			}
			ok = fo_str(&o, &sp, str,
				    sp.prec < 0 ? strlen(str) : strnlen(str, (size_t)sp.prec));
			break;
		}
		case 'p': {
			void *ptr;
			struct spec hex = { false, false, 0, -1 };

			if (lmod || sp.zero || sp.left || sp.width || sp.prec >= 0)
				return -1;
			ptr = va_arg(ap, void *);
			if (!ptr)
				return -1;	/* "(nil)" */
			ok = fo_str(&o, &hex, "0x", 2) &&
			     fo_int(&o, &hex, (uint64_t)(uintptr_t)ptr, false, 16, false);
			break;
		}
		case '%':
			if (lmod || sp.left || sp.zero || sp.width || sp.prec >= 0)
				return -1;
			ok = fo_str(&o, &sp, "%", 1);
			break;
		default:
			return -1;	/* floating point, %n, %m, flags + space # ', ... */
		}
		if (!ok)
			return -1;
	}
}

#endif /* NCX_LOG_FORMAT_H */
