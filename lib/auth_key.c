/* SPDX-License-Identifier: MIT */
/*
 * auth_key: the userspace half of include/ncx/auth.h: key files and random
 * secrets. lib/auth.c stays freestanding for the kernel module.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ncx/auth.h>

/* Longer than any valid key file, so "too long" is told, not cut. */
#define KEYFILE_MAX 128

int ncx_auth_key_load(const char *path, struct ncx_auth_key *out, char *err, size_t errlen)
{
	char text[KEYFILE_MAX + 1];
	struct stat st;
	const char *why = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "key file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st)) {
		rc = -errno;
		snprintf(err, errlen, "key file %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "key file %s: group or others may read or write it (mode %04o): "
			 "chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -EPERM;
	}
	while (len < sizeof(text) - 1) {
		n = read(fd, text + len, sizeof(text) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "key file %s: %s", path, strerror(-rc));
			close(fd);
			return rc;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > KEYFILE_MAX)
		why = "too long: a key is 32 hex digits (128 bits)";
	else if (!len)
		why = "empty";
	else if (ncx_auth_key_parse(text, len, out, &why) == 0)
		why = NULL;
	memset(text, 0, sizeof(text));
	if (why) {
		snprintf(err, errlen, "key file %s: %s", path, why);
		return -EINVAL;
	}
	return 0;
}

int ncx_auth_key_random(struct ncx_auth_key *out)
{
	size_t got = 0;

	while (got < sizeof(out->k)) {
		ssize_t n = getrandom(out->k + got, sizeof(out->k) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	return 0;
}
