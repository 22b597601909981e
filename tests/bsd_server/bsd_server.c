/*
 * bsd_server: a small server written the way BSD code often is, kept as an
 * unmodified program to run under the library.
 *
 * It makes its listener non-blocking, waits in select(), and accepts with
 * plain accept(). On the BSDs the accepted socket inherits O_NONBLOCK from
 * the listener, so the server "drains" each client with read() until
 * EWOULDBLOCK, then answers every complete line it has (upper-cased) and
 * closes the connection. On Linux the accepted socket is blocking: once the
 * client's line has been read, the next read() waits for more input that an
 * idle client never sends, and the server hangs; an alarm ends it with a
 * message and status 2.
 *
 * usage: bsd_server [-p port] [-n clients] [-t seconds]
 *   listens on 127.0.0.1:port (0: any free port), prints
 *   "listening on 127.0.0.1:PORT", serves `clients` clients (default 1)
 *   and exits 0; gives up after `seconds` (default 5) without progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 16

static int stuck_seconds = 5;

static void stuck(int sig)
{
	static const char msg[] = "bsd_server: no progress for the whole timeout; "
				  "stuck in a blocking read() on an accepted socket\n";
	(void)sig;
	(void)write(2, msg, sizeof(msg) - 1);
	_exit(2);
}

struct client {
	int fd;
	int id;
	size_t len;
	char buf[256];
};

/* Reads what the client sent, until the socket would block: the BSD idiom
 * for a non-blocking socket. Returns 0 when the client has closed. */
static int drain(struct client *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			printf("client %d: read %zd bytes\n", c->id, n);
			fflush(stdout);
			if (c->len == sizeof(c->buf) - 1)
				return 1;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EWOULDBLOCK || errno == EAGAIN) {
			printf("client %d: read would block\n", c->id);
			fflush(stdout);
			return 1;
		}
		if (errno != EINTR) {
			perror("bsd_server: read");
			return 0;
		}
	}
}

/* Answers a complete line; true when the client is done. */
static int answer(struct client *c)
{
	char *nl = memchr(c->buf, '\n', c->len);
	if (!nl)
		return 0;
	char reply[256];
	size_t n = (size_t)(nl - c->buf);
	for (size_t i = 0; i < n; i++)
		reply[i] = (c->buf[i] >= 'a' && c->buf[i] <= 'z') ? c->buf[i] - 'a' + 'A' : c->buf[i];
	reply[n] = '\n';
	if (write(c->fd, reply, n + 1) != (ssize_t)(n + 1))
		perror("bsd_server: write");
	printf("client %d: \"%.*s\" -> \"%.*s\"\n", c->id, (int)n, c->buf, (int)n, reply);
	fflush(stdout);
	return 1;
}

int main(int argc, char **argv)
{
	int port = 0, want = 1, opt;
	while ((opt = getopt(argc, argv, "p:n:t:")) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			want = atoi(optarg);
			break;
		case 't':
			stuck_seconds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-p port] [-n clients] [-t seconds]\n", argv[0]);
			return 64;
		}
	}
	signal(SIGALRM, stuck);

	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(ls, 16) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) != 0) {
		perror("bsd_server: listen");
		return 1;
	}
	/* The listener is non-blocking, so accept() in the loop never waits;
	 * on BSD every accepted socket is non-blocking too. */
	fcntl(ls, F_SETFL, fcntl(ls, F_GETFL) | O_NONBLOCK);
	printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
	fflush(stdout);

	struct client clients[MAX_CLIENTS];
	int nclients = 0, accepted = 0, served = 0;
	while (served < want) {
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(ls, &rd);
		int maxfd = ls;
		for (int i = 0; i < nclients; i++) {
			FD_SET(clients[i].fd, &rd);
			if (clients[i].fd > maxfd)
				maxfd = clients[i].fd;
		}
		alarm((unsigned)stuck_seconds);
		if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			perror("bsd_server: select");
			return 1;
		}
		if (FD_ISSET(ls, &rd)) {
			int fd;
			while (nclients < MAX_CLIENTS && (fd = accept(ls, NULL, NULL)) >= 0) {
				struct client *c = &clients[nclients++];
				c->fd = fd;
				c->id = ++accepted;
				c->len = 0;
				printf("client %d: accepted\n", c->id);
				fflush(stdout);
			}
		}
		for (int i = 0; i < nclients; i++) {
			struct client *c = &clients[i];
			if (!FD_ISSET(c->fd, &rd))
				continue;
			int open = drain(c);
			if (answer(c) || !open) {
				close(c->fd);
				served++;
				clients[i--] = clients[--nclients];
			}
		}
	}
	printf("served %d clients\n", served);
	return 0;
}
