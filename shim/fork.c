#include "fork.h"

#include "collect.h"
#include "fsize.h"
#include "init.h"
#include "sink.h"
#include "stats.h"
#include "window.h"

/*
 * Only atomics and, for a trace path with %p, closing the parent's file:
 * this may run inside a signal handler, the child's first call being made
 * there.
 *
 * The fork-window gate is started afresh here too, first: a raw clone's
 * child (no handler ran) has its parent's gate, with the parent's threads
 * inside, and would make its children wait for them. (fork's and _Fork's
 * children have it started afresh already, while they have one thread:
 * children.c, spawn.c.) This runs while the child may have started
 * threads of its own, but none of them is in the gate: every way in (an
 * accept through a4s_config_get, a child made through a4s_children_begin)
 * notices the new process first, and waits for this reset to end. (A signal
 * handler that interrupts this reset and calls the library has left the
 * gate before the reset goes on.) Only a thread that stopped waiting, after
 * 100 ms (self.c), may be inside, and then loses its slot: a child made
 * meanwhile might inherit its one socket.
 */
void a4s_new_process_reset(void)
{
	a4s_window_new_process(); /* the parent's threads are not here */
	a4s_fsize_new_process();  /* nor their writes and limit changes */
	a4s_init_after_fork();    /* a load the parent had under way */
	a4s_stats_reset();        /* each process counts its own calls */
	a4s_sink_after_fork();    /* a path with %p names another file here */
	a4s_collect_after_fork(); /* never the parent's ring: one of its own */
}
