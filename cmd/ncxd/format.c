/* SPDX-License-Identifier: MIT */
/*
 * format: the lines ncxd writes, text or JSON, byte-exact and pure: a line
 * depends only on its arguments, so the tests can pin every byte.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ncx/num.h>

#include "format.h"

void ncxd_line_put(struct ncxd_line *l, const void *p, size_t n)
{
	size_t room = l->cap - l->len;

	if (n > room) {
		n = room;
		l->truncated = true;
	}
	if (n)
		memcpy(l->p + l->len, p, n);
	l->len += n;
}

void ncxd_line_puts(struct ncxd_line *l, const char *s)
{
	ncxd_line_put(l, s, strlen(s));
}

void ncxd_line_printf(struct ncxd_line *l, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		l->truncated = true;
	}
	ncxd_line_put(l, buf, (size_t)n);
}

/* The time as "2026-11-22T01:13:34.123456Z"; returns its length. The part
 * up to the second is made once per second per thread (gmtime_r and
 * strftime cost more than the rest of a line): the result is the same. */
static size_t time_text(uint64_t real_us, char out[32])
{
	static _Thread_local int64_t cached_sec = -1;
	static _Thread_local char cached[24];
	static _Thread_local size_t cached_len;
	int64_t sec = (int64_t)(real_us / 1000000u);
	size_t n;

	if (sec != cached_sec) {
		time_t t = (time_t)sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = sec;
	}
	n = cached_len;
	memcpy(out, cached, n);
	out[n++] = '.';
	n += ncx_num_dec_pad(out + n, real_us % 1000000u, 6, '0');
	out[n++] = 'Z';
	out[n] = 0;
	return n;
}

void ncxd_format_time(uint64_t real_us, char out[32])
{
	(void)time_text(real_us, out);
}

/* The kernel's "[%5lu.%06lu] " for a timestamp in µs; returns its length. */
size_t ncxd_ts_text(uint64_t ts_usec, char out[48])
{
	size_t n = 0;

	out[n++] = '[';
	n += ncx_num_dec_pad(out + n, ts_usec / 1000000u, 5, ' ');
	out[n++] = '.';
	n += ncx_num_dec_pad(out + n, ts_usec % 1000000u, 6, '0');
	out[n++] = ']';
	out[n++] = ' ';
	return n;
}

/* Length of a valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if it is not one. */
size_t ncxd_utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

static const char hex_digit[16] = "0123456789abcdef";

void ncxd_json_string(struct ncxd_line *l, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t run = i, len;

		/* Copy the longest run that needs nothing done. */
		while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\')
			run++;
		if (run > i) {
			ncxd_line_put(l, p + i, run - i);
			i = run;
			continue;
		}
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			ncxd_line_put(l, esc, 2);
			i++;
		} else if (c >= 0x80 && (len = ncxd_utf8_len(p + i, n - i))) {
			ncxd_line_put(l, p + i, len);
			i += len;
		} else {
			/* Control bytes, DEL, and each byte of invalid UTF-8. */
			char esc[6] = { '\\', 'u', '0', '0', hex_digit[c >> 4], hex_digit[c & 15] };

			ncxd_line_put(l, esc, 6);
			i++;
		}
	}
}

void ncxd_json_unescaped(struct ncxd_line *l, const char *p, size_t n)
{
	char buf[NCX_WIRE_BODY_MAX];

	/* Unescape in pieces; a piece never ends inside an escape ("\xNN" is 4 bytes). */
	while (n) {
		size_t take = n > sizeof(buf) ? sizeof(buf) : n;

		if (take < n) {
			for (size_t k = 1; k <= 3 && take > k; k++)
				if (p[take - k] == '\\') {
					take -= k;
					break;
				}
		}
		size_t m = ncx_unescape(p, take, buf, sizeof(buf));

		ncxd_json_string(l, buf, m);
		p += take;
		n -= take;
	}
}

/* Wire text as it came: the kernel has escaped every control and non-ASCII
 * byte already. A sender that is not a kernel may not have: such bytes are
 * escaped here the same way, so no file line carries a raw control byte (a
 * terminal escape, a NUL) whoever sent it. */
static void put_wire_text(struct ncxd_line *l, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = i;

		while (run < n && (unsigned char)p[run] >= 0x20 && (unsigned char)p[run] < 0x7f)
			run++;
		ncxd_line_put(l, p + i, run - i);
		if (run < n) {
			unsigned char c = (unsigned char)p[run++];
			char esc[4] = { '\\', 'x', hex_digit[c >> 4], hex_digit[c & 15] };

			ncxd_line_put(l, esc, 4);
		}
		i = run;
	}
}

static void json_head(struct ncxd_line *l, uint64_t real_us, const struct ncx_addr *from)
{
	char t[32], host[NCX_ADDR_TEXT_MAX];

	ncxd_format_time(real_us, t);
	ncx_addr_format(from, false, host, sizeof(host));
	ncxd_line_printf(l, "{\"time\":\"%s\",\"host\":\"%s\",\"port\":%u", t, host,
			 (unsigned)from->port);
}

static void text_head(struct ncxd_line *l, uint64_t real_us)
{
	char t[32];
	size_t n = time_text(real_us, t);

	t[n++] = ' ';
	ncxd_line_put(l, t, n);
}

/* A line always ends in '\n', even when it was cut to fit. */
static void end_line(struct ncxd_line *l)
{
	if (l->len == l->cap && l->cap) {
		l->len--;
		l->truncated = true;
	}
	ncxd_line_put(l, "\n", 1);
}

static void json_dict(struct ncxd_line *l, struct ncx_span dict)
{
	struct ncx_span key, val;
	bool first = true;

	ncxd_line_puts(l, ",\"dict\":{");
	while (ncx_dict_next(&dict, &key, &val)) {
		if (!first)
			ncxd_line_put(l, ",", 1);
		first = false;
		ncxd_line_put(l, "\"", 1);
		ncxd_json_unescaped(l, key.p, key.len);
		ncxd_line_puts(l, "\":\"");
		ncxd_json_unescaped(l, val.p, val.len);
		ncxd_line_put(l, "\"", 1);
	}
	ncxd_line_put(l, "}", 1);
}

void ncxd_format_record(struct ncxd_line *l, enum ncxd_format f, uint64_t real_us,
			const struct ncx_addr *from, const struct ncx_ext *rec)
{
	struct ncx_span text, dict;

	ncx_ext_split_body(rec->body, &text, &dict);
	if (f == NCXD_TEXT) {
		/* "<time> <level> [<ts>] <text> seq=<seq>", without printf */
		char head[128], tail[32];
		const char *level = ncx_level_name(rec->level);
		size_t n = time_text(real_us, head), k = strlen(level);

		head[n++] = ' ';
		memcpy(head + n, level, k);
		n += k;
		head[n++] = ' ';
		n += ncxd_ts_text(rec->ts_usec, head + n);
		ncxd_line_put(l, head, n);
		/* Escaped on the wire already: one record is one line as it is. */
		put_wire_text(l, text.p, text.len);
		memcpy(tail, " seq=", 5);
		n = 5 + ncx_num_dec(tail + 5, rec->seq);
		ncxd_line_put(l, tail, n);
		end_line(l);
		return;
	}
	json_head(l, real_us, from);
	ncxd_line_printf(l, ",\"seq\":%llu,\"facility\":%u,\"level\":%u,\"level_name\":\"%s\","
			    "\"ts_usec\":%llu,\"text\":\"",
			 (unsigned long long)rec->seq, (unsigned)rec->facility, (unsigned)(rec->level & 7),
			 ncx_level_name(rec->level), (unsigned long long)rec->ts_usec);
	ncxd_json_unescaped(l, text.p, text.len);
	ncxd_line_put(l, "\"", 1);
	json_dict(l, dict);
	ncxd_line_puts(l, rec->flag == '-' ? ",\"flags\":[]" : ",\"flags\":[\"cont\"]");
	if (rec->caller_kind)
		ncxd_line_printf(l, ",\"caller\":\"%c%u\"", rec->caller_kind, (unsigned)rec->caller_id);
	if (rec->release.len) {
		ncxd_line_puts(l, ",\"release\":\"");
		ncxd_json_string(l, rec->release.p, rec->release.len);
		ncxd_line_put(l, "\"", 1);
	}
	ncxd_line_put(l, "}", 1);
	end_line(l);
}

/* Raw legacy bytes, escaped the kernel's way so that a record is one line. */
static void put_escaped(struct ncxd_line *l, const char *p, size_t n)
{
	char buf[4 * 1024];

	while (n) {
		size_t take = n > 1024 ? 1024 : n;
		size_t m = ncx_escape(p, take, buf, sizeof(buf));

		ncxd_line_put(l, buf, m);
		p += take;
		n -= take;
	}
}

void ncxd_format_legacy(struct ncxd_line *l, enum ncxd_format f, uint64_t real_us,
			const struct ncx_addr *from, const struct ncx_legacy *g)
{
	if (f == NCXD_TEXT) {
		char ts[48];

		text_head(l, real_us);
		/* The kernel's own prefix, as it came. */
		if (g->has_ts)
			ncxd_line_put(l, ts, ncxd_ts_text(g->ts_usec, ts));
		put_escaped(l, g->text.p, g->text.len);
		end_line(l);
		return;
	}
	json_head(l, real_us, from);
	if (g->has_ts)
		ncxd_line_printf(l, ",\"ts_usec\":%llu", (unsigned long long)g->ts_usec);
	ncxd_line_puts(l, ",\"text\":\"");
	ncxd_json_string(l, g->text.p, g->text.len);
	ncxd_line_puts(l, "\",\"legacy\":true}");
	end_line(l);
}

void ncxd_format_event(struct ncxd_line *l, enum ncxd_format f, uint64_t real_us,
		       const struct ncx_addr *from, const struct ncxd_event *ev)
{
	unsigned long long a = ev->a, b = ev->b;

	if (f == NCXD_TEXT) {
		text_head(l, real_us);
		switch (ev->kind) {
		case NCXD_EV_GAP:
			ncxd_line_printf(l, "ncx: gap seq=%llu..%llu count=%llu %s", a, b, b - a + 1,
					 ev->lost ? "lost" : "not received");
			break;
		case NCXD_EV_REBOOT:
			ncxd_line_printf(l, "ncx: reboot prev_seq=%llu seq=%llu", a, b);
			break;
		case NCXD_EV_SUPPRESSED:
			ncxd_line_printf(l, "ncx: suppressed records=%llu bytes=%llu", a, b);
			break;
		case NCXD_EV_DROPPED:
			ncxd_line_printf(l, "ncx: dropped records=%llu reason=%s", a, ev->reason);
			break;
		}
		end_line(l);
		return;
	}
	json_head(l, real_us, from);
	switch (ev->kind) {
	case NCXD_EV_GAP:
		ncxd_line_printf(l, ",\"event\":\"gap\",\"first\":%llu,\"last\":%llu,\"count\":%llu,"
				    "\"lost\":%s}",
				 a, b, b - a + 1, ev->lost ? "true" : "false");
		break;
	case NCXD_EV_REBOOT:
		ncxd_line_printf(l, ",\"event\":\"reboot\",\"prev_seq\":%llu,\"seq\":%llu}", a, b);
		break;
	case NCXD_EV_SUPPRESSED:
		ncxd_line_printf(l, ",\"event\":\"suppressed\",\"records\":%llu,\"bytes\":%llu}", a, b);
		break;
	case NCXD_EV_DROPPED:
		ncxd_line_printf(l, ",\"event\":\"dropped\",\"records\":%llu,\"reason\":\"%s\"}", a,
				 ev->reason);
		break;
	}
	end_line(l);
}
