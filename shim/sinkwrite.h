/*
 * Writing one record to a descriptor: one system call, never blocking for
 * long, never raising SIGPIPE in the program; a record cut short in a file
 * does not spoil the next, and syslog gets one framed datagram per record.
 */
#ifndef A4S_SINKWRITE_H
#define A4S_SINKWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "dest.h"

/* One record to fd, written as its kind needs; syslog: framed as a syslog
 * datagram. Returns len when the whole record went, else what the system
 * call answered (a short count or -errno). */
A4S_HIDDEN long a4s_sink_put_record(int fd, enum a4s_dest_kind kind, bool syslog,
				    const char *line, size_t len);
/* Once, outside the trace (the exit summary when there is no trace): to
 * the program's stderr, non-blocking where it can be, never SIGPIPE. */
A4S_HIDDEN void a4s_sink_write_stderr(const char *line, size_t len);
/* Straight to fd 2, blocking, but never raising SIGPIPE (the complaints
 * about bad variables, at load). */
A4S_HIDDEN void a4s_write_fd2(const char *text, size_t len);

#endif
