/*
 * The stand-in: a library named libaccept4shim.so that does nothing. It
 * takes over accept and accept4 as the real one does and passes every call
 * straight on, so a program runs under it exactly as without the library.
 * Every library-mode test must fail with it in the library's place (see
 * every_library_test_fails.py): a test that passes anyway was not testing
 * the library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int (*next)(int, struct sockaddr *, socklen_t *);
	*(void **)&next = dlsym(RTLD_NEXT, "accept");
	return next(fd, addr, len);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int (*next)(int, struct sockaddr *, socklen_t *, int);
	*(void **)&next = dlsym(RTLD_NEXT, "accept4");
	return next(fd, addr, len, flags);
}
