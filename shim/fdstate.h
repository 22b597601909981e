/*
 * The properties of an open socket that accept4 flags and BSD inheritance
 * are about, and the one place that changes them on a new socket.
 */
#ifndef A4S_FDSTATE_H
#define A4S_FDSTATE_H

#include <fcntl.h>
#include <stdbool.h>

#include "sys.h"

/* The file status flags inheritance is about. */
#define A4S_INHERITED_STATUS (O_NONBLOCK | O_ASYNC)

struct a4s_fdstate {
	int status;              /* O_NONBLOCK | O_ASYNC bits */
	bool cloexec;
	struct f_owner_ex owner; /* pid 0: no owner */
	int sig;                 /* F_SETSIG signal, 0: SIGIO */
};

/* What a socket fresh from accept4(flags) has on Linux: the flags asked
 * for, no owner, the default signal, no O_ASYNC. */
A4S_HIDDEN void a4s_fdstate_fresh(struct a4s_fdstate *st, int sock_flags);

/* Reads the inheritable properties of a listener: F_GETFL, F_GETOWN_EX,
 * F_GETSIG. 0 or -errno. */
A4S_HIDDEN int a4s_fdstate_read(int fd, struct a4s_fdstate *st);

/*
 * Brings fd from `have` to `want`, one fcntl per property that differs and
 * none for one already right. Owner and signal go before O_ASYNC, so the
 * first SIGIO already goes to the right place with the right number.
 * Returns the number of system calls made, or -errno from the first that
 * failed (the caller then closes fd).
 */
A4S_HIDDEN int a4s_fdstate_apply(int fd, const struct a4s_fdstate *have,
				 const struct a4s_fdstate *want);

#endif
