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
 * non-blocking must get its EAGAIN at once. In the preloaded library the
 * calls through which a number comes to name another listener (numbers.c:
 * close, close_range, closefrom, dup2, dup3, listen) forget what was known
 * of it, so that only a change made behind the C library's back (a raw
 * system call, F_SETFL clearing O_NONBLOCK) costs that one wait.
 */
_Atomic unsigned char a4s_window_kinds[A4S_WINDOW_KINDS];
#define kinds a4s_window_kinds
#define KINDS A4S_WINDOW_KINDS
enum kind { UNKNOWN = A4S_KIND_UNKNOWN, NONBLOCKING = A4S_KIND_NONBLOCKING,
	    BLOCKING = A4S_KIND_BLOCKING };

static enum kind kind_of(int fd)
{
	return (unsigned)fd < KINDS ? atomic_load_explicit(&kinds[fd], memory_order_relaxed)
				    : UNKNOWN;
}

/* The highest number ever remembered: what a4s_window_forget looks at. */
static _Atomic int highest;

static void remember(int fd, enum kind k)
{
	if ((unsigned)fd >= KINDS)
		return;
	atomic_store_explicit(&kinds[fd], (unsigned char)k, memory_order_relaxed);
	int h = atomic_load_explicit(&highest, memory_order_relaxed);
	while (h < fd && !atomic_compare_exchange_weak_explicit(&highest, &h, fd,
								memory_order_relaxed,
								memory_order_relaxed))
		;
}

void a4s_window_forget(int lo, int hi)
{
	int h = atomic_load_explicit(&highest, memory_order_relaxed);
	if (lo < 0)
		lo = 0;
	if (hi > h)
		hi = h;
	/* Loads first: a number never accepted on (every connection a
	 * server closes) is UNKNOWN already, and its line stays shared. */
	for (int fd = lo; fd <= hi; fd++)
		if (atomic_load_explicit(&kinds[fd], memory_order_relaxed) != UNKNOWN)
			atomic_store_explicit(&kinds[fd], UNKNOWN, memory_order_relaxed);
}

void a4s_window_blocked_after_all(int fd)
{
	if (kind_of(fd) == NONBLOCKING)
		remember(fd, UNKNOWN);
}

#define gated_accept a4s_window_gated_accept

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

static int accept_slow(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
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

int a4s_window_accept_slow(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	int saved_errno = errno;
	int s = accept_slow(fd, addr, addrlen);
	if (s >= 0)
		errno = saved_errno;
	return s;
}

void a4s_window_new_process(void)
{
	a4s_gate_new_process();
	a4s_claim_new_process();
}
