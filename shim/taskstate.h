/*
 * Whether a thread of this process is making progress: for the fork-window
 * gate and the listener claims, which wait for a thread that holds
 * something of theirs, to tell one that is only preempted (worth waiting
 * for) from one asleep in an accept that blocked, stopped, or gone (not
 * worth it). One policy for both, a4s_worth_waiting.
 */
#ifndef A4S_TASKSTATE_H
#define A4S_TASKSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "sys.h"

enum a4s_task_state {
	A4S_TASK_RUNS,    /* running or runnable, or in an uninterruptible wait */
	A4S_TASK_ASLEEP,  /* asleep until some event, or stopped */
	A4S_TASK_GONE,    /* exited: cancelled, say, while it held something */
	A4S_TASK_UNKNOWN, /* /proc cannot tell (not mounted, refused) */
};

/* tgkill(pid, tid, 0) first (a thread gone is the common case worth
 * knowing fast), then the state letter in /proc/self/task/TID/stat. */
A4S_HIDDEN enum a4s_task_state a4s_task_state(int tid);

/*
 * Whether to go on waiting for thread tid (0: not known), which has held
 * what we wait for for `waited` ns, and if so how long to sleep before
 * asking again (*nap). A holder normally gives back within microseconds:
 * after A4S_GATE_FIRST_LOOK_NS it is looked at; gone, it is not waited for;
 * asleep or stopped, until A4S_GATE_SHORT_WAIT_NS; running or unknown,
 * until A4S_GATE_LONG_WAIT_NS.
 */
A4S_HIDDEN bool a4s_worth_waiting(int tid, uint64_t waited, uint64_t *nap);

/* The state letter of a stat line ("TID (comm) S ..."); the command name
 * may hold anything, ')' included, so the last ')' ends it. 0 if none.
 * Pure, for the unit tests. */
A4S_HIDDEN char a4s_stat_state(const char *line, size_t len);

#endif
