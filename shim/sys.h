/*
 * The system calls the library makes on its own behalf.
 *
 * They go straight to the kernel rather than through the libc wrappers, for
 * three reasons: another preloaded library may have hooked fcntl or write,
 * and we must not re-enter it; the raw calls are not cancellation points,
 * so a thread cancelled after its accept succeeded cannot be torn out of
 * our bookkeeping with a new descriptor in hand; and each returns -errno,
 * so errno is only ever set at the exported edge.
 *
 * a4s_syscall(NR, args...) is the one way in: the system call instruction
 * itself, inline, on x86-64 and aarch64 (as musl's src/internal/syscall.h
 * does it), which never touches errno and costs a few instructions where
 * the C library's syscall(2) costs a call, a dozen and errno on failure;
 * elsewhere syscall(2), its -1 turned into -errno.
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

/* A C library function's -1 and errno as -errno. */
static inline long a4s_sysret(long r)
{
	return r == -1 ? -errno : r;
}

#if defined(__x86_64__)
/* The kernel takes the number in rax and the arguments in rdi, rsi, rdx,
 * r10, r8, r9, returns in rax, and clobbers rcx and r11. */
#define A4S_SC_BODY(...)                                                            \
	unsigned long ret;                                                          \
	__asm__ __volatile__("syscall" : "=a"(ret) : __VA_ARGS__ : "rcx", "r11", "memory"); \
	return (long)ret
static inline long a4s_sc6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	A4S_SC_BODY("a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9));
}
static inline long a4s_sc4(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	A4S_SC_BODY("a"(n), "D"(a), "S"(b), "d"(c), "r"(r10));
}
static inline long a4s_sc3(long n, long a, long b, long c)
{
	A4S_SC_BODY("a"(n), "D"(a), "S"(b), "d"(c));
}
static inline long a4s_sc2(long n, long a, long b)
{
	A4S_SC_BODY("a"(n), "D"(a), "S"(b));
}
static inline long a4s_sc1(long n, long a)
{
	A4S_SC_BODY("a"(n), "D"(a));
}
static inline long a4s_sc0(long n)
{
	A4S_SC_BODY("a"(n));
}
#elif defined(__aarch64__)
/* The number in x8, the arguments in x0 to x5, the result in x0. */
#define A4S_SC_REGS(a, b, c, d, e, f)                                               \
	register long x8 __asm__("x8") = n;                                         \
	register long x0 __asm__("x0") = a;                                         \
	register long x1 __asm__("x1") = b;                                         \
	register long x2 __asm__("x2") = c;                                         \
	register long x3 __asm__("x3") = d;                                         \
	register long x4 __asm__("x4") = e;                                         \
	register long x5 __asm__("x5") = f;                                         \
	__asm__ __volatile__("svc 0"                                                \
			     : "+r"(x0)                                             \
			     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) \
			     : "memory", "cc");                                     \
	return x0
static inline long a4s_sc6(long n, long a, long b, long c, long d, long e, long f)
{
	A4S_SC_REGS(a, b, c, d, e, f);
}
static inline long a4s_sc4(long n, long a, long b, long c, long d)
{
	A4S_SC_REGS(a, b, c, d, 0, 0);
}
static inline long a4s_sc3(long n, long a, long b, long c)
{
	A4S_SC_REGS(a, b, c, 0, 0, 0);
}
static inline long a4s_sc2(long n, long a, long b)
{
	A4S_SC_REGS(a, b, 0, 0, 0, 0);
}
static inline long a4s_sc1(long n, long a)
{
	A4S_SC_REGS(a, 0, 0, 0, 0, 0);
}
static inline long a4s_sc0(long n)
{
	A4S_SC_REGS(0, 0, 0, 0, 0, 0);
}
#else
static inline long a4s_sc6(long n, long a, long b, long c, long d, long e, long f)
{
	return a4s_syscall(n, a, b, c, d, e, f);
}
static inline long a4s_sc4(long n, long a, long b, long c, long d)
{
	return a4s_sc6(n, a, b, c, d, 0, 0);
}
static inline long a4s_sc3(long n, long a, long b, long c)
{
	return a4s_sc6(n, a, b, c, 0, 0, 0);
}
static inline long a4s_sc2(long n, long a, long b)
{
	return a4s_sc6(n, a, b, 0, 0, 0, 0);
}
static inline long a4s_sc1(long n, long a)
{
	return a4s_sc6(n, a, 0, 0, 0, 0, 0);
}
static inline long a4s_sc0(long n)
{
	return a4s_sc6(n, 0, 0, 0, 0, 0, 0);
}
#endif

/* a4s_syscall(NR, ...): up to six arguments, each passed as a long. */
#define A4S_SC_L(x) ((long)(x))
#define A4S_SC_N(_0, _1, _2, _3, _4, _5, _6, n, ...) n
#define A4S_SC_CAT(a, b) A4S_SC_CAT_(a, b)
#define A4S_SC_CAT_(a, b) a##b
#define A4S_SC_ARGS0(n) A4S_SC_L(n)
#define A4S_SC_ARGS1(n, a) A4S_SC_L(n), A4S_SC_L(a)
#define A4S_SC_ARGS2(n, a, b) A4S_SC_L(n), A4S_SC_L(a), A4S_SC_L(b)
#define A4S_SC_ARGS3(n, a, b, c) A4S_SC_L(n), A4S_SC_L(a), A4S_SC_L(b), A4S_SC_L(c)
#define A4S_SC_ARGS4(n, a, b, c, d) A4S_SC_ARGS3(n, a, b, c), A4S_SC_L(d)
#define A4S_SC_ARGS5(n, a, b, c, d, e) A4S_SC_ARGS4(n, a, b, c, d), A4S_SC_L(e), 0L
#define A4S_SC_ARGS6(n, a, b, c, d, e, f) A4S_SC_ARGS4(n, a, b, c, d), A4S_SC_L(e), A4S_SC_L(f)
#define A4S_SC_FN0 a4s_sc0
#define A4S_SC_FN1 a4s_sc1
#define A4S_SC_FN2 a4s_sc2
#define A4S_SC_FN3 a4s_sc3
#define A4S_SC_FN4 a4s_sc4
#define A4S_SC_FN5 a4s_sc6
#define A4S_SC_FN6 a4s_sc6
#define A4S_SC_COUNT(...) A4S_SC_N(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0, )
#define a4s_syscall(...)                                                        \
	A4S_SC_CAT(A4S_SC_FN, A4S_SC_COUNT(__VA_ARGS__))                       \
	(A4S_SC_CAT(A4S_SC_ARGS, A4S_SC_COUNT(__VA_ARGS__))(__VA_ARGS__))

static inline int a4s_fcntl(int fd, int cmd, long arg)
{
	return (int)a4s_syscall(SYS_fcntl, fd, cmd, arg);
}

static inline int a4s_fcntl_ptr(int fd, int cmd, void *arg)
{
	return (int)a4s_syscall(SYS_fcntl, fd, cmd, arg);
}

static inline int a4s_close(int fd)
{
	return (int)a4s_syscall(SYS_close, fd);
}

static inline long a4s_write(int fd, const void *buf, size_t len)
{
	return a4s_syscall(SYS_write, fd, buf, len);
}

static inline long a4s_send(int fd, const void *buf, size_t len, int flags)
{
	return a4s_syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

static inline int a4s_fstat(int fd, struct stat *st)
{
	return (int)a4s_syscall(SYS_fstat, fd, st);
}

static inline int a4s_statx(int fd, const char *path, int flags, unsigned mask,
			    struct a4s_statx *sx)
{
	return (int)a4s_syscall(SYS_statx, fd, path, flags, mask, sx);
}

static inline int a4s_openat(int dirfd, const char *path, int flags, int mode)
{
	return (int)a4s_syscall(SYS_openat, dirfd, path, flags, mode);
}

static inline int a4s_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	return (int)a4s_syscall(SYS_getsockname, fd, sa, len);
}

static inline int a4s_getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	return (int)a4s_syscall(SYS_getpeername, fd, sa, len);
}

static inline int a4s_getsockopt_int(int fd, int level, int name, int *val)
{
	socklen_t len = sizeof(*val);
	return (int)a4s_syscall(SYS_getsockopt, fd, level, name, val, &len);
}

static inline int a4s_dup3(int fd, int to, int flags)
{
	return (int)a4s_syscall(SYS_dup3, fd, to, flags);
}

static inline int a4s_ftruncate(int fd, long long size)
{
	return (int)a4s_syscall(SYS_ftruncate, fd, size);
}

static inline int a4s_geteuid(void)
{
	return (int)a4s_syscall(SYS_geteuid);
}

/* prlimit64 on this process: sets *set if given, returns the old value in
 * *old if given; 0 or -errno. */
static inline int a4s_prlimit(int resource, const struct a4s_rlimit64 *set,
			      struct a4s_rlimit64 *old)
{
	return (int)a4s_syscall(SYS_prlimit64, 0, resource, set, old);
}

static inline int a4s_openat2(int dirfd, const char *path, const struct a4s_open_how *how)
{
	return (int)a4s_syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

static inline int a4s_gettid(void)
{
	return (int)a4s_syscall(SYS_gettid);
}

static inline int a4s_getpid(void)
{
	return (int)a4s_syscall(SYS_getpid);
}

#endif
