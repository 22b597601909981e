/*
 * A trace destination: the configured file (opened as safeopen.c says),
 * the program's stderr, or syslog, on a descriptor of our own out of the
 * program's way (fdplace.c), or, for a stderr that is a regular file or a
 * socket, fd 2 itself.
 */
#ifndef A4S_DEST_H
#define A4S_DEST_H

#include <stdbool.h>
#include <stddef.h>

#include "complain.h"
#include "config.h"
#include "ident.h"

/* How a record is written to the descriptor. */
enum a4s_dest_kind {
	A4S_DEST_FILE,   /* a regular file: the size limit, and records the disk cut */
	A4S_DEST_WRITE,  /* a terminal, /dev/null: a plain write */
	A4S_DEST_PIPE,   /* a pipe or FIFO: a write that could raise SIGPIPE */
	A4S_DEST_PIPE_NOWAIT, /* the program's own pipe: the same, asked not to
			       * block (RWF_NOWAIT) since its description may */
	A4S_DEST_SOCKET, /* send with MSG_NOSIGNAL | MSG_DONTWAIT */
};

struct a4s_dest {
	int fd;            /* >= 0, or -errno */
	bool owned;        /* ours to close; false: the program's own fd 2 */
	bool watch_stderr; /* a description of ours on the program's stderr:
			    * good only while fd 2 is still that stderr */
	enum a4s_dest_kind kind;
	struct a4s_ident id;
	struct a4s_cause why; /* fd < 0: what to say; A4S_CAUSE_NONE: nothing
			       * (the program's stderr is gone: no one to tell) */
};

/* At load: remembers fd 2 as the program was started with it; only that
 * one is ever taken as the program's stderr. No descriptor is kept. */
A4S_HIDDEN void a4s_dest_note_stderr(void);
/* 0 while fd 2 is still the stderr the program was started with, else
 * -EBADF. One statx. */
A4S_HIDDEN int a4s_dest_check_stderr(void);

/* Opens the configured destination; `place`: moved out of the program's
 * way (the trace's own descriptor), else wherever the kernel put it (one
 * record's private descriptor). */
A4S_HIDDEN void a4s_dest_open(struct a4s_dest *d, const struct a4s_config *cfg, bool place);
/* The program's stderr, for one write outside the trace. */
A4S_HIDDEN void a4s_dest_open_stderr(struct a4s_dest *d);
/* The kernel refused RWF_NOWAIT on a pipe (before Linux 5.x pipes did not
 * take it): from now on the program's stderr, a pipe, is opened anew. */
A4S_HIDDEN void a4s_dest_no_pipe_nowait(void);

/* The file's path with %p expanded for this process: at load, and in the
 * child of a fork. */
A4S_HIDDEN void a4s_dest_name_for_this_process(const struct a4s_config *cfg);
/* The destination as it is opened and named in complaints: that path
 * (NULL when it did not fit), "syslog" or "stderr". */
A4S_HIDDEN const char *a4s_dest_name(const struct a4s_config *cfg);

/* Pure, for the tests: the path with %p replaced by pid and %% by %.
 * Returns false if the result does not fit. */
A4S_HIDDEN bool a4s_expand_path(const char *pattern, int pid, char *out, size_t size);

#endif
