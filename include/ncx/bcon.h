/* SPDX-License-Identifier: MIT */
/*
 * bcon: the block console's on-disk format (docs/bcon.md), shared by the
 * kernel module (kmod/bcon_*.c, which uses only the constants) and by
 * `ncx bcon init` and `ncx bcon read` (lib/bcon.c).
 *
 * A bcon file is a ring of NTILES tiles of TILE bytes each. Every tile starts
 * with a header of NCX_BCON_HDR bytes: one text line, then NUL bytes,
 *
 *   "\nncx-bcon 1 id <16 hex> tile <8 hex> tiles <8 hex> wrap <8 hex>
 *    index <8 hex> pos <16 hex> boot <8 hex> crc <8 hex>\n"   (one line)
 *
 * id: the file's random id, the same in every tile; tile, tiles: the tile
 * size in bytes and their number; index: the tile's slot in the file; wrap:
 * how many times the ring had gone round when it was written; pos: its place
 * in the stream, wrap * tiles + index; boot: random per module load; crc:
 * CRC-32 (zlib's) of the line's bytes before " crc ". After the header comes
 * text, one record a line,
 *
 *   "[ssssss.uuuuuu] <L> C<cpu> text\n"
 *
 * (L the level 0-7, cpu the CPU it was logged on or '?'), then NUL bytes up to
 * the end of the tile: text never contains NUL, so the first NUL ends it, and
 * text after a run of NULs means a write that did not land (a torn tile).
 */
#ifndef NCX_BCON_H
#define NCX_BCON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCX_BCON_VERSION 1
#define NCX_BCON_MAGIC "\nncx-bcon "
#define NCX_BCON_MAGIC_LEN 10
#define NCX_BCON_HDR 512		/* the header's bytes at the start of a tile */
#define NCX_BCON_TILE_MIN 4096
#define NCX_BCON_TILE_MAX (256 * 1024)
#define NCX_BCON_TILE_DEFAULT (64 * 1024)
#define NCX_BCON_TILES_MIN 2
/* The header line up to the crc (printf format: version, id, tile, tiles,
 * wrap, index, pos, boot); then " crc %08x\n".
 */
#define NCX_BCON_HDR_FMT \
	"\nncx-bcon %u id %016llx tile %08x tiles %08x wrap %08x index %08x pos %016llx boot %08x"
#define NCX_BCON_CRC_FMT " crc %08x\n"

#ifndef __KERNEL__

struct ncx_bcon_hdr {
	unsigned int version;
	uint64_t id;
	uint32_t tile;		/* bytes */
	uint32_t tiles;
	uint32_t wrap;
	uint32_t index;
	uint64_t pos;
	uint32_t boot;
};

/* CRC-32 as zlib's crc32(0, buf, len). */
uint32_t ncx_bcon_crc32(const void *buf, size_t len);

/* The header for h into out (NCX_BCON_HDR bytes, NUL-filled). */
void ncx_bcon_hdr_format(const struct ncx_bcon_hdr *h, char *out);

/*
 * Parse the header at buf (at least NCX_BCON_HDR bytes): 0 and *h if it is a
 * good one; NCX_BCON_NOT_HDR if buf does not start with the magic;
 * NCX_BCON_BAD_HDR if it does but the line is malformed, its crc is wrong, or
 * its fields disagree (pos != wrap * tiles + index, ...). For a bad header, *h
 * holds what could be parsed (h->id may still name the file).
 */
#define NCX_BCON_NOT_HDR (-1)
#define NCX_BCON_BAD_HDR (-2)
int ncx_bcon_hdr_parse(const char *buf, struct ncx_bcon_hdr *h);

/* One tile as read back: its header and its bytes (tile bytes, header included). */
struct ncx_bcon_tile {
	int state;		/* 0, NCX_BCON_NOT_HDR or NCX_BCON_BAD_HDR */
	uint32_t slot;		/* where it was found: the index it should have */
	struct ncx_bcon_hdr h;
	const char *data;
	size_t len;
};

/*
 * Where a reader is in the stream: the last tile position it printed from,
 * and how many text bytes of it (after the header).
 */
struct ncx_bcon_cursor {
	bool started;
	uint64_t pos;
	size_t off;
	uint64_t torn, gaps, corrupt;	/* what was reported, counted */
};

/*
 * Print the stream the tiles hold (tiles of one file, any order) to out,
 * oldest to newest, from where cur says on, and move cur. Torn tiles, gaps
 * between tile positions and corrupt headers are marked with lines starting
 * "--- ncx-bcon: ". With whole_lines, text after the last newline of the
 * newest tile is held back (for --follow: it may still grow).
 */
void ncx_bcon_print(struct ncx_bcon_tile *tiles, size_t n, struct ncx_bcon_cursor *cur,
		    bool whole_lines, void (*emit)(void *arg, const char *s, size_t len),
		    void *arg);

#endif /* __KERNEL__ */
#endif
