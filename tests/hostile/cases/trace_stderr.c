/*
 * Issue 10, items 4 and 5: the trace on stderr (ACCEPT4SHIM_LOG=stderr in
 * the library run). argv[1]:
 *   redirect  one call, then fd 2 pointed at /dev/null (as a daemon does),
 *             then three calls: only the first record may be on the
 *             stderr the program started with.
 *   daemon    the program forks and exits; the child detaches (setsid,
 *             0, 1, 2 on /dev/null), accepts twice, and lives 6 s more.
 *             The runner reads stdout and stderr to their end, as $(...)
 *             does: a copy of stderr kept by the library would hold it
 *             open and show as a hang.
 *   fullpipe  stderr is a pipe already full (a stalled log reader), then
 *             this program is exec'd again with the library's bad
 *             variable (ACCEPT4SHIM_MODE=bogus in the library run): the
 *             complaint must not block it (a hang shows).
 */
#include <sys/wait.h>

#include "case.h"

static void accepts(int n)
{
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	for (int i = 0; i < n; i++) {
		int c = connect_to(&a, alen);
		errno = 0;
		int r = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (r >= 0)
			close(r);
		close(c);
	}
	close(l);
}

int main(int argc, char **argv)
{
	MUST(argc == 2);
	if (strcmp(argv[1], "redirect") == 0) {
		accepts(1);
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
		MUST(nul >= 0 && dup2(nul, 2) == 2);
		close(nul);
		accepts(3);
		say("done");
	} else if (strcmp(argv[1], "daemon") == 0) {
		pid_t pid = fork();
		MUST(pid >= 0);
		if (pid > 0) {
			say("detached");
			return 0;
		}
		MUST(setsid() >= 0);
		int nul = open("/dev/null", O_RDWR);
		MUST(nul >= 0 && dup2(nul, 0) == 0 && dup2(nul, 1) == 1 && dup2(nul, 2) == 2);
		accepts(2);
		sleep(6);
		_exit(0);
	} else if (strcmp(argv[1], "fullpipe") == 0) {
		int p[2];
		MUST(pipe(p) == 0);
		MUST(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
		char block[4096];
		memset(block, 'x', sizeof(block));
		while (write(p[1], block, sizeof(block)) > 0)
			;
		while (write(p[1], block, 1) > 0)
			;
		MUST(fcntl(p[1], F_SETFL, 0) == 0);
		pid_t pid = fork();
		MUST(pid >= 0);
		if (pid == 0) {
			MUST(dup2(p[1], 2) == 2);
			execl("/proc/self/exe", argv[0], "child", (char *)NULL);
			_exit(98);
		}
		int status;
		MUST(waitpid(pid, &status, 0) == pid);
		say("child ended: %d", status);
	} else if (strcmp(argv[1], "child") == 0) {
		say("child reached main");
	}
	return 0;
}
