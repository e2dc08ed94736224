/* SPDX-License-Identifier: MIT */
/*
 * log_internal: what the files of the log core share. Internal to libncx:
 * lib/log.c is the core (ring, line buffers, ratelimit, consoles' threads);
 * log_render.c, log_console.c and log_crash.c are built on it. The "ncx__"
 * prefix keeps these out of a program's way without making them public.
 */
#ifndef NCX_LOG_INTERNAL_H
#define NCX_LOG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ncx/num.h>

/*
 * Bounded text for records, renderers and the crash path: no stdio, no
 * allocation, so all of it is async-signal-safe.
 */

/* Append s to a bounded buffer, as snprintf would (never past cap). */
struct sbuf {
	char *p;
	size_t cap, len;
};

static inline void sb_put(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++, b->len++)
		if (b->len < b->cap)
			b->p[b->len] = s[i];
}

static inline void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static inline void sb_u64(struct sbuf *b, uint64_t v)
{
	char d[NCX_NUM_DEC_MAX];

	sb_put(b, d, ncx_num_dec(d, v));
}

/*
 * A record's text as the text consoles print it: bytes below 0x20 (but
 * tab), 0x7f and '\' as \xNN, so that one record is always one line.
 */
static inline void sb_escaped(struct sbuf *b, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f || ch == '\\') {
			char e[4] = { '\\', 'x', hex[ch >> 4], hex[ch & 15] };

			sb_put(b, e, 4);
		} else {
			sb_put(b, (const char *)&ch, 1);
		}
	}
}

/* The core's doors for the crash hook (lib/log_crash.c). */

/* One record of any kind, as every record is written. Async-signal-safe. */
int ncx__log_emit(int level, unsigned kind, unsigned flags, const char *text, size_t len);

/* The calling thread's id. Async-signal-safe. */
uint32_t ncx__log_tid(void);

/* End what the crashing thread was writing: the record it was in the middle
 * of, and its partial line. Async-signal-safe, for the crash handler only. */
void ncx__log_crash_line(void);

/* Drain every console from the crash handler: a callback in progress gets
 * 1 s before it is taken over, records still being written 200 ms.
 * Async-signal-safe. */
void ncx__log_crash_drain(void);

/* The core's setup lock (init, shutdown, registration, the crash hook),
 * never taken on the logging path. */
void ncx__log_lock(void);
void ncx__log_unlock(void);

#endif /* NCX_LOG_INTERNAL_H */
