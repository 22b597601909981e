/*
 * dgram_sink: the syslog daemon of the benchmark. Binds an AF_UNIX datagram
 * socket at PATH (scripts/bench gives it /dev/log inside a private mount
 * namespace), reads every datagram as fast as it comes, and on SIGTERM
 * drains what is left and writes {"datagrams":N,"first":"...","last":"..."}
 * to STATS. Written in C because a reader in Python falls behind a traced
 * accept loop and the sender's records are then dropped, which would make
 * the syslog trace look cheaper than it is.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void put_json_string(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fputs("usage: dgram_sink PATH STATS\n", stderr);
		return 2;
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (fd < 0 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		perror("dgram_sink: socket");
		return 1;
	}
	strcpy(sun.sun_path, argv[1]);
	unlink(argv[1]);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("dgram_sink: bind");
		return 1;
	}
	int big = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct sigaction sa = { .sa_handler = on_term }; /* no SA_RESTART */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	puts("ready");
	fflush(stdout);

	static char first[65536], last[65536], buf[65536];
	size_t first_len = 0, last_len = 0;
	unsigned long count = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), stopping ? MSG_DONTWAIT : 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && stopping)
				break;
			perror("dgram_sink: recv");
			return 1;
		}
		if (count++ == 0) {
			memcpy(first, buf, (size_t)r);
			first_len = (size_t)r;
		}
		memcpy(last, buf, (size_t)r);
		last_len = (size_t)r;
	}
	FILE *f = fopen(argv[2], "w");
	if (!f) {
		perror("dgram_sink: stats");
		return 1;
	}
	fprintf(f, "{\"datagrams\":%lu,\"first\":", count);
	put_json_string(f, first, first_len);
	fputs(",\"last\":", f);
	put_json_string(f, last, last_len);
	fputs("}\n", f);
	return fclose(f) ? 1 : 0;
}
