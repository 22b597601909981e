/*
 * Writing one record to a descriptor: one system call in the common case,
 * never blocking for long, never raising SIGPIPE or SIGXFSZ in the program,
 * never leaving a record cut in two where that can be helped; syslog gets
 * one framed datagram per record.
 */
#ifndef A4S_SINKWRITE_H
#define A4S_SINKWRITE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "dest.h"

struct a4s_target {
	int fd;
	enum a4s_dest_kind kind;
	bool syslog; /* frame each record as a syslog datagram */
	/* A4S_DEST_FILE: the file's size as last seen (RLIMIT_FSIZE is
	 * fsize.h's). */
	unsigned long long size;
	/* Set while the stream ends in a record cut short (disk full, a
	 * socket's buffer): the next record starts with a newline. */
	atomic_bool *torn;
};

/* One record to t. Returns len when the whole record went, else -errno:
 * -EFBIG when it would have crossed the file size limit (then nothing is
 * written), -ENOSPC when the disk took part of it. */
A4S_HIDDEN long a4s_put_record(const struct a4s_target *t, const char *line, size_t len);

/* Once, outside the trace (a complaint, the summary when there is no
 * trace): to the program's stderr while fd 2 is still the one it was
 * started with, without blocking; dropped if it cannot go at once. */
A4S_HIDDEN void a4s_write_stderr(const char *line, size_t len);


/* syslog's frame for one record, the library's and the collector's: the
 * header (<daemon.info>, a UTC stamp, "accept4shim[PID]: ") written into
 * head, its length returned; *body and *body_len: the record without its
 * own "accept4shim: " tag and its newline, which follow the header. pid:
 * the process the record is of (the collector writes its hosts'). */
#define A4S_SYSLOG_HEAD_MAX 64
A4S_HIDDEN size_t a4s_syslog_head(char head[A4S_SYSLOG_HEAD_MAX], int pid, const char *line,
				  size_t len, const char **body, size_t *body_len);

#endif
