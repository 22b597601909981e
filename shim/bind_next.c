/* The preloaded library's binding (see bind.h): the next accept and accept4
 * in the symbol search order, normally the C library's, or those of another
 * interposer preloaded after us. */
#include "bind.h"

#include <dlfcn.h>
#include <stdatomic.h>

/*
 * No pthread_once and no lock: dlsym is idempotent, so two threads racing
 * here both find the same pointers and store the same values. That keeps the
 * first call safe even when it comes from another library's constructor
 * before ours, or from a thread that is cancelled while binding.
 * A missing symbol is stored as a stand-in so we do not look again.
 */
static int missing_accept4(int fd, struct sockaddr *a, socklen_t *l, int f)
{
	(void)fd, (void)a, (void)l, (void)f;
	errno = ENOSYS;
	return -1;
}

static int missing_accept(int fd, struct sockaddr *a, socklen_t *l)
{
	(void)fd, (void)a, (void)l;
	errno = ENOSYS;
	return -1;
}

static _Atomic(a4s_accept_fn *) next_accept;
static _Atomic(a4s_accept4_fn *) next_accept4;

void a4s_bind(void)
{
	if (atomic_load_explicit(&next_accept4, memory_order_acquire))
		return;
	a4s_accept_fn *a = (a4s_accept_fn *)dlsym(RTLD_NEXT, "accept");
	a4s_accept4_fn *a4 = (a4s_accept4_fn *)dlsym(RTLD_NEXT, "accept4");
	atomic_store_explicit(&next_accept, a ? a : missing_accept, memory_order_release);
	atomic_store_explicit(&next_accept4, a4 ? a4 : missing_accept4, memory_order_release);
}

a4s_accept_fn *a4s_bound_accept(void)
{
	a4s_accept_fn *f = atomic_load_explicit(&next_accept, memory_order_acquire);
	if (!f) {
		a4s_bind();
		f = atomic_load_explicit(&next_accept, memory_order_acquire);
	}
	return f;
}

a4s_accept4_fn *a4s_bound_accept4(void)
{
	a4s_accept4_fn *f = atomic_load_explicit(&next_accept4, memory_order_acquire);
	if (!f) {
		a4s_bind();
		f = atomic_load_explicit(&next_accept4, memory_order_acquire);
	}
	return f;
}
