#include "ckit.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void ck_dir(struct ck_collector *c, uid_t uid)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->dir, "/tmp/a4s-collector-XXXXXX");
	T_CHECK(mkdtemp(c->dir) != NULL);
	T_CHECK(chown(c->dir, uid, uid) == 0);
	snprintf(c->sock, sizeof(c->sock), "%s/sock", c->dir);
	snprintf(c->err, sizeof(c->err), "%s/collector.err", c->dir);
}

/* In a forked child: become uid (and its group of the same number). */
static void become(uid_t uid)
{
	if (!uid)
		return;
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(126);
}

static void exec_argv(const char *prog, const char *first, const char *const args[])
{
	const char *argv[256];
	int n = 0;
	argv[n++] = prog;
	argv[n++] = first;
	for (int i = 0; args && args[i]; i++) {
		if (n == 255)
			_exit(125); /* more than a test should need: not cut short */
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	char *const *a;
	memcpy(&a, &(const char *const *){ argv }, sizeof(a));
	execv(prog, a);
	_exit(127);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool ck_start(struct ck_collector *c, uid_t uid, const char *const args[], int *status)
{
	char opt[320];
	snprintf(opt, sizeof(opt), "--socket=%s", c->sock);
	int err = open(c->err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	T_CHECK(err >= 0);
	fflush(NULL);
	c->pid = fork();
	T_CHECK(c->pid >= 0);
	if (c->pid == 0) {
		dup2(err, 2);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		become(uid);
		/* CK_VALGRIND: the collector under memcheck, failing on any
		 * error or leak (it reads what hostile hosts wrote). */
		if (getenv("CK_VALGRIND")) {
			const char *vargs[64] = { "--quiet", "--error-exitcode=99", "--leak-check=full",
						  "--errors-for-leak-kinds=definite,indirect",
						  "--show-leak-kinds=definite,indirect", CK_COLLECTOR, opt };
			int n = 7;
			for (int i = 0; args && args[i]; i++) {
				if (n == 63)
					_exit(125);
				vargs[n++] = args[i];
			}
			vargs[n] = NULL;
			exec_argv(getenv("CK_VALGRIND"), vargs[0], vargs + 1);
		}
		exec_argv(CK_COLLECTOR, opt, args);
	}
	close(err);
	/* Listening once its socket is there (it is bound and listened to
	 * before the loop starts; connect tells), or refused once it has
	 * exited: one of the two comes, however long a loaded machine takes
	 * to start it under valgrind (ten seconds were not always enough);
	 * the test case's timeout is the one deadline. */
	for (;;) {
		int st;
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = 0;
			if (status)
				*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			return false;
		}
		struct stat sb;
		if (stat(c->sock, &sb) == 0 && S_ISSOCK(sb.st_mode))
			return true;
		usleep(5000);
	}
}

int ck_stop(struct ck_collector *c)
{
	if (c->pid <= 0)
		return -1;
	kill(c->pid, SIGCONT);
	T_CHECK(kill(c->pid, SIGTERM) == 0);
	int st;
	T_CHECK(waitpid(c->pid, &st, 0) == c->pid);
	c->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *ck_stderr(const struct ck_collector *c)
{
	static char buf[65536];
	buf[0] = '\0';
	int fd = open(c->err, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	/* Under CK_VALGRIND: valgrind's own notes (--PID-- ..., as about
	 * openat2, which it does not know) are not the collector's. */
	char *out = buf;
	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (!(p[0] == '-' && p[1] == '-' && p[2] >= '0' && p[2] <= '9')) {
			memmove(out, p, n);
			out += n;
		}
		p += n;
	}
	*out = '\0';
	return buf;
}

static void remove_tree(int dirfd)
{
	DIR *d = fdopendir(dirfd);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd, e->d_name, 0) < 0) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				remove_tree(sub);
			unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
		}
	}
	closedir(d);
}

void ck_cleanup(struct ck_collector *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
	if (!c->dir[0])
		return;
	int fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		remove_tree(fd);
	rmdir(c->dir);
}

void ck_host(struct ck_host *h, const char *sock, uid_t uid, const char *const args[])
{
	char opt[320];
	snprintf(opt, sizeof(opt), "--socket=%s", sock);
	const char *argv[256] = { CK_FAKEHOST, opt };
	int n = 2;
	for (int i = 0; args && args[i]; i++) {
		T_ASSERT(n < 255, "more arguments than a test should need: not cut short");
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	extern char **environ;
	const char *const *env;
	memcpy(&env, &environ, sizeof(env));
	ck_spawn(h, uid, argv, env, NULL);
}

void ck_spawn(struct ck_host *h, uid_t uid, const char *const argv[], const char *const env[],
	      const char *err_path)
{
	int in[2], out[2];
	T_CHECK(pipe2(in, O_CLOEXEC) == 0);
	T_CHECK(pipe2(out, O_CLOEXEC) == 0);
	int err = -1;
	if (err_path)
		T_CHECK((err = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) >= 0);
	fflush(NULL);
	h->pid = fork();
	T_CHECK(h->pid >= 0);
	if (h->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (err >= 0)
			dup2(err, 2);
		become(uid);
		char *const *a, *const *e;
		memcpy(&a, &argv, sizeof(a));
		memcpy(&e, &env, sizeof(e));
		execve(argv[0], a, e);
		_exit(127);
	}
	if (err >= 0)
		close(err);
	close(in[0]);
	close(out[1]);
	h->in = in[1];
	h->out = out[0];
}

bool ck_host_line(struct ck_host *h, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;
	long long end = now_ms() + timeout_ms;
	while (n + 1 < size) {
		struct pollfd p = { h->out, POLLIN, 0 };
		long long left = end - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			break;
		char ch;
		if (read(h->out, &ch, 1) != 1)
			break;
		if (ch == '\n') {
			buf[n] = '\0';
			return true;
		}
		buf[n++] = ch;
	}
	buf[n] = '\0';
	return false;
}

long ck_host_expect(struct ck_host *h, const char *want)
{
	char line[256];
	T_ASSERT(ck_host_line(h, line, sizeof(line), 60000),
		 "the test host said nothing (waiting for \"%s\")", want);
	T_ASSERT(strncmp(line, want, strlen(want)) == 0, "test host said \"%s\", not \"%s...\"",
		 line, want);
	return strtol(line + strlen(want), NULL, 10);
}

void ck_host_go(const struct ck_host *h)
{
	T_CHECK(write(h->in, "\n", 1) == 1);
}

int ck_host_wait(struct ck_host *h)
{
	int st;
	T_CHECK(waitpid(h->pid, &st, 0) == h->pid);
	close(h->in);
	close(h->out);
	h->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *ck_read(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	T_CHECK(buf != NULL);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			char *bigger = realloc(buf, cap);
			T_CHECK(bigger != NULL);
			buf = bigger;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

long ck_lines(const char *buf, const char *word)
{
	long count = 0;
	for (const char *p = buf; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (!word || memmem(p, n, word, strlen(word)))
			count++;
		p += n + (nl != NULL);
	}
	return count;
}

char *ck_without(const char *buf, const char *word)
{
	char *out = malloc(strlen(buf) + 1);
	T_CHECK(out != NULL);
	size_t o = 0;
	for (const char *p = buf; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (!memmem(p, n, word, strlen(word))) {
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	out[o] = '\0';
	return out;
}

long ck_field(const char *buf, const char *word, const char *key)
{
	long v = -1;
	for (const char *p = buf; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *k;
		if (memmem(p, n, word, strlen(word)) && (k = memmem(p, n, key, strlen(key))))
			v = strtol(k + strlen(key), NULL, 10);
		p += n + (nl != NULL);
	}
	return v;
}

void ck_same(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return;
	long line = 1;
	size_t i = 0, start = 0;
	while (got[i] && got[i] == want[i]) {
		if (got[i] == '\n') {
			line++;
			start = i + 1;
		}
		i++;
	}
	T_ASSERT(false, "output differs at line %ld: got \"%.200s\", want \"%.200s\" (%zu and %zu bytes)",
		 line, got + start, want + start, strlen(got), strlen(want));
}

/* ---- journald of the test's own ---- */

void ck_private_mounts(void)
{
	T_CHECK(unshare(CLONE_NEWNS) == 0);
	T_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
}

pid_t ck_start_journald(const char *program)
{
	/* A /run of our own: journald's sockets and its volatile journal. */
	T_CHECK(mount("a4s-run", "/run", "tmpfs", 0, "mode=755") == 0);
	T_CHECK(mkdir("/run/systemd", 0755) == 0);
	T_CHECK(mkdir("/run/systemd/journal", 0755) == 0);
	struct stat st;
	if (stat("/var/log/journal", &st) == 0)
		T_CHECK(mount("a4s-journal", "/var/log/journal", "tmpfs", 0, "mode=755") == 0);
	T_ASSERT(stat("/etc/machine-id", &st) == 0 && st.st_size > 0,
		 "journald needs /etc/machine-id (systemd-machine-id-setup makes it)");
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execl(program, program, (char *)NULL);
		_exit(127);
	}
	for (int t = 0; t < 500; t++) {
		if (stat(CK_JOURNALD_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode))
			return pid;
		usleep(10000);
	}
	T_ASSERT(false, "systemd-journald (%s) did not start", program);
	return -1;
}

/* journalctl's JSON for MATCH into path; the number of entries. */
long ck_journal(const char *match, const char *path)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "journalctl --no-pager -o json %s > %s", match, path);
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	const char *env[] = { "PATH=/usr/bin:/bin:/usr/sbin:/sbin", NULL };
	char err[4096];
	int st = t_run(argv, env, NULL, 0, err, sizeof(err), 60000);
	T_ASSERT(st == 0, "journalctl: status %d: %s", st, err);
	char *b = ck_read(path, NULL);
	long n = b ? ck_lines(b, NULL) : 0;
	free(b);
	return n;
}

long ck_journal_settled(const char *match, const char *path, long want)
{
	long n;
	while ((n = ck_journal(match, path)) < want)
		usleep(20000);
	return n;
}
