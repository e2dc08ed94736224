/* SPDX-License-Identifier: MIT */
/*
 * ncx forward's sandbox (lib/sandbox.h; docs/security.md): entered once
 * /dev/kmsg is open and the state file read, before the network console
 * binds its socket and starts its thread (so that thread, the one that
 * reads what the network sends, is born inside the Landlock domain). From
 * then on the forwarder makes only the system calls below and touches
 * files only in its state file's directory. On unless --no-sandbox.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <ncx/log.h>

#include "../../lib/sandbox.h"
#include "ncx.h"

/*
 * The forwarder's main thread (ppoll with its stop signals, read of
 * /dev/kmsg, the state file: openat, write, close, rename, unlink, mkdir),
 * the network console starting after the sandbox (socket, setsockopt,
 * bind, getsockname, eventfd2, clone) and its thread (poll, recvfrom,
 * sendto, read of its eventfd), the log core (clock_gettime, getcpu,
 * write to stderr), glibc (futex, rseq, set_robust_list, malloc's mmap,
 * munmap, mprotect, madvise, brk, getrandom; sysinfo in qsort, which tx
 * calls on a response's requests) and the exit paths.
 */
static const char *const forward_calls[] = {
	/* files */
	"read", "write", "readv", "writev", "open", "openat", "close", "fstat", "newfstatat",
	"stat", "statx", "lseek", "fcntl", "mkdir", "mkdirat", "rename", "renameat", "renameat2",
	"unlink", "unlinkat", "ioctl",
	/* the network console's socket and thread */
	"socket", "bind", "setsockopt", "getsockopt", "getsockname", "recvfrom", "recvmsg",
	"sendto", "sendmsg", "sendmmsg", "eventfd2",
	/* waiting and time */
	"poll", "ppoll", "nanosleep", "clock_nanosleep", "clock_gettime", "gettimeofday",
	/* memory and threads */
	"mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "futex", "clone", "clone3",
	"set_robust_list", "rseq", "sched_yield", "getcpu", "getrandom", "gettid", "getpid",
	"sysinfo",
	/* signals and exit */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "tgkill", "exit",
	"exit_group", "restart_syscall",
};

int forward_sandbox_enter(const char *state_path)
{
	static char dir[PATH_MAX];
	char tmp[PATH_MAX];
	struct ncx_sb_rule rules[2];
	size_t n = 0;
	char msg[PATH_MAX + 128];
	const char *calls[sizeof(forward_calls) / sizeof(forward_calls[0]) + 64];
	size_t ncalls = 0;
	int rc, err;

	rules[n++] = (struct ncx_sb_rule){ "/dev/kmsg", NCX_SB_READ_FILE };
	if (*state_path) {
		snprintf(tmp, sizeof(tmp), "%s", state_path);
		snprintf(dir, sizeof(dir), "%s", dirname(tmp));
		/* The rule needs the directory; write_state() would make it. */
		(void)mkdir(dir, 0755);
		rules[n++] = (struct ncx_sb_rule){ dir, NCX_SB_WRITE_FILES };
	}
	if (ncx_sb_sanitizer_build) {
		snprintf(msg, sizeof(msg), "a sanitizer build (LeakSanitizer must trace threads "
					   "outside a Landlock domain)");
		rc = 0;
	} else {
		rc = ncx_sb_landlock(rules, n, msg, sizeof(msg));
	}
	if (rc < 0) {
		cmd_err("forward", "sandbox: %s (--no-sandbox runs without it)", msg);
		return EX_OSERR;
	}
	if (rc == 0)
		ncx_warn("sandbox: %s: file access is not confined (seccomp still is on)\n", msg);
	/* The log core's thread was started before: start it again inside. */
	if (rc > 0 && (err = ncx_log_respawn()) < 0) {
		cmd_err("forward", "sandbox: cannot restart the log thread: %s", strerror(-err));
		return EX_OSERR;
	}
	for (size_t i = 0; i < sizeof(forward_calls) / sizeof(forward_calls[0]); i++)
		calls[ncalls++] = forward_calls[i];
	for (size_t i = 0; i < ncx_sb_sanitizer_ncalls && ncalls < sizeof(calls) / sizeof(calls[0]);
	     i++)
		calls[ncalls++] = ncx_sb_sanitizer_calls[i];
	if (ncx_sb_seccomp(calls, ncalls, msg, sizeof(msg)) < 0) {
		cmd_err("forward", "sandbox: %s (--no-sandbox runs without it)", msg);
		return EX_OSERR;
	}
	ncx_info("sandbox: seccomp on (%zu system calls), %s%s\n", ncalls,
		 rc > 0 ? "files confined by Landlock to /dev/kmsg and " : "no Landlock",
		 rc > 0 ? (*state_path ? dir : "nothing else") : "");
	return 0;
}
