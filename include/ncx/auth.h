/* SPDX-License-Identifier: MIT */
/*
 * auth: authenticated datagrams (docs/DESIGN.md, "Authentication (ncmac)").
 *
 *   MAC      SipHash-2-4 with a 128-bit key, 64-bit tag: small, fast on
 *            short inputs, a PRF by design, and the kernel has it
 *            (siphash() in <linux/siphash.h>), so the kernel module can
 *            compute the same tags. Key bytes k[0..15] are the reference's
 *            k0 = le64(k[0..7]), k1 = le64(k[8..15]) (the kernel's
 *            siphash_key_t is { le64(k[0..7]), le64(k[8..15]) }).
 *   datagram tag   a header key ",ncmac=<16 lowercase hex>", the last one
 *            before ';'; the tag is SipHash over "ncmac1d" followed by the
 *            datagram with those 23 bytes removed. Everything else in the
 *            datagram is covered: header (seq, stream identity, ncfrag,
 *            ncgone, ncemg, ncrx), text, dictionary.
 *   response tag   a last token " m<16 lowercase hex>" after "ncrx<acked>[
 *            <seq>]*"; the tag is SipHash over "ncmac1r", the stream's id
 *            (ncid; 0 for a stream without one) as 8 little-endian bytes,
 *            and the response with those 18 bytes removed: a response to
 *            one run or boot is worth nothing to the next.
 *   host key derivation   host key = SipHash(secret, "ncx-host-key1" 0x01
 *            addr) || SipHash(secret, "ncx-host-key1" 0x02 addr), each
 *            tag as 8 little-endian bytes, addr the host's canonical
 *            address text (ncx_addr_format() without port: "192.0.2.7",
 *            "2001:db8::7"; an IPv4-mapped IPv6 address as IPv4).
 *
 * Everything here but the key file and the random secret (lib/auth_key.c,
 * userspace) is freestanding: no I/O, no allocation, no clock, so it can
 * be compiled into the kernel module as lib/wire.c and lib/tx.c are.
 */
#ifndef NCX_AUTH_H
#define NCX_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCX_AUTH_KEY_BYTES 16
#define NCX_AUTH_KEY_HEX (2 * NCX_AUTH_KEY_BYTES)
#define NCX_AUTH_TAG_HEX 16
/* ",ncmac=" + 16 hex: what a tag adds to a datagram. */
#define NCX_AUTH_DGRAM_TAG_LEN (7 + NCX_AUTH_TAG_HEX)
/* " m" + 16 hex: what a tag adds to a response. */
#define NCX_AUTH_RESP_TAG_LEN (2 + NCX_AUTH_TAG_HEX)

struct ncx_auth_key {
	uint8_t k[NCX_AUTH_KEY_BYTES];
};

/* SipHash-2-4 of data under key. */
uint64_t ncx_siphash24(const struct ncx_auth_key *key, const void *data, size_t len);

/* The host key for a host's canonical address text (see above). */
void ncx_auth_derive(const struct ncx_auth_key *secret, const char *addr, size_t addr_len,
		     struct ncx_auth_key *out);

/*
 * Key text: exactly NCX_AUTH_KEY_HEX hex digits (either case), then at most
 * one "\n". Returns 0, or -EINVAL with *why a short reason (static text).
 */
int ncx_auth_key_parse(const char *text, size_t len, struct ncx_auth_key *out, const char **why);
/* 32 lowercase hex digits and a NUL into out[NCX_AUTH_KEY_HEX + 1]. */
void ncx_auth_key_format(const struct ncx_auth_key *key, char *out);

/*
 * Tag a datagram in place: insert ",ncmac=<tag>" before the first ';'.
 * buf holds len bytes and has room for cap. Returns the new length, or
 * -EINVAL (no ';', or already tagged), -EMSGSIZE (no room).
 */
long ncx_auth_dgram_sign(const struct ncx_auth_key *key, char *buf, size_t len, size_t cap);

/*
 * Check a datagram's tag. Returns 1 (tagged, tag good), 0 (not tagged:
 * no ncmac key at all), -EBADMSG (tagged but wrong, or ncmac= anywhere
 * but as the one last header key with 16 lowercase hex digits). The tag
 * may stay in the datagram: parsers skip unknown header keys.
 */
int ncx_auth_dgram_verify(const struct ncx_auth_key *key, const void *buf, size_t len);

/* Where the tag is, if the datagram has one where it belongs: its offset,
 * or -1. Strict as verify is: anything else that says ncmac= is -2. */
long ncx_auth_dgram_find(const void *buf, size_t len);

/* verify for a caller that has parsed the datagram (wire.h: one ncmac key
 * at most, the header hdr_len bytes long): 1 if the header ends in a good
 * tag, -EBADMSG otherwise. Saves verify's search. */
int ncx_auth_dgram_check(const struct ncx_auth_key *key, const void *buf, size_t len,
			 size_t hdr_len);

/* Tag and check a response "ncrx<acked>[ <seq>]*" to stream id the same
 * way. sign: appends " m<tag>"; returns the new length or -EMSGSIZE. verify:
 * 1, 0 (no tag), -EBADMSG; *plain_len the length without the tag (for 1 and
 * 0). */
long ncx_auth_resp_sign(const struct ncx_auth_key *key, uint64_t id, char *buf, size_t len,
			size_t cap);
int ncx_auth_resp_verify(const struct ncx_auth_key *key, uint64_t id, const void *buf,
			 size_t len, size_t *plain_len);

/* ---- userspace only (lib/auth_key.c) ---- */

/*
 * Load a key file: a regular file, not readable or writable by group or
 * others, holding key text as ncx_auth_key_parse() takes it. Returns 0, or
 * a negative errno with one line for the user in err (no newline).
 */
int ncx_auth_key_load(const char *path, struct ncx_auth_key *out, char *err, size_t errlen);

/* A fresh random key from getrandom(2). Returns 0 or a negative errno. */
int ncx_auth_key_random(struct ncx_auth_key *out);

#endif /* NCX_AUTH_H */
