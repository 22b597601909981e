/*
 * Issue 10, item 6: every kind of new process traces as itself. The parent
 * makes a call (its trace file and counters now exist), then makes a child
 * the way argv[1] says: fork, _Fork, clone (raw, SIGCHLD, no CLONE_VM) or
 * vfork (which execs this program again as "exec-child"). The child accepts
 * a connection the parent queued and exits; then the parent accepts once
 * more. "idle-KIND": the child does nothing and exits.
 *
 * Each process appends "pid tid calls" to $A4S_HOSTILE_FACTS (outside the
 * compared directory) so that checks/own_trace.py can hold the trace to it:
 * each process's records in its own %p file, with its own pid and tid, its
 * summary counting its own calls.
 */
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "case.h"

static void fact(int calls)
{
	const char *path = getenv("A4S_HOSTILE_FACTS");
	if (!path)
		return;
	char line[64];
	int n = snprintf(line, sizeof(line), "%d %d %d\n", (int)getpid(), (int)gettid(), calls);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	MUST(fd >= 0 && write(fd, line, (size_t)n) == n);
	close(fd);
}

static int one_accept(int l, const char *who)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	errno = 0;
	int fd = accept4(l, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	say("%s: accept4 %s", who, outcome(fd, errno));
	if (fd >= 0)
		close(fd);
	return fd;
}

static int listen_fd;
static bool idle;

static int child(void *arg)
{
	(void)arg;
	if (idle) {
		say("child: did nothing");
		exit(0);
	}
	one_accept(listen_fd, "child");
	fact(1);
	exit(0); /* exit, not _exit: the summary at exit is the child's own */
}

int main(int argc, char **argv)
{
	MUST(argc >= 2);
	if (strcmp(argv[1], "exec-child") == 0) {
		listen_fd = atoi(argv[2]);
		return child(NULL);
	}
	const char *kind = argv[1];
	idle = strncmp(kind, "idle-", 5) == 0;
	if (idle)
		kind += 5;

	struct sockaddr_un a;
	socklen_t alen;
	listen_fd = listener(&a, &alen, 0);
	int c1 = connect_to(&a, alen), c2 = connect_to(&a, alen), c3 = connect_to(&a, alen);
	one_accept(listen_fd, "parent");

	pid_t pid;
	if (strcmp(kind, "fork") == 0) {
		pid = fork();
		if (pid == 0)
			child(NULL);
	} else if (strcmp(kind, "_Fork") == 0) {
		pid = _Fork();
		if (pid == 0)
			child(NULL);
	} else if (strcmp(kind, "clone") == 0) {
		/* A raw clone, as a language runtime makes it: no atfork
		 * handler runs, the C library's caches are not reset. */
		pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
		if (pid == 0)
			child(NULL);
	} else if (strcmp(kind, "vfork") == 0) {
		char fd[16];
		snprintf(fd, sizeof(fd), "%d", listen_fd);
		pid = vfork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "exec-child", fd, (char *)NULL);
			_exit(127);
		}
	} else {
		fprintf(stderr, "case: unknown kind %s\n", kind);
		return 99;
	}
	MUST(pid > 0);
	int status;
	MUST(waitpid(pid, &status, 0) == pid);
	say("parent: child exited %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	one_accept(listen_fd, "parent");
	fact(2);
	close(c1);
	close(c2);
	close(c3);
	return 0;
}
