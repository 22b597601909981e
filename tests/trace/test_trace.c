/*
 * SPEC "Trace records" on real sockets. Each case runs a scenario: this same
 * program, exec'd with the library preloaded and the ACCEPT4SHIM_* variables
 * of the case (the configuration is read once, at load). The scenario makes
 * its calls and prints on stdout, per call, what it did and saw ("facts");
 * the test then reads the trace with a strict parser (tracecheck.py, Python's
 * json module) and compares every record, field by field, with the facts.
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

#include <accept4shim.h>
#include "harness.h"

/* From the preloaded library when there is one. */
#pragma weak accept4shim_get_stats

#define TRACECHECK A4S_SOURCE_DIR "/tests/trace/tracecheck.py"
#define PYTHON "/usr/bin/python3"
/* The library's bound on retries in one call (shim/retry.h). */
#define RETRY_MAX 128

/* ------------------------------------------------------------------ */
/* Shared by both sides: text helpers.                                  */

struct text {
	char *p;
	size_t len, cap;
};

static void text_add(struct text *t, const void *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n + 1)
			cap *= 2;
		t->p = realloc(t->p, cap);
		T_ASSERT(t->p != NULL, "out of memory");
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void text_free(struct text *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}

/* Bytes as tracecheck.py prints strings: safe bytes as they are, the rest
 * as %XX. */
static void pct(const void *bytes, size_t n, char *out, size_t size)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/@[]|-";
	const unsigned char *b = bytes;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		T_ASSERT(o + 4 < size, "pct: no room");
		if (b[i] && strchr(safe, b[i]))
			out[o++] = (char)b[i];
		else
			o += (size_t)snprintf(out + o, size - o, "%%%02X", b[i]);
	}
	out[o] = '\0';
}

/* The field `key` of a "k=v k=v" line, into out; false if absent. */
static bool field(const char *line, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *p = line;
	while ((p = strstr(p, key))) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			p += klen + 1;
			size_t n = strcspn(p, " \n");
			T_ASSERT(n < size, "field %s too long", key);
			memcpy(out, p, n);
			out[n] = '\0';
			return true;
		}
		p += klen;
	}
	return false;
}

static long long field_ll(const char *line, const char *key)
{
	char v[64];
	T_ASSERT(field(line, key, v, sizeof(v)), "no %s in: %s", key, line);
	return strtoll(v, NULL, 10);
}

/* The lines of t that start with prefix, in order, as pointers into a copy. */
struct lines {
	char **v;
	size_t n;
	char *copy;
};

static void lines_of(const char *s, const char *prefix, struct lines *l)
{
	l->copy = strdup(s ? s : "");
	l->n = 0;
	size_t cap = 64;
	l->v = malloc(cap * sizeof(*l->v));
	T_ASSERT(l->copy && l->v, "out of memory");
	size_t plen = strlen(prefix);
	for (char *save = NULL, *line = strtok_r(l->copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, prefix, plen) != 0)
			continue;
		if (l->n == cap) {
			cap *= 2;
			l->v = realloc(l->v, cap * sizeof(*l->v));
			T_ASSERT(l->v != NULL, "out of memory");
		}
		l->v[l->n++] = line;
	}
}

static void lines_free(struct lines *l)
{
	free(l->v);
	free(l->copy);
}

static int self_tid(void)
{
	return (int)syscall(SYS_gettid);
}

static uint64_t realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* The scenario side: runs in the exec'd, preloaded process.           */

/* One line on stdout with one write, so lines from forked children never
 * mix. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
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

enum how { NATIVE, EMULATED };

/*
 * One call, as the program would make it, and its fact line: what was
 * passed, what came back, the peer from the caller's own buffer (or from
 * getpeername when the caller gave none or a short one), the wall clock
 * around the call and how long it took at most. errno is set to 4321
 * before, and on success must still be 4321 after ("kept").
 */
static int traced(bool is4, int lfd, struct sockaddr *addr, socklen_t *addrlen, int flags,
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
static int client_to(const struct t_listener *l)
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

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

/* In a forked child of a scenario: its own records, its own pid. */
static void in_fork(void (*fn)(void *), void *arg)
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
static const char abstract_name[] = "\0q\"b\\s/\n\t\x01\x1f\0z\x7f\xc3\xa9\xff end";
static const char path_name[] = "/tmp/a4s \"q\" \\ \n\x7f\xff-";

static void listen_named(struct t_listener *l, const char *name, size_t n)
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

static void one_accept(const struct t_listener *l, int flags)
{
	int c = client_to(l);
	int fd = accept4(l->fd, NULL, NULL, flags);
	T_CHECK(fd >= 0);
	close(fd);
	close(c);
}

static void get_stats(struct accept4shim_stats *s)
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
static void exec_scenario(const char *name, char **env)
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
static void sigpipe_setup(const char *how)
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

static void sigpipe_verdict(const char *how)
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
static void accepts_unchanged(const struct t_listener *l, int n)
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

/* syslog: a few calls; with arg "restart" the scenario plays syslogd
 * itself, restarting it between two records. */
static int bind_dev_log(void)
{
	unlink("/dev/log");
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	T_CHECK(s >= 0 && bind(s, (struct sockaddr *)&un, sizeof(un)) == 0);
	return s;
}

static int datagrams(int s)
{
	char buf[4096];
	int n = 0;
	while (recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
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

static int errno_at_start;

static int scenario(int argc, char **argv)
{
	t_is_child = true; /* T_ASSERT: message and exit 1 */
	/* Whatever the test runner ignored: a SIGPIPE that got through must
	 * show (the library blocks it only around its own writes). */
	signal(SIGPIPE, SIG_DFL);
	const char *name = argv[2];
	const char *arg = argc > 3 ? argv[3] : "";
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
	else if (strcmp(name, "accepts") == 0) {
		struct t_listener l;
		t_listen(&l, T_TCP4, 0);
		accepts_unchanged(&l, atoi(arg));
		t_close_listener(&l);
		struct accept4shim_stats s;
		get_stats(&s);
		say("accepts calls=%llu dropped=%llu", (unsigned long long)s.calls,
		    (unsigned long long)s.dropped);
	} else if (strcmp(name, "idle") == 0) {
		;
	} else if (strcmp(name, "errno") == 0) {
		say("errno_at_start=%d", errno_at_start);
	}
	else
		T_ASSERT(0, "no scenario %s", name);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The test side.                                                       */

struct proc {
	pid_t pid;
	int out, err; /* our ends, -1 when not captured */
};

struct result {
	int status; /* exit status, 128 + signal, or -1 on timeout */
	struct text out, err;
};

/*
 * Starts argv (argv[0] a path) with the variables in vars plus PATH and,
 * unless vars name it, LD_PRELOAD=<the library>. stdin is in_fd (or
 * /dev/null, where there is one), stderr is err_fd, a pipe to us (-1) or
 * closed (-2).
 */
static void spawn(struct proc *p, const char *const *argv, const char *const *vars, int in_fd,
		  int err_fd)
{
	const char *env[32];
	int n = 0;
	static char preload[PATH_MAX + 16];
	bool has_preload = false;
	for (const char *const *v = vars; v && *v; v++)
		has_preload |= strncmp(*v, "LD_PRELOAD=", 11) == 0;
	if (!has_preload) {
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", t_library_path());
		env[n++] = preload;
	}
	env[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *const *v = vars; v && *v; v++) {
		T_ASSERT(n < 31, "too many variables");
		env[n++] = *v;
	}
	env[n] = NULL;

	int po[2], pe[2] = { -1, -1 };
	T_CHECK(pipe2(po, O_CLOEXEC) == 0);
	if (err_fd == -1)
		T_CHECK(pipe2(pe, O_CLOEXEC) == 0);
	fflush(NULL);
	p->pid = fork();
	T_CHECK(p->pid >= 0);
	if (p->pid == 0) {
		if (in_fd >= 0) {
			dup2(in_fd, 0);
		} else {
			int nul = open("/dev/null", O_RDONLY);
			if (nul >= 0)
				dup2(nul, 0);
		}
		dup2(po[1], 1);
		if (err_fd == -2)
			close(2);
		else
			dup2(err_fd >= 0 ? err_fd : pe[1], 2);
		char *const *a, *const *e;
		const char *const *ce = env;
		memcpy(&a, &argv, sizeof(a));
		memcpy(&e, &ce, sizeof(e));
		execve(argv[0], a, e);
		_exit(127);
	}
	close(po[1]);
	if (pe[1] >= 0)
		close(pe[1]);
	p->out = po[0];
	p->err = pe[0];
}

/* Reads stdout (and stderr if ours) to the end and reaps the child. */
static void collect(struct proc *p, struct result *r, int timeout_ms)
{
	memset(r, 0, sizeof(*r));
	text_add(&r->out, "", 0);
	text_add(&r->err, "", 0);
	uint64_t deadline = monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
	bool timed_out = false;
	while (p->out >= 0 || p->err >= 0) {
		int64_t left = (int64_t)(deadline - monotonic_ns()) / 1000000;
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pf[2] = { { .fd = p->out, .events = POLLIN },
					{ .fd = p->err, .events = POLLIN } };
		int n = poll(pf, 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		T_CHECK(n >= 0);
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			char buf[65536];
			ssize_t got = read(pf[i].fd, buf, sizeof(buf));
			if (got > 0) {
				text_add(i ? &r->err : &r->out, buf, (size_t)got);
			} else {
				close(pf[i].fd);
				if (i)
					p->err = -1;
				else
					p->out = -1;
			}
		}
	}
	if (p->out >= 0)
		close(p->out);
	if (p->err >= 0)
		close(p->err);
	if (timed_out)
		kill(p->pid, SIGKILL);
	int status;
	T_CHECK(waitpid(p->pid, &status, 0) == p->pid);
	r->status = timed_out ? -1 : WIFEXITED(status) ? WEXITSTATUS(status)
						     : 128 + WTERMSIG(status);
}

static void run_scenario(struct result *r, const char *const *vars, const char *name,
			 const char *arg1, const char *arg2)
{
	const char *argv[] = { "/proc/self/exe", "scenario", name, arg1, arg2, NULL };
	struct proc p;
	spawn(&p, argv, vars, -1, -1);
	collect(&p, r, 60000);
}

static void expect_ok(const struct result *r, const char *what)
{
	T_ASSERT(r->status == 0, "%s: status %d\nstdout:\n%.2000s\nstderr:\n%.2000s", what,
		 r->status, r->out.p, r->err.p);
}

/* tracecheck.py over files: the flattened records, or the test fails with
 * its complaint. */
static void tracecheck(struct result *r, const char *file, bool skip_bad)
{
	const char *argv[] = { PYTHON, TRACECHECK, file, skip_bad ? "--skip-bad" : NULL, NULL };
	const char *vars[] = { "LD_PRELOAD=", NULL };
	struct proc p;
	spawn(&p, argv, vars, -1, -1);
	collect(&p, r, 60000);
	T_ASSERT(r->status == 0, "tracecheck %s: status %d: %s", file, r->status, r->err.p);
}

/* A fresh directory for one test's files, and its removal. */
static void temp_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/a4s-trace-XXXXXX");
	T_CHECK(mkdtemp(dir) != NULL);
}

/* A fresh directory, the trace file `name` in it, and the variable that
 * sends the trace there (sizes as the callers declare them). */
static void temp_trace(char dir[64], char trace[128], char v_log[160], const char *name)
{
	temp_dir(dir, 64);
	snprintf(trace, 128, "%s/%s", dir, name);
	snprintf(v_log, 160, "ACCEPT4SHIM_LOG=%s", trace);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void read_file(const char *path, struct text *t)
{
	memset(t, 0, sizeof(*t));
	text_add(t, "", 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	T_ASSERT(fd >= 0, "cannot open %s: %s", path, strerror(errno));
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		text_add(t, buf, (size_t)n);
	close(fd);
}

static void write_file(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	T_CHECK(fd >= 0);
	T_CHECK(write(fd, s, n) == (ssize_t)n);
	close(fd);
}

/* RFC 3339 with microseconds to microseconds since the epoch. */
static uint64_t ts_us(const char *ts)
{
	struct tm tm = { 0 };
	int usec;
	T_ASSERT(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			&tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec) == 7,
		 "ts %s", ts);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (uint64_t)timegm(&tm) * 1000000u + (uint64_t)usec;
}

/*
 * Each record against the fact of the same call: every field the scenario
 * knows must be the record's, the timestamp must fall between the clock
 * readings around the call, and dur_ns must be more than 0 and no more than
 * the call took as the program measured it.
 */
static void compare(const struct lines *facts, const struct lines *recs)
{
	static const char *const keys[] = { "call", "listen_fd", "local", "flags", "fd", "errno",
					    "peer", "how", "retries", "pid", "tid" };
	T_ASSERT(facts->n > 0, "no facts");
	T_ASSERT(recs->n == facts->n, "%zu records for %zu calls", recs->n, facts->n);
	for (size_t i = 0; i < facts->n; i++) {
		const char *f = facts->v[i], *r = recs->v[i];
		char want[1024], got[1024];
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			T_ASSERT(field(f, keys[k], want, sizeof(want)), "fact without %s", keys[k]);
			T_ASSERT(field(r, keys[k], got, sizeof(got)), "record %zu without %s", i, keys[k]);
			T_ASSERT(strcmp(want, got) == 0, "record %zu: %s is %s, the call had %s\n%s\n%s",
				 i, keys[k], got, want, r, f);
		}
		T_ASSERT(field_ll(f, "kept") == 1, "errno changed on success: %s", f);
		T_ASSERT(field(r, "ts", got, sizeof(got)), "no ts");
		uint64_t ts = ts_us(got);
		uint64_t t0 = (uint64_t)field_ll(f, "t0"), t1 = (uint64_t)field_ll(f, "t1");
		T_ASSERT(ts >= t0 && ts <= t1, "record %zu: ts %s outside the call [%llu, %llu]", i,
			 got, (unsigned long long)t0, (unsigned long long)t1);
		long long dur = field_ll(r, "dur_ns"), d = field_ll(f, "d");
		T_ASSERT(dur > 0 && dur <= d, "record %zu: dur_ns %lld, the call took %lld", i, dur, d);
	}
}

/* A text record as "rec k=v ..." with values unescaped and
 * percent-encoded, "-" as "~": the same form tracecheck.py gives JSON. */
static void text_to_rec(const char *line, struct text *out)
{
	const char *prefix = "accept4shim: ";
	T_ASSERT(strncmp(line, prefix, strlen(prefix)) == 0, "text record: %s", line);
	text_add(out, "rec", 3);
	const char *p = line + strlen(prefix);
	while (*p) {
		size_t n = strcspn(p, " ");
		const char *eq = memchr(p, '=', n);
		T_ASSERT(eq != NULL, "text field without '=': %s", line);
		char raw[1024], enc[4096];
		size_t rn = 0;
		for (const char *q = eq + 1; q < p + n; q++) {
			T_ASSERT(rn < sizeof(raw), "text field too long");
			T_ASSERT((unsigned char)*q > 0x20 && (unsigned char)*q < 0x7f,
				 "unescaped byte %#x in a text record", (unsigned char)*q);
			if (q[0] == '\\' && q[1] == '\\') {
				raw[rn++] = '\\';
				q++;
			} else if (q[0] == '\\' && q[1] == 'x') {
				unsigned v;
				T_ASSERT(sscanf(q + 2, "%2x", &v) == 1, "bad \\x escape");
				raw[rn++] = (char)v;
				q += 3;
			} else {
				T_ASSERT(*q != '\\', "bad escape in %s", line);
				raw[rn++] = *q;
			}
		}
		if (rn == 1 && raw[0] == '-')
			snprintf(enc, sizeof(enc), "~");
		else
			pct(raw, rn, enc, sizeof(enc));
		text_add(out, " ", 1);
		text_add(out, p, (size_t)(eq - p + 1));
		text_add(out, enc, strlen(enc));
		p += n;
		if (*p == ' ')
			p++;
	}
	text_add(out, "\n", 1);
}

static const char *const modes[] = { "native", "emulate", "auto" };

START_TEST(json_records_match_every_call_field_by_field)
{
	char dir[64], trace[128], v_log[160], v_mode[64];
	temp_trace(dir, trace, v_log, "trace.json");
	snprintf(v_mode, sizeof(v_mode), "ACCEPT4SHIM_MODE=%s", modes[_i]);
	const char *vars[] = { v_log, v_mode, "ACCEPT4SHIM_LOG_FORMAT=json",
			       "ACCEPT4SHIM_RETRY=on", NULL };
	struct result r, c;
	run_scenario(&r, vars, "calls", NULL, NULL);
	expect_ok(&r, "calls");
	ck_assert_str_eq(r.err.p, "");
	struct stat st;
	T_CHECK(stat(trace, &st) == 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	tracecheck(&c, trace, false);
	struct lines facts, recs;
	lines_of(r.out.p, "call ", &facts);
	lines_of(c.out.p, "rec ", &recs);
	ck_assert_uint_eq(facts.n, 4 * 4 + 6 + 1 + 1);
	compare(&facts, &recs);
	lines_free(&facts);
	lines_free(&recs);
	text_free(&r.out);
	text_free(&r.err);
	text_free(&c.out);
	text_free(&c.err);
	remove_dir(dir);
}
END_TEST

START_TEST(text_records_carry_the_same_facts)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.txt");
	/* text is the default format */
	const char *vars[] = { v_log, "ACCEPT4SHIM_MODE=emulate", "ACCEPT4SHIM_RETRY=on", NULL };
	struct result r1, r2;
	run_scenario(&r1, vars, "calls", NULL, NULL);
	expect_ok(&r1, "calls");
	run_scenario(&r2, vars, "names", NULL, NULL);
	expect_ok(&r2, "names");
	struct text file, recs = { 0 }, facts_text = { 0 };
	read_file(trace, &file);
	struct lines tl, facts, rl;
	lines_of(file.p, "", &tl);
	for (size_t i = 0; i < tl.n; i++) {
		T_ASSERT(strchr(tl.v[i], '\r') == NULL, "carriage return in a text record");
		text_to_rec(tl.v[i], &recs);
	}
	text_add(&facts_text, r1.out.p, r1.out.len);
	text_add(&facts_text, r2.out.p, r2.out.len);
	lines_of(facts_text.p, "call ", &facts);
	lines_of(recs.p, "rec ", &rl);
	compare(&facts, &rl);
	lines_free(&facts);
	lines_free(&rl);
	lines_free(&tl);
	text_free(&facts_text);
	text_free(&recs);
	text_free(&file);
	remove_dir(dir);
}
END_TEST

START_TEST(unix_names_with_any_byte_parse_back_exactly)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "names", NULL, NULL);
	expect_ok(&r, "names");
	tracecheck(&c, trace, false);
	struct lines facts, recs;
	lines_of(r.out.p, "call ", &facts);
	lines_of(c.out.p, "rec ", &recs);
	ck_assert_uint_eq(facts.n, 2);
	compare(&facts, &recs);
	/* The abstract name, byte for byte, quote, backslash, NUL and all. */
	char want[1024], got[1024];
	char raw[128] = "unix:@";
	memcpy(raw + 6, abstract_name + 1, sizeof(abstract_name) - 2);
	pct(raw, 6 + sizeof(abstract_name) - 2, want, sizeof(want));
	T_ASSERT(field(recs.v[0], "local", got, sizeof(got)), "no local");
	ck_assert_str_eq(got, want);
	/* and on the wire: escaped, pure ASCII, one line */
	struct text file;
	read_file(trace, &file);
	ck_assert_ptr_nonnull(strstr(file.p, "\"local\":\"unix:@q\\\"b\\\\s/\\u000a\\u0009\\u0001"
					     "\\u001f\\u0000z\\u007f\\u00c3\\u00a9\\u00ff end\","));
	lines_free(&facts);
	lines_free(&recs);
	text_free(&file);
	remove_dir(dir);
}
END_TEST

START_TEST(many_threads_and_processes_write_whole_lines_none_lost)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "storm", NULL, NULL);
	expect_ok(&r, "storm");
	tracecheck(&c, trace, false); /* fails on any torn or mixed line */
	struct lines recs, procs, mains;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(r.out.p, "proc ", &procs);
	lines_of(r.out.p, "main ", &mains);
	ck_assert_uint_eq(procs.n, 4);
	ck_assert_uint_eq(mains.n, 1);
	ck_assert_int_eq(field_ll(mains.v[0], "dropped"), 0);
	/* The trace's one descriptor, and no other left behind. */
	ck_assert_int_eq(field_ll(mains.v[0], "newfds"), 1);
	ck_assert_uint_eq(recs.n, 8 * 2000 + 4 * 1000);
	/* Per process, and in the threaded one per thread. */
	long long main_pid = field_ll(mains.v[0], "pid");
	int tids[8] = { 0 }, per_tid[8] = { 0 }, ntids = 0, per_proc[4] = { 0 };
	for (size_t i = 0; i < recs.n; i++) {
		long long pid = field_ll(recs.v[i], "pid");
		if (pid == main_pid) {
			int tid = (int)field_ll(recs.v[i], "tid");
			int k = 0;
			while (k < ntids && tids[k] != tid)
				k++;
			T_ASSERT(k < 8, "more than 8 threads wrote");
			if (k == ntids)
				tids[ntids++] = tid;
			per_tid[k]++;
			continue;
		}
		size_t k = 0;
		while (k < procs.n && field_ll(procs.v[k], "pid") != pid)
			k++;
		T_ASSERT(k < procs.n, "a record from pid %lld", pid);
		per_proc[k]++;
		T_ASSERT(field_ll(recs.v[i], "tid") == pid, "a child's tid");
	}
	ck_assert_int_eq(ntids, 8);
	for (int k = 0; k < 8; k++)
		ck_assert_int_eq(per_tid[k], 2000);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(per_proc[k], 1000);
	lines_free(&recs);
	lines_free(&procs);
	lines_free(&mains);
	text_free(&c.out);
	text_free(&r.out);
	remove_dir(dir);
}
END_TEST

START_TEST(percent_p_gives_each_process_its_own_file)
{
	char dir[64], v_log[160];
	temp_dir(dir, sizeof(dir));
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s/t.%%p.json", dir);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", "ACCEPT4SHIM_STATS=1", NULL };
	struct result r;
	run_scenario(&r, vars, "prefork", NULL, NULL);
	expect_ok(&r, "prefork");
	struct lines writers, quiet;
	lines_of(r.out.p, "parent ", &writers);
	struct lines kids;
	lines_of(r.out.p, "child ", &kids);
	lines_of(r.out.p, "quiet ", &quiet);
	ck_assert_uint_eq(writers.n, 1);
	ck_assert_uint_eq(kids.n, 3);
	ck_assert_uint_eq(quiet.n, 2);
	/* One file per process that accepted, holding its calls and its
	 * summary, every record with its own pid. */
	int files = 0;
	for (size_t i = 0; i < writers.n + kids.n; i++) {
		const char *w = i < writers.n ? writers.v[i] : kids.v[i - writers.n];
		long long pid = field_ll(w, "pid");
		char path[160];
		snprintf(path, sizeof(path), "%s/t.%lld.json", dir, pid);
		struct result c;
		tracecheck(&c, path, false);
		struct lines recs, sums;
		lines_of(c.out.p, "rec ", &recs);
		lines_of(c.out.p, "summary ", &sums);
		ck_assert_uint_eq(recs.n, (size_t)field_ll(w, "n"));
		ck_assert_uint_eq(sums.n, 1);
		ck_assert_int_eq(field_ll(sums.v[0], "calls"), field_ll(w, "n"));
		for (size_t k = 0; k < recs.n; k++)
			ck_assert_int_eq(field_ll(recs.v[k], "pid"), pid);
		ck_assert_int_eq(field_ll(sums.v[0], "pid"), pid);
		lines_free(&recs);
		lines_free(&sums);
		files++;
	}
	/* The child that only exec'd and the one that made no call: no file. */
	DIR *d = opendir(dir);
	struct dirent *e;
	int seen = 0;
	while ((e = readdir(d)))
		seen += e->d_name[0] != '.';
	closedir(d);
	ck_assert_int_eq(seen, files);
	for (size_t i = 0; i < quiet.n; i++) {
		char path[160];
		snprintf(path, sizeof(path), "%s/t.%lld.json", dir, field_ll(quiet.v[i], "pid"));
		ck_assert_int_eq(access(path, F_OK), -1);
	}
	lines_free(&writers);
	lines_free(&kids);
	lines_free(&quiet);
	remove_dir(dir);
}
END_TEST

START_TEST(a_program_that_closes_every_descriptor_never_gets_records_in_its_file)
{
	char dir[64], trace[128], data[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	snprintf(data, sizeof(data), "%s/data", dir);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "closeall", data, NULL);
	expect_ok(&r, "closeall");
	struct text content;
	read_file(data, &content);
	ck_assert_str_eq(content.p, "DATA\n");
	tracecheck(&c, trace, false);
	struct lines recs, facts;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(r.out.p, "closeall ", &facts);
	ck_assert_uint_eq(facts.n, 1);
	/* every call recorded, none dropped, each time on a descriptor of ours */
	ck_assert_uint_eq(recs.n, 4);
	ck_assert_int_eq(field_ll(facts.v[0], "calls"), 4);
	ck_assert_int_eq(field_ll(facts.v[0], "dropped"), 0);
	ck_assert_int_gt(field_ll(facts.v[0], "now"), 2);
	lines_free(&recs);
	lines_free(&facts);
	text_free(&content);
	remove_dir(dir);
}
END_TEST

START_TEST(a_trace_truncated_under_it_goes_on_from_the_start)
{
	/* logrotate copytruncate: the file is copied, then cut to nothing.
	 * O_APPEND puts the next record at the new end, offset 0: no hole of
	 * NUL bytes where the old records were. */
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "truncate", NULL, NULL);
	expect_ok(&r, "truncate");
	struct text file;
	read_file(trace, &file);
	ck_assert_msg(strncmp(file.p, "{\"ts\":", 6) == 0, "after truncation: %.100s", file.p);
	tracecheck(&c, trace, false);
	struct lines recs;
	lines_of(c.out.p, "rec ", &recs);
	ck_assert_uint_eq(recs.n, 1);
	ck_assert_ptr_nonnull(strstr(recs.v[0], " flags=SOCK_CLOEXEC "));
	lines_free(&recs);
	text_free(&file);
	remove_dir(dir);
}
END_TEST

START_TEST(the_trace_descriptor_is_close_on_exec)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, NULL };
	struct result r;
	run_scenario(&r, vars, "exec", NULL, NULL);
	expect_ok(&r, "exec");
	struct lines tf, open_fds;
	lines_of(r.out.p, "tracefd ", &tf);
	lines_of(r.out.p, "open ", &open_fds);
	ck_assert_uint_eq(tf.n, 1);
	ck_assert_int_eq(field_ll(tf.v[0], "cloexec"), 1);
	ck_assert_uint_ge(open_fds.n, 3); /* the exec'd program saw its stdio */
	char want[200];
	snprintf(want, sizeof(want), "target=%s", trace);
	for (size_t i = 0; i < open_fds.n; i++)
		ck_assert_msg(strstr(open_fds.v[i], want) == NULL, "after exec: %s", open_fds.v[i]);
	lines_free(&tf);
	lines_free(&open_fds);
	remove_dir(dir);
}
END_TEST

static const char *const sigpipe_ways[] = { "handler", "default", "blocked", "pending" };

START_TEST(a_fifo_whose_reader_left_raises_no_sigpipe_and_counts_drops)
{
	char dir[64], fifo[128], v_log[160];
	temp_dir(dir, sizeof(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	T_CHECK(mkfifo(fifo, 0600) == 0);
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", fifo);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r;
	run_scenario(&r, vars, "fifo_gone", sigpipe_ways[_i], NULL);
	expect_ok(&r, sigpipe_ways[_i]);
	ck_assert_ptr_nonnull(strstr(r.out.p, "fifo ok\n"));
	remove_dir(dir);
}
END_TEST

START_TEST(stderr_as_a_pipe_whose_reader_left_raises_no_sigpipe)
{
	int ep[2], ip[2];
	T_CHECK(pipe2(ep, O_CLOEXEC) == 0);
	T_CHECK(pipe2(ip, O_CLOEXEC) == 0);
	const char *vars[] = { "ACCEPT4SHIM_LOG=stderr", "ACCEPT4SHIM_LOG_FORMAT=json",
			       "ACCEPT4SHIM_STATS=1", NULL };
	const char *argv[] = { "/proc/self/exe", "scenario", "stderr_gone", sigpipe_ways[_i], NULL };
	struct proc p;
	spawn(&p, argv, vars, ip[0], ep[1]);
	close(ep[1]);
	close(ip[0]);
	/* Wait for "ready", read the first record, then leave. */
	char buf[4096];
	size_t got = 0;
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(p.out, buf + got, sizeof(buf) - 1 - got);
		T_CHECK(n > 0);
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "ready\n"))
			break;
	}
	T_ASSERT(strstr(buf, "ready\n") != NULL, "scenario not ready: %s", buf);
	ssize_t n = read(ep[0], buf, sizeof(buf) - 1);
	T_ASSERT(n > 0 && buf[n - 1] == '\n', "first record on stderr");
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "{\"ts\":\""));
	close(ep[0]);
	T_CHECK(write(ip[1], "g", 1) == 1);
	close(ip[1]);
	struct result r;
	collect(&p, &r, 30000);
	/* Exit status 0: the summary at exit went nowhere without a signal. */
	expect_ok(&r, sigpipe_ways[_i]);
	ck_assert_ptr_nonnull(strstr(r.out.p, "stderr ok\n"));
	text_free(&r.out);
	text_free(&r.err);
}
END_TEST

START_TEST(stderr_gone_before_start_costs_nothing_but_the_records)
{
	/* The reader left before the program started: the complaint about a
	 * bad variable, the records and the summary all go nowhere, quietly. */
	int ep[2];
	T_CHECK(pipe2(ep, O_CLOEXEC) == 0);
	close(ep[0]);
	for (int k = 0; k < 2; k++) {
		const char *vars[] = { k ? "ACCEPT4SHIM_LOG=stderr" : "ACCEPT4SHIM_LOG=",
				       "ACCEPT4SHIM_STATS=1", "ACCEPT4SHIM_MODE=bogus", NULL };
		const char *argv[] = { "/proc/self/exe", "scenario", "accepts", "5", NULL };
		struct proc p;
		spawn(&p, argv, vars, -1, ep[1]);
		struct result r;
		collect(&p, &r, 30000);
		expect_ok(&r, k ? "LOG=stderr" : "no LOG");
		ck_assert_ptr_nonnull(strstr(r.out.p, "accepts calls=6 "));
		ck_assert_int_eq(field_ll(r.out.p, "dropped"), k ? 6 : 0);
		text_free(&r.out);
		text_free(&r.err);
	}
	close(ep[1]);
}
END_TEST

START_TEST(a_file_the_program_opens_as_fd_2_is_not_stderr)
{
	/* With the trace on stderr, and with only the summary going there:
	 * once the program has closed its stderr and a data file took number
	 * 2, neither records nor the summary may land in that file. */
	char dir[64], data[128];
	temp_dir(dir, sizeof(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	for (int k = 0; k < 2; k++) {
		const char *vars[] = { k ? "ACCEPT4SHIM_LOG=" : "ACCEPT4SHIM_LOG=stderr",
				       "ACCEPT4SHIM_STATS=1", NULL };
		struct result r;
		run_scenario(&r, vars, "stderr_hijack", data, NULL);
		expect_ok(&r, k ? "summary only" : "LOG=stderr");
		/* the first record reached the real stderr, then nothing did */
		if (!k)
			ck_assert_msg(strncmp(r.err.p, "accept4shim: ts=", 16) == 0 &&
					      strchr(r.err.p, '\n') == r.err.p + r.err.len - 1,
				      "stderr: %s", r.err.p);
		else
			ck_assert_str_eq(r.err.p, "");
		ck_assert_ptr_nonnull(strstr(r.out.p, "hijack calls=5 "));
		ck_assert_int_eq(field_ll(r.out.p, "dropped"), k ? 0 : 4);
		struct text content;
		read_file(data, &content);
		ck_assert_str_eq(content.p, "DATA\n");
		text_free(&content);
		text_free(&r.out);
		text_free(&r.err);
	}
	remove_dir(dir);
}
END_TEST

START_TEST(loading_the_library_leaves_main_an_errno_of_zero)
{
	/* With stderr closed, the library's look at fd 2 at load fails with
	 * EBADF; main() must still start with errno 0, as C promises. */
	const char *sets[][3] = {
		{ "ACCEPT4SHIM_LOG=stderr", "ACCEPT4SHIM_STATS=1", NULL },
		{ "ACCEPT4SHIM_LOG=syslog", "ACCEPT4SHIM_MODE=bogus", NULL },
		{ "ACCEPT4SHIM_LOG=/nonexistent/dir/t.json", NULL, NULL },
	};
	for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
		const char *argv[] = { "/proc/self/exe", "scenario", "errno", NULL };
		struct proc p;
		spawn(&p, argv, sets[k], -1, -2);
		struct result r;
		collect(&p, &r, 30000);
		expect_ok(&r, sets[k][0]);
		ck_assert_str_eq(r.out.p, "errno_at_start=0\n");
		text_free(&r.out);
		text_free(&r.err);
	}
}
END_TEST

START_TEST(a_reader_that_never_reads_never_blocks_accept)
{
	/* A FIFO, and stderr as a pipe, that nobody reads: 64 KiB fill up,
	 * then records are dropped; accept goes on at full speed, and what
	 * did get through is whole records. */
	char dir[64], fifo[128], dump[128], v_log[160], v_dump[160];
	temp_dir(dir, sizeof(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(dump, sizeof(dump), "%s/dump", dir);
	T_CHECK(mkfifo(fifo, 0600) == 0);
	for (int k = 0; k < 2; k++) {
		snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", k ? "stderr" : fifo);
		snprintf(v_dump, sizeof(v_dump), "A4S_T_DUMP=%s", dump);
		const char *vars[] = { v_log, v_dump, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
		const char *argv[] = { "/proc/self/exe", "scenario", "slow", "1000", k ? NULL : fifo,
				       NULL };
		int ep[2];
		T_CHECK(pipe2(ep, O_CLOEXEC) == 0);
		struct proc p;
		spawn(&p, argv, vars, -1, ep[1]);
		close(ep[1]);
		struct result r;
		collect(&p, &r, 30000); /* a blocked accept would end here */
		expect_ok(&r, k ? "stderr" : "fifo");
		if (k) {
			/* now read what the pipe holds */
			struct text held = { 0 };
			text_add(&held, "", 0);
			char buf[65536];
			ssize_t n;
			while ((n = read(ep[0], buf, sizeof(buf))) > 0)
				text_add(&held, buf, (size_t)n);
			write_file(dump, held.p, held.len);
			text_free(&held);
		}
		close(ep[0]);
		long long dropped = field_ll(r.out.p, "dropped");
		long long worst = field_ll(r.out.p, "worst_ns");
		struct result c;
		tracecheck(&c, dump, false);
		struct lines recs;
		lines_of(c.out.p, "rec ", &recs);
		ck_assert_int_gt(dropped, 0);
		ck_assert_int_gt(recs.n, 100);
		ck_assert_int_eq((long long)recs.n + dropped, 1000);
		ck_assert_msg(worst < 1000000000, "one accept took %lld ns", worst);
		lines_free(&recs);
		text_free(&r.out);
		text_free(&r.err);
	}
	remove_dir(dir);
}
END_TEST

START_TEST(dev_full_drops_and_counts_every_record)
{
	const char *vars[] = { "ACCEPT4SHIM_LOG=/dev/full", "ACCEPT4SHIM_STATS=1", NULL };
	struct result r;
	run_scenario(&r, vars, "accepts", "5", NULL);
	expect_ok(&r, "/dev/full");
	ck_assert_ptr_nonnull(strstr(r.out.p, "accepts calls=6 dropped=6\n"));
	text_free(&r.out);
	text_free(&r.err);
}
END_TEST

static bool write_to(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

/* This process in a mount namespace of its own, where mounts stay: as root
 * directly, otherwise inside a user namespace of its own (Debian allows
 * those to unprivileged users), so that a tmpfs can be mounted. */
static bool private_mounts(void)
{
	if (geteuid() == 0) {
		if (unshare(CLONE_NEWNS) != 0)
			return false;
	} else {
		char map[64];
		uid_t uid = geteuid();
		gid_t gid = getegid();
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
			return false;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		if (!write_to("/proc/self/setgroups", "deny") || !write_to("/proc/self/uid_map", map))
			return false;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		if (!write_to("/proc/self/gid_map", map))
			return false;
	}
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

/* In a mount namespace of its own: a tmpfs of 16 KiB, half taken by a
 * filler file, the trace in the other half. */
static void full_tmpfs_child(void *arg)
{
	(void)arg;
	char dir[64], trace[128], filler[128], v_log[160];
	temp_dir(dir, sizeof(dir));
	if (!private_mounts() || mount("a4s-full", dir, "tmpfs", 0, "size=16k,mode=700") != 0) {
		/* Say so, and prove what can be proved: /dev/full. */
		fprintf(stderr, "a_full_file_system: no tmpfs here (%s): /dev/full only\n",
			strerror(errno));
		rmdir(dir);
		const char *vars[] = { "ACCEPT4SHIM_LOG=/dev/full", NULL };
		struct result r;
		run_scenario(&r, vars, "accepts", "20", NULL);
		expect_ok(&r, "/dev/full");
		T_ASSERT(strstr(r.out.p, "accepts calls=21 dropped=21\n"), "%s", r.out.p);
		return;
	}
	snprintf(trace, sizeof(trace), "%s/trace.json", dir);
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	char page[8192];
	memset(page, 'f', sizeof(page));
	write_file(filler, page, sizeof(page));
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", trace);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "fill", filler, NULL);
	expect_ok(&r, "fill");
	long long calls = field_ll(r.out.p, "calls"), dropped = field_ll(r.out.p, "dropped");
	tracecheck(&c, trace, true);
	struct lines recs, bad;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(c.out.p, "bad ", &bad);
	/* Every record written is whole; at most the one the disk cut short
	 * is a fragment, on a line of its own; the rest were dropped. */
	T_ASSERT((long long)recs.n == calls - dropped, "%zu records, %lld calls, %lld dropped",
		 recs.n, calls, dropped);
	T_ASSERT(bad.n <= 1, "%zu bad lines:\n%s", bad.n, c.out.p);
	struct text file;
	read_file(trace, &file);
	T_ASSERT(file.len > 0 && file.p[file.len - 1] == '\n', "the trace ends mid-line");
	/* The records after room came back are there. */
	T_ASSERT(recs.n >= 4 && strstr(recs.v[recs.n - 1], "errno=EAGAIN"), "last record");
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

START_TEST(a_full_file_system_drops_records_and_keeps_lines_whole)
{
	T_IN_CHILD(full_tmpfs_child, NULL);
}
END_TEST

START_TEST(stats_summary_at_exit_to_the_trace_matches_get_stats)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", "ACCEPT4SHIM_STATS=1",
			       "ACCEPT4SHIM_MODE=emulate", "ACCEPT4SHIM_RETRY=on", NULL };
	struct result r, c;
	run_scenario(&r, vars, "stats", NULL, NULL);
	expect_ok(&r, "stats");
	static const char counts[] = "calls=9 accepted=4 failed=5 emulated=3 retried_calls=1 "
				     "retries=128 dropped=0 errors=EBADF:1,EAGAIN:2,EINVAL:1,"
				     "ECONNABORTED:1";
	char want[256];
	snprintf(want, sizeof(want), "stats %s\n", counts);
	ck_assert_str_eq(r.out.p, want);
	tracecheck(&c, trace, false);
	struct lines recs, sums;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(c.out.p, "summary ", &sums);
	ck_assert_uint_eq(recs.n, 9);
	ck_assert_uint_eq(sums.n, 1);
	/* the summary is the last line, after every record */
	struct lines all;
	lines_of(c.out.p, "", &all);
	ck_assert_msg(strncmp(all.v[all.n - 1], "summary ", 8) == 0, "last: %s", all.v[all.n - 1]);
	lines_free(&all);
	ck_assert_msg(strstr(sums.v[0], counts) != NULL, "summary: %s", sums.v[0]);
	lines_free(&recs);
	lines_free(&sums);
	remove_dir(dir);
}
END_TEST

START_TEST(stats_summary_goes_to_stderr_when_there_is_no_trace)
{
	for (int json = 0; json < 2; json++) {
		const char *vars[] = { "ACCEPT4SHIM_STATS=1", "ACCEPT4SHIM_MODE=emulate",
				       "ACCEPT4SHIM_RETRY=on",
				       json ? "ACCEPT4SHIM_LOG_FORMAT=json" : NULL, NULL };
		struct result r;
		run_scenario(&r, vars, "stats", NULL, NULL);
		expect_ok(&r, "stats");
		if (!json) {
			ck_assert_msg(strncmp(r.err.p, "accept4shim: ts=", 16) == 0, "%s", r.err.p);
			ck_assert_msg(strstr(r.err.p, " summary=exit calls=9 accepted=4 failed=5 "
						      "emulated=3 retried_calls=1 retries=128 dropped=0 "
						      "errors=EBADF:1,EAGAIN:2,EINVAL:1,ECONNABORTED:1\n"),
				      "stderr: %s", r.err.p);
			ck_assert_ptr_eq(strchr(r.err.p, '\n'), r.err.p + r.err.len - 1);
		} else {
			char dir[64], file[128];
			temp_dir(dir, sizeof(dir));
			snprintf(file, sizeof(file), "%s/stderr", dir);
			write_file(file, r.err.p, r.err.len);
			struct result c;
			tracecheck(&c, file, false);
			ck_assert_msg(strncmp(c.out.p, "summary ", 8) == 0 &&
					      strchr(c.out.p, '\n') == c.out.p + c.out.len - 1,
				      "%s", c.out.p);
			remove_dir(dir);
		}
	}
}
END_TEST

START_TEST(a_process_without_calls_writes_no_summary_and_no_file)
{
	char dir[64], v_log[160];
	temp_dir(dir, sizeof(dir));
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s/t.%%p.json", dir);
	const char *with_file[] = { v_log, "ACCEPT4SHIM_STATS=1", NULL };
	const char *to_stderr[] = { "ACCEPT4SHIM_STATS=1", NULL };
	struct result r;
	run_scenario(&r, with_file, "idle", NULL, NULL);
	expect_ok(&r, "idle");
	ck_assert_str_eq(r.err.p, "");
	run_scenario(&r, to_stderr, "idle", NULL, NULL);
	expect_ok(&r, "idle");
	ck_assert_str_eq(r.err.p, "");
	ck_assert_int_eq(rmdir(dir), 0); /* still empty */
}
END_TEST

/* In a mount namespace with a tmpfs over /dev: our own /dev/log. */
static void private_dev(void)
{
	T_ASSERT(private_mounts() &&
			 mount("a4s-dev", "/dev", "tmpfs", 0, "size=64k,mode=755") == 0,
		 "cannot have a /dev/log of our own: needs root or user namespaces: %s",
		 strerror(errno));
}

static void syslog_child(void *arg)
{
	const char *out_path = arg;
	private_dev();
	int s = bind_dev_log();
	const char *vars[] = { "ACCEPT4SHIM_LOG=syslog", "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r;
	run_scenario(&r, vars, "syslog", "", NULL);
	expect_ok(&r, "syslog");
	T_ASSERT(strstr(r.out.p, "syslog calls=3 dropped=0\n"), "%s", r.out.p);
	/* One datagram per record: "<30>Mmm dd hh:mm:ss accept4shim[pid]: {...}" */
	struct text recs = { 0 };
	char buf[4096];
	ssize_t n;
	int count = 0;
	while ((n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		count++;
		char mon[4];
		int day, hh, mm, ss, pid, off = 0;
		T_ASSERT(sscanf(buf, "<30>%3[A-Za-z] %2d %2d:%2d:%2d accept4shim[%d]: %n", mon, &day,
				&hh, &mm, &ss, &pid, &off) == 6 && off > 0,
			 "syslog header: %s", buf);
		T_ASSERT(strstr("JanFebMarAprMayJunJulAugSepOctNovDec", mon) && day >= 1 && day <= 31,
			 "stamp: %s", buf);
		T_ASSERT(buf[7] == ' ' && buf[10] == ' ' && buf[13] == ':' && buf[16] == ':' &&
				 buf[19] == ' ',
			 "stamp layout: %s", buf);
		T_ASSERT(buf[n - 1] == '}' && !strchr(buf, '\n'), "one record, no newline: %s", buf);
		char pidkey[32];
		snprintf(pidkey, sizeof(pidkey), "\"pid\":%d,", pid);
		T_ASSERT(strstr(buf + off, pidkey), "tag pid %d is not the record's: %s", pid, buf);
		text_add(&recs, buf + off, (size_t)(n - off));
		text_add(&recs, "\n", 1);
	}
	T_ASSERT(count == 3, "%d datagrams for 3 calls", count);
	write_file(out_path, recs.p, recs.len);

	/* A text record after the tag, without its own "accept4shim: ". */
	const char *text_vars[] = { "ACCEPT4SHIM_LOG=syslog", NULL };
	struct result t;
	run_scenario(&t, text_vars, "accepts", "1", NULL);
	expect_ok(&t, "syslog text");
	count = 0;
	while ((n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		count++;
		char *tag = strstr(buf, " accept4shim[");
		T_ASSERT(strncmp(buf, "<30>", 4) == 0 && tag && tag == buf + 19, "header: %s", buf);
		T_ASSERT(strstr(tag, "]: ts=") && !strstr(strstr(tag, "]: "), "accept4shim") &&
				 !strchr(buf, '\n') && strstr(buf, " dur_ns="),
			 "text record: %s", buf);
	}
	T_ASSERT(count == 2, "%d text datagrams for 2 calls", count);
	/* facts after the records, for the parent to compare */
	char facts_path[PATH_MAX];
	snprintf(facts_path, sizeof(facts_path), "%s.facts", out_path);
	write_file(facts_path, r.out.p, r.out.len);
	close(s);
}

START_TEST(syslog_gets_one_datagram_per_record)
{
	char dir[64], out_path[128], facts_path[160];
	temp_dir(dir, sizeof(dir));
	snprintf(out_path, sizeof(out_path), "%s/syslog.json", dir);
	snprintf(facts_path, sizeof(facts_path), "%s.facts", out_path);
	T_IN_CHILD(syslog_child, out_path);
	struct result c;
	tracecheck(&c, out_path, false);
	struct text facts;
	read_file(facts_path, &facts);
	struct lines fl, rl;
	lines_of(facts.p, "call ", &fl);
	lines_of(c.out.p, "rec ", &rl);
	compare(&fl, &rl);
	lines_free(&fl);
	lines_free(&rl);
	text_free(&facts);
	remove_dir(dir);
}
END_TEST

static void syslog_restart_child(void *arg)
{
	(void)arg;
	private_dev();
	const char *vars[] = { "ACCEPT4SHIM_LOG=syslog", NULL };
	struct result r;
	run_scenario(&r, vars, "syslog", "restart", NULL);
	expect_ok(&r, "syslog restart");
	/* the one record sent to the dead socket is the one dropped */
	T_ASSERT(strstr(r.out.p, "syslog calls=4 dropped=1\n"), "%s", r.out.p);
}

static void no_dev_log_child(void *arg)
{
	(void)arg;
	private_dev();
	const char *vars[] = { "ACCEPT4SHIM_LOG=syslog", NULL };
	struct result r;
	run_scenario(&r, vars, "accepts", "4", NULL);
	expect_ok(&r, "no /dev/log");
	T_ASSERT(strstr(r.out.p, "accepts calls=5 dropped=5\n"), "%s", r.out.p);
}

START_TEST(syslog_reconnects_after_a_restart_and_drops_without_dev_log)
{
	T_IN_CHILD(syslog_restart_child, NULL);
	T_IN_CHILD(no_dev_log_child, NULL);
}
END_TEST

int main(int argc, char **argv)
{
	errno_at_start = errno;
	if (argc > 2 && strcmp(argv[1], "scenario") == 0)
		return scenario(argc, argv);

	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("records");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, json_records_match_every_call_field_by_field, 0, 3);
	tcase_add_test(tc, text_records_carry_the_same_facts);
	tcase_add_test(tc, unix_names_with_any_byte_parse_back_exactly);
	tcase_add_test(tc, many_threads_and_processes_write_whole_lines_none_lost);
	tcase_add_test(tc, stats_summary_at_exit_to_the_trace_matches_get_stats);
	tcase_add_test(tc, stats_summary_goes_to_stderr_when_there_is_no_trace);
	tcase_add_test(tc, a_process_without_calls_writes_no_summary_and_no_file);
	suite_add_tcase(s, tc);
	tc = tcase_create("destinations");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, percent_p_gives_each_process_its_own_file);
	tcase_add_test(tc, a_program_that_closes_every_descriptor_never_gets_records_in_its_file);
	tcase_add_test(tc, the_trace_descriptor_is_close_on_exec);
	tcase_add_test(tc, a_trace_truncated_under_it_goes_on_from_the_start);
	tcase_add_test(tc, syslog_gets_one_datagram_per_record);
	tcase_add_test(tc, syslog_reconnects_after_a_restart_and_drops_without_dev_log);
	suite_add_tcase(s, tc);
	tc = tcase_create("robustness");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, a_fifo_whose_reader_left_raises_no_sigpipe_and_counts_drops, 0, 4);
	tcase_add_loop_test(tc, stderr_as_a_pipe_whose_reader_left_raises_no_sigpipe, 0, 4);
	tcase_add_test(tc, stderr_gone_before_start_costs_nothing_but_the_records);
	tcase_add_test(tc, a_file_the_program_opens_as_fd_2_is_not_stderr);
	tcase_add_test(tc, loading_the_library_leaves_main_an_errno_of_zero);
	tcase_add_test(tc, a_reader_that_never_reads_never_blocks_accept);
	tcase_add_test(tc, dev_full_drops_and_counts_every_record);
	tcase_add_test(tc, a_full_file_system_drops_records_and_keeps_lines_whole);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
