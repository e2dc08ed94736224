/* SPDX-License-Identifier: MIT */
/* A scratch directory per unit test, made in setup and removed in teardown. */
#ifndef NCX_TEST_SCRATCH_H
#define NCX_TEST_SCRATCH_H

/* mkdtemp("/tmp/PREFIX.XXXXXX") into dir (room for 64 bytes); 0 or -1. */
int scratch_make(char *dir, const char *prefix);
/* rm -rf dir; 0 or -1. */
int scratch_remove(const char *dir);

#endif
