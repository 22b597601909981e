/*
 * Saying what is wrong, on the program's stderr: the configuration's bad
 * variables at load, and a trace destination that cannot be used or fails,
 * once per process and cause. Always without blocking (a complaint that
 * cannot be written at once is dropped), never to stdout, and never to a
 * file the program has put at fd 2 in place of the stderr it started with.
 */
#ifndef A4S_COMPLAIN_H
#define A4S_COMPLAIN_H

#include <stddef.h>

#include "sys.h"

/* Why a trace destination cannot take records. */
enum a4s_cause_kind {
	A4S_CAUSE_NONE,
	A4S_CAUSE_OPEN,  /* opening (or connecting) failed with err */
	A4S_CAUSE_WRITE, /* a record could not be written: err */
	A4S_CAUSE_TYPE,  /* the path names something else than a regular file, FIFO or device */
	A4S_CAUSE_OWNER, /* the file belongs to uid `n`, not to the effective user */
	A4S_CAUSE_LINKS, /* the file has `n` links */
	A4S_CAUSE_FSIZE, /* RLIMIT_FSIZE: the file is as large as the process may write */
};

struct a4s_cause {
	enum a4s_cause_kind kind;
	int err;
	unsigned long long n;
};

/* The parser's complaints (lines ending in '\n'), one write per line. */
A4S_HIDDEN void a4s_complain(const char *text, size_t len);
/* One line about the trace destination `dest` (its path, or "syslog"),
 * unless this process has already said it for the same cause. */
A4S_HIDDEN void a4s_complain_dest(const char *dest, const struct a4s_cause *why);
/* About ACCEPT4SHIM_LOG=collector:SOCK (collect.c, which says each thing
 * once per process): "accept4shim: collector SOCK: HAPPENED[: errno in
 * words (NAME)]; THEN". err 0: no errno part. */
A4S_HIDDEN void a4s_complain_collector(const char *sock, const char *happened, int err,
				       const char *then);
A4S_HIDDEN size_t a4s_format_collector_complaint(const char *sock, const char *happened,
						 int err, const char *then, char *buf,
						 size_t size);
/* In the child of a fork: a new process, which says everything anew. */
A4S_HIDDEN void a4s_complain_forget(void);

/* Room for the longest line: the path, escaped, shown in at most 240
 * characters, and the words around it. Kept small: a complaint may be
 * written from a signal handler on a small alternate stack. */
#define A4S_COMPLAINT_LINE_MAX 512

/* Pure, for the tests: the line a4s_complain_dest writes, '\n' included;
 * its length (0 when it does not fit). */
A4S_HIDDEN size_t a4s_format_complaint(const char *dest, const struct a4s_cause *why,
				       char *buf, size_t size);

#endif
