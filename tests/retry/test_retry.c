/*
 * SPEC "Retry (RETRY=on)": the pending network errors ENETDOWN, EPROTO,
 * ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH and
 * ECONNABORTED are retried, "on a blocking listener until a connection or
 * another error comes, on a non-blocking one until the queue is empty (the
 * caller then sees EAGAIN)"; an error from a socket that cannot accept is
 * returned at once; a run of retries is bounded; EMFILE, ENFILE, ENOBUFS,
 * ENOMEM, EPERM and EINTR are never retried; *addrlen is restored before
 * every retry; the trace's "retries" counts them.
 *
 * The errors come from fault.c, preloaded after the library. The suite runs
 * with RETRY=on (auto and emulate) and RETRY=off; each case reads which.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"

/* A4S_RETRY_MAX in shim/retry.h: the SPEC's bound, made a number. */
#define RETRY_MAX 128

static void (*arm)(int n, int err, int then_err);
static unsigned (*fault_calls)(void);
static long (*seen_len)(void);
static int (*get_stats)(struct accept4shim_stats *, size_t);

static void find_hooks(void)
{
	*(void **)&arm = dlsym(RTLD_DEFAULT, "a4s_fault_arm");
	*(void **)&fault_calls = dlsym(RTLD_DEFAULT, "a4s_fault_calls");
	*(void **)&seen_len = dlsym(RTLD_DEFAULT, "a4s_fault_seen_len");
	*(void **)&get_stats = dlsym(RTLD_DEFAULT, "accept4shim_get_stats");
	T_ASSERT(arm && fault_calls && seen_len,
		 "run with LD_PRELOAD=libaccept4shim.so:liba4s_fault.so");
	T_ASSERT(get_stats != NULL, "libaccept4shim.so is not preloaded");
}

/* Under CK_FORK=no the tests share one process: nothing stays armed. */
static void disarm(void)
{
	arm(0, 0, 0);
}

static bool retry_on(void)
{
	const char *v = getenv("ACCEPT4SHIM_RETRY");
	return v && strcmp(v, "on") == 0;
}

static const int retryable[] = {
	ENETDOWN, EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET,
	EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH, ECONNABORTED,
};
#define N_RETRYABLE (int)(sizeof(retryable) / sizeof(retryable[0]))

static const int never_retried[] = { EMFILE, ENFILE, ENOBUFS, ENOMEM, EPERM, EINTR };
#define N_NEVER (int)(sizeof(never_retried) / sizeof(never_retried[0]))

/* accept, or accept4 with a flag so that both paths are driven. */
static int do_accept(bool four, int fd, struct sockaddr *addr, socklen_t *len)
{
	return four ? accept4(fd, addr, len, SOCK_CLOEXEC) : accept(fd, addr, len);
}

/* What one call did, seen from outside: accepts that reached the layer
 * below the library, and the library's counters. */
struct seen {
	unsigned calls;
	uint64_t retries, retried_calls, failed;
};

static struct seen before_call(void)
{
	struct accept4shim_stats s;
	T_CHECK(get_stats(&s, sizeof(s)) == 0);
	return (struct seen){ fault_calls(), s.retries, s.retried_calls, s.failed };
}

static struct seen since(struct seen b)
{
	struct seen now = before_call();
	return (struct seen){ now.calls - b.calls, now.retries - b.retries,
			      now.retried_calls - b.retried_calls, now.failed - b.failed };
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- the retried errors ------------------------------------------------- */

START_TEST(a_pending_network_error_is_retried_until_the_connection_comes)
{
	int err = retryable[_i % N_RETRYABLE];
	bool four = _i >= N_RETRYABLE;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);
	arm(3, err, 0);
	struct seen b = before_call();
	errno = 0;
	int fd = do_accept(four, l.fd, NULL, NULL);
	struct seen d = since(b);
	if (retry_on()) {
		ck_assert_msg(fd >= 0, "%s: %s", strerrorname_np(err), strerror(errno));
		ck_assert_int_eq(errno, 0);
		ck_assert_uint_eq(d.calls, 4);
		ck_assert_uint_eq(d.retries, 3);
		ck_assert_uint_eq(d.retried_calls, 1);
	} else {
		ck_assert_int_eq(fd, -1);
		ck_assert_msg(errno == err, "want %s, got %s", strerrorname_np(err),
			      strerrorname_np(errno));
		ck_assert_uint_eq(d.calls, 1);
		ck_assert_uint_eq(d.retries, 0);
		/* Nothing was taken from the queue. */
		ck_assert(t_wait_readable(l.fd, 0));
		arm(0, 0, 0);
		fd = do_accept(four, l.fd, NULL, NULL);
		ck_assert_int_ge(fd, 0);
	}
	close(fd);
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

START_TEST(a_nonblocking_listener_ends_in_eagain_once_the_queue_is_empty)
{
	bool four = _i;
	struct t_listener l;
	t_listen(&l, T_TCP6, SOCK_NONBLOCK);
	pid_t client = t_clients(&l, 1);
	/* One good connection behind two dead ones: the call returns it. */
	arm(2, ECONNABORTED, 0);
	int fd = do_accept(four, l.fd, NULL, NULL);
	if (retry_on()) {
		ck_assert_int_ge(fd, 0);
		close(fd);
	} else {
		ck_assert_int_eq(fd, -1);
		ck_assert_int_eq(errno, ECONNABORTED);
		arm(0, 0, 0);
		fd = do_accept(four, l.fd, NULL, NULL); /* the good one */
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	/* Three dead ones and nothing behind them: EAGAIN, as without them. */
	arm(3, EPROTO, 0);
	struct seen b = before_call();
	errno = 0;
	ck_assert_int_eq(do_accept(four, l.fd, NULL, NULL), -1);
	struct seen d = since(b);
	if (retry_on()) {
		ck_assert_msg(errno == EAGAIN, "got %s", strerrorname_np(errno));
		ck_assert_uint_eq(d.calls, 4);
		ck_assert_uint_eq(d.retries, 3);
	} else {
		ck_assert_int_eq(errno, EPROTO);
		ck_assert_uint_eq(d.calls, 1);
	}
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

/* A client that connects ms after it is started. */
static pid_t late_client(const struct t_listener *l, int ms, int *release)
{
	int p[2];
	T_CHECK(pipe(p) == 0);
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		usleep((useconds_t)ms * 1000);
		int c = socket(l->addr.ss_family, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (const struct sockaddr *)&l->addr, l->addrlen) != 0)
			_exit(3);
		char b;
		(void)read(p[0], &b, 1);
		_exit(0);
	}
	close(p[0]);
	*release = p[1];
	return pid;
}

START_TEST(a_blocking_listener_keeps_waiting_after_the_retries)
{
	struct t_listener l;
	t_listen(&l, T_UNIX_PATH, 0);
	int release;
	pid_t client = late_client(&l, 500, &release);
	arm(2, ENETDOWN, 0);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct seen b = before_call();
	int fd = accept(l.fd, NULL, NULL);
	struct seen d = since(b);
	if (retry_on()) {
		ck_assert_int_ge(fd, 0);
		ck_assert_uint_eq(d.calls, 3);
		ck_assert_msg(ms_since(&t0) >= 300, "returned before the client came");
		close(fd);
	} else {
		ck_assert_int_eq(fd, -1);
		ck_assert_int_eq(errno, ENETDOWN);
		ck_assert_msg(ms_since(&t0) < 300, "waited although RETRY is off");
	}
	close(release);
	int status;
	T_CHECK(waitpid(client, &status, 0) == client);
	t_close_listener(&l);
}
END_TEST

START_TEST(a_retry_run_stops_at_the_first_error_not_on_the_list)
{
	static const int stop[] = { EINTR, EMFILE };
	int then = stop[_i];
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	pid_t client = t_clients(&l, 1);
	arm(2, EHOSTUNREACH, then);
	struct seen b = before_call();
	errno = 0;
	ck_assert_int_eq(accept(l.fd, NULL, NULL), -1);
	struct seen d = since(b);
	if (retry_on()) {
		ck_assert_int_eq(errno, then);
		ck_assert_uint_eq(d.calls, 3);
		ck_assert_uint_eq(d.retries, 2);
	} else {
		ck_assert_int_eq(errno, EHOSTUNREACH);
		ck_assert_uint_eq(d.calls, 1);
	}
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

/* ---- *addrlen ------------------------------------------------------------------ */

START_TEST(the_callers_addrlen_is_restored_before_every_retry)
{
	bool four = _i % 2;
	/* A full buffer, and one too small for the address (truncation must
	 * behave as without the library: the caller's length reaches the
	 * kernel, which writes back the full one). */
	socklen_t given = _i / 2 ? 4 : (socklen_t)sizeof(struct sockaddr_storage);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);
	struct sockaddr_storage peer;
	socklen_t len = given;
	arm(5, ECONNABORTED, 0); /* the fault layer writes 1 on failures 2..5 */
	int fd = do_accept(four, l.fd, (struct sockaddr *)&peer, &len);
	if (retry_on()) {
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(seen_len(), (long)given);
		ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
		close(fd);
	} else {
		ck_assert_int_eq(fd, -1);
		ck_assert_uint_eq(len, given); /* untouched, as by the kernel */
	}
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

/*
 * A bad addrlen behaves as without the library, retries or not. _i 0: an
 * unreadable one with addr NULL, which the kernel never reads, so the call
 * succeeds. _i 1: a read-only one with an addr: the kernel reads it, then
 * cannot write the length back, so the accept that gets the connection
 * fails with EFAULT.
 */
static void bad_addrlen(void *arg)
{
	int kind = *(int *)arg;
	socklen_t *len = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
	T_CHECK(len != MAP_FAILED);
	*len = sizeof(struct sockaddr_storage);
	T_CHECK(mprotect(len, 4096, kind ? PROT_READ : PROT_NONE) == 0);
	struct sockaddr_storage peer;
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	T_CHECK(c >= 0 && connect(c, (struct sockaddr *)&l.addr, l.addrlen) == 0);
	T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
	/* One failure: the fault layer writes *addrlen only from the second. */
	arm(1, ECONNABORTED, 0);
	errno = 0;
	int fd = accept(l.fd, kind ? (struct sockaddr *)&peer : NULL, len);
	if (!retry_on())
		T_ASSERT(fd == -1 && errno == ECONNABORTED, "accept gave %d, %s", fd,
			 strerror(errno));
	else if (kind)
		T_ASSERT(fd == -1 && errno == EFAULT, "accept gave %d, %s", fd, strerror(errno));
	else
		T_ASSERT(fd >= 0, "accept: %s", strerror(errno));
}

START_TEST(a_bad_addrlen_is_left_to_the_kernel)
{
	/* In a child: a fault would kill it, not the test runner. */
	int kind = _i;
	T_IN_CHILD(bad_addrlen, &kind);
}
END_TEST

/* ---- the bound ------------------------------------------------------------------ */

START_TEST(a_run_of_retries_is_bounded_at_128)
{
	bool four = _i;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);

	/* 128 dead connections: the 129th accept gets the live one. */
	arm(RETRY_MAX, ECONNABORTED, 0);
	struct seen b = before_call();
	int fd = do_accept(four, l.fd, NULL, NULL);
	struct seen d = since(b);
	if (retry_on()) {
		ck_assert_int_ge(fd, 0);
		ck_assert_uint_eq(d.calls, RETRY_MAX + 1);
		ck_assert_uint_eq(d.retries, RETRY_MAX);
		close(fd);
	} else {
		ck_assert_int_eq(fd, -1);
		ck_assert_uint_eq(d.calls, 1);
	}

	/* A listener that fails for good: after 128 retries the caller gets
	 * the error, quickly, and the next call starts a new run. */
	pid_t client2 = t_clients(&l, 1);
	arm(100000, ECONNABORTED, 0);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	b = before_call();
	errno = 0;
	ck_assert_int_eq(do_accept(four, l.fd, NULL, NULL), -1);
	d = since(b);
	ck_assert_int_eq(errno, ECONNABORTED);
	ck_assert_msg(ms_since(&t0) < 1000, "%.0f ms", ms_since(&t0));
	if (retry_on()) {
		ck_assert_uint_eq(d.calls, RETRY_MAX + 1);
		ck_assert_uint_eq(d.retries, RETRY_MAX);
		ck_assert_uint_eq(d.retried_calls, 1);
		ck_assert_uint_eq(d.failed, 1);
	} else {
		ck_assert_uint_eq(d.calls, 1);
		ck_assert_uint_eq(d.retries, 0);
	}
	arm(0, 0, 0);
	fd = do_accept(four, l.fd, NULL, NULL); /* still queued */
	ck_assert_int_ge(fd, 0);
	close(fd);
	t_clients_done(client2);
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

/* ---- never retried -------------------------------------------------------------- */

START_TEST(resource_permission_and_eintr_errors_are_never_retried)
{
	int err = never_retried[_i % N_NEVER];
	bool four = _i >= N_NEVER;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);
	arm(3, err, 0);
	struct seen b = before_call();
	errno = 0;
	ck_assert_int_eq(do_accept(four, l.fd, NULL, NULL), -1);
	struct seen d = since(b);
	ck_assert_msg(errno == err, "want %s, got %s", strerrorname_np(err),
		      strerrorname_np(errno));
	ck_assert_uint_eq(d.calls, 1);
	ck_assert_uint_eq(d.retries, 0);
	ck_assert_uint_eq(d.retried_calls, 0);
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

/* ---- sockets that cannot accept ------------------------------------------------ */

START_TEST(a_socket_that_cannot_accept_gets_its_error_at_once)
{
	struct {
		int type;
		int injected; /* 0: the kernel's own error */
		int want;
	} cases[] = {
		{ SOCK_DGRAM, 0, EOPNOTSUPP },   /* accept on UDP */
		{ SOCK_STREAM, 0, EINVAL },      /* TCP, never listened */
		{ SOCK_DGRAM, EOPNOTSUPP, EOPNOTSUPP },
		{ SOCK_STREAM, ECONNABORTED, ECONNABORTED },
		{ SOCK_STREAM, ENOPROTOOPT, ENOPROTOOPT },
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		int fd = socket(AF_INET, cases[k].type, 0);
		T_CHECK(fd >= 0);
		arm(cases[k].injected ? 3 : 0, cases[k].injected, 0);
		struct seen b = before_call();
		errno = 0;
		ck_assert_int_eq(accept(fd, NULL, NULL), -1);
		struct seen d = since(b);
		ck_assert_msg(errno == cases[k].want, "case %zu: want %s, got %s", k,
			      strerrorname_np(cases[k].want), strerrorname_np(errno));
		ck_assert_msg(d.calls == 1, "case %zu: %u accepts", k, d.calls);
		ck_assert_uint_eq(d.retries, 0);
		close(fd);
	}
}
END_TEST

/* ---- the trace -------------------------------------------------------------------- */

/* `test_retry --trace-probe`: one accept that meets four dead connections,
 * run in a fresh process so that ACCEPT4SHIM_LOG applies from the start. */
static int trace_probe(void)
{
	t_is_child = true;
	find_hooks();
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	T_CHECK(c >= 0 && connect(c, (struct sockaddr *)&l.addr, l.addrlen) == 0);
	T_ASSERT(t_wait_readable(l.fd, 2000), "no connection queued");
	arm(4, ENETUNREACH, 0);
	int fd = accept(l.fd, NULL, NULL);
	return retry_on() ? fd < 0 : fd != -1;
}

START_TEST(the_trace_record_counts_the_retries_of_its_call)
{
	char dir[] = "/tmp/a4s-retry-XXXXXX";
	T_CHECK(mkdtemp(dir) != NULL);
	char log[PATH_MAX], self[PATH_MAX];
	snprintf(log, sizeof(log), "%s/trace.jsonl", dir);
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	T_CHECK(n > 0);
	self[n] = '\0';
	fflush(NULL);
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		setenv("ACCEPT4SHIM_LOG", log, 1);
		setenv("ACCEPT4SHIM_LOG_FORMAT", "json", 1);
		execl(self, self, "--trace-probe", (char *)NULL);
		_exit(127);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "probe status %#x", status);

	FILE *f = fopen(log, "r");
	ck_assert_msg(f != NULL, "no trace written to %s", log);
	char line[4096];
	int records = 0;
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		records++;
		if (retry_on())
			found = strstr(line, "\"retries\":4,") && strstr(line, "\"errno\":null");
		else
			found = strstr(line, "\"retries\":0,") &&
				strstr(line, "\"errno\":\"ENETUNREACH\"");
	}
	fclose(f);
	unlink(log);
	rmdir(dir);
	ck_assert_int_eq(records, 1);
	ck_assert_msg(found, "record: %s", line);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--trace-probe") == 0)
		return trace_probe();

	Suite *s = suite_create("retry");
	TCase *tc = tcase_create("retry");
	tcase_add_checked_fixture(tc, find_hooks, disarm);
	tcase_add_loop_test(tc, a_pending_network_error_is_retried_until_the_connection_comes, 0,
			    2 * N_RETRYABLE);
	tcase_add_loop_test(tc, a_nonblocking_listener_ends_in_eagain_once_the_queue_is_empty, 0, 2);
	tcase_add_test(tc, a_blocking_listener_keeps_waiting_after_the_retries);
	tcase_add_loop_test(tc, a_retry_run_stops_at_the_first_error_not_on_the_list, 0, 2);
	tcase_add_loop_test(tc, the_callers_addrlen_is_restored_before_every_retry, 0, 4);
	tcase_add_loop_test(tc, a_bad_addrlen_is_left_to_the_kernel, 0, 2);
	tcase_add_loop_test(tc, a_run_of_retries_is_bounded_at_128, 0, 2);
	tcase_add_loop_test(tc, resource_permission_and_eintr_errors_are_never_retried, 0,
			    2 * N_NEVER);
	tcase_add_test(tc, a_socket_that_cannot_accept_gets_its_error_at_once);
	tcase_add_test(tc, the_trace_record_counts_the_retries_of_its_call);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
