#include "real.h"

#include <dlfcn.h>
#include <stdatomic.h>

typedef int accept_fn(int, struct sockaddr *, socklen_t *);
typedef int accept4_fn(int, struct sockaddr *, socklen_t *, int);

/*
 * No pthread_once and no lock: dlsym is idempotent, so two threads racing
 * here both find the same pointers and store the same values. That keeps the
 * first call safe even when it comes from another library's constructor
 * before ours, or from a thread that is cancelled while binding.
 * A missing symbol is stored as this sentinel so we do not look again.
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

static _Atomic(accept_fn *) next_accept;
static _Atomic(accept4_fn *) next_accept4;

void a4s_real_bind(void)
{
	if (atomic_load_explicit(&next_accept4, memory_order_acquire))
		return;
	accept_fn *a = (accept_fn *)dlsym(RTLD_NEXT, "accept");
	accept4_fn *a4 = (accept4_fn *)dlsym(RTLD_NEXT, "accept4");
	atomic_store_explicit(&next_accept, a ? a : missing_accept,
			      memory_order_release);
	atomic_store_explicit(&next_accept4, a4 ? a4 : missing_accept4,
			      memory_order_release);
}

int a4s_real_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	accept_fn *f = atomic_load_explicit(&next_accept, memory_order_acquire);
	if (!f) {
		a4s_real_bind();
		f = atomic_load_explicit(&next_accept, memory_order_acquire);
	}
	return (int)a4s_sysret(f(fd, addr, len));
}

int a4s_real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	accept4_fn *f = atomic_load_explicit(&next_accept4, memory_order_acquire);
	if (!f) {
		a4s_real_bind();
		f = atomic_load_explicit(&next_accept4, memory_order_acquire);
	}
	return (int)a4s_sysret(f(fd, addr, len, flags));
}
