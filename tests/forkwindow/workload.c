#include "workload.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload_support.h"

extern char **environ;

const char *w_spawn_name(enum w_spawn s)
{
	static const char *const names[] = { "fork",	   "vfork",  "_Fork", "posix_spawn",
					     "posix_spawnp", "system", "popen", "clone" };
	return (unsigned)s < W_SPAWNS ? names[s] : "?";
}

const char *w_accept_name(enum w_accept a)
{
	static const char *const names[] = { "accept4(SOCK_CLOEXEC)",
					     "accept() with ADD_FLAGS=SOCK_CLOEXEC",
					     "accept() + fcntl(F_SETFD) by the program" };
	return (unsigned)a < W_ACCEPTS ? names[a] : "?";
}

/* ---- what the threads accepted ---- */

enum { MAX_ACCEPTED = 1 << 21, MAX_REPORTED = 1 << 16 };

static uint64_t *accepted;       /* inodes, in the order accepted */
static atomic_long n_accepted;
static atomic_long n_meanwhile;
static atomic_int spawning;      /* children are being made now */
static atomic_int stop_accepting, stop_dialing;
static atomic_int failure;       /* first thread failure, as a line number */
static uint64_t reported[MAX_REPORTED];
static long n_reported;

static const struct w_config *cfg;
static struct t_listener listener;

static void fail_at(int line)
{
	int zero = 0;
	atomic_compare_exchange_strong(&failure, &zero, line);
}

static int accept_one(int lfd)
{
	switch (cfg->accept) {
	case W_ACCEPT4_CLOEXEC:
		return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	case W_ACCEPT_ADDED:
		return accept(lfd, NULL, NULL);
	default: {
		/* What a program does for itself where accept4 is missing:
		 * the raw system call, so that no library can step in. */
		int fd = (int)syscall(SYS_accept, lfd, NULL, NULL);
		if (fd >= 0)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	}
}

static void *accepter(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_accepting)) {
		int fd = accept_one(listener.fd);
		if (fd < 0) {
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = listener.fd, .events = POLLIN };
				poll(&p, 1, 50);
			} else if (errno != EINTR && errno != ECONNABORTED) {
				fail_at(__LINE__);
				return NULL;
			}
			continue;
		}
		struct stat st;
		int fdflags = fcntl(fd, F_GETFD);
		if (fstat(fd, &st) != 0 || fdflags < 0 || !(fdflags & FD_CLOEXEC)) {
			fail_at(__LINE__); /* e.g. accept() without ADD_FLAGS */
			close(fd);
			return NULL;
		}
		long i = atomic_fetch_add(&n_accepted, 1);
		if (i < MAX_ACCEPTED)
			accepted[i] = (uint64_t)st.st_ino;
		if (atomic_load(&spawning))
			atomic_fetch_add(&n_meanwhile, 1);
		close(fd);
	}
	return NULL;
}

static void *dialer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_dialing)) {
		/* Non-blocking: once the accepters have stopped, a full
		 * backlog must not hold the dialer in connect. */
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (c < 0) {
			fail_at(__LINE__);
			return NULL;
		}
		if (connect(c, (const struct sockaddr *)&listener.addr, listener.addrlen) != 0) {
			if (errno != EAGAIN && errno != EINTR) {
				fail_at(__LINE__);
				close(c);
				return NULL;
			}
			usleep(100); /* the backlog is full */
		}
		close(c);
	}
	return NULL;
}

/* ---- making one child ---- */

static char helper[4200], fdarg[16], shell_cmd[4400];
static char *child_argv[3];
static char path_var[] = "PATH=/usr/bin:/bin";
static char *child_env[] = { path_var, NULL };

/* Kept apart, with nothing on its frame the child could spoil: a vfork
 * child shares the stack until it execs. */
static pid_t __attribute__((noinline)) by_vfork(void)
{
	pid_t pid = vfork();
	if (pid == 0) {
		execve(child_argv[0], child_argv, child_env);
		_exit(127);
	}
	return pid;
}

static pid_t by_fork(bool underscore)
{
	pid_t pid = underscore ? _Fork() : fork();
	if (pid == 0) {
		execve(child_argv[0], child_argv, child_env);
		_exit(127);
	}
	return pid;
}

static pid_t by_clone(void)
{
	long pid = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
	if (pid == 0) {
		syscall(SYS_execve, child_argv[0], child_argv, child_env);
		syscall(SYS_exit_group, 127);
	}
	return (pid_t)pid;
}

/* Makes one child and waits for it; the child's exit status, or -1 when
 * it could not be made. */
static int one_child(enum w_spawn how)
{
	pid_t pid = -1;
	int status = -1;
	switch (how) {
	case W_FORK:
	case W_UFORK:
		pid = by_fork(how == W_UFORK);
		break;
	case W_VFORK:
		pid = by_vfork();
		break;
	case W_POSIX_SPAWN:
	case W_POSIX_SPAWNP: {
		int r = how == W_POSIX_SPAWN
				? posix_spawn(&pid, child_argv[0], NULL, NULL, child_argv, child_env)
				: posix_spawnp(&pid, "report_sockets", NULL, NULL, child_argv, child_env);
		if (r != 0)
			return -1;
		break;
	}
	case W_SYSTEM:
		return system(shell_cmd);
	case W_POPEN: {
		FILE *f = popen(shell_cmd, "r");
		if (!f)
			return -1;
		return pclose(f);
	}
	case W_CLONE:
		pid = by_clone();
		break;
	default:
		return -1;
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* Reads the line the child wrote; false when there is none. */
static bool read_report(int rfd)
{
	char line[4096];
	ssize_t n = read(rfd, line, sizeof(line) - 1);
	if (n <= 0)
		return false;
	line[n] = '\0';
	char *p = line, *end;
	long count = strtol(p, &end, 10);
	for (long i = 0; i < count; i++) {
		p = end;
		unsigned long long ino = strtoull(p, &end, 10);
		if (end == p)
			return false;
		if (n_reported < MAX_REPORTED)
			reported[n_reported++] = ino;
	}
	return *end == '\n';
}

static int by_inode(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void w_run(const struct w_config *c, struct w_result *r)
{
	memset(r, 0, sizeof(*r));
	cfg = c;
	if (!accepted) {
		accepted = malloc(sizeof(*accepted) * MAX_ACCEPTED);
		T_CHECK(accepted != NULL);
	}
	atomic_store(&n_accepted, 0);
	atomic_store(&n_meanwhile, 0);
	atomic_store(&stop_accepting, 0);
	atomic_store(&stop_dialing, 0);
	atomic_store(&failure, 0);
	n_reported = 0;

	/* The helper sits beside this program, or where A4S_REPORT_SOCKETS
	 * says; posix_spawnp finds it on PATH. */
	char self[4096];
	const char *given = getenv("A4S_REPORT_SOCKETS");
	if (given) {
		snprintf(self, sizeof(self), "%s", given);
	} else {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		T_CHECK(n > 0);
		self[n] = '\0';
	}
	*strrchr(self, '/') = '\0';
	snprintf(helper, sizeof(helper), "%s/report_sockets", self);
	char path[4300];
	snprintf(path, sizeof(path), "%s:/usr/bin:/bin", self);
	T_CHECK(setenv("PATH", path, 1) == 0);

	/* The report pipe: inherited by every child on purpose (it is not a
	 * socket, so it never counts); the read end stays here. */
	int rep[2];
	T_CHECK(pipe2(rep, O_CLOEXEC) == 0);
	T_CHECK(fcntl(rep[1], F_SETFD, 0) == 0);
	T_CHECK(fcntl(rep[0], F_SETFL, O_NONBLOCK) == 0);
	snprintf(fdarg, sizeof(fdarg), "%d", rep[1]);
	child_argv[0] = helper;
	child_argv[1] = fdarg;
	child_argv[2] = NULL;
	snprintf(shell_cmd, sizeof(shell_cmd), "exec '%s' %d", helper, rep[1]);

	t_listen(&listener, T_UNIX_ABSTRACT, SOCK_CLOEXEC | (c->nonblocking ? SOCK_NONBLOCK : 0));
	pthread_t acc[2], dial;
	for (int i = 0; i < 2; i++)
		T_ASSERT(pthread_create(&acc[i], NULL, accepter, NULL) == 0, "pthread_create");
	T_ASSERT(pthread_create(&dial, NULL, dialer, NULL) == 0, "pthread_create");

	/* Let the threads get going before the first child. */
	while (atomic_load(&n_accepted) < 100 && !atomic_load(&failure))
		usleep(1000);
	atomic_store(&spawning, 1);
	for (int i = 0; i < c->children && !atomic_load(&failure); i++) {
		int status = one_child(c->spawn);
		T_ASSERT(status == 0, "child %d by %s: status %#x", i, w_spawn_name(c->spawn),
			 status);
		T_ASSERT(read_report(rep[0]), "child %d by %s wrote no report", i,
			 w_spawn_name(c->spawn));
		r->children++;
	}
	atomic_store(&spawning, 0);

	/* The dialer goes on until both accepters have seen the stop. */
	atomic_store(&stop_accepting, 1);
	for (int i = 0; i < 2; i++)
		T_ASSERT(pthread_join(acc[i], NULL) == 0, "pthread_join");
	atomic_store(&stop_dialing, 1);
	T_ASSERT(pthread_join(dial, NULL) == 0, "pthread_join");
	T_ASSERT(atomic_load(&failure) == 0, "a thread failed at workload.c:%d (%s)",
		 atomic_load(&failure), strerror(errno));
	t_close_listener(&listener);
	close(rep[0]);
	close(rep[1]);

	r->accepted = atomic_load(&n_accepted);
	r->meanwhile = atomic_load(&n_meanwhile);
	long kept = r->accepted < MAX_ACCEPTED ? r->accepted : MAX_ACCEPTED;
	qsort(accepted, (size_t)kept, sizeof(*accepted), by_inode);
	for (long i = 0; i < n_reported; i++) {
		if (bsearch(&reported[i], accepted, (size_t)kept, sizeof(*accepted), by_inode))
			r->leaked++;
		else
			r->unexplained++;
	}
}
