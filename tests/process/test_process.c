/*
 * Issue 10, item 6. SPEC: "Every process the program makes (fork, vfork,
 * `_Fork`, clone) writes records with its own pid, into its own file where
 * the path has `%p`." The library notices a new process by itself, without
 * a system call on the accept path (shim/self.h): a child made any way,
 * whose first call may come from a signal handler or from a thread it
 * started, traces with its own pid and tid and counts its own calls; a
 * child that never calls the library pays nothing for it.
 *
 * Run without the library and preloaded with a JSON trace to a %p file;
 * each case runs in t_in_child (children, handlers, filters stay there).
 * The hostile suite (tests/hostile, new_process) runs the same kinds of
 * child as whole programs and compares them with and without the library.
 */
#include <pthread.h>
#include <sched.h>
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

enum kind { FORK, UNDERSCORE_FORK, CLONE, KINDS };
static const char *const kind_names[] = { "fork", "_Fork", "clone" };

/* A new process of the given kind, as the program would make it: fork()
 * runs the atfork handlers, _Fork() and a raw clone() do not. */
static pid_t new_process(enum kind k)
{
	fflush(NULL);
	switch (k) {
	case FORK:
		return fork();
	case UNDERSCORE_FORK:
		return _Fork();
	default:
		return (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	}
}

static int wait_child(pid_t pid)
{
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* One call that fails with EAGAIN (an empty non-blocking listener). */
static void call_once(void)
{
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	T_ASSERT(accept4(l.fd, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EAGAIN, "accept4: %s",
		 strerror(errno));
	t_close_listener(&l);
}

static unsigned long long calls_counted(void)
{
	struct accept4shim_stats s;
	T_CHECK(accept4shim_get_stats(&s, sizeof(s)) == 0);
	return (unsigned long long)s.calls;
}

/*
 * In the calling process (a child, here): exactly `calls` records in its own
 * %p file, each with its pid, `with_tid` of them with tid; its counters at
 * `calls`. Nothing to check without the library.
 */
static void traced_as_itself(long calls, int tid, long with_tid)
{
	if (!accept4shim_get_stats)
		return;
	T_ASSERT(calls_counted() == (unsigned long long)calls, "counted %llu calls, made %ld",
		 calls_counted(), calls);
	if (!t_tracing())
		return;
	char word[48];
	snprintf(word, sizeof(word), ",\"tid\":%d,", tid);
	const char *words[] = { word, NULL };
	long with[1];
	long n = t_trace_records(getpid(), T_TRACE_OWN, words, with);
	T_ASSERT(n == calls, "%ld records in the file of %d, %ld calls", n, (int)getpid(), calls);
	T_ASSERT(with[0] == with_tid, "%ld records with tid %d, want %ld", with[0], tid, with_tid);
}

/* ---- a child that never calls the library pays nothing --------------------- */

/*
 * The child lives (here: waits for the parent to have counted) and exits
 * with exit(), so the library's destructors run too. During its life it
 * makes none of the calls below; at exit, none that would mean noticing a
 * new process (getpid, madvise) or opening anything: only the unloading's
 * look at the descriptor it inherited (statx or fstat, and its close), as
 * at any exit.
 */
static void idle_child(void *arg)
{
	enum kind k = *(enum kind *)arg;
	call_once(); /* the parent's trace file and counters exist */
	static const long nrs[] = { SYS_getpid, SYS_gettid, SYS_madvise, SYS_openat,
				    SYS_dup,    SYS_statx,  SYS_fstat,   SYS_newfstatat };
	enum { NOT_AT_EXIT = 5, COUNTED = 8 };
	int lived[2], go[2];
	T_CHECK(pipe(lived) == 0 && pipe(go) == 0);
	t_count_syscalls(nrs, COUNTED);
	pid_t pid = new_process(k);
	T_CHECK(pid >= 0);
	if (pid == 0) {
		t_do_not_count_work(); /* the harness would ask for the counters */
		char b = 'l';
		if (write(lived[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(3);
		exit(0);
	}
	char b;
	T_CHECK(read(lived[0], &b, 1) == 1);
	for (int i = 0; i < COUNTED; i++)
		T_ASSERT(t_syscalls_counted(nrs[i]) == 0,
			 "%s: the idle child made %ld calls of system call %ld", kind_names[k],
			 t_syscalls_counted(nrs[i]), nrs[i]);
	T_CHECK(write(go[1], &b, 1) == 1);
	T_ASSERT(wait_child(pid) == 0, "the idle child failed");
	for (int i = 0; i < NOT_AT_EXIT; i++)
		T_ASSERT(t_syscalls_counted(nrs[i]) == 0,
			 "%s: the idle child's exit made %ld calls of system call %ld", kind_names[k],
			 t_syscalls_counted(nrs[i]), nrs[i]);
	t_trace_remove(getpid());
}

START_TEST(a_child_that_never_calls_the_library_makes_no_system_call_for_it)
{
	enum kind k = (enum kind)_i;
	T_IN_CHILD(idle_child, &k);
}
END_TEST

/* ---- the child's first call from a signal handler ------------------------- */

static int handler_listener = -1;
static atomic_int handler_result = 1;

static void on_usr1(int sig)
{
	(void)sig;
	int saved = errno;
	int r = accept4(handler_listener, NULL, NULL, SOCK_CLOEXEC);
	atomic_store(&handler_result, r == -1 && errno == EAGAIN ? 0 : -1);
	errno = saved;
}

static void first_call_in_a_handler(void *arg)
{
	enum kind k = *(enum kind *)arg;
	call_once();
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	handler_listener = l.fd;
	struct sigaction sa = { .sa_handler = on_usr1 };
	T_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	pid_t pid = new_process(k);
	T_CHECK(pid >= 0);
	if (pid == 0) {
		raise(SIGUSR1);
		T_ASSERT(atomic_load(&handler_result) == 0, "accept4 in the handler failed");
		traced_as_itself(1, (int)syscall(SYS_gettid), 1);
		t_trace_remove(getpid());
		_exit(0);
	}
	T_ASSERT(wait_child(pid) == 0, "%s: the child failed", kind_names[k]);
	traced_as_itself(1, (int)syscall(SYS_gettid), 1);
	t_trace_remove(getpid());
	t_close_listener(&l);
}

START_TEST(a_childs_first_call_from_a_signal_handler_traces_as_the_child)
{
	enum kind k = (enum kind)_i;
	T_IN_CHILD(first_call_in_a_handler, &k);
}
END_TEST

/* ---- threads: the child's, and a child forked by a second thread ---------- */

static void *call_from_thread(void *arg)
{
	call_once();
	*(int *)arg = (int)syscall(SYS_gettid);
	return NULL;
}

static void thread_in_child(void *arg)
{
	enum kind k = *(enum kind *)arg;
	call_once();
	pid_t pid = new_process(k);
	T_CHECK(pid >= 0);
	if (pid == 0) {
		/* The first call from a thread the child started, then one
		 * from the child's own first thread: each with its tid. */
		pthread_t th;
		int tid = 0;
		T_ASSERT(pthread_create(&th, NULL, call_from_thread, &tid) == 0, "pthread_create");
		T_ASSERT(pthread_join(th, NULL) == 0, "pthread_join");
		traced_as_itself(1, tid, 1);
		call_once();
		traced_as_itself(2, (int)syscall(SYS_gettid), 1);
		t_trace_remove(getpid());
		_exit(0);
	}
	T_ASSERT(wait_child(pid) == 0, "%s: the child failed", kind_names[k]);
	t_trace_remove(getpid());
}

START_TEST(a_thread_in_a_child_traces_with_its_own_tid)
{
	enum kind k = (enum kind)_i;
	T_IN_CHILD(thread_in_child, &k);
}
END_TEST

struct forker {
	enum kind kind;
	int status;
};

static void *call_then_fork(void *arg)
{
	struct forker *f = arg;
	call_once(); /* this thread's tid is now cached */
	pid_t pid = new_process(f->kind);
	if (pid == 0) {
		/* The child's only thread is a copy of this one, with a new
		 * id: the process's. */
		call_once();
		traced_as_itself(1, (int)getpid(), 1);
		t_trace_remove(getpid());
		_exit(0);
	}
	f->status = pid > 0 ? wait_child(pid) : -1;
	return NULL;
}

static void forked_by_a_second_thread(void *arg)
{
	struct forker f = { *(enum kind *)arg, -1 };
	pthread_t th;
	T_ASSERT(pthread_create(&th, NULL, call_then_fork, &f) == 0, "pthread_create");
	T_ASSERT(pthread_join(th, NULL) == 0, "pthread_join");
	T_ASSERT(f.status == 0, "%s: the child failed (%d)", kind_names[f.kind], f.status);
	t_trace_remove(getpid());
}

START_TEST(a_child_forked_by_a_second_thread_traces_with_its_own_tid)
{
	enum kind k = (enum kind)_i;
	T_IN_CHILD(forked_by_a_second_thread, &k);
}
END_TEST

/* ---- threads racing to a child's first call -------------------------------- */

enum { RACERS = 8 };
static pthread_barrier_t start_line;

static void *race_to_first_call(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start_line);
	call_once();
	return NULL;
}

static void threads_race(void *arg)
{
	enum kind k = *(enum kind *)arg;
	call_once();
	call_once(); /* the parent has counted 2 */
	pid_t pid = new_process(k);
	T_CHECK(pid >= 0);
	if (pid == 0) {
		/* Eight threads make the child's first call at once: the
		 * reset happens once, before any of their calls counts. */
		pthread_t th[RACERS];
		T_ASSERT(pthread_barrier_init(&start_line, NULL, RACERS) == 0, "barrier");
		for (int i = 0; i < RACERS; i++)
			T_ASSERT(pthread_create(&th[i], NULL, race_to_first_call, NULL) == 0,
				 "pthread_create");
		for (int i = 0; i < RACERS; i++)
			T_ASSERT(pthread_join(th[i], NULL) == 0, "pthread_join");
		if (accept4shim_get_stats)
			T_ASSERT(calls_counted() == RACERS, "the child counted %llu calls, made %d",
				 calls_counted(), RACERS);
		if (t_tracing()) {
			long n = t_trace_records(getpid(), T_TRACE_OWN, NULL, NULL);
			struct accept4shim_stats st;
			T_CHECK(accept4shim_get_stats(&st, sizeof(st)) == 0);
			T_ASSERT(n == RACERS, "the child's records: %ld of %d, %llu dropped", n,
				 RACERS, (unsigned long long)st.dropped);
		}
		t_trace_remove(getpid());
		_exit(0);
	}
	T_ASSERT(wait_child(pid) == 0, "%s: the child failed", kind_names[k]);
	traced_as_itself(2, (int)syscall(SYS_gettid), 2);
	t_trace_remove(getpid());
}

START_TEST(threads_racing_to_a_childs_first_call_are_all_counted_as_the_childs)
{
	enum kind k = (enum kind)_i;
	for (int round = 0; round < 20; round++)
		T_IN_CHILD(threads_race, &k);
}
END_TEST

/* ---- a grandchild: the child's child notices too --------------------------- */

static void grandchild(void *arg)
{
	enum kind k = *(enum kind *)arg;
	call_once();
	pid_t pid = new_process(k);
	T_CHECK(pid >= 0);
	if (pid == 0) {
		call_once(); /* the child is now itself, its page filled in */
		pid_t g = new_process(k);
		if (g == 0) {
			call_once();
			traced_as_itself(1, (int)getpid(), 1);
			t_trace_remove(getpid());
		_exit(0);
		}
		T_ASSERT(g > 0 && wait_child(g) == 0, "%s: the grandchild failed", kind_names[k]);
		traced_as_itself(1, (int)getpid(), 1);
		t_trace_remove(getpid());
		_exit(0);
	}
	T_ASSERT(wait_child(pid) == 0, "%s: the child failed", kind_names[k]);
	traced_as_itself(1, (int)syscall(SYS_gettid), 1);
	t_trace_remove(getpid());
}

START_TEST(a_grandchild_traces_as_itself)
{
	enum kind k = (enum kind)_i;
	T_IN_CHILD(grandchild, &k);
}
END_TEST

/* ---- vfork: the parent keeps its ids -------------------------------------- */

static void after_vfork(void *arg)
{
	(void)arg;
	call_once();
	pid_t pid = vfork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	T_CHECK(pid > 0);
	T_ASSERT(wait_child(pid) == 0, "the vfork child failed");
	call_once();
	traced_as_itself(2, (int)syscall(SYS_gettid), 2);
	t_trace_remove(getpid());
}

START_TEST(after_vfork_and_exec_the_parent_traces_as_itself)
{
	T_IN_CHILD(after_vfork, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("process");
	TCase *tc = tcase_create("idle");
	tcase_set_tags(tc, "seccomp");
	tcase_add_loop_test(tc, a_child_that_never_calls_the_library_makes_no_system_call_for_it,
			    0, KINDS);
	suite_add_tcase(s, tc);
	tc = tcase_create("ids");
	tcase_add_loop_test(tc, a_childs_first_call_from_a_signal_handler_traces_as_the_child, 0,
			    KINDS);
	tcase_add_loop_test(tc, a_thread_in_a_child_traces_with_its_own_tid, 0, KINDS);
	tcase_add_loop_test(tc, a_child_forked_by_a_second_thread_traces_with_its_own_tid, 0,
			    KINDS);
	tcase_add_loop_test(tc, a_grandchild_traces_as_itself, 0, KINDS);
	tcase_add_loop_test(tc, threads_racing_to_a_childs_first_call_are_all_counted_as_the_childs,
			    0, KINDS);
	tcase_add_test(tc, after_vfork_and_exec_the_parent_traces_as_itself);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
