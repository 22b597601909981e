/*
 * The system calls the library makes on its own behalf.
 *
 * They go straight to the kernel through syscall(2) rather than through the
 * libc wrappers, for three reasons: another preloaded library may have hooked
 * fcntl or write, and we must not re-enter it; the raw calls are not
 * cancellation points, so a thread cancelled after its accept succeeded
 * cannot be torn out of our bookkeeping with a new descriptor in hand; and
 * each returns -errno, so errno is only ever set at the exported edge.
 *
 * The accept itself is *not* made here: it goes through the next accept or
 * accept4 in the link chain (see real.h), so that it stays a cancellation
 * point and other interposers below us still see it.
 */
#ifndef A4S_SYS_H
#define A4S_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel.h"

#define A4S_HIDDEN __attribute__((visibility("hidden")))

static inline long a4s_sysret(long r)
{
	return r == -1 ? -errno : r;
}

static inline int a4s_fcntl(int fd, int cmd, long arg)
{
	return (int)a4s_sysret(syscall(SYS_fcntl, fd, cmd, arg));
}

static inline int a4s_fcntl_ptr(int fd, int cmd, void *arg)
{
	return (int)a4s_sysret(syscall(SYS_fcntl, fd, cmd, arg));
}

static inline int a4s_close(int fd)
{
	return (int)a4s_sysret(syscall(SYS_close, fd));
}

static inline long a4s_write(int fd, const void *buf, size_t len)
{
	return a4s_sysret(syscall(SYS_write, fd, buf, len));
}

static inline long a4s_send(int fd, const void *buf, size_t len, int flags)
{
	return a4s_sysret(syscall(SYS_sendto, fd, buf, len, flags, NULL, 0));
}

static inline int a4s_fstat(int fd, struct stat *st)
{
	return (int)a4s_sysret(syscall(SYS_fstat, fd, st));
}

static inline int a4s_statx(int fd, const char *path, int flags, unsigned mask,
			    struct a4s_statx *sx)
{
	return (int)a4s_sysret(syscall(SYS_statx, fd, path, flags, mask, sx));
}

static inline int a4s_openat(int dirfd, const char *path, int flags, int mode)
{
	return (int)a4s_sysret(syscall(SYS_openat, dirfd, path, flags, mode));
}

static inline int a4s_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	return (int)a4s_sysret(syscall(SYS_getsockname, fd, sa, len));
}

static inline int a4s_getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	return (int)a4s_sysret(syscall(SYS_getpeername, fd, sa, len));
}

static inline int a4s_getsockopt_int(int fd, int level, int name, int *val)
{
	socklen_t len = sizeof(*val);
	return (int)a4s_sysret(syscall(SYS_getsockopt, fd, level, name, val, &len));
}

static inline int a4s_dup3(int fd, int to, int flags)
{
	return (int)a4s_sysret(syscall(SYS_dup3, fd, to, flags));
}

static inline int a4s_ftruncate(int fd, long long size)
{
	return (int)a4s_sysret(syscall(SYS_ftruncate, fd, size));
}

static inline int a4s_geteuid(void)
{
	return (int)syscall(SYS_geteuid);
}

/* prlimit64 on this process: sets *set if given, returns the old value in
 * *old if given; 0 or -errno. */
static inline int a4s_prlimit(int resource, const struct a4s_rlimit64 *set,
			      struct a4s_rlimit64 *old)
{
	return (int)a4s_sysret(syscall(SYS_prlimit64, 0, resource, set, old));
}

static inline int a4s_openat2(int dirfd, const char *path, const struct a4s_open_how *how)
{
	return (int)a4s_sysret(syscall(SYS_openat2, dirfd, path, how, sizeof(*how)));
}

static inline int a4s_gettid(void)
{
	return (int)syscall(SYS_gettid);
}

static inline int a4s_getpid(void)
{
	return (int)syscall(SYS_getpid);
}

#endif
