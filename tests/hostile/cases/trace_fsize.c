/*
 * Issue 10, item 2: the trace at RLIMIT_FSIZE. The program accepts 30
 * connections under a file size limit of 2000 bytes, set as argv[1] says:
 * "start" (before the program, and so the library, started: set here, then
 * this program exec'd again), "load" (by the program after the library
 * loaded, before its first call), "midrun" (after two calls, then a pause
 * of more than a second). A SIGXFSZ would kill it, as it kills a program
 * that does not expect one: both runs must live and print the same; the
 * library run's trace (argv[2]: "file", or "stderr" on a regular file
 * @TRACE@/stderr) is checked whole by checks/trace_lines.py.
 *
 * "below:FUNCTION": three calls, then the limit lowered to 100 bytes, below
 * what the trace holds by then, through FUNCTION (setrlimit, setrlimit64,
 * prlimit, prlimit64, prlimit-pid: prlimit naming this process's pid,
 * prlimit-tid: naming another thread's id, ulimit), and at once five more
 * calls: no pause for the library to look at the limit by itself. The
 * library must have learnt the limit from the call itself.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <ulimit.h>

#include "case.h"

#define LIMIT 2000
#define BELOW 100

static void limit_fsize(void)
{
	struct rlimit r = { LIMIT, RLIM_INFINITY };
	MUST(setrlimit(RLIMIT_FSIZE, &r) == 0);
}

static atomic_int idle_tid;

static void *idle(void *arg)
{
	(void)arg;
	atomic_store(&idle_tid, (int)syscall(SYS_gettid));
	pause();
	return NULL;
}

/* Lowers RLIMIT_FSIZE to BELOW bytes through the named function. */
static void lower_through(const char *how)
{
	struct rlimit r = { BELOW, RLIM_INFINITY };
	struct rlimit64 r64 = { BELOW, RLIM64_INFINITY };
	if (strcmp(how, "setrlimit") == 0) {
		MUST(setrlimit(RLIMIT_FSIZE, &r) == 0);
	} else if (strcmp(how, "setrlimit64") == 0) {
		MUST(setrlimit64(RLIMIT_FSIZE, &r64) == 0);
	} else if (strcmp(how, "prlimit") == 0) {
		MUST(prlimit(0, RLIMIT_FSIZE, &r, NULL) == 0);
	} else if (strcmp(how, "prlimit64") == 0) {
		MUST(prlimit64(0, RLIMIT_FSIZE, &r64, NULL) == 0);
	} else if (strcmp(how, "prlimit-pid") == 0) {
		MUST(prlimit(getpid(), RLIMIT_FSIZE, &r, NULL) == 0);
	} else if (strcmp(how, "prlimit-tid") == 0) {
		/* Limits belong to the process: any of its threads' ids names it. */
		pthread_t t;
		MUST(pthread_create(&t, NULL, idle, NULL) == 0);
		while (!atomic_load(&idle_tid))
			usleep(100);
		MUST(prlimit(atomic_load(&idle_tid), RLIMIT_FSIZE, &r, NULL) == 0);
	} else if (strcmp(how, "ulimit") == 0) {
		/* In 512-byte blocks: the smallest above 0 is above BELOW, so
		 * the trace must already be longer than one block. */
		MUST(ulimit(UL_SETFSIZE, 1L) == 1);
	} else {
		MUST(!"a known function");
	}
}

static void accepts(int l, const struct sockaddr_un *a, socklen_t alen, int n)
{
	for (int i = 0; i < n; i++) {
		int c = connect_to(a, alen);
		errno = 0;
		int r = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		say("accept4 %d: %s", i, outcome(r, errno));
		if (r >= 0)
			close(r);
		close(c);
	}
}

int main(int argc, char **argv)
{
	MUST(argc == 3);
	signal(SIGXFSZ, SIG_DFL);
	if (strcmp(argv[2], "stderr") == 0 && !getenv("A4S_CASE_STDERR_SET")) {
		/* stderr a regular file, from the start */
		char path[4096];
		snprintf(path, sizeof(path), "%s/stderr", getenv("A4S_HOSTILE_TRACE"));
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		MUST(fd >= 0 && dup2(fd, 2) == 2);
		setenv("A4S_CASE_STDERR_SET", "1", 1);
		if (strcmp(argv[1], "start") == 0)
			limit_fsize();
		execv("/proc/self/exe", argv);
		MUST(0);
	}
	if (strcmp(argv[1], "start") == 0 && !getenv("A4S_CASE_STARTED")) {
		limit_fsize();
		setenv("A4S_CASE_STARTED", "1", 1);
		execv("/proc/self/exe", argv);
		MUST(0);
	}
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	if (strcmp(argv[1], "load") == 0)
		limit_fsize();
	if (strncmp(argv[1], "below:", 6) == 0) {
		accepts(l, &a, alen, 3);
		lower_through(argv[1] + 6);
		accepts(l, &a, alen, 5);
		say("alive");
		return 0;
	}
	if (strcmp(argv[1], "midrun") == 0) {
		accepts(l, &a, alen, 2);
		limit_fsize();
		usleep(1100 * 1000);
	}
	accepts(l, &a, alen, 30);
	say("alive");
	return 0;
}
