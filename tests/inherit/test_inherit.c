/*
 * SPEC, accept() under ACCEPT4SHIM_INHERIT=bsd: "the new socket gets the
 * listener's O_NONBLOCK and O_ASYNC, its owner (as F_GETOWN_EX gives it: a
 * thread, process or process group) and its F_SETSIG signal, read at the
 * time of the call, owner and signal before O_ASYNC; only what differs from
 * a fresh socket costs a system call." accept4: "nothing else is inherited
 * from the listener, in every mode and under either INHERIT value."
 * INHERIT=linux: "as the real accept".
 *
 * The suite runs against the kernel alone, under INHERIT=linux, and under
 * INHERIT=bsd natively, emulating and in auto mode; each case reads which
 * one it is in and expects either the kernel's behaviour or BSD's. (How many
 * system calls each takes is counted in tests/syscalls.)
 *
 * Every case that makes a socket O_ASYNC runs in t_in_child with SIGIO and
 * the F_SETSIG signal blocked: their default action kills, and a process
 * group owner must not reach ctest.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define SIG (SIGRTMIN + 2)

static bool bsd(void)
{
	const char *preload = getenv("LD_PRELOAD");
	const char *inherit = getenv("ACCEPT4SHIM_INHERIT");
	return preload && *preload && inherit && strcmp(inherit, "bsd") == 0;
}

/* A client of l in this very process: the kernel completes a loopback or
 * AF_UNIX connect without an accept, so the connection waits in l's queue. */
static int connect_to(const struct t_listener *l)
{
	int c = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_CHECK(c >= 0);
	T_CHECK(connect(c, (const struct sockaddr *)&l->addr, l->addrlen) == 0);
	return c;
}

static void block_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIG);
	T_CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
}

/* A non-blocking, O_ASYNC listener owned by (type, pid), with F_SETSIG sig
 * unless sig is 0. Owner and signal first, as a careful program does. */
static void async_listener(struct t_listener *l, enum t_family f, int type, pid_t pid,
			   int sig)
{
	t_listen(l, f, SOCK_NONBLOCK);
	struct f_owner_ex owner = { type, pid };
	T_CHECK(fcntl(l->fd, F_SETOWN_EX, &owner) == 0);
	if (sig)
		T_CHECK(fcntl(l->fd, F_SETSIG, sig) == 0);
	T_CHECK(fcntl(l->fd, F_SETFL, O_NONBLOCK | O_ASYNC) == 0);
}

static struct f_owner_ex owner_of(int fd)
{
	struct f_owner_ex o;
	T_CHECK(fcntl(fd, F_GETOWN_EX, &o) == 0);
	return o;
}

/* fd has exactly what BSD would have copied from a listener with status
 * flags `status`, owner (type, pid) and signal sig, or, when the run is not
 * a BSD one, what a fresh Linux socket has: nothing. */
static void expect_inherited(int fd, int status, int type, pid_t pid, int sig, bool from_bsd)
{
	int fl = t_status_flags(fd) & (O_NONBLOCK | O_ASYNC);
	struct f_owner_ex o = owner_of(fd);
	int s = fcntl(fd, F_GETSIG);
	T_CHECK(s >= 0);
	if (from_bsd) {
		T_ASSERT(fl == status, "status flags %#x, want %#x", fl, status);
		T_ASSERT(o.pid == pid, "owner %d, want %d", o.pid, pid);
		if (pid)
			T_ASSERT((int)o.type == type, "owner type %d, want %d", (int)o.type, type);
		T_ASSERT(s == sig, "F_GETSIG %d, want %d", s, sig);
	} else {
		T_ASSERT(fl == 0, "status flags %#x, want none", fl);
		T_ASSERT(o.pid == 0, "owner %d, want none", o.pid);
		T_ASSERT(s == 0, "F_GETSIG %d, want 0", s);
	}
	T_ASSERT(!t_cloexec(fd), "FD_CLOEXEC is a descriptor flag, never inherited");
}

/* ---- owner: process, thread, process group -------------------------------- */

static void process_owner(void *arg)
{
	enum t_family f = *(enum t_family *)arg;
	block_signals();
	struct t_listener l;
	async_listener(&l, f, F_OWNER_PID, getpid(), SIG);
	int c = connect_to(&l);
	T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
	errno = 777;
	int fd = accept(l.fd, NULL, NULL);
	T_CHECK(fd >= 0);
	T_ASSERT(errno == 777, "errno changed on success: %d", errno);
	expect_inherited(fd, O_NONBLOCK | O_ASYNC, F_OWNER_PID, getpid(), SIG, bsd());
	close(fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(accept_copies_nonblock_async_process_owner_and_signal)
{
	enum t_family f = (enum t_family)_i;
	T_IN_CHILD(process_owner, &f);
}
END_TEST

struct idle_thread {
	int pipe[2];
	pid_t tid;
	pthread_t thread;
};

static void *idle(void *arg)
{
	struct idle_thread *t = arg;
	__atomic_store_n(&t->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	char b;
	(void)read(t->pipe[0], &b, 1); /* until the test is done */
	return NULL;
}

static void thread_owner(void *arg)
{
	(void)arg;
	block_signals(); /* before the thread exists, so it inherits the mask */
	struct idle_thread t = { .tid = 0 };
	T_CHECK(pipe(t.pipe) == 0);
	T_ASSERT(pthread_create(&t.thread, NULL, idle, &t) == 0, "pthread_create");
	while (!__atomic_load_n(&t.tid, __ATOMIC_ACQUIRE))
		sched_yield();
	T_ASSERT(t.tid != getpid(), "the owner must be another thread");

	struct t_listener l;
	async_listener(&l, T_TCP4, F_OWNER_TID, t.tid, SIG);
	int c = connect_to(&l);
	T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
	int fd = accept(l.fd, NULL, NULL);
	T_CHECK(fd >= 0);
	expect_inherited(fd, O_NONBLOCK | O_ASYNC, F_OWNER_TID, t.tid, SIG, bsd());
	close(fd);
	close(c);
	t_close_listener(&l);
	close(t.pipe[1]);
	pthread_join(t.thread, NULL);
}

START_TEST(accept_keeps_a_thread_owner_a_thread_owner)
{
	T_IN_CHILD(thread_owner, NULL);
}
END_TEST

static void group_owner(void *arg)
{
	(void)arg;
	/* A group of our own, so that the group's signals reach only us. */
	T_CHECK(setpgid(0, 0) == 0);
	block_signals();
	struct t_listener l;
	async_listener(&l, T_UNIX_PATH, F_OWNER_PGRP, getpgrp(), 0);
	int c = connect_to(&l);
	T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
	int fd = accept(l.fd, NULL, NULL);
	T_CHECK(fd >= 0);
	expect_inherited(fd, O_NONBLOCK | O_ASYNC, F_OWNER_PGRP, getpgrp(), 0, bsd());
	close(fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(accept_keeps_a_process_group_owner_a_process_group_owner)
{
	T_IN_CHILD(group_owner, NULL);
}
END_TEST

/* ---- only what differs costs a system call -------------------------------- */

/* Every fcntl that changes a property fails with EPERM from here on. */
static void forbid_writes(bool setfl_too)
{
	t_seccomp_fail_fcntl(F_SETFD, EPERM);
	t_seccomp_fail_fcntl(F_SETOWN_EX, EPERM);
	t_seccomp_fail_fcntl(F_SETOWN, EPERM);
	t_seccomp_fail_fcntl(F_SETSIG, EPERM);
	if (setfl_too)
		t_seccomp_fail_fcntl(F_SETFL, EPERM);
}

static void blocking_listener(void *arg)
{
	enum t_family f = *(enum t_family *)arg;
	struct t_listener l;
	t_listen(&l, f, 0);
	int c = connect_to(&l);
	forbid_writes(true);
	int fd = accept(l.fd, NULL, NULL);
	T_ASSERT(fd >= 0, "accept tried to change a property that was already right: %s",
		 strerror(errno));
	expect_inherited(fd, 0, 0, 0, 0, bsd());
	close(fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(a_plain_blocking_listener_gives_nothing_and_costs_no_write)
{
	enum t_family f = (enum t_family)_i;
	T_IN_CHILD(blocking_listener, &f);
}
END_TEST

static void nonblocking_listener(void *arg)
{
	(void)arg;
	struct t_listener l;
	t_listen(&l, T_TCP6, SOCK_NONBLOCK);
	int c = connect_to(&l);
	T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
	forbid_writes(false); /* F_SETFL alone stays allowed */
	int fd = accept(l.fd, NULL, NULL);
	T_ASSERT(fd >= 0, "accept changed more than O_NONBLOCK: %s", strerror(errno));
	expect_inherited(fd, O_NONBLOCK, 0, 0, 0, bsd());
	close(fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(a_nonblocking_listener_gives_only_o_nonblock)
{
	T_IN_CHILD(nonblocking_listener, NULL);
}
END_TEST

/* ---- accept4 keeps FreeBSD's rule ----------------------------------------- */

static void accept4_nothing(void *arg)
{
	(void)arg;
	static const int all[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };
	block_signals();
	struct t_listener l;
	async_listener(&l, T_TCP4, F_OWNER_PID, getpid(), SIG);
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		int c = connect_to(&l);
		T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
		int fd = accept4(l.fd, NULL, NULL, all[k]);
		T_CHECK(fd >= 0);
		int fl = t_status_flags(fd) & (O_NONBLOCK | O_ASYNC);
		T_ASSERT(fl == ((all[k] & SOCK_NONBLOCK) ? O_NONBLOCK : 0),
			 "accept4(%#x): status %#x", all[k], fl);
		T_ASSERT(t_cloexec(fd) == ((all[k] & SOCK_CLOEXEC) != 0), "accept4(%#x): cloexec",
			 all[k]);
		T_ASSERT(owner_of(fd).pid == 0, "accept4(%#x) copied the owner", all[k]);
		T_ASSERT(fcntl(fd, F_GETSIG) == 0, "accept4(%#x) copied the signal", all[k]);
		close(fd);
		close(c);
	}
	t_close_listener(&l);
}

START_TEST(accept4_inherits_nothing_from_the_listener)
{
	T_IN_CHILD(accept4_nothing, NULL);
}
END_TEST

/* ---- read at the time of the call ------------------------------------------ */

START_TEST(the_listener_is_read_at_the_time_of_the_call)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t clients = t_clients(&l, 2);
	int a = accept(l.fd, NULL, NULL);
	ck_assert_int_ge(a, 0);
	ck_assert(!t_nonblocking(a));
	/* The program changes the listener between two accepts. */
	T_CHECK(fcntl(l.fd, F_SETFL, O_NONBLOCK) == 0);
	int b = accept(l.fd, NULL, NULL);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(t_nonblocking(b), bsd());
	ck_assert(!t_nonblocking(a)); /* the first socket is its own */
	close(a);
	close(b);
	t_clients_done(clients);
	t_close_listener(&l);
}
END_TEST

/* ---- failures ---------------------------------------------------------------- */

struct failing_step {
	int cmd;
	int err;
};

static void failing_step(void *arg)
{
	const struct failing_step *s = arg;
	block_signals();
	struct t_listener l;
	async_listener(&l, T_TCP4, F_OWNER_PID, getpid(), SIG);
	int c = connect_to(&l);
	T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
	t_seccomp_fail_fcntl(s->cmd, s->err);
	int before = t_count_fds();
	errno = 0;
	int fd = accept(l.fd, NULL, NULL);
	if (bsd()) {
		T_ASSERT(fd == -1 && errno == s->err, "fcntl %d failing with %d: accept gave %d, %s",
			 s->cmd, s->err, fd, strerror(errno));
		T_ASSERT(t_count_fds() == before, "the new socket leaked");
		/* It was accepted and closed: the queue is empty now. */
		T_ASSERT(accept(l.fd, NULL, NULL) == -1 && errno == EAGAIN,
			 "the connection is still queued");
	} else {
		T_ASSERT(fd >= 0, "accept: %s", strerror(errno));
		close(fd);
	}
	close(c);
	t_close_listener(&l);
}

START_TEST(a_step_that_fails_closes_the_new_socket_and_gives_its_errno)
{
	static struct failing_step steps[] = {
		{ F_GETFL, EACCES },     { F_GETOWN_EX, EACCES }, { F_GETSIG, EACCES },
		{ F_SETOWN_EX, EPERM }, { F_SETSIG, EPERM },     { F_SETFL, ENOMEM },
	};
	T_IN_CHILD(failing_step, &steps[_i]);
}
END_TEST

static void no_accept4(void *arg)
{
	(void)arg;
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	int c = connect_to(&l);
	T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
	t_seccomp_fail_syscall(SYS_accept4, ENOSYS);
	int fd = accept(l.fd, NULL, NULL);
	T_ASSERT(fd >= 0, "accept() without accept4: %s", strerror(errno));
	expect_inherited(fd, O_NONBLOCK, 0, 0, 0, bsd());
	close(fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(accept_inherits_where_the_kernel_has_no_accept4)
{
	T_IN_CHILD(no_accept4, NULL);
}
END_TEST

/* ---- the point of copying the owner: the signal arrives -------------------- */

/* Waits up to ms for signo; with F_SETSIG the siginfo names the descriptor,
 * and only a signal for fd counts. */
static bool signal_for(int signo, int fd, bool check_fd, int ms)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, signo);
	struct timespec end, now;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = (end.tv_sec - now.tv_sec) * 1000000000L + (end.tv_nsec - now.tv_nsec);
		if (left <= 0)
			return false;
		struct timespec wait = { left / 1000000000L, left % 1000000000L };
		siginfo_t si;
		int r = sigtimedwait(&set, &si, &wait);
		if (r == signo && (!check_fd || si.si_fd == fd))
			return true;
		if (r < 0 && errno != EINTR && errno != EAGAIN)
			T_CHECK(r >= 0);
	}
}

static void sigio_arrives(void *arg)
{
	int sig = *(int *)arg; /* 0: plain SIGIO */
	int signo = sig ? sig : SIGIO;
	block_signals();
	struct t_listener l;
	async_listener(&l, T_TCP4, F_OWNER_PID, getpid(), sig);
	int c = connect_to(&l);
	T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
	int fd = accept(l.fd, NULL, NULL);
	T_CHECK(fd >= 0);
	/* Forget the listener's own signals for the new connection. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, signo);
	struct timespec zero = { 0, 0 };
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;

	T_CHECK(write(c, "data", 4) == 4);
	if (bsd()) {
		T_ASSERT(signal_for(signo, fd, sig != 0, 5000),
			 "no signal %d for data on the accepted socket", signo);
		char buf[8];
		T_ASSERT(read(fd, buf, sizeof(buf)) == 4, "read");
	} else {
		T_ASSERT(!signal_for(signo, fd, sig != 0, 300),
			 "signal %d for a socket that is not O_ASYNC", signo);
	}
	close(fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(the_owner_gets_its_signal_for_data_on_the_accepted_socket)
{
	int sig = _i ? SIG : 0;
	T_IN_CHILD(sigio_arrives, &sig);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("inherit");
	TCase *tc = tcase_create("bsd");
	tcase_add_loop_test(tc, accept_copies_nonblock_async_process_owner_and_signal, 0,
			    T_FAMILIES);
	tcase_add_test(tc, accept_keeps_a_thread_owner_a_thread_owner);
	tcase_add_test(tc, accept_keeps_a_process_group_owner_a_process_group_owner);
	tcase_add_loop_test(tc, a_plain_blocking_listener_gives_nothing_and_costs_no_write, 0,
			    T_FAMILIES);
	tcase_add_test(tc, a_nonblocking_listener_gives_only_o_nonblock);
	tcase_add_test(tc, accept4_inherits_nothing_from_the_listener);
	tcase_add_test(tc, the_listener_is_read_at_the_time_of_the_call);
	tcase_add_loop_test(tc, a_step_that_fails_closes_the_new_socket_and_gives_its_errno, 0, 6);
	tcase_add_test(tc, accept_inherits_where_the_kernel_has_no_accept4);
	tcase_add_loop_test(tc, the_owner_gets_its_signal_for_data_on_the_accepted_socket, 0, 2);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
