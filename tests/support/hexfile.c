/* SPDX-License-Identifier: MIT */
/* hexfile: see hexfile.h. Test-only code: simple over fast. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/wire.h>

#include "hexfile.h"

/* Decode one line (without its newline) into a new datagram. */
static int decode_line(const char *line, size_t len, struct ncx_hexfile_dgram *d)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len % 2)
		return -EINVAL;
	d->p = malloc(len / 2 + 1);
	if (!d->p)
		return -ENOMEM;
	if (ncx_hex_decode(line, len, d->p, len / 2) < 0) {
		free(d->p);
		d->p = NULL;
		return -EINVAL;
	}
	d->len = len / 2;
	d->p[d->len] = 0;
	return 0;
}

int ncx_hexfile_load(const char *path, struct ncx_hexfile *out)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t linecap = 0, cap = 0, lineno = 0;
	ssize_t got;
	int rc = 0;

	out->n = 0;
	out->d = NULL;
	if (!f)
		return -errno;
	while ((got = getline(&line, &linecap, f)) >= 0) {
		size_t len = (size_t)got;

		lineno++;
		if (len && line[len - 1] == '\n')
			len--;
		if (len == 0)
			continue;
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			void *nd = realloc(out->d, ncap * sizeof(*out->d));

			if (!nd) {
				rc = -ENOMEM;
				break;
			}
			out->d = nd;
			cap = ncap;
		}
		rc = decode_line(line, len, &out->d[out->n]);
		if (rc) {
			fprintf(stderr, "%s:%zu: not a hex line\n", path, lineno);
			break;
		}
		out->n++;
	}
	free(line);
	fclose(f);
	if (rc)
		ncx_hexfile_free(out);
	return rc;
}

void ncx_hexfile_free(struct ncx_hexfile *hf)
{
	for (size_t i = 0; i < hf->n; i++)
		free(hf->d[i].p);
	free(hf->d);
	hf->d = NULL;
	hf->n = 0;
}

const char *ncx_testdata_dir(void)
{
	const char *env = getenv("NCX_TESTDATA");

	return env && *env ? env : "tests/data";
}

char *ncx_testdata_path(const char *name, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", ncx_testdata_dir(), name);

	return n >= 0 && (size_t)n < cap ? buf : NULL;
}
