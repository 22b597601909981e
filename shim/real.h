/*
 * The accept and accept4 that the program would have called without us,
 * reached through the binding of this build (bind.h), in the library's
 * -errno convention.
 */
#ifndef A4S_REAL_H
#define A4S_REAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "bind.h"

/* Looks both up once; safe to call from any thread, any number of times,
 * also before our constructor has run. */
A4S_HIDDEN void a4s_real_bind(void);

/* The functions a4s_real_bind found, for the calls that must cost least
 * (the fast path, the fork window): NULL before it has run. */
struct a4s_real_fns {
	a4s_accept_fn *_Atomic accept;
	a4s_accept4_fn *_Atomic accept4;
};
A4S_HIDDEN extern struct a4s_real_fns a4s_real_fns;

/* Both return the new descriptor or -errno. A C library without accept4
 * answers -ENOSYS, just as a kernel without it does. */
static inline int a4s_real_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	a4s_accept_fn *f = atomic_load_explicit(&a4s_real_fns.accept, memory_order_relaxed);
	if (__builtin_expect(!f, 0))
		f = a4s_bound_accept();
	return (int)a4s_sysret(f(fd, addr, len));
}

/*
 * *by_libc is set when the C library made the socket with accept and fcntl
 * because the kernel answered ENOSYS, which is itself the proof that the
 * kernel (or a sandbox) has no accept4. musl does that inside its accept4
 * and succeeds, so only the ENOSYS it leaves in errno tells. glibc never
 * does (its accept4 is the system call alone): there *by_libc is left as
 * the caller set it, false.
 */
#ifdef __GLIBC__
static inline int a4s_real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags,
				   bool *by_libc)
{
	(void)by_libc;
	a4s_accept4_fn *f = atomic_load_explicit(&a4s_real_fns.accept4, memory_order_relaxed);
	if (__builtin_expect(!f, 0))
		f = a4s_bound_accept4();
	return (int)a4s_sysret(f(fd, addr, len, flags));
}
#else
A4S_HIDDEN int a4s_real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags,
				bool *by_libc);
#endif

/*
 * True when this accept() call is the next accept4's own: musl's accept4
 * falls back to accept() with the same arguments, and in a program linked
 * with --wrap (bind.h) that call comes back to our accept, inside our
 * accept4. It must go straight on, untraced and uncounted: otherwise the
 * call would be traced twice and INHERIT=bsd would give an accept4 socket
 * the listener's flags. Set per thread, for the length of the call only.
 */
struct a4s_real_call {
	bool active;
	int fd;
	const struct sockaddr *addr;
	const socklen_t *len;
};
A4S_HIDDEN extern __thread struct a4s_real_call a4s_real_in_accept4
	__attribute__((tls_model("initial-exec")));

static inline bool a4s_real_accept_is_nested(int fd, const struct sockaddr *addr,
					     const socklen_t *len)
{
	const struct a4s_real_call *c = &a4s_real_in_accept4;
	return c->active && c->fd == fd && c->addr == addr && c->len == len;
}

#endif
