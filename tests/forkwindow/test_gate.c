/*
 * Issue 15, the fork window without a new way to hang. SPEC: "EINTR is
 * returned as the kernel returns it ...; SA_RESTART works as without the
 * library"; "Both stay cancellation points ... no lock that a signal
 * handler or a cancelled thread could leave held"; issue 15: "A thread
 * blocked in accept on a quiet blocking listener must never hold up another
 * thread's fork or spawn ... A fork from a signal handler, a fork while
 * another thread is inside the library, and _Fork keep working."
 *
 * Runs (CMakeLists.txt): kernel (no library: the waiting cases show what
 * the kernel does, the no-hang ratio and the instruction cost run their
 * probes with and without the library themselves), emulate (preloaded,
 * MODE=emulate: the waiting cases again, and the gate cases), native.
 * Children and threads that could hang arm alarm(): a hang is a failure.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"
#include "syscall_of.h"

#pragma weak accept4shim_version
#pragma weak accept4shim_get_stats

extern char **environ;

static bool preloaded(void)
{
	return getenv("LD_PRELOAD") != NULL;
}

static uint64_t timeouts(void)
{
	struct accept4shim_stats s;
	memset(&s, 0, sizeof(s));
	if (preloaded()) {
		T_ASSERT(accept4shim_get_stats && accept4shim_get_stats(&s, sizeof(s)) == 0,
			 "LD_PRELOAD is set but the library is not in the process");
	}
	return s.fork_window_timeouts;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A hang becomes SIGALRM, which kills (Check's own handler is taken off). */
static void guard(int seconds)
{
	signal(SIGALRM, SIG_DFL);
	alarm((unsigned)seconds);
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- a thread blocked in accept4(SOCK_CLOEXEC) ---- */

struct blocked {
	int lfd;
	atomic_int tid;
	atomic_int done;
	int fd, err;
};

static void *block_in_accept4(void *arg)
{
	struct blocked *b = arg;
	atomic_store(&b->tid, (int)syscall(SYS_gettid));
	errno = 0;
	b->fd = accept4(b->lfd, NULL, NULL, SOCK_CLOEXEC);
	b->err = errno;
	atomic_store(&b->done, 1);
	return NULL;
}


/* Until the thread waits for a connection: in accept natively, in poll
 * when the library waits outside the fork window (or in accept inside it,
 * when want_accept). */
static long wait_until_blocked(struct blocked *b, bool want_accept)
{
	for (int i = 0; i < 2000; i++) {
		int tid = atomic_load(&b->tid);
		long nr = tid ? fw_syscall_of(tid) : -1;
		if (nr == SYS_accept4 || nr == SYS_accept ||
		    (!want_accept && (nr == SYS_poll || nr == SYS_ppoll)))
			return nr;
		T_ASSERT(!atomic_load(&b->done), "the thread returned: fd %d, %s", b->fd,
			 strerror(b->err));
		pause_ms(2);
	}
	T_ASSERT(0, "the thread never blocked");
	return -1;
}

static void start_blocked(struct blocked *b, pthread_t *t, int lfd)
{
	memset(b, 0, sizeof(*b));
	b->lfd = lfd;
	T_ASSERT(pthread_create(t, NULL, block_in_accept4, b) == 0, "pthread_create");
}

static void join(pthread_t t)
{
	T_ASSERT(pthread_join(t, NULL) == 0, "pthread_join");
}

static int connect_to(const struct t_listener *l)
{
	int c = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_CHECK(c >= 0);
	T_CHECK(connect(c, (const struct sockaddr *)&l->addr, l->addrlen) == 0);
	return c;
}

/* ---- waiting keeps accept's semantics (every run) ---- */

static atomic_int usr1, usr2;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr1, 1);
}

static void on_usr2(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr2, 1);
}

static void handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	T_CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void set_rcvtimeo(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	T_CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
}

static void rcvtimeo_runs_out(void *arg)
{
	(void)arg;
	guard(20);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	set_rcvtimeo(l.fd, 150);
	uint64_t t0 = now_ns();
	int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	T_ASSERT(fd == -1 && errno == EAGAIN, "fd %d, %s: want EAGAIN", fd, strerror(errno));
	/* Not a timing assertion: proof that it waited at all. */
	T_ASSERT(now_ns() - t0 >= 100000000u, "returned before SO_RCVTIMEO ran out");
	t_close_listener(&l);
}

START_TEST(so_rcvtimeo_ends_a_blocked_accept4_with_eagain)
{
	T_IN_CHILD(rcvtimeo_runs_out, NULL);
}
END_TEST

static void rcvtimeo_and_restart(void *arg)
{
	(void)arg;
	guard(20);
	handle(SIGUSR1, on_usr1, SA_RESTART);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	set_rcvtimeo(l.fd, 10000);
	struct blocked b;
	pthread_t t;
	start_blocked(&b, &t, l.fd);
	wait_until_blocked(&b, false);
	T_ASSERT(pthread_kill(t, SIGUSR1) == 0, "pthread_kill");
	join(t);
	T_ASSERT(b.fd == -1 && b.err == EINTR, "fd %d, %s: want EINTR (signal(7): accept with a "
		 "timeout is never restarted)", b.fd, strerror(b.err));
	t_close_listener(&l);
}

START_TEST(with_so_rcvtimeo_a_handler_ends_accept4_with_eintr_even_with_sa_restart)
{
	T_IN_CHILD(rcvtimeo_and_restart, NULL);
}
END_TEST

static void both_kinds(void *arg)
{
	(void)arg;
	guard(20);
	/* Check's own handlers (SIGINT, SIGALRM, SIGTERM) have no
	 * SA_RESTART either: a process with handlers of both kinds. */
	handle(SIGUSR1, on_usr1, SA_RESTART);
	handle(SIGUSR2, on_usr2, 0);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	struct blocked b;
	pthread_t t;
	start_blocked(&b, &t, l.fd);
	wait_until_blocked(&b, false);
	for (int i = 0; i < 3; i++) {
		int before = atomic_load(&usr1);
		T_ASSERT(pthread_kill(t, SIGUSR1) == 0, "pthread_kill");
		for (int k = 0; k < 2500 && atomic_load(&usr1) == before; k++)
			pause_ms(2);
		T_ASSERT(atomic_load(&usr1) == before + 1, "the SA_RESTART handler never ran");
		/* Restarted: waiting again, not returned. */
		wait_until_blocked(&b, false);
	}
	T_ASSERT(pthread_kill(t, SIGUSR2) == 0, "pthread_kill");
	join(t);
	T_ASSERT(b.fd == -1 && b.err == EINTR, "fd %d, %s: want EINTR after a handler without "
		 "SA_RESTART", b.fd, strerror(b.err));
	T_ASSERT(atomic_load(&usr2) == 1, "SIGUSR2's handler ran %d times", atomic_load(&usr2));

	/* And a restarted wait still takes its connection. */
	start_blocked(&b, &t, l.fd);
	wait_until_blocked(&b, false);
	T_ASSERT(pthread_kill(t, SIGUSR1) == 0, "pthread_kill");
	pause_ms(100);
	int c = connect_to(&l);
	join(t);
	T_ASSERT(b.fd >= 0 && t_cloexec(b.fd), "fd %d, %s", b.fd, strerror(b.err));
	close(b.fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(with_handlers_of_both_kinds_sa_restart_keeps_waiting_and_the_other_ends_it)
{
	T_IN_CHILD(both_kinds, NULL);
}
END_TEST

static void not_listening(void *arg)
{
	(void)arg;
	guard(10); /* a wait where accept answers at once is a hang */
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	T_CHECK(udp >= 0);
	T_ASSERT(accept4(udp, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EOPNOTSUPP,
		 "udp: %s", strerror(errno));
	int tcp = socket(AF_INET, SOCK_STREAM, 0);
	T_CHECK(tcp >= 0);
	T_ASSERT(accept4(tcp, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EINVAL,
		 "unlistened tcp: %s", strerror(errno));
	int p[2];
	T_CHECK(pipe(p) == 0);
	T_ASSERT(accept4(p[0], NULL, NULL, SOCK_CLOEXEC) == -1 && errno == ENOTSOCK,
		 "pipe: %s", strerror(errno));
	T_ASSERT(accept4(p[1] + 100, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EBADF,
		 "closed descriptor: %s", strerror(errno));
	T_ASSERT(accept4(-1, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EBADF, "-1: %s",
		 strerror(errno));
	close(udp);
	close(tcp);
	close(p[0]);
	close(p[1]);
}

START_TEST(a_socket_that_is_not_listening_answers_at_once)
{
	T_IN_CHILD(not_listening, NULL);
}
END_TEST

static void made_nonblocking(void *arg)
{
	(void)arg;
	guard(10);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	/* A call from the blocking listener first, so that the library has
	 * seen it block. */
	int c = connect_to(&l);
	int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	T_ASSERT(fd >= 0, "accept4: %s", strerror(errno));
	close(fd);
	close(c);
	T_CHECK(fcntl(l.fd, F_SETFL, O_NONBLOCK) == 0);
	T_ASSERT(accept4(l.fd, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EAGAIN,
		 "a listener made non-blocking: %s", strerror(errno));
	t_close_listener(&l);
}

START_TEST(a_listener_made_non_blocking_answers_eagain_at_once)
{
	T_IN_CHILD(made_nonblocking, NULL);
}
END_TEST

static void out_of_descriptors(void *arg)
{
	(void)arg;
	guard(10);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	/* No descriptor left below the limit: accept says so at once, before
	 * it would wait for a connection. */
	int top = dup(0);
	T_CHECK(top >= 0);
	struct rlimit rl = { (rlim_t)top, (rlim_t)top };
	close(top);
	for (int fd = 0; fd < top; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			T_CHECK(dup2(l.fd, fd) == fd);
	T_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	T_ASSERT(accept4(l.fd, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EMFILE,
		 "accept4 at the descriptor limit: %s", strerror(errno));
}

START_TEST(out_of_descriptors_a_blocked_accept4_fails_at_once)
{
	T_IN_CHILD(out_of_descriptors, NULL);
}
END_TEST

static void spawn_errors(void *arg)
{
	(void)arg;
	pid_t pid = 0;
	static char name[] = "a4s-nonexistent";
	char *argv[] = { name, NULL };
	/* The error is the return value (glibc also leaves it in errno). */
	int r = posix_spawn(&pid, "/nonexistent/a4s", NULL, NULL, argv, environ);
	T_ASSERT(r == ENOENT, "posix_spawn: %d", r);
	r = posix_spawnp(&pid, "a4s-nonexistent", NULL, NULL, argv, environ);
	T_ASSERT(r == ENOENT, "posix_spawnp: %d", r);
	/* vfork: the child's changes are the parent's, as ever. */
	static volatile int shared;
	shared = 0;
	errno = 1234;
	pid_t v = vfork();
	if (v == 0) {
		shared = 42;
		_exit(0);
	}
	T_ASSERT(v > 0 && errno == 1234, "vfork: %d, errno %d", (int)v, errno);
	T_ASSERT(shared == 42, "vfork's child does not share memory with its parent");
	int status;
	T_CHECK(waitpid(v, &status, 0) == v);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "vfork child %#x", status);
}

START_TEST(spawning_keeps_the_c_librarys_results_and_errno)
{
	T_IN_CHILD(spawn_errors, NULL);
}
END_TEST

/* A child that cannot be made ends the pass as well: another thread's
 * accept4 afterwards does not wait for a fork that never happened. */
static struct t_listener late_l;
static int late_fd, late_err;

static void *late_accept(void *arg)
{
	(void)arg;
	late_fd = accept4(late_l.fd, NULL, NULL, SOCK_CLOEXEC);
	late_err = errno;
	return NULL;
}

static void failing_children(void *arg)
{
	(void)arg;
	guard(20);
	t_listen(&late_l, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	uint64_t before = timeouts();
	t_seccomp_fail_syscall(SYS_vfork, EAGAIN);
	errno = 0;
	pid_t v = vfork();
	if (v == 0)
		_exit(0);
	T_ASSERT(v == -1 && errno == EAGAIN, "vfork: %d, %s", (int)v, strerror(errno));
	t_seccomp_fail_syscall(SYS_clone, EAGAIN);
	errno = 0;
	pid_t f = _Fork();
	if (f == 0)
		_exit(0);
	T_ASSERT(f == -1 && errno == EAGAIN, "_Fork: %d, %s", (int)f, strerror(errno));
	pthread_t t;
	/* pthread_create uses clone3 (glibc 2.34+), not refused here. */
	T_ASSERT(pthread_create(&t, NULL, late_accept, NULL) == 0, "pthread_create");
	join(t);
	T_ASSERT(late_fd == -1 && late_err == EAGAIN, "accept4: %d, %s", late_fd,
		 strerror(late_err));
	/* A pass left open would have kept the thread waiting until it went
	 * stale, and counted. */
	T_ASSERT(timeouts() == before, "the thread waited for a child never made");
	t_close_listener(&late_l);
}

START_TEST(a_child_that_cannot_be_made_fails_as_without_the_library)
{
	T_IN_CHILD(failing_children, NULL);
}
END_TEST

/* ---- the gate (preloaded) ---- */

static int fork_and_reap(bool underscore)
{
	pid_t pid = underscore ? _Fork() : fork();
	if (pid == 0)
		_exit(0);
	int status = -1;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* A thread blocked in accept4 inside the window, on a listener of l's. */
static void stuck_inside_the_window(struct t_listener *l, struct blocked *b, pthread_t *t)
{
	t_listen(l, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	/* The library learns the listener does not block ... */
	T_ASSERT(accept4(l->fd, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EAGAIN, "warm-up");
	/* ... and it is made blocking behind its back: the next accept4
	 * goes into the window at once and blocks there, as one would
	 * after another process took the connection poll had seen. */
	T_CHECK(fcntl(l->fd, F_SETFL, 0) == 0);
	start_blocked(b, t, l->fd);
	wait_until_blocked(b, true);
}

static void stuck_reader(void *arg)
{
	(void)arg;
	guard(30);
	struct t_listener l;
	struct blocked b;
	pthread_t t;
	stuck_inside_the_window(&l, &b, &t);
	uint64_t before = timeouts();
	for (int i = 0; i < 50; i++)
		T_ASSERT(fork_and_reap(i % 2) == 0, "fork %d", i);
	/* The first fork waited for it, gave up and said so; the others
	 * knew to go on. */
	T_ASSERT(timeouts() - before == 1, "%llu timeouts for one stuck thread",
		 (unsigned long long)(timeouts() - before));
	int c = connect_to(&l);
	join(t);
	T_ASSERT(b.fd >= 0 && t_cloexec(b.fd), "fd %d, %s", b.fd, strerror(b.err));
	close(b.fd);
	close(c);
	/* Having been given up on, it looks at the listener again: now it
	 * waits outside the window, and forks do not wait at all. */
	start_blocked(&b, &t, l.fd);
	T_ASSERT(wait_until_blocked(&b, false) != SYS_accept, "blocked inside the window again");
	before = timeouts();
	for (int i = 0; i < 20; i++)
		T_ASSERT(fork_and_reap(false) == 0, "fork %d", i);
	T_ASSERT(timeouts() == before, "forks waited for a thread in poll");
	c = connect_to(&l);
	join(t);
	T_ASSERT(b.fd >= 0, "accept4: %s", strerror(b.err));
	close(b.fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(a_thread_stuck_in_accept_inside_the_window_costs_one_fork_one_wait)
{
	T_IN_CHILD(stuck_reader, NULL);
}
END_TEST

/*
 * A number that named a non-blocking listener comes to name a blocking one,
 * through the C library: closed and another listener made (it takes the
 * lowest free number), or another listener dup2'd onto it. What the window
 * knew of the old listener must not be trusted for the new one: the next
 * accept4 waits outside the window (in poll) and no fork waits for it.
 * Before numbers.c forgot the kind, the accept went straight into the
 * window and blocked there, and the next fork waited, gave up and counted
 * it (the stuck_reader case above).
 */
enum { BY_CLOSE, BY_DUP2 };

static void replaced_listener(void *arg)
{
	int way = *(const int *)arg;
	guard(30);
	struct t_listener old, fresh;
	t_listen(&old, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	int n = old.fd;
	/* The library learns that n does not block. */
	T_ASSERT(accept4(n, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EAGAIN, "warm-up");
	if (way == BY_CLOSE) {
		t_close_listener(&old);
		t_listen(&fresh, T_UNIX_ABSTRACT, 0);
		T_ASSERT(fresh.fd == n, "the new listener has %d, not %d", fresh.fd, n);
	} else {
		t_listen(&fresh, T_UNIX_ABSTRACT, 0);
		T_CHECK(dup2(fresh.fd, n) == n);
	}
	struct blocked b;
	pthread_t t;
	start_blocked(&b, &t, n);
	long nr = wait_until_blocked(&b, false);
	T_ASSERT(nr != SYS_accept && nr != SYS_accept4,
		 "%s: blocked inside the window on what was known of the old listener",
		 way == BY_CLOSE ? "close" : "dup2");
	uint64_t before = timeouts();
	for (int i = 0; i < 5; i++)
		T_ASSERT(fork_and_reap(false) == 0, "fork %d", i);
	T_ASSERT(timeouts() == before, "forks waited for a thread in poll");
	int c = connect_to(&fresh);
	join(t);
	T_ASSERT(b.fd >= 0 && t_cloexec(b.fd), "fd %d, %s", b.fd, strerror(b.err));
	close(b.fd);
	close(c);
	if (way == BY_DUP2)
		t_close_listener(&old); /* n, now a second descriptor of fresh's */
	t_close_listener(&fresh);
}

START_TEST(a_blocking_listener_put_where_a_non_blocking_one_was_is_looked_at_anew)
{
	static int ways[] = { BY_CLOSE, BY_DUP2 };
	T_IN_CHILD(replaced_listener, &ways[_i]);
}
END_TEST

/*
 * A raw clone's child (no fork handler ran) starts with a copy of its
 * parent's gate, a thread of the parent's inside it: here one stuck in
 * accept inside the window, as in stuck_reader. The child's own children
 * must not wait for a thread that is not in the child: its first call
 * notices the new process and the reset starts the gate afresh, before the
 * pass (fork.c, children.c). Before, the child's first fork, vfork, _Fork
 * or spawn waited for that thread and gave up on it, counted as a
 * fork-window timeout in the child (after its reset: the count stays).
 * Each way of making a child is tried in a fresh clone; the clone's exit
 * status is its count of timeouts.
 */
enum { BY_FORK, BY_VFORK, BY_UFORK, BY_SPAWN, BY_SPAWNP, BY_WAYS };
static const char *const by_name[] = { "fork", "vfork", "_Fork", "posix_spawn",
				       "posix_spawnp" };

static pid_t __attribute__((noinline)) by_vfork(void)
{
	pid_t pid = vfork();
	if (pid == 0)
		_exit(0);
	return pid;
}

static int clone_makes_a_child(int how)
{
	pid_t pid = -1;
	static char name[] = "true";
	char *argv[] = { name, NULL };
	switch (how) {
	case BY_FORK:
	case BY_UFORK:
		pid = how == BY_FORK ? fork() : _Fork();
		if (pid == 0)
			_exit(0);
		break;
	case BY_VFORK:
		pid = by_vfork();
		break;
	default:
		if ((how == BY_SPAWN ? posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ)
				     : posix_spawnp(&pid, "true", NULL, NULL, argv, environ)) != 0)
			return 100;
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 101;
	struct accept4shim_stats st;
	if (accept4shim_get_stats(&st, sizeof(st)) != 0)
		return 102;
	return st.fork_window_timeouts < 99 ? (int)st.fork_window_timeouts : 99;
}

static void clone_child_makes_children(void *arg)
{
	(void)arg;
	guard(30);
	struct t_listener l;
	struct blocked b;
	pthread_t t;
	stuck_inside_the_window(&l, &b, &t);
	for (int how = 0; how < BY_WAYS; how++) {
		fflush(NULL);
		long pid = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
		if (pid == 0)
			syscall(SYS_exit_group, clone_makes_a_child(how));
		T_CHECK(pid > 0);
		int status;
		T_CHECK(waitpid((pid_t)pid, &status, 0) == (pid_t)pid);
		T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			 "a clone's child made by %s: %s %d (its fork-window timeouts, or 100+: "
			 "could not make it)", by_name[how],
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	int c = connect_to(&l);
	join(t);
	T_ASSERT(b.fd >= 0, "accept4: %s", strerror(b.err));
	close(b.fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(a_raw_clones_child_makes_children_without_waiting_for_its_parents_threads)
{
	T_IN_CHILD(clone_child_makes_children, NULL);
}
END_TEST

/* Eight threads on one blocking listener, connections one by one. */
enum { CROWD = 8, CROWD_CONNS = 400 };
static struct t_listener crowd_l;
static atomic_int crowd_accepted, crowd_stop, crowd_bad, crowd_left;

static void *crowd_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&crowd_stop)) {
		int fd = accept4(crowd_l.fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 || !(fcntl(fd, F_GETFD) & FD_CLOEXEC)) {
			atomic_store(&crowd_bad, fd < 0 ? errno : -1);
			return NULL;
		}
		atomic_fetch_add(&crowd_accepted, 1);
		close(fd);
	}
	atomic_fetch_add(&crowd_left, 1);
	return NULL;
}

static void crowd(void *arg)
{
	(void)arg;
	guard(60);
	t_listen(&crowd_l, T_UNIX_ABSTRACT, 0);
	uint64_t before = timeouts();
	pthread_t t[CROWD];
	for (int i = 0; i < CROWD; i++)
		T_ASSERT(pthread_create(&t[i], NULL, crowd_thread, NULL) == 0, "pthread_create");
	for (int i = 0; i < CROWD_CONNS; i++) {
		int c = connect_to(&crowd_l);
		/* Every thread wakes for this one; one takes it. */
		while (atomic_load(&crowd_accepted) <= i && !atomic_load(&crowd_bad))
			sched_yield();
		close(c);
		if (i % 4 == 0)
			T_ASSERT(fork_and_reap(false) == 0, "fork");
	}
	atomic_store(&crowd_stop, 1);
	while (atomic_load(&crowd_left) < CROWD && !atomic_load(&crowd_bad)) {
		close(connect_to(&crowd_l));
		pause_ms(1);
	}
	for (int i = 0; i < CROWD; i++)
		join(t[i]);
	T_ASSERT(atomic_load(&crowd_bad) == 0, "a thread failed: %d", atomic_load(&crowd_bad));
	T_ASSERT(atomic_load(&crowd_accepted) >= CROWD_CONNS, "accepted %d",
		 atomic_load(&crowd_accepted));
	/* None of them blocked inside the window. */
	T_ASSERT(timeouts() == before, "%llu forks gave up waiting",
		 (unsigned long long)(timeouts() - before));
	t_close_listener(&crowd_l);
}

START_TEST(eight_threads_woken_by_one_connection_take_turns_and_never_block_a_fork)
{
	T_IN_CHILD(crowd, NULL);
}
END_TEST

/* Signal handlers that fork on top of the window, and accept on top of a
 * fork. */
static struct t_listener busy_l;
static atomic_int busy_stop, handler_forks, handler_accepts, handler_bad;

static void forking_handler(int sig)
{
	(void)sig;
	int saved = errno;
	int n = atomic_fetch_add(&handler_forks, 1);
	pid_t pid = n % 2 ? _Fork() : fork();
	if (pid == 0)
		_exit(0);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0)
		atomic_store(&handler_bad, 1);
	errno = saved;
}

static void accepting_handler(int sig)
{
	(void)sig;
	int saved = errno;
	int fd = accept4(busy_l.fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			atomic_store(&handler_bad, 2);
		close(fd);
	} else if (errno != EAGAIN) {
		atomic_store(&handler_bad, 3);
	}
	atomic_fetch_add(&handler_accepts, 1);
	errno = saved;
}

static void *busy_accepter(void *arg)
{
	(void)arg;
	while (!atomic_load(&busy_stop)) {
		int fd = accept4(busy_l.fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		else if (errno != EAGAIN && errno != EINTR)
			atomic_store(&handler_bad, 4);
	}
	return NULL;
}

static void *busy_dialer(void *arg)
{
	(void)arg;
	while (!atomic_load(&busy_stop)) {
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (c < 0)
			break;
		if (connect(c, (const struct sockaddr *)&busy_l.addr, busy_l.addrlen) != 0)
			pause_ms(1);
		close(c);
	}
	return NULL;
}

static void handlers_fork_and_accept(void *arg)
{
	(void)arg;
	guard(60);
	t_listen(&busy_l, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	handle(SIGUSR1, forking_handler, SA_RESTART);
	handle(SIGUSR2, accepting_handler, SA_RESTART);
	pthread_t acc[2], dial;
	for (int i = 0; i < 2; i++)
		T_ASSERT(pthread_create(&acc[i], NULL, busy_accepter, NULL) == 0, "pthread_create");
	T_ASSERT(pthread_create(&dial, NULL, busy_dialer, NULL) == 0, "pthread_create");
	/* The accepters fork from handlers on top of their own windows; this
	 * thread forks, with handlers accepting on top of its forks. */
	int forks = 0;
	uint64_t t0 = now_ns();
	while ((atomic_load(&handler_forks) < 600 || forks < 600) &&
	       now_ns() - t0 < 20000000000u) {
		pthread_kill(acc[forks % 2], SIGUSR1);
		pthread_kill(pthread_self(), SIGUSR2);
		T_ASSERT(fork_and_reap(forks % 3 == 0) == 0, "fork %d", forks);
		forks++;
	}
	atomic_store(&busy_stop, 1);
	for (int i = 0; i < 2; i++)
		join(acc[i]);
	join(dial);
	T_ASSERT(atomic_load(&handler_bad) == 0, "a handler or thread failed (%d)",
		 atomic_load(&handler_bad));
	T_ASSERT(atomic_load(&handler_forks) >= 100 && atomic_load(&handler_accepts) >= 100,
		 "%d forks and %d accepts from handlers", atomic_load(&handler_forks),
		 atomic_load(&handler_accepts));
	fprintf(stderr, "%d forks from handlers, %d accepts from handlers, %d forks; %llu "
		"made on top of their own thread's window\n", atomic_load(&handler_forks),
		atomic_load(&handler_accepts), forks, (unsigned long long)timeouts());
	t_close_listener(&busy_l);
}

START_TEST(signal_handlers_that_fork_or_accept_on_top_of_the_library_do_not_hang)
{
	T_IN_CHILD(handlers_fork_and_accept, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("waiting");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, so_rcvtimeo_ends_a_blocked_accept4_with_eagain);
	tcase_add_test(tc, with_so_rcvtimeo_a_handler_ends_accept4_with_eintr_even_with_sa_restart);
	tcase_add_test(tc, with_handlers_of_both_kinds_sa_restart_keeps_waiting_and_the_other_ends_it);
	tcase_add_test(tc, a_socket_that_is_not_listening_answers_at_once);
	tcase_add_test(tc, a_listener_made_non_blocking_answers_eagain_at_once);
	tcase_add_test(tc, out_of_descriptors_a_blocked_accept4_fails_at_once);
	tcase_add_test(tc, spawning_keeps_the_c_librarys_results_and_errno);
	tcase_add_test(tc, a_child_that_cannot_be_made_fails_as_without_the_library);
	suite_add_tcase(s, tc);
	tc = tcase_create("gate");
	tcase_set_timeout(tc, 90);
	const char *mode = getenv("ACCEPT4SHIM_MODE");
	if (preloaded() && mode && strcmp(mode, "emulate") == 0)
		tcase_add_test(tc, a_thread_stuck_in_accept_inside_the_window_costs_one_fork_one_wait);
	if (preloaded() && mode && strcmp(mode, "emulate") == 0)
		tcase_add_loop_test(tc, a_blocking_listener_put_where_a_non_blocking_one_was_is_looked_at_anew,
				    0, 2);
	if (preloaded() && mode && strcmp(mode, "emulate") == 0)
		tcase_add_test(tc,
			       a_raw_clones_child_makes_children_without_waiting_for_its_parents_threads);
	tcase_add_test(tc, eight_threads_woken_by_one_connection_take_turns_and_never_block_a_fork);
	tcase_add_test(tc, signal_handlers_that_fork_or_accept_on_top_of_the_library_do_not_hang);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
