/*
 * Where trace records go: the one destination every thread writes to,
 * opened by the first record, checked before every record, followed across
 * rotation, reopened when it is lost, never written when it is no longer
 * ours. Opening a destination is dest.c's job; writing a record to a
 * descriptor is sinkwrite.c's. docs/tracing.md tells the whole story.
 */
#ifndef A4S_SINK_H
#define A4S_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
/* a4s_expand_path, which the tests reach through this header. */
#include "dest.h"

/* At load: takes note of the destination and of the program's stderr.
 * Opens nothing: the first record does (a process that never writes one
 * holds no descriptor of ours). */
A4S_HIDDEN void a4s_sink_open(const struct a4s_config *cfg);
A4S_HIDDEN bool a4s_sink_enabled(void);
/* One record, one write. Never blocks for long, never raises a signal,
 * never writes into a descriptor that is no longer ours; a record that
 * cannot be written is counted as dropped (false). */
A4S_HIDDEN bool a4s_sink_write(const char *line, size_t len);
/* The same, with a4s_monotonic_ns() as the caller just read it (the trace
 * has the call's end at hand), which spares reading the clock again. */
A4S_HIDDEN bool a4s_sink_write_at(const char *line, size_t len, uint64_t now_ns);
/* A summary record: to the trace, or to stderr when there is no trace or
 * it cannot be written there. Call a4s_sink_settle first. */
A4S_HIDDEN void a4s_sink_write_summary(const char *line, size_t len);
/* Before a summary at exit: records still waiting for a descriptor
 * (EMFILE) are written now, or counted as dropped. */
A4S_HIDDEN void a4s_sink_settle(void);
/* In the child of a fork: a path with %p names another file there. */
A4S_HIDDEN void a4s_sink_after_fork(void);

#endif
