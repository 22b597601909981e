/*
 * Sleeping on a word without a lock, for the fork-window gate and the
 * listener claims. Every sleep is bounded and may end early (a wake, a
 * signal, a spurious return): callers re-check what they wait for. Raw
 * system calls, so no sleep here is a cancellation point.
 */
#ifndef A4S_FUTEX_H
#define A4S_FUTEX_H

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "kernel.h"
#include "sys.h"

/* Sleeps while *word holds expected, at most ns nanoseconds. */
static inline void a4s_futex_wait(atomic_uint *word, unsigned expected, uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / A4S_SECOND_NS), (long)(ns % A4S_SECOND_NS) };
	long r = a4s_syscall(SYS_futex, (uintptr_t)word, A4S_FUTEX_WAIT_PRIVATE, expected,
				    &ts, NULL, 0);
	/* A sandbox that refuses futex would turn every wait into a spin:
	 * sleep a little instead (the C library itself cannot work there). */
	if (r == -ENOSYS || r == -EPERM) {
		struct timespec nap = { 0, 100 * 1000 };
		(void)a4s_syscall(SYS_nanosleep, &nap, NULL);
	}
}

static inline void a4s_futex_wake_all(atomic_uint *word)
{
	(void)a4s_syscall(SYS_futex, (uintptr_t)word, A4S_FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

#endif
