/*
 * Which process and thread this is: the ids the trace writes on every
 * record, and the one place that notices the library is in a new process.
 *
 * A child made by fork(), _Fork() or clone() without CLONE_VM starts with a
 * copy of its parent's state: counters, the trace descriptor, a load under
 * way, cached ids. No handler runs for _Fork or a raw clone, so the library
 * notices by itself, without a system call on the accept path: the cached
 * pid lives alone in a page marked MADV_WIPEONFORK, which the kernel gives
 * every such child zeroed. The first call in the child finds it empty,
 * asks getpid, sees a pid that is not the one its state belongs to, and
 * runs the per-process reset (fork.h, given to a4s_self_setup) once,
 * before anything uses that state. A child that never calls the library pays nothing.
 *
 * Where the page cannot be marked (a kernel before 4.14, a sandbox that
 * refuses madvise, a page size other than 4 KB) it is never filled in, and
 * every call asks getpid instead: one cheap system call per call, never a
 * wrong pid. A vfork() child shares its parent's memory and may only exec
 * or _exit; it sees the parent's ids and changes nothing.
 *
 * Every path that reads per-process state (the configuration, the
 * counters, the trace) calls a4s_self_pid() or a4s_self_check() first.
 * Both ids cost a load or two in the common case, a signal handler
 * included.
 */
#ifndef A4S_SELF_H
#define A4S_SELF_H

#include <stdatomic.h>
#include <stdbool.h>

#include "sys.h"

#define A4S_SELF_PAGE 4096

/* Alone in its page: the whole page is wiped in a child. */
struct a4s_self_page {
	atomic_int pid;   /* > 0: this process's pid, its state its own */
	atomic_uint gen;  /* the generation of ids valid in this process */
	/* What the common call needs in this process (fastpath.h); 0, the
	 * general path, until published after this process's first call. */
	atomic_int fast;
	char pad[A4S_SELF_PAGE - 2 * sizeof(atomic_int) - sizeof(atomic_uint)];
} __attribute__((aligned(A4S_SELF_PAGE)));

/* A thread's id, valid while gen is the process's generation: a child's
 * thread inherits its parent thread's copy, of an older generation. */
struct a4s_self_tid {
	int tid;
	unsigned gen;
};

extern A4S_HIDDEN struct a4s_self_page a4s_self_page;
/* initial-exec: the library is preloaded, so its TLS is static and reading
 * it never calls into the dynamic linker (which could allocate). */
extern A4S_HIDDEN __thread struct a4s_self_tid a4s_self_tid_cache
	__attribute__((tls_model("initial-exec")));

A4S_HIDDEN int a4s_self_pid_slow(void);
A4S_HIDDEN int a4s_self_tid_slow(void);

static inline int a4s_self_pid(void)
{
	int pid = atomic_load_explicit(&a4s_self_page.pid, memory_order_acquire);
	return __builtin_expect(pid > 0, 1) ? pid : a4s_self_pid_slow();
}

static inline int a4s_self_tid(void)
{
	if (__builtin_expect(atomic_load_explicit(&a4s_self_page.pid, memory_order_acquire) > 0 &&
				     a4s_self_tid_cache.gen ==
					     atomic_load_explicit(&a4s_self_page.gen,
								  memory_order_relaxed),
			     1))
		return a4s_self_tid_cache.tid;
	return a4s_self_tid_slow();
}

A4S_HIDDEN bool a4s_self_ready_slow(void);

/*
 * Notices a new process (and resets for it) before its state is used.
 * False while another thread of a new process is still resetting: the
 * state (counters, trace) is not yet this process's to use.
 */
static inline bool a4s_self_check(void)
{
	if (__builtin_expect(atomic_load_explicit(&a4s_self_page.pid, memory_order_acquire) > 0, 1))
		return true;
	return a4s_self_ready_slow();
}

/*
 * Before making a child (children.h): a new process resets first, as at
 * its first call, so that what the reset starts afresh (the fork-window
 * gate among it) is never started afresh under the pass being taken. A
 * process that never used the library's state (nor did the one it was
 * copied from) has nothing to reset and pays nothing: no getpid, no
 * madvise.
 */
A4S_HIDDEN void a4s_self_notice(void);

/* The pid whose state the library holds (also while it is being reset for
 * it), 0 before the library has loaded. Only read: unlike a4s_self_pid it
 * never resets, so a vfork child, which shares its parent's memory, may ask
 * it and compare it with its own getpid. */
A4S_HIDDEN int a4s_self_owner(void);

/* At load: notes whose state this is, and takes what a new process must
 * run, once, before it uses the state. The first call marks the page to be
 * wiped in children, where the kernel can. */
A4S_HIDDEN void a4s_self_setup(void (*reset)(void));

#endif
