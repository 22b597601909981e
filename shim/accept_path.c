#include "accept_path.h"

#include "fastpath.h"
#include "fdstate.h"
#include "flags.h"
#include "mode.h"
#include "real.h"
#include "retry.h"
#include "window.h"

struct attempt {
	const struct a4s_config *cfg;
	struct a4s_call *call;
	int sock_flags; /* what the new socket must end up with */
	int done_flags; /* what the kernel (or the fork window) already gave it */
	bool by_libc;   /* the C library emulated accept4 (see real.h) */
	bool bare;      /* accept() with no flag to add: the plain accept */
};

/* One accept, native or emulated. On the emulated path the kernel gives the
 * socket no flags and a4s_fdstate_apply adds them afterwards, except
 * close-on-exec, which the fork window sets before any child can be made
 * (window.h): the native path and an emulated one without SOCK_CLOEXEC never
 * go near it. */
static int attempt_once(void *ctx)
{
	struct attempt *a = ctx;
	struct a4s_call *c = a->call;

	/* accept() with no flag to add is a plain accept in every mode, also
	 * under INHERIT=bsd (which copies the listener's state afterwards):
	 * accept4(0) would gain nothing, and where a sandbox refuses accept4
	 * it would turn the program's accept() into ENOSYS under MODE=native. */
	if (a->bare)
		return a4s_real_accept(c->listen_fd, c->addr, c->addrlen);
	if (a4s_mode_wants_native(a->cfg->mode, a4s_mode_switched())) {
		int r = a4s_real_accept4(c->listen_fd, c->addr, c->addrlen,
					 a->sock_flags, &a->by_libc);
		if (!a4s_mode_should_switch(a->cfg->mode, r)) {
			a->done_flags = a->sock_flags;
			/* The C library met the kernel's ENOSYS and emulated:
			 * the same proof, so MODE=auto stops asking, and the
			 * flags were set after the accept, as ours would be. */
			if (r >= 0 && a->by_libc &&
			    a4s_mode_should_switch(a->cfg->mode, -ENOSYS))
				a4s_mode_switch_to_emulation();
			return r;
		}
		a4s_mode_switch_to_emulation();
	}
	if (a->sock_flags & SOCK_CLOEXEC) {
		a->done_flags = SOCK_CLOEXEC;
		int fd = a4s_window_accept(c->listen_fd, c->addr, c->addrlen);
		if (fd >= 0)
			c->emulated = true; /* the library set FD_CLOEXEC */
		return fd;
	}
	a->done_flags = 0;
	return a4s_real_accept(c->listen_fd, c->addr, c->addrlen);
}

int a4s_accept_call(const struct a4s_config *cfg, struct a4s_call *c)
{
	/* Checked before anything is dequeued, so a call with bad flags
	 * leaves the pending connection where it was, in every mode. */
	if (c->is_accept4 && !a4s_flags_valid(c->flags))
		return -EINVAL;

	bool bsd = !c->is_accept4 && cfg->inherit == A4S_INHERIT_BSD;
	struct attempt a = {
		.cfg = cfg,
		.call = c,
		.sock_flags = c->flags | cfg->add_flags,
	};
	a.bare = !c->is_accept4 && a.sock_flags == 0;

	int fd;
	if (cfg->retry)
		fd = a4s_retry_accept(attempt_once, &a, c->listen_fd, c->addr, c->addrlen,
				      &c->retries);
	else
		fd = attempt_once(&a);
	if (fd < 0 || (a.bare && !bsd))
		return fd; /* nothing to set: no fcntl, not even a read */

	struct a4s_fdstate have, want;
	a4s_fdstate_fresh(&have, a.done_flags);
	a4s_fdstate_fresh(&want, a.sock_flags);
	if (bsd) {
		/* Read after the accept, so that what is copied is the
		 * listener's state when the call returns, and a call that
		 * accepts nothing (EAGAIN) costs nothing more. Inherited first,
		 * added flags on top. */
		struct a4s_fdstate listener;
		int r = a4s_fdstate_read(c->listen_fd, &listener);
		if (r < 0) {
			a4s_close(fd);
			return r;
		}
		want.status |= listener.status;
		want.owner = listener.owner;
		want.sig = listener.sig;
	}
	int calls = a4s_fdstate_apply(fd, &have, &want);
	if (calls < 0) {
		/* No descriptor leaks: the caller never learns of this socket,
		 * so it is closed here, with the failing step's errno. */
		a4s_close(fd);
		return calls;
	}
	if (calls > 0 || a.by_libc)
		c->emulated = true;
	return fd;
}

int a4s_accept_fast(int word, struct a4s_call *c, int sock_flags)
{
	if (word & A4S_FAST_EMULATE) {
		int s = a4s_accept_emulated(c->listen_fd, c->addr, c->addrlen, sock_flags);
		c->emulated = s >= 0 && sock_flags;
		return s;
	}
	if (!c->is_accept4 && !sock_flags)
		return a4s_real_accept(c->listen_fd, c->addr, c->addrlen); /* see attempt_once */
	bool by_libc = false;
	int r = a4s_real_accept4(c->listen_fd, c->addr, c->addrlen, sock_flags, &by_libc);
	if (r == -ENOSYS && (word & A4S_FAST_AUTO)) {
		a4s_mode_switch_to_emulation();
		return A4S_ACCEPT_GENERAL;
	}
	if (r >= 0 && by_libc) {
		/* The C library emulated (real.h): the same proof. */
		c->emulated = true;
		if (word & A4S_FAST_AUTO)
			a4s_mode_switch_to_emulation();
	}
	return r;
}
