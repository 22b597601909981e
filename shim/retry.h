/*
 * Retrying the errors Linux hands back from accept for a connection that
 * died in the queue, as accept(2) tells applications to do.
 */
#ifndef A4S_RETRY_H
#define A4S_RETRY_H

#include <stdbool.h>
#include <sys/socket.h>

#include "sys.h"

/*
 * How many failed accepts one call retries before it gives the last error
 * to the caller. 128 is the historical SOMAXCONN: a whole default backlog of
 * dead connections is drained in one call, yet a listener that fails every
 * accept (a fault, a network that stays down) costs at most that many quick
 * system calls before the program decides, exactly as without the library.
 */
#define A4S_RETRY_MAX 128

/* The man page's "pending network errors" plus ECONNABORTED. */
A4S_HIDDEN bool a4s_retryable(int err);

/* One accept attempt: new fd or -errno. */
typedef int a4s_attempt_fn(void *ctx);

/*
 * Runs attempt, and while it fails with a retryable error on a socket that
 * is really listening, runs it again, restoring *addrlen to the caller's
 * value before each new attempt, at most A4S_RETRY_MAX times. addr and
 * addrlen are the caller's, as given: any pointer is safe (with addr NULL,
 * addrlen is not looked at, as the kernel does not).
 * *retries counts the failed attempts that were retried.
 */
A4S_HIDDEN int a4s_retry_accept(a4s_attempt_fn *attempt, void *ctx, int listen_fd,
				const struct sockaddr *addr, socklen_t *addrlen,
				unsigned *retries);

#endif
