/*
 * What the test suites share: real listeners, clients in forked children,
 * looking at a descriptor's flags, counting descriptors, and seccomp
 * filters that make the kernel fail a call on purpose.
 *
 * Every helper that can fail calls ck_abort_msg (through T_CHECK), so a
 * test reads as a list of facts. Anything that changes the whole process
 * for good (a seccomp filter, a resource limit) is done inside
 * t_in_child(), so the suites also run with CK_FORK=no under valgrind.
 */
#ifndef A4S_TEST_HARNESS_H
#define A4S_TEST_HARNESS_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * T_ASSERT works both in a test and inside t_in_child(): Check's own
 * ck_assert would, under CK_FORK=no, longjmp from the forked child back into
 * the runner and go on running the other tests there. In a child, T_ASSERT
 * prints the failure and exits 1 instead; the parent then fails the test.
 * Use T_ASSERT (or T_CHECK, which adds strerror(errno)) in code that may run
 * in a child; plain ck_assert_* is fine in the test body itself.
 */
extern bool t_is_child;
void t_child_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
#define T_ASSERT(expr, ...)                                              \
	do {                                                             \
		if (!(expr)) {                                           \
			if (t_is_child)                                  \
				t_child_fail(__FILE__, __LINE__, __VA_ARGS__); \
			ck_abort_msg(__VA_ARGS__);                       \
		}                                                        \
	} while (0)
#define T_CHECK(expr) T_ASSERT((expr), "%s failed: %s", #expr, strerror(errno))

/* The listener kinds the integration suites run every case on. */
enum t_family { T_TCP4, T_TCP6, T_UNIX_PATH, T_UNIX_ABSTRACT, T_FAMILIES };

struct t_listener {
	int fd;
	enum t_family family;
	struct sockaddr_storage addr; /* where clients connect */
	socklen_t addrlen;
	char path[108];               /* T_UNIX_PATH: removed by t_close_listener */
};

const char *t_family_name(enum t_family f);
/* A listening stream socket on 127.0.0.1, ::1 or AF_UNIX, port or name
 * chosen by the kernel or unique per process; sock_flags go to socket(2). */
void t_listen(struct t_listener *l, enum t_family f, int sock_flags);

void t_close_listener(struct t_listener *l);

/* Forks a child that connects n times to l (keeping the connections open
 * until t_clients_done) and waits until all n are in l's accept queue. */
pid_t t_clients(const struct t_listener *l, int n);
/* Closes the clients' connections and reaps the child. */
void t_clients_done(pid_t pid);

/* Waits until fd is readable (a connection queued), at most ms. */
bool t_wait_readable(int fd, int ms);

bool t_nonblocking(int fd);
bool t_cloexec(int fd);
int t_status_flags(int fd); /* F_GETFL */
/* Descriptors open in this process, from /proc/self/fd. */
int t_count_fds(void);

/*
 * Runs fn(arg) in a forked child and returns its exit status (0 = passed).
 * Inside fn, use T_ASSERT/T_CHECK: a failure prints its message to stderr
 * and makes the child exit 1.
 */
typedef void t_child_fn(void *arg);
int t_in_child(t_child_fn *fn, void *arg);
#define T_IN_CHILD(fn, arg) ck_assert_int_eq(t_in_child((fn), (arg)), 0)
/* Use T_ASSERT, not ck_assert, inside fn. */

/* valgrind does not implement seccomp(2): put the cases that use these in
 * a TCase tagged "seccomp" (tcase_set_tags) and leave it out of the valgrind
 * runs with CK_EXCLUDE_TAGS=seccomp (see tests/modes/CMakeLists.txt). */
/* Installs a seccomp filter in this process (use it in t_in_child):
 * the system call nr fails with err, every other call runs. */
void t_seccomp_fail_syscall(long nr, int err);
/* fcntl(fd, cmd, ...) fails with err, other fcntl commands run. */
void t_seccomp_fail_fcntl(int cmd, int err);

/* Path of the library under test, for tests that run programs under
 * LD_PRELOAD themselves: $A4S_LIBRARY if set (the stand-in proof,
 * tests/standin, sets it), else the one the build made. */
const char *t_library_path(void);
/* "LD_PRELOAD=<t_library_path()>", for a child's environment. */
const char *t_preload(void);
/* The accept4shim command under test: $A4S_WRAPPER if set, else the one
 * the build made (it finds its library next to itself). */
const char *t_wrapper_path(void);

/*
 * Counts system calls exactly, without changing them (use it in
 * t_in_child: the seccomp filter stays for good). nrs[] are the numbers to
 * count, at most T_COUNT_MAX. Each such call stops at a
 * SECCOMP_RET_USER_NOTIF filter, is counted by a helper process and goes on
 * unchanged (SECCOMP_USER_NOTIF_FLAG_CONTINUE); the count is raised before
 * the call proceeds, so it is exact once the call has returned. Children
 * forked afterwards inherit the filter and are counted too: start their
 * clients first. Do not count sendmsg or close (used to set this up).
 */
#define T_COUNT_MAX 8
void t_count_syscalls(const long *nrs, int n);
/* How many calls of nr the process has made since t_count_syscalls. */
long t_syscalls_counted(long nr);

/*
 * Runs argv[0] (a path) with exactly the environment env (NULL-terminated
 * "NAME=value" strings; NULL for none) and collects its standard output and
 * standard error into out and err (NUL-terminated, cut to size; either may
 * be NULL to discard). Kills it after timeout_ms. Returns its exit status,
 * 128 + the signal if one ended it, or -1 if it timed out.
 */
int t_run(const char *const argv[], const char *const env[], char *out, size_t out_size,
	  char *err, size_t err_size, int timeout_ms);

/* t_run with the library preloaded: the environment is exactly
 * LD_PRELOAD=<the library>, PATH=/usr/bin:/bin and vars (NULL-terminated
 * "NAME=value" strings, at most 12; NULL for none). */
int t_run_preloaded(const char *const argv[], const char *const vars[], char *out,
		    size_t out_size, char *err, size_t err_size, int timeout_ms);

/*
 * The Check boilerplate of every suite's main(): runs all of s (in the
 * mode CK_FORK says) and gives the exit status, EXIT_FAILURE if any test
 * failed.
 *
 * Before running anything it proves the run is what ctest says it is
 * (tests/CMakeLists.txt sets these for every entry):
 *  - A4S_EXPECT_LIBRARY="mode=emulate ..." (a preloaded run): the library
 *    is in this process (accept4shim_config() resolves) and its
 *    configuration holds each of those words; unset: it is not here at
 *    all. A suite run with a library that does nothing (the stand-in of
 *    tests/standin), or none, fails at once.
 *  - A4S_EXPECT_CHILD_LIBRARY=1 (a suite that runs programs with the
 *    library, t_library_path()): that file is the library, answering
 *    accept4shim_config() when loaded.
 * After the run, a preloaded run must show the library did the work: the
 * calls it counted in every process of the run (the runner, Check's forked
 * tests, t_in_child children; summed in shared memory at their exit) are
 * not 0, and in a mode=emulate run, some were emulated.
 */
int t_run_suite(Suite *s);
/* Adds this process's counters to the run's sums (see t_run_suite); done
 * at exit by itself, and by t_in_child before its child's _exit. For a
 * child of the test's own that ends with _exit after calls worth counting. */
void t_count_work(void);
/* This process is not to add its counters at exit (asking for them is a
 * call into the library, which a test counting system calls must not see). */
void t_do_not_count_work(void);

/*
 * Waits until thread tid of process pid sits in the system call that waits
 * for a connection (as /proc/PID/task/TID/syscall shows: accept4 natively,
 * accept when emulated, poll or ppoll when an emulated accept4(SOCK_CLOEXEC)
 * waits outside the fork window, docs/fork-window.md), so that a signal or
 * a cancellation is known to find it there, not on its way. Fails the test
 * after 10 s.
 */
void t_wait_blocked_in_accept(pid_t pid, pid_t tid);

/*
 * The trace file a preloaded suite writes (ACCEPT4SHIM_LOG, usually with
 * %p so that each process has its own). Shared code: T_ASSERT throughout,
 * so these work in a test body and inside t_in_child alike.
 */
/* A trace to a file in this run: the library preloaded and ACCEPT4SHIM_LOG
 * an absolute path. */
bool t_tracing(void);
/* The trace file of process pid: ACCEPT4SHIM_LOG with every %p replaced by
 * pid. False, and out untouched, when !t_tracing(). */
bool t_trace_path(char *out, size_t size, int pid);
/* Options of t_trace_records. */
#define T_TRACE_OWN 1u    /* every record names pid (JSON: ,"pid":N,) */
#define T_TRACE_REMOVE 2u /* the file is removed once read */
/*
 * The records in pid's trace file; 0 when there is no file (no trace, or
 * no call made yet). Each record must be a whole line ending in '\n' and,
 * in a json run (ACCEPT4SHIM_LOG_FORMAT=json), one JSON object; how adds
 * T_TRACE_* checks and actions. words: NULL, or a NULL-terminated list;
 * with[i] is then set to the number of records that contain words[i].
 */
long t_trace_records(int pid, unsigned how, const char *const words[], long with[]);
/* Removes pid's trace file, if this run has one. */
void t_trace_remove(int pid);
/* One call that fails with EAGAIN (accept4 on an empty non-blocking
 * listener), so that this process's %p trace file is open before anything
 * is counted: a forked test opens its own at its first record. */
void t_trace_open(void);

/* The descriptor of this process open on path (as /proc/self/fd shows
 * it), or -1. */
int t_fd_on(const char *path);

#endif
