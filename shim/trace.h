/* Turning a finished call into a trace record. */
#ifndef A4S_TRACE_H
#define A4S_TRACE_H

#include <stdint.h>

#include "accept_path.h"
#include "clock.h"
#include "collect.h"
#include "record.h"

/* The record made and written here, in the process (ended_ns: the
 * call's end, a4s_monotonic_ns()). */
A4S_HIDDEN void a4s_trace_in_process(const struct a4s_config *cfg, const struct a4s_call *c,
				     int result, uint64_t started_ns, uint64_t ended_ns);

/* result: the new fd or -errno. started_ns: a4s_monotonic_ns() at entry.
 * Inline: a record for the collector is filled straight into its ring
 * (collect.h), and pays for nothing of the in-process trace's. */
static inline void a4s_trace_call(const struct a4s_config *cfg, const struct a4s_call *c,
				  int result, uint64_t started_ns)
{
	uint64_t ended_ns = a4s_monotonic_ns();
	/* Skipped records too go to the collector, which counts them in its
	 * summaries and writes them not (the ring's header has the list). */
	if (cfg->log_kind == A4S_LOG_COLLECTOR &&
	    a4s_collect_call(c, result, started_ns, ended_ns))
		return;
	a4s_trace_in_process(cfg, c, result, started_ns, ended_ns);
}

/* A record written in-process (formatted, to the trace's destination),
 * unless ACCEPT4SHIM_LOG_SKIP leaves it out; now_ns: a4s_monotonic_ns(). */
A4S_HIDDEN void a4s_trace_write(const struct a4s_config *cfg, const struct a4s_record *r,
				uint64_t now_ns);

#endif
