/*
 * Forks while another thread is inside the library's first call.
 *
 * Preloaded after the library (LD_PRELOAD="<library>:<this>"): the dynamic
 * linker runs constructors in the reverse of the preload order, so ours
 * runs before the library's, and a thread started here makes the process's
 * first accept4, which loads the library: binding (dlsym) and reading the
 * variables (secure_getenv). This object comes before the C library in the
 * symbol search order, so its dlsym and secure_getenv are the ones the
 * library calls; they sleep, which holds the first call inside the loading
 * long enough for the main thread to fork many times meanwhile.
 *
 * Each child must be able to accept a connection, with the flag it asked
 * for, and exit; alarm() turns a deadlock into a failure. One line goes to
 * stdout: "early forks=N inside=M ok", or a failure and exit status 1.
 * Does nothing unless A4S_EARLY_FORK is set.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int slow, inside, entered;
/* Forks the main thread made while the first call was under way, and
 * whether this thread is the one making the first call. */
static atomic_int forked_inside;
static __thread int first_caller;
enum { HELD_FOR_FORKS = 3 };

static void pause_us(long us)
{
	struct timespec ts = { 0, us * 1000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * The first call stays inside the loading until the main thread has forked
 * HELD_FOR_FORKS times meanwhile, so that forks land inside however the
 * machine schedules the two threads (a loaded machine could otherwise run
 * the whole first call before the main thread looks). Bounded (2 s), in
 * case a fork cannot be made while the library loads: the forks then land
 * after, and the test says how few landed inside.
 */
static void hold_for_forks(void)
{
	if (!first_caller)
		return;
	for (int waited_us = 0;
	     atomic_load(&forked_inside) < HELD_FOR_FORKS && waited_us < 2000 * 1000;
	     waited_us += 100)
		pause_us(100);
}

void *dlsym(void *restrict handle, const char *restrict name);
void *dlsym(void *restrict handle, const char *restrict name)
{
	static void *(*real)(void *, const char *);
	if (!real)
		real = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
	if (atomic_load(&slow)) {
		hold_for_forks();
		pause_us(300);
	}
	void *r = real(handle, name);
	if (atomic_load(&slow))
		pause_us(300);
	return r;
}

char *secure_getenv(const char *name);
char *secure_getenv(const char *name)
{
	if (atomic_load(&slow))
		pause_us(150);
	return getauxval(AT_SECURE) ? NULL : getenv(name);
}

static int listener; /* no one connects: the first call gets EAGAIN */

static int first_result, first_errno;

static void *first_call(void *arg)
{
	(void)arg;
	first_caller = 1;
	/* Inside first: the main thread looks once it sees `entered`. */
	atomic_store(&inside, 1);
	atomic_store(&entered, 1);
	first_result = accept4(listener, NULL, NULL, SOCK_CLOEXEC); /* empty: EAGAIN */
	first_errno = errno;
	atomic_store(&inside, 0);
	return NULL;
}

static void fail(const char *what)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "early FAILED: %s: %s\n", what, strerror(errno));
	(void)write(1, line, (size_t)n);
	_exit(1);
}

/* In the child: only async-signal-safe calls, as after any fork from a
 * threaded process. A listener of its own, so that no one else takes its
 * connection. */
static void child(void)
{
	alarm(5);
	struct sockaddr_un own = { .sun_family = AF_UNIX };
	pid_t pid = getpid();
	int n = 0;
	char digits[16];
	do
		digits[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) && n < 16);
	memcpy(own.sun_path + 1, "a4s-early-child-", 16);
	for (int i = 0; i < n; i++)
		own.sun_path[17 + i] = digits[n - 1 - i];
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 17 + (size_t)n);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&own, len) != 0 || listen(l, 1) != 0)
		_exit(2);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&own, len) != 0)
		_exit(3);
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		_exit(4);
	if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
		_exit(5);
	_exit(0);
}

__attribute__((constructor)) static void fork_during_first_call(void)
{
	if (!getenv("A4S_EARLY_FORK"))
		return;
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_un any = { .sun_family = AF_UNIX };
	if (listener < 0 || bind(listener, (struct sockaddr *)&any, sizeof(sa_family_t)) != 0 ||
	    listen(listener, 64) != 0) /* bound to a name the kernel picks */
		fail("listener");

	atomic_store(&slow, 1);
	pthread_t t;
	if (pthread_create(&t, NULL, first_call, NULL) != 0)
		fail("pthread_create");
	/* Until the thread has started its call (it then stays inside until
	 * this thread has forked a few times: hold_for_forks). */
	while (!atomic_load(&entered))
		pause_us(10);
	pid_t kids[40];
	int forks = 0, forks_inside = 0;
	while (forks < 40) {
		int was_inside = atomic_load(&inside);
		pid_t pid = fork();
		if (pid < 0)
			fail("fork");
		if (pid == 0)
			child();
		kids[forks++] = pid;
		forks_inside += was_inside;
		if (was_inside)
			atomic_fetch_add(&forked_inside, 1);
		if (!was_inside)
			break; /* one more after the first call returned */
		pause_us(100);
	}
	pthread_join(t, NULL);
	atomic_store(&slow, 0);
	if (first_result != -1 || first_errno != EAGAIN) {
		char what[64];
		snprintf(what, sizeof(what), "the first call gave %d, not EAGAIN", first_result);
		errno = first_errno;
		fail(what);
	}
	for (int i = 0; i < forks; i++) {
		int status;
		if (waitpid(kids[i], &status, 0) != kids[i])
			fail("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char line[128];
			int m = snprintf(line, sizeof(line),
					 "early FAILED: child %d of %d: status %#x%s\n", i, forks,
					 status, WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM
						 ? " (deadlocked: alarm)" : "");
			(void)write(1, line, (size_t)m);
			_exit(1);
		}
	}
	close(listener);
	char line[128];
	int m = snprintf(line, sizeof(line), "early forks=%d inside=%d ok\n", forks, forks_inside);
	(void)write(1, line, (size_t)m);
}
