#include "self.h"

#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "clock.h"

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
/* The thread running the reset, so that a signal handler interrupting it
 * does not wait for itself. */
static atomic_int resetter;
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

/*
 * Another thread of the new process is resetting: the counters and the
 * trace are not this process's yet. A thread pool starting in a fresh
 * child makes its first calls all at once, so the others wait for the
 * reset (a few microseconds), asleep on the futex it wakes. Never for
 * good: a signal handler may have jumped out of the reset, so after 100 ms
 * they stop waiting, and until a reset completes, calls go untraced
 * (a4s_self_check says not ready); results are never affected. A signal
 * handler that interrupted the reset itself does not wait for it.
 */
static atomic_bool gave_up_waiting;

static int wait_for_reset(int pid)
{
	uint64_t deadline = a4s_monotonic_ns() + A4S_SECOND_NS / 10;
	while (atomic_load(&state_of) == -pid && !atomic_load(&gave_up_waiting)) {
		uint64_t now = a4s_monotonic_ns();
		if (now >= deadline) {
			atomic_store(&gave_up_waiting, true);
			break;
		}
		uint64_t left = deadline - now;
		struct timespec ts = { (time_t)(left / A4S_SECOND_NS), (long)(left % A4S_SECOND_NS) };
		if (syscall(SYS_futex, &state_of, A4S_FUTEX_WAIT_PRIVATE, -pid, &ts, NULL, 0) != 0 &&
		    errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
			sched_yield(); /* futex refused: wait the plain way */
	}
	return atomic_load(&state_of);
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

bool a4s_self_ready_slow(void)
{
	int pid = a4s_self_pid_slow();
	return pid <= 0 || atomic_load(&state_of) == pid;
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
			/* A new process, and this thread resets for it, once. */
			atomic_store(&resetter, a4s_gettid());
			void (*reset)(void) = atomic_load(&reset_for_new_process);
			if (reset)
				reset();
			atomic_fetch_add(&generation, 1);
			atomic_store(&gave_up_waiting, false);
			atomic_store(&resetter, 0);
			atomic_store(&state_of, pid);
			/* Threads of the new process waiting for the reset. */
			syscall(SYS_futex, &state_of, A4S_FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
		}
		held = atomic_load(&state_of);
	}
	if (held == -pid && atomic_load(&resetter) != a4s_gettid())
		held = wait_for_reset(pid);
	arm();
	if (held == pid && atomic_load_explicit(&wiped_in_children, memory_order_relaxed)) {
		atomic_store_explicit(&a4s_self_page.gen, atomic_load(&generation),
				      memory_order_relaxed);
		atomic_store_explicit(&a4s_self_page.pid, pid, memory_order_release);
	}
	return pid;
}

void a4s_self_notice(void)
{
	if (atomic_load_explicit(&armed, memory_order_relaxed))
		(void)a4s_self_check();
}

int a4s_self_owner(void)
{
	int held = atomic_load(&state_of);
	return held < 0 ? -held : held;
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
