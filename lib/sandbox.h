/* SPDX-License-Identifier: MIT */
/*
 * sandbox: least privilege for ncx's programs once they have opened what
 * they need (internal to ncx, not installed): no_new_privs, a seccomp
 * filter that allows exactly a list of system calls and kills the whole
 * process on any other (SECCOMP_RET_KILL_PROCESS: a call missing from the
 * list is loud, never a silent error), and Landlock rules that confine
 * file access to a few paths. Each program has its lists
 * (cmd/ncxd/sandbox.c, cmd/ncx/sandbox.c); docs/security.md says why.
 *
 * Landlock is per thread: it holds for the calling thread and the threads
 * it starts afterwards. seccomp is synchronized to every thread (TSYNC).
 */
#ifndef NCX_SANDBOX_H
#define NCX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a Landlock rule allows beneath a path. */
enum ncx_sb_access {
	NCX_SB_READ_FILE,   /* a file, or files beneath a dir: read */
	NCX_SB_READ_TREE,   /* read files and list dirs beneath */
	NCX_SB_WRITE_TREE,  /* create, write, truncate, rename, remove files and
			     * dirs beneath; read them and list dirs */
	NCX_SB_WRITE_FILES, /* in this dir only: create, write, truncate, remove,
			     * rename regular files (and read them) */
	NCX_SB_REMOVE,      /* remove files beneath (a socket at exit) */
};

struct ncx_sb_rule {
	const char *path;
	enum ncx_sb_access access;
};

/*
 * Confine file access to the rules (a path that does not exist is
 * skipped). Returns the kernel's Landlock ABI version (>= 1) if the rules
 * hold now, 0 if the kernel has no Landlock (msg says why), or a negative
 * errno (msg says what failed).
 */
int ncx_sb_landlock(const struct ncx_sb_rule *rules, size_t n, char *msg, size_t msglen);

/*
 * The seccomp filter: the system calls named (names this architecture
 * lacks are skipped), everything else kills the process. Special names:
 * "ioctl" allows only TCGETS (isatty(3)); "clone" allows only new threads
 * (CLONE_THREAD), and clone3 then fails with ENOSYS so that the C library
 * falls back to clone. Sets no_new_privs first (and on every thread).
 * Returns 0 or a negative errno (msg says what failed).
 */
int ncx_sb_seccomp(const char *const *names, size_t n, char *msg, size_t msglen);

/* The system calls the sanitizer runtimes (ASan, LSan at exit, UBSan) make
 * beyond a program's own, in a sanitizer build; empty otherwise. */
extern const char *const ncx_sb_sanitizer_calls[];
extern const size_t ncx_sb_sanitizer_ncalls;
/*
 * Whether this is a sanitizer build. LeakSanitizer's check at exit needs
 * clone without CLONE_THREAD and ptrace of every thread; Landlock forbids
 * a thread inside a domain to trace one outside it, and the log core's
 * thread starts before the sandbox. So a sanitizer build's programs skip
 * Landlock (and say so); the release build has both.
 */
extern const bool ncx_sb_sanitizer_build;

#endif /* NCX_SANDBOX_H */
