/* SPDX-License-Identifier: MIT */
/*
 * bcon: the block console's tile headers and the stream reader's logic
 * (include/ncx/bcon.h; the format in docs/bcon.md). No I/O here: cmd/ncx/bcon.c
 * reads the tiles, this puts them in order and says what is wrong with them.
 */
#include "ncx/bcon.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t ncx_bcon_crc32(const void *buf, size_t len)
{
	static uint32_t table[256];
	static int ready;
	const unsigned char *p = buf;
	uint32_t c = 0xffffffffu;

	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	while (len--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

void ncx_bcon_hdr_format(const struct ncx_bcon_hdr *h, char *out)
{
	int n;

	memset(out, 0, NCX_BCON_HDR);
	n = snprintf(out, NCX_BCON_HDR, NCX_BCON_HDR_FMT, h->version,
		     (unsigned long long)h->id, h->tile, h->tiles, h->wrap, h->index,
		     (unsigned long long)h->pos, h->boot);
	snprintf(out + n, NCX_BCON_HDR - n, NCX_BCON_CRC_FMT, ncx_bcon_crc32(out, n));
}

int ncx_bcon_hdr_parse(const char *buf, struct ncx_bcon_hdr *h)
{
	unsigned long long id = 0, pos = 0;
	unsigned int v = 0, tile = 0, tiles = 0, wrap = 0, index = 0, boot = 0, crc = 0;
	char line[NCX_BCON_HDR + 1];
	const char *c;
	int n = 0;

	memset(h, 0, sizeof(*h));
	if (memcmp(buf, NCX_BCON_MAGIC, NCX_BCON_MAGIC_LEN))
		return NCX_BCON_NOT_HDR;
	memcpy(line, buf, NCX_BCON_HDR);
	line[NCX_BCON_HDR] = '\0';
	if (sscanf(line, NCX_BCON_HDR_FMT "%n", &v, &id, &tile, &tiles, &wrap, &index, &pos,
		   &boot, &n) != 8 || !n)
		return NCX_BCON_BAD_HDR;
	h->version = v;
	h->id = id;
	h->tile = tile;
	h->tiles = tiles;
	h->wrap = wrap;
	h->index = index;
	h->pos = pos;
	h->boot = boot;
	c = line + n;
	if (sscanf(c, " crc %8x", &crc) != 1 || strncmp(c, " crc ", 5) || c[13] != '\n')
		return NCX_BCON_BAD_HDR;
	if (crc != ncx_bcon_crc32(line, (size_t)n))
		return NCX_BCON_BAD_HDR;
	if (v != NCX_BCON_VERSION || !tiles || index >= tiles ||
	    pos != (uint64_t)wrap * tiles + index || tile < NCX_BCON_TILE_MIN ||
	    tile > NCX_BCON_TILE_MAX || (tile & (tile - 1)))
		return NCX_BCON_BAD_HDR;
	return 0;
}

/* ---- the stream ---------------------------------------------------------- */

struct emitter {
	void (*emit)(void *arg, const char *s, size_t len);
	void *arg;
};

static void say(struct emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct emitter *e, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	e->emit(e->arg, buf, (size_t)n);
}

static int by_pos(const void *a, const void *b)
{
	const struct ncx_bcon_tile *x = *(struct ncx_bcon_tile *const *)a;
	const struct ncx_bcon_tile *y = *(struct ncx_bcon_tile *const *)b;

	return x->h.pos < y->h.pos ? -1 : x->h.pos > y->h.pos;
}

/* The text of t: its bytes after the header, up to the last non-NUL one. */
static size_t text_end(const struct ncx_bcon_tile *t)
{
	size_t end = t->len;

	while (end > NCX_BCON_HDR && !t->data[end - 1])
		end--;
	return end > NCX_BCON_HDR ? end - NCX_BCON_HDR : 0;
}

/* Print t's text from byte off on (text offsets); returns where it stopped. */
static size_t print_tile(struct emitter *e, const struct ncx_bcon_tile *t, size_t off,
			 bool whole_lines, struct ncx_bcon_cursor *cur)
{
	const char *text = t->data + NCX_BCON_HDR;
	size_t end = text_end(t), i = off;

	if (whole_lines) {
		while (end > off && text[end - 1] != '\n')
			end--;
	}
	while (i < end) {
		size_t a = i, b;

		if (!text[i]) {
			/* A hole: NUL bytes with text after them. */
			while (i < end && !text[i])
				i++;
			cur->torn++;
			say(e, "--- ncx-bcon: tile %" PRIu64 " (slot %u): torn: %zu bytes missing at offset %zu",
			    t->h.pos, t->slot, i - a, a + NCX_BCON_HDR);
			continue;
		}
		b = i;
		while (b < end && text[b])
			b++;
		e->emit(e->arg, text + a, b - a);
		if (b < end && text[b - 1] != '\n')
			e->emit(e->arg, "\n", 1);	/* the marker gets a line of its own */
		i = b;
	}
	return end > off ? end : off;
}

void ncx_bcon_print(struct ncx_bcon_tile *tiles, size_t n, struct ncx_bcon_cursor *cur,
		    bool whole_lines, void (*emit)(void *arg, const char *s, size_t len),
		    void *arg)
{
	struct emitter e = { emit, arg };
	struct ncx_bcon_tile **v = calloc(n ? n : 1, sizeof(*v));
	uint32_t ntiles = 0;
	size_t k = 0;

	if (!v) {
		say(&e, "--- ncx-bcon: out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!tiles[i].state && !ntiles)
			ntiles = tiles[i].h.tiles;
		if (!tiles[i].state && text_end(&tiles[i]))
			v[k++] = &tiles[i];
	}
	qsort(v, k, sizeof(*v), by_pos);
	if (!cur->started) {
		for (size_t i = 0; i < n; i++) {
			if (tiles[i].state != NCX_BCON_BAD_HDR)
				continue;
			cur->corrupt++;
			say(&e, "--- ncx-bcon: slot %u: header corrupt (checksum or fields); its tile is skipped",
			    tiles[i].slot);
		}
	}
	for (size_t i = 0; i < k; i++) {
		struct ncx_bcon_tile *t = v[i];
		size_t off = 0;

		if (i + 1 < k && v[i + 1]->h.pos == t->h.pos)
			continue;	/* two copies (a scanned image): the later one */
		if (cur->started) {
			if (t->h.pos < cur->pos)
				continue;
			if (t->h.pos == cur->pos) {
				off = cur->off;
			} else if (t->h.pos > cur->pos + 1) {
				uint64_t a = cur->pos + 1, b = t->h.pos - 1;

				cur->gaps++;
				if (a == b)
					say(&e, "--- ncx-bcon: gap: tile %" PRIu64 " missing", a);
				else
					say(&e, "--- ncx-bcon: gap: tiles %" PRIu64 "-%" PRIu64 " missing%s", a, b,
					    ntiles && b - a + 1 >= ntiles ?
					    " (the ring went round while this reader was behind)" : "");
			}
		}
		cur->off = print_tile(&e, t, off, whole_lines && i + 1 == k, cur);
		cur->pos = t->h.pos;
		cur->started = true;
	}
	free(v);
}
