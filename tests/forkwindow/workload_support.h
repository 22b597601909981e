/*
 * What workload.c needs from a test harness: T_ASSERT, T_CHECK and an
 * AF_UNIX listener with an abstract name. In the Check suites, the
 * harness's own. Built with -DA4S_WORKLOAD_STANDALONE (the static programs
 * of tests/reach, glibc and musl, where Check is not built), the few lines
 * below instead: a failed check prints where and why, and exits 1.
 */
#ifndef A4S_WORKLOAD_SUPPORT_H
#define A4S_WORKLOAD_SUPPORT_H

#ifndef A4S_WORKLOAD_STANDALONE
#include "harness.h"
#else
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define T_ASSERT(expr, ...)                                              \
	do {                                                             \
		if (!(expr)) {                                           \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                    \
			fputc('\n', stderr);                             \
			exit(1);                                         \
		}                                                        \
	} while (0)
#define T_CHECK(expr) T_ASSERT((expr), "%s failed: %s", #expr, strerror(errno))

enum t_family { T_UNIX_ABSTRACT };

struct t_listener {
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* A listener whose abstract name the kernel picks (autobind). */
static inline void t_listen(struct t_listener *l, enum t_family f, int sock_flags)
{
	(void)f;
	memset(l, 0, sizeof(*l));
	l->fd = socket(AF_UNIX, SOCK_STREAM | sock_flags, 0);
	T_CHECK(l->fd >= 0);
	sa_family_t family = AF_UNIX;
	T_CHECK(bind(l->fd, (const struct sockaddr *)&family, sizeof(family)) == 0);
	T_CHECK(listen(l->fd, 128) == 0);
	l->addrlen = sizeof(l->addr);
	T_CHECK(getsockname(l->fd, (struct sockaddr *)&l->addr, &l->addrlen) == 0);
}

static inline void t_close_listener(struct t_listener *l)
{
	close(l->fd);
	l->fd = -1;
}
#endif

#endif
