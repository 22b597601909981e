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
#include "real.h"
#include "window.h"

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
 * set is closed. Inline, for the fast path's sake. errno is left alone on
 * success: every step is a raw system call or the real accept, and the one
 * wait that goes through the C library (window.c) puts it back. */
static inline __attribute__((always_inline)) int a4s_accept_emulated(int fd,
								   struct sockaddr *addr,
								   socklen_t *addrlen,
								   int sock_flags)
{
	int s = sock_flags & SOCK_CLOEXEC ? a4s_window_accept(fd, addr, addrlen)
					  : a4s_real_accept(fd, addr, addrlen);
	if (s >= 0 && (sock_flags & SOCK_NONBLOCK)) {
		/* A fresh socket has no other status flag to keep. */
		int r = a4s_fcntl(s, F_SETFL, O_NONBLOCK);
		if (r < 0) {
			a4s_close(s);
			return r;
		}
	}
	return s;
}

A4S_HIDDEN int a4s_accept_fast(int word, struct a4s_call *c, int sock_flags);

#endif
