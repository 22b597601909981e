/*
 * For cases/early_call.c: a library the program needs (DT_NEEDED), whose
 * constructor runs before a preloaded library's, so its accept4 is the
 * library's first call, made before its own constructor: the call loads
 * it. Its stderr is /dev/full meanwhile, so that anything the loading has
 * to say (a complaint about a bad variable) fails to be written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int early_result = -2, early_errno = -1;

__attribute__((constructor)) static void accept_before_everyone(void)
{
	int saved_stderr = dup(2), full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	dup2(full, 2);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int n = 1 + (int)strlen(strcpy(a.sun_path + 1, "a4s-hostile-early"));
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n);
	a.sun_path[1 + 17] = '\0';
	bind(l, (struct sockaddr *)&a, len);
	listen(l, 1);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	connect(c, (struct sockaddr *)&a, len);
	errno = 4242;
	early_result = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	early_errno = errno;
	if (early_result >= 0)
		close(early_result);
	close(c);
	close(l);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	close(full);
}
