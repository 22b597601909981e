/*
 * Waiting for a connection on a blocking listener the way accept waits, but
 * from outside accept, so that no descriptor is reserved meanwhile and the
 * wait holds up no fork (window.h): poll, honouring the listener's
 * SO_RCVTIMEO, a cancellation point, ending on a signal exactly when
 * accept would have ended.
 *
 * The signal is the hard part. accept without SO_RCVTIMEO is restarted
 * after a handler with SA_RESTART and ends with EINTR after one without;
 * poll ends with EINTR after any handler and does not say which ran. So
 * before waiting, the handlers that could run on this thread (signals it
 * does not block) are looked at: if all have SA_RESTART, an EINTR from poll
 * means "go on waiting"; if none has, it means EINTR. If both kinds could
 * run, the wait blocks the SA_RESTART ones for its duration (ppoll's mask)
 * and wakes every A4S_WAIT_SLICE_NS: their handlers run at those wake-ups,
 * after ppoll has returned, so that an EINTR can only come from a handler
 * without SA_RESTART. The price, only in a process with both kinds of
 * handler: a signal meant for this very thread, whose handler has
 * SA_RESTART, waits up to a slice (one directed at the process goes to a
 * thread that does not block it), and a waiting thread wakes every slice.
 * With SO_RCVTIMEO, accept is never restarted (signal(7)): any handler
 * means EINTR.
 */
#ifndef A4S_READINESS_H
#define A4S_READINESS_H

#include <stdbool.h>
#include <stdint.h>

#include "gate.h"

#define A4S_WAIT_SLICE_NS (50 * A4S_MS)

/* Not a listening socket, or poll cannot wait: accept's own answer (an
 * error, or its own wait) is the right one. */
#define A4S_WAIT_LET_ACCEPT 1

/* The state of one call's wait, across the rounds of window.c. */
struct a4s_wait {
	bool started;
	bool timed;        /* SO_RCVTIMEO is set */
	uint64_t deadline; /* monotonic ns, when timed */
	uint64_t blocked;  /* this thread's signal mask */
	uint64_t restart;  /* unblocked signals whose handler has SA_RESTART */
	uint64_t interrupt; /* ... and whose handler has not */
};

/*
 * Returns 0 when the listener has something for accept (a connection, an
 * error, a hang-up), -EAGAIN when SO_RCVTIMEO ran out (accept's own
 * answer then), -EINTR when a signal handler ran after which accept would
 * have ended, -EMFILE when the process has no descriptor left (accept
 * reserves one before it waits, and fails then), or A4S_WAIT_LET_ACCEPT.
 */
A4S_HIDDEN int a4s_wait_for_connection(int fd, struct a4s_wait *w);

/* Fills blocked, restart and interrupt from the kernel's view of this
 * thread; false if it cannot be read. Exposed for the unit tests. */
A4S_HIDDEN bool a4s_wait_read_handlers(struct a4s_wait *w);

#endif
