/*
 * A server under a sandbox that refuses one of the system calls the library
 * makes: serve_sandboxed POLICY FAMILY N CALL...
 * (POLICY "none": no filter; "nofile=N,..." first lowers the server's
 * RLIMIT_NOFILE to N, the inspector keeping its own; "hold,...": the server
 * keeps every socket it accepted open, so it runs into that limit.)
 *
 * The server sets up its listener (non-blocking) and an inspector process,
 * then installs the seccomp filter POLICY (case.h's refuse_from), as a
 * program that sandboxes itself after start-up does, and accepts N queued
 * connections with the calls named (accept, accept4, accept4-cloexec,
 * accept4-nonblock, accept4-both, in turn), then once more on the empty
 * queue. After the filter it makes only the calls it cannot do without
 * (accept, its report to the inspector, close, exit), so what the sandbox
 * refuses is, as far as possible, only what the library would add. The
 * inspector (not sandboxed) connects the clients, prints each result, and
 * reads each new socket's flags from /proc/PID/fdinfo.
 *
 * The report goes over a socketpair with write(2), or send(2) when the
 * policy refuses write.
 */
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "case.h"

struct result {
	int call, fd, err;
};

static bool use_send;

static void put(int s, const void *p, size_t n)
{
	ssize_t r = use_send ? send(s, p, n, 0) : write(s, p, n);
	if (r != (ssize_t)n)
		_exit(98); /* the sandbox refused the report too: both runs alike */
}

static void inspector(int s, pid_t server, int n, const struct sockaddr_un *a, socklen_t alen,
		      char **calls, int ncalls)
{
	int *conns = calloc((size_t)n, sizeof(int));
	for (int i = 0; i < n; i++)
		conns[i] = connect_to(a, alen);
	char b = 'r';
	MUST(write(s, &b, 1) == 1);
	struct result r;
	while (read(s, &r, sizeof(r)) == sizeof(r)) {
		const char *call = r.call < 0 ? "empty queue: accept4-cloexec" : calls[r.call % ncalls];
		if (r.fd < 0) {
			say("%s: %s", call, outcome(-1, r.err));
		} else {
			char path[64], line[256];
			snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)server, r.fd);
			FILE *f = fopen(path, "re");
			unsigned long flags = 0;
			while (f && fgets(line, sizeof(line), f))
				if (sscanf(line, "flags: %lo", &flags) == 1)
					break;
			if (f)
				fclose(f);
			say("%s: ok nonblock=%d cloexec=%d errno=%s", call, (flags & O_NONBLOCK) != 0,
			    (flags & O_CLOEXEC) != 0, r.err ? strerrorname_np(r.err) : "0");
		}
		MUST(write(s, &b, 1) == 1);
	}
	for (int i = 0; i < n; i++)
		close(conns[i]);
	exit(0);
}

int main(int argc, char **argv)
{
	MUST(argc >= 5);
	use_send = strstr(argv[1], "write=") != NULL;
	int n = atoi(argv[3]), ncalls = argc - 4;
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, SOCK_NONBLOCK);
	int sv[2];
	MUST(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	pid_t server = getpid();
	fflush(stdout);
	pid_t insp = fork();
	MUST(insp >= 0);
	if (insp == 0) {
		close(sv[0]);
		close(l);
		inspector(sv[1], server, n, &a, alen, argv + 4, ncalls);
	}
	close(sv[1]);
	char b;
	MUST(read(sv[0], &b, 1) == 1);

	const char *policy = argv[1];
	bool hold = strncmp(policy, "hold,", 5) == 0;
	if (hold)
		policy += 5;
	if (strncmp(policy, "nofile=", 7) == 0) {
		struct rlimit r = { strtoull(policy + 7, NULL, 10), strtoull(policy + 7, NULL, 10) };
		MUST(setrlimit(RLIMIT_NOFILE, &r) == 0);
		policy = strchr(policy, ',') ? strchr(policy, ',') + 1 : "none";
	}
	refuse_from(policy);
	for (int k = 0; k < n; k++) {
		const char *call = argv[4 + k % ncalls];
		int flags = strstr(call, "both") ? SOCK_NONBLOCK | SOCK_CLOEXEC
			    : strstr(call, "cloexec") ? SOCK_CLOEXEC
			    : strstr(call, "nonblock") ? SOCK_NONBLOCK : 0;
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		errno = 0;
		int fd = strcmp(call, "accept") == 0 ? accept(l, (struct sockaddr *)&peer, &plen)
						     : accept4(l, (struct sockaddr *)&peer, &plen, flags);
		struct result r = { k, fd, errno };
		put(sv[0], &r, sizeof(r));
		(void)read(sv[0], &b, 1);
		if (fd >= 0 && !hold)
			close(fd);
	}
	errno = 0;
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	struct result r = { -1, fd, errno };
	put(sv[0], &r, sizeof(r));
	(void)read(sv[0], &b, 1);
	shutdown(sv[0], SHUT_RDWR);
	int status;
	waitpid(insp, &status, 0);
	return 0;
}
