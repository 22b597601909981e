#include "ringlink.h"

#include <poll.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

int a4s_ringlink_connect(const char *path, int *sock)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, n + 1);
	int fd = (int)a4s_sysret(syscall(SYS_socket, AF_UNIX,
					 SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (fd < 0)
		return fd;
	/* Non-blocking: a collector whose queue is full answers EAGAIN at
	 * once instead of holding the call. */
	int r = (int)a4s_sysret(syscall(SYS_connect, fd, &sun, sizeof(sun)));
	if (r < 0) {
		a4s_close(fd);
		return r;
	}
	*sock = fd;
	return 0;
}

int a4s_ringlink_send(int sock, const struct a4s_ring *r)
{
	struct a4s_ringlink_hello hello = { .version = A4S_RING_VERSION, .size = r->size };
	memcpy(hello.magic, A4S_RINGLINK_HELLO_MAGIC, sizeof(hello.magic));
	struct iovec iov = { &hello, sizeof(hello) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &r->fd, sizeof(int));
	long n = a4s_sysret(syscall(SYS_sendmsg, sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT));
	if (n < 0)
		return (int)n;
	/* A fresh stream socket's buffer takes 24 bytes whole. */
	return n == (long)sizeof(hello) ? 0 : -EPROTO;
}

int a4s_ringlink_reply(int sock, int timeout_ms)
{
	struct a4s_ringlink_reply reply;
	size_t got = 0;
	struct timespec wait = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
	while (got < sizeof(reply)) {
		struct pollfd p = { sock, POLLIN, 0 };
		long r = a4s_sysret(syscall(SYS_ppoll, &p, 1, &wait, NULL, 0));
		if (r == -EINTR)
			continue; /* the remaining time is in wait */
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -ETIMEDOUT;
		long n = a4s_sysret(syscall(SYS_recvfrom, sock, (char *)&reply + got,
					    sizeof(reply) - got, MSG_DONTWAIT, NULL, NULL));
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && n != -EAGAIN && n != -EINTR)
			return (int)n;
		if (n > 0)
			got += (size_t)n;
	}
	if (memcmp(reply.magic, A4S_RINGLINK_REPLY_MAGIC, sizeof(reply.magic)) != 0)
		return -EPROTO;
	return reply.status > 0 ? -reply.status : reply.status == 0 ? 0 : -EPROTO;
}

int a4s_ringlink_handover(int sock, const struct a4s_ring *r, int timeout_ms)
{
	int sent = a4s_ringlink_send(sock, r);
	if (sent < 0 && sent != -EPIPE && sent != -ECONNRESET)
		return sent;
	int answer = a4s_ringlink_reply(sock, timeout_ms);
	return answer == -ECONNRESET && sent < 0 ? sent : answer;
}

bool a4s_ringlink_alive(int sock)
{
	char c;
	long n = a4s_sysret(syscall(SYS_recvfrom, sock, &c, 1, MSG_PEEK | MSG_DONTWAIT, NULL, NULL));
	return n == -EAGAIN || n == -EINTR || n > 0;
}
