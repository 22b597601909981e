/*
 * A library whose constructor calls accept4 and accept before
 * libaccept4shim's own constructor has run (test_early_binding preloads it
 * so; see there). It reports what it saw as one line on stderr:
 *
 *   a4s-early: accept4=OK errno=kept nonblock=0 cloexec=1 accept=-1 EBADF
 *              emulated=1 bound=/path/to/libaccept4shim.so
 *
 * Everything is done with the plain libc calls a program would use.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <accept4shim.h>

typedef int get_stats_fn(struct accept4shim_stats *, size_t);

__attribute__((constructor)) static void accept_before_the_shim_is_initialised(void)
{
	char line[512];
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(l, 4) != 0 || getsockname(l, (struct sockaddr *)&sin, &len) != 0 ||
	    connect(c, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		dprintf(2, "a4s-early: setup failed: %s\n", strerror(errno));
		return;
	}

	/* The connection is queued: accept it with SOCK_CLOEXEC. */
	errno = 4321;
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	int err = errno;
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	int fdfl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;

	errno = 0;
	int bad = accept(-1, NULL, NULL);
	int bad_err = errno;

	/* Which accept4 the call went to, and what the library counted. */
	Dl_info info = { 0 };
	void *target = dlsym(RTLD_DEFAULT, "accept4");
	const char *bound = target && dladdr(target, &info) && info.dli_fname ? info.dli_fname : "?";
	get_stats_fn *get = (get_stats_fn *)dlsym(RTLD_DEFAULT, "accept4shim_get_stats");
	struct accept4shim_stats st = { 0 };
	long long emulated = get && get(&st, sizeof(st)) == 0 ? (long long)st.emulated : -1;

	snprintf(line, sizeof(line),
		 "a4s-early: accept4=%s errno=%s nonblock=%d cloexec=%d accept=%d %s "
		 "emulated=%lld bound=%s\n",
		 fd >= 0 ? "OK" : strerror(err), err == 4321 ? "kept" : "changed",
		 fl >= 0 && (fl & O_NONBLOCK) != 0, fdfl >= 0 && (fdfl & FD_CLOEXEC) != 0, bad,
		 bad_err == EBADF ? "EBADF" : strerror(bad_err), emulated, bound);
	(void)write(2, line, strlen(line));
	if (fd >= 0)
		close(fd);
	close(c);
	close(l);
}
