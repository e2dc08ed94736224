/* SPDX-License-Identifier: MIT */
/* control.c: the control socket (`ncx status`), a thread of its own. */
#ifndef NCXD_CONTROL_H
#define NCXD_CONTROL_H

#include "worker.h"

/* control.c: the control socket. open: create and listen (before privileges
 * are dropped: uid/gid own it, -1 to leave as is); returns 0 or an exit
 * status. start: its thread. stop: join it, close and remove the socket. */
int ncxd_control_open(struct ncxd *d, int uid, int gid);
int ncxd_control_start(struct ncxd *d);
void ncxd_control_stop(struct ncxd *d);
/* The status reply for one request line (without its newline) into a
 * malloc'd buffer: the machine-readable form docs/ncxd.md describes.
 * Returns its length, or -ENOMEM; *out NULL on error. */
long ncxd_status_reply(struct ncxd *d, const char *request, char **out);

#endif /* NCXD_CONTROL_H */
