#include "harness.h"
#include "jsoncheck.h"

#include <accept4shim.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool t_is_child;

void t_child_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

const char *t_family_name(enum t_family f)
{
	static const char *const names[] = { "tcp4", "tcp6", "unix-path", "unix-abstract" };
	return (unsigned)f < T_FAMILIES ? names[f] : "?";
}

void t_listen(struct t_listener *l, enum t_family f, int sock_flags)
{
	static atomic_int serial; /* threads of one process listen at once too */
	memset(l, 0, sizeof(*l));
	l->family = f;
	switch (f) {
	case T_TCP4: {
		struct sockaddr_in *in = (struct sockaddr_in *)&l->addr;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l->addrlen = sizeof(*in);
		break;
	}
	case T_TCP6: {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->addr;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		l->addrlen = sizeof(*in6);
		break;
	}
	case T_UNIX_PATH:
	case T_UNIX_ABSTRACT: {
		struct sockaddr_un *un = (struct sockaddr_un *)&l->addr;
		un->sun_family = AF_UNIX;
		int n = snprintf(l->path, sizeof(l->path), "/tmp/a4s-test-%d-%d.sock",
				 (int)getpid(), atomic_fetch_add(&serial, 1));
		if (f == T_UNIX_PATH) {
			memcpy(un->sun_path, l->path, (size_t)n + 1);
			unlink(l->path);
			l->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
		} else {
			un->sun_path[0] = '\0';
			memcpy(un->sun_path + 1, l->path, (size_t)n);
			l->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
			l->path[0] = '\0';
		}
		break;
	}
	default:
		T_ASSERT(0, "bad family %d", f);
	}
	l->fd = socket(l->addr.ss_family, SOCK_STREAM | sock_flags, 0);
	T_CHECK(l->fd >= 0);
	if (f == T_TCP4 || f == T_TCP6) {
		int one = 1;
		setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	T_CHECK(bind(l->fd, (struct sockaddr *)&l->addr, l->addrlen) == 0);
	T_CHECK(listen(l->fd, 128) == 0);
	/* Learn the port the kernel chose. */
	socklen_t len = sizeof(l->addr);
	T_CHECK(getsockname(l->fd, (struct sockaddr *)&l->addr, &len) == 0);
	l->addrlen = len;
}

void t_close_listener(struct t_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->family == T_UNIX_PATH && l->path[0])
		unlink(l->path);
}

/* The child holds its connections until the parent writes to (or closes)
 * the pipe; its pid is returned and the pipe's write end is kept in a small
 * table keyed by pid. */
static struct {
	pid_t pid;
	int release_fd;
} clients[16];

pid_t t_clients(const struct t_listener *l, int n)
{
	int ready[2], release[2];
	T_CHECK(pipe2(ready, O_CLOEXEC) == 0);
	T_CHECK(pipe2(release, O_CLOEXEC) == 0);
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(release[1]);
		for (int i = 0; i < n; i++) {
			int c = socket(l->addr.ss_family, SOCK_STREAM, 0);
			if (c < 0 || connect(c, (const struct sockaddr *)&l->addr, l->addrlen) != 0)
				_exit(3);
		}
		char b = 'r';
		if (write(ready[1], &b, 1) != 1)
			_exit(4);
		(void)read(release[0], &b, 1); /* until the parent says so */
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	char b;
	T_CHECK(read(ready[0], &b, 1) == 1);
	close(ready[0]);
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		if (clients[i].pid == 0) {
			clients[i].pid = pid;
			clients[i].release_fd = release[1];
			return pid;
		}
	}
	T_ASSERT(0, "too many client children at once");
	return -1;
}

void t_clients_done(pid_t pid)
{
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		if (clients[i].pid == pid) {
			close(clients[i].release_fd);
			clients[i].pid = 0;
		}
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "client child failed, status %d", status);
}

bool t_wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1;
}

bool t_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	T_CHECK(fl >= 0);
	return (fl & O_NONBLOCK) != 0;
}

bool t_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);
	T_CHECK(fl >= 0);
	return (fl & FD_CLOEXEC) != 0;
}

int t_status_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	T_CHECK(fl >= 0);
	return fl;
}

int t_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	T_CHECK(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

int t_in_child(t_child_fn *fn, void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		t_is_child = true;
		fn(arg);
		t_count_work();
		_exit(0);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void install(struct sock_filter *f, unsigned short n)
{
	struct sock_fprog prog = { .len = n, .filter = f };
	T_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	T_CHECK(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0);
}

#define ARCH_CHECK                                                              \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),            \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

void t_seccomp_fail_syscall(long nr, int err)
{
	struct sock_filter f[] = {
		ARCH_CHECK,
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	install(f, sizeof(f) / sizeof(f[0]));
}

void t_seccomp_fail_fcntl(int cmd, int err)
{
	struct sock_filter f[] = {
		ARCH_CHECK,
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fcntl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)cmd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	install(f, sizeof(f) / sizeof(f[0]));
}

/* Set by t_run_suite: this process (or a fork of it) runs a suite. */
static bool running_a_suite;

const char *t_library_path(void)
{
	/* A suite that runs programs with the library must say so to ctest
	 * (SPAWNS_LIBRARY), or the stand-in proof would not know to run it.
	 * (A scenario program the suite execs has an environment of its own.) */
	const char *in_process = getenv("A4S_EXPECT_LIBRARY");
	const char *children = getenv("A4S_EXPECT_CHILD_LIBRARY");
	T_ASSERT(!running_a_suite || (in_process && *in_process) || (children && *children),
		 "this suite runs programs with the library, and its ctest entry does not say "
		 "so: give its a4s_check_suite SPAWNS_LIBRARY");
	const char *p = getenv("A4S_LIBRARY");
	return p ? p : A4S_LIBRARY_DEFAULT;
}

const char *t_preload(void)
{
	static char var[PATH_MAX + 16];
	snprintf(var, sizeof(var), "LD_PRELOAD=%s", t_library_path());
	return var;
}

const char *t_wrapper_path(void)
{
	const char *p = getenv("A4S_WRAPPER");
	return p ? p : A4S_WRAPPER_DEFAULT;
}

/* The counts live in shared memory, written by the helper, read here. */
static struct t_counts {
	long nr[T_COUNT_MAX];
	int n;
	_Atomic long count[T_COUNT_MAX];
} *counts;

static void send_fd(int sock, int fd)
{
	char data = 'f';
	struct iovec iov = { &data, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	T_CHECK(sendmsg(sock, &m, 0) == 1);
}

static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { &data, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* The helper: receives the listener, then counts and lets through every
 * notified call until the counted process is gone. It has no filter of its
 * own (it was forked before the filter went in). */
static void __attribute__((noreturn)) count_helper(int sock)
{
	int nfd = recv_fd(sock);
	if (nfd < 0)
		_exit(2);
	struct seccomp_notif_sizes sizes;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
		_exit(3);
	/* The kernel's structs may be larger than this header's. */
	union {
		struct seccomp_notif n;
		char room[1024];
	} req;
	union {
		struct seccomp_notif_resp r;
		char room[1024];
	} resp;
	if (sizes.seccomp_notif > sizeof(req) || sizes.seccomp_notif_resp > sizeof(resp))
		_exit(4);
	for (;;) {
		struct pollfd p[2] = { { .fd = nfd, .events = POLLIN },
				       { .fd = sock, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(5);
		}
		/* The counted process closed its end: it has exited. */
		if (p[1].revents || (p[0].revents & (POLLHUP | POLLERR)))
			_exit(0);
		memset(&req, 0, sizeof(req));
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0)
			continue; /* the caller was interrupted meanwhile */
		for (int i = 0; i < counts->n; i++)
			if (counts->nr[i] == req.n.data.nr)
				atomic_fetch_add(&counts->count[i], 1);
		memset(&resp, 0, sizeof(resp));
		resp.r.id = req.n.id;
		resp.r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		(void)ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

void t_count_syscalls(const long *nrs, int n)
{
	T_ASSERT(n > 0 && n <= T_COUNT_MAX && !counts, "t_count_syscalls: once, 1..%d calls",
		 T_COUNT_MAX);
	counts = mmap(NULL, sizeof(*counts), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	T_CHECK(counts != MAP_FAILED);
	counts->n = n;
	for (int i = 0; i < n; i++)
		counts->nr[i] = nrs[i];

	int sv[2];
	T_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		count_helper(sv[1]);
	}
	close(sv[1]);

	struct sock_filter f[3 + 2 * T_COUNT_MAX + 1];
	unsigned short k = 0;
	struct sock_filter head[] = { ARCH_CHECK };
	memcpy(f, head, sizeof(head));
	k = 3;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n; i++) {
		/* The last compare falls through to ALLOW, each match jumps to
		 * the NOTIF at the end. */
		unsigned char to_notif = (unsigned char)(n - 1 - i + 1);
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (unsigned)nrs[i], to_notif, 0);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	struct sock_fprog prog = { .len = k, .filter = f };
	T_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	long nfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			   SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	T_CHECK(nfd >= 0);
	send_fd(sv[0], (int)nfd);
	close((int)nfd);
	/* sv[0] stays open (close-on-exec) until this process ends: the
	 * helper takes its closing as the sign to go. */
}

long t_syscalls_counted(long nr)
{
	T_ASSERT(counts != NULL, "t_syscalls_counted before t_count_syscalls");
	for (int i = 0; i < counts->n; i++)
		if (counts->nr[i] == nr)
			return atomic_load(&counts->count[i]);
	T_ASSERT(0, "system call %ld is not counted", nr);
	return -1;
}

struct sink {
	int fd;
	char *buf;
	size_t size, len;
};

static void drain(struct sink *k)
{
	char tmp[4096];
	ssize_t n = read(k->fd, tmp, sizeof(tmp));
	if (n <= 0) {
		close(k->fd);
		k->fd = -1;
		return;
	}
	if (k->buf && k->size) {
		size_t room = k->size - 1 - k->len;
		size_t take = (size_t)n < room ? (size_t)n : room;
		memcpy(k->buf + k->len, tmp, take);
		k->len += take;
		k->buf[k->len] = '\0';
	}
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int t_run(const char *const argv[], const char *const env[], char *out, size_t out_size,
	  char *err, size_t err_size, int timeout_ms)
{
	static const char *const no_env[] = { NULL };
	int po[2], pe[2];
	T_CHECK(pipe2(po, O_CLOEXEC) == 0);
	T_CHECK(pipe2(pe, O_CLOEXEC) == 0);
	if (out && out_size)
		out[0] = '\0';
	if (err && err_size)
		err[0] = '\0';
	fflush(NULL);
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		/* execve's prototype predates const; it does not write. */
		const char *const *e = env ? env : no_env;
		char *const *a_argv, *const *a_env;
		memcpy(&a_argv, &argv, sizeof(a_argv));
		memcpy(&a_env, &e, sizeof(a_env));
		execve(argv[0], a_argv, a_env);
		fprintf(stderr, "t_run: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	struct sink k[2] = { { po[0], out, out_size, 0 }, { pe[0], err, err_size, 0 } };
	long long deadline = now_ms() + timeout_ms;
	bool timed_out = false;
	while (k[0].fd >= 0 || k[1].fd >= 0) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p[2] = { { .fd = k[0].fd, .events = POLLIN },
				       { .fd = k[1].fd, .events = POLLIN } };
		int r = poll(p, 2, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		T_CHECK(r >= 0);
		for (int i = 0; i < 2; i++)
			if (k[i].fd >= 0 && p[i].revents)
				drain(&k[i]);
	}
	for (int i = 0; i < 2; i++)
		if (k[i].fd >= 0)
			close(k[i].fd);
	if (timed_out)
		kill(pid, SIGKILL);
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	if (timed_out)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int t_run_preloaded(const char *const argv[], const char *const vars[], char *out,
		    size_t out_size, char *err, size_t err_size, int timeout_ms)
{
	char preload[PATH_MAX + 16];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", t_library_path());
	const char *env[16] = { preload, "PATH=/usr/bin:/bin" };
	int n = 2;
	for (; vars && *vars; vars++) {
		T_ASSERT(n < 14, "t_run_preloaded: at most 12 variables");
		env[n++] = *vars;
	}
	env[n] = NULL;
	return t_run(argv, env, out, out_size, err, err_size, timeout_ms);
}

/* ---- the run is what it says it is ---- */

/* Whether the n bytes at word are one of the space-separated words of list. */
static bool has_word(const char *list, const char *word, size_t n)
{
	for (const char *p = list; *p;) {
		size_t m = strcspn(p, " ");
		if (m == n && strncmp(p, word, n) == 0)
			return true;
		p += m;
		p += *p == ' ';
	}
	return false;
}

/* Each space-separated word of want is a word of have; the first that is
 * not is put in missing. */
static bool words_in(const char *want, const char *have, char *missing, size_t size)
{
	for (const char *w = want; *w;) {
		while (*w == ' ')
			w++;
		size_t n = strcspn(w, " ");
		if (n && !has_word(have, w, n)) {
			snprintf(missing, size, "%.*s", (int)n, w);
			return false;
		}
		w += n;
	}
	return true;
}

typedef const char *config_fn(void);
typedef int get_stats_fn(struct accept4shim_stats *, size_t);

static bool prove_in_process(const char *want)
{
	config_fn *config;
	*(void **)&config = dlsym(RTLD_DEFAULT, "accept4shim_config");
	const char *preload = getenv("LD_PRELOAD");
	if (!want || !*want) {
		if (config)
			fprintf(stderr, "this run is not to have the library, yet it is in the "
					"process (LD_PRELOAD=%s): ctest sets A4S_EXPECT_LIBRARY for "
					"a preloaded run\n",
				preload ? preload : "");
		return !config;
	}
	if (!config) {
		fprintf(stderr, "this run expects libaccept4shim in the process (%s), and it is "
				"not there: LD_PRELOAD=%s\n",
			want, preload ? preload : "(unset)");
		return false;
	}
	const char *have = config();
	char missing[128];
	if (!have || !words_in(want, have, missing, sizeof(missing))) {
		fprintf(stderr, "the library is configured \"%s\", this run expects \"%s\"%s%s\n",
			have ? have : "(null)", want, have ? ": no " : "", have ? missing : "");
		return false;
	}
	return true;
}

/* The file at t_library_path() is the library: loaded (in a child, so that
 * this process stays as it was), it answers accept4shim_config(). */
static bool prove_child_library(void)
{
	const char *path = t_library_path();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		config_fn *config = NULL;
		if (h)
			*(void **)&config = dlsym(h, "accept4shim_config");
		const char *have = config ? config() : NULL;
		_exit(have && strncmp(have, "mode=", 5) == 0 ? 0 : 1);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "the programs this suite runs get %s, which is not libaccept4shim "
				"(loaded, it does not answer accept4shim_config())\n",
			path);
		return false;
	}
	return true;
}

/* What every process of the run counted, summed at its exit. */
static struct t_work {
	_Atomic unsigned long long calls, emulated;
} *work;

void t_count_work(void)
{
	get_stats_fn *get_stats;
	*(void **)&get_stats = dlsym(RTLD_DEFAULT, "accept4shim_get_stats");
	struct accept4shim_stats st;
	if (!work || !get_stats || get_stats(&st, sizeof(st)) != 0)
		return;
	atomic_fetch_add(&work->calls, st.calls);
	atomic_fetch_add(&work->emulated, st.emulated);
}

static bool work_not_counted;

void t_do_not_count_work(void)
{
	work_not_counted = true;
}

static void count_work_at_exit(void)
{
	if (!work_not_counted)
		t_count_work();
}

static bool prove_work_done(const char *want)
{
	/* This process's own calls (CK_FORK=no) are counted now; its exit
	 * comes later. Then the sums are not counted again. */
	t_count_work();
	unsigned long long calls = atomic_load(&work->calls), emulated = atomic_load(&work->emulated);
	work = NULL;
	if (calls == 0) {
		fprintf(stderr, "a preloaded run in which the library counted no call at all\n");
		return false;
	}
	if (has_word(want, "mode=emulate", strlen("mode=emulate")) && emulated == 0) {
		fprintf(stderr, "a mode=emulate run in which the library emulated nothing (%llu "
				"calls)\n",
			calls);
		return false;
	}
	return true;
}

int t_run_suite(Suite *s)
{
	running_a_suite = true;
	const char *want = getenv("A4S_EXPECT_LIBRARY");
	const char *child = getenv("A4S_EXPECT_CHILD_LIBRARY");
	if (!prove_in_process(want) || (child && *child && !prove_child_library())) {
		fprintf(stderr, "no test run: this is not the run ctest set up (see above)\n");
		return EXIT_FAILURE;
	}
	bool preloaded = want && *want;
	if (preloaded) {
		work = mmap(NULL, sizeof(*work), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			    -1, 0);
		T_CHECK(work != MAP_FAILED);
		atexit(count_work_at_exit); /* in Check's forked tests too */
	}
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (preloaded && !prove_work_done(want))
		failed++;
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void t_wait_blocked_in_accept(pid_t pid, pid_t tid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	for (int i = 0; i < 2000; i++) {
		char line[64] = "";
		FILE *f = fopen(path, "re");
		T_CHECK(f != NULL);
		bool got = fgets(line, sizeof(line), f) != NULL;
		fclose(f);
		/* "43 0x3 ...": in system call 43; "running" or "-1 ...": not
		 * in one. An emulated accept4(SOCK_CLOEXEC) on a blocking
		 * listener waits in ppoll, outside the fork window. */
		long nr = got && line[0] != 'r' ? strtol(line, NULL, 10) : -1;
		if (nr == SYS_accept4 || nr == SYS_accept || nr == SYS_poll || nr == SYS_ppoll)
			return;
		usleep(5000);
	}
	T_ASSERT(0, "thread %d of %d never blocked in accept", (int)tid, (int)pid);
}

bool t_tracing(void)
{
	const char *log = getenv("ACCEPT4SHIM_LOG");
	return log && log[0] == '/' && getenv("LD_PRELOAD");
}

bool t_trace_path(char *out, size_t size, int pid)
{
	if (!t_tracing())
		return false;
	size_t o = 0;
	for (const char *p = getenv("ACCEPT4SHIM_LOG"); *p && o + 16 < size; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			o += (size_t)snprintf(out + o, size - o, "%d", pid);
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return true;
}

long t_trace_records(int pid, unsigned how, const char *const words[], long with[])
{
	for (size_t i = 0; words && words[i]; i++)
		with[i] = 0;
	char path[4096];
	if (!t_trace_path(path, sizeof(path), pid))
		return 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	const char *fmt = getenv("ACCEPT4SHIM_LOG_FORMAT");
	bool json = fmt && strcmp(fmt, "json") == 0;
	char key[32];
	int keylen = snprintf(key, sizeof(key), ",\"pid\":%d,", pid);
	long n = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		T_ASSERT(line[len - 1] == '\n', "%s: a cut record: %s", path, line);
		T_ASSERT(!json || t_json_object_line(line, (size_t)len), "%s: not JSON: %s", path,
			 line);
		T_ASSERT(!(how & T_TRACE_OWN) || memmem(line, (size_t)len, key, (size_t)keylen),
			 "%s: a record of another process: %s", path, line);
		for (size_t i = 0; words && words[i]; i++)
			if (memmem(line, (size_t)len, words[i], strlen(words[i])))
				with[i]++;
		n++;
	}
	free(line);
	fclose(f);
	if (how & T_TRACE_REMOVE)
		unlink(path);
	return n;
}

void t_trace_remove(int pid)
{
	char path[4096];
	if (t_trace_path(path, sizeof(path), pid))
		unlink(path);
}

void t_trace_open(void)
{
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	T_ASSERT(accept4(l.fd, NULL, NULL, 0) == -1 && errno == EAGAIN, "warm-up call");
	t_close_listener(&l);
}

int t_fd_on(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	T_CHECK(d != NULL);
	int found = -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char link[300], target[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0 && atoi(e->d_name) != dirfd(d))
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}
