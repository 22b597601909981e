#include "window.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "claim.h"
#include "gate.h"
#include "readiness.h"
#include "real.h"

/*
 * Whether a listener blocks, by descriptor number: one F_GETFL the first
 * time, none after. Only "non-blocking" is trusted without looking: if it
 * is stale (the number now names a blocking listener, or O_NONBLOCK was
 * cleared), the accept inside the gate blocks, which costs a fork a wait
 * (gate.h), never the program anything; the first fork that gives up on it
 * makes us look again. "Blocking" is only a hint that poll comes first,
 * and is checked before any wait, since a listener that is now
 * non-blocking must get its EAGAIN at once.
 */
enum kind { UNKNOWN, NONBLOCKING, BLOCKING };
enum { KINDS = 65536 };
static _Atomic unsigned char kinds[KINDS];

static enum kind kind_of(int fd)
{
	return (unsigned)fd < KINDS ? atomic_load_explicit(&kinds[fd], memory_order_relaxed)
				    : UNKNOWN;
}

static void remember(int fd, enum kind k)
{
	if ((unsigned)fd < KINDS)
		atomic_store_explicit(&kinds[fd], (unsigned char)k, memory_order_relaxed);
}

/* The window itself. The socket is closed inside, when the flag cannot be
 * set, so that it never reaches a child either. */
static int gated_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct a4s_gate_pass pass;
	a4s_gate_read_begin(&pass);
	int s = a4s_real_accept(fd, addr, addrlen);
	if (s >= 0) {
		int r = a4s_fcntl(s, F_SETFD, FD_CLOEXEC);
		if (r < 0) {
			a4s_close(s);
			s = r;
		}
	}
	if (a4s_gate_read_end(&pass) && kind_of(fd) == NONBLOCKING)
		remember(fd, UNKNOWN); /* it blocked after all */
	return s;
}

/* Whether accept has something to say now: a connection, an error, a
 * hang-up (or poll itself failed, which accept will explain). */
static bool ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec zero = { 0, 0 };
	return a4s_syscall(SYS_ppoll, &p, 1, &zero, NULL, 0) != 0;
}

static int from_blocking(int fd, struct sockaddr *addr, socklen_t *addrlen, bool checked)
{
	struct a4s_wait wait = { 0 };
	for (;;) {
		/* The claim first, then the look: while we hold it no other
		 * thread of ours accepts here, so a connection seen is still
		 * there for our accept. (Looking first left a moment in which
		 * the previous holder took the connection we had seen and gave
		 * the claim back, and our accept then blocked inside the gate.) */
		struct a4s_claim claim;
		(void)a4s_claim_take(fd, &claim);
		if (ready(fd)) {
			int s = gated_accept(fd, addr, addrlen);
			a4s_claim_give_back(&claim);
			return s;
		}
		a4s_claim_give_back(&claim);
		if (!checked) {
			int fl = a4s_fcntl(fd, F_GETFL, 0);
			if (fl < 0 || (fl & O_NONBLOCK)) {
				remember(fd, fl < 0 ? UNKNOWN : NONBLOCKING);
				return gated_accept(fd, addr, addrlen);
			}
			checked = true;
		}
		int r = a4s_wait_for_connection(fd, &wait);
		if (r == A4S_WAIT_LET_ACCEPT)
			return gated_accept(fd, addr, addrlen);
		if (r < 0)
			return r;
	}
}

int a4s_window_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	/* accept is a cancellation point: a cancel already pending acts
	 * here, where this thread holds nothing of ours. */
	pthread_testcancel();
	switch (kind_of(fd)) {
	case NONBLOCKING:
		return gated_accept(fd, addr, addrlen);
	case BLOCKING:
		return from_blocking(fd, addr, addrlen, false);
	default: {
		int fl = a4s_fcntl(fd, F_GETFL, 0);
		if (fl < 0)
			return gated_accept(fd, addr, addrlen); /* accept says why */
		remember(fd, (fl & O_NONBLOCK) ? NONBLOCKING : BLOCKING);
		if (fl & O_NONBLOCK)
			return gated_accept(fd, addr, addrlen);
		return from_blocking(fd, addr, addrlen, true);
	}
	}
}

void a4s_window_new_process(void)
{
	a4s_gate_new_process();
	a4s_claim_new_process();
}
