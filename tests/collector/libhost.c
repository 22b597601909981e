/*
 * A traced process for the library's side of the collector: a plain
 * program making real accept calls, run with the library preloaded and
 * ACCEPT4SHIM_LOG=collector:PATH by the tests (it knows nothing of rings).
 *
 *   a4s_libhost ACTION...
 *
 * Prints "pid N" first. Actions, in order, each ending with a line:
 *   accept:N      N connections accepted (accept4, SOCK_CLOEXEC) from a
 *                 unix listener of its own, connected to by this process:
 *                 "accepted N"
 *   eagain:N      N accept4 calls on an empty non-blocking listener, each
 *                 failing with EAGAIN: "eagain N"
 *   threads:T:N   T threads, each accept:N on a listener of its own:
 *                 "threads T"
 *   children:K:N  K forked children, each accept:N and exit(0) (its own
 *                 exit summary), waited for: "child PID" per child, then
 *                 "children K"
 *   _fork:N       a child made by _Fork() (no fork handlers run: the library
 *                 notices the new process by itself), accept:N and exit(0),
 *                 waited for: "_fork PID"
 *   exec:N        a forked child that execs this program with accept:N,
 *                 waited for: "exec PID", then "execd"
 *   orphan:MS:N   a grandchild, detached (its parent exits at once), that
 *                 sleeps MS ms, does accept:N and exits: "orphan PID"
 *   linger:MS     a forked child that sleeps MS ms and exits without a
 *                 call: "linger PID"
 *   errno:N       accept:N with errno set to 4242 before each call, which
 *                 must find it unchanged, then one accept4 failing with
 *                 EAGAIN, which must set it: "errno ok", or exit 3
 *   deny:NAME     from now on the system call NAME (memfd_create, mmap,
 *                 sendmsg: calls this program makes no use of) fails with
 *                 EPERM (a seccomp filter, as a sandbox would): "denied NAME"
 *   emfile        a connection waiting, every descriptor below the soft
 *                 RLIMIT_NOFILE (64; hard 4096) taken, then accept4, which
 *                 must fail with EMFILE:
 *                 "emfile ok" (the descriptors are given back after)
 *   sleep:MS      sleeps
 *   wait          "waiting", then reads a line from stdin
 *   kill          SIGKILL, now
 *   exit:CODE     exit(CODE)
 * At the end, exit(0).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *self;

static void die(const char *what)
{
	fprintf(stderr, "a4s_libhost: %s: %s\n", what, strerror(errno));
	exit(99);
}

/* An abstract unix listener: nothing to remove, unique per process and
 * thread. */
static int listener(int flags, struct sockaddr_un *sun, socklen_t *len)
{
	static int serial;
	int fd = socket(AF_UNIX, SOCK_STREAM | flags, 0);
	if (fd < 0)
		die("socket");
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	int n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "a4s-libhost-%d-%d",
			 (int)getpid(), __atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED));
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if (bind(fd, (struct sockaddr *)sun, *len) < 0 || listen(fd, 64) < 0)
		die("listen");
	return fd;
}

static void do_accept(long n)
{
	struct sockaddr_un sun;
	socklen_t len;
	int l = listener(0, &sun, &len);
	for (long i = 0; i < n; i++) {
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sun, len) < 0)
			die("connect");
		int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0)
			die("accept4");
		close(a);
		close(c);
	}
	close(l);
}

static void do_eagain(long n)
{
	struct sockaddr_un sun;
	socklen_t len;
	int l = listener(SOCK_NONBLOCK, &sun, &len);
	for (long i = 0; i < n; i++)
		if (accept4(l, NULL, NULL, SOCK_CLOEXEC) >= 0 || errno != EAGAIN)
			die("accept4 on an empty listener");
	close(l);
}

static void *thread_accepts(void *arg)
{
	do_accept((long)arg);
	return NULL;
}

/* A seccomp filter: the named call fails with EPERM, every other runs. */
static void deny(const char *name)
{
	static const struct {
		const char *name;
		long nr;
	} calls[] = { { "memfd_create", SYS_memfd_create }, { "mmap", SYS_mmap },
		      { "sendmsg", SYS_sendmsg } };
	long nr = -1;
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (strcmp(name, calls[i].name) == 0)
			nr = calls[i].nr;
	if (nr < 0) {
		fprintf(stderr, "a4s_libhost: cannot deny %s\n", name);
		exit(2);
	}
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		die("seccomp");
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void run(const char *a);

int main(int argc, char **argv)
{
	self = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid %d\n", (int)getpid());
	for (int i = 1; i < argc; i++)
		run(argv[i]);
	return 0;
}

static void run(const char *a)
{
	long x = 0, y = 0;
	if (sscanf(a, "accept:%ld", &x) == 1) {
		do_accept(x);
		printf("accepted %ld\n", x);
	} else if (sscanf(a, "eagain:%ld", &x) == 1) {
		do_eagain(x);
		printf("eagain %ld\n", x);
	} else if (sscanf(a, "threads:%ld:%ld", &x, &y) == 2) {
		pthread_t t[64];
		for (long i = 0; i < x && i < 64; i++)
			if (pthread_create(&t[i], NULL, thread_accepts, (void *)y) != 0)
				die("pthread_create");
		for (long i = 0; i < x && i < 64; i++)
			pthread_join(t[i], NULL);
		printf("threads %ld\n", x);
	} else if (sscanf(a, "children:%ld:%ld", &x, &y) == 2) {
		for (long i = 0; i < x; i++) {
			fflush(stdout);
			pid_t p = fork();
			if (p < 0)
				die("fork");
			if (p == 0) {
				do_accept(y);
				exit(0);
			}
			printf("child %d\n", (int)p);
		}
		for (long i = 0; i < x; i++)
			wait(NULL);
		printf("children %ld\n", x);
	} else if (sscanf(a, "_fork:%ld", &x) == 1) {
		fflush(stdout);
		pid_t p = _Fork();
		if (p < 0)
			die("_Fork");
		if (p == 0) {
			do_accept(x);
			exit(0);
		}
		printf("_fork %d\n", (int)p);
		waitpid(p, NULL, 0);
	} else if (sscanf(a, "exec:%ld", &x) == 1) {
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			char arg[64];
			snprintf(arg, sizeof(arg), "accept:%ld", x);
			int null = open("/dev/null", O_WRONLY); /* its lines are not ours */
			dup2(null, 1);
			execl(self, self, arg, (char *)NULL);
			_exit(98);
		}
		printf("exec %d\n", (int)p);
		int st;
		waitpid(p, &st, 0);
		printf("execd\n");
	} else if (sscanf(a, "orphan:%ld:%ld", &x, &y) == 2) {
		int pfd[2];
		if (pipe(pfd) < 0)
			die("pipe");
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			pid_t g = fork();
			if (g == 0) {
				close(pfd[0]);
				close(pfd[1]);
				sleep_ms(x);
				do_accept(y);
				exit(0);
			}
			if (write(pfd[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
				_exit(1);
			_exit(0);
		}
		pid_t g = 0;
		close(pfd[1]);
		if (read(pfd[0], &g, sizeof(g)) != (ssize_t)sizeof(g))
			die("orphan");
		close(pfd[0]);
		waitpid(p, NULL, 0);
		printf("orphan %d\n", (int)g);
	} else if (sscanf(a, "linger:%ld", &x) == 1) {
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			sleep_ms(x);
			_exit(0);
		}
		printf("linger %d\n", (int)p);
	} else if (sscanf(a, "errno:%ld", &x) == 1) {
		struct sockaddr_un sun;
		socklen_t len;
		int l = listener(SOCK_NONBLOCK, &sun, &len);
		for (long i = 0; i < x; i++) {
			int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (c < 0 || connect(c, (struct sockaddr *)&sun, len) < 0)
				die("connect");
			errno = 4242;
			int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
			if (s < 0 || errno != 4242) {
				fprintf(stderr, "a4s_libhost: errno %d after a call that succeeded\n", errno);
				exit(3);
			}
			close(s);
			close(c);
		}
		errno = 0;
		if (accept4(l, NULL, NULL, SOCK_CLOEXEC) != -1 || errno != EAGAIN) {
			fprintf(stderr, "a4s_libhost: errno %d, not EAGAIN\n", errno);
			exit(3);
		}
		close(l);
		printf("errno ok\n");
	} else if (strncmp(a, "deny:", 5) == 0) {
		deny(a + 5);
		printf("denied %s\n", a + 5);
	} else if (strcmp(a, "emfile") == 0) {
		struct sockaddr_un sun;
		socklen_t len;
		int l = listener(0, &sun, &len);
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sun, len) < 0)
			die("connect");
		struct rlimit lim = { 64, 4096 }; /* the soft limit reached, as servers do */
		if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
			die("setrlimit");
		int taken[64], n = 0;
		while (n < 64 && (taken[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
			n++;
		int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		int e = errno;
		while (n > 0)
			close(taken[--n]);
		if (s >= 0 || e != EMFILE) {
			fprintf(stderr, "a4s_libhost: accept4 gave %d, errno %d, not EMFILE\n", s, e);
			exit(3);
		}
		close(c);
		close(l);
		printf("emfile ok\n");
	} else if (sscanf(a, "sleep:%ld", &x) == 1) {
		sleep_ms(x);
	} else if (strcmp(a, "wait") == 0) {
		printf("waiting\n");
		char line[16];
		if (!fgets(line, sizeof(line), stdin))
			exit(0);
	} else if (strcmp(a, "kill") == 0) {
		fflush(stdout);
		kill(getpid(), SIGKILL);
	} else if (sscanf(a, "exit:%ld", &x) == 1) {
		exit((int)x);
	} else {
		fprintf(stderr, "a4s_libhost: unknown action %s\n", a);
		exit(2);
	}
}
