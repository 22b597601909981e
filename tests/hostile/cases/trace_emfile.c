/*
 * Issue 10, item 3: the process's first call fails with EMFILE. RLIMIT_NOFILE
 * soft 64 (hard argv[1]: "room", as it was; "same", 64 too), every
 * descriptor taken, a connection queued: accept4 fails with EMFILE; then two
 * descriptors are freed and the connection is accepted at once. The
 * library run's trace must hold both calls, EMFILE first
 * (checks/trace_lines.py), whether the library could raise the limit to
 * get a descriptor or had to wait for one.
 */
#include <sys/resource.h>

#include "case.h"

int main(int argc, char **argv)
{
	MUST(argc == 2);
	struct rlimit was;
	MUST(getrlimit(RLIMIT_NOFILE, &was) == 0);
	struct rlimit low = { 64, strcmp(argv[1], "same") == 0 ? 64 : was.rlim_max };
	MUST(setrlimit(RLIMIT_NOFILE, &low) == 0);
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	int c = connect_to(&a, alen);
	int fds[64], n = 0;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			MUST(errno == EMFILE);
			break;
		}
		MUST(n < 64);
		fds[n++] = fd;
	}
	errno = 0;
	int r = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	say("first accept4: %s", outcome(r, errno));
	close(fds[--n]);
	close(fds[--n]);
	errno = 0;
	r = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	say("accept4 with room: %s", outcome(r, errno));
	if (r >= 0)
		close(r);
	while (n)
		close(fds[--n]);
	close(c);
	close(l);
	return 0;
}
