/*
 * Prints each argument in brackets and the name of every ACCEPT4SHIM_
 * variable it was given, then accepts one connection with SOCK_CLOEXEC:
 * a program whose whole run shows whether it got exactly its arguments
 * and the library's work (the observer reports the configuration).
 */
#include "case.h"

extern char **environ;

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		say("[%s]", argv[i]);
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	int c = connect_to(&a, alen);
	errno = 0;
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	say("accept4: %s cloexec=%d", outcome(fd, errno),
	    fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	close(c);
	return 0;
}
