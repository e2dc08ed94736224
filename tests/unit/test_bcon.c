/* SPDX-License-Identifier: MIT */
/*
 * Tests for the block console's format and stream reader (include/ncx/bcon.h,
 * lib/bcon.c): headers made and parsed (and the crc the module computes the kernel's
 * way), tiles put back in order across wraps, torn tiles, gaps and corrupt headers
 * marked, and the cursor --follow keeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ncx/bcon.h"

#define TILE 4096
#define NT 4

struct out {
	char buf[65536];
	size_t len;
};

static void emit(void *arg, const char *s, size_t len)
{
	struct out *o = arg;

	assert_true(o->len + len < sizeof(o->buf));
	memcpy(o->buf + o->len, s, len);
	o->len += len;
	o->buf[o->len] = '\0';
}

static char mem[NT][TILE];
static struct ncx_bcon_tile tiles[NT];

/* Tile at slot pos % NT with position pos and the given text. */
static void put(uint64_t pos, const char *text)
{
	struct ncx_bcon_hdr h = { .version = NCX_BCON_VERSION, .id = 0x1234abcd5678ef90ull,
				  .tile = TILE, .tiles = NT, .wrap = (uint32_t)(pos / NT),
				  .index = (uint32_t)(pos % NT), .pos = pos, .boot = 7 };
	char *t = mem[pos % NT];

	memset(t, 0, TILE);
	ncx_bcon_hdr_format(&h, t);
	memcpy(t + NCX_BCON_HDR, text, strlen(text));
}

static void load(void)
{
	for (int i = 0; i < NT; i++) {
		tiles[i].slot = (uint32_t)i;
		tiles[i].data = mem[i];
		tiles[i].len = TILE;
		tiles[i].state = ncx_bcon_hdr_parse(mem[i], &tiles[i].h);
	}
}

static void test_crc_is_zlibs(void **state)
{
	(void)state;
	assert_int_equal(ncx_bcon_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(ncx_bcon_crc32("", 0), 0);
}

static void test_header_roundtrip(void **state)
{
	struct ncx_bcon_hdr h;
	char *p;

	(void)state;
	put(9, "");
	assert_int_equal(ncx_bcon_hdr_parse(mem[1], &h), 0);
	assert_true(h.id == 0x1234abcd5678ef90ull && h.pos == 9 && h.wrap == 2 && h.index == 1);
	assert_int_equal(h.tile, TILE);
	/* Text: one line, then NULs, so strings(1) shows it. */
	assert_memory_equal(mem[1], "\nncx-bcon 1 id 1234abcd5678ef90 tile 00001000", 45);
	p = memchr(mem[1] + 1, '\n', NCX_BCON_HDR - 1);
	assert_non_null(p);
	assert_int_equal(p - mem[1], 124 + 13);	/* the crc digits are bytes 129-136 */
	assert_int_equal(mem[1][NCX_BCON_HDR - 1], 0);
	/* A changed byte breaks the crc; a changed magic is no header at all. */
	mem[1][30] ^= 1;
	assert_int_equal(ncx_bcon_hdr_parse(mem[1], &h), NCX_BCON_BAD_HDR);
	mem[1][30] ^= 1;
	mem[1][0] = 'x';
	assert_int_equal(ncx_bcon_hdr_parse(mem[1], &h), NCX_BCON_NOT_HDR);
	/* Fields that disagree with each other. */
	put(9, "");
	memcpy(strstr(mem[1], "pos ") + 4, "0000000000000008", 16);
	assert_int_equal(ncx_bcon_hdr_parse(mem[1], &h), NCX_BCON_BAD_HDR);
}

static void test_order_across_wraps(void **state)
{
	struct ncx_bcon_cursor cur = { 0 };
	struct out o = { .len = 0 };

	(void)state;
	put(5, "five\n");
	put(6, "six\n");
	put(7, "seven\n");
	put(8, "eight\n");	/* slot 0: the newest */
	load();
	ncx_bcon_print(tiles, NT, &cur, false, emit, &o);
	assert_string_equal(o.buf, "five\nsix\nseven\neight\n");
	assert_int_equal(cur.torn + cur.gaps + cur.corrupt, 0);
}

static void test_unused_tiles_are_not_gaps(void **state)
{
	struct ncx_bcon_cursor cur = { 0 };
	struct out o = { .len = 0 };

	(void)state;
	put(0, "zero\n");
	put(1, "one\n");
	put(2, "");		/* as ncx bcon init left them */
	put(3, "");
	load();
	ncx_bcon_print(tiles, NT, &cur, false, emit, &o);
	assert_string_equal(o.buf, "zero\none\n");
	assert_int_equal(cur.gaps, 0);
}

static void test_torn_tile(void **state)
{
	struct ncx_bcon_cursor cur = { 0 };
	struct out o = { .len = 0 };
	char text[3000];

	(void)state;
	memset(text, 0, sizeof(text));
	for (int i = 0; i < 60; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "line %02d ......................\n", i);
	put(4, "before\n");
	put(5, text);
	put(6, "after\n");
	put(7, "");
	/* A sector's write that did not land: 512 bytes of the text are zeros. */
	memset(mem[1] + 1024, 0, 512);
	load();
	ncx_bcon_print(tiles, NT, &cur, false, emit, &o);
	assert_non_null(strstr(o.buf, "--- ncx-bcon: tile 5 (slot 1): torn: 512 bytes missing at offset 1024\n"));
	assert_int_equal(cur.torn, 1);
	assert_true(strncmp(o.buf, "before\nline 00", 14) == 0);
	assert_non_null(strstr(o.buf, "line 59 ......................\nafter\n"));
	/* Text cut mid-line before the hole still ends its line before the mark. */
	assert_non_null(strstr(o.buf, "\n--- ncx-bcon: tile 5"));
}

static void test_corrupt_header_and_gap(void **state)
{
	struct ncx_bcon_cursor cur = { 0 };
	struct out o = { .len = 0 };

	(void)state;
	put(4, "four\n");
	put(5, "five\n");
	put(6, "six\n");
	put(7, "seven\n");
	memcpy(strstr(mem[1], " crc ") + 5, "zz", 2);
	load();
	assert_int_equal(tiles[1].state, NCX_BCON_BAD_HDR);
	ncx_bcon_print(tiles, NT, &cur, false, emit, &o);
	assert_string_equal(o.buf,
			    "--- ncx-bcon: slot 1: header corrupt (checksum or fields); its tile is skipped\n"
			    "four\n--- ncx-bcon: gap: tile 5 missing\nsix\nseven\n");
	assert_int_equal(cur.corrupt, 1);
	assert_int_equal(cur.gaps, 1);
}

static void test_follow_cursor(void **state)
{
	struct ncx_bcon_cursor cur = { 0 };
	struct out o = { .len = 0 };

	(void)state;
	put(0, "a\nb\npart");
	put(1, "");
	put(2, "");
	put(3, "");
	load();
	/* whole_lines: the newest tile's unfinished line is held back. */
	ncx_bcon_print(tiles, NT, &cur, true, emit, &o);
	assert_string_equal(o.buf, "a\nb\n");
	put(0, "a\nb\npartial line\nc\n");
	put(1, "d\n");
	load();
	ncx_bcon_print(tiles, NT, &cur, true, emit, &o);
	assert_string_equal(o.buf, "a\nb\npartial line\nc\nd\n");
	/* The ring goes round twice while nobody reads: a gap, then the newest. */
	put(8, "p8\n");
	put(9, "p9\n");
	put(10, "p10\n");
	put(11, "p11\n");
	load();
	ncx_bcon_print(tiles, NT, &cur, true, emit, &o);
	assert_non_null(strstr(o.buf, "d\n--- ncx-bcon: gap: tiles 2-7 missing (the ring went round while this reader was behind)\np8\np9\np10\np11\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_is_zlibs),
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_order_across_wraps),
		cmocka_unit_test(test_unused_tiles_are_not_gaps),
		cmocka_unit_test(test_torn_tile),
		cmocka_unit_test(test_corrupt_header_and_gap),
		cmocka_unit_test(test_follow_cursor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
