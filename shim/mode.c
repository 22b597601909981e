#include "mode.h"

#include <stdatomic.h>

#include "fastpath.h"

/* One flag for the whole process: once the kernel (or a seccomp policy, or a
 * libc without accept4) has said ENOSYS, every thread emulates, and nobody
 * pays a failing system call again. A plain atomic, no lock: a race only
 * means two threads both see ENOSYS once. */
static atomic_bool switched;

bool a4s_mode_switched(void)
{
	return atomic_load_explicit(&switched, memory_order_relaxed);
}

void a4s_mode_switch_to_emulation(void)
{
	/* The fast path decides again (fastpath.h): emulation from now on. */
	if (!atomic_exchange(&switched, true))
		a4s_fast_mode_switched();
}
