/* Turning a finished call into a trace record. */
#ifndef A4S_TRACE_H
#define A4S_TRACE_H

#include <stdint.h>

#include "accept_path.h"
#include "record.h"

/* The record made and written here, in the process (ended_ns: the
 * call's end, a4s_monotonic_ns()). */
A4S_HIDDEN void a4s_trace_in_process(const struct a4s_config *cfg, const struct a4s_call *c,
				     int result, uint64_t started_ns, uint64_t ended_ns);

/* result: the new fd or -errno. started_ns: a4s_monotonic_ns() at entry.
 * A record for the collector goes into its ring (collect.h; the common
 * collector call has a path of its own, entry.c's collected), any other is
 * written here. */
A4S_HIDDEN void a4s_trace_call(const struct a4s_config *cfg, const struct a4s_call *c,
			       int result, uint64_t started_ns);

/* A record written in-process (formatted, to the trace's destination),
 * unless ACCEPT4SHIM_LOG_SKIP leaves it out; now_ns: a4s_monotonic_ns(). */
A4S_HIDDEN void a4s_trace_write(const struct a4s_config *cfg, const struct a4s_record *r,
				uint64_t now_ns);

#endif
