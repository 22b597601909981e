/*
 * Waiting for a connection on a blocking listener the way accept waits, but
 * from outside accept, so that no descriptor is reserved meanwhile and the
 * wait holds up no fork (window.c): poll, honouring the listener's
 * SO_RCVTIMEO, a cancellation point, and ending on a signal exactly when
 * accept would have ended, as far as can be known (below).
 */
#ifndef A4S_READINESS_H
#define A4S_READINESS_H

#include <stdbool.h>
#include <stdint.h>

#include "sys.h"

/* Not a listening socket, or poll cannot wait: accept's own answer (an
 * error, or its own wait) is the right one. */
#define A4S_WAIT_LET_ACCEPT 1

/* The state of one call's wait, across the rounds of window.c. */
struct a4s_wait {
	bool started;
	bool timed;       /* SO_RCVTIMEO is set */
	uint64_t deadline; /* monotonic ns, when timed */
};

/*
 * Returns 0 when the listener has something for accept (a connection, an
 * error, a hang-up), -EAGAIN when SO_RCVTIMEO ran out (accept's own
 * answer then), -EINTR when a signal handler ran and accept would not have
 * been restarted, or A4S_WAIT_LET_ACCEPT.
 */
A4S_HIDDEN int a4s_wait_for_connection(int fd, struct a4s_wait *w);

/*
 * After a signal handler ran: would accept have been restarted? Only if
 * SA_RESTART is set for every signal whose handler could have run (this
 * thread does not block it and it has a handler); poll does not say which
 * one ran. Exposed for the unit tests.
 */
A4S_HIDDEN bool a4s_accept_would_restart(void);

#endif
