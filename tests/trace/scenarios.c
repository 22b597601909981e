/*
 * The scenario side of the trace suites: what runs in the exec'd,
 * preloaded process. A scenario makes its calls and prints on stdout, per
 * call, what it did and saw ("facts"); the test then compares the records
 * with them. The scenarios every suite may run are here; a suite adds its
 * own through t_trace_main.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "tracekit.h"

#pragma weak accept4shim_get_stats

/* ------------------------------------------------------------------ */
/* The scenario side: runs in the exec'd, preloaded process.           */

/* One line on stdout with one write, so lines from forked children never
 * mix. */
void say(const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	T_ASSERT(n > 0 && n < (int)sizeof(line) - 1, "say: line too long");
	line[n++] = '\n';
	T_CHECK(write(1, line, (size_t)n) == n);
}

/* An address the way the SPEC writes it, built here from the kernel's
 * bytes without the library's formatter, then percent-encoded. */
static void expect_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
	char raw[256];
	size_t n = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		n = (size_t)snprintf(raw, sizeof(raw), "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		char ip[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		if (in6->sin6_scope_id)
			n = (size_t)snprintf(raw, sizeof(raw), "[%s%%%u]:%u", ip,
					     in6->sin6_scope_id, ntohs(in6->sin6_port));
		else
			n = (size_t)snprintf(raw, sizeof(raw), "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)sa;
		size_t name = len - offsetof(struct sockaddr_un, sun_path);
		memcpy(raw, "unix:", 5);
		n = 5;
		if (name > 0 && un->sun_path[0] == '\0') {
			raw[n++] = '@';
			memcpy(raw + n, un->sun_path + 1, name - 1);
			n += name - 1;
		} else if (name > 0) {
			size_t l = strnlen(un->sun_path, name);
			memcpy(raw + n, un->sun_path, l);
			n += l;
		}
	} else {
		T_ASSERT(0, "family %d", sa->sa_family);
	}
	pct(raw, n, out, size);
}

static void local_of(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		snprintf(out, size, "~");
	else
		expect_addr((struct sockaddr *)&ss, len, out, size);
}

static const char *flag_names(int flags)
{
	switch (flags) {
	case 0: return "0";
	case SOCK_NONBLOCK: return "SOCK_NONBLOCK";
	case SOCK_CLOEXEC: return "SOCK_CLOEXEC";
	case SOCK_NONBLOCK | SOCK_CLOEXEC: return "SOCK_NONBLOCK|SOCK_CLOEXEC";
	case 0x40: return "0x40";
	default: T_ASSERT(0, "flags %#x", flags); return "";
	}
}

/*
 * One call, as the program would make it, and its fact line: what was
 * passed, what came back, the peer from the caller's own buffer (or from
 * getpeername when the caller gave none or a short one), the wall clock
 * around the call and how long it took at most. errno is set to 4321
 * before, and on success must still be 4321 after ("kept").
 */
int traced(bool is4, int lfd, struct sockaddr *addr, socklen_t *addrlen, int flags,
		  enum how how, unsigned retries)
{
	char local[1024], peer[1024];
	local_of(lfd, local, sizeof(local));
	socklen_t given = addrlen ? *addrlen : 0;
	uint64_t t0 = realtime_us(), m0 = monotonic_ns();
	errno = 4321;
	int fd = is4 ? accept4(lfd, addr, addrlen, flags) : accept(lfd, addr, addrlen);
	int err = errno;
	uint64_t m1 = monotonic_ns(), t1 = realtime_us();
	bool kept = fd < 0 || err == 4321;
	if (fd < 0) {
		snprintf(peer, sizeof(peer), "~");
	} else if (addr && *addrlen <= given) {
		expect_addr(addr, *addrlen, peer, sizeof(peer));
	} else {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		T_CHECK(getpeername(fd, (struct sockaddr *)&ss, &len) == 0);
		expect_addr((struct sockaddr *)&ss, len, peer, sizeof(peer));
	}
	say("call call=%s listen_fd=%d local=%s flags=%s fd=%d errno=%s peer=%s how=%s "
	    "retries=%u pid=%d tid=%d t0=%llu t1=%llu d=%llu kept=%d",
	    is4 ? "accept4" : "accept", lfd, local, flag_names(flags), fd,
	    fd < 0 ? strerrorname_np(err) : "~", peer, how == EMULATED ? "emulated" : "native",
	    retries, (int)getpid(), self_tid(), (unsigned long long)t0, (unsigned long long)t1,
	    (unsigned long long)(m1 - m0), kept);
	errno = err;
	return fd;
}

/* A client connected to l from this process: loopback TCP and AF_UNIX
 * connects complete at once into the listener's queue. An AF_UNIX client
 * binds an abstract name first, so that the peer has one to show. */
int client_to(const struct t_listener *l)
{
	static int serial;
	int c = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_CHECK(c >= 0);
	if (l->addr.ss_family == AF_UNIX) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		int n = snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "a4s-peer-%d-%d",
				 (int)getpid(), serial++);
		T_CHECK(bind(c, (struct sockaddr *)&un,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) == 0);
	}
	T_CHECK(connect(c, (const struct sockaddr *)&l->addr, l->addrlen) == 0);
	return c;
}

const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

/* In a forked child of a scenario: its own records, its own pid. */
void in_fork(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "scenario child status %d", status);
}

static void enosys_child(void *arg)
{
	/* accept4 absent: native fails with ENOSYS, auto switches and
	 * emulates, emulate never asked the kernel for it. */
	const struct t_listener *l = arg;
	bool native = strcmp(env_or("ACCEPT4SHIM_MODE", "auto"), "native") == 0;
	t_seccomp_fail_syscall(SYS_accept4, ENOSYS);
	int c = client_to(l);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = traced(true, l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC,
			native ? NATIVE : EMULATED, 0);
	T_ASSERT((fd >= 0) == !native, "accept4 without the kernel's: %d", fd);
	close(c);
}

static void retry_child(void *arg)
{
	/* Every accept fails with a retryable error: the call gives up after
	 * RETRY_MAX retries and says so in "retries". */
	const struct t_listener *l = arg;
	t_seccomp_fail_syscall(SYS_accept4, ECONNABORTED);
	t_seccomp_fail_syscall(SYS_accept, ECONNABORTED);
	int fd = traced(true, l->fd, NULL, NULL, SOCK_CLOEXEC, NATIVE, RETRY_MAX);
	T_ASSERT(fd == -1 && errno == ECONNABORTED, "retried accept: %d %d", fd, errno);
}

/* Every kind of call and outcome, on every listener family. */
static void sc_calls(void)
{
	const char *mode = env_or("ACCEPT4SHIM_MODE", "auto");
	enum how flagged = strcmp(mode, "emulate") == 0 ? EMULATED : NATIVE;
	struct t_listener l;
	for (int f = 0; f < T_FAMILIES; f++) {
		t_listen(&l, (enum t_family)f, 0);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int c = client_to(&l);
		int fd = traced(true, l.fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC, flagged, 0);
		T_CHECK(fd >= 0);
		close(fd);
		close(c);

		c = client_to(&l);
		fd = traced(false, l.fd, NULL, NULL, 0, NATIVE, 0);
		T_CHECK(fd >= 0);
		close(fd);
		close(c);

		/* A buffer too short for the address: the record's peer is
		 * still whole. */
		c = client_to(&l);
		unsigned char small[4];
		len = sizeof(small);
		fd = traced(true, l.fd, (struct sockaddr *)small, &len, SOCK_NONBLOCK | SOCK_CLOEXEC,
			    flagged, 0);
		T_CHECK(fd >= 0);
		close(fd);
		close(c);

		c = client_to(&l);
		fd = traced(true, l.fd, NULL, NULL, 0, NATIVE, 0);
		T_CHECK(fd >= 0);
		close(fd);
		close(c);
		t_close_listener(&l);
	}

	/* Failures, each with its errno's name and no peer. */
	t_listen(&l, T_TCP6, SOCK_NONBLOCK);
	T_ASSERT(traced(true, l.fd, NULL, NULL, SOCK_NONBLOCK, NATIVE, 0) == -1, "EAGAIN");
	T_ASSERT(traced(false, l.fd, NULL, NULL, 0, NATIVE, 0) == -1, "EAGAIN");
	T_ASSERT(traced(true, l.fd, NULL, NULL, 0x40, NATIVE, 0) == -1, "EINVAL");
	t_close_listener(&l);
	T_ASSERT(traced(true, -1, NULL, NULL, SOCK_CLOEXEC, NATIVE, 0) == -1, "EBADF");
	int p[2];
	T_CHECK(pipe(p) == 0);
	T_ASSERT(traced(false, p[0], NULL, NULL, 0, NATIVE, 0) == -1, "ENOTSOCK");
	close(p[0]);
	close(p[1]);
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr = { htonl(INADDR_LOOPBACK) } };
	T_CHECK(bind(udp, (struct sockaddr *)&in, sizeof(in)) == 0);
	T_ASSERT(traced(false, udp, NULL, NULL, 0, NATIVE, 0) == -1, "EOPNOTSUPP");
	close(udp);

	/* In forked children: their pid, the kernel without accept4, and a
	 * call that retried. */
	t_listen(&l, T_TCP4, 0);
	in_fork(enosys_child, &l);
	if (strcmp(env_or("ACCEPT4SHIM_RETRY", "off"), "on") == 0) {
		int c = client_to(&l);
		in_fork(retry_child, &l);
		close(c);
	}
	t_close_listener(&l);
}

/* Listeners whose AF_UNIX names hold every awkward byte. */
const char abstract_name[22] = "\0q\"b\\s/\n\t\x01\x1f\0z\x7f\xc3\xa9\xff end";
const char path_name[20] = "/tmp/a4s \"q\" \\ \n\x7f\xff-";

void listen_named(struct t_listener *l, const char *name, size_t n)
{
	memset(l, 0, sizeof(*l));
	l->family = name[0] ? T_UNIX_PATH : T_UNIX_ABSTRACT;
	struct sockaddr_un *un = (struct sockaddr_un *)&l->addr;
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, name, n);
	l->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (name[0]) {
		char path[200];
		snprintf(path, sizeof(path), "%s%d", name, (int)getpid());
		memcpy(un->sun_path, path, strlen(path) + 1);
		l->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
		T_ASSERT(strlen(path) < sizeof(l->path), "path too long");
		memcpy(l->path, path, strlen(path) + 1);
		unlink(path);
	}
	l->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	T_CHECK(l->fd >= 0);
	T_CHECK(bind(l->fd, (struct sockaddr *)&l->addr, l->addrlen) == 0);
	T_CHECK(listen(l->fd, 8) == 0);
}

static void sc_names(void)
{
	struct t_listener l;
	listen_named(&l, abstract_name, sizeof(abstract_name) - 1);
	int c = client_to(&l);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	T_CHECK(traced(true, l.fd, (struct sockaddr *)&ss, &len, 0, NATIVE, 0) >= 0);
	close(c);
	t_close_listener(&l);
	listen_named(&l, path_name, sizeof(path_name) - 1);
	c = client_to(&l);
	len = sizeof(ss);
	T_CHECK(traced(true, l.fd, (struct sockaddr *)&ss, &len, 0, NATIVE, 0) >= 0);
	close(c);
	t_close_listener(&l);
}

void one_accept(const struct t_listener *l, int flags)
{
	int c = client_to(l);
	int fd = accept4(l->fd, NULL, NULL, flags);
	T_CHECK(fd >= 0);
	close(fd);
	close(c);
}

void get_stats(struct accept4shim_stats *s)
{
	T_ASSERT(accept4shim_get_stats != NULL, "the library is not preloaded");
	T_CHECK(accept4shim_get_stats(s, sizeof(*s)) == 0);
}

/* Close every descriptor above 2, put a file of the program's own on the
 * trace's old number, go on accepting: the trace must reopen elsewhere. */
static void sc_closeall(const char *data_path)
{
	const char *trace = getenv("ACCEPT4SHIM_LOG");
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	one_accept(&l, SOCK_CLOEXEC);
	int old = t_fd_on(trace);
	T_ASSERT(old > 2, "no trace descriptor after the first record");
	T_ASSERT(t_cloexec(old), "trace descriptor not close-on-exec");

	T_CHECK(syscall(SYS_close_range, 3, ~0U, 0) == 0);
	int data = open(data_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	T_CHECK(data >= 0);
	T_CHECK(write(data, "DATA\n", 5) == 5);
	T_CHECK(dup2(data, old) == old);
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	one_accept(&l, 0);
	one_accept(&l, SOCK_NONBLOCK);
	int again = t_fd_on(trace);
	T_ASSERT(again > 2 && again != old, "trace reopened on %d (old %d)", again, old);
	T_ASSERT(t_cloexec(again), "reopened trace descriptor not close-on-exec");

	/* Closed and not reused: noticed too. */
	T_CHECK(syscall(SYS_close_range, 3, ~0U, 0) == 0);
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	one_accept(&l, 0);
	struct accept4shim_stats s;
	get_stats(&s);
	say("closeall old=%d again=%d now=%d calls=%llu dropped=%llu", old, again, t_fd_on(trace),
	    (unsigned long long)s.calls, (unsigned long long)s.dropped);
}

/* 8 threads accepting on one listener, and processes on their own. */
struct storm {
	const struct t_listener *l;
	int n;
};

static void *storm_thread(void *arg)
{
	struct storm *s = arg;
	for (int i = 0; i < s->n; i++) {
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		T_CHECK(c >= 0);
		T_CHECK(connect(c, (const struct sockaddr *)&s->l->addr, s->l->addrlen) == 0);
		int fd = accept4(s->l->fd, NULL, NULL, SOCK_CLOEXEC);
		T_CHECK(fd >= 0);
		close(fd);
		close(c);
	}
	return NULL;
}

static void sc_storm(int threads, int per_thread, int procs, int per_proc)
{
	int fds_before = t_count_fds();
	pid_t kids[16];
	T_ASSERT(procs <= 16 && threads <= 64, "too many");
	for (int k = 0; k < procs; k++) {
		kids[k] = fork();
		T_CHECK(kids[k] >= 0);
		if (kids[k] == 0) {
			struct t_listener l;
			t_listen(&l, T_UNIX_ABSTRACT, 0);
			struct storm s = { &l, per_proc };
			storm_thread(&s);
			say("proc pid=%d n=%d", (int)getpid(), per_proc);
			_exit(0);
		}
	}
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	struct storm s = { &l, per_thread };
	pthread_t th[64];
	for (int t = 0; t < threads; t++)
		T_ASSERT(pthread_create(&th[t], NULL, storm_thread, &s) == 0, "pthread_create");
	for (int t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	for (int k = 0; k < procs; k++) {
		int status;
		T_CHECK(waitpid(kids[k], &status, 0) == kids[k]);
		T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "storm child %d", status);
	}
	t_close_listener(&l);
	struct accept4shim_stats st;
	get_stats(&st);
	say("main pid=%d n=%d dropped=%llu newfds=%d", (int)getpid(), threads * per_thread,
	    (unsigned long long)st.dropped, t_count_fds() - fds_before);
}

/* logrotate's copytruncate, done to the trace between two calls. */
static void sc_truncate(void)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	one_accept(&l, 0);
	one_accept(&l, 0);
	T_CHECK(truncate(getenv("ACCEPT4SHIM_LOG"), 0) == 0);
	one_accept(&l, SOCK_CLOEXEC);
	t_close_listener(&l);
}

/* This program again, as the scenario name, with env. */
void exec_scenario(const char *name, char **env)
{
	const char *argv[] = { "/proc/self/exe", "scenario", name, NULL };
	char *const *a;
	const char *const *ca = argv;
	memcpy(&a, &ca, sizeof(a)); /* execve's prototype predates const */
	execve(argv[0], a, env);
	_exit(127);
}

/* A pre-forking server: the parent accepts once, three children twice
 * each, a fourth child only execs, a fifth exits without a call. */
static void sc_prefork(void)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	int clients[7];
	for (int i = 0; i < 7; i++)
		clients[i] = client_to(&l);
	int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	T_CHECK(fd >= 0);
	close(fd);
	say("parent pid=%d n=1", (int)getpid());
	pid_t kids[5];
	for (int k = 0; k < 5; k++) {
		kids[k] = fork();
		T_CHECK(kids[k] >= 0);
		if (kids[k] == 0) {
			if (k == 3) {
				exec_scenario("idle", environ);
			}
			if (k == 4)
				exit(0); /* through exit(), destructors and all */
			for (int i = 0; i < 2; i++) {
				int a = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
				T_CHECK(a >= 0);
				close(a);
			}
			say("child pid=%d n=2", (int)getpid());
			exit(0);
		}
	}
	for (int k = 0; k < 5; k++) {
		int status;
		T_CHECK(waitpid(kids[k], &status, 0) == kids[k]);
		T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "prefork child %d", status);
		if (k >= 3)
			say("quiet pid=%d", (int)kids[k]);
	}
	for (int i = 0; i < 7; i++)
		close(clients[i]);
	t_close_listener(&l);
}

/* The trace descriptor is close-on-exec: a program exec'd after a record
 * was written (here without the library) does not hold it. */
static void sc_exec(void)
{
	const char *trace = getenv("ACCEPT4SHIM_LOG");
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	one_accept(&l, 0);
	int fd = t_fd_on(trace);
	T_ASSERT(fd > 2, "no trace descriptor");
	say("tracefd fd=%d cloexec=%d", fd, t_cloexec(fd));
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		char *no_env[] = { NULL };
		exec_scenario("listfds", no_env);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "listfds %d", status);
	t_close_listener(&l);
}

static void sc_listfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	T_CHECK(d != NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		char link[300], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0 && atoi(e->d_name) != dirfd(d)) {
			target[n] = '\0';
			say("open fd=%s target=%s", e->d_name, target);
		}
	}
	closedir(d);
}

static volatile sig_atomic_t sigpipes;

static void count_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/*
 * How the program treats SIGPIPE, per arg: "handler" counts it, "default"
 * would die of it, "blocked" keeps it blocked (nothing may be left pending),
 * "pending" keeps it blocked with one of its own pending (which must stay).
 */
void sigpipe_setup(const char *how)
{
	if (strcmp(how, "handler") == 0) {
		struct sigaction sa = { .sa_handler = count_sigpipe };
		sigaction(SIGPIPE, &sa, NULL);
	} else if (strcmp(how, "blocked") == 0 || strcmp(how, "pending") == 0) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		if (strcmp(how, "pending") == 0)
			raise(SIGPIPE);
	} else {
		signal(SIGPIPE, SIG_DFL);
	}
}

void sigpipe_verdict(const char *how)
{
	sigset_t pending;
	sigpending(&pending);
	bool is_pending = sigismember(&pending, SIGPIPE);
	if (strcmp(how, "pending") == 0) {
		T_ASSERT(is_pending, "the program's own pending SIGPIPE was taken");
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		struct timespec zero = { 0, 0 };
		T_ASSERT(sigtimedwait(&set, NULL, &zero) == SIGPIPE, "its SIGPIPE");
	} else {
		T_ASSERT(!is_pending, "a SIGPIPE was left pending");
	}
	T_ASSERT(sigpipes == 0, "%d SIGPIPE delivered", (int)sigpipes);
}

/* n accepts with errno and results checked; the records' fate is the
 * caller's business. */
void accepts_unchanged(const struct t_listener *l, int n)
{
	for (int i = 0; i < n; i++) {
		int c = client_to(l);
		errno = 777;
		int fd = accept4(l->fd, NULL, NULL, i % 2 ? SOCK_CLOEXEC : SOCK_NONBLOCK);
		T_ASSERT(fd >= 0 && errno == 777, "accept %d: %d errno %d", i, fd, errno);
		T_ASSERT(t_nonblocking(fd) == !(i % 2), "flags changed");
		close(fd);
		close(c);
	}
	int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr = { htonl(INADDR_LOOPBACK) } };
	T_CHECK(bind(nb, (struct sockaddr *)&in, sizeof(in)) == 0 && listen(nb, 1) == 0);
	errno = 0;
	T_ASSERT(accept(nb, NULL, NULL) == -1 && errno == EAGAIN, "EAGAIN became %d", errno);
	close(nb);
}

/* A FIFO as the trace: one record read, then the reader goes away. */
static void sc_fifo_gone(const char *how)
{
	const char *fifo = getenv("ACCEPT4SHIM_LOG");
	sigpipe_setup(how);
	int fds_before = t_count_fds();
	int rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	T_CHECK(rd >= 0);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	one_accept(&l, 0);
	char buf[4096];
	ssize_t n = read(rd, buf, sizeof(buf));
	T_ASSERT(n > 0 && buf[n - 1] == '\n' && memchr(buf, '\n', (size_t)n) == buf + n - 1,
		 "one whole record from the FIFO (%zd bytes)", n);
	close(rd);
	accepts_unchanged(&l, 6);
	sigpipe_verdict(how);
	struct accept4shim_stats s;
	get_stats(&s);
	/* 6 accepted + 1 EAGAIN after the reader left: all dropped. */
	T_ASSERT(s.dropped == 7, "dropped %llu, want 7", (unsigned long long)s.dropped);

	/* A new reader: after the once-a-second reopen, records flow again. */
	rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	T_CHECK(rd >= 0);
	usleep(1100 * 1000);
	one_accept(&l, 0);
	n = read(rd, buf, sizeof(buf));
	T_ASSERT(n > 0 && buf[n - 1] == '\n', "records resume after the reader is back: %zd", n);
	close(rd);
	t_close_listener(&l);
	/* The descriptor given up when the reader left was closed by the
	 * reopen: one trace descriptor, no more. */
	T_ASSERT(t_count_fds() == fds_before + 1, "%d descriptors, %d before the trace",
		 t_count_fds(), fds_before);
	say("fifo ok");
}

/* stderr is a pipe: the test reads the first record, closes its end and
 * tells us (a byte on stdin) to go on. */
static void sc_stderr_gone(const char *how)
{
	sigpipe_setup(how);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	one_accept(&l, 0);
	say("ready");
	char go;
	T_CHECK(read(0, &go, 1) == 1);
	accepts_unchanged(&l, 6);
	sigpipe_verdict(how);
	struct accept4shim_stats s;
	get_stats(&s);
	T_ASSERT(s.dropped == 7, "dropped %llu, want 7", (unsigned long long)s.dropped);
	t_close_listener(&l);
	say("stderr ok");
}

/* The program closes every descriptor from 2 up and opens a data file,
 * which gets number 2: "stderr" is gone, and the data file is not it. */
static void sc_stderr_hijack(const char *data_path)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	one_accept(&l, 0);
	T_CHECK(syscall(SYS_close_range, 2, ~0U, 0) == 0);
	int data = open(data_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(data == 2, "the data file got %d", data);
	T_CHECK(write(data, "DATA\n", 5) == 5);
	t_listen(&l, T_TCP4, 0);
	accepts_unchanged(&l, 3);
	struct accept4shim_stats s;
	get_stats(&s);
	say("hijack calls=%llu dropped=%llu", (unsigned long long)s.calls,
	    (unsigned long long)s.dropped);
}

/* A reader that never reads: accept never waits for it. */
static void sc_slow(int n, const char *fifo)
{
	int rd = -1;
	if (fifo) {
		rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		T_CHECK(rd >= 0);
	}
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	uint64_t worst = 0, start = monotonic_ns();
	for (int i = 0; i < n; i++) {
		int c = client_to(&l);
		uint64_t t = monotonic_ns();
		int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
		t = monotonic_ns() - t;
		T_CHECK(fd >= 0);
		if (t > worst)
			worst = t;
		close(fd);
		close(c);
	}
	uint64_t total = monotonic_ns() - start;
	struct accept4shim_stats s;
	get_stats(&s);
	say("slow n=%d dropped=%llu worst_ns=%llu total_ns=%llu", n,
	    (unsigned long long)s.dropped, (unsigned long long)worst, (unsigned long long)total);
	if (rd >= 0) {
		/* What the pipe holds: write it out for the test to check. */
		char buf[65536];
		ssize_t got;
		int out = open(env_or("A4S_T_DUMP", "/dev/null"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		T_CHECK(out >= 0);
		while ((got = read(rd, buf, sizeof(buf))) > 0)
			T_CHECK(write(out, buf, (size_t)got) == got);
		close(out);
		close(rd);
	}
	t_close_listener(&l);
}

/* The trace on a file system that fills up, then gets room again. */
static void sc_fill(const char *filler)
{
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	struct accept4shim_stats s = { 0 };
	int calls = 0;
	while (calls < 2000) {
		accepts_unchanged(&l, 1);
		calls += 2;
		get_stats(&s);
		if (s.dropped >= 4)
			break;
	}
	T_ASSERT(s.dropped >= 4, "the file system never filled up");
	T_CHECK(unlink(filler) == 0);
	accepts_unchanged(&l, 3);
	calls += 4;
	get_stats(&s);
	say("fill calls=%d dropped=%llu", calls, (unsigned long long)s.dropped);
	t_close_listener(&l);
}

/* Known calls for the exit summary: 4 accepted (3 emulated in emulate
 * mode), 2 EAGAIN, 1 EBADF, 1 EINVAL, 1 ECONNABORTED after RETRY_MAX
 * retries. */
static void sc_stats(void)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	for (int i = 0; i < 3; i++)
		one_accept(&l, SOCK_CLOEXEC);
	int c = client_to(&l);
	int fd = accept(l.fd, NULL, NULL);
	T_CHECK(fd >= 0);
	close(fd);
	close(c);
	struct t_listener nb;
	t_listen(&nb, T_TCP4, SOCK_NONBLOCK);
	T_ASSERT(accept4(nb.fd, NULL, NULL, 0) == -1 && errno == EAGAIN, "EAGAIN");
	T_ASSERT(accept(nb.fd, NULL, NULL) == -1 && errno == EAGAIN, "EAGAIN");
	T_ASSERT(accept4(-1, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EBADF, "EBADF");
	T_ASSERT(accept4(l.fd, NULL, NULL, 0x40) == -1 && errno == EINVAL, "EINVAL");
	c = client_to(&l);
	/* For good, in this process: from here on every accept fails. */
	t_seccomp_fail_syscall(SYS_accept4, ECONNABORTED);
	t_seccomp_fail_syscall(SYS_accept, ECONNABORTED);
	T_ASSERT(accept4(l.fd, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == ECONNABORTED,
		 "ECONNABORTED");
	struct accept4shim_stats s;
	get_stats(&s);
	say("stats calls=%llu accepted=%llu failed=%llu emulated=%llu retried_calls=%llu "
	    "retries=%llu dropped=%llu errors=EBADF:%llu,EAGAIN:%llu,EINVAL:%llu,ECONNABORTED:%llu",
	    (unsigned long long)s.calls, (unsigned long long)s.accepted,
	    (unsigned long long)s.failed, (unsigned long long)s.emulated,
	    (unsigned long long)s.retried_calls, (unsigned long long)s.retries,
	    (unsigned long long)s.dropped, (unsigned long long)s.errors[EBADF],
	    (unsigned long long)s.errors[EAGAIN], (unsigned long long)s.errors[EINVAL],
	    (unsigned long long)s.errors[ECONNABORTED]);
	close(c);
	/* returns from main: exit() runs the library's destructor */
}

static void sc_syslog(const char *arg)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	if (strcmp(arg, "restart") == 0) {
		int s = bind_dev_log();
		one_accept(&l, 0);
		T_ASSERT(datagrams(s) == 1, "first record");
		close(s);
		s = bind_dev_log(); /* the daemon restarted: the old peer is gone */
		one_accept(&l, 0);
		T_ASSERT(datagrams(s) == 0, "a record reached a socket that was not connected");
		usleep(1100 * 1000);
		one_accept(&l, 0);
		one_accept(&l, 0);
		T_ASSERT(datagrams(s) == 2, "records after the restart");
		close(s);
		unlink("/dev/log");
	} else {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int c = client_to(&l);
		T_CHECK(traced(true, l.fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC, NATIVE, 0) >= 0);
		close(c);
		c = client_to(&l);
		T_CHECK(traced(false, l.fd, NULL, NULL, 0, NATIVE, 0) >= 0);
		close(c);
		T_ASSERT(traced(true, -1, NULL, NULL, 0, NATIVE, 0) == -1, "EBADF");
	}
	t_close_listener(&l);
	struct accept4shim_stats s;
	get_stats(&s);
	say("syslog calls=%llu dropped=%llu", (unsigned long long)s.calls,
	    (unsigned long long)s.dropped);
}


/* The scenarios every suite can run, by name; argv[3] and on are theirs. */
static void sc_accepts(int argc, char **argv)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	accepts_unchanged(&l, atoi(argc > 3 ? argv[3] : "0"));
	t_close_listener(&l);
	struct accept4shim_stats s;
	get_stats(&s);
	say("accepts calls=%llu dropped=%llu", (unsigned long long)s.calls,
	    (unsigned long long)s.dropped);
}

#define ARG(i) (argc > (i) ? argv[(i)] : "")

static void run_named(const char *name, int argc, char **argv)
{
	const char *arg = ARG(3);
	if (strcmp(name, "calls") == 0)
		sc_calls();
	else if (strcmp(name, "names") == 0)
		sc_names();
	else if (strcmp(name, "closeall") == 0)
		sc_closeall(arg);
	else if (strcmp(name, "storm") == 0)
		sc_storm(8, 2000, 4, 1000);
	else if (strcmp(name, "prefork") == 0)
		sc_prefork();
	else if (strcmp(name, "exec") == 0)
		sc_exec();
	else if (strcmp(name, "listfds") == 0)
		sc_listfds();
	else if (strcmp(name, "fifo_gone") == 0)
		sc_fifo_gone(arg);
	else if (strcmp(name, "stderr_gone") == 0)
		sc_stderr_gone(arg);
	else if (strcmp(name, "truncate") == 0)
		sc_truncate();
	else if (strcmp(name, "stderr_hijack") == 0)
		sc_stderr_hijack(arg);
	else if (strcmp(name, "slow") == 0)
		sc_slow(atoi(arg), argc > 4 ? argv[4] : NULL);
	else if (strcmp(name, "fill") == 0)
		sc_fill(arg);
	else if (strcmp(name, "stats") == 0)
		sc_stats();
	else if (strcmp(name, "syslog") == 0)
		sc_syslog(arg);
	else if (strcmp(name, "accepts") == 0)
		sc_accepts(argc, argv);
	else if (strcmp(name, "idle") == 0)
		;
	else if (strcmp(name, "errno") == 0)
		say("errno_at_start=%d", t_errno_at_start);
	else
		T_ASSERT(0, "no scenario %s", name);
}

int t_scenario_main(int argc, char **argv, const struct t_scenario *own)
{
	t_is_child = true; /* T_ASSERT: message and exit 1 */
	/* Whatever the test runner ignored: a SIGPIPE that got through must
	 * show (the library blocks it only around its own writes). */
	signal(SIGPIPE, SIG_DFL);
	const char *name = argv[2];
	for (const struct t_scenario *sc = own; sc && sc->name; sc++) {
		if (strcmp(sc->name, name) == 0) {
			sc->run(argc, argv);
			return 0;
		}
	}
	run_named(name, argc, argv);
	return 0;
}
