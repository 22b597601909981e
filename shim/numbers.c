/*
 * The exported close, close_range, closefrom, dup2, dup3 and listen: the
 * C library's calls through which a descriptor number can come to name
 * another listening socket, or a listening socket get another address
 * (listeners.h). Each is the next definition's call (the C library's, or
 * that of an interposer preloaded after us), with the numbers it touches
 * pinned in the listener cache from before it until it has returned. Like
 * spawn.c, only in the preloaded library.
 *
 * A process that writes no record pays one load per call here and pins
 * nothing. errno is the real call's: the cache's work sets none. Every one
 * of these is async-signal-safe in the C library (closefrom aside, which
 * is not required to be), and stays so: atomics only.
 *
 * The next definitions are bound at load (a signal handler may close, and
 * dlsym is not async-signal-safe), or at the first call if that comes
 * before our constructor (another library's). Should one not be found, the
 * system call itself is made, so that the program can still close and
 * listen (a C library without close_range or closefrom has programs that
 * never call them by that name).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listeners.h"
#include "window.h"

#define A4S_EXPORT __attribute__((visibility("default")))

#ifndef SYS_close_range
#define SYS_close_range 436 /* the same number on every architecture */
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1u << 2)
#endif
/* Declared here too: a C library without them (musl 1.2.3, glibc before
 * 2.34) declares neither. */
int close_range(unsigned lo, unsigned hi, int flags);
void closefrom(int lo);

typedef int close_fn(int);
typedef int close_range_fn(unsigned, unsigned, int);
typedef void closefrom_fn(int);
typedef int dup2_fn(int, int);
typedef int dup3_fn(int, int, int);
typedef int listen_fn(int, int);

static _Atomic(close_fn *) next_close;
static _Atomic(close_range_fn *) next_close_range;
static _Atomic(closefrom_fn *) next_closefrom;
static _Atomic(dup2_fn *) next_dup2;
static _Atomic(dup3_fn *) next_dup3;
static _Atomic(listen_fn *) next_listen;

/* The stand-ins: the system call itself, errno set as the C library does. */
static int set_errno(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

static int sys_close(int fd)
{
	return set_errno(a4s_syscall(SYS_close, fd));
}

static int sys_close_range(unsigned lo, unsigned hi, int flags)
{
	return set_errno(a4s_syscall(SYS_close_range, lo, hi, flags));
}

static void sys_closefrom(int lo)
{
	int saved_errno = errno;
	(void)a4s_syscall(SYS_close_range, lo, ~0u, 0);
	errno = saved_errno;
}

static int sys_dup3(int fd, int to, int flags)
{
	return set_errno(a4s_syscall(SYS_dup3, fd, to, flags));
}

static int sys_dup2(int fd, int to)
{
	if (fd == to) /* dup3 refuses what dup2 allows: checked as dup2 does */
		return set_errno(a4s_syscall(SYS_fcntl, fd, F_GETFD) < 0 ? -EBADF : fd);
	return sys_dup3(fd, to, 0);
}

static int sys_listen(int fd, int backlog)
{
	return set_errno(a4s_syscall(SYS_listen, fd, backlog));
}

#define BIND(var, name, standin)                                                       \
	do {                                                                           \
		void *f = dlsym(RTLD_NEXT, name);                                      \
		atomic_store_explicit(&var, f ? (__typeof__(standin) *)f : standin,    \
				      memory_order_release);                           \
	} while (0)

/* Idempotent, no lock: racing threads store the same pointers. */
static void bind_next(void)
{
	if (atomic_load_explicit(&next_listen, memory_order_acquire))
		return;
	BIND(next_close, "close", sys_close);
	BIND(next_close_range, "close_range", sys_close_range);
	BIND(next_closefrom, "closefrom", sys_closefrom);
	BIND(next_dup2, "dup2", sys_dup2);
	BIND(next_dup3, "dup3", sys_dup3);
	BIND(next_listen, "listen", sys_listen);
}

__attribute__((constructor)) static void bind_at_load(void)
{
	int saved_errno = errno;
	bind_next();
	a4s_listeners_watched();
	errno = saved_errno;
}

#define NEXT(var)                                                                      \
	({                                                                             \
		__typeof__(atomic_load(&var)) f_ =                                     \
			atomic_load_explicit(&var, memory_order_acquire);              \
		if (__builtin_expect(!f_, 0)) {                                        \
			bind_next();                                                   \
			f_ = atomic_load_explicit(&var, memory_order_acquire);         \
		}                                                                      \
		f_;                                                                    \
	})

/*
 * Around each call: before it, the listener cache pins the numbers it may
 * change (only in a process that writes records); after it, whatever it
 * returned, the fork window forgets what it knew of them (window.h, in
 * every process), then the pins go. Each clamps lo..hi to what it keeps.
 */
static bool before(int lo, int hi)
{
	if (!a4s_listeners_active())
		return false;
	a4s_listeners_pin(lo, hi);
	return true;
}

static void after(int lo, int hi, bool pinned)
{
	a4s_window_forget(lo, hi);
	if (pinned)
		a4s_listeners_unpin(lo, hi);
}

A4S_EXPORT int close(int fd)
{
	close_fn *real = NEXT(next_close);
	bool pinned = before(fd, fd);
	int r = real(fd);
	after(fd, fd, pinned);
	return r;
}

A4S_EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
	close_range_fn *real = NEXT(next_close_range);
	/* CLOSE_RANGE_CLOEXEC alone closes nothing. */
	if (flags & CLOSE_RANGE_CLOEXEC)
		return real(lo, hi, flags);
	int first = lo > (unsigned)A4S_WINDOW_KINDS ? A4S_WINDOW_KINDS : (int)lo;
	int last = hi >= (unsigned)A4S_WINDOW_KINDS ? A4S_WINDOW_KINDS - 1 : (int)hi;
	bool pinned = before(first, last);
	int r = real(lo, hi, flags);
	after(first, last, pinned);
	return r;
}

A4S_EXPORT void closefrom(int lo)
{
	closefrom_fn *real = NEXT(next_closefrom);
	bool pinned = before(lo, A4S_WINDOW_KINDS - 1);
	real(lo);
	after(lo, A4S_WINDOW_KINDS - 1, pinned);
}

A4S_EXPORT int dup2(int fd, int to)
{
	dup2_fn *real = NEXT(next_dup2);
	bool pinned = before(to, to);
	int r = real(fd, to);
	after(to, to, pinned);
	return r;
}

A4S_EXPORT int dup3(int fd, int to, int flags)
{
	dup3_fn *real = NEXT(next_dup3);
	bool pinned = before(to, to);
	int r = real(fd, to, flags);
	after(to, to, pinned);
	return r;
}

A4S_EXPORT int listen(int fd, int backlog)
{
	listen_fn *real = NEXT(next_listen);
	bool pinned = before(fd, fd);
	int r = real(fd, backlog);
	after(fd, fd, pinned);
	return r;
}
