/*
 * Stand-ins for a real function that is not there: a C library without
 * accept4, or without _Fork (before glibc 2.34), or a program linked with
 * the archive but without one of the optional --wrap options (bind.h).
 * Each fails with ENOSYS, as a kernel without the call would, in the way
 * its function reports errors. Named after the function's type, so that
 * bind.h's list picks the stand-in (a4s_missing_a4s_spawn_fn, ...).
 */
#ifndef A4S_BIND_MISSING_H
#define A4S_BIND_MISSING_H

#include <errno.h>

#include "bind.h"

static inline int a4s_missing_a4s_accept_fn(int fd, struct sockaddr *a, socklen_t *l)
{
	(void)fd, (void)a, (void)l;
	errno = ENOSYS;
	return -1;
}

static inline int a4s_missing_a4s_accept4_fn(int fd, struct sockaddr *a, socklen_t *l, int f)
{
	(void)fd, (void)a, (void)l, (void)f;
	errno = ENOSYS;
	return -1;
}

/* posix_spawn returns the error rather than setting errno. */
static inline int a4s_missing_a4s_spawn_fn(pid_t *restrict pid, const char *restrict path,
					   const posix_spawn_file_actions_t *fa,
					   const posix_spawnattr_t *restrict attr,
					   char *const argv[restrict], char *const envp[restrict])
{
	(void)pid, (void)path, (void)fa, (void)attr, (void)argv, (void)envp;
	return ENOSYS;
}

static inline pid_t a4s_missing_a4s_ufork_fn(void)
{
	errno = ENOSYS;
	return -1;
}

static inline int a4s_missing_a4s_setrlimit_fn(int resource, const void *rlim)
{
	(void)resource, (void)rlim;
	errno = ENOSYS;
	return -1;
}

static inline int a4s_missing_a4s_prlimit_fn(pid_t pid, int resource, const void *rlim,
					     void *old)
{
	(void)pid, (void)resource, (void)rlim, (void)old;
	errno = ENOSYS;
	return -1;
}

static inline long a4s_missing_a4s_ulimit_fn(int cmd, ...)
{
	(void)cmd;
	errno = ENOSYS;
	return -1;
}

#endif
