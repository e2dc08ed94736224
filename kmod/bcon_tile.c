// SPDX-License-Identifier: GPL-2.0
/*
 * The tile being written, in memory: its header, records turned into lines
 * and appended, and where each of its bytes goes on the device. All of it
 * under b->lock (the kthread's; the panic path takes it over).
 */
#include <linux/ctype.h>
#include <linux/crc32.h>
#include <linux/kernel.h>
#include <linux/kmsg_dump.h>
#include <linux/math64.h>
#include <linux/string.h>
#include <linux/ktime.h>

#include "kmsg_line.h"
#include "ncxbcon.h"

void bcon_tile_start(struct bcon *b, u64 pos)
{
	u32 index;
	u64 wrap = div_u64_rem(pos, b->ntiles, &index);
	int n;

	memset(b->tbuf, 0, b->tile);
	n = scnprintf(b->tbuf, NCX_BCON_HDR, NCX_BCON_HDR_FMT, NCX_BCON_VERSION,
		      (unsigned long long)b->id, b->tile, b->ntiles, (u32)wrap, index,
		      (unsigned long long)pos, b->boot);
	scnprintf(b->tbuf + n, NCX_BCON_HDR - n, NCX_BCON_CRC_FMT,
		  crc32_le(~0, b->tbuf, n) ^ ~0);
	b->pos = pos;
	b->len = NCX_BCON_HDR;
	b->disk = 0;
	b->fresh = true;
	b->full = false;
	b->stats.tiles++;
}

/*
 * buf: the start of tile slot as read at load (NUL-terminated past the
 * header). 0 and *pos for a good header of ours; 1 for one of ours whose
 * checksum or fields are wrong (its position unknown); -EINVAL if it is not
 * ours at all (another file's blocks: wrong dev= or extents=).
 */
int bcon_hdr_check(struct bcon *b, const char *buf, u32 slot, u64 *pos)
{
	unsigned long long id = 0, p = 0;
	unsigned int v, tile, tiles, wrap, index, boot, crc;
	int n = 0;

	if (memcmp(buf, NCX_BCON_MAGIC, NCX_BCON_MAGIC_LEN))
		return -EINVAL;
	if (sscanf(buf, NCX_BCON_HDR_FMT "%n", &v, &id, &tile, &tiles, &wrap, &index, &p,
		   &boot, &n) != 8 || !n)
		return id == b->id ? 1 : -EINVAL;
	if (id != b->id)
		return -EINVAL;
	if (sscanf(buf + n, " crc %8x", &crc) != 1 || crc != (crc32_le(~0, buf, n) ^ ~0))
		return 1;
	if (v != NCX_BCON_VERSION || tile != b->tile || tiles != b->ntiles || index != slot ||
	    p != (u64)wrap * tiles + index)
		return 1;
	*pos = p;
	return 0;
}

sector_t bcon_sector(struct bcon *b, u64 pos, size_t off)
{
	u32 slot;
	u64 s;
	unsigned int i;

	div_u64_rem(pos, b->ntiles, &slot);
	s = ((u64)slot * b->tile + off) >> SECTOR_SHIFT;
	for (i = 0; i < b->nextents; i++)
		if (s >= b->ext[i].file && s < b->ext[i].file + b->ext[i].len)
			return b->ext[i].dev + (s - b->ext[i].file);
	WARN_ON_ONCE(1);	/* the extents were checked to cover the file */
	return 0;
}

/* FNV-1a, the same as bcon_cpu.c's probe computes over the record's text. */
u32 bcon_cpu_hash(u32 h, const char *s, size_t len)
{
	while (len--) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

/* "<PRI>[ sec.usec] " at p: its length (0 if none), the level and the time. */
static size_t parse_prefix(const char *p, size_t len, unsigned int *level, u64 *sec, u32 *usec)
{
	unsigned int pri;
	size_t i = kmsg_line_pri(p, len, &pri), t;

	if (!i)
		return 0;
	*level = pri & 7;
	t = kmsg_line_time(p + i, len - i, sec, usec);
	if (t) {
		i += t;
		if (i < len && p[i] == ' ')
			i++;
	}
	return i;
}

/*
 * The first record at or after *seq as our lines, in s->out from at on:
 * "[sec.usec] <L> C<cpu> text\n" for each line of its text. Sets *seq to the
 * record's seq; returns the new end of s->out, or at if there is no record.
 */
static size_t record_lines(struct bcon *b, struct bcon_scratch *s, u64 *seq, size_t at)
{
	struct kmsg_dump_iter it = { .cur_seq = *seq, .next_seq = U64_MAX };
	size_t len = 0, pre, i, out = at;
	unsigned int level = 0;
	u64 sec = 0;
	u32 usec = 0, h = BCON_HASH_INIT;
	char cpu[12];
	int c;

	if (!kmsg_dump_get_line(&it, true, s->line, sizeof(s->line), &len) || !len)
		return at;
	*seq = it.cur_seq - 1;
	if (len >= sizeof(s->line) - 1)
		b->stats.truncated++;
	pre = parse_prefix(s->line, len, &level, &sec, &usec);

	/* The record's own text (the prefix repeats after each newline in it),
	 * hashed as the console tracepoint saw it: lines joined by newlines.
	 */
	for (i = 0; i < len;) {
		const char *nl = memchr(s->line + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - s->line) : len, skip = 0;

		if (pre && end - i >= pre && !memcmp(s->line + i, s->line, pre))
			skip = pre;
		if (i)
			h = bcon_cpu_hash(h, "\n", 1);
		h = bcon_cpu_hash(h, s->line + i + skip, end - i - skip);
		i = end + 1;
	}
	c = bcon_cpu_lookup(h);
	if (c >= 0)
		scnprintf(cpu, sizeof(cpu), "%d", c);
	else
		strscpy(cpu, "?", sizeof(cpu));

	for (i = 0; i < len;) {
		const char *nl = memchr(s->line + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - s->line) : len, skip = 0, n;

		if (pre && end - i >= pre && !memcmp(s->line + i, s->line, pre))
			skip = pre;
		out += scnprintf(s->out + out, BCON_OUT_MAX - out, "[%5llu.%06u] <%u> C%s ",
				 (unsigned long long)sec, usec, level, cpu);
		n = min(end - i - skip, BCON_OUT_MAX - 1 - out);
		memcpy(s->out + out, s->line + i + skip, n);
		out += n;
		if (out < BCON_OUT_MAX)
			s->out[out++] = '\n';
		b->stats.lines++;
		i = end + 1;
		if (out >= BCON_OUT_MAX - 64)
			break;
	}
	s->out[out - 1] = '\n';
	return out;
}

/*
 * Append up to max records to the tile as lines. Returns false when there
 * is no record left to take; true when max was reached or the tile is
 * full (b->full: the next record waits for the next tile).
 */
bool bcon_tile_fill(struct bcon *b, struct bcon_scratch *s, unsigned int max)
{
	size_t room = b->tile - NCX_BCON_HDR;

	while (max--) {
		u64 seq = b->next_seq;
		size_t n = 0;

		if (b->full)
			return true;
		n = record_lines(b, s, &seq, 0);
		if (!n)
			return false;
		if (seq > b->next_seq) {
			/* The kernel's buffer overwrote these before we got to them. */
			size_t m = scnprintf(s->line, 160,
					     "[%5u.%06u] <4> C? ncxbcon: %llu records lost (overwritten before they were written)\n",
					     0, 0, seq - b->next_seq);

			if (m + n <= BCON_OUT_MAX) {
				memmove(s->out + m, s->out, n);
				memcpy(s->out, s->line, m);
				n += m;
			}
		}
		if (n > room) {
			/* Longer than a tile: cut, still one line. */
			n = room;
			s->out[n - 1] = '\n';
			b->stats.truncated++;
		}
		if (n > b->tile - b->len) {
			b->full = true;
			return true;
		}
		if (seq > b->next_seq)
			b->stats.lost += seq - b->next_seq;
		memcpy(b->tbuf + b->len, s->out, n);
		b->len += n;
		b->next_seq = seq + 1;
		b->stats.records++;
		b->last_text_ns = ktime_get_mono_fast_ns();
	}
	return true;
}
