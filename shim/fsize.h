/*
 * RLIMIT_FSIZE, as a trace write to a regular file must respect it.
 *
 * A write that starts at or past the soft limit raises SIGXFSZ, whose
 * default action kills the program. With no limit in force a record is one
 * plain write; under a limit it is written with SIGXFSZ held back (three
 * system calls more, sinkwrite.c). So the trace must know the limit before
 * a write can meet it, and reading it every record would cost a system
 * call. What it knows, and when it learns:
 *  - read when the trace opens, in a new process before its first record,
 *    once a second, and after a write the limit cut (sink.c: a4s_fsize_look);
 *  - a change the program makes through setrlimit, setrlimit64, prlimit,
 *    prlimit64 or ulimit (rlimit.c) is learnt before that call returns:
 *    around the real call a4s_fsize_change_begin and _end make every write
 *    meanwhile guarded, and wait for the writes already under way without
 *    the guard (a write checks the limit when it enters the kernel: one
 *    that entered before the change meets the old limit);
 *  - a change made otherwise (a raw prlimit64 system call, another process
 *    lowering ours with prlimit(PID)) is learnt at the next look, at most a
 *    second later; docs/tracing.md says what that leaves.
 *
 * A writer counts itself and then looks for a change under way; a change
 * counts itself and then looks for writers: both sequentially consistent,
 * so of a writer and a change arriving together at least one sees the
 * other. No lock: a change waits for writers at most A4S_FSIZE_WAIT_NS, a
 * writer never waits.
 */
#ifndef A4S_FSIZE_H
#define A4S_FSIZE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "kernel.h"
#include "sys.h"

/* How long a change waits for writes already under way: one record to a
 * regular file each, a few microseconds unless the writer was preempted or
 * throttled by the kernel's writeback (which sleeps a writer up to 200 ms). */
#define A4S_FSIZE_WAIT_NS (1000 * 1000 * 1000ULL)

struct a4s_fsize {
	atomic_ullong known;  /* the soft limit as last learnt; A4S_RLIM64_INFINITY: none */
	atomic_int changing;  /* interposed changes under way, and not yet learnt */
	atomic_int unguarded; /* writes under way without SIGXFSZ held back */
};
extern A4S_HIDDEN struct a4s_fsize a4s_fsize;
/* This thread's part of `unguarded`: a signal handler that changes the
 * limit on top of its own thread's write cannot wait for that write. */
extern A4S_HIDDEN __thread int a4s_fsize_mine __attribute__((tls_model("initial-exec")));

/*
 * Before a write to a regular file. True: no limit is in force and no
 * change is under way; the caller writes plainly and then calls
 * a4s_fsize_write_end. False: *limit is the limit to respect
 * (A4S_RLIM64_INFINITY while a change is under way: the new one is not
 * known yet), and the write must hold SIGXFSZ back.
 */
static inline bool a4s_fsize_write_begin(unsigned long long *limit)
{
	a4s_fsize_mine++;
	atomic_fetch_add(&a4s_fsize.unguarded, 1);
	/* A change's end stores the limit before it stops counting itself:
	 * seen as over, its limit is seen too. */
	bool quiet = atomic_load(&a4s_fsize.changing) == 0;
	*limit = atomic_load_explicit(&a4s_fsize.known, memory_order_acquire);
	if (quiet && *limit == A4S_RLIM64_INFINITY)
		return true;
	atomic_fetch_sub_explicit(&a4s_fsize.unguarded, 1, memory_order_release);
	a4s_fsize_mine--;
	if (!quiet)
		*limit = A4S_RLIM64_INFINITY;
	return false;
}

static inline void a4s_fsize_write_end(void)
{
	atomic_fetch_sub_explicit(&a4s_fsize.unguarded, 1, memory_order_release);
	a4s_fsize_mine--;
}

/* Reads the limit now (one prlimit64) and makes it known; a change that
 * ends meanwhile is never overwritten by an older reading. */
A4S_HIDDEN void a4s_fsize_look(void);

/*
 * Around the program's own call that may change RLIMIT_FSIZE (rlimit.c).
 * Only in the process whose state this is: in a vfork child, which shares
 * its parent's memory but has limits of its own, and in a new process not
 * reset yet (it reads the limit at its reset), they do nothing. Both keep
 * errno as it was.
 */
struct a4s_fsize_change {
	bool counted;
};
A4S_HIDDEN void a4s_fsize_change_begin(struct a4s_fsize_change *c);
A4S_HIDDEN void a4s_fsize_change_end(struct a4s_fsize_change *c);

/* In a new process: no change or write of its parent's is under way here. */
A4S_HIDDEN void a4s_fsize_new_process(void);

#endif
