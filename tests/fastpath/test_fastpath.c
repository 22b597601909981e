/*
 * Issue 12, item 1: the fast path (shim/fastpath.h). A process's first call
 * takes the general path, which publishes what the common call needs; from
 * then on the exported entry does only that. Every SPEC promise must still
 * hold there, so each case here first makes one call (prime), so that what
 * it checks runs on the fast path:
 *  - "Flags other than SOCK_NONBLOCK and SOCK_CLOEXEC: -1 with EINVAL before
 *    anything is accepted ... in every mode", also where a sandbox refuses
 *    accept4 itself;
 *  - MODE=auto "the first time it fails with ENOSYS ... switches the whole
 *    process to emulation", when accept4 disappears after the fast path took
 *    over, exactly (errno, flags, counters);
 *  - "On success errno is what it was before the call";
 *  - "Both stay cancellation points, and async-signal-safe": a thread
 *    blocked in a fast call is cancelled; a signal handler accepts on top
 *    of a fast call;
 *  - the counters behind accept4shim_get_stats stay exact, from many
 *    threads at once;
 *  - "When two copies are loaded, the first ... does the work and the other
 *    stands aside", on the fast path of both.
 * (A new process resetting before its first fast call: tests/process, run
 * untraced. What the fast path costs: the perf ctest.)
 *
 * Run against the kernel alone and preloaded in each mode, untraced (a
 * trace takes the fast path too, with a record after the call: the trace
 * suites).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"

#pragma weak accept4shim_get_stats

enum run { KERNEL, NATIVE, EMULATE, AUTO, ADDED };

static enum run this_run(void)
{
	if (!accept4shim_get_stats)
		return KERNEL;
	if (getenv("ACCEPT4SHIM_ADD_FLAGS"))
		return ADDED;
	const char *m = getenv("ACCEPT4SHIM_MODE");
	if (m && strcmp(m, "native") == 0)
		return NATIVE;
	if (m && strcmp(m, "emulate") == 0)
		return EMULATE;
	return AUTO;
}

static struct accept4shim_stats stats(void)
{
	struct accept4shim_stats s = { 0 };
	if (accept4shim_get_stats)
		T_CHECK(accept4shim_get_stats(&s, sizeof(s)) == 0);
	return s;
}

/* One call that fails with EAGAIN: the process's first call, after which
 * the library's calls take the fast path. */
static void prime(void)
{
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	errno = 0;
	T_ASSERT(accept4(l.fd, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EAGAIN, "prime: %s",
		 strerror(errno));
	t_close_listener(&l);
}

/* ---- unknown flags: EINVAL before anything is dequeued ----------------------- */

static void unknown_flags(void *arg)
{
	int refused = *(int *)arg; /* 0, or what a sandbox answers accept4 with */
	enum run run = this_run();
	prime();
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);
	if (refused)
		t_seccomp_fail_syscall(SYS_accept4, refused);
	static const int bad[] = { 0x40, SOCK_NONBLOCK | 0x1, SOCK_CLOEXEC | 0x4000000, -1 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct accept4shim_stats before = stats();
		errno = 0;
		int fd = accept4(l.fd, NULL, NULL, bad[i]);
		/* The kernel checks flags first too, but a sandbox answers
		 * before the kernel sees them. */
		int want = run == KERNEL && refused ? refused : EINVAL;
		T_ASSERT(fd == -1 && errno == want, "flags %#x: fd %d, errno %s, want %s", bad[i],
			 fd, strerror(errno), strerror(want));
		T_ASSERT(t_wait_readable(l.fd, 0), "flags %#x: the connection was dequeued", bad[i]);
		struct accept4shim_stats after = stats();
		T_ASSERT(after.errors[EINVAL] - before.errors[EINVAL] == (run != KERNEL),
			 "flags %#x: EINVAL counted %llu times", bad[i],
			 (unsigned long long)(after.errors[EINVAL] - before.errors[EINVAL]));
	}
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(unknown_flags_are_refused_with_einval_before_anything_is_dequeued)
{
	int refused[] = { 0, EPERM, ENOSYS };
	T_IN_CHILD(unknown_flags, &refused[_i]);
}
END_TEST

/* ---- MODE=auto: accept4 disappears after the fast path took over ------------- */

static void accept4_disappears(void *arg)
{
	(void)arg;
	enum run run = this_run();
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 3);
	int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC); /* natively, where it can */
	T_ASSERT(fd >= 0, "first accept4: %s", strerror(errno));
	close(fd);
	struct accept4shim_stats before = stats();
	/* A sandbox installed later (or a checkpoint restored on an older
	 * kernel): accept4 answers ENOSYS from now on. */
	t_seccomp_fail_syscall(SYS_accept4, ENOSYS);
	for (int k = 0; k < 2; k++) {
		errno = 4321;
		fd = accept4(l.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (run == NATIVE || run == KERNEL) {
			T_ASSERT(fd == -1 && errno == ENOSYS, "call %d: fd %d errno %s", k, fd,
				 strerror(errno));
			T_ASSERT(t_wait_readable(l.fd, 0), "call %d: the connection was dequeued", k);
			continue;
		}
		T_ASSERT(fd >= 0, "call %d: %s", k, strerror(errno));
		T_ASSERT(errno == 4321, "call %d: errno %d after success", k, errno);
		T_ASSERT(t_nonblocking(fd) && t_cloexec(fd), "call %d: flags not set", k);
		close(fd);
	}
	struct accept4shim_stats after = stats();
	if (run == AUTO || run == EMULATE || run == ADDED) {
		T_ASSERT(after.accepted - before.accepted == 2 && after.failed == before.failed,
			 "accepted %llu, failed %llu more",
			 (unsigned long long)(after.accepted - before.accepted),
			 (unsigned long long)(after.failed - before.failed));
		T_ASSERT(after.emulated - before.emulated == 2, "emulated %llu more",
			 (unsigned long long)(after.emulated - before.emulated));
	} else if (run == NATIVE) {
		T_ASSERT(after.errors[ENOSYS] - before.errors[ENOSYS] == 2, "ENOSYS counted %llu",
			 (unsigned long long)(after.errors[ENOSYS] - before.errors[ENOSYS]));
	}
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(auto_switches_exactly_when_accept4_disappears_under_the_fast_path)
{
	T_IN_CHILD(accept4_disappears, NULL);
}
END_TEST

/* The same, met first by an accept() (MODE=auto's default, with a flag
 * added: the real accept4 under it): that call switches and emulates too.
 * With no flag added accept() never needs accept4, in every run. */
static void accept4_disappears_under_accept(void *arg)
{
	(void)arg;
	enum run run = this_run();
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 3);
	int fd = accept(l.fd, NULL, NULL);
	T_ASSERT(fd >= 0, "first accept: %s", strerror(errno));
	T_ASSERT(t_cloexec(fd) == (run == ADDED), "first accept: FD_CLOEXEC %d", t_cloexec(fd));
	close(fd);
	struct accept4shim_stats before = stats();
	t_seccomp_fail_syscall(SYS_accept4, ENOSYS);
	for (int k = 0; k < 2; k++) {
		errno = 4321;
		fd = accept(l.fd, NULL, NULL);
		T_ASSERT(fd >= 0, "call %d: %s", k, strerror(errno));
		T_ASSERT(errno == 4321, "call %d: errno %d after success", k, errno);
		T_ASSERT(t_cloexec(fd) == (run == ADDED) && !t_nonblocking(fd),
			 "call %d: FD_CLOEXEC %d, O_NONBLOCK %d", k, t_cloexec(fd),
			 t_nonblocking(fd));
		close(fd);
	}
	struct accept4shim_stats after = stats();
	if (run != KERNEL)
		T_ASSERT(after.accepted - before.accepted == 2 && after.failed == before.failed &&
				 after.emulated - before.emulated == (run == ADDED ? 2u : 0u),
			 "accepted %llu, failed %llu, emulated %llu more",
			 (unsigned long long)(after.accepted - before.accepted),
			 (unsigned long long)(after.failed - before.failed),
			 (unsigned long long)(after.emulated - before.emulated));
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(auto_switches_when_accept4_disappears_under_an_accept_with_added_flags)
{
	T_IN_CHILD(accept4_disappears_under_accept, NULL);
}
END_TEST

/* ---- errno ------------------------------------------------------------------- */

START_TEST(a_successful_fast_call_leaves_errno_alone)
{
	prime();
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 4);
	static const int flags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };
	for (int i = 0; i < 4; i++) {
		errno = 1234 + i;
		int fd = i == 0 ? accept(l.fd, NULL, NULL) : accept4(l.fd, NULL, NULL, flags[i]);
		ck_assert_msg(fd >= 0, "call %d: %s", i, strerror(errno));
		ck_assert_int_eq(errno, 1234 + i);
		close(fd);
	}
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

/* ---- cancellation -------------------------------------------------------------- */

static atomic_int blocked_tid;

static void *block_in_accept4(void *arg)
{
	int fd = *(int *)arg;
	atomic_store(&blocked_tid, (int)syscall(SYS_gettid));
	for (;;)
		accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	return NULL;
}

static void cancelled(void *arg)
{
	(void)arg;
	prime();
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	struct accept4shim_stats before = stats();
	int fds = t_count_fds();
	pthread_t th;
	T_ASSERT(pthread_create(&th, NULL, block_in_accept4, &l.fd) == 0, "pthread_create");
	while (!atomic_load(&blocked_tid))
		sched_yield();
	t_wait_blocked_in_accept(getpid(), atomic_load(&blocked_tid));
	T_ASSERT(pthread_cancel(th) == 0, "pthread_cancel");
	void *res;
	T_ASSERT(pthread_join(th, &res) == 0 && res == PTHREAD_CANCELED, "not cancelled");
	T_ASSERT(t_count_fds() == fds, "%d descriptors, %d before", t_count_fds(), fds);
	struct accept4shim_stats after = stats();
	T_ASSERT(after.calls == before.calls, "a cancelled call was counted");
	t_close_listener(&l);
}

START_TEST(a_thread_blocked_in_a_fast_call_is_cancelled)
{
	T_IN_CHILD(cancelled, NULL);
}
END_TEST

/* ---- a signal handler accepting on top of a fast call ------------------------- */

static int handler_listener;
static volatile sig_atomic_t handler_fd = -2, handler_errno_kept;

static void accept_in_handler(int sig)
{
	(void)sig;
	int saved = errno;
	errno = 777;
	handler_fd = accept4(handler_listener, NULL, NULL, SOCK_CLOEXEC);
	handler_errno_kept = errno == 777;
	if (handler_fd >= 0)
		close(handler_fd);
	errno = saved;
}

static void on_top(void *arg)
{
	(void)arg;
	prime();
	struct t_listener quiet, busy;
	t_listen(&quiet, T_TCP4, 0);
	t_listen(&busy, T_UNIX_ABSTRACT, 0);
	pid_t client = t_clients(&busy, 1);
	handler_listener = busy.fd;
	struct sigaction sa = { .sa_handler = accept_in_handler, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	T_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	struct accept4shim_stats before = stats();
	pid_t me = getpid();
	int tid = (int)syscall(SYS_gettid);
	pid_t poker = fork();
	T_CHECK(poker >= 0);
	if (poker == 0) {
		/* Signals the main thread once it sits in accept4, then
		 * connects to wake it. */
		t_do_not_count_work();
		t_wait_blocked_in_accept(me, tid);
		syscall(SYS_tgkill, me, tid, SIGUSR1);
		usleep(100 * 1000);
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&quiet.addr, quiet.addrlen) < 0)
			_exit(1);
		usleep(200 * 1000);
		_exit(0);
	}
	int fd = accept4(quiet.fd, NULL, NULL, SOCK_CLOEXEC);
	T_ASSERT(fd >= 0, "the interrupted accept4: %s", strerror(errno));
	close(fd);
	int status;
	T_CHECK(waitpid(poker, &status, 0) == poker);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the poker failed");
	T_ASSERT(handler_fd >= 0 && handler_errno_kept, "the handler's accept4: %d", handler_fd);
	if (this_run() != KERNEL) {
		struct accept4shim_stats after = stats();
		T_ASSERT(after.accepted - before.accepted == 2 && after.calls - before.calls == 2,
			 "accepted %llu, calls %llu",
			 (unsigned long long)(after.accepted - before.accepted),
			 (unsigned long long)(after.calls - before.calls));
	}
	t_clients_done(client);
	t_close_listener(&quiet);
	t_close_listener(&busy);
}

START_TEST(a_signal_handler_accepts_on_top_of_a_fast_call)
{
	T_IN_CHILD(on_top, NULL);
}
END_TEST

/* ---- counters from many threads --------------------------------------------- */

enum { THREADS = 8, EACH = 400 };

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	for (int i = 0; i < EACH; i++) {
		int s = i % 3 == 2 ? accept(fd, NULL, NULL) : accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (s >= 0)
			close(s);
	}
	return NULL;
}

static void counted_exactly(void *arg)
{
	(void)arg;
	prime();
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	pid_t client = t_clients(&l, 64);
	struct accept4shim_stats before = stats();
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		T_ASSERT(pthread_create(&th[i], NULL, drain, &l.fd) == 0, "pthread_create");
	for (int i = 0; i < THREADS; i++)
		T_ASSERT(pthread_join(th[i], NULL) == 0, "pthread_join");
	if (this_run() != KERNEL) {
		struct accept4shim_stats after = stats();
		unsigned long long calls = after.calls - before.calls;
		unsigned long long ok = after.accepted - before.accepted;
		unsigned long long again = after.errors[EAGAIN] - before.errors[EAGAIN];
		T_ASSERT(calls == THREADS * EACH, "calls %llu, made %d", calls, THREADS * EACH);
		T_ASSERT(ok == 64 && again == calls - 64, "accepted %llu, EAGAIN %llu", ok, again);
		T_ASSERT(after.failed - before.failed == again, "failed %llu",
			 (unsigned long long)(after.failed - before.failed));
	}
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(the_counters_stay_exact_from_many_threads)
{
	T_IN_CHILD(counted_exactly, NULL);
}
END_TEST

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	Suite *s = suite_create("fastpath");
	TCase *tc = tcase_create("fast path");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, unknown_flags_are_refused_with_einval_before_anything_is_dequeued,
			    0, 3);
	tcase_add_test(tc, auto_switches_exactly_when_accept4_disappears_under_the_fast_path);
	tcase_add_test(tc, auto_switches_when_accept4_disappears_under_an_accept_with_added_flags);
	tcase_add_test(tc, a_successful_fast_call_leaves_errno_alone);
	tcase_add_test(tc, a_thread_blocked_in_a_fast_call_is_cancelled);
	tcase_add_test(tc, a_signal_handler_accepts_on_top_of_a_fast_call);
	tcase_add_test(tc, the_counters_stay_exact_from_many_threads);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
