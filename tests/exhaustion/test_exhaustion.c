/*
 * Issue 7, exhaustion. SPEC: "Resource and permission errors (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM, EPERM) ... are never retried"; "No file
 * descriptor is ever leaked"; nothing on the call path allocates; the
 * trace's descriptor is already open and kept out of the program's way.
 *
 * Run without the library and preloaded in each mode (and with RETRY=on),
 * the trace on. Resource limits and the system call counter are set inside
 * t_in_child.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"

#pragma weak accept4shim_get_stats

/*
 * Every allocation in the process is counted (the program's malloc comes
 * first in the symbol search order, so the library's and the C library's
 * calls reach it). Not in a sanitizer build, whose runtime owns malloc.
 */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define COUNTING_MALLOC 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static atomic_long allocations;

void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}
#endif

static const int all_flags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };

/* k < 4: accept4 with all_flags[k]; k == 4: accept. */
static int call(int k, int fd, struct sockaddr *addr, socklen_t *len)
{
	return k == 4 ? accept(fd, addr, len) : accept4(fd, addr, len, all_flags[k]);
}

/* ---- RLIMIT_NOFILE reached ---- */

static void at_the_descriptor_limit(void *arg)
{
	(void)arg;
	t_trace_open();
	struct t_listener l;
	t_listen(&l, (enum t_family)(getpid() % T_FAMILIES), 0);
	/* Every accept and accept4 that reaches the kernel is counted. The
	 * counter's helper is forked before the client, so that it holds
	 * none of the client's descriptors. */
	static const long nrs[] = { SYS_accept, SYS_accept4 };
	t_count_syscalls(nrs, 2);
	pid_t client = t_clients(&l, 3);
	long lines_before = t_trace_records(getpid(), 0, NULL, NULL);
	int fds_before = t_count_fds();

	struct rlimit old, low;
	T_CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	low = old;
	low.rlim_cur = 64;
	T_CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	int fillers[64], nfill = 0;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			T_ASSERT(errno == EMFILE, "filling: %s", strerror(errno));
			break;
		}
		T_ASSERT(nfill < 64, "more than 64 descriptors under a limit of 64");
		fillers[nfill++] = fd;
	}

	long calls = 0;
	for (int k = 0; k < 5; k++) {
		for (int with_addr = 0; with_addr < 2; with_addr++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			long a0 = t_syscalls_counted(SYS_accept) + t_syscalls_counted(SYS_accept4);
			errno = 0;
			int r = with_addr ? call(k, l.fd, (struct sockaddr *)&ss, &len)
					  : call(k, l.fd, NULL, NULL);
			long a1 = t_syscalls_counted(SYS_accept) + t_syscalls_counted(SYS_accept4);
			calls++;
			T_ASSERT(r == -1 && errno == EMFILE, "call %d: %d, %s", k, r, strerror(errno));
			T_ASSERT(a1 - a0 == 1, "call %d: %ld accepts for one call: retried", k, a1 - a0);
			T_ASSERT(len == sizeof(ss), "addrlen written on failure");
		}
	}
	/* The connections are still queued, and accepted once there is room. */
	T_ASSERT(t_wait_readable(l.fd, 0), "EMFILE took a connection from the queue");
	close(fillers[--nfill]);
	int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	calls++;
	T_ASSERT(fd >= 0 && t_cloexec(fd), "accept4 after one descriptor was freed: %s",
		 strerror(errno));
	close(fd);
	while (nfill)
		close(fillers[--nfill]);
	T_CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	T_ASSERT(t_count_fds() == fds_before, "descriptors: %d, were %d", t_count_fds(),
		 fds_before);

	if (accept4shim_get_stats) {
		struct accept4shim_stats s;
		T_CHECK(accept4shim_get_stats(&s, sizeof(s)) == 0);
		T_ASSERT(s.retries == 0 && s.retried_calls == 0, "retried: %llu",
			 (unsigned long long)s.retries);
		T_ASSERT(s.errors[EMFILE] == 10, "%llu EMFILE counted",
			 (unsigned long long)s.errors[EMFILE]);
		T_ASSERT(s.dropped == 0, "%llu records dropped", (unsigned long long)s.dropped);
	}
	if (t_tracing()) {
		static const char *const emfile_word[] = { "EMFILE", NULL };
		long emfile;
		long lines = t_trace_records(getpid(), 0, emfile_word, &emfile) - lines_before;
		T_ASSERT(lines == calls, "%ld records for %ld calls", lines, calls);
		T_ASSERT(emfile == 10, "%ld EMFILE records", emfile);
	}
	t_trace_remove(getpid());
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(emfile_is_returned_never_retried_nothing_leaked_and_traced)
{
	T_IN_CHILD(at_the_descriptor_limit, NULL);
}
END_TEST

/* ---- a long run ---- */

static long resident_pages(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	ck_assert_ptr_nonnull(f);
	long size, resident;
	ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
	fclose(f);
	return resident;
}

/* Calls, counting the allocations made while inside them. */
static long in_calls;

static int counted_call(int k, int fd, struct sockaddr *addr, socklen_t *len)
{
#ifdef COUNTING_MALLOC
	long a0 = atomic_load(&allocations);
	int r = call(k, fd, addr, len);
	int e = errno;
	in_calls += atomic_load(&allocations) - a0;
	errno = e;
	return r;
#else
	return call(k, fd, addr, len);
#endif
}

static void calls_for_a_while(const struct t_listener *l, int empty_calls, int rounds)
{
	for (int i = 0; i < empty_calls; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int r = counted_call(i % 5, l->fd, i % 2 ? (struct sockaddr *)&ss : NULL,
				     i % 2 ? &len : NULL);
		ck_assert_msg(r == -1 && errno == EAGAIN, "empty queue: %s", strerror(errno));
	}
	for (int round = 0; round < rounds; round++) {
		pid_t client = t_clients(l, 100);
		for (int i = 0; i < 100; i++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			int fd = counted_call(i % 5, l->fd, (struct sockaddr *)&ss, &len);
			ck_assert_msg(fd >= 0, "accept: %s", strerror(errno));
			close(fd);
		}
		t_clients_done(client);
	}
}

START_TEST(memory_and_descriptors_do_not_grow_with_calls)
{
	t_trace_open();
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	calls_for_a_while(&l, 2000, 2); /* warm: every path taken once */
	int fds = t_count_fds();
	long rss = resident_pages();
	in_calls = 0;
	calls_for_a_while(&l, 100000, 20);
	long grown = resident_pages() - rss;
	ck_assert_int_eq(t_count_fds(), fds);
#ifdef COUNTING_MALLOC
	/* Not in a sanitizer build: its allocator keeps freed memory in
	 * quarantine, so the process grows whatever the library does. */
	ck_assert_msg(grown <= 64, "resident memory grew by %ld pages over 102,000 calls", grown);
	ck_assert_msg(in_calls == 0, "%ld allocations inside 102,000 calls", in_calls);
#else
	(void)grown;
#endif
	t_trace_remove(getpid());
	t_close_listener(&l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("exhaustion");
	TCase *tc = tcase_create("exhaustion");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, emfile_is_returned_never_retried_nothing_leaked_and_traced);
	tcase_add_test(tc, memory_and_descriptors_do_not_grow_with_calls);
	suite_add_tcase(s, tc);
	int status = t_run_suite(s);
	t_trace_remove(getpid()); /* the runner's own, empty */
	return status;
}
