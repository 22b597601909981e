/*
 * Issue 10, item 8: `accept4shim --dry-run` prints a line a shell runs as
 * printed. dry_run_pasted PROGRAM [ARG]...: with $A4S_DRY_RUN_WRAPPER set
 * (the library run), asks that wrapper for the dry-run line of PROGRAM ARG...
 * with --mode=emulate, and runs the line with /bin/sh -c, as a user pasting
 * it would; without (the plain run), runs PROGRAM ARG... itself. Both must
 * show the same arguments; the library run must have the library. Either
 * runs in a child, waited for, so that the first process is this one in
 * both runs (a shell ends with _exit, which leaves no exit report).
 */
#include <sys/wait.h>

#include "case.h"

int main(int argc, char **argv)
{
	MUST(argc >= 2);
	const char *wrapper = getenv("A4S_DRY_RUN_WRAPPER");
	if (!wrapper) {
		pid_t pid = fork();
		MUST(pid >= 0);
		if (pid == 0) {
			execv(argv[1], argv + 1);
			_exit(127);
		}
		int status;
		MUST(waitpid(pid, &status, 0) == pid);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	wrapper = strdup(wrapper);
	unsetenv("A4S_DRY_RUN_WRAPPER"); /* the program must see what the plain run sees */
	int p[2];
	MUST(pipe(p) == 0);
	pid_t pid = fork();
	MUST(pid >= 0);
	if (pid == 0) {
		static char dry[] = "--dry-run", mode[] = "--mode=emulate", end[] = "--";
		char *args[256];
		int n = 0;
		args[n++] = strdup(wrapper);
		args[n++] = dry;
		args[n++] = mode;
		args[n++] = end;
		for (int i = 1; i < argc && n < 255; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		dup2(p[1], 1);
		execv(wrapper, args);
		_exit(127);
	}
	close(p[1]);
	static char line[65536];
	size_t len = 0;
	ssize_t r;
	while ((r = read(p[0], line + len, sizeof(line) - 1 - len)) > 0)
		len += (size_t)r;
	line[len] = '\0';
	close(p[0]);
	int status;
	MUST(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pid = fork();
	MUST(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		_exit(127);
	}
	MUST(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
