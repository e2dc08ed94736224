/* SPDX-License-Identifier: MIT */
/* sandbox.c: seccomp and Landlock after binding (docs/security.md). */
#ifndef NCXD_SANDBOX_H
#define NCXD_SANDBOX_H

#include <stddef.h>

#include "worker.h"

/* sandbox.c (docs/security.md): enter the sandbox, unless cfg.no_sandbox
 * (0, or an exit status after saying why).
 * ncxd_sandbox_rules: the Landlock rules for cfg into r (bufs: room for two
 * directory names), returns how many. */
struct ncx_sb_rule;
int ncxd_sandbox_enter(struct ncxd *d);
int ncxd_sandbox_rules(const struct ncxd_config *cfg, struct ncx_sb_rule *r, size_t cap,
		       char (*bufs)[4096]);
/* The system calls ncxd's filter allows (the unit test enters it). */
extern const char *const ncxd_sandbox_calls[];
extern const size_t ncxd_sandbox_ncalls;

#endif /* NCXD_SANDBOX_H */
