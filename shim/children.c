#include "children.h"

#include <errno.h>
#include <pthread.h>

#include "collect.h"
#include "self.h"
#include "stats.h"
#include "window.h"

void a4s_children_begin(struct a4s_gate_pass *p)
{
	int saved_errno = errno;
	/* A raw clone's child (no handler ran) has its parent's gate, with
	 * the parent's threads in it, until its reset; the reset starts it
	 * afresh, and must come before this pass, not in the middle of it. */
	a4s_self_notice();
	a4s_gate_write_begin(p);
	errno = saved_errno;
}

void a4s_children_end(const struct a4s_gate_pass *p)
{
	int saved_errno = errno;
	a4s_gate_write_end(p);
	errno = saved_errno;
}

/*
 * The passes of this thread's forks under way, innermost last: a signal
 * handler may fork while its thread is between prepare and parent. A
 * handler that longjmps out of a fork leaves its pass behind, and the
 * depth one higher for good; the gate lets go of that pass when it turns
 * stale, and past the last room forks go through ungated, counted.
 */
enum { DEPTH = 4 };
static __thread struct a4s_gate_pass forks[DEPTH] __attribute__((tls_model("initial-exec")));
static __thread int depth __attribute__((tls_model("initial-exec")));

static void prepare(void)
{
	int d = depth++;
	if (d < DEPTH)
		a4s_children_begin(&forks[d]);
	else
		a4s_stats_window_timeout();
}

static void parent(void)
{
	if (depth > 0 && --depth < DEPTH)
		a4s_children_end(&forks[depth]);
}

/* The forking thread is the child's only one: the gate starts afresh. */
static void child(void)
{
	if (depth > 0)
		depth--;
	a4s_window_new_process();
	/* The parent's ring and socket let go at once, not at the child's
	 * first call, which may never come: a child that runs on without
	 * calling accept must not keep the collector from seeing the parent's
	 * end. */
	a4s_collect_after_fork();
}

void a4s_children_register(void)
{
	pthread_atfork(prepare, parent, child);
}
