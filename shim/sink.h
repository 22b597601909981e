/*
 * Where trace records go: a file, the program's stderr, or syslog, each
 * held on a descriptor of our own (high, close-on-exec, its identity
 * remembered), written with one system call per record.
 */
#ifndef A4S_SINK_H
#define A4S_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* At load: takes note of the destination. stderr is duplicated now; a
 * file or syslog is opened by the first record. */
A4S_HIDDEN void a4s_sink_open(const struct a4s_config *cfg);
A4S_HIDDEN bool a4s_sink_enabled(void);
/* One record, one write. Never blocks for long, never raises SIGPIPE,
 * never writes into a descriptor that is no longer ours; a record that
 * cannot be written is counted as dropped. */
A4S_HIDDEN void a4s_sink_write(const char *line, size_t len);
/* Once, outside the trace (the exit summary when there is no trace): to
 * the program's stderr, non-blocking where it can be, never SIGPIPE. */
A4S_HIDDEN void a4s_sink_write_stderr(const char *line, size_t len);
/* Straight to fd 2, blocking, but never raising SIGPIPE (the complaints
 * about bad variables, at load). */
A4S_HIDDEN void a4s_write_fd2(const char *text, size_t len);
/* In the child of a fork: a path with %p names another file there. */
A4S_HIDDEN void a4s_sink_after_fork(void);

/* Pure, for the tests: the path with %p replaced by pid and %% by %.
 * Returns false if the result does not fit. */
A4S_HIDDEN bool a4s_expand_path(const char *pattern, int pid, char *out, size_t size);

#endif
