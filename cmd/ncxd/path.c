/* SPDX-License-Identifier: MIT */
/*
 * path: the file a host's records go to, from the template. Only the
 * canonical address text (inet_ntop: digits, hex, '.', ':'), the port and
 * the receive date are ever substituted, so no payload byte can steer a
 * path; the template itself is checked once to stay below the log DIR.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "path.h"

const char *ncxd_path_check(const char *tmpl)
{
	const char *p = tmpl;

	if (!*tmpl)
		return "is empty";
	if (tmpl[0] == '/')
		return "must be relative to DIR";
	if (!strstr(tmpl, "%h"))
		return "must contain %h (one file per host; hosts must not share a file)";
	if (tmpl[strlen(tmpl) - 1] == '/')
		return "must name a file, not a directory";
	/* No ".." component: the files stay below DIR. */
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "must not contain '..'";
		p += n;
		if (*p == '/')
			p++;
	}
	return NULL;
}

int ncxd_path_expand(const char *tmpl, const struct ncx_addr *a, time_t t, char *out, size_t cap)
{
	char mid[1024], host[NCX_ADDR_TEXT_MAX];
	size_t n = 0;
	struct tm tm;

	ncx_addr_format(a, false, host, sizeof(host));
	/* First %h and %p (their text holds no '%'), then strftime the rest. */
	for (const char *p = tmpl; *p; p++) {
		char piece[NCX_ADDR_TEXT_MAX];
		const char *s = piece;
		size_t len;

		if (p[0] == '%' && p[1] == 'h') {
			s = host;
			p++;
		} else if (p[0] == '%' && p[1] == 'p') {
			snprintf(piece, sizeof(piece), "%u", (unsigned)a->port);
			p++;
		} else if (p[0] == '%' && p[1]) {
			piece[0] = '%';
			piece[1] = p[1];
			piece[2] = 0;
			p++;
		} else {
			piece[0] = *p;
			piece[1] = 0;
		}
		len = strlen(s);
		if (n + len >= sizeof(mid))
			return -ENAMETOOLONG;
		memcpy(mid + n, s, len);
		n += len;
	}
	mid[n] = 0;
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	if (cap == 0)
		return -ENAMETOOLONG;
	out[0] = 0;
	/* The format is the checked template (only %h and %p were filled in). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(out, cap, mid, &tm);
#pragma GCC diagnostic pop
	if (n == 0 && mid[0])
		return -ENAMETOOLONG; /* (or it expanded to nothing: unusable either way) */
	return (int)n;
}

void ncxd_mkdir_parents(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		(void)mkdir(buf, mode); /* EEXIST is the common case; open() says the rest */
		*p = '/';
	}
}
