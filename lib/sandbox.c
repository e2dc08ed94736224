/* SPDX-License-Identifier: MIT */
/*
 * sandbox: no_new_privs, seccomp (libseccomp) and Landlock (raw system
 * calls through <linux/landlock.h>). See lib/sandbox.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "sandbox.h"

/* ---- sanitizer builds --------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(undefined_behavior_sanitizer)
#define SANITIZER 1
#endif
#endif

#ifdef SANITIZER
/*
 * LeakSanitizer's check at exit stops the world: a task made with clone()
 * (no CLONE_THREAD) ptrace-attaches to every thread and reads their
 * registers; it and the reports read /proc/self/maps. ASan's allocator
 * maps and unmaps on its own.
 */
const char *const ncx_sb_sanitizer_calls[] = {
	"ptrace", "wait4", "waitid", "prctl", "sched_yield", "sigaltstack", "getppid",
	"readlink", "readlinkat", "open", "openat", "getdents64", "mmap", "munmap", "mprotect",
	"madvise", "mremap", "write", "pipe", "pipe2", "kill", "tgkill", "getpid", "gettid",
	"sched_getaffinity", "clock_gettime", "nanosleep", "clock_nanosleep", "getrlimit", "getdents",
	"prlimit64", "setrlimit", "rt_sigaction", "rt_sigprocmask", "lseek", "fstat",
	"newfstatat", "stat", "close", "read", "futex", "process_vm_readv", "sysinfo",
};
const size_t ncx_sb_sanitizer_ncalls = sizeof(ncx_sb_sanitizer_calls) / sizeof(ncx_sb_sanitizer_calls[0]);
const bool ncx_sb_sanitizer_build = true;
#else
const char *const ncx_sb_sanitizer_calls[] = { NULL };
const size_t ncx_sb_sanitizer_ncalls = 0;
const bool ncx_sb_sanitizer_build = false;
#endif


/* ---- Landlock ----------------------------------------------------------- */

/* Rights newer than the oldest headers we build with (Debian 12's know ABI 2). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

#define FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */

/* The fs rights each ABI version knows. The rights of later versions
 * (network ports, scopes) are not about files: not handled here. */
static uint64_t fs_rights(int abi)
{
	uint64_t r = FS_ABI1;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

static uint64_t rule_rights(enum ncx_sb_access a)
{
	const uint64_t read = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	const uint64_t files = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
			       LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE |
			       LANDLOCK_ACCESS_FS_TRUNCATE;

	switch (a) {
	case NCX_SB_READ_FILE:
		return LANDLOCK_ACCESS_FS_READ_FILE;
	case NCX_SB_READ_TREE:
		return read;
	case NCX_SB_WRITE_TREE:
		return read | files | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		       LANDLOCK_ACCESS_FS_REFER;
	case NCX_SB_WRITE_FILES:
		return files;
	case NCX_SB_REMOVE:
		return LANDLOCK_ACCESS_FS_REMOVE_FILE;
	}
	return 0;
}

/* Rights that make sense on a file (not a dir) beneath no other path. */
#define FILE_RIGHTS                                                                   \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                   \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |                   \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)

int ncx_sb_landlock(const struct ncx_sb_rule *rules, size_t n, char *msg, size_t msglen)
{
	struct landlock_ruleset_attr attr = { 0 };
	long abi;
	int fd, rc = 0;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		rc = errno;
		if (rc == ENOSYS || rc == EOPNOTSUPP)
			snprintf(msg, msglen, "the kernel has no Landlock (%s)",
				 rc == ENOSYS ? "not built in" : "not enabled at boot: lsm=");
		else	/* EPERM: a seccomp filter around us (a service manager's) */
			snprintf(msg, msglen, "Landlock is not available to us (%s)", strerror(rc));
		return 0;
	}
	attr.handled_access_fs = fs_rights((int)abi);
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msglen, "landlock_create_ruleset: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ncx_sb_rule *r = &rules[i];
		struct landlock_path_beneath_attr pb = { 0 };
		struct stat st;

		pb.parent_fd = open(r->path, O_PATH | O_CLOEXEC);
		if (pb.parent_fd < 0) {
			if (errno == ENOENT)
				continue;
			rc = -errno;
			snprintf(msg, msglen, "%s: %s", r->path, strerror(-rc));
			goto out;
		}
		pb.allowed_access = rule_rights(r->access) & attr.handled_access_fs;
		if (!fstat(pb.parent_fd, &st) && !S_ISDIR(st.st_mode))
			pb.allowed_access &= FILE_RIGHTS;
		if (pb.allowed_access &&
		    syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0)) {
			rc = -errno;
			snprintf(msg, msglen, "landlock_add_rule %s: %s", r->path, strerror(-rc));
			close(pb.parent_fd);
			goto out;
		}
		close(pb.parent_fd);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		rc = -errno;
		snprintf(msg, msglen, "PR_SET_NO_NEW_PRIVS: %s", strerror(-rc));
		goto out;
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0)) {
		rc = -errno;
		snprintf(msg, msglen, "landlock_restrict_self: %s", strerror(-rc));
		goto out;
	}
	rc = (int)abi;
out:
	close(fd);
	return rc;
}

/* ---- seccomp ------------------------------------------------------------ */

int ncx_sb_seccomp(const char *const *names, size_t n, char *msg, size_t msglen)
{
	scmp_filter_ctx ctx;
	int rc = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		rc = -errno;
		snprintf(msg, msglen, "PR_SET_NO_NEW_PRIVS: %s", strerror(-rc));
		return rc;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		snprintf(msg, msglen, "seccomp_init failed");
		return -ENOMEM;
	}
	/* Every thread, the ones already running too (the log core's). */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0) {
		snprintf(msg, msglen, "seccomp TSYNC: %s", strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture (open on arm64, ...) */
		if (!strcmp(names[i], "ioctl"))
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					      (struct scmp_arg_cmp){ .arg = 1, .op = SCMP_CMP_EQ,
								     .datum_a = TCGETS });
		else if (!strcmp(names[i], "clone") && !ncx_sb_sanitizer_build)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					      (struct scmp_arg_cmp){ .arg = 0,
								     .op = SCMP_CMP_MASKED_EQ,
								     .datum_a = CLONE_THREAD,
								     .datum_b = CLONE_THREAD });
		else if (!strcmp(names[i], "clone3"))
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		else
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0) {
			snprintf(msg, msglen, "seccomp rule for %s: %s", names[i], strerror(-rc));
			goto out;
		}
	}
	if ((rc = seccomp_load(ctx)) < 0)
		snprintf(msg, msglen, "seccomp_load: %s", strerror(-rc));
out:
	seccomp_release(ctx);
	return rc < 0 ? rc : 0;
}

