#include "real.h"

/* By value, not a pointer to our frame: a call left by siglongjmp from a
 * signal handler leaves nothing dangling. */
__thread struct a4s_real_call a4s_real_in_accept4 __attribute__((tls_model("initial-exec")));

struct a4s_real_fns a4s_real_fns;

void a4s_real_bind(void)
{
	a4s_bind();
	atomic_store_explicit(&a4s_real_fns.accept, a4s_bound_accept(), memory_order_relaxed);
	atomic_store_explicit(&a4s_real_fns.accept4, a4s_bound_accept4(), memory_order_relaxed);
}

#ifndef __GLIBC__
int a4s_real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags, bool *by_libc)
{
	/* A successful call leaves errno alone, glibc's included; musl's
	 * accept4 keeps the ENOSYS of its first attempt when it falls back
	 * to accept. The caller's errno is put back at the exported edge. */
	errno = 0;
	struct a4s_real_call outer = a4s_real_in_accept4;
	a4s_real_in_accept4 = (struct a4s_real_call){ true, fd, addr, len };
	int r = a4s_bound_accept4()(fd, addr, len, flags);
	a4s_real_in_accept4 = outer;
	if (r < 0)
		return errno > 0 ? -errno : -EIO; /* never "fd 0" */
	*by_libc = flags != 0 && errno == ENOSYS;
	return r;
}
#endif
