/* Turning a finished call into a trace record. */
#ifndef A4S_TRACE_H
#define A4S_TRACE_H

#include <stdint.h>

#include "accept_path.h"
#include "record.h"

/* result: the new fd or -errno. started_ns: a4s_monotonic_ns() at entry. */
A4S_HIDDEN void a4s_trace_call(const struct a4s_config *cfg, const struct a4s_call *c,
			       int result, uint64_t started_ns);

/* A record written in-process (formatted, to the trace's destination),
 * unless ACCEPT4SHIM_LOG_SKIP leaves it out; now_ns: a4s_monotonic_ns(). */
A4S_HIDDEN void a4s_trace_write(const struct a4s_config *cfg, const struct a4s_record *r,
				uint64_t now_ns);

#endif
