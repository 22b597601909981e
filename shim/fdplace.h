/*
 * Where the library's own descriptors live, and getting one at all when
 * the program has used up its RLIMIT_NOFILE.
 *
 * The kernel hands a program only numbers below its soft RLIMIT_NOFILE:
 * open, accept, dup, dup2, dup3, F_DUPFD, SCM_RIGHTS and pidfd_getfd all
 * refuse a number at or above it. A descriptor of ours placed at or above
 * the soft limit (raised for the one F_DUPFD that puts it there, then put
 * back) sits at a number no file of the program's can ever take: if the
 * program closes it, a record written by a thread that had just checked
 * it fails with EBADF instead of landing in a file of the program's.
 */
#ifndef A4S_FDPLACE_H
#define A4S_FDPLACE_H

#include <stdbool.h>

#include "sys.h"

/* The soft RLIMIT_NOFILE raised for a moment, and put back. */
struct a4s_nofile_raise {
	bool active;
	struct a4s_rlimit64 before, raised;
};

/* Raises the soft limit to `want` if it is lower, or as near as the hard
 * limit allows; false when it cannot be raised at all. a4s_nofile_restore puts it back, unless
 * another thread of the program changed it meanwhile (its value stays). */
A4S_HIDDEN bool a4s_nofile_raise(struct a4s_nofile_raise *r, unsigned long long want);
A4S_HIDDEN void a4s_nofile_restore(struct a4s_nofile_raise *r);
/* In the child of a fork made while another thread had the limit raised:
 * put back there, where that thread is not. */
A4S_HIDDEN void a4s_nofile_after_fork(void);

/* open_fn(arg), and when it fails with EMFILE, once more with the soft
 * limit raised by a few numbers (the result then sits at or above the
 * program's limit). Returns what open_fn returned. */
A4S_HIDDEN int a4s_open_past_emfile(int (*open_fn)(void *), void *arg);

/* fd moved out of the program's way, close-on-exec: at or above the soft
 * limit where that can be done (see fdplace.c), else high below it. The
 * original is closed when it moved. Returns the descriptor to use. */
A4S_HIDDEN int a4s_fd_place(int fd);
/* The file open at fd put at number `home` instead (dup3, atomically
 * replacing what was there, close-on-exec), and fd closed; 0 or -errno
 * (fd is left open on failure). */
A4S_HIDDEN int a4s_fd_replace(int fd, int home);

#endif
