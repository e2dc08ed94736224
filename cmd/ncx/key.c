/* SPDX-License-Identifier: MIT */
/*
 * ncx key: make a collector secret, and derive a host's key from it
 * (include/ncx/auth.h; docs/DESIGN.md, "Authentication (ncmac)").
 * No log core: key material goes to stdout or a file, never into a log.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ncx/addr.h>
#include <ncx/auth.h>

#include "ncx.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncx key new [-o FILE]\n"
		"       ncx key derive --secret FILE ADDRESS\n\n"
		"Keys for authenticated netconsole datagrams (the ncmac header key).\n"
		"A key is 128 bits, written as 32 hex digits and a newline.\n\n"
		"  new       print a new random secret (from getrandom(2)); with -o, write it\n"
		"            to FILE instead, created with mode 0600 (never over an existing\n"
		"            file). The collector keeps this one secret.\n"
		"  derive    print the key of the host at ADDRESS (numeric, no port: 192.0.2.7,\n"
		"            2001:db8::7): SipHash-2-4 of the address's canonical text under\n"
		"            the secret. It speaks for that host alone; give it to that host.\n\n"
		"Options:\n"
		"  -o, --output FILE   (new) write the secret to FILE, mode 0600\n"
		"  -s, --secret FILE   (derive) the collector's secret; must not be readable\n"
		"                      or writable by group or others\n"
		"  -h, --help          this help\n\n"
		"Exit status: 0 done; 64 a bad command line; 65 a bad key file or address;\n"
		"73 the output file cannot be created; 71 no randomness.\n");
}

static int write_key_file(const char *path, const char *line)
{
	size_t len = strlen(line), off = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		fprintf(stderr, "ncx key: %s: %s\n", path, strerror(errno));
		return EX_CANTCREAT;
	}
	while (off < len) {
		ssize_t n = write(fd, line + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "ncx key: %s: %s\n", path, strerror(errno));
			close(fd);
			unlink(path);
			return EX_CANTCREAT;
		}
		off += (size_t)n;
	}
	if (fsync(fd) || close(fd)) {
		fprintf(stderr, "ncx key: %s: %s\n", path, strerror(errno));
		unlink(path);
		return EX_CANTCREAT;
	}
	return 0;
}

static int key_new(const char *out)
{
	struct ncx_auth_key k;
	char line[NCX_AUTH_KEY_HEX + 2];
	int rc = ncx_auth_key_random(&k);

	if (rc) {
		fprintf(stderr, "ncx key: getrandom: %s\n", strerror(-rc));
		return EX_OSERR;
	}
	ncx_auth_key_format(&k, line);
	memset(&k, 0, sizeof(k));
	strcat(line, "\n");
	if (out)
		rc = write_key_file(out, line);
	else if (fputs(line, stdout) == EOF || fflush(stdout))
		rc = EX_IOERR;
	memset(line, 0, sizeof(line));
	return rc;
}

static int key_derive(const char *secret_path, const char *addr_text)
{
	struct ncx_auth_key secret, host;
	struct ncx_addr a;
	char canon[NCX_ADDR_TEXT_MAX], line[NCX_AUTH_KEY_HEX + 1], err[512];
	size_t clen;

	if (ncx_addr_parse(addr_text, 0, &a) || a.port || strchr(addr_text, ']')) {
		fprintf(stderr, "ncx key: '%s' is not a numeric address without a port "
				"(192.0.2.7, 2001:db8::7)\n", addr_text);
		return EX_DATAERR;
	}
	if (ncx_auth_key_load(secret_path, &secret, err, sizeof(err))) {
		fprintf(stderr, "ncx key: %s\n", err);
		return EX_DATAERR;
	}
	clen = ncx_addr_format(&a, false, canon, sizeof(canon));
	ncx_auth_derive(&secret, canon, clen, &host);
	ncx_auth_key_format(&host, line);
	memset(&secret, 0, sizeof(secret));
	memset(&host, 0, sizeof(host));
	printf("%s\n", line);
	memset(line, 0, sizeof(line));
	return fflush(stdout) ? EX_IOERR : 0;
}

int cmd_key(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "secret", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *secret = NULL, *sub;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's':
			secret = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cmd_usage_error("key", c, argv, longopts);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ncx key: new or derive?\nTry 'ncx key --help'.\n");
		return EX_USAGE;
	}
	sub = argv[optind++];
	if (!strcmp(sub, "new")) {
		if (secret || optind != argc) {
			fprintf(stderr, "ncx key new: takes only -o FILE\nTry 'ncx key --help'.\n");
			return EX_USAGE;
		}
		return key_new(out);
	}
	if (!strcmp(sub, "derive")) {
		if (!secret || out || optind != argc - 1) {
			fprintf(stderr, "ncx key derive: needs --secret FILE and one ADDRESS\n"
					"Try 'ncx key --help'.\n");
			return EX_USAGE;
		}
		return key_derive(secret, argv[optind]);
	}
	fprintf(stderr, "ncx key: unknown subcommand '%s'\nTry 'ncx key --help'.\n", sub);
	return EX_USAGE;
}
