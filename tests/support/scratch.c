/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "scratch.h"

int scratch_make(char *dir, const char *prefix)
{
	if (snprintf(dir, 64, "/tmp/%s.XXXXXX", prefix) >= 64)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

int scratch_remove(const char *dir)
{
	char cmd[128];

	if (snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >= (int)sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}
