/*
 * Issue 7, fork. SPEC: "in a path `%p` becomes the process id (so each
 * forked child writes its own file)"; "The trace's file descriptor is
 * close-on-exec"; the library takes "no lock that a signal handler or a
 * cancelled thread could leave held", so a child forked at any moment can
 * use it.
 *
 * Run preloaded in each mode with the JSON trace to a %p file. Children
 * arm alarm(): a deadlock in a child becomes SIGALRM, a failure. The fork
 * during the library's first call is test_first_call (early_fork.c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define POISON 0xffffffffu

/* Records in pid's file, every one a JSON line from pid; the file goes. */
static long records_of(int pid)
{
	return t_trace_records(pid, T_TRACE_OWN | T_TRACE_REMOVE, NULL, NULL);
}

static void *shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	return p;
}

static int connect_to(const struct t_listener *l)
{
	int c = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c >= 0 && connect(c, (const struct sockaddr *)&l->addr, l->addrlen) == 0)
		return c;
	if (c >= 0)
		close(c);
	return -1;
}

/* A client process: ids 0..n-1, each acked, then `poisons` poisons. */
static pid_t clients(const struct t_listener *l, uint32_t n, int poisons)
{
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	alarm(60);
	for (uint32_t id = 0; id < n; id++) {
		int s = connect_to(l);
		char ack;
		if (s < 0 || write(s, &id, 4) != 4 || read(s, &ack, 1) != 1)
			_exit(2);
		close(s);
	}
	for (int i = 0; i < poisons; i++) {
		uint32_t id = POISON;
		int s = connect_to(l);
		if (s < 0 || write(s, &id, 4) != 4)
			_exit(3);
		close(s);
	}
	_exit(0);
}

static void reap(pid_t pid, const char *what)
{
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %#x%s", what,
		      status,
		      WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? " (deadlocked)" : "");
}

/* A call that leaves a record and opens this process's %p file. */
static void one_record(void)
{
	const char *log = getenv("ACCEPT4SHIM_LOG");
	ck_assert_msg(log && strstr(log, "%p"), "ACCEPT4SHIM_LOG must have %%p");
	t_trace_open();
}

/* ---- a pre-forking server ---- */

enum { PREFORK = 4, PREFORK_CONNS = 2000 };

struct prefork_shared {
	atomic_uchar seen[PREFORK_CONNS];
	atomic_long calls[PREFORK];
};

static void prefork_child(int k, int lfd, struct prefork_shared *sh)
{
	alarm(60);
	for (unsigned n = 0;; n++) {
		int fd = n % 2 ? accept(lfd, NULL, NULL) : accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		atomic_fetch_add(&sh->calls[k], 1);
		if (fd < 0)
			_exit(2);
		if (n % 2 == 0 && !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			_exit(3);
		uint32_t id;
		if (read(fd, &id, 4) != 4)
			_exit(4);
		if (id == POISON)
			_exit(0);
		if (id >= PREFORK_CONNS || atomic_fetch_add(&sh->seen[id], 1) != 0)
			_exit(5);
		char ack = 'k';
		if (write(fd, &ack, 1) != 1)
			_exit(6);
		close(fd);
	}
}

START_TEST(preforked_children_accept_each_connection_once_into_their_own_trace)
{
	one_record();
	struct prefork_shared *sh = shared(sizeof(*sh));
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	fflush(NULL);
	pid_t kids[PREFORK];
	for (int k = 0; k < PREFORK; k++) {
		kids[k] = fork();
		ck_assert_int_ge(kids[k], 0);
		if (kids[k] == 0)
			prefork_child(k, l.fd, sh);
	}
	reap(clients(&l, PREFORK_CONNS, PREFORK), "clients");
	for (int k = 0; k < PREFORK; k++)
		reap(kids[k], "pre-forked child");
	for (int id = 0; id < PREFORK_CONNS; id++)
		ck_assert_msg(atomic_load(&sh->seen[id]) == 1, "connection %d seen %d times", id,
			      (int)atomic_load(&sh->seen[id]));
	long total = 0;
	for (int k = 0; k < PREFORK; k++) {
		ck_assert_int_eq(records_of(kids[k]), atomic_load(&sh->calls[k]));
		total += atomic_load(&sh->calls[k]);
	}
	ck_assert_int_eq(total, PREFORK_CONNS + PREFORK);
	/* The parent's file holds its own call only. */
	ck_assert_int_eq(records_of(getpid()), 1);
	t_close_listener(&l);
	munmap(sh, sizeof(*sh));
}
END_TEST

/* ---- a child per connection, forked while other threads accept ---- */

enum { PER_CONN_THREADS = 4, PER_CONN_CONNS = 300 };

struct per_conn_shared {
	atomic_uchar seen[PER_CONN_CONNS];
	pid_t pid[PER_CONN_CONNS];
};

static struct t_listener pc_listener, pc_empty;
static struct per_conn_shared *pc;
static atomic_int pc_failed;

/* The child handles the connection, then makes a call of its own. */
static void per_conn_child(int fd)
{
	alarm(10);
	uint32_t id;
	if (read(fd, &id, 4) != 4 || id >= PER_CONN_CONNS)
		_exit(2);
	if (atomic_fetch_add(&pc->seen[id], 1) != 0)
		_exit(3);
	pc->pid[id] = getpid();
	char ack = 'k';
	if (write(fd, &ack, 1) != 1)
		_exit(4);
	close(fd);
	if (accept4(pc_empty.fd, NULL, NULL, SOCK_NONBLOCK) != -1 || errno != EAGAIN)
		_exit(5);
	_exit(0);
}

static void *per_conn_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(pc_listener.fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			atomic_store(&pc_failed, 1);
			return NULL;
		}
		/* Peek: the poison is handled here, every other id in a child. */
		uint32_t id;
		if (recv(fd, &id, 4, MSG_PEEK | MSG_WAITALL) != 4) {
			atomic_store(&pc_failed, 2);
			return NULL;
		}
		if (id == POISON) {
			close(fd);
			return NULL;
		}
		pid_t pid = fork();
		if (pid == 0)
			per_conn_child(fd);
		close(fd);
		int status = 0;
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			atomic_store(&pc_failed, 100 + (WIFEXITED(status) ? WEXITSTATUS(status) : 50));
	}
}

START_TEST(server_forking_a_child_per_connection_while_threads_accept)
{
	one_record();
	pc = shared(sizeof(*pc));
	atomic_store(&pc_failed, 0);
	t_listen(&pc_listener, T_TCP4, 0);
	t_listen(&pc_empty, T_UNIX_PATH, SOCK_NONBLOCK);
	pthread_t t[PER_CONN_THREADS];
	pid_t client = clients(&pc_listener, PER_CONN_CONNS, PER_CONN_THREADS);
	for (int i = 0; i < PER_CONN_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, per_conn_thread, NULL), 0);
	reap(client, "clients");
	for (int i = 0; i < PER_CONN_THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_msg(atomic_load(&pc_failed) == 0, "failure %d", atomic_load(&pc_failed));
	for (int id = 0; id < PER_CONN_CONNS; id++) {
		ck_assert_int_eq(atomic_load(&pc->seen[id]), 1);
		/* The child's own call went to its own file. */
		ck_assert_int_eq(records_of(pc->pid[id]), 1);
	}
	/* One record per accept in the threads, plus one_record's. */
	ck_assert_int_eq(records_of(getpid()), PER_CONN_CONNS + PER_CONN_THREADS + 1);
	t_close_listener(&pc_listener);
	t_close_listener(&pc_empty);
	munmap(pc, sizeof(*pc));
}
END_TEST

/* ---- a child that execs ---- */

static atomic_int busy_stop;
static struct t_listener busy_listener;

/* Keeps the library busy in another thread while the main thread forks. */
static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&busy_stop)) {
		int fd = accept4(busy_listener.fd, NULL, NULL, SOCK_NONBLOCK);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

START_TEST(exec_in_a_child_keeps_no_trace_descriptor)
{
	one_record();
	char parent_trace[4096];
	ck_assert(t_trace_path(parent_trace, sizeof(parent_trace), getpid()));
	t_listen(&busy_listener, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	atomic_store(&busy_stop, 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, busy, NULL), 0);

	/* The exec'd probe gets the library but no trace of its own: any
	 * descriptor on a trace file it has came through the exec. */
	extern char **environ;
	const char *env[64];
	int n = 0;
	for (char **e = environ; *e && n < 62; e++)
		if (strncmp(*e, "ACCEPT4SHIM_LOG", 15) != 0)
			env[n++] = *e;
	env[n] = NULL;
	int out[2];
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(10);
		if (accept4(busy_listener.fd, NULL, NULL, SOCK_CLOEXEC) >= 0 || errno != EAGAIN)
			_exit(2);
		dup2(out[1], 1);
		const char *argv[] = { A4S_PROBE, "fds", NULL };
		char *const *av, *const *ev;
		const char *const *e = env;
		memcpy(&av, &(const char *const *){ argv }, sizeof(av));
		memcpy(&ev, &e, sizeof(ev));
		execve(A4S_PROBE, av, ev);
		_exit(127);
	}
	close(out[1]);
	char buf[16384];
	size_t len = 0;
	ssize_t r;
	while ((r = read(out[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(out[0]);
	reap(pid, "exec'd child");
	atomic_store(&busy_stop, 1);
	ck_assert_int_eq(pthread_join(t, NULL), 0);

	char child_trace[4096];
	ck_assert(t_trace_path(child_trace, sizeof(child_trace), pid));
	ck_assert_msg(!strstr(buf, parent_trace), "the parent's trace survived exec: %s", buf);
	ck_assert_msg(!strstr(buf, child_trace), "the child's trace survived exec: %s", buf);
	/* The child's call before the exec is in its own file. */
	ck_assert_int_eq(records_of(pid), 1);
	ck_assert_int_ge(records_of(getpid()), 1);
	t_close_listener(&busy_listener);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fork");
	TCase *tc = tcase_create("fork");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, preforked_children_accept_each_connection_once_into_their_own_trace);
	tcase_add_test(tc, server_forking_a_child_per_connection_while_threads_accept);
	tcase_add_test(tc, exec_in_a_child_keeps_no_trace_descriptor);
	suite_add_tcase(s, tc);
	int status = t_run_suite(s);
	t_trace_remove(getpid()); /* the runner's own file, opened at load and empty */
	return status;
}
