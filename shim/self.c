#include "self.h"

#include <sys/auxv.h>
#include <sys/mman.h>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18 /* Linux 4.14 */
#endif

struct a4s_self_page a4s_self_page;
__thread struct a4s_self_tid a4s_self_tid_cache __attribute__((tls_model("initial-exec")));

/* In ordinary memory, copied into a child: the pid of the process whose
 * state the library holds (-pid while it is being reset for that process,
 * 0 before the first call), and a count of the processes it has been, so
 * that an id cached in an earlier one is never taken for this one's. */
static atomic_int state_of;
static atomic_uint generation = 1;
static atomic_bool armed, wiped_in_children;
/* What a new process must redo (fork.c's, given at load: this file knows
 * which process it is, not what the rest of the library keeps). */
static void (*_Atomic reset_for_new_process)(void);

void a4s_self_setup(void (*reset)(void))
{
	atomic_store(&reset_for_new_process, reset);
	/* Whose state this is, so that a child forked while we load knows
	 * it is another process. */
	int pid = a4s_getpid(), none = 0;
	if (pid > 0)
		atomic_compare_exchange_strong(&state_of, &none, pid);
}

/*
 * The page is marked by the first call that needs the ids, not at load: a
 * process that never calls the library (a shell, every process of a system
 * with the library in /etc/ld.so.preload) makes no madvise, a call a tight
 * seccomp allowlist may not have. Before the first call there is nothing
 * of the process's own to reset.
 */
static void arm(void)
{
	bool no = false;
	if (!atomic_compare_exchange_strong(&armed, &no, true))
		return;
	if (getauxval(AT_PAGESZ) == A4S_SELF_PAGE &&
	    syscall(SYS_madvise, &a4s_self_page, sizeof(a4s_self_page), MADV_WIPEONFORK) == 0)
		atomic_store(&wiped_in_children, true);
	/* else the page is never filled in, and every call asks getpid */
}

/* The C library's syscall() sets errno when a call fails (a sandbox
 * refusing getpid or madvise): the ids are asked for on paths whose caller
 * must find errno as it was. */
static int self_pid_slow(void);

int a4s_self_pid_slow(void)
{
	int saved_errno = errno;
	int pid = self_pid_slow();
	errno = saved_errno;
	return pid;
}

static int self_pid_slow(void)
{
	int pid = a4s_getpid();
	int held = atomic_load(&state_of);
	if (pid <= 0) /* getpid refused by a sandbox: keep what we have */
		return held > 0 ? held : 0;
	if (held != pid && held != -pid) {
		if (held == 0) {
			/* The first call of all: nothing to reset. */
			atomic_compare_exchange_strong(&state_of, &held, pid);
		} else if (atomic_compare_exchange_strong(&state_of, &held, -pid)) {
			/* A new process, and this thread resets for it, once. A
			 * thread (or a signal handler) that comes meanwhile sees
			 * -pid and goes on without waiting. */
			void (*reset)(void) = atomic_load(&reset_for_new_process);
			if (reset)
				reset();
			atomic_fetch_add(&generation, 1);
			atomic_store(&state_of, pid);
		}
		held = atomic_load(&state_of);
	}
	arm();
	if (held == pid && atomic_load_explicit(&wiped_in_children, memory_order_relaxed)) {
		atomic_store_explicit(&a4s_self_page.gen, atomic_load(&generation),
				      memory_order_relaxed);
		atomic_store_explicit(&a4s_self_page.pid, pid, memory_order_release);
	}
	return pid;
}

int a4s_self_tid_slow(void)
{
	(void)a4s_self_pid(); /* a new process moves to a new generation first */
	unsigned gen = atomic_load(&generation);
	if (a4s_self_tid_cache.gen != gen) {
		int saved_errno = errno;
		a4s_self_tid_cache.tid = a4s_gettid();
		errno = saved_errno;
		a4s_self_tid_cache.gen = gen;
	}
	return a4s_self_tid_cache.tid;
}
