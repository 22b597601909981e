#include "readiness.h"

#include <poll.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "clock.h"
#include "kernel.h"

#define BIT(sig) (1ull << ((sig) - 1))

bool a4s_wait_read_handlers(struct a4s_wait *w)
{
	w->blocked = w->restart = w->interrupt = 0;
	if (a4s_sysret(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &w->blocked,
			       A4S_SIGSET_SIZE)) < 0)
		return false;
	int libc_first = 32, libc_end = SIGRTMIN;
	for (int sig = 1; sig <= 64; sig++) {
		struct a4s_kernel_sigaction sa;
		/* Signals the C library keeps for itself (cancellation,
		 * set*id across threads) are left out: it never lets them
		 * be blocked, and their handlers have SA_RESTART. */
		if (sig == SIGKILL || sig == SIGSTOP || (w->blocked & BIT(sig)) ||
		    (sig >= libc_first && sig < libc_end) ||
		    syscall(SYS_rt_sigaction, sig, NULL, &sa, A4S_SIGSET_SIZE) != 0)
			continue;
		/* The default action and ignoring run no handler: the kernel
		 * restarts poll by itself (or the process is gone). */
		if (sa.handler == (void *)SIG_DFL || sa.handler == (void *)SIG_IGN)
			continue;
		if (sa.flags & SA_RESTART)
			w->restart |= BIT(sig);
		else
			w->interrupt |= BIT(sig);
	}
	return true;
}

static int start(int fd, struct a4s_wait *w)
{
	/* accept fails at once on anything but a listening socket; poll on a
	 * pipe or a datagram socket would wait instead. */
	int on = 0;
	if (a4s_getsockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &on) < 0 || !on)
		return A4S_WAIT_LET_ACCEPT;
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof(tv);
	if (a4s_sysret(syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len)) < 0)
		return A4S_WAIT_LET_ACCEPT;
	/* A sandbox that refuses accept (seccomp) answers at once, where
	 * poll would wait for a connection first: ask it with a descriptor
	 * the kernel itself would refuse with EBADF. */
	if (a4s_sysret(syscall(SYS_accept, -1, NULL, NULL)) != -EBADF)
		return A4S_WAIT_LET_ACCEPT;
	/* accept takes its descriptor before it waits: out of descriptors,
	 * it says EMFILE at once rather than after the next connection. */
	int spare = a4s_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (spare == -EMFILE)
		return -EMFILE;
	if (spare >= 0)
		a4s_close(spare);
	w->timed = tv.tv_sec > 0 || tv.tv_usec > 0;
	w->deadline = a4s_monotonic_ns() + (uint64_t)tv.tv_sec * A4S_SECOND_NS +
		      (uint64_t)tv.tv_usec * 1000u;
	/* Timed, any handler ends the wait: no need to know them. */
	if (!w->timed && !a4s_wait_read_handlers(w))
		w->interrupt = ~0ull; /* unknown: EINTR, as poll says */
	w->started = true;
	return 0;
}

/* One wait, through the C library (ppoll and poll are cancellation points,
 * as accept is, and this thread holds nothing of ours here). 1 ready, 0
 * timed out, -errno. */
static int wait_once(int fd, const struct a4s_wait *w, bool careful)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	if (careful) {
		/* Our thread's mask plus the SA_RESTART signals, for a slice. */
		sigset_t mask;
		sigemptyset(&mask);
		for (int sig = 1; sig <= 64; sig++)
			if ((w->blocked | w->restart) & BIT(sig))
				sigaddset(&mask, sig);
		struct timespec slice = { 0, (long)A4S_WAIT_SLICE_NS };
		r = ppoll(&p, 1, &slice, &mask);
	} else {
		int ms = -1;
		if (w->timed) {
			uint64_t now = a4s_monotonic_ns();
			uint64_t left = now < w->deadline ? (w->deadline - now + 999999u) / 1000000u : 0;
			ms = left > 0x7fffffff ? 0x7fffffff : (int)left;
		}
		r = poll(&p, 1, ms);
	}
	return r < 0 ? -errno : r > 0;
}

int a4s_wait_for_connection(int fd, struct a4s_wait *w)
{
	if (!w->started) {
		int r = start(fd, w);
		if (r)
			return r; /* A4S_WAIT_LET_ACCEPT or -EMFILE */
	}
	bool careful = !w->timed && w->restart && w->interrupt;
	for (;;) {
		if (w->timed && a4s_monotonic_ns() >= w->deadline)
			return -EAGAIN;
		int r = wait_once(fd, w, careful);
		if (r == 1)
			return 0;
		if (r == 0)
			continue; /* a slice, or the timeout checked above */
		if (r != -EINTR)
			return A4S_WAIT_LET_ACCEPT;
		/* A handler ran. Restarted only if every handler that could
		 * have run has SA_RESTART (in a careful wait, those were
		 * blocked: this one had not). */
		if (w->timed || careful || w->interrupt)
			return -EINTR;
	}
}
