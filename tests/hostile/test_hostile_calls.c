/*
 * Issue 7, hostile and odd arguments. SPEC: "addr and addrlen go to the
 * kernel as given: NULL, truncation and EFAULT behave as without the
 * library. The library never reads or writes them before the kernel has";
 * "No file descriptor is ever leaked".
 *
 * The same expectations run without the library (what the kernel does) and
 * preloaded in every mode, with the trace on and off (see CMakeLists.txt).
 * Under a trace, every call must leave exactly one record, valid JSON in
 * the json runs: a bad pointer must crash neither the call nor its trace.
 * RETRY=on with a retryable error and every kind of bad addrlen is the
 * hostile case retry_addrlen (cases/retry_addrlen.c), where a sandbox makes
 * every accept fail that way; no call below fails with a retryable error
 * from a listening socket.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

static const int all_flags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };
#define NFLAGS ((int)(sizeof(all_flags) / sizeof(all_flags[0])))

static long calls; /* calls made by this test, for the trace */

/* k < NFLAGS: accept4 with all_flags[k]; k == NFLAGS: accept. */
static int call(int k, int fd, struct sockaddr *addr, socklen_t *len)
{
	calls++;
	if (k == NFLAGS)
		return accept(fd, addr, len);
	return accept4(fd, addr, len, all_flags[k]);
}

/* ---- the trace: one record per call ---- */

static long lines_before;
static int fds_before;

static void begin(void)
{
	calls = 0;
	lines_before = t_trace_records(getpid(), 0, NULL, NULL);
	/* A first call (EBADF) opens the trace of this process, so that the
	 * count below includes it. */
	ck_assert_int_eq(call(0, -1, NULL, NULL), -1);
	fds_before = t_count_fds();
}

/* Every call traced once; not a descriptor more than at the start. */
static void end(void)
{
	if (t_tracing()) {
		ck_assert_int_eq(t_trace_records(getpid(), 0, NULL, NULL) - lines_before, calls);
		/* A forked test's %p file is its own: checked, it goes. */
		const char *fork_mode = getenv("CK_FORK");
		if (!fork_mode || strcmp(fork_mode, "no") != 0)
			t_trace_remove(getpid());
	}
	ck_assert_int_eq(t_count_fds(), fds_before);
}

/* A page that faults on any access, and one that faults on a write. */
static void *page(int prot)
{
	void *p = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	return p;
}

static void expect_fail(int r, int err, const char *what, int k)
{
	ck_assert_msg(r == -1 && errno == err, "%s (call %d): got %d errno %s, want %s", what, k,
		      r, strerror(errno), strerror(err));
}

static void expect_ok(int fd, int k, const char *what)
{
	ck_assert_msg(fd >= 0, "%s (call %d): %s", what, k, strerror(errno));
	if (k < NFLAGS && !getenv("ACCEPT4SHIM_ADD_FLAGS")) {
		ck_assert_int_eq(t_nonblocking(fd), (all_flags[k] & SOCK_NONBLOCK) != 0);
		ck_assert_int_eq(t_cloexec(fd), (all_flags[k] & SOCK_CLOEXEC) != 0);
	}
	close(fd);
}

/* _i: TCP over 127.0.0.1 or an AF_UNIX path. */
static enum t_family fam(int i)
{
	return i ? T_UNIX_PATH : T_TCP4;
}

/* Each bad pointer in turn, as addr or as addrlen: EFAULT from every call.
 * Read-only: the kernel reads the length, then cannot write it. */
static void bad_pointers_fail_with_efault(enum t_family f, bool as_addrlen)
{
	struct t_listener l;
	t_listen(&l, f, 0);
	begin();
	void *none = page(PROT_NONE), *ro = page(PROT_READ);
	void *bad[] = { (void *)16, none, ro };
	for (size_t b = 0; b < 3; b++) {
		for (int k = 0; k <= NFLAGS; k++) {
			pid_t client = t_clients(&l, 1);
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			errno = 0;
			if (as_addrlen)
				expect_fail(call(k, l.fd, (struct sockaddr *)&ss, bad[b]), EFAULT,
					    "bad addrlen", k);
			else
				expect_fail(call(k, l.fd, bad[b], &len), EFAULT, "bad addr", k);
			t_clients_done(client);
		}
	}
	end();
	munmap(none, 4096);
	munmap(ro, 4096);
	t_close_listener(&l);
}

START_TEST(bad_addr_pointer_fails_with_efault_and_leaks_nothing)
{
	bad_pointers_fail_with_efault(fam(_i), false);
}
END_TEST

START_TEST(bad_addrlen_pointer_fails_with_efault_and_leaks_nothing)
{
	bad_pointers_fail_with_efault(fam(_i), true);
}
END_TEST

/* With addr NULL the kernel never looks at addrlen; neither may we. */
START_TEST(null_addr_ignores_a_bad_addrlen)
{
	struct t_listener l;
	t_listen(&l, fam(_i), 0);
	begin();
	void *none = page(PROT_NONE);
	for (int k = 0; k <= NFLAGS; k++) {
		pid_t client = t_clients(&l, 2);
		expect_ok(call(k, l.fd, NULL, (socklen_t *)16), k, "NULL addr, wild addrlen");
		expect_ok(call(k, l.fd, NULL, none), k, "NULL addr, unmapped addrlen");
		t_clients_done(client);
	}
	end();
	munmap(none, 4096);
	t_close_listener(&l);
}
END_TEST

/* An empty queue: the kernel fails before it looks at either pointer. */
START_TEST(empty_queue_with_bad_pointers_gives_eagain)
{
	struct t_listener l;
	t_listen(&l, fam(_i), SOCK_NONBLOCK);
	begin();
	void *none = page(PROT_NONE);
	for (int k = 0; k <= NFLAGS; k++) {
		errno = 0;
		expect_fail(call(k, l.fd, none, none), EAGAIN, "empty queue", k);
		expect_fail(call(k, l.fd, (void *)16, (void *)16), EAGAIN, "empty queue", k);
	}
	end();
	munmap(none, 4096);
	t_close_listener(&l);
}
END_TEST

/* A negative length (or one that is negative as an int) is EINVAL. */
START_TEST(negative_addrlen_fails_with_einval)
{
	struct t_listener l;
	t_listen(&l, fam(_i), 0);
	begin();
	const socklen_t lens[] = { (socklen_t)-1, (socklen_t)INT_MIN, 0x80000001u };
	for (size_t n = 0; n < sizeof(lens) / sizeof(lens[0]); n++) {
		for (int k = 0; k <= NFLAGS; k++) {
			pid_t client = t_clients(&l, 1);
			struct sockaddr_storage ss;
			socklen_t len = lens[n];
			errno = 0;
			expect_fail(call(k, l.fd, (struct sockaddr *)&ss, &len), EINVAL,
				    "negative addrlen", k);
			t_clients_done(client);
		}
	}
	end();
	t_close_listener(&l);
}
END_TEST

/* A huge length is cut to the address's size; 0 writes nothing to addr
 * and still reports the size. */
START_TEST(huge_or_zero_addrlen_behaves_as_the_kernel)
{
	struct t_listener l;
	t_listen(&l, fam(_i), 0);
	begin();
	for (int k = 0; k <= NFLAGS; k++) {
		pid_t client = t_clients(&l, 2);
		struct sockaddr_storage ss;
		socklen_t len = INT_MAX;
		int fd = call(k, l.fd, (struct sockaddr *)&ss, &len);
		ck_assert_int_ge(fd, 0);
		ck_assert_uint_le(len, sizeof(ss));
		ck_assert_uint_ge(len, sizeof(sa_family_t));
		expect_ok(fd, k, "huge addrlen");
		memset(&ss, 0xab, sizeof(ss));
		len = 0;
		fd = call(k, l.fd, (struct sockaddr *)&ss, &len);
		ck_assert_int_ge(fd, 0);
		ck_assert_uint_ge(len, sizeof(sa_family_t));
		ck_assert_uint_eq(((unsigned char *)&ss)[0], 0xab);
		expect_ok(fd, k, "zero addrlen");
		t_clients_done(client);
	}
	end();
	t_close_listener(&l);
}
END_TEST

/* Descriptors that are no listener: the kernel's errno, the descriptor
 * untouched (no flag read-and-set on something that is not ours). */
START_TEST(descriptors_that_are_no_listener_fail_as_the_kernel)
{
	begin();
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	int devnull = open("/dev/null", O_RDWR);
	int dir = open("/", O_RDONLY | O_DIRECTORY);
	int efd = eventfd(0, EFD_NONBLOCK);
	int ep = epoll_create1(0);
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	int udgram = socket(AF_UNIX, SOCK_DGRAM, 0);
	int idle = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert(devnull >= 0 && dir >= 0 && efd >= 0 && ep >= 0 && udp >= 0 && udgram >= 0 &&
		  idle >= 0);
	int closed = dup(0); /* the lowest free number, free again */
	close(closed);
	const struct {
		int fd, err;
	} cases[] = {
		{ -1, EBADF }, { INT_MAX, EBADF }, { closed, EBADF }, { 1 << 20, EBADF },
		{ p[0], ENOTSOCK }, { p[1], ENOTSOCK }, { devnull, ENOTSOCK }, { dir, ENOTSOCK },
		{ efd, ENOTSOCK }, { ep, ENOTSOCK }, { udp, EOPNOTSUPP }, { udgram, EOPNOTSUPP },
		{ idle, EINVAL },
	};
	int before = t_count_fds();
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int fl = cases[c].err == EBADF ? 0 : fcntl(cases[c].fd, F_GETFL);
		int fdfl = cases[c].err == EBADF ? 0 : fcntl(cases[c].fd, F_GETFD);
		for (int k = 0; k <= NFLAGS; k++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			errno = 0;
			expect_fail(call(k, cases[c].fd, (struct sockaddr *)&ss, &len), cases[c].err,
				    "not a listener", k);
			ck_assert_uint_eq(len, sizeof(ss));
			errno = 0;
			expect_fail(call(k, cases[c].fd, NULL, NULL), cases[c].err, "not a listener",
				    k);
		}
		if (cases[c].err != EBADF) {
			ck_assert_int_eq(fcntl(cases[c].fd, F_GETFL), fl);
			ck_assert_int_eq(fcntl(cases[c].fd, F_GETFD), fdfl);
		}
	}
	ck_assert_int_eq(t_count_fds(), before);
	int all[] = { p[0], p[1], devnull, dir, efd, ep, udp, udgram, idle };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		close(all[i]);
	end();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile_calls");
	TCase *tc = tcase_create("pointers");
	tcase_add_loop_test(tc, bad_addr_pointer_fails_with_efault_and_leaks_nothing, 0, 2);
	tcase_add_loop_test(tc, bad_addrlen_pointer_fails_with_efault_and_leaks_nothing, 0, 2);
	tcase_add_loop_test(tc, null_addr_ignores_a_bad_addrlen, 0, 2);
	tcase_add_loop_test(tc, empty_queue_with_bad_pointers_gives_eagain, 0, 2);
	tcase_add_loop_test(tc, negative_addrlen_fails_with_einval, 0, 2);
	tcase_add_loop_test(tc, huge_or_zero_addrlen_behaves_as_the_kernel, 0, 2);
	suite_add_tcase(s, tc);
	TCase *td = tcase_create("descriptors");
	tcase_add_test(td, descriptors_that_are_no_listener_fail_as_the_kernel);
	suite_add_tcase(s, td);
	int status = t_run_suite(s);
	t_trace_remove(getpid()); /* the runner's own %p file, opened at load */
	return status;
}
