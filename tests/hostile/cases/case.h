/*
 * What the hostile case programs share. A case is an ordinary program, the
 * kind the library is preloaded into: it must print the same thing with and
 * without the library, so it prints results and errno names, never pids,
 * addresses, descriptor numbers it did not choose, or times.
 */
#ifndef A4S_HOSTILE_CASE_H
#define A4S_HOSTILE_CASE_H

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* A step that must work for the case to mean anything: if it fails, the
 * case says so and exits 99, which the runner takes as a case that could
 * not do what it is named for: a failure, even in both runs alike. */
#define MUST(expr)                                                                  \
	do {                                                                        \
		if (!(expr)) {                                                      \
			fprintf(stderr, "case: %s failed: %s\n", #expr, strerror(errno)); \
			exit(99);                                                   \
		}                                                                   \
	} while (0)

/* "-1 ECONNABORTED" or "ok" (a descriptor, whose number is not printed). */
static inline const char *outcome(int r, int err)
{
	static char buf[64];
	if (r >= 0)
		return "ok";
	snprintf(buf, sizeof(buf), "-1 %s", strerrorname_np(err) ? strerrorname_np(err) : "?");
	return buf;
}

/* Prints one line and flushes it, so that output survives a crash at the
 * next step and both runs show how far they got. */
static inline void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* A listening AF_UNIX socket with an abstract name unique to this process
 * and serial; its address in *addr for clients. */
static inline int listener(struct sockaddr_un *addr, socklen_t *len, int sock_flags)
{
	static int serial;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	int n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "a4s-hostile-%d-%d",
			 (int)getpid(), serial++);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	int l = socket(AF_UNIX, SOCK_STREAM | sock_flags, 0);
	MUST(l >= 0);
	MUST(bind(l, (struct sockaddr *)addr, *len) == 0);
	MUST(listen(l, 64) == 0);
	return l;
}

/* A client connection to addr, left open (the caller closes it). */
static inline int connect_to(const struct sockaddr_un *addr, socklen_t len)
{
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	MUST(c >= 0);
	MUST(connect(c, (const struct sockaddr *)addr, len) == 0);
	return c;
}

/*
 * A seccomp filter as a sandbox would install it: each system call in
 * nrs[] (n of them) fails with errs[i]; everything else runs. For good, in
 * this process and its children.
 */
static inline void refuse_syscalls(const long *nrs, const int *errs, int n)
{
	struct sock_filter f[64];
	unsigned short k = 0;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n && k < 60; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						      SECCOMP_RET_ERRNO | ((unsigned)errs[i] & 0xffff));
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = k, .filter = f };
	MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	MUST(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0);
}

/* A system call's number from its name, for the cases' command lines. */
static inline long syscall_number(const char *name)
{
	static const struct {
		const char *name;
		long nr;
	} table[] = {
		{ "accept", SYS_accept },     { "accept4", SYS_accept4 },
		{ "futex", SYS_futex },       { "getsockopt", SYS_getsockopt },
		{ "fcntl", SYS_fcntl },       { "statx", SYS_statx },
		{ "fstat", SYS_fstat },       { "newfstatat", SYS_newfstatat },
		{ "openat", SYS_openat },     { "socket", SYS_socket },
		{ "connect", SYS_connect },   { "prlimit64", SYS_prlimit64 },
		{ "rt_sigprocmask", SYS_rt_sigprocmask },
		{ "madvise", SYS_madvise },   { "mmap", SYS_mmap },
		{ "getpid", SYS_getpid },     { "gettid", SYS_gettid },
		{ "getsockname", SYS_getsockname }, { "getpeername", SYS_getpeername },
		{ "write", SYS_write },       { "writev", SYS_writev },
		{ "sendto", SYS_sendto },     { "sendmsg", SYS_sendmsg },
		{ "close", SYS_close },       { "clock_gettime", SYS_clock_gettime },
		{ "rt_sigpending", SYS_rt_sigpending },
		{ "rt_sigtimedwait", SYS_rt_sigtimedwait },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].name, name) == 0)
			return table[i].nr;
	fprintf(stderr, "case: unknown system call %s\n", name);
	exit(99);
}

/* "NAME=ERRNO,NAME=ERRNO": the policy of refuse_syscalls from a string,
 * e.g. "accept=ECONNABORTED,accept4=ECONNABORTED,futex=ENOSYS". */
static inline void refuse_from(const char *spec)
{
	if (strcmp(spec, "none") == 0)
		return;
	long nrs[28];
	int errs[28], n = 0;
	char copy[512];
	snprintf(copy, sizeof(copy), "%s", spec);
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && n < 28;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		MUST(eq != NULL);
		*eq = '\0';
		int err = 0;
		for (int e = 1; e < 134 && !err; e++)
			if (strerrorname_np(e) && strcmp(strerrorname_np(e), eq + 1) == 0)
				err = e;
		MUST(err != 0);
		nrs[n] = syscall_number(tok);
		errs[n++] = err;
	}
	refuse_syscalls(nrs, errs, n);
}

#endif
