/* SPDX-License-Identifier: MIT */
/*
 * wire: one datagram of the kernel's netconsole formats, parsed and produced
 * byte-exactly. No state, no I/O, no clock, no allocation: every span points
 * into the caller's buffer and every output goes to a buffer the caller owns.
 *
 * Extended record (netconsole "+", /dev/kmsg):
 *
 *   [<release>,]<fac<<3|level>,<seq>,<ts_usec>,<flag>[,<key>=<value>]*;<text>\n[ <KEY>=<VALUE>\n]*
 *
 * The part before ';' is the header, the part after it the body. The body is
 * the escaped text, a newline, then zero or more dictionary lines (each starts
 * with a space and ends with a newline). A record whose datagram would exceed
 * NCX_WIRE_CHUNK bytes is cut into fragments: each repeats the header with
 * ",ncfrag=<byte offset>/<total body bytes>" appended, and carries a slice of
 * the body, cut anywhere (even inside an escape).
 *
 * Legacy record: "[%5lu.%06lu] text\n", the prefix repeated after each
 * embedded newline, cut at NCX_WIRE_CHUNK bytes with no marker.
 *
 * Reliable senders and their receivers (DESIGN.md, Reliability): the header
 * keys ncrx, ncemg and ncgone, and the response "ncrx<acked>[ <seq>]*" that
 * goes back: the functions below write and read their bytes for everyone.
 */
#ifndef NCX_WIRE_H
#define NCX_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCX_WIRE_CHUNK 1000	  /* netconsole's largest payload (MAX_PRINT_CHUNK) */
#define NCX_WIRE_HDR_MAX 512	  /* longest header (before ';') we accept */
#define NCX_WIRE_BODY_MAX 8192	  /* longest reassembled body (kernel's CONSOLE_EXT_LOG_MAX) */
#define NCX_WIRE_LEGACY_MAX 1024  /* printk cuts a legacy record at this many bytes */
#define NCX_WIRE_DGRAM_MAX 65536  /* largest datagram anyone should hand us */
#define NCX_WIRE_ID_HEX 16	  /* ncid's (and ncmac's) value: 16 lowercase hex digits */

/* NCX_WIRE_ID_HEX lowercase hex digits at p, most significant first, as
 * ncid and ncmac carry them: true and *out, or false. */
bool ncx_hex64_parse(const char *p, uint64_t *out);
/* v as those NCX_WIRE_ID_HEX digits, no NUL. */
void ncx_hex64_format(char *out, uint64_t v);

/*
 * The stream id (ncid) of a boot, as `ncx forward` and ncxcon name theirs:
 * the first 16 hex digits of the kernel's boot id (text as
 * /proc/sys/kernel/random/boot_id gives it, len bytes), dashes skipped; 0,
 * which means no name, becomes 1. Returns 0, or -EINVAL if the text does
 * not start with 16 hex digits.
 */
int ncx_boot_stream_id(const char *text, size_t len, uint64_t *id);

/* A run of bytes inside someone else's buffer. Never NUL-terminated. */
struct ncx_span {
	const char *p;
	size_t len;
};

/*
 * One extended datagram, or one whole record after reassembly. The spans
 * point into the buffer given to ncx_ext_parse() (or into the reassembly
 * buffer) and live as long as it does.
 */
struct ncx_ext {
	struct ncx_span release; /* "6.4.0" when the sender adds it; len 0 if absent */
	uint8_t facility;	 /* header's first number >> 3 */
	uint8_t level;		 /* header's first number & 7 */
	char flag;		 /* '-', 'c' (continuation) or '+' (pre-4.9 continuation) */
	uint64_t seq;
	uint64_t ts_usec;
	char caller_kind;	 /* 0 if absent, 'T' (thread id) or 'C' (cpu) */
	uint32_t caller_id;
	bool frag;		 /* ncfrag=<off>/<total> present */
	uint32_t frag_off;
	uint32_t frag_total;
	bool emergency;		 /* ncemg=1: the sender is in emergency mode */
	bool reliable;		 /* ncrx=1: the sender can take acks and resend */
	uint64_t gone;		 /* ncgone=<n> (1..2^32): a placeholder, not a record: the
				  * sender no longer has seqs seq..seq+n-1; 0 if absent */
	uint64_t id;		 /* ncid=<16 hex>: the stream's name (a reliable sender's
				  * run or boot); 0 if absent */
	bool tagged;		 /* ncmac=<16 hex> present (auth.h checks it) */
	uint16_t unknown_keys;	 /* header keys we did not understand (skipped) */
	struct ncx_span header;	 /* every byte before ';' (for a fragment: with its ncfrag key) */
	struct ncx_span body;	 /* every byte after ';' */
};

/*
 * Parse one extended datagram (or whole record). Returns 0, or -EBADMSG when
 * the bytes are not an extended record (missing fields, numbers out of range,
 * no ';', a header longer than NCX_WIRE_HDR_MAX, an ncfrag that does not fit
 * inside NCX_WIRE_BODY_MAX, ...). Unknown header keys are counted, never fatal.
 * A fragment's body is its slice only; see struct ncx_reasm.
 *
 * Strict where the kernel is exact: the priority must fit facility as a u8
 * (at most 2047); a known key (caller, ncfrag, ncemg, ncrx, ncgone, ncid,
 * ncmac: 16 lowercase hex digits, ncid not all zero) with a
 * malformed value, or given twice, is -EBADMSG; so is a fragment whose slice
 * runs past its total, and an ncgone placeholder cut into fragments (it is
 * always short). NCX_WIRE_HDR_MAX counts a fragment's ncfrag key too.
 */
int ncx_ext_parse(const void *buf, size_t len, struct ncx_ext *out);

/*
 * True if the datagram starts the way an extended record does (optional
 * release field, then digits and a comma). Used to tell "broken extended"
 * from "legacy text" before parsing.
 */
bool ncx_ext_looks_like(const void *buf, size_t len);

/* Split a whole record's body into its text (escaped, without the newline)
 * and its dictionary lines (each " KEY=VALUE\n"). A body with no newline is
 * all text and no dictionary. */
void ncx_ext_split_body(struct ncx_span body, struct ncx_span *text, struct ncx_span *dict);

/* Iterate dictionary lines: on true, key and value are the (still escaped)
 * parts of the next " KEY=VALUE" line and *dict has advanced past it. Lines
 * without '=' give an empty key and the whole line as value. */
bool ncx_dict_next(struct ncx_span *dict, struct ncx_span *key, struct ncx_span *value);

/*
 * Kernel escaping: bytes < 0x20, >= 0x7f and '\' become "\xNN" (lowercase
 * hex); all others are copied. Returns the length the escaped form needs
 * (like snprintf), writing at most cap bytes; no NUL is written.
 */
size_t ncx_escape(const void *in, size_t len, char *out, size_t cap);

/*
 * The inverse: "\xNN" becomes one byte; anything else, including a
 * malformed or cut escape, is copied as it is. Returns the length needed,
 * writing at most cap bytes. out may equal in (it never grows).
 */
size_t ncx_unescape(const char *in, size_t len, char *out, size_t cap);

/* The level's name as ncx writes it: emerg alert crit err warn notice info
 * debug (level & 7). */
const char *ncx_level_name(unsigned level);

/*
 * Hex text to bytes, two digits (either case) a byte: the form recorded
 * datagrams are kept in (one per line, as in tests/data and for `ncx
 * replay`). Returns the byte count, or -1 if len is odd, a character is not
 * a hex digit, or the bytes do not fit in cap. out may equal in.
 */
long ncx_hex_decode(const char *in, size_t len, void *out, size_t cap);

/* One hex digit's value (either case), or -1 if c is not one. */
int ncx_hex_digit(char c);

/*
 * Format the header of a record exactly as the kernel does, without the
 * trailing ';': "[release,]fac<<3|level,seq,ts,flag[,caller=Xn][,ncemg=1][,ncgone=n][,ncrx=1][,ncid=<hex>]".
 * Only these fields of rec are used (not header/body/frag/unknown_keys); a
 * flag of 0 is written as '-'. Returns the length needed, writing at most
 * cap bytes, no NUL. Like every function here that returns "the length
 * needed", a short cap gets exactly the first cap bytes of the whole.
 */
size_t ncx_ext_format_header(const struct ncx_ext *rec, char *out, size_t cap);

/*
 * Format a whole record: header, ';', the text escaped, '\n', then dict
 * (already in wire form: " KEY=VALUE\n" lines, copied as given). Returns the
 * length needed, writing at most cap bytes, no NUL. For any record the kernel
 * sent, formatting its parsed fields and unescaped text gives back its bytes.
 */
size_t ncx_ext_format(const struct ncx_ext *rec, const void *text, size_t text_len,
		      const char *dict, size_t dict_len, char *out, size_t cap);

/*
 * Format an ncgone placeholder (DESIGN.md, Extensions): the whole datagram
 * that tells a receiver seqs first..first+count-1 (count 1..2^32) are gone
 * from the sender. Level warning, timestamp 0 (it is no record of the
 * sender's), marked ncrx=1 (and ncid=id unless id is 0), with a text that says what happened for a
 * receiver that shows it as a record. Returns the length needed, writing at
 * most cap bytes, no NUL; NCX_WIRE_GONE_MAX always suffices.
 */
#define NCX_WIRE_GONE_MAX 224
size_t ncx_gone_format(uint64_t first, uint64_t count, uint64_t id, char *out, size_t cap);

/*
 * Mark a formatted record (header ';' body, as ncx_ext_format() or a
 * sender's renderer makes it) as a reliable sender's, in place: ",ncrx=1",
 * or ",ncemg=1,ncrx=1" if emergency, then ",ncid=<16 hex>" if id is not 0
 * (the stream's name), goes at the end of its header, after
 * every key it has. A body longer than NCX_WIRE_BODY_MAX is cut to it
 * (receivers take no more). rec holds len bytes in a buffer of cap bytes.
 * Returns the marked length, or 0 if rec has no ';', the marked header would
 * reach NCX_WIRE_HDR_MAX, or the marked record does not fit in cap.
 * NCX_WIRE_MARK_MAX is the most it adds.
 */
#define NCX_WIRE_MARK_MAX 37 /* ",ncemg=1,ncrx=1,ncid=<16 hex>" */
size_t ncx_ext_mark(char *rec, size_t len, size_t cap, bool emergency, uint64_t id);

/*
 * A receiver's response to a reliable sender (DESIGN.md, Reliability):
 *
 *   ncrx<acked>[ <seq>]*
 *
 * at most NCX_WIRE_RESP_MAX bytes, no NUL, nothing after the last number:
 * acked is the last seq of the contiguous prefix the receiver has, each
 * listed seq a request to send that record again. Built incrementally in a
 * struct ncx_resp: ncx_resp_init() writes the ack, ncx_resp_add() one
 * request while it fits; buf[0..len) is then the datagram.
 */
#define NCX_WIRE_RESP_MAX 1000
/* The most requests a response can hold: "ncrx0" and " 0" each. */
#define NCX_WIRE_RESP_SEQS_MAX ((NCX_WIRE_RESP_MAX - 5) / 2)

struct ncx_resp {
	size_t len;
	size_t limit; /* the most bytes it may grow to: NCX_WIRE_RESP_MAX, or less */
	char buf[NCX_WIRE_RESP_MAX];
};

/* Start a response "ncrx<acked>" with no requests, limit NCX_WIRE_RESP_MAX
 * (a caller with a smaller budget lowers r->limit after this). */
void ncx_resp_init(struct ncx_resp *r, uint64_t acked);

/* Append " <seq>". Returns false, leaving r as it was, when that would make
 * the response longer than r->limit. */
bool ncx_resp_add(struct ncx_resp *r, uint64_t seq);

/*
 * Parse a response strictly: exactly "ncrx", a decimal number, then zero or
 * more " <decimal number>", numbers of at most 64 bits (leading zeros
 * allowed), len at most NCX_WIRE_RESP_MAX. Sets *acked and seqs[0..n) in
 * the order given (duplicates kept). Returns n, or -EBADMSG for anything
 * else, including more than cap requests (a cap of NCX_WIRE_RESP_SEQS_MAX
 * takes every well-formed response). On failure, *acked and seqs may have
 * been written.
 */
int ncx_resp_parse(const void *buf, size_t len, uint64_t *acked, uint64_t *seqs, size_t cap);

/*
 * Cut a formatted record (header + ';' + body, as ncx_ext_format() makes)
 * into datagrams exactly as netconsole does: a record of at most
 * NCX_WIRE_CHUNK bytes goes as it is; a longer one goes as fragments, each
 * "header,ncfrag=<off>/<total>;" + as much body as fits in NCX_WIRE_CHUNK.
 * emit is called once per datagram, in order; a non-zero return stops the
 * walk and is returned. Returns 0, or -EINVAL if rec has no ';' or a header
 * so long that no body byte would fit.
 */
typedef int (*ncx_emit_fn)(void *arg, const void *dgram, size_t len);
int ncx_ext_fragment(const void *rec, size_t len, ncx_emit_fn emit, void *arg);

/*
 * Reassembly of one record's fragments, in any order, with duplicates and
 * overlaps. The caller owns the storage: ncx_reasm_size(total) bytes, set up
 * by ncx_reasm_init() from any one fragment. When overlapping fragments
 * disagree, the first bytes received win and the disagreement is counted.
 */
struct ncx_reasm {
	uint64_t seq;
	uint32_t total;		/* body bytes expected */
	uint32_t filled;	/* distinct body bytes received so far */
	uint32_t conflicts;	/* overlapping bytes that disagreed */
	uint16_t hdr_len;	/* header without its ncfrag key */
	char hdr[NCX_WIRE_HDR_MAX];
	unsigned char data[];	/* total body bytes, then a (total + 7) / 8 byte bitmap */
};

size_t ncx_reasm_size(uint32_t total);
void ncx_reasm_init(struct ncx_reasm *r, const struct ncx_ext *frag);

/*
 * Add a fragment. Returns 1 when the record is complete, 0 when more is
 * needed, -EINVAL when frag does not belong here (other seq or total, other
 * timestamp or priority than the first fragment's, i.e. another boot's
 * record, or a slice that runs past total). Other header keys (ncemg) may
 * differ between fragments; the record keeps the first fragment's.
 */
int ncx_reasm_add(struct ncx_reasm *r, const struct ncx_ext *frag);

/*
 * The complete record as if it had come in one datagram: out->header is the
 * header without ncfrag, out->body the whole body, out->frag false. Returns
 * 0, or -EAGAIN if not complete, or -EBADMSG if the header does not parse.
 */
int ncx_reasm_record(const struct ncx_reasm *r, struct ncx_ext *out);

/*
 * One legacy datagram. The kernel sends one record per datagram (or one
 * NCX_WIRE_CHUNK slice of a longer one); a record with embedded newlines
 * repeats the "[ sec.usec] " prefix on every line.
 */
struct ncx_legacy {
	bool has_ts;		/* the datagram starts with "[ sec.usec] " */
	uint64_t ts_usec;
	struct ncx_span text;	/* after the first prefix, trailing newline removed */
	bool dropped_notice;	/* "** N printk messages dropped **" */
	uint64_t dropped;	/* N */
};

/* Returns 0, or -EBADMSG for an empty datagram or one holding a NUL byte.
 * The dropped notice is recognised alone (kernels up to 6.1 send it as its
 * own datagram) or at the start of a record's datagram (6.2+ prepend it);
 * the rest is then parsed as usual. */
int ncx_legacy_parse(const void *buf, size_t len, struct ncx_legacy *out);

/*
 * Iterate the lines of a legacy text: each call yields the next line with
 * its "[ sec.usec] " prefix (if any) removed. Returns false at the end.
 */
bool ncx_legacy_next_line(struct ncx_span *text, struct ncx_span *line);

#endif /* NCX_WIRE_H */
