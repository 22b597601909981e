/* Turning a finished call into a trace record. */
#ifndef A4S_TRACE_H
#define A4S_TRACE_H

#include <stdint.h>

#include "accept_path.h"

/* result: the new fd or -errno. started_ns: a4s_monotonic_ns() at entry. */
A4S_HIDDEN void a4s_trace_call(const struct a4s_config *cfg, const struct a4s_call *c,
			       int result, uint64_t started_ns);

#endif
