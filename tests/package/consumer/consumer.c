/*
 * The consumer project's program: accepts one connection with accept4
 * (SOCK_CLOEXEC) and prints what the library did, so that the test can
 * compare. "consumer_preload --paths" prints the paths the CMake package
 * gave it.
 */
#define _GNU_SOURCE /* accept4 */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <accept4shim.h>

#pragma weak accept4shim_version
#pragma weak accept4shim_get_stats

int main(int argc, char **argv)
{
#ifdef PRELOAD_LIBRARY
	if (argc == 2 && strcmp(argv[1], "--paths") == 0) {
		printf("%s\n%s\n", PRELOAD_LIBRARY, WRAPPER);
		return 0;
	}
#endif
	(void)argc, (void)argv;
	if (!accept4shim_version) {
		puts("library: not loaded");
		return 1;
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		return 2;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, len))
		return 2;
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	struct accept4shim_stats st;
	accept4shim_get_stats(&st, sizeof(st));
	printf("library: %s\n", accept4shim_version());
	printf("accepted: %s cloexec=%d nonblock=%d\n", fd >= 0 ? "yes" : "no",
	       fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0,
	       fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	printf("calls=%llu emulated=%llu\n", (unsigned long long)st.calls,
	       (unsigned long long)st.emulated);
	return fd >= 0 ? 0 : 1;
}
