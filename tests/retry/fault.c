/*
 * A fault injector for the retry tests (never installed): preloaded after
 * libaccept4shim.so, LD_PRELOAD="libaccept4shim.so:liba4s_fault.so", it is
 * what the library's dlsym(RTLD_NEXT, "accept") finds, so it sits between
 * the library and the C library and can make the next accepts fail.
 *
 * The test arms it through a4s_fault_arm (looked up with dlsym): the next n
 * calls of accept or accept4 fail with err, then, if then_err is not 0, one
 * more fails with then_err; after that calls go to the real functions.
 *
 * A failed accept in the kernel never writes *addrlen. This layer leaves it
 * alone on the first failure of a burst too (the library reads the caller's
 * value after the first failure), but clobbers it on the later ones, so a
 * library that did not put it back before each retry hands the final,
 * successful accept a wrong length; a4s_fault_seen_len tells what that
 * accept received.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define EXPORT __attribute__((visibility("default")))

typedef int accept_fn(int, struct sockaddr *, socklen_t *);
typedef int accept4_fn(int, struct sockaddr *, socklen_t *, int);

static atomic_int left, error, then_error;
static atomic_bool first_of_burst;
static atomic_uint calls;
static atomic_long seen_len = -2;

EXPORT void a4s_fault_arm(int n, int err, int then_err);
EXPORT unsigned a4s_fault_calls(void);
EXPORT long a4s_fault_seen_len(void);

void a4s_fault_arm(int n, int err, int then_err)
{
	atomic_store(&error, err);
	atomic_store(&then_error, then_err);
	atomic_store(&first_of_burst, true);
	atomic_store(&left, n);
}

/* accept and accept4 calls that reached this layer. */
unsigned a4s_fault_calls(void)
{
	return atomic_load(&calls);
}

/* *addrlen as the last call passed on to the C library received it; -1 for
 * a NULL addrlen, -2 before any. */
long a4s_fault_seen_len(void)
{
	return atomic_load(&seen_len);
}

/* true: fail this call with errno set. With addr NULL the kernel never
 * looks at addrlen, and neither does this layer (it may be a bad pointer). */
static bool inject(struct sockaddr *addr, socklen_t *addrlen)
{
	if (!addr)
		addrlen = NULL;
	atomic_fetch_add(&calls, 1);
	int err = 0;
	int n = atomic_load(&left);
	while (n > 0 && !atomic_compare_exchange_weak(&left, &n, n - 1))
		;
	if (n > 0)
		err = atomic_load(&error);
	else
		err = atomic_exchange(&then_error, 0);
	if (!err) {
		atomic_store(&seen_len, addrlen ? (long)*addrlen : -1L);
		return false;
	}
	if (!atomic_exchange(&first_of_burst, false) && addrlen)
		*addrlen = 1;
	errno = err;
	return true;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	if (inject(addr, addrlen))
		return -1;
	accept_fn *next = (accept_fn *)dlsym(RTLD_NEXT, "accept");
	return next(fd, addr, addrlen);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	if (inject(addr, addrlen))
		return -1;
	accept4_fn *next = (accept4_fn *)dlsym(RTLD_NEXT, "accept4");
	return next(fd, addr, addrlen, flags);
}
