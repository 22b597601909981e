#include "fsize.h"

#include <sys/resource.h>

#include "clock.h"
#include "futex.h"
#include "self.h"
#include "serial.h"

_Static_assert(RLIMIT_FSIZE == 1, "rlimit.c compares the resource with 1 (RLIMIT_FSIZE)");

struct a4s_fsize a4s_fsize = { .known = A4S_RLIM64_INFINITY };
__thread int a4s_fsize_mine __attribute__((tls_model("initial-exec")));

/*
 * Writes a change stopped waiting for (A4S_FSIZE_WAIT_NS): a writer stuck in
 * the kernel, or one a signal handler longjmp'd out of, whose count never
 * comes back. Later changes wait only for writes beyond these, so that one
 * such writer costs one change the wait, not every change after it.
 */
static atomic_int abandoned;

/*
 * Making the limit known. Only the thread that holds `reader` reads it and
 * stores it; one that finds it held asks for another reading (`again`) and
 * goes, and the holder reads once more before it lets go, and looks for a
 * request once more after. So the last reading stored is never older than
 * any change that asked for one, and no thread waits: a signal handler on
 * top of the holder, or a holder that was preempted, costs nothing more.
 * A change's end is handed over the same way (`ends`): `changing` counts
 * it until a reading made after its real call is stored, so writers hold
 * SIGXFSZ back until then.
 */
static atomic_uint reader; /* the serial of the thread reading, 0: none */
static atomic_bool again;
static atomic_int ends;

static unsigned long long read_limit(void)
{
	struct a4s_rlimit64 lim;
	return a4s_prlimit(RLIMIT_FSIZE, NULL, &lim) == 0 ? lim.cur : A4S_RLIM64_INFINITY;
}

static void publish(bool ends_a_change)
{
	if (ends_a_change)
		atomic_fetch_add(&ends, 1); /* before the request: see above */
	atomic_store(&again, true);
	uint32_t me = a4s_thread_serial();
	for (;;) {
		unsigned none = 0;
		if (!atomic_compare_exchange_strong(&reader, &none, me))
			return; /* the holder reads again for us */
		while (atomic_exchange(&again, false)) {
			/* Changes that asked before this reading. */
			int ended = atomic_load(&ends);
			/* Sequentially consistent (a locked exchange on x86, no
			 * dearer once a second): helgrind and DRD take a plain
			 * release store racing a writer's load for a data race
			 * (test_stress.helgrind). */
			atomic_store(&a4s_fsize.known, read_limit());
			atomic_fetch_sub(&ends, ended);
			atomic_fetch_sub(&a4s_fsize.changing, ended);
		}
		atomic_store(&reader, 0);
		if (!atomic_load(&again))
			return;
	}
}

void a4s_fsize_look(void)
{
	int saved_errno = errno;
	publish(false);
	errno = saved_errno;
}

/* Until the writes under way without the guard, but this thread's own
 * (a handler on top of it) and those abandoned before, have ended. */
static void wait_for_writers(void)
{
	uint64_t start = a4s_monotonic_ns();
	for (;;) {
		int now = atomic_load(&a4s_fsize.unguarded);
		int inside = now - a4s_fsize_mine;
		if (inside < 0)
			inside = 0; /* a count a new process's reset cut short */
		int gone = atomic_load(&abandoned);
		if (inside < gone) {
			/* Some came back after all. */
			atomic_compare_exchange_strong(&abandoned, &gone, inside);
			gone = inside;
		}
		if (inside <= gone)
			return;
		uint64_t waited = a4s_monotonic_ns() - start;
		if (waited >= A4S_FSIZE_WAIT_NS) {
			atomic_store(&abandoned, inside);
			return;
		}
		/* Writers do not wake us (no system call on their path): naps
		 * of 100 us, the length of a record's write. */
		a4s_futex_wait((atomic_uint *)&a4s_fsize.unguarded, (unsigned)now, 100 * 1000);
	}
}

/* The process whose state this is: not a vfork child (our memory, another
 * process's limits) nor a new process before its reset. One getpid, on a
 * call the program makes rarely. */
static bool ours(void)
{
	int owner = a4s_self_owner();
	return owner > 0 && a4s_getpid() == owner;
}

void a4s_fsize_change_begin(struct a4s_fsize_change *c)
{
	int saved_errno = errno;
	c->counted = ours();
	if (c->counted) {
		atomic_fetch_add(&a4s_fsize.changing, 1);
		wait_for_writers();
	}
	errno = saved_errno;
}

void a4s_fsize_change_end(struct a4s_fsize_change *c)
{
	int saved_errno = errno;
	if (c->counted)
		publish(true);
	else if (ours())
		publish(false); /* reset meanwhile: it may have read the old limit */
	errno = saved_errno;
}

void a4s_fsize_new_process(void)
{
	/* The known limit is inherited with the limit itself; the reset's
	 * first record looks at it again all the same (sink.c). */
	atomic_store(&a4s_fsize.changing, 0);
	atomic_store(&a4s_fsize.unguarded, 0);
	atomic_store(&abandoned, 0);
	atomic_store(&reader, 0);
	atomic_store(&again, false);
	atomic_store(&ends, 0);
}
