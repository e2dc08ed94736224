/* SPDX-License-Identifier: MIT */
/* format.c: the text and JSON lines ncxd writes (pure). */
#ifndef NCXD_FORMAT_H
#define NCXD_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ncx/addr.h>
#include <ncx/wire.h>

enum ncxd_format { NCXD_TEXT, NCXD_JSON };

/* An output line under construction; appends stop at cap (truncated set). */
struct ncxd_line {
	char *p;
	size_t len, cap;
	bool truncated;
};

void ncxd_line_put(struct ncxd_line *l, const void *p, size_t n);
void ncxd_line_puts(struct ncxd_line *l, const char *s);
void ncxd_line_printf(struct ncxd_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The kernel's "[%5lu.%06lu] " prefix of a record's own time; its length. */
size_t ncxd_ts_text(uint64_t ts_usec, char out[48]);
/* The length of the valid UTF-8 sequence at p (n bytes left), 0 if none. */
size_t ncxd_utf8_len(const unsigned char *p, size_t n);

/* "2026-11-22T01:13:34.123456Z" from a CLOCK_REALTIME time in µs. */
void ncxd_format_time(uint64_t real_us, char out[32]);

/* Bytes as the inside of a JSON string: valid UTF-8 kept, '"' '\\' escaped,
 * control bytes and every byte of invalid UTF-8 as \u00XX (so the byte's
 * value survives and the output is always valid JSON). */
void ncxd_json_string(struct ncxd_line *l, const void *p, size_t n);
/* The same for escaped wire text: unescaped first. */
void ncxd_json_unescaped(struct ncxd_line *l, const char *p, size_t n);

struct ncxd_event {
	enum { NCXD_EV_GAP, NCXD_EV_REBOOT, NCXD_EV_SUPPRESSED, NCXD_EV_DROPPED } kind;
	uint64_t a, b;	    /* gap first,last; reboot prev_seq,seq; suppressed records,bytes; dropped records */
	bool lost;	    /* gap */
	const char *reason; /* dropped */
};

/* Each appends one whole line, '\n' included. */
void ncxd_format_record(struct ncxd_line *l, enum ncxd_format f, uint64_t real_us,
			const struct ncx_addr *from, const struct ncx_ext *rec);
void ncxd_format_legacy(struct ncxd_line *l, enum ncxd_format f, uint64_t real_us,
			const struct ncx_addr *from, const struct ncx_legacy *g);
void ncxd_format_event(struct ncxd_line *l, enum ncxd_format f, uint64_t real_us,
		       const struct ncx_addr *from, const struct ncxd_event *ev);

#endif /* NCXD_FORMAT_H */
