/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The prefix of a line from kmsg_dump_get_line(), as the console prints it:
 * "<PRI>[%5lu.%06lu] ". Shared by ncxcon.ko (record.c) and ncxbcon.ko
 * (bcon_tile.c), which each put the parts where they need them.
 */
#ifndef NCX_KMSG_LINE_H
#define NCX_KMSG_LINE_H

#include <linux/ctype.h>
#include <linux/types.h>

/* "<PRI>" at p: its length, 0 if p does not start with one; *pri its value. */
static inline size_t kmsg_line_pri(const char *p, size_t len, unsigned int *pri)
{
	unsigned int v = 0;
	size_t i = 1;

	if (!len || p[0] != '<')
		return 0;
	for (; i < len && i < 8 && isdigit(p[i]); i++)
		v = v * 10 + (p[i] - '0');
	if (i == 1 || i >= len || p[i] != '>')
		return 0;
	*pri = v;
	return i + 1;
}

/*
 * "[%5lu.%06lu]" at p: its length, 0 if p does not start with one (and then
 * *sec and *usec are left as they were).
 */
static inline size_t kmsg_line_time(const char *p, size_t len, u64 *sec, u32 *usec)
{
	u64 s = 0;
	u32 us = 0;
	size_t i = 1, d;

	if (!len || p[0] != '[')
		return 0;
	while (i < len && p[i] == ' ')
		i++;
	for (d = 0; i < len && isdigit(p[i]) && d < 20; i++, d++)
		s = s * 10 + (p[i] - '0');
	if (!d || i >= len || p[i] != '.')
		return 0;
	for (i++, d = 0; i < len && isdigit(p[i]) && d < 6; i++, d++)
		us = us * 10 + (p[i] - '0');
	if (d != 6 || i >= len || p[i] != ']')
		return 0;
	*sec = s;
	*usec = us;
	return i + 1;
}

#endif
