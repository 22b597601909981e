/*
 * Where trace records go: the one descriptor of ours that every thread
 * writes to, published once open, reopened when it is lost, never written
 * when the number is no longer ours. Opening and identifying a destination
 * is dest.c's job; writing a record to a descriptor is sinkwrite.c's.
 */
#ifndef A4S_SINK_H
#define A4S_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
/* a4s_expand_path, which the tests reach through this header. */
#include "dest.h"

/* At load: takes note of the destination. stderr is duplicated now; a
 * file or syslog is opened by the first record. */
A4S_HIDDEN void a4s_sink_open(const struct a4s_config *cfg);
A4S_HIDDEN bool a4s_sink_enabled(void);
/* One record, one write. Never blocks for long, never raises SIGPIPE,
 * never writes into a descriptor that is no longer ours; a record that
 * cannot be written is counted as dropped. */
A4S_HIDDEN void a4s_sink_write(const char *line, size_t len);
/* In the child of a fork: a path with %p names another file there. */
A4S_HIDDEN void a4s_sink_after_fork(void);

#endif
