/*
 * Issue 7, concurrency. SPEC: "Thread-safe: any number of threads may
 * accept on the same or different listeners at once"; "one record per
 * interposed call ... with a single write(2) so that records from many
 * threads ... never interleave or tear"; "no file descriptor is ever leaked".
 *
 * 16 threads accept on one TCP listener and one thread each on four others
 * (IPv6, AF_UNIX path and abstract, a second IPv4 one; two of them
 * non-blocking, served through poll), with accept and every accept4 flag
 * combination in turn. Forked client processes make the connections, each
 * sending a unique id that the server marks as seen, so a connection
 * accepted twice or never is caught. The JSON trace goes to a %p file; at
 * the end every call has exactly one valid record and the process has the
 * descriptors it had before.
 *
 * A4S_STRESS_CONNS sets the number of connections (default 100,000), so
 * the same program runs the full workload and the smaller ones under
 * helgrind, DRD and ThreadSanitizer.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"

#pragma weak accept4shim_get_stats

enum { MAIN_THREADS = 16, NLISTENERS = 5, CLIENTS = 4 };
#define NTHREADS (MAIN_THREADS + NLISTENERS - 1)
#define POISON 0xffffffffu

static struct t_listener listeners[NLISTENERS];
static bool nonblocking_listener[NLISTENERS] = { false, false, true, false, true };
static uint32_t total;
static atomic_uchar *seen;
static atomic_long accepted;
static atomic_int failed;
static char failure[512];

/* Threads cannot use ck_assert (under CK_FORK=no it would longjmp across
 * threads): the first failure is kept and the main thread reports it. */
static void note_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_failure(const char *fmt, ...)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&failed, &expected, 1))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
}

static bool wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1;
}

static bool read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		if (!wait_in(fd, 10000))
			return false;
		ssize_t r = read(fd, p, n);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

struct worker {
	pthread_t thread;
	int li;    /* listener index */
	int k;     /* thread number, to vary the calls */
	long calls;
};

/* One accepted connection: flags checked, id read and marked, acked.
 * Returns false when the id is the poison that ends the thread. */
static bool serve_one(int fd, int flags)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	if (fl < 0 || fdfl < 0)
		note_failure("fcntl on accepted fd %d: %s", fd, strerror(errno));
	else if (((fl & O_NONBLOCK) != 0) != ((flags & SOCK_NONBLOCK) != 0) ||
		 ((fdfl & FD_CLOEXEC) != 0) != ((flags & SOCK_CLOEXEC) != 0))
		note_failure("flags %#x gave O_NONBLOCK=%d FD_CLOEXEC=%d", flags,
		     (fl & O_NONBLOCK) != 0, (fdfl & FD_CLOEXEC) != 0);
	uint32_t id;
	if (!read_full(fd, &id, sizeof(id))) {
		note_failure("reading a client's id: %s", strerror(errno));
		close(fd);
		return true;
	}
	atomic_fetch_add(&accepted, 1);
	if (id == POISON) {
		close(fd);
		return false;
	}
	if (id >= total)
		note_failure("id %u out of range", id);
	else if (atomic_fetch_add(&seen[id], 1) != 0)
		note_failure("connection %u accepted twice", id);
	char ack = 'k';
	if (write(fd, &ack, 1) != 1)
		note_failure("ack to %u: %s", id, strerror(errno));
	close(fd);
	return true;
}

static void *serve(void *arg)
{
	struct worker *w = arg;
	int lfd = listeners[w->li].fd;
	bool nb = nonblocking_listener[w->li];
	for (unsigned n = (unsigned)w->k;; n++) {
		if (nb && !wait_in(lfd, 30000)) {
			note_failure("listener %d idle for 30 s", w->li);
			return NULL;
		}
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int flags = 0, fd;
		switch (n % 4) {
		case 0:
			fd = accept(lfd, (struct sockaddr *)&peer, &len);
			break;
		case 1:
			flags = SOCK_CLOEXEC;
			fd = accept4(lfd, (struct sockaddr *)&peer, &len, flags);
			break;
		case 2:
			flags = SOCK_NONBLOCK;
			fd = accept4(lfd, NULL, NULL, flags);
			break;
		default:
			flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
			fd = accept4(lfd, (struct sockaddr *)&peer, &len, flags);
			break;
		}
		w->calls++;
		if (fd < 0) {
			if (nb && errno == EAGAIN)
				continue;
			note_failure("accept on listener %d: %s", w->li, strerror(errno));
			return NULL;
		}
		if (!serve_one(fd, flags))
			return NULL;
	}
}

/* Listener A takes 16 of every 20 connections, the others one each. */
static int listener_for_id(uint32_t id)
{
	unsigned r = id % 20;
	return r < 16 ? 0 : (int)r - 15;
}

static int connect_to(const struct t_listener *l)
{
	int c = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -1;
	if (connect(c, (const struct sockaddr *)&l->addr, l->addrlen) != 0) {
		close(c);
		return -1;
	}
	return c;
}

/* A client: connects, sends its id, waits for the ack, and closes with a
 * reset, so that 100,000 loopback connections leave no TIME_WAIT behind to
 * run the ephemeral ports out. */
static void client(int c)
{
	for (uint32_t id = (uint32_t)c; id < total; id += CLIENTS) {
		const struct t_listener *l = &listeners[listener_for_id(id)];
		int s = connect_to(l);
		if (s < 0) {
			fprintf(stderr, "client %u: connect: %s\n", id, strerror(errno));
			_exit(2);
		}
		char ack;
		if (write(s, &id, sizeof(id)) != sizeof(id) || read(s, &ack, 1) != 1) {
			fprintf(stderr, "client %u: %s\n", id, strerror(errno));
			_exit(3);
		}
		if (l->family == T_TCP4 || l->family == T_TCP6) {
			struct linger lin = { 1, 0 };
			setsockopt(s, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
		}
		close(s);
	}
	_exit(0);
}

static void poison(const struct t_listener *l)
{
	int s = connect_to(l);
	ck_assert_msg(s >= 0, "poison connect: %s", strerror(errno));
	uint32_t id = POISON;
	ck_assert_int_eq(write(s, &id, sizeof(id)), sizeof(id));
	close(s);
}

START_TEST(every_connection_accepted_once_and_every_call_traced)
{
	const char *conns = getenv("A4S_STRESS_CONNS");
	total = conns ? (uint32_t)strtoul(conns, NULL, 10) : 100000;
	ck_assert_uint_gt(total, 0);
	seen = calloc(total, sizeof(*seen));
	ck_assert_ptr_nonnull(seen);
	atomic_store(&accepted, 0);

	static const enum t_family fam[NLISTENERS] = { T_TCP4, T_TCP6, T_UNIX_PATH,
						       T_UNIX_ABSTRACT, T_TCP4 };
	for (int i = 0; i < NLISTENERS; i++)
		t_listen(&listeners[i], fam[i], nonblocking_listener[i] ? SOCK_NONBLOCK : 0);

	/* One call first: in a forked test process the %p trace is opened by
	 * the first record, and the descriptor count is taken after that. */
	long calls = 1;
	errno = 0;
	ck_assert_int_eq(accept4(listeners[2].fd, NULL, NULL, SOCK_CLOEXEC), -1);
	ck_assert_int_eq(errno, EAGAIN);
	int fds_before = t_count_fds();

	/* The clients are forked before any thread exists and then wait for
	 * the go: a child forked from a threaded parent is a different test
	 * (tests/fork), and helgrind would take the threads it never had for
	 * racing with it. */
	int go[2];
	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t kids[CLIENTS];
	for (int c = 0; c < CLIENTS; c++) {
		kids[c] = fork();
		ck_assert_int_ge(kids[c], 0);
		if (kids[c] == 0) {
			char b;
			close(go[1]);
			if (read(go[0], &b, 1) != 1)
				_exit(1);
			client(c);
		}
	}
	close(go[0]);
	struct worker w[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .li = i < MAIN_THREADS ? 0 : i - MAIN_THREADS + 1, .k = i };
		ck_assert_int_eq(pthread_create(&w[i].thread, NULL, serve, &w[i]), 0);
	}
	char gobytes[CLIENTS] = { 0 };
	ck_assert_int_eq(write(go[1], gobytes, CLIENTS), CLIENTS);
	close(go[1]);
	for (int c = 0; c < CLIENTS; c++) {
		int status;
		ck_assert_int_eq(waitpid(kids[c], &status, 0), kids[c]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "client %d: status %#x (%s)", c, status, failure);
	}
	/* Every connection is acked, so all were accepted: one poison per
	 * thread now ends the threads. */
	for (int i = 0; i < NTHREADS; i++)
		poison(&listeners[w[i].li]);
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_int_eq(pthread_join(w[i].thread, NULL), 0);
		calls += w[i].calls;
	}
	ck_assert_msg(!atomic_load(&failed), "%s", failure);

	for (uint32_t id = 0; id < total; id++)
		ck_assert_msg(atomic_load(&seen[id]) == 1, "connection %u accepted %d times", id,
			      (int)atomic_load(&seen[id]));
	long want_accepted = (long)total + NTHREADS;
	ck_assert_int_eq(atomic_load(&accepted), want_accepted);

	for (int i = 0; i < NLISTENERS; i++)
		t_close_listener(&listeners[i]);
	ck_assert_int_eq(t_count_fds(), fds_before - NLISTENERS);

	if (accept4shim_get_stats) {
		struct accept4shim_stats s;
		ck_assert_int_eq(accept4shim_get_stats(&s, sizeof(s)), 0);
		ck_assert_uint_eq(s.calls, (uint64_t)calls);
		ck_assert_uint_eq(s.accepted, (uint64_t)want_accepted);
		ck_assert_uint_eq(s.dropped, 0);
	}

	/* Every record one whole JSON object from this process. */
	ck_assert_msg(t_tracing(), "ACCEPT4SHIM_LOG must name a file");
	static const char *const words[] = { "\"errno\":null", "\"how\":\"emulated\"", NULL };
	long with[2];
	ck_assert_int_eq(t_trace_records(getpid(), T_TRACE_OWN, words, with), calls);
	long successes = with[0], emulated_lines = with[1];
	ck_assert_int_eq(successes, want_accepted);
	const char *mode = getenv("ACCEPT4SHIM_MODE");
	if (mode && strcmp(mode, "native") == 0)
		ck_assert_int_eq(emulated_lines, 0);
	if (mode && strcmp(mode, "emulate") == 0) /* 3 in 4 calls ask for flags */
		ck_assert_int_ge(emulated_lines, want_accepted / 2);
	t_trace_remove(getpid());
	/* The runner's file, opened at load, stays empty under CK_FORK=yes. */
	char path[4096];
	struct stat st;
	if (t_trace_path(path, sizeof(path), (int)getppid()) && stat(path, &st) == 0 &&
	    st.st_size == 0)
		unlink(path);
	free(seen);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("threads");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, every_connection_accepted_once_and_every_call_traced);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
