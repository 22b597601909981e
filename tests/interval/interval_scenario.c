/*
 * What test_interval runs under the library, with the ACCEPT4SHIM_*
 * variables of each case (read once, at load):
 *
 *   interval_scenario rounds R T   R rounds: a pause of 1.1 s with T threads
 *                                  blocked at a barrier, then T connections
 *                                  queued and the T threads let go at once,
 *                                  each accepting one: every round, T
 *                                  threads pass the deadline together.
 *   interval_scenario fork         a call, 1.2 s without calls, fork; the
 *                                  child calls at once, then 1.1 s later;
 *                                  the parent calls once the child is done.
 *   interval_scenario syscalls N   N calls that fail with EAGAIN, counting
 *                                  the system calls the library makes.
 *
 * Each prints its facts on stdout, one line each ("fact name=value ..."),
 * and first proves that the library is in the process.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"

#pragma weak accept4shim_version

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		T_CHECK(errno == EINTR);
}

/* One call on an empty non-blocking listener: EAGAIN. */
static void eagain(int fd)
{
	T_ASSERT(accept4(fd, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EAGAIN,
		 "accept4 on an empty listener: %s", strerror(errno));
}

/* ---- rounds ---------------------------------------------------------- */

static struct t_listener shared;
static pthread_barrier_t go, done;
static int rounds;

static void *accepter(void *arg)
{
	(void)arg;
	for (int r = 0; r < rounds; r++) {
		pthread_barrier_wait(&go);
		int fd = accept4(shared.fd, NULL, NULL, SOCK_CLOEXEC);
		T_CHECK(fd >= 0);
		close(fd);
		pthread_barrier_wait(&done);
	}
	return NULL;
}

static void sc_rounds(int r, int threads)
{
	rounds = r;
	t_listen(&shared, T_TCP4, 0);
	T_CHECK(pthread_barrier_init(&go, NULL, (unsigned)threads + 1) == 0);
	T_CHECK(pthread_barrier_init(&done, NULL, (unsigned)threads + 1) == 0);
	pthread_t tids[64];
	T_ASSERT(threads <= 64, "at most 64 threads");
	for (int i = 0; i < threads; i++)
		T_CHECK(pthread_create(&tids[i], NULL, accepter, NULL) == 0);
	for (int i = 0; i < rounds; i++) {
		pause_ms(1100);
		pid_t clients = t_clients(&shared, threads);
		pthread_barrier_wait(&go);
		pthread_barrier_wait(&done);
		t_clients_done(clients);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	printf("fact calls=%d\n", rounds * threads);
}

/* ---- fork ------------------------------------------------------------ */

static void sc_fork(void)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	eagain(l.fd);
	pause_ms(1200); /* the parent's first interval is over */
	fflush(stdout);
	uint64_t before_fork = monotonic_ns();
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		eagain(l.fd);
		uint64_t first = monotonic_ns() - before_fork;
		pause_ms(1100);
		eagain(l.fd);
		uint64_t second = monotonic_ns() - before_fork;
		printf("fact child=%d first_call_ns=%llu second_call_ns=%llu\n", (int)getpid(),
		       (unsigned long long)first, (unsigned long long)second);
		exit(0);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	eagain(l.fd);
	printf("fact parent=%d\n", (int)getpid());
}

/* ---- syscalls -------------------------------------------------------- */

static void sc_syscalls(int n)
{
	static const long nrs[] = { SYS_clock_gettime, SYS_write, SYS_writev, SYS_getsockname,
				    SYS_openat, SYS_getpid, SYS_gettid, SYS_fstat };
	static const char *const names[] = { "clock_gettime", "write", "writev", "getsockname",
					     "openat", "getpid", "gettid", "fstat" };
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	/* The first call does what only the first call does (opening the
	 * trace, caching the pid); the calls counted are the ones after. */
	eagain(l.fd);
	t_count_syscalls(nrs, 8);
	/* The premise: this machine reads the monotonic clock without a
	 * system call (the vDSO). Where it cannot, the library's clock read
	 * costs one, and this case has nothing to prove. */
	for (int i = 0; i < 10; i++)
		(void)monotonic_ns();
	long clock_calls = t_syscalls_counted(SYS_clock_gettime);
	T_ASSERT(clock_calls == 0,
		 "clock_gettime(CLOCK_MONOTONIC) is a system call here (%ld for 10 reads): "
		 "no vDSO clock, so the per-call cost cannot be shown to be none",
		 clock_calls);
	for (int i = 0; i < n; i++)
		eagain(l.fd);
	printf("fact");
	for (int i = 0; i < 8; i++)
		printf(" %s=%ld", names[i], t_syscalls_counted(nrs[i]));
	printf("\n");
}

int main(int argc, char **argv)
{
	t_is_child = true; /* T_ASSERT: message and exit 1 */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!accept4shim_version) {
		fprintf(stderr, "interval_scenario: the library is not loaded\n");
		return 3;
	}
	if (argc == 4 && strcmp(argv[1], "rounds") == 0)
		sc_rounds(atoi(argv[2]), atoi(argv[3]));
	else if (argc == 2 && strcmp(argv[1], "fork") == 0)
		sc_fork();
	else if (argc == 3 && strcmp(argv[1], "syscalls") == 0)
		sc_syscalls(atoi(argv[2]));
	else {
		fprintf(stderr, "usage: interval_scenario rounds R T | fork | syscalls N\n");
		return 2;
	}
	return 0;
}
