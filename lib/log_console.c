/* SPDX-License-Identifier: MIT */
/*
 * log_console: the built-in text consoles. Each record becomes one line,
 * collected in a buffer and written out with one write(2) per batch: the
 * decorated line of ncx_log_format_text() (ncx_console_fd/_file), or a
 * command-line program's plain "<prog>: <text>" (ncx_console_stderr).
 * The callbacks are async-signal-safe, so the crash handler can drain them.
 */
#include "ncx/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_internal.h"

struct file_console {
	struct ncx_console con;
	int fd;
	bool own_fd;
	size_t len;
	char buf[65536];
	size_t plen;			/* plain lines: "<prog>: " */
	char prefix[NCX_CON_PROG_MAX + 2];
};

/* write(2) all of it; async-signal-safe. Errors drop the bytes (a console
 * has nobody to report to). */
static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w, n -= (size_t)w;
	}
}

static void fc_flush(struct ncx_console *con)
{
	struct file_console *f = con->arg;

	write_all(f->fd, f->buf, f->len);
	f->len = 0;
}

static void fc_write(struct ncx_console *con, const struct ncx_log_record *rec)
{
	struct file_console *f = con->arg;
	/* Worst case: every byte escaped, plus the decoration and a gap line. */
	size_t worst = 4 * rec->len + 200;

	if (f->len > sizeof(f->buf) || sizeof(f->buf) - f->len < worst)
		fc_flush(con);
	if (rec->lost_records || rec->lost_bytes) {
		struct sbuf b = { f->buf + f->len, sizeof(f->buf) - f->len, 0 };

		sb_str(&b, "** ");
		sb_u64(&b, rec->lost_records);
		sb_str(&b, " records (");
		sb_u64(&b, rec->lost_bytes);
		sb_str(&b, " bytes) lost **\n");
		f->len += b.len;
	}
	f->len += ncx_log_format_text(rec, f->buf + f->len, sizeof(f->buf) - f->len);
}

struct ncx_console *ncx_console_fd(int fd, int level, unsigned flags)
{
	struct file_console *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->fd = fd;
	f->con.name = "file";
	f->con.level = level;
	f->con.flags = flags;
	f->con.write = fc_write;
	f->con.flush = fc_flush;
	f->con.arg = f;
	return &f->con;
}

/*
 * "<prog>: <text>\n", the text escaped as the decorated line's is; a gap
 * first, as "<prog>: ** <n> records lost **". What a program run from a
 * shell prints about itself, and what cmd_err()-style messages look like.
 */
static void plain_write(struct ncx_console *con, const struct ncx_log_record *rec)
{
	struct file_console *f = con->arg;
	/* Worst case: every byte escaped, two prefixes, the gap's words. */
	size_t worst = 4 * rec->len + 2 * f->plen + 64;
	struct sbuf b;

	if (f->len > sizeof(f->buf) || sizeof(f->buf) - f->len < worst)
		fc_flush(con);
	b = (struct sbuf){ f->buf + f->len, sizeof(f->buf) - f->len, 0 };
	if (rec->lost_records) {
		sb_put(&b, f->prefix, f->plen);
		sb_str(&b, "** ");
		sb_u64(&b, rec->lost_records);
		sb_str(&b, " records lost **\n");
	}
	sb_put(&b, f->prefix, f->plen);
	sb_escaped(&b, rec->text, rec->len);
	sb_put(&b, "\n", 1);
	f->len += b.len < b.cap ? b.len : b.cap;
}

struct ncx_console *ncx_console_stderr(const char *prog, int level, unsigned flags)
{
	size_t n = prog ? strlen(prog) : 0;
	struct ncx_console *con;
	struct file_console *f;

	if (!n || n > NCX_CON_PROG_MAX) {
		errno = EINVAL;
		return NULL;
	}
	con = ncx_console_fd(2, level, flags);
	if (!con)
		return NULL;
	f = con->arg;
	memcpy(f->prefix, prog, n);
	memcpy(f->prefix + n, ": ", 2);
	f->plen = n + 2;
	con->name = "stderr";
	con->write = plain_write;
	return con;
}

struct ncx_console *ncx_log_start_stderr(const char *prog, int level)
{
	struct ncx_log_config cfg = { .ring_size = NCX_LOG_CLI_RING };
	struct ncx_console *con;
	int rc = ncx_log_init(&cfg);

	if (rc && rc != -EALREADY) {
		errno = -rc;
		return NULL;
	}
	con = ncx_console_stderr(prog, level, 0);
	if (!con)
		return NULL;
	rc = ncx_console_register(con);
	if (rc) {
		ncx_console_free(con);
		errno = -rc;
		return NULL;
	}
	return con;
}

struct ncx_console *ncx_console_file(const char *path, int level, unsigned flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	struct ncx_console *con;

	if (fd < 0)
		return NULL;
	con = ncx_console_fd(fd, level, flags);
	if (!con) {
		close(fd);
		return NULL;
	}
	((struct file_console *)con->arg)->own_fd = true;
	return con;
}

void ncx_console_free(struct ncx_console *con)
{
	struct file_console *f;

	if (!con)
		return;
	f = con->arg;
	fc_flush(con);
	if (f->own_fd)
		close(f->fd);
	free(f);
}
