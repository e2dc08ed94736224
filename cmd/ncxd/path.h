/* SPDX-License-Identifier: MIT */
/* path.c: the path template, and the one mkdir -p (pure but that). */
#ifndef NCXD_PATH_H
#define NCXD_PATH_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <ncx/addr.h>

/* Check a template once at startup: relative, no "..", names %h. Returns
 * NULL or a one-line reason. */
const char *ncxd_path_check(const char *tmpl);

/* Expand tmpl for sender a at UTC time t: %h the canonical address text,
 * %p the port, %% a '%', anything else strftime's. Nothing from a payload
 * can reach here. Returns the length, or -ENAMETOOLONG / -EINVAL. */
int ncxd_path_expand(const char *tmpl, const struct ncx_addr *a, time_t t, char *out, size_t cap);

/* mkdir -p for the directories above path's last component, each with
 * mode (the one mkdir -p: for DIR itself, and for a host's file in it). */
void ncxd_mkdir_parents(const char *path, mode_t mode);

#endif /* NCXD_PATH_H */
