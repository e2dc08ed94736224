/* SPDX-License-Identifier: MIT */
/*
 * log_crash: the opt-in crash hook. On a fatal signal the handler ends
 * what the crashing thread was writing, logs the signal, drains every
 * console, then lets the signal kill the process as it would have.
 */
#include "ncx/log.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "log_internal.h"

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
#define N_CRASH (sizeof(crash_signals) / sizeof(crash_signals[0]))
static struct sigaction old_actions[N_CRASH];
static bool hooked;
static void *altstack;

static const char *signame(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGILL: return "SIGILL";
	case SIGFPE: return "SIGFPE";
	case SIGABRT: return "SIGABRT";
	default: return "signal";
	}
}

static void crash_record(int sig, const siginfo_t *si)
{
	static const char hex[] = "0123456789abcdef";
	char text[160], addr[19] = "0x";
	struct sbuf b = { text, sizeof(text), 0 };
	uintptr_t a = (uintptr_t)si->si_addr;
	int n = 0;

	for (int sh = (int)sizeof(a) * 8 - 4; sh >= 0; sh -= 4)
		if ((a >> sh) || n || sh == 0)
			addr[2 + n++] = hex[(a >> sh) & 15];
	sb_str(&b, "caught ");
	sb_str(&b, signame(sig));
	sb_str(&b, " (signal ");
	sb_u64(&b, (uint64_t)sig);
	sb_str(&b, ", code ");
	sb_u64(&b, (uint64_t)(unsigned)si->si_code);
	sb_str(&b, ", address ");
	sb_put(&b, addr, (size_t)(2 + n));
	sb_str(&b, ") in thread ");
	sb_u64(&b, ncx__log_tid());
	sb_str(&b, "; flushing consoles");
	ncx__log_emit(NCX_LOG_EMERG, NCX_LOG_REC_CRASH, 0, text, b.len < b.cap ? b.len : b.cap);
}

/* Async-signal-safe from top to bottom: no locks, no allocation, no stdio. */
static void crash_handler(int sig, siginfo_t *si, void *uctx)
{
	static _Atomic int crashing;
	struct sigaction dfl;

	(void)uctx;
	if (atomic_exchange(&crashing, 1) == 0 && ncx_log_ring()) {
		/* The interrupted code may have been mid-record: end it. */
		ncx__log_crash_line();
		crash_record(sig, si);
		ncx__log_crash_drain();
	} else {
		/* Another thread is already crashing and flushing: let it. */
		struct timespec ts = { 5, 0 };

		nanosleep(&ts, NULL);
	}
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	/* Blocked while we run: delivered, with the default action, on return
	 * (a fault also simply happens again). */
	raise(sig);
}

int ncx_log_crash_hook(bool enable)
{
	int err = 0;

	ncx__log_lock();
	if (enable && !hooked) {
		struct sigaction sa;

		if (!altstack) {
			stack_t ss = { .ss_size = 64 * 1024 };

			ss.ss_sp = mmap(NULL, ss.ss_size, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (ss.ss_sp == MAP_FAILED) {
				err = -ENOMEM;
				goto out;
			}
			altstack = ss.ss_sp;
			sigaltstack(&ss, NULL);
		}
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = crash_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigfillset(&sa.sa_mask);
		for (size_t i = 0; i < N_CRASH; i++)
			if (sigaction(crash_signals[i], &sa, &old_actions[i]))
				err = -errno;
		hooked = true;
	} else if (!enable && hooked) {
		for (size_t i = 0; i < N_CRASH; i++)
			sigaction(crash_signals[i], &old_actions[i], NULL);
		hooked = false;
	}
out:
	ncx__log_unlock();
	return err;
}
