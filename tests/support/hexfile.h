/* SPDX-License-Identifier: MIT */
/*
 * hexfile: load a capture from a tests/data/<name>.hex file for the tests.
 *
 * Format: one UDP payload per line, hex-encoded (upper or lower case);
 * blank lines are skipped. `xxd -r -p` turns one line back into bytes.
 *
 *	struct ncx_hexfile hf;
 *	char path[512];
 *
 *	ncx_testdata_path("ext.hex", path, sizeof(path));
 *	if (ncx_hexfile_load(path, &hf) == 0) {
 *		for (size_t i = 0; i < hf.n; i++)
 *			use(hf.d[i].p, hf.d[i].len);
 *		ncx_hexfile_free(&hf);
 *	}
 */
#ifndef NCX_TEST_HEXFILE_H
#define NCX_TEST_HEXFILE_H

#include <stddef.h>

struct ncx_hexfile_dgram {
	unsigned char *p; /* the payload's bytes (malloc'd, followed by one NUL not counted) */
	size_t len;
};

struct ncx_hexfile {
	size_t n;			/* number of datagrams (lines) */
	struct ncx_hexfile_dgram *d;	/* d[0..n), in file order */
};

/*
 * Load every line of path. Returns 0, or a negative errno: -ENOENT etc. when
 * the file cannot be read, -EINVAL on a line with an odd number of digits or
 * a character that is not hex (the message names the line on stderr).
 * On error *out is left empty (n == 0, d == NULL).
 */
int ncx_hexfile_load(const char *path, struct ncx_hexfile *out);

void ncx_hexfile_free(struct ncx_hexfile *hf);

/* The directory of test data: $NCX_TESTDATA if set, else "tests/data"
 * (tests run from the repository's top directory). */
const char *ncx_testdata_dir(void);

/* dir + "/" + name into buf; returns buf, or NULL if it does not fit. */
char *ncx_testdata_path(const char *name, char *buf, size_t cap);

#endif /* NCX_TEST_HEXFILE_H */
