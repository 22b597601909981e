/*
 * legacy_server: a small server of the old school, kept as an unmodified
 * program for the close-on-exec example. It accepts with plain accept(),
 * keeps its clients in one select() loop, and answers each line a client
 * sends with the output of a shell command run through popen(). Nothing
 * sets FD_CLOEXEC, so every command it runs inherits every connection the
 * server has open at that moment (and its listener).
 *
 * usage: legacy_server [-p port] [-n requests] -c command
 *   listens on 127.0.0.1:port (0: any free port), prints
 *   "listening on 127.0.0.1:PORT", and exits after `requests` lines
 *   (default 1) have been answered.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 16

static void run(int fd, const char *command)
{
	FILE *p = popen(command, "r");
	if (!p) {
		perror("legacy_server: popen");
		return;
	}
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		if (write(fd, buf, n) != (ssize_t)n)
			break;
	pclose(p);
}

int main(int argc, char **argv)
{
	int port = 0, want = 1, opt;
	const char *command = NULL;
	while ((opt = getopt(argc, argv, "p:n:c:")) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			want = atoi(optarg);
			break;
		case 'c':
			command = optarg;
			break;
		default:
			command = NULL;
			optind = argc;
			break;
		}
	}
	if (!command) {
		fprintf(stderr, "usage: %s [-p port] [-n requests] -c command\n", argv[0]);
		return 64;
	}

	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(ls, 16) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) != 0) {
		perror("legacy_server: listen");
		return 1;
	}
	printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
	fflush(stdout);

	int clients[MAX_CLIENTS], nclients = 0, answered = 0;
	while (answered < want) {
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(ls, &rd);
		int maxfd = ls;
		for (int i = 0; i < nclients; i++) {
			FD_SET(clients[i], &rd);
			if (clients[i] > maxfd)
				maxfd = clients[i];
		}
		if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			perror("legacy_server: select");
			return 1;
		}
		if (FD_ISSET(ls, &rd) && nclients < MAX_CLIENTS) {
			int fd = accept(ls, NULL, NULL);
			if (fd >= 0) {
				clients[nclients++] = fd;
				printf("accepted fd %d\n", fd);
				fflush(stdout);
			}
		}
		for (int i = 0; i < nclients; i++) {
			if (!FD_ISSET(clients[i], &rd))
				continue;
			char line[256];
			ssize_t n = read(clients[i], line, sizeof(line));
			if (n > 0) {
				run(clients[i], command);
				answered++;
				continue;
			}
			close(clients[i]);
			clients[i--] = clients[--nclients];
		}
	}
	return 0;
}
