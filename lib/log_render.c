/* SPDX-License-Identifier: MIT */
/*
 * log_render: a record as a line of text, or as the kernel's extended
 * format. Both are async-signal-safe: consoles call them from the crash
 * handler too.
 */
#include "ncx/log.h"

#include <string.h>

#include "ncx/wire.h"
#include "log_internal.h"

size_t ncx_log_format_text(const struct ncx_log_record *rec, char *out, size_t cap)
{
	struct sbuf b = { out, cap, 0 };
	char us[8];

	sb_put(&b, "[", 1);
	sb_u64(&b, rec->ts_usec / 1000000);
	ncx_num_dec_pad(us, rec->ts_usec % 1000000, 6, '0');
	us[6] = ']';
	us[7] = ' ';
	sb_put(&b, ".", 1);
	sb_put(&b, us, 8);
	sb_put(&b, "<", 1);
	sb_u64(&b, rec->level);
	sb_put(&b, "> [T", 4);
	sb_u64(&b, rec->tid);
	sb_put(&b, " C", 2);
	sb_u64(&b, rec->cpu);
	sb_put(&b, "] ", 2);
	sb_escaped(&b, rec->text, rec->len);
	sb_put(&b, "\n", 1);
	return b.len;
}

size_t ncx_log_format_ext(const struct ncx_log_record *rec, char *out, size_t cap)
{
	struct ncx_ext e;
	char dict[32];
	size_t n = 0;

	memset(&e, 0, sizeof(e));
	e.facility = rec->facility;
	e.level = rec->level;
	e.flag = '-';
	e.seq = rec->seq;
	e.ts_usec = rec->ts_usec;
	e.caller_kind = 'T';
	e.caller_id = rec->tid;
	memcpy(dict, " cpu=", 5);
	n = 5 + ncx_num_dec(dict + 5, rec->cpu);
	dict[n++] = '\n';
	return ncx_ext_format(&e, rec->text, rec->len, dict, n, out, cap);
}
