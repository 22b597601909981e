/*
 * The logic behind the exported accept and accept4: one call, decided by
 * the configuration, returning the new descriptor or -errno.
 */
#ifndef A4S_ACCEPT_PATH_H
#define A4S_ACCEPT_PATH_H

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

#endif
