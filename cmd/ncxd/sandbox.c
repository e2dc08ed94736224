/* SPDX-License-Identifier: MIT */
/*
 * ncxd's sandbox (lib/sandbox.h; docs/security.md): entered once the
 * sockets are bound, the control socket listens, privileges are dropped
 * and the state table is open, before the worker and control threads
 * start (so they are born inside it). From then on ncxd can make only the
 * system calls below, and touch files only beneath its log directory (the
 * files, the state table), the metrics file's directory, and the control
 * socket's directory (to remove the socket at exit); it may read the time
 * zone files. On by default; --no-sandbox turns it off.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncx/log.h>

#include "../../lib/sandbox.h"
#include "ncxd.h"

/*
 * Every system call ncxd makes after the sandbox is entered: the workers
 * (recvmmsg, sendto, poll, getsockopt SO_MEMINFO, nanosleep), the sinks
 * (open/openat, mkdir, write/writev, fstat, close, rename, unlink on
 * reopen), the state table (mmap MAP_SHARED, msync, ftruncate, fallocate,
 * rename), the control thread (poll, accept4, read, write, sendmsg), the
 * main thread (rt_sigtimedwait, metrics: openat, write, rename, unlink),
 * the log core (clock_gettime through the vDSO or not, getcpu, write to
 * stderr), glibc inside threads and malloc (clone, futex, set_robust_list,
 * rseq, mmap, munmap, mprotect, madvise, brk, getrandom for malloc's
 * tcache), qsort (sysinfo: glibc's qsort asks for the memory size before it
 * allocates a big array's scratch: the status table, the metrics' busiest
 * hosts), and the exit paths (exit, exit_group, tgkill for abort).
 */
const char *const ncxd_sandbox_calls[] = {
	/* files */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "open", "openat", "close",
	"fstat", "newfstatat", "stat", "lstat", "statx", "lseek", "fcntl", "dup", "dup2", "dup3",
	"mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat", "fsync",
	"fdatasync", "ftruncate", "fallocate", "flock", "getdents64", "access", "faccessat",
	"faccessat2", "msync", "fchmod", "umask", "ioctl", "readlink",
	/* sockets, already bound */
	"recvmmsg", "recvmsg", "recvfrom", "sendmmsg", "sendmsg", "sendto", "getsockopt",
	"setsockopt", "getsockname", "getpeername", "accept", "accept4", "shutdown",
	/* waiting and time */
	"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait", "nanosleep",
	"clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
	"rt_sigtimedwait",
	/* memory and threads */
	"mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "futex", "clone", "clone3",
	"set_robust_list", "get_robust_list", "rseq", "sched_yield", "sched_getaffinity",
	"getcpu", "getrandom", "gettid", "getpid", "getuid", "geteuid", "getgid", "getegid",
	"prlimit64", "getrlimit", "sysinfo",
	/* signals and exit */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "tgkill", "tkill",
	"exit", "exit_group", "restart_syscall",
};
const size_t ncxd_sandbox_ncalls = sizeof(ncxd_sandbox_calls) / sizeof(ncxd_sandbox_calls[0]);

/* The directory of path (".": none given), in buf. */
static const char *dir_of(const char *path, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", path);
	return dirname(buf);
}

int ncxd_sandbox_rules(const struct ncxd_config *cfg, struct ncx_sb_rule *r, size_t cap,
		       char (*bufs)[PATH_MAX])
{
	size_t n = 0;

	if (n < cap)
		r[n++] = (struct ncx_sb_rule){ cfg->dir, NCX_SB_WRITE_TREE };
	if (cfg->metrics && n < cap)
		r[n++] = (struct ncx_sb_rule){ dir_of(cfg->metrics, bufs[0], PATH_MAX),
					       NCX_SB_WRITE_FILES };
	if (cfg->control && n < cap)
		r[n++] = (struct ncx_sb_rule){ dir_of(cfg->control, bufs[1], PATH_MAX),
					       NCX_SB_REMOVE };
	/* gmtime_r needs none, but glibc may read the zone on its own. */
	if (n < cap)
		r[n++] = (struct ncx_sb_rule){ "/etc/localtime", NCX_SB_READ_FILE };
	if (n < cap)
		r[n++] = (struct ncx_sb_rule){ "/usr/share/zoneinfo", NCX_SB_READ_TREE };
	return (int)n;
}

int ncxd_sandbox_enter(struct ncxd *d)
{
	static char bufs[2][PATH_MAX];
	struct ncx_sb_rule rules[8];
	const char *calls[sizeof(ncxd_sandbox_calls) / sizeof(ncxd_sandbox_calls[0]) + 64];
	size_t ncalls = 0;
	char msg[PATH_MAX + 128];
	int n, rc, err;

	if (d->cfg.no_sandbox) {
		ncx_notice("sandbox: off (--no-sandbox)\n");
		return 0;
	}
	n = ncxd_sandbox_rules(&d->cfg, rules, sizeof(rules) / sizeof(rules[0]), bufs);
	if (ncx_sb_sanitizer_build) {
		snprintf(msg, sizeof(msg), "a sanitizer build (LeakSanitizer must trace threads "
					   "outside a Landlock domain)");
		rc = 0;
	} else {
		rc = ncx_sb_landlock(rules, (size_t)n, msg, sizeof(msg));
	}
	if (rc < 0) {
		ncx_err("sandbox: %s (--no-sandbox runs without it)\n", msg);
		return EX_OSERR;
	}
	if (rc == 0)
		ncx_warn("sandbox: %s: file access is not confined (seccomp still is on)\n", msg);
	/* The log core's thread was started before: start it again inside. */
	if (rc > 0 && (err = ncx_log_respawn()) < 0) {
		ncx_err("sandbox: cannot restart the log thread: %s\n", strerror(-err));
		return EX_OSERR;
	}
	for (size_t i = 0; i < ncxd_sandbox_ncalls; i++)
		calls[ncalls++] = ncxd_sandbox_calls[i];
	for (size_t i = 0; i < ncx_sb_sanitizer_ncalls && ncalls < sizeof(calls) / sizeof(calls[0]);
	     i++)
		calls[ncalls++] = ncx_sb_sanitizer_calls[i];
	if (ncx_sb_seccomp(calls, ncalls, msg, sizeof(msg)) < 0) {
		ncx_err("sandbox: %s (--no-sandbox runs without it)\n", msg);
		return EX_OSERR;
	}
	if (rc > 0)
		ncx_info("sandbox: seccomp on (%zu system calls), files confined by Landlock "
			 "(ABI %d) to %s%s%s%s%s\n",
			 ncalls, rc, d->cfg.dir, d->cfg.metrics ? ", " : "",
			 d->cfg.metrics ? bufs[0] : "", d->cfg.control ? ", " : "",
			 d->cfg.control ? bufs[1] : "");
	else
		ncx_info("sandbox: seccomp on (%zu system calls), no Landlock\n", ncalls);
	return 0;
}
