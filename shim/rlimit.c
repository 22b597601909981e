/*
 * The exported edge for the calls that change the process's limits:
 * setrlimit, setrlimit64, prlimit, prlimit64 and ulimit. Each is the C
 * library's, with one thing added when it may change RLIMIT_FSIZE: the
 * trace learns the new limit before the call returns to the program
 * (fsize.h), so that the program's next call cannot have its record raise
 * SIGXFSZ. Every other call goes straight on. In the archive they are
 * __wrap_NAME (bind.h).
 *
 * The C library's <sys/resource.h> and <ulimit.h> are not included: their
 * declarations differ between C libraries (glibc's enum resource, musl's
 * macros that rename the ...64 functions), and the limits are only passed
 * on, never read. The resource is an int in every ABI; RLIMIT_FSIZE is 1 on
 * every Linux architecture (fsize.c checks it against the header).
 */
#include <stdarg.h>
#include <sys/types.h>

#include "bind.h"
#include "fsize.h"

#define A4S_EXPORT __attribute__((visibility("default")))
#define A4S_RLIMIT_FSIZE 1
#define A4S_UL_SETFSIZE 2 /* ulimit(UL_SETFSIZE, blocks): glibc's and musl's */

A4S_EXPORT int setrlimit(int resource, const void *rlim);
A4S_EXPORT int setrlimit64(int resource, const void *rlim);
A4S_EXPORT int prlimit(pid_t pid, int resource, const void *rlim, void *old);
A4S_EXPORT int prlimit64(pid_t pid, int resource, const void *rlim, void *old);
A4S_EXPORT long ulimit(int cmd, ...);

/* A NULL new limit changes nothing (a read, or EFAULT). Any pid: one of
 * our threads' ids names this process too, and a look costs little. */
static int set_through(a4s_setrlimit_fn *real, int resource, const void *rlim)
{
	if (resource != A4S_RLIMIT_FSIZE || !rlim)
		return real(resource, rlim);
	struct a4s_fsize_change c;
	a4s_fsize_change_begin(&c);
	int r = real(resource, rlim);
	a4s_fsize_change_end(&c);
	return r;
}

static int prlimit_through(a4s_prlimit_fn *real, pid_t pid, int resource, const void *rlim,
			   void *old)
{
	if (resource != A4S_RLIMIT_FSIZE || !rlim)
		return real(pid, resource, rlim, old);
	struct a4s_fsize_change c;
	a4s_fsize_change_begin(&c);
	int r = real(pid, resource, rlim, old);
	a4s_fsize_change_end(&c);
	return r;
}

int setrlimit(int resource, const void *rlim)
{
	return set_through(a4s_bound_setrlimit(), resource, rlim);
}

int setrlimit64(int resource, const void *rlim)
{
	return set_through(a4s_bound_setrlimit64(), resource, rlim);
}

int prlimit(pid_t pid, int resource, const void *rlim, void *old)
{
	return prlimit_through(a4s_bound_prlimit(), pid, resource, rlim, old);
}

int prlimit64(pid_t pid, int resource, const void *rlim, void *old)
{
	return prlimit_through(a4s_bound_prlimit64(), pid, resource, rlim, old);
}

/* ulimit is variadic: only UL_SETFSIZE takes an argument (a long), and only
 * then is one read. The C library's ulimit sets the limit with its own
 * internal setrlimit, which no interposer sees. */
long ulimit(int cmd, ...)
{
	a4s_ulimit_fn *real = a4s_bound_ulimit();
	if (cmd != A4S_UL_SETFSIZE)
		return real(cmd);
	va_list ap;
	va_start(ap, cmd);
	long blocks = va_arg(ap, long);
	va_end(ap);
	struct a4s_fsize_change c;
	a4s_fsize_change_begin(&c);
	long r = real(cmd, blocks);
	a4s_fsize_change_end(&c);
	return r;
}
