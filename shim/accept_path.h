/*
 * The logic behind the exported accept and accept4: one call, decided by
 * the configuration, returning the new descriptor or -errno.
 */
#ifndef A4S_ACCEPT_PATH_H
#define A4S_ACCEPT_PATH_H

#include <limits.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "config.h"

struct a4s_call {
	/* What the caller passed. */
	int listen_fd;
	struct sockaddr *addr;
	socklen_t *addrlen;
	int flags; /* accept4's flags; 0 for accept */
	bool is_accept4;
	/* What happened, for the trace and the counters. */
	bool emulated;    /* the library set a flag or property itself */
	unsigned retries; /* failed accepts retried */
};

A4S_HIDDEN int a4s_accept_call(const struct a4s_config *cfg, struct a4s_call *c);

/*
 * The accept of the fast path (fastpath.h), as the published word says:
 * natively, the real accept4 with sock_flags (or the plain accept for an
 * accept() with none); emulated, the accept, then FD_CLOEXEC inside the
 * fork window and O_NONBLOCK by one F_SETFL. No retry, nothing inherited.
 * The new fd or -errno, and c->emulated when the library (or the C
 * library) set a flag; A4S_ACCEPT_GENERAL when MODE=auto has just switched
 * to emulation on this call's ENOSYS, which dequeued nothing: the call is
 * then the general path's to make.
 */
#define A4S_ACCEPT_GENERAL INT_MIN
/* Its emulation alone: the new fd or -errno; a socket whose flag cannot be
 * set is closed. */
A4S_HIDDEN int a4s_accept_emulated(int fd, struct sockaddr *addr, socklen_t *addrlen,
				   int sock_flags);
A4S_HIDDEN int a4s_accept_fast(int word, struct a4s_call *c, int sock_flags);

#endif
