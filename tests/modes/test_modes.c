/*
 * SPEC, ACCEPT4SHIM_MODE and the behaviour common to both calls, on real
 * sockets, run four ways: against the kernel alone ("kernel"), and preloaded
 * as native, emulate and auto. Each case states what each run must see.
 *
 *  - auto "calls the real accept4 and, the first time it fails with ENOSYS,
 *    switches the whole process to emulation; only ENOSYS proves accept4
 *    absent, never EINVAL or EBADF" — proven with a seccomp filter that
 *    makes the kernel answer accept4 with ENOSYS;
 *  - "if a step after the accept fails, the new socket is closed and -1
 *    returned with that step's errno" — a seccomp filter fails the fcntl;
 *  - "EINTR is returned as the kernel returns it ... SA_RESTART works as
 *    without the library";
 *  - "Both stay cancellation points";
 *  - "On success errno is what it was before the call".
 *
 * Anything that installs a filter or a signal handler runs in t_in_child.
 * valgrind does not implement seccomp(2): the cases that need it are tagged
 * "seccomp" and left out of the valgrind runs.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"

/* Weak, so that the same program runs without the library. */
#pragma weak accept4shim_get_stats

enum run { KERNEL, NATIVE, EMULATE, AUTO };

static enum run this_run(void)
{
	if (!accept4shim_get_stats)
		return KERNEL;
	const char *m = getenv("ACCEPT4SHIM_MODE");
	if (m && strcmp(m, "native") == 0)
		return NATIVE;
	if (m && strcmp(m, "emulate") == 0)
		return EMULATE;
	return AUTO;
}

static struct accept4shim_stats stats(void)
{
	struct accept4shim_stats s;
	T_CHECK(accept4shim_get_stats(&s, sizeof(s)) == 0);
	return s;
}

static const int all_flags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };
#define NFLAGS ((int)(sizeof(all_flags) / sizeof(all_flags[0])))

/* ---- auto: ENOSYS and nothing else switches to emulation --------------- */

/* The kernel answers accept4 with ENOSYS, as an old kernel or a sandbox
 * would. _i picks the listener family. */
static void without_kernel_accept4(void *arg)
{
	enum t_family fam = *(enum t_family *)arg;
	enum run run = this_run();
	struct t_listener l;
	t_listen(&l, fam, 0);
	pid_t client = t_clients(&l, NFLAGS);
	t_seccomp_fail_syscall(SYS_accept4, ENOSYS);

	for (int k = 0; k < NFLAGS; k++) {
		int flags = all_flags[k];
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		errno = 4321;
		int fd = accept4(l.fd, (struct sockaddr *)&peer, &len, flags);
		if (run == AUTO || run == EMULATE) {
			T_ASSERT(fd >= 0, "flags %#x: %s", flags, strerror(errno));
			T_ASSERT(errno == 4321, "flags %#x: errno %d after success", flags, errno);
			T_ASSERT(t_nonblocking(fd) == ((flags & SOCK_NONBLOCK) != 0),
				 "flags %#x: O_NONBLOCK wrong", flags);
			T_ASSERT(t_cloexec(fd) == ((flags & SOCK_CLOEXEC) != 0),
				 "flags %#x: FD_CLOEXEC wrong", flags);
			T_ASSERT(peer.ss_family == l.addr.ss_family, "peer family %d",
				 peer.ss_family);
			close(fd);
		} else {
			/* Without the library, or told to stay native, the
			 * kernel's answer stands and nothing was dequeued. */
			T_ASSERT(fd == -1 && errno == ENOSYS, "flags %#x: fd %d errno %d", flags,
				 fd, errno);
			T_ASSERT(t_wait_readable(l.fd, 0), "flags %#x: connection dequeued", flags);
		}
	}
	if (run != KERNEL) {
		struct accept4shim_stats s = stats();
		if (run == NATIVE) {
			T_ASSERT(s.failed == NFLAGS && s.errors[ENOSYS] == NFLAGS,
				 "failed %llu, ENOSYS %llu", (unsigned long long)s.failed,
				 (unsigned long long)s.errors[ENOSYS]);
			T_ASSERT(s.emulated == 0, "emulated %llu", (unsigned long long)s.emulated);
		} else {
			/* The ENOSYS was absorbed, and every call that asked
			 * for a flag got it from the library. */
			T_ASSERT(s.accepted == NFLAGS && s.failed == 0, "accepted %llu failed %llu",
				 (unsigned long long)s.accepted, (unsigned long long)s.failed);
			T_ASSERT(s.emulated == NFLAGS - 1, "emulated %llu",
				 (unsigned long long)s.emulated);
		}
	}
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(enosys_from_the_kernel_switches_auto_to_exact_emulation)
{
	enum t_family fam = (enum t_family)_i;
	T_IN_CHILD(without_kernel_accept4, &fam);
}
END_TEST

/* After the switch, a call from another thread is emulated too: the
 * switch is process-wide. */
static void *accept_cloexec(void *arg)
{
	int lfd = *(int *)arg;
	errno = 77;
	intptr_t fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0 && errno != 77)
		fd = -1000;
	return (void *)fd;
}

static void switch_is_process_wide(void *arg)
{
	(void)arg;
	enum run run = this_run();
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 2);
	t_seccomp_fail_syscall(SYS_accept4, ENOSYS);
	int fd = accept4(l.fd, NULL, NULL, SOCK_NONBLOCK);
	T_ASSERT((fd >= 0) == (run == AUTO || run == EMULATE), "first call: fd %d", fd);
	if (fd >= 0)
		close(fd);
	pthread_t th;
	void *res;
	T_ASSERT(pthread_create(&th, NULL, accept_cloexec, &l.fd) == 0, "pthread_create");
	T_ASSERT(pthread_join(th, &res) == 0, "pthread_join");
	fd = (int)(intptr_t)res;
	if (run == AUTO || run == EMULATE) {
		T_ASSERT(fd >= 0, "other thread: fd %d", fd);
		T_ASSERT(t_cloexec(fd) && !t_nonblocking(fd), "other thread: flags wrong");
		close(fd);
		T_ASSERT(stats().emulated == 2, "emulated %llu",
			 (unsigned long long)stats().emulated);
	} else {
		T_ASSERT(fd == -1, "other thread: fd %d", fd);
	}
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(the_switch_holds_for_every_thread)
{
	T_IN_CHILD(switch_is_process_wide, NULL);
}
END_TEST

/* EINVAL (unknown flags, a socket that is not listening), EBADF and
 * ENOTSOCK say nothing about accept4 existing: a flagged accept4 after
 * them is still done natively in auto mode. */
static void errors_do_not_switch(void *arg)
{
	(void)arg;
	enum run run = this_run();
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);

	errno = 0;
	T_ASSERT(accept4(l.fd, NULL, NULL, 0x40) == -1 && errno == EINVAL, "bad flags: %d", errno);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	T_CHECK(s >= 0);
	T_ASSERT(accept4(s, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EINVAL,
		 "not listening: %d", errno);
	close(s);
	T_ASSERT(accept4(-1, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EBADF, "bad fd: %d", errno);
	int p[2];
	T_CHECK(pipe(p) == 0);
	T_ASSERT(accept4(p[0], NULL, NULL, SOCK_NONBLOCK) == -1 && errno == ENOTSOCK,
		 "pipe: %d", errno);
	close(p[0]);
	close(p[1]);

	int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	T_CHECK(fd >= 0);
	T_ASSERT(t_cloexec(fd) && t_nonblocking(fd), "flags wrong");
	close(fd);
	if (run != KERNEL) {
		struct accept4shim_stats st = stats();
		T_ASSERT(st.failed == 4, "failed %llu", (unsigned long long)st.failed);
		T_ASSERT(st.emulated == (run == EMULATE ? 1u : 0u), "emulated %llu",
			 (unsigned long long)st.emulated);
	}
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(einval_ebadf_and_enotsock_do_not_switch_auto_to_emulation)
{
	T_IN_CHILD(errors_do_not_switch, NULL);
}
END_TEST

/* A sandbox that refuses accept4 with EPERM has not said it is absent. */
static void eperm_does_not_switch(void *arg)
{
	(void)arg;
	enum run run = this_run();
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);
	t_seccomp_fail_syscall(SYS_accept4, EPERM);
	for (int i = 0; i < 2; i++) {
		errno = 0;
		int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
		if (run == EMULATE) {
			/* accept was never refused. */
			T_CHECK(fd >= 0);
			T_ASSERT(t_cloexec(fd), "FD_CLOEXEC missing");
			close(fd);
			break;
		}
		T_ASSERT(fd == -1 && errno == EPERM, "call %d: fd %d errno %d", i, fd, errno);
		T_ASSERT(t_wait_readable(l.fd, 0), "connection dequeued");
	}
	if (run == AUTO || run == NATIVE) {
		struct accept4shim_stats st = stats();
		T_ASSERT(st.errors[EPERM] == 2 && st.emulated == 0, "EPERM %llu emulated %llu",
			 (unsigned long long)st.errors[EPERM], (unsigned long long)st.emulated);
	}
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(eperm_from_a_sandbox_does_not_switch_auto_to_emulation)
{
	T_IN_CHILD(eperm_does_not_switch, NULL);
}
END_TEST

/* ---- a failing flag step: the socket closed, the step's errno ---------- */

struct failing_step {
	int cmd;       /* the fcntl command made to fail */
	int err;       /* with this errno */
	int flags;     /* accept4's flags */
	bool no_accept4; /* the kernel also answers accept4 with ENOSYS */
};

static void flag_step_fails(void *arg)
{
	const struct failing_step *f = arg;
	enum run run = this_run();
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);
	if (f->no_accept4)
		t_seccomp_fail_syscall(SYS_accept4, ENOSYS);
	t_seccomp_fail_fcntl(f->cmd, f->err);
	int before = t_count_fds();

	errno = 4321;
	int fd = accept4(l.fd, NULL, NULL, f->flags);
	bool emulating = run == EMULATE || (run == AUTO && f->no_accept4);
	if (emulating) {
		T_ASSERT(fd == -1, "fd %d: the failing step went unnoticed", fd);
		T_ASSERT(errno == f->err, "errno %d, want %d", errno, f->err);
		T_ASSERT(t_count_fds() == before, "%d descriptors, %d before: leaked",
			 t_count_fds(), before);
		/* The connection was taken and its socket closed. */
		T_ASSERT(!t_wait_readable(l.fd, 0), "connection still queued");
	} else if (f->no_accept4) {
		T_ASSERT(fd == -1 && errno == ENOSYS, "fd %d errno %d", fd, errno);
		T_ASSERT(t_count_fds() == before, "descriptor leaked");
	} else {
		/* Native accept4 needs no fcntl at all. */
		T_ASSERT(fd >= 0, "%s", strerror(errno));
		T_ASSERT(errno == 4321, "errno %d after success", errno);
		T_ASSERT(t_nonblocking(fd) == ((f->flags & SOCK_NONBLOCK) != 0), "O_NONBLOCK");
		T_ASSERT(t_cloexec(fd) == ((f->flags & SOCK_CLOEXEC) != 0), "FD_CLOEXEC");
		T_ASSERT(t_count_fds() == before + 1, "descriptor count");
		close(fd);
	}
	t_clients_done(client);
	t_close_listener(&l);
}

static const struct failing_step failing_steps[] = {
	{ F_SETFD, EPERM, SOCK_CLOEXEC, false },
	{ F_SETFL, ENOMEM, SOCK_NONBLOCK, false },
	{ F_SETFD, EACCES, SOCK_NONBLOCK | SOCK_CLOEXEC, false },
	{ F_SETFL, EIO, SOCK_NONBLOCK | SOCK_CLOEXEC, false },
	/* auto after its switch behaves as emulate. */
	{ F_SETFD, EPERM, SOCK_CLOEXEC, true },
	{ F_SETFL, ENOMEM, SOCK_NONBLOCK | SOCK_CLOEXEC, true },
};

START_TEST(a_failing_flag_step_closes_the_socket_and_returns_its_errno)
{
	struct failing_step f = failing_steps[_i];
	T_IN_CHILD(flag_step_fails, &f);
}
END_TEST

/* A flag that was not asked for costs no fcntl, so its failure is never
 * seen: emulate with SOCK_NONBLOCK works while F_SETFD fails, and the
 * other way round. */
static void unasked_flag_steps_are_not_made(void *arg)
{
	(void)arg;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 3);
	t_seccomp_fail_fcntl(F_SETFD, EPERM);
	int fd = accept4(l.fd, NULL, NULL, SOCK_NONBLOCK);
	T_CHECK(fd >= 0);
	T_ASSERT(t_nonblocking(fd) && !t_cloexec(fd), "flags wrong");
	close(fd);
	fd = accept4(l.fd, NULL, NULL, 0);
	T_CHECK(fd >= 0);
	close(fd);
	t_seccomp_fail_fcntl(F_SETFL, EPERM);
	fd = accept4(l.fd, NULL, NULL, 0);
	T_CHECK(fd >= 0);
	T_ASSERT(!t_nonblocking(fd) && !t_cloexec(fd), "flags wrong");
	close(fd);
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(flags_not_asked_for_cost_no_step_that_could_fail)
{
	T_IN_CHILD(unasked_flag_steps_are_not_made, NULL);
}
END_TEST

/* ---- a thread blocked in accept: EINTR and cancellation ---------------- */

struct blocked {
	int lfd;
	int flags;
	bool use_accept; /* accept() instead of accept4() */
	atomic_int tid;
	int fd;
	int err;
};

static void *block_in_accept(void *arg)
{
	struct blocked *b = arg;
	atomic_store(&b->tid, (int)syscall(SYS_gettid));
	errno = 0;
	b->fd = b->use_accept ? accept(b->lfd, NULL, NULL) : accept4(b->lfd, NULL, NULL, b->flags);
	b->err = errno;
	return NULL;
}

/* Waits until the thread sits in the system call that waits for the
 * connection (the harness's t_wait_blocked_in_accept). */
static void wait_until_blocked(struct blocked *b)
{
	for (int i = 0; i < 2000 && !atomic_load(&b->tid); i++)
		usleep(5000);
	T_ASSERT(atomic_load(&b->tid) != 0, "the thread never started");
	t_wait_blocked_in_accept(getpid(), atomic_load(&b->tid));
}

static void join_within(pthread_t th, int seconds, void **res)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	int r = pthread_timedjoin_np(th, res, &until);
	T_ASSERT(r == 0, "thread still blocked after %d s (%s)", seconds, strerror(r));
}

static atomic_int handled;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static void interrupted(void *arg)
{
	bool restart = *(bool *)arg;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	T_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	struct blocked b = { .lfd = l.fd, .flags = SOCK_CLOEXEC };
	pthread_t th;
	T_ASSERT(pthread_create(&th, NULL, block_in_accept, &b) == 0, "pthread_create");
	wait_until_blocked(&b);
	T_ASSERT(pthread_kill(th, SIGUSR1) == 0, "pthread_kill");
	if (!restart) {
		join_within(th, 10, NULL);
		T_ASSERT(b.fd == -1 && b.err == EINTR, "fd %d errno %d, want -1 EINTR", b.fd, b.err);
		T_ASSERT(atomic_load(&handled) == 1, "handler ran %d times", atomic_load(&handled));
	} else {
		for (int i = 0; i < 1000 && !atomic_load(&handled); i++)
			usleep(5000);
		T_ASSERT(atomic_load(&handled) == 1, "the handler never ran");
		/* Back in the kernel, still waiting: the connection comes now. */
		wait_until_blocked(&b);
		pid_t client = t_clients(&l, 1);
		join_within(th, 10, NULL);
		T_ASSERT(b.fd >= 0, "accept4 gave %d errno %d after SA_RESTART", b.fd, b.err);
		T_ASSERT(t_cloexec(b.fd) && !t_nonblocking(b.fd), "flags wrong");
		close(b.fd);
		t_clients_done(client);
	}
	t_close_listener(&l);
}

START_TEST(a_signal_without_sa_restart_ends_a_blocked_accept4_with_eintr)
{
	bool restart = false;
	T_IN_CHILD(interrupted, &restart);
}
END_TEST

START_TEST(with_sa_restart_a_blocked_accept4_keeps_waiting_for_its_connection)
{
	bool restart = true;
	T_IN_CHILD(interrupted, &restart);
}
END_TEST

static void cancelled(void *arg)
{
	struct blocked b = *(const struct blocked *)arg;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	b.lfd = l.fd;
	int before = t_count_fds();
	pthread_t th;
	T_ASSERT(pthread_create(&th, NULL, block_in_accept, &b) == 0, "pthread_create");
	wait_until_blocked(&b);
	T_ASSERT(pthread_cancel(th) == 0, "pthread_cancel");
	void *res = NULL;
	join_within(th, 10, &res);
	T_ASSERT(res == PTHREAD_CANCELED, "the thread was not cancelled (fd %d)", b.fd);
	T_ASSERT(t_count_fds() == before, "descriptor count changed");
	t_close_listener(&l);
}

START_TEST(a_thread_blocked_in_accept4_can_be_cancelled)
{
	struct blocked b = { .flags = _i ? SOCK_NONBLOCK | SOCK_CLOEXEC : 0 };
	T_IN_CHILD(cancelled, &b);
}
END_TEST

START_TEST(a_thread_blocked_in_accept_can_be_cancelled)
{
	struct blocked b = { .use_accept = true };
	T_IN_CHILD(cancelled, &b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("modes");
	TCase *tc = tcase_create("switch");
	tcase_set_tags(tc, "seccomp");
	tcase_add_loop_test(tc, enosys_from_the_kernel_switches_auto_to_exact_emulation, 0,
			    T_FAMILIES);
	tcase_add_test(tc, the_switch_holds_for_every_thread);
	tcase_add_test(tc, eperm_from_a_sandbox_does_not_switch_auto_to_emulation);
	suite_add_tcase(s, tc);

	tc = tcase_create("no-switch");
	tcase_add_test(tc, einval_ebadf_and_enotsock_do_not_switch_auto_to_emulation);
	suite_add_tcase(s, tc);

	tc = tcase_create("failing-step");
	tcase_set_tags(tc, "seccomp");
	tcase_add_loop_test(tc, a_failing_flag_step_closes_the_socket_and_returns_its_errno, 0,
			    (int)(sizeof(failing_steps) / sizeof(failing_steps[0])));
	tcase_add_test(tc, flags_not_asked_for_cost_no_step_that_could_fail);
	suite_add_tcase(s, tc);

	tc = tcase_create("blocked");
	tcase_add_test(tc, a_signal_without_sa_restart_ends_a_blocked_accept4_with_eintr);
	tcase_add_test(tc, with_sa_restart_a_blocked_accept4_keeps_waiting_for_its_connection);
	tcase_add_loop_test(tc, a_thread_blocked_in_accept4_can_be_cancelled, 0, 2);
	tcase_add_test(tc, a_thread_blocked_in_accept_can_be_cancelled);
	suite_add_tcase(s, tc);

	return t_run_suite(s);
}
