/* The counters behind accept4shim_get_stats and the exit summary. */
#ifndef A4S_STATS_H
#define A4S_STATS_H

#include <stdatomic.h>

#include <accept4shim.h>
#include "accept_path.h"
#include "summaryfmt.h"
#include "sys.h"

/* A set of counters, each exact on its own (relaxed atomics: no reader
 * needs them to agree with each other at one instant): the process's, here,
 * and what the last interval summary counted (interval.c). */
struct a4s_counters {
	_Atomic uint64_t calls, accepted, failed, emulated, retried_calls, retries, dropped;
	_Atomic uint64_t errors[ACCEPT4SHIM_ERRNO_SLOTS];
};
A4S_HIDDEN void a4s_counters_clear(struct a4s_counters *c);

/*
 * The process's counters. One locked add per call: a call is counted
 * once, as accepted or under its errno (errors[0] for one past the table),
 * and calls and failed are sums of those (a4s_stats_snapshot), so that the
 * fast path (fastpath.h) pays one add, and a snapshot always has
 * calls == accepted + failed. emulated and retries are added only when
 * they happened.
 */
struct a4s_live_counters {
	_Atomic uint64_t accepted, emulated, retried_calls, retries, dropped;
	_Atomic uint64_t errors[ACCEPT4SHIM_ERRNO_SLOTS];
};
A4S_HIDDEN extern struct a4s_live_counters a4s_live;

static inline void a4s_stats_accepted(void)
{
	atomic_fetch_add_explicit(&a4s_live.accepted, 1, memory_order_relaxed);
}

static inline void a4s_stats_failed(int err)
{
	unsigned e = (unsigned)err;
	atomic_fetch_add_explicit(&a4s_live.errors[e < ACCEPT4SHIM_ERRNO_SLOTS ? e : 0], 1,
				  memory_order_relaxed);
}

static inline void a4s_stats_emulated(void)
{
	atomic_fetch_add_explicit(&a4s_live.emulated, 1, memory_order_relaxed);
}

/* A call of the general path: its result (a new fd or -errno), and
 * whether the library emulated or retried. */
A4S_HIDDEN void a4s_stats_count(const struct a4s_call *c, int result);
A4S_HIDDEN void a4s_stats_dropped(void);
/* A child made while a thread may still have been inside the fork window
 * (gate.h): the library stopped waiting for it. */
A4S_HIDDEN void a4s_stats_window_timeout(void);
/* In a forked child: each process counts its own calls, and its interval
 * summaries start at the fork. */
A4S_HIDDEN void a4s_stats_reset(void);
/* The counters now, each exact, read one after the other (relaxed). */
A4S_HIDDEN void a4s_stats_snapshot(struct accept4shim_stats *s);
/* A summary's counts from s; its errors point into s. */
A4S_HIDDEN void a4s_stats_to_summary(const struct accept4shim_stats *s,
				     struct a4s_summary *sum);
/* Formats the summary into buf; 0 when there is nothing to say (no call
 * was made) or it did not fit. */
A4S_HIDDEN size_t a4s_stats_summary(enum a4s_log_format fmt, char *buf, size_t size);

#endif
