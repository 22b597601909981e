#include "readiness.h"

#include <poll.h>
#include <signal.h>
#include <sys/time.h>

#include "clock.h"
#include "kernel.h"

bool a4s_accept_would_restart(void)
{
	uint64_t blocked = 0;
	if (a4s_sysret(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &blocked, A4S_SIGSET_SIZE)) < 0)
		return false;
	for (int sig = 1; sig <= 64; sig++) {
		struct a4s_kernel_sigaction sa;
		if (sig == SIGKILL || sig == SIGSTOP || (blocked >> (sig - 1) & 1) ||
		    syscall(SYS_rt_sigaction, sig, NULL, &sa, A4S_SIGSET_SIZE) != 0)
			continue;
		/* The default and ignoring run no handler: the kernel restarts
		 * poll by itself (or the process is gone). */
		if (sa.handler == (void *)SIG_DFL || sa.handler == (void *)SIG_IGN)
			continue;
		if (!(sa.flags & SA_RESTART))
			return false;
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
	w->timed = tv.tv_sec > 0 || tv.tv_usec > 0;
	w->deadline = a4s_monotonic_ns() + (uint64_t)tv.tv_sec * A4S_SECOND_NS +
		      (uint64_t)tv.tv_usec * 1000u;
	w->started = true;
	return 0;
}

int a4s_wait_for_connection(int fd, struct a4s_wait *w)
{
	if (!w->started) {
		int r = start(fd, w);
		if (r)
			return r;
	}
	for (;;) {
		int ms = -1;
		if (w->timed) {
			uint64_t now = a4s_monotonic_ns();
			if (now >= w->deadline)
				return -EAGAIN;
			uint64_t left = (w->deadline - now + 999999u) / 1000000u;
			ms = left > 0x7fffffff ? 0x7fffffff : (int)left;
		}
		/* The C library's poll: a cancellation point, as accept is,
		 * at a moment this thread holds nothing of ours. */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r == 0)
			continue; /* the deadline is checked above */
		if (errno != EINTR)
			return A4S_WAIT_LET_ACCEPT;
		/* A handler ran. accept with SO_RCVTIMEO is never restarted
		 * (signal(7)); without, only after a handler with SA_RESTART. */
		if (w->timed || !a4s_accept_would_restart())
			return -EINTR;
	}
}
