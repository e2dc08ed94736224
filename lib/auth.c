/* SPDX-License-Identifier: MIT */
/*
 * auth: SipHash-2-4, host key derivation, and the ncmac tags of datagrams
 * and responses. See include/ncx/auth.h. Freestanding: compiled into the
 * kernel module as it is (no I/O, no allocation, no clock).
 *
 * SipHash-2-4 is written here from its specification (Aumasson and
 * Bernstein, "SipHash: a fast short-input PRF", 2012): four 64-bit words of
 * state, two compression rounds per 8-byte little-endian block, the last
 * block padded with zeros and the length's low byte in its top byte, then
 * 0xff into v2 and four finalization rounds. It is incremental here so that
 * a tag can cover a datagram with the tag's own bytes cut out of the middle
 * without copying it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ncx/auth.h>
#include <ncx/wire.h>

struct sip {
	uint64_t v0, v1, v2, v3;
	uint8_t buf[8];
	size_t nbuf;	/* bytes in buf */
	uint64_t len;	/* bytes taken in all */
};

static inline uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void sipround(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static void sip_init(struct sip *s, const struct ncx_auth_key *key)
{
	uint64_t k0 = le64(key->k), k1 = le64(key->k + 8);

	s->v0 = 0x736f6d6570736575ULL ^ k0;
	s->v1 = 0x646f72616e646f6dULL ^ k1;
	s->v2 = 0x6c7967656e657261ULL ^ k0;
	s->v3 = 0x7465646279746573ULL ^ k1;
	s->nbuf = 0;
	s->len = 0;
}

static void sip_block(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sipround(s);
	sipround(s);
	s->v0 ^= m;
}

static void sip_update(struct sip *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->len += len;
	if (s->nbuf) {
		while (len && s->nbuf < 8) {
			s->buf[s->nbuf++] = *p++;
			len--;
		}
		if (s->nbuf < 8)
			return;
		sip_block(s, le64(s->buf));
		s->nbuf = 0;
	}
	for (; len >= 8; p += 8, len -= 8)
		sip_block(s, le64(p));
	for (size_t i = 0; i < len; i++)
		s->buf[s->nbuf++] = p[i];
}

static uint64_t sip_final(struct sip *s)
{
	uint64_t b = (s->len & 0xff) << 56;

	for (size_t i = 0; i < s->nbuf; i++)
		b |= (uint64_t)s->buf[i] << (8 * i);
	sip_block(s, b);
	s->v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sipround(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t ncx_siphash24(const struct ncx_auth_key *key, const void *data, size_t len)
{
	struct sip s;

	sip_init(&s, key);
	sip_update(&s, data, len);
	return sip_final(&s);
}

/* ---- host keys ---------------------------------------------------------- */

#define DERIVE_LABEL "ncx-host-key1"

void ncx_auth_derive(const struct ncx_auth_key *secret, const char *addr, size_t addr_len,
		     struct ncx_auth_key *out)
{
	for (unsigned half = 0; half < 2; half++) {
		uint8_t ctr = (uint8_t)(half + 1);
		struct sip s;
		uint64_t h;

		sip_init(&s, secret);
		sip_update(&s, DERIVE_LABEL, sizeof(DERIVE_LABEL) - 1);
		sip_update(&s, &ctr, 1);
		sip_update(&s, addr, addr_len);
		h = sip_final(&s);
		for (unsigned i = 0; i < 8; i++)
			out->k[8 * half + i] = (uint8_t)(h >> (8 * i));
	}
}

/* ---- key text ----------------------------------------------------------- */

static const char hexdig[] = "0123456789abcdef";

int ncx_auth_key_parse(const char *text, size_t len, struct ncx_auth_key *out, const char **why)
{
	const char *w = NULL;
	size_t n = len;

	if (n && text[n - 1] == '\n')
		n--;
	if (n < NCX_AUTH_KEY_HEX) {
		for (size_t i = 0; i < n && !w; i++)
			if (ncx_hex_digit(text[i]) < 0)
				w = "a key holds only hex digits";
		if (!w)
			w = "too short: a key is 32 hex digits (128 bits)";
	} else {
		for (size_t i = 0; i < NCX_AUTH_KEY_HEX && !w; i++)
			if (ncx_hex_digit(text[i]) < 0)
				w = "a key holds only hex digits";
		if (!w && n > NCX_AUTH_KEY_HEX)
			w = text[NCX_AUTH_KEY_HEX] == '\n' || text[NCX_AUTH_KEY_HEX] == '\r'
				    ? "more than one line: a key is 32 hex digits and one newline"
			    : ncx_hex_digit(text[NCX_AUTH_KEY_HEX]) >= 0
				    ? "too long: a key is 32 hex digits (128 bits)"
				    : "text after the key's 32 hex digits";
	}
	if (w) {
		if (why)
			*why = w;
		return -EINVAL;
	}
	for (size_t i = 0; i < NCX_AUTH_KEY_BYTES; i++)
		out->k[i] = (uint8_t)(ncx_hex_digit(text[2 * i]) << 4 | ncx_hex_digit(text[2 * i + 1]));
	return 0;
}

void ncx_auth_key_format(const struct ncx_auth_key *key, char *out)
{
	for (size_t i = 0; i < NCX_AUTH_KEY_BYTES; i++) {
		out[2 * i] = hexdig[key->k[i] >> 4];
		out[2 * i + 1] = hexdig[key->k[i] & 15];
	}
	out[NCX_AUTH_KEY_HEX] = '\0';
}

/* A tag is written and read as wire.h writes and reads ncid. */
_Static_assert(NCX_AUTH_TAG_HEX == NCX_WIRE_ID_HEX, "a tag is 16 hex digits, as ncid");

/* Constant time: a tag's bytes are not compared one at a time. */
static bool tag_equal(uint64_t a, uint64_t b)
{
	uint64_t d = a ^ b;

	return !((d | (0 - d)) >> 63);
}

/* ---- datagrams ---------------------------------------------------------- */

#define DGRAM_DOMAIN "ncmac1d"
#define RESP_DOMAIN "ncmac1r"
static const char dgram_key[] = ",ncmac=";

/* The tag of buf with [cut, cut + cutlen) removed, after the domain and,
 * for a response, the stream's id as 8 little-endian bytes. */
static uint64_t tag_of(const struct ncx_auth_key *key, const char *domain, const uint64_t *id,
		       const char *buf, size_t len, size_t cut, size_t cutlen)
{
	struct sip s;

	sip_init(&s, key);
	sip_update(&s, domain, 7);
	if (id) {
		uint8_t le[8];

		for (int i = 0; i < 8; i++)
			le[i] = (uint8_t)(*id >> (8 * i));
		sip_update(&s, le, 8);
	}
	sip_update(&s, buf, cut);
	sip_update(&s, buf + cut + cutlen, len - cut - cutlen);
	return sip_final(&s);
}

static const char *find_bytes(const char *h, size_t hlen, const char *n, size_t nlen)
{
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (h[i] == n[0] && !memcmp(h + i, n, nlen))
			return h + i;
	return NULL;
}

long ncx_auth_dgram_find(const void *buf, size_t len)
{
	const char *p = buf, *semi = memchr(p, ';', len), *k;
	size_t hlen;

	if (!semi)
		return -1;	/* no extended header: nothing can be tagged */
	hlen = (size_t)(semi - p);
	k = find_bytes(p, hlen, dgram_key, sizeof(dgram_key) - 1);
	if (!k)
		return -1;
	/* Exactly one, the last key, 16 hex digits to the ';'. */
	if ((size_t)(semi - k) != NCX_AUTH_DGRAM_TAG_LEN)
		return -2;
	return (long)(k - p);
}

long ncx_auth_dgram_sign(const struct ncx_auth_key *key, char *buf, size_t len, size_t cap)
{
	const char *semi = memchr(buf, ';', len);
	size_t at;
	uint64_t tag;

	if (!semi || ncx_auth_dgram_find(buf, len) != -1)
		return -EINVAL;
	if (cap < len || cap - len < NCX_AUTH_DGRAM_TAG_LEN)
		return -EMSGSIZE;
	at = (size_t)(semi - buf);
	tag = tag_of(key, DGRAM_DOMAIN, NULL, buf, len, len, 0);
	memmove(buf + at + NCX_AUTH_DGRAM_TAG_LEN, buf + at, len - at);
	memcpy(buf + at, dgram_key, sizeof(dgram_key) - 1);
	ncx_hex64_format(buf + at + sizeof(dgram_key) - 1, tag);
	return (long)(len + NCX_AUTH_DGRAM_TAG_LEN);
}

int ncx_auth_dgram_verify(const struct ncx_auth_key *key, const void *buf, size_t len)
{
	const char *p = buf;
	long at = ncx_auth_dgram_find(buf, len);
	uint64_t tag;

	if (at == -1)
		return 0;
	if (at < 0 || !ncx_hex64_parse(p + at + sizeof(dgram_key) - 1, &tag))
		return -EBADMSG;
	if (!tag_equal(tag, tag_of(key, DGRAM_DOMAIN, NULL, p, len, (size_t)at,
				   NCX_AUTH_DGRAM_TAG_LEN)))
		return -EBADMSG;
	return 1;
}

int ncx_auth_dgram_check(const struct ncx_auth_key *key, const void *buf, size_t len,
			 size_t hdr_len)
{
	const char *p = buf;
	size_t at = hdr_len - NCX_AUTH_DGRAM_TAG_LEN;
	uint64_t tag;

	if (hdr_len < NCX_AUTH_DGRAM_TAG_LEN || hdr_len >= len ||
	    memcmp(p + at, dgram_key, sizeof(dgram_key) - 1) ||
	    !ncx_hex64_parse(p + at + sizeof(dgram_key) - 1, &tag))
		return -EBADMSG;
	return tag_equal(tag, tag_of(key, DGRAM_DOMAIN, NULL, p, len, at, NCX_AUTH_DGRAM_TAG_LEN))
		       ? 1 : -EBADMSG;
}

/* ---- responses ---------------------------------------------------------- */

long ncx_auth_resp_sign(const struct ncx_auth_key *key, uint64_t id, char *buf, size_t len,
			size_t cap)
{
	uint64_t tag;

	if (cap < len || cap - len < NCX_AUTH_RESP_TAG_LEN)
		return -EMSGSIZE;
	tag = tag_of(key, RESP_DOMAIN, &id, buf, len, len, 0);
	buf[len] = ' ';
	buf[len + 1] = 'm';
	ncx_hex64_format(buf + len + 2, tag);
	return (long)(len + NCX_AUTH_RESP_TAG_LEN);
}

int ncx_auth_resp_verify(const struct ncx_auth_key *key, uint64_t id, const void *buf,
			 size_t len, size_t *plain_len)
{
	const char *p = buf;
	const char *m = memchr(p, 'm', len);
	size_t at;
	uint64_t tag;

	if (!m) {
		if (plain_len)
			*plain_len = len;
		return 0;
	}
	/* " m" + 16 hex digits, the last token, once. */
	at = (size_t)(m - p);
	if (at < 1 || p[at - 1] != ' ' || len - at != NCX_AUTH_RESP_TAG_LEN - 1 ||
	    !ncx_hex64_parse(m + 1, &tag))
		return -EBADMSG;
	at--;
	if (!tag_equal(tag, tag_of(key, RESP_DOMAIN, &id, p, len, at, NCX_AUTH_RESP_TAG_LEN)))
		return -EBADMSG;
	if (plain_len)
		*plain_len = at;
	return 1;
}
