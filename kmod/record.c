// SPDX-License-Identifier: GPL-2.0
/*
 * Records read back from the kernel's own log buffer, by seq.
 *
 * kmsg_dump_get_line() is the one reader the kernel exports on 6.1 and 6.12
 * alike, lockless, usable in any context (panic included), for every record
 * whatever its level. It gives the record printed as the console would print
 * it: "<PRI>[ sec.usec] text\n", the prefix repeated after each newline
 * inside the text, the time only with printk.time on, "[T123]" after it
 * with CONFIG_PRINTK_CALLER. That is turned back into the record's fields
 * and text here; the extended format is then made by lib/wire.c.
 *
 * What this cannot give: the dictionary (SUBSYSTEM=, DEVICE=) and the
 * continuation flag; and with printk.time off, a text that itself starts
 * like a time prefix is read as one (docs/kmod.md).
 */
#include <linux/kernel.h>
#include <linux/kmsg_dump.h>

#include "kmsg_line.h"
#include "ncxcon.h"

/* "<PRI>": 0 on error. */
static size_t parse_pri(const char *p, size_t len, struct ncx_ext *e)
{
	unsigned int v;
	size_t n = kmsg_line_pri(p, len, &v);

	if (!n)
		return 0;
	e->facility = v >> 3;
	e->level = v & 7;
	return n;
}

/* "[%5lu.%06lu]": 0 if p does not start with one. */
static size_t parse_time(const char *p, size_t len, u64 *usec)
{
	u64 sec;
	u32 us;
	size_t n = kmsg_line_time(p, len, &sec, &us);

	if (n)
		*usec = sec * 1000000 + us;
	return n;
}

/* "[%6s]" holding T<pid> or C<cpu>: 0 if p does not start with one. */
static size_t parse_caller(const char *p, size_t len, struct ncx_ext *e)
{
	u32 id = 0;
	size_t i = 1, d;
	char kind;

	if (!len || p[0] != '[')
		return 0;
	while (i < len && p[i] == ' ')
		i++;
	if (i >= len || (p[i] != 'T' && p[i] != 'C'))
		return 0;
	kind = p[i++];
	for (d = 0; i < len && isdigit(p[i]) && d < 9; i++, d++)
		id = id * 10 + (p[i] - '0');
	if (!d || i >= len || p[i] != ']')
		return 0;
	e->caller_kind = kind;
	e->caller_id = id;
	return i + 1;
}

/* The prefix of the first line; its length, 0 if there is none. */
static size_t parse_prefix(const char *p, size_t len, struct ncx_ext *e)
{
	size_t n = parse_pri(p, len, e), m;
	bool space = IS_ENABLED(CONFIG_PRINTK_CALLER);

	if (!n)
		return 0;
	m = parse_time(p + n, len - n, &e->ts_usec);
	if (m) {
		n += m;
		space = true;
	}
	if (IS_ENABLED(CONFIG_PRINTK_CALLER))
		n += parse_caller(p + n, len - n, e);
	if (space && n < len && p[n] == ' ')
		n++;
	return n;
}

/*
 * Read the first record at or after *seq into r (its text in s->text) and
 * set *seq to its seq: a larger one means the records before it are gone
 * (overwritten, or hidden by dmesg -C). Returns 0, or -ENOENT if there is
 * no such record (yet).
 */
int ncxcon_record_read(u64 *seq, struct ncxcon_scratch *s, struct ncxcon_record *r)
{
	struct kmsg_dump_iter it = { .cur_seq = *seq, .next_seq = U64_MAX };
	size_t len = 0, pre, i, out = 0;
	const char *p;

	if (!kmsg_dump_get_line(&it, true, s->line, sizeof(s->line), &len) || !len)
		return -ENOENT;
	*seq = it.cur_seq - 1;

	memset(r, 0, sizeof(*r));
	r->ext.seq = *seq;
	r->ext.flag = '-';
	r->ext.reliable = true;
	r->truncated = len >= sizeof(s->line) - 1;
	p = s->line;
	pre = parse_prefix(p, len, &r->ext);
	/* Each line: strip the prefix (the same bytes as the first line's) and
	 * join the lines with the newlines the record's text had.
	 */
	for (i = 0; i < len;) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - p) : len, skip = 0;

		if (pre && end - i >= pre && !memcmp(p + i, p, pre))
			skip = pre;
		if (i)
			s->text[out++] = '\n';
		memcpy(s->text + out, p + i + skip, end - i - skip);
		out += end - i - skip;
		i = end + 1;
	}
	r->text = s->text;
	r->text_len = out;
	return 0;
}

/* The oldest record the kernel still holds (and dmesg -C has not hidden). */
u64 ncxcon_record_oldest(void)
{
	struct kmsg_dump_iter it;

	kmsg_dump_rewind(&it);
	return it.cur_seq;
}

/* The record in the extended format in s->rec, marked ncrx=1 (and ncemg=1)
 * and ncid=<id>; its length.
 */
size_t ncxcon_record_format(struct ncxcon_record *r, bool emergency, u64 id,
			    struct ncxcon_scratch *s)
{
	size_t len;

	r->ext.emergency = emergency;
	r->ext.id = id;
	len = ncx_ext_format(&r->ext, r->text, r->text_len, NULL, 0, s->rec, sizeof(s->rec));
	if (len > sizeof(s->rec)) {
		/* Cannot happen for a record of at most 1024 bytes of text. */
		len = sizeof(s->rec);
		r->truncated = true;
	}
	return len;
}
