/*
 * A small server as the library meets them: a listener, a child process
 * that connects N times (and holds the connections until told), and the
 * server accepting each one with the call and flags argv names, printing
 * each result, the new socket's flags and errno, then one non-blocking
 * accept on the empty queue (EAGAIN). Whatever the library does (trace,
 * emulation, a sandbox refusing its calls), these lines must not change.
 *
 *   serve FAMILY N CALL...   FAMILY: tcp or unix; CALL: accept, accept4,
 *                            accept4-cloexec, accept4-nonblock, accept4-both
 *                            (used in turn)
 */
#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>

#include "case.h"

static int make_listener(const char *family, struct sockaddr_storage *addr, socklen_t *len)
{
	if (strcmp(family, "unix") == 0)
		return listener((struct sockaddr_un *)addr, len, 0);
	struct sockaddr_in *in = (struct sockaddr_in *)addr;
	memset(addr, 0, sizeof(*addr));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	MUST(l >= 0);
	MUST(bind(l, (struct sockaddr *)in, sizeof(*in)) == 0);
	MUST(listen(l, 64) == 0);
	*len = sizeof(*addr);
	MUST(getsockname(l, (struct sockaddr *)addr, len) == 0);
	return l;
}

int main(int argc, char **argv)
{
	MUST(argc >= 4);
	int n = atoi(argv[2]);
	struct sockaddr_storage addr;
	socklen_t alen;
	int l = make_listener(argv[1], &addr, &alen);
	int go[2], ready[2];
	MUST(pipe(go) == 0 && pipe(ready) == 0);
	pid_t clients = fork();
	MUST(clients >= 0);
	if (clients == 0) {
		close(go[1]);
		close(ready[0]);
		for (int i = 0; i < n; i++) {
			int c = socket(addr.ss_family, SOCK_STREAM, 0);
			if (c < 0 || connect(c, (struct sockaddr *)&addr, alen) != 0)
				_exit(3);
		}
		char b = 'r';
		if (write(ready[1], &b, 1) != 1)
			_exit(4);
		(void)read(go[0], &b, 1);
		_exit(0);
	}
	close(go[0]);
	close(ready[1]);
	char b;
	MUST(read(ready[0], &b, 1) == 1);
	close(ready[0]);
	for (int i = 0; i < n; i++) {
		const char *call = argv[3 + i % (argc - 3)];
		int flags = strstr(call, "both") ? SOCK_NONBLOCK | SOCK_CLOEXEC
			    : strstr(call, "cloexec") ? SOCK_CLOEXEC
			    : strstr(call, "nonblock") ? SOCK_NONBLOCK : 0;
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		errno = 0;
		int fd = strcmp(call, "accept") == 0 ? accept(l, (struct sockaddr *)&peer, &plen)
						     : accept4(l, (struct sockaddr *)&peer, &plen, flags);
		int err = errno;
		if (fd >= 0)
			say("%s: ok family=%d nonblock=%d cloexec=%d errno=%s", call, peer.ss_family,
			    (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0,
			    err ? strerrorname_np(err) : "0");
		else
			say("%s: %s", call, outcome(fd, err));
		if (fd >= 0)
			close(fd);
	}
	MUST(fcntl(l, F_SETFL, O_NONBLOCK) == 0);
	errno = 0;
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	say("empty queue: %s", outcome(fd, errno));
	close(go[1]);
	int status;
	MUST(waitpid(clients, &status, 0) == clients);
	say("clients: %s", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "failed");
	return 0;
}
