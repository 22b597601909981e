#include "fork.h"

#include "init.h"
#include "sink.h"
#include "stats.h"

/*
 * Only atomics and, for a trace path with %p, closing the parent's file:
 * this may run inside a signal handler, the child's first call being made
 * there. Not the fork-window gate: it is reset where the child still has
 * one thread (children.c's atfork handler, spawn.c's _Fork), while this
 * runs at the first call, when the child may have started others.
 */
void a4s_new_process_reset(void)
{
	a4s_init_after_fork(); /* a load the parent had under way */
	a4s_stats_reset();     /* each process counts its own calls */
	a4s_sink_after_fork(); /* a path with %p names another file here */
}
