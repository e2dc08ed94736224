/* SPDX-License-Identifier: MIT */
/*
 * wire: parse and produce the kernel's netconsole datagrams. See
 * include/ncx/wire.h for the formats.
 *
 * Everything here reads untrusted bytes: every access is bounded by an
 * explicit length, every number is checked for overflow, and nothing ever
 * allocates. Outputs follow snprintf's rule: the return value is the length
 * of the full result, and the first min(cap, length) bytes are written.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ncx/num.h>
#include <ncx/wire.h>

/* ---- small helpers ---------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal digits only (no sign, no space), at least one, at most max: the
 * one number parser (num.h), here as wire's strict yes or no. */
static bool parse_u64(const char *p, size_t len, uint64_t max, uint64_t *out)
{
	return len <= NCX_NUM_DEC_MAX && ncx_num_parse_n(p, len, 0, max, out) == 0;
}

static bool span_eq(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return len == n && memcmp(p, lit, n) == 0;
}

/* Characters of a kernel release string (utsname: "6.4.0-rc1+", "6.1.0-56-amd64"). */
static bool is_release_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '.' || c == '-' || c == '_' || c == '+' || c == '~';
}

#define RELEASE_MAX 64 /* utsname's release field holds 64 characters */

/* A release field: release characters, not all digits (or it is the priority). */
static bool is_release(const char *p, size_t len)
{
	bool non_digit = false;

	if (len == 0 || len > RELEASE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_release_char(p[i]))
			return false;
		if (!is_digit(p[i]))
			non_digit = true;
	}
	return non_digit;
}

/* Output in snprintf style: count everything, write what fits. */
struct out {
	char *p;
	size_t cap;
	size_t len;
};

static void put(struct out *o, const void *src, size_t n)
{
	if (n && o->len < o->cap) {
		size_t room = o->cap - o->len;

		memcpy(o->p + o->len, src, n < room ? n : room);
	}
	o->len += n;
}

static void put_c(struct out *o, char c)
{
	put(o, &c, 1);
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[NCX_NUM_DEC_MAX];

	put(o, tmp, ncx_num_dec(tmp, v));
}

static const char hex_lower[] = "0123456789abcdef";

void ncx_hex64_format(char *out, uint64_t v)
{
	for (int i = 0; i < NCX_WIRE_ID_HEX; i++)
		out[i] = hex_lower[(v >> (60 - 4 * i)) & 15];
}

/* ---- extended header -------------------------------------------------- */

/* Known keys seen so far, to refuse a key given twice (ambiguous). */
enum {
	SEEN_CALLER = 1,
	SEEN_FRAG = 2,
	SEEN_EMG = 4,
	SEEN_RX = 8,
	SEEN_GONE = 16,
	SEEN_ID = 32,
	SEEN_MAC = 64,
};

#define GONE_MAX (1ULL << 32) /* the most seqs one placeholder may close */

static int parse_caller(const char *v, size_t len, struct ncx_ext *out)
{
	uint64_t id;

	if (len < 2 || (v[0] != 'T' && v[0] != 'C'))
		return -EBADMSG;
	if (!parse_u64(v + 1, len - 1, UINT32_MAX, &id))
		return -EBADMSG;
	out->caller_kind = v[0];
	out->caller_id = (uint32_t)id;
	return 0;
}

/* "off/total": off < total <= NCX_WIRE_BODY_MAX. */
static int parse_frag(const char *v, size_t len, struct ncx_ext *out)
{
	const char *slash = memchr(v, '/', len);
	uint64_t off, total;

	if (!slash)
		return -EBADMSG;
	if (!parse_u64(v, (size_t)(slash - v), UINT32_MAX, &off) ||
	    !parse_u64(slash + 1, len - (size_t)(slash - v) - 1, UINT32_MAX, &total))
		return -EBADMSG;
	if (total == 0 || total > NCX_WIRE_BODY_MAX || off >= total)
		return -EBADMSG;
	out->frag = true;
	out->frag_off = (uint32_t)off;
	out->frag_total = (uint32_t)total;
	return 0;
}

/* A boolean key: "1" or "0"; anything else is malformed. */
static int parse_bool(const char *v, size_t len, bool *out)
{
	if (len != 1 || (v[0] != '0' && v[0] != '1'))
		return -EBADMSG;
	*out = v[0] == '1';
	return 0;
}

/* "ncgone=n": 1..GONE_MAX; 0 would be a placeholder for nothing. */
static int parse_gone(const char *v, size_t len, struct ncx_ext *out)
{
	uint64_t n;

	if (!parse_u64(v, len, GONE_MAX, &n) || n == 0)
		return -EBADMSG;
	out->gone = n;
	return 0;
}

/* Exactly NCX_WIRE_ID_HEX lowercase hex digits (ncid, ncmac). On every
 * datagram of a named stream: two 8-byte words, no branch per digit. */
bool ncx_hex64_parse(const char *v, uint64_t *out)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t n = 0;

	for (int half = 0; half < 2; half++) {
		const unsigned char *b = (const unsigned char *)v + 8 * half;
		uint64_t w = 0, letter, digit, val;

		/* Little endian, the first digit in the low byte. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(&w, b, 8);
#else
		for (int i = 7; i >= 0; i--)
			w = w << 8 | b[i];
#endif
		/* Per byte, with no carry between bytes (each is below 0x80 or
		 * refused): digit iff 0x30..0x39, letter iff 0x61..0x66. */
		digit = (w + ones * (0x80 - 0x30)) & ~(w + ones * (0x80 - 0x3a)) & high;
		letter = (w + ones * (0x80 - 0x61)) & ~(w + ones * (0x80 - 0x67)) & high;
		if ((w & high) || (digit | letter) != high)
			return false;
		val = (w & ones * 0x0f) + (letter >> 7) * 9;
		/* Bytes d0..d7, d0 the most significant digit: pack to 32 bits. */
		val = (val << 4 | val >> 8) & 0x00ff00ff00ff00ffULL;
		val = (val << 8 | val >> 16) & 0x0000ffff0000ffffULL;
		val = (val << 16 | val >> 32) & 0x00000000ffffffffULL;
		n = n << 32 | val;
	}
	*out = n;
	return true;
}

int ncx_boot_stream_id(const char *text, size_t len, uint64_t *id)
{
	uint64_t v = 0;
	unsigned digits = 0;

	for (size_t i = 0; i < len && digits < NCX_WIRE_ID_HEX; i++) {
		int d = ncx_hex_digit(text[i]);

		if (text[i] == '-')
			continue;
		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
		digits++;
	}
	if (digits < NCX_WIRE_ID_HEX)
		return -EINVAL;
	*id = v ? v : 1;
	return 0;
}

static bool parse_hex64(const char *v, size_t len, uint64_t *out)
{
	return len == NCX_WIRE_ID_HEX && ncx_hex64_parse(v, out);
}

/* "ncid=<16 hex>": a stream's name; 0 is no name. */
static int parse_id(const char *v, size_t len, struct ncx_ext *out)
{
	if (!parse_hex64(v, len, &out->id) || out->id == 0)
		return -EBADMSG;
	return 0;
}

/* "ncmac=<16 hex>": auth.h checks the tag; here only its form. */
static int parse_mac(const char *v, size_t len, struct ncx_ext *out)
{
	uint64_t tag;

	if (!parse_hex64(v, len, &tag))
		return -EBADMSG;
	out->tagged = true;
	return 0;
}

/* One ",key=value" field after the flag. */
static int parse_key(const char *f, size_t len, unsigned *seen, struct ncx_ext *out)
{
	const char *eq = memchr(f, '=', len);
	const char *v;
	size_t klen, vlen;
	unsigned bit;
	int rc;

	if (len == 0)
		return -EBADMSG;
	if (!eq)
		goto unknown;
	klen = (size_t)(eq - f);
	v = eq + 1;
	vlen = len - klen - 1;
	if (span_eq(f, klen, "caller")) {
		bit = SEEN_CALLER;
		rc = parse_caller(v, vlen, out);
	} else if (span_eq(f, klen, "ncfrag")) {
		bit = SEEN_FRAG;
		rc = parse_frag(v, vlen, out);
	} else if (span_eq(f, klen, "ncemg")) {
		bit = SEEN_EMG;
		rc = parse_bool(v, vlen, &out->emergency);
	} else if (span_eq(f, klen, "ncrx")) {
		bit = SEEN_RX;
		rc = parse_bool(v, vlen, &out->reliable);
	} else if (span_eq(f, klen, "ncgone")) {
		bit = SEEN_GONE;
		rc = parse_gone(v, vlen, out);
	} else if (span_eq(f, klen, "ncid")) {
		bit = SEEN_ID;
		rc = parse_id(v, vlen, out);
	} else if (span_eq(f, klen, "ncmac")) {
		bit = SEEN_MAC;
		rc = parse_mac(v, vlen, out);
	} else {
		goto unknown;
	}
	if (rc)
		return rc;
	if (*seen & bit)
		return -EBADMSG;
	*seen |= bit;
	return 0;
unknown:
	/* dev-kmsg ABI: receivers must skip keys they do not know. */
	if (out->unknown_keys < UINT16_MAX)
		out->unknown_keys++;
	return 0;
}

/*
 * Parse a header (the bytes before ';'). Fills every field but body; the
 * header span is set to h/len.
 */
/*
 * The four fixed fields of the common header ("prio,seq,ts,flag"), in one
 * pass with no call per field. Returns where the flag ends, or NULL when the
 * header does not start the common way (a release prefix, a 20-digit
 * number, anything odd): parse_header's general walk then decides.
 */
static const char *parse_fixed(const char *p, const char *end, struct ncx_ext *out)
{
	uint64_t v[3];

	for (int i = 0; i < 3; i++) {
		size_t n = ncx_num_scan(p, (size_t)(end - p), &v[i]);

		/* At most 19 digits, as before: a 20-digit seq or time is not one
		 * the kernel writes (the 20th digit is then no ',' here), and
		 * refusing it keeps UINT64_MAX out. */
		if (!n || n == (size_t)(end - p) || p[n] != ',')
			return NULL;
		p += n + 1;
	}
	if (v[0] > (255u << 3 | 7) || p == end || (*p != '-' && *p != 'c' && *p != '+') ||
	    (p + 1 != end && p[1] != ','))
		return NULL;
	out->facility = (uint8_t)(v[0] >> 3);
	out->level = (uint8_t)(v[0] & 7);
	out->seq = v[1];
	out->ts_usec = v[2];
	out->flag = *p;
	return p + 1;
}

static int parse_header(const char *h, size_t len, struct ncx_ext *out)
{
	const char *end = h + len, *f = h;
	unsigned seen = 0;
	uint64_t prio, v;
	size_t flen;
	int field = 0;

	memset(out, 0, sizeof(*out));
	out->header.p = h;
	out->header.len = len;
	if (len > NCX_WIRE_HDR_MAX)
		return -EBADMSG;

	const char *rest = parse_fixed(h, end, out);

	if (rest == end)
		return 0;
	if (rest) {
		f = rest + 1;
		field = 4;
	}
	/* Walk comma-separated fields; field counts the fixed ones consumed. */
	for (;;) {
		const char *comma = memchr(f, ',', (size_t)(end - f));
		const char *fe = comma ? comma : end;

		flen = (size_t)(fe - f);
		if (field == 0 && out->release.len == 0 && is_release(f, flen)) {
			out->release.p = f;
			out->release.len = flen;
		} else if (field == 0) {
			/* facility is a u8 in the kernel's record: prio fits 11 bits */
			if (!parse_u64(f, flen, 255u << 3 | 7, &prio))
				return -EBADMSG;
			out->facility = (uint8_t)(prio >> 3);
			out->level = (uint8_t)(prio & 7);
			field++;
		} else if (field == 1) {
			if (!parse_u64(f, flen, UINT64_MAX, &v))
				return -EBADMSG;
			out->seq = v;
			field++;
		} else if (field == 2) {
			if (!parse_u64(f, flen, UINT64_MAX, &v))
				return -EBADMSG;
			out->ts_usec = v;
			field++;
		} else if (field == 3) {
			if (flen != 1 || (f[0] != '-' && f[0] != 'c' && f[0] != '+'))
				return -EBADMSG;
			out->flag = f[0];
			field++;
		} else {
			int rc = parse_key(f, flen, &seen, out);

			if (rc)
				return rc;
		}
		if (!comma)
			break;
		f = comma + 1;
	}
	if (out->frag && out->gone)
		return -EBADMSG; /* a placeholder is never cut into pieces */
	return field == 4 ? 0 : -EBADMSG;
}

int ncx_ext_parse(const void *buf, size_t len, struct ncx_ext *out)
{
	const char *p = buf;
	size_t scan = len < NCX_WIRE_HDR_MAX + 1 ? len : NCX_WIRE_HDR_MAX + 1;
	const char *semi;
	int rc;

	if (!p || len == 0 || len > NCX_WIRE_DGRAM_MAX) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	/* The ';' must come within NCX_WIRE_HDR_MAX bytes: never scan further. */
	semi = memchr(p, ';', scan);
	if (!semi) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	rc = parse_header(p, (size_t)(semi - p), out);
	if (rc)
		return rc;
	out->body.p = semi + 1;
	out->body.len = len - (size_t)(semi - p) - 1;
	/* A fragment's slice must lie inside the body it claims to be part of. */
	if (out->frag && out->body.len > out->frag_total - out->frag_off)
		return -EBADMSG;
	return 0;
}

bool ncx_ext_looks_like(const void *buf, size_t len)
{
	const char *p = buf, *end = p + len, *f = p;
	const char *comma;

	if (!p || len == 0)
		return false;
	comma = memchr(f, ',', len);
	if (!comma)
		return false;
	if (is_release(f, (size_t)(comma - f))) {
		f = comma + 1;
		comma = memchr(f, ',', (size_t)(end - f));
		if (!comma)
			return false;
	}
	if (comma == f)
		return false;
	for (const char *q = f; q < comma; q++)
		if (!is_digit(*q))
			return false;
	return true;
}

/* ---- body and dictionary ---------------------------------------------- */

void ncx_ext_split_body(struct ncx_span body, struct ncx_span *text, struct ncx_span *dict)
{
	const char *nl = body.p && body.len ? memchr(body.p, '\n', body.len) : NULL;

	if (!nl) {
		*text = body;
		dict->p = body.p ? body.p + body.len : NULL;
		dict->len = 0;
		return;
	}
	text->p = body.p;
	text->len = (size_t)(nl - body.p);
	dict->p = nl + 1;
	dict->len = body.len - text->len - 1;
}

bool ncx_dict_next(struct ncx_span *dict, struct ncx_span *key, struct ncx_span *value)
{
	const char *line, *nl, *eq;
	size_t len;

	if (!dict->p || dict->len == 0)
		return false;
	line = dict->p;
	nl = memchr(line, '\n', dict->len);
	len = nl ? (size_t)(nl - line) : dict->len;
	dict->p += nl ? len + 1 : len;
	dict->len -= nl ? len + 1 : len;
	/* The kernel starts each line with one space; tolerate its absence. */
	if (len && line[0] == ' ') {
		line++;
		len--;
	}
	eq = memchr(line, '=', len);
	if (!eq) {
		key->p = line;
		key->len = 0;
		value->p = line;
		value->len = len;
		return true;
	}
	key->p = line;
	key->len = (size_t)(eq - line);
	value->p = eq + 1;
	value->len = len - key->len - 1;
	return true;
}

/* ---- escaping ----------------------------------------------------------- */

static bool needs_escape(unsigned char c)
{
	return c < 0x20 || c >= 0x7f || c == '\\';
}

size_t ncx_escape(const void *in, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = in;
	struct out o = { out, cap, 0 };

	for (size_t i = 0; i < len; i++) {
		if (needs_escape(s[i])) {
			char e[4] = { '\\', 'x', hex[s[i] >> 4], hex[s[i] & 15] };

			put(&o, e, 4);
		} else {
			put_c(&o, (char)s[i]);
		}
	}
	return o.len;
}

int ncx_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

const char *ncx_level_name(unsigned level)
{
	static const char *const names[8] = { "emerg", "alert",	 "crit", "err",
					      "warn",  "notice", "info", "debug" };

	return names[level & 7];
}

long ncx_hex_decode(const char *in, size_t len, void *out, size_t cap)
{
	unsigned char *o = out;

	if (len % 2 || len / 2 > cap)
		return -1;
	/* Forward, one byte out per two in: decoding in place is safe. */
	for (size_t i = 0; i < len; i += 2) {
		int hi = ncx_hex_digit(in[i]), lo = ncx_hex_digit(in[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		o[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

size_t ncx_unescape(const char *in, size_t len, char *out, size_t cap)
{
	size_t i = 0, n = 0;

	/* Writes never pass reads (each output byte consumes >= 1 input
	 * byte), so out == in is safe: every byte is read before it is
	 * overwritten. */
	while (i < len) {
		char c = in[i];
		int hi, lo;

		if (c == '\\' && len - i >= 4 && in[i + 1] == 'x' &&
		    (hi = ncx_hex_digit(in[i + 2])) >= 0 && (lo = ncx_hex_digit(in[i + 3])) >= 0) {
			c = (char)(hi << 4 | lo);
			i += 4;
		} else {
			i++;
		}
		if (n < cap)
			out[n] = c;
		n++;
	}
	return n;
}

/* ---- formatting and fragmenting ---------------------------------------- */

static void put_header(struct out *o, const struct ncx_ext *rec)
{
	if (rec->release.len) {
		put(o, rec->release.p, rec->release.len);
		put_c(o, ',');
	}
	put_u64(o, (uint64_t)rec->facility << 3 | (rec->level & 7));
	put_c(o, ',');
	put_u64(o, rec->seq);
	put_c(o, ',');
	put_u64(o, rec->ts_usec);
	put_c(o, ',');
	put_c(o, rec->flag ? rec->flag : '-');
	if (rec->caller_kind) {
		put(o, ",caller=", 8);
		put_c(o, rec->caller_kind);
		put_u64(o, rec->caller_id);
	}
	if (rec->emergency)
		put(o, ",ncemg=1", 8);
	if (rec->gone) {
		put(o, ",ncgone=", 8);
		put_u64(o, rec->gone);
	}
	if (rec->reliable)
		put(o, ",ncrx=1", 7);
	if (rec->id) {
		char id[NCX_WIRE_ID_HEX];

		ncx_hex64_format(id, rec->id);
		put(o, ",ncid=", 6);
		put(o, id, sizeof(id));
	}
}

size_t ncx_ext_format_header(const struct ncx_ext *rec, char *out, size_t cap)
{
	struct out o = { out, cap, 0 };

	put_header(&o, rec);
	return o.len;
}

size_t ncx_ext_format(const struct ncx_ext *rec, const void *text, size_t text_len,
		      const char *dict, size_t dict_len, char *out, size_t cap)
{
	struct out o = { out, cap, 0 };

	put_header(&o, rec);
	put_c(&o, ';');
	/* Escape straight into the output (or only count once it is full). */
	o.len += ncx_escape(text, text_len, o.len < cap ? out + o.len : NULL,
			    o.len < cap ? cap - o.len : 0);
	put_c(&o, '\n');
	put(&o, dict, dict_len);
	return o.len;
}

size_t ncx_gone_format(uint64_t first, uint64_t count, uint64_t id, char *out, size_t cap)
{
	struct ncx_ext rec = {
		.level = 4, .seq = first, .gone = count, .reliable = true, .id = id
	};
	char text[NCX_WIRE_GONE_MAX];
	int n = snprintf(text, sizeof(text),
			 "ncx: %llu records (seq %llu..%llu) were lost by the sender "
			 "before they could be sent",
			 (unsigned long long)count, (unsigned long long)first,
			 (unsigned long long)(first + count - 1));

	return ncx_ext_format(&rec, text, n > 0 ? (size_t)n : 0, NULL, 0, out, cap);
}

size_t ncx_ext_mark(char *rec, size_t len, size_t cap, bool emergency, uint64_t id)
{
	char key[NCX_WIRE_MARK_MAX];
	size_t klen = 0, hdr, body;
	char *semi = len ? memchr(rec, ';', len) : NULL;

	if (!semi)
		return 0;
	if (emergency) {
		memcpy(key, ",ncemg=1", 8);
		klen = 8;
	}
	memcpy(key + klen, ",ncrx=1", 7);
	klen += 7;
	if (id) {
		memcpy(key + klen, ",ncid=", 6);
		ncx_hex64_format(key + klen + 6, id);
		klen += 6 + NCX_WIRE_ID_HEX;
	}
	hdr = (size_t)(semi - rec);
	if (hdr + klen >= NCX_WIRE_HDR_MAX)
		return 0;
	body = len - hdr - 1;
	if (body > NCX_WIRE_BODY_MAX)
		body = NCX_WIRE_BODY_MAX;
	if (hdr + klen + 1 + body > cap)
		return 0;
	memmove(semi + klen, semi, 1 + body);
	memcpy(semi, key, klen);
	return hdr + klen + 1 + body;
}

int ncx_ext_fragment(const void *rec, size_t len, ncx_emit_fn emit, void *arg)
{
	const char *p = rec;
	const char *semi = len ? memchr(p, ';', len) : NULL;
	char buf[NCX_WIRE_CHUNK];
	size_t hdr_len, body_len, off = 0;

	if (!semi)
		return -EINVAL;
	if (len <= NCX_WIRE_CHUNK)
		return emit(arg, rec, len);

	hdr_len = (size_t)(semi - p);
	body_len = len - hdr_len - 1;
	/* "%u" below, and the receiver takes 32-bit offsets */
	if (hdr_len >= NCX_WIRE_CHUNK || body_len > UINT32_MAX)
		return -EINVAL;
	memcpy(buf, p, hdr_len);
	while (off < body_len) {
		int n = snprintf(buf + hdr_len, sizeof(buf) - hdr_len, ",ncfrag=%u/%u;",
				 (unsigned)off, (unsigned)body_len);
		size_t this_hdr = hdr_len + (size_t)n, chunk;
		int rc;

		/* No room for even one body byte: the kernel gives up too. */
		if (n < 0 || this_hdr >= NCX_WIRE_CHUNK)
			return -EINVAL;
		chunk = body_len - off;
		if (chunk > NCX_WIRE_CHUNK - this_hdr)
			chunk = NCX_WIRE_CHUNK - this_hdr;
		memcpy(buf + this_hdr, semi + 1 + off, chunk);
		rc = emit(arg, buf, this_hdr + chunk);
		if (rc)
			return rc;
		off += chunk;
	}
	return 0;
}

/* ---- responses ---------------------------------------------------------- */

/* Numbers by num.h's ncx_num_dec(), no snprintf: a receiver writes one per
 * seq it asks for. */
void ncx_resp_init(struct ncx_resp *r, uint64_t acked)
{
	memcpy(r->buf, "ncrx", 4);
	r->len = 4 + ncx_num_dec(r->buf + 4, acked);
	r->limit = NCX_WIRE_RESP_MAX;
}

bool ncx_resp_add(struct ncx_resp *r, uint64_t seq)
{
	char num[NCX_NUM_DEC_MAX];
	size_t k = ncx_num_dec(num, seq);

	if (r->len + 1 + k > r->limit || r->len + 1 + k > NCX_WIRE_RESP_MAX)
		return false;
	r->buf[r->len] = ' ';
	memcpy(r->buf + r->len + 1, num, k);
	r->len += 1 + k;
	return true;
}

/* One or more digits at *p (any number of leading zeros), at most 64 bits;
 * *p is left after them. */
static bool scan_u64(const char **p, const char *end, uint64_t *out)
{
	size_t n = ncx_num_digits(*p, (size_t)(end - *p));

	if (!n || ncx_num_parse_n(*p, n, 0, UINT64_MAX, out) != 0)
		return false;
	*p += n;
	return true;
}

int ncx_resp_parse(const void *buf, size_t len, uint64_t *acked, uint64_t *seqs, size_t cap)
{
	const char *p = buf, *end;
	size_t n = 0;

	if (len > NCX_WIRE_RESP_MAX || len < 5 || memcmp(p, "ncrx", 4))
		return -EBADMSG;
	end = p + len;
	p += 4;
	if (!scan_u64(&p, end, acked))
		return -EBADMSG;
	while (p < end) {
		if (*p++ != ' ' || n == cap || !scan_u64(&p, end, &seqs[n]))
			return -EBADMSG;
		n++;
	}
	return (int)n;
}

/* ---- reassembly --------------------------------------------------------- */

static unsigned char *reasm_bitmap(struct ncx_reasm *r)
{
	return r->data + r->total;
}

size_t ncx_reasm_size(uint32_t total)
{
	return sizeof(struct ncx_reasm) + (size_t)total + ((size_t)total + 7) / 8;
}

/* Copy a fragment's header without its ncfrag field. */
static void strip_ncfrag(struct ncx_reasm *r, struct ncx_span h)
{
	const char *f = h.p, *end = h.p + h.len;
	bool first = true;

	r->hdr_len = 0;
	while (f && f <= end) {
		const char *comma = memchr(f, ',', (size_t)(end - f));
		const char *fe = comma ? comma : end;
		size_t flen = (size_t)(fe - f);

		if (!(flen >= 7 && memcmp(f, "ncfrag=", 7) == 0)) {
			size_t need = flen + (first ? 0 : 1);

			if (r->hdr_len + need > sizeof(r->hdr))
				return;
			if (!first)
				r->hdr[r->hdr_len++] = ',';
			memcpy(r->hdr + r->hdr_len, f, flen);
			r->hdr_len += (uint16_t)flen;
			first = false;
		}
		if (!comma)
			break;
		f = comma + 1;
	}
}

void ncx_reasm_init(struct ncx_reasm *r, const struct ncx_ext *frag)
{
	r->seq = frag->seq;
	r->total = frag->frag_total;
	r->filled = 0;
	r->conflicts = 0;
	strip_ncfrag(r, frag->header);
	memset(r->data, 0, (size_t)r->total + ((size_t)r->total + 7) / 8);
}

int ncx_reasm_add(struct ncx_reasm *r, const struct ncx_ext *frag)
{
	unsigned char *bits = reasm_bitmap(r);
	const unsigned char *src = (const unsigned char *)frag->body.p;

	struct ncx_ext first;

	if (!frag->frag || frag->seq != r->seq || frag->frag_total != r->total)
		return -EINVAL;
	/* The same seq and length after a reboot is likely (boots repeat
	 * themselves): the timestamp and priority tell the records apart.
	 * Other keys (ncemg) may differ between sends of one record. */
	if (parse_header(r->hdr, r->hdr_len, &first) == 0 &&
	    (first.ts_usec != frag->ts_usec || first.facility != frag->facility ||
	     first.level != frag->level))
		return -EINVAL;
	if (frag->frag_off > r->total || frag->body.len > r->total - frag->frag_off)
		return -EINVAL;
	for (size_t i = 0; i < frag->body.len; i++) {
		size_t at = frag->frag_off + i;
		unsigned char bit = (unsigned char)(1u << (at & 7));

		if (bits[at >> 3] & bit) {
			if (r->data[at] != src[i])
				r->conflicts++;	/* first bytes received win */
			continue;
		}
		r->data[at] = src[i];
		bits[at >> 3] |= bit;
		r->filled++;
	}
	return r->filled == r->total ? 1 : 0;
}

int ncx_reasm_record(const struct ncx_reasm *r, struct ncx_ext *out)
{
	int rc;

	if (r->filled != r->total)
		return -EAGAIN;
	rc = parse_header(r->hdr, r->hdr_len, out);
	if (rc)
		return rc;
	if (out->frag) /* a second ncfrag would have been refused; be sure */
		return -EBADMSG;
	out->body.p = (const char *)r->data;
	out->body.len = r->total;
	return 0;
}

/* ---- legacy ------------------------------------------------------------- */

/*
 * "[%5lu.%06lu] ": '[', spaces, seconds, '.', six digits, "] ". Returns the
 * prefix length, or 0 if p does not start with one.
 */
static size_t legacy_prefix(const char *p, size_t len, uint64_t *ts_usec)
{
	size_t i = 1, d0;
	uint64_t sec, usec;

	if (len < 1 || p[0] != '[')
		return 0;
	while (i < len && p[i] == ' ')
		i++;
	d0 = i;
	while (i < len && is_digit(p[i]))
		i++;
	if (!parse_u64(p + d0, i - d0, UINT64_MAX / 1000000 - 1, &sec))
		return 0;
	if (len - i < 9 || p[i] != '.')
		return 0;
	if (!parse_u64(p + i + 1, 6, 999999, &usec))
		return 0;
	i += 7;
	if (p[i] != ']' || p[i + 1] != ' ')
		return 0;
	*ts_usec = sec * 1000000 + usec;
	return i + 2;
}

/* "** N printk messages dropped **\n" (the newline optional): length, or 0. */
static size_t dropped_notice(const char *p, size_t len, uint64_t *n)
{
	static const char head[] = "** ", tail[] = " printk messages dropped **";
	size_t i = sizeof(head) - 1, d0;

	if (len < i || memcmp(p, head, i) != 0)
		return 0;
	d0 = i;
	while (i < len && is_digit(p[i]))
		i++;
	if (!parse_u64(p + d0, i - d0, UINT64_MAX, n))
		return 0;
	if (len - i < sizeof(tail) - 1 || memcmp(p + i, tail, sizeof(tail) - 1) != 0)
		return 0;
	i += sizeof(tail) - 1;
	if (i < len && p[i] == '\n')
		i++;
	return i;
}

int ncx_legacy_parse(const void *buf, size_t len, struct ncx_legacy *out)
{
	const char *p = buf;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!p || len == 0 || memchr(p, '\0', len))
		return -EBADMSG;
	/* Up to 6.1 the notice is a datagram of its own; from 6.2 it is
	 * prepended to the next record's text. Take both. */
	n = dropped_notice(p, len, &out->dropped);
	if (n) {
		out->dropped_notice = true;
		p += n;
		len -= n;
	}
	n = legacy_prefix(p, len, &out->ts_usec);
	out->has_ts = n > 0;
	out->text.p = p + n;
	out->text.len = len - n;
	if (out->text.len && out->text.p[out->text.len - 1] == '\n')
		out->text.len--;
	return 0;
}

bool ncx_legacy_next_line(struct ncx_span *text, struct ncx_span *line)
{
	const char *nl;
	uint64_t ts;
	size_t len, pre;

	if (!text->p || text->len == 0)
		return false;
	nl = memchr(text->p, '\n', text->len);
	len = nl ? (size_t)(nl - text->p) : text->len;
	pre = legacy_prefix(text->p, len, &ts);
	line->p = text->p + pre;
	line->len = len - pre;
	text->p += nl ? len + 1 : len;
	text->len -= nl ? len + 1 : len;
	return true;
}
