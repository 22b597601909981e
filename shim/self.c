#include "self.h"

#include <stdatomic.h>

static atomic_int cached_pid;
/* initial-exec: the library is preloaded, so its TLS is static and reading
 * it never calls into the dynamic linker (which could allocate). */
static __thread int cached_tid __attribute__((tls_model("initial-exec")));

int a4s_self_pid(void)
{
	int pid = atomic_load_explicit(&cached_pid, memory_order_relaxed);
	if (!pid) {
		pid = a4s_getpid();
		atomic_store_explicit(&cached_pid, pid, memory_order_relaxed);
	}
	return pid;
}

int a4s_self_tid(void)
{
	if (!cached_tid)
		cached_tid = a4s_gettid();
	return cached_tid;
}

/* Runs in the child of fork, where the only thread is the one that forked. */
void a4s_self_forget(void)
{
	atomic_store_explicit(&cached_pid, 0, memory_order_relaxed);
	cached_tid = 0;
}
