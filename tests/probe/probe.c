/*
 * A small program for the reliability tests to run under LD_PRELOAD (or
 * linked with the library, or set-user-ID): it does what its arguments say
 * on a listener of its own and prints one line per step, so a test can
 * compare what a fresh process saw.
 *
 *   secure              secure=<getauxval(AT_SECURE)>
 *   accept4 FLAGS       accept4 FLAGS: ok nonblock=N cloexec=N | err=<strerror>
 *                       FLAGS: 0, SOCK_NONBLOCK, SOCK_CLOEXEC or both with |
 *   accept              accept: ok nonblock=N cloexec=N | err=<strerror>
 *   fds                 fd N -> target, for every descriptor but 0, 1, 2
 *   stats               stats calls=N (accept4shim_get_stats, if loaded)
 *
 * Exits 0 when every step ran (an accept that fails is a result, not a
 * failure), 2 on a usage error, 3 if the listener cannot be set up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <accept4shim.h>

#pragma weak accept4shim_get_stats

static int listener = -1;
static struct sockaddr_un addr;
static socklen_t addrlen;

static void setup(void)
{
	if (listener >= 0)
		return;
	addr.sun_family = AF_UNIX;
	int n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "a4s-probe-%d", (int)getpid());
	addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, addrlen) != 0 ||
	    listen(listener, 8) != 0) {
		perror("probe: listener");
		exit(3);
	}
}

static int parse_flags(const char *s)
{
	int flags = 0;
	if (strstr(s, "SOCK_NONBLOCK"))
		flags |= SOCK_NONBLOCK;
	if (strstr(s, "SOCK_CLOEXEC"))
		flags |= SOCK_CLOEXEC;
	return flags;
}

static void report(const char *what, int fd, int err)
{
	if (fd < 0) {
		printf("%s: err=%s\n", what, strerror(err));
		return;
	}
	printf("%s: ok nonblock=%d cloexec=%d\n", what,
	       (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	close(fd);
}

static void one_accept(const char *what, int is_accept4, int flags)
{
	setup();
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&addr, addrlen) != 0) {
		perror("probe: connect");
		exit(3);
	}
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int fd = is_accept4 ? accept4(listener, (struct sockaddr *)&peer, &len, flags)
			    : accept(listener, (struct sockaddr *)&peer, &len);
	report(what, fd, errno);
	close(c);
}

static void list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		perror("probe: /proc/self/fd");
		exit(3);
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
			continue;
		char link[64], target[4096];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		printf("fd %d -> %s\n", fd, target);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "secure") == 0) {
			printf("secure=%lu\n", getauxval(AT_SECURE));
		} else if (strcmp(argv[i], "accept4") == 0 && i + 1 < argc) {
			char what[128];
			snprintf(what, sizeof(what), "accept4 %s", argv[i + 1]);
			one_accept(what, 1, parse_flags(argv[++i]));
		} else if (strcmp(argv[i], "accept") == 0) {
			one_accept("accept", 0, 0);
		} else if (strcmp(argv[i], "fds") == 0) {
			list_fds();
		} else if (strcmp(argv[i], "stats") == 0) {
			struct accept4shim_stats s;
			if (accept4shim_get_stats && accept4shim_get_stats(&s, sizeof(s)) == 0)
				printf("stats calls=%llu\n", (unsigned long long)s.calls);
			else
				printf("stats none\n");
		} else {
			fprintf(stderr, "probe: bad argument %s\n", argv[i]);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}
