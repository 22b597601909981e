/*
 * Whether a thread of this process is making progress, from its line in
 * /proc/self/task/TID/stat: for the fork-window gate to tell a reader that
 * is only preempted (worth waiting for) from one asleep in an accept that
 * blocked, stopped, or gone (not worth it).
 */
#ifndef A4S_TASKSTATE_H
#define A4S_TASKSTATE_H

#include "sys.h"

enum a4s_task_state {
	A4S_TASK_RUNS,    /* running or runnable, or in an uninterruptible wait */
	A4S_TASK_STUCK,   /* asleep until some event, stopped, or exited */
	A4S_TASK_UNKNOWN, /* /proc cannot tell (not mounted, refused) */
};

A4S_HIDDEN enum a4s_task_state a4s_task_state(int tid);

/* The state letter of a stat line ("TID (comm) S ..."); the command name
 * may hold anything, ')' included, so the last ')' ends it. 0 if none.
 * Pure, for the unit tests. */
A4S_HIDDEN char a4s_stat_state(const char *line, size_t len);

#endif
