/*
 * The trace suites' shared kit (see tracekit.h): text helpers both sides
 * use, and the test side: running a scenario, reading what it wrote,
 * comparing records with facts.
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

/* ------------------------------------------------------------------ */
/* Shared by both sides: text helpers.                                  */

void text_add(struct text *t, const void *s, size_t n)
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

void text_free(struct text *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}

/* Bytes as tracecheck.py prints strings: safe bytes as they are, the rest
 * as %XX. */
void pct(const void *bytes, size_t n, char *out, size_t size)
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
bool field(const char *line, const char *key, char *out, size_t size)
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

long long field_ll(const char *line, const char *key)
{
	char v[64];
	T_ASSERT(field(line, key, v, sizeof(v)), "no %s in: %s", key, line);
	return strtoll(v, NULL, 10);
}

void lines_of(const char *s, const char *prefix, struct lines *l)
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

void lines_free(struct lines *l)
{
	free(l->v);
	free(l->copy);
}

int self_tid(void)
{
	return (int)syscall(SYS_gettid);
}

uint64_t realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int fds_on(const char *target, int *highest)
{
	int n = 0;
	if (highest)
		*highest = -1;
	for (int fd = 0; fd < 1100; fd++) {
		char link[64], got[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t len = readlink(link, got, sizeof(got) - 1);
		if (len > 0) {
			got[len] = '\0';
			if (strcmp(got, target) == 0) {
				n++;
				if (highest)
					*highest = fd;
			}
		}
	}
	return n;
}

/* A /dev/log of our own (in a private /dev): the syslog daemon. */
int bind_dev_log(void)
{
	unlink("/dev/log");
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	T_CHECK(s >= 0 && bind(s, (struct sockaddr *)&un, sizeof(un)) == 0);
	return s;
}

int datagrams(int s)
{
	char buf[4096];
	int n = 0;
	while (recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}


/* ------------------------------------------------------------------ */
/* The test side.                                                       */

/*
 * Starts argv (argv[0] a path) with the variables in vars plus PATH and,
 * unless vars name it, LD_PRELOAD=<the library>. stdin is in_fd (or
 * /dev/null, where there is one), stderr is err_fd, a pipe to us (-1) or
 * closed (-2).
 */
void spawn(struct proc *p, const char *const *argv, const char *const *vars, int in_fd,
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
	/* The library under test, for a scenario that loads it itself. */
	static char library[PATH_MAX + 16];
	snprintf(library, sizeof(library), "A4S_LIBRARY=%s", t_library_path());
	env[n++] = library;
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
void collect(struct proc *p, struct result *r, int timeout_ms)
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

void run_scenario(struct result *r, const char *const *vars, const char *name,
			 const char *arg1, const char *arg2)
{
	const char *argv[] = { "/proc/self/exe", "scenario", name, arg1, arg2, NULL };
	struct proc p;
	spawn(&p, argv, vars, -1, -1);
	collect(&p, r, 60000);
}

void expect_ok(const struct result *r, const char *what)
{
	T_ASSERT(r->status == 0, "%s: status %d\nstdout:\n%.2000s\nstderr:\n%.2000s", what,
		 r->status, r->out.p, r->err.p);
}

/* tracecheck.py over files: the flattened records, or the test fails with
 * its complaint. */
void tracecheck(struct result *r, const char *file, bool skip_bad)
{
	const char *argv[] = { PYTHON, TRACECHECK, file, skip_bad ? "--skip-bad" : NULL, NULL };
	const char *vars[] = { "LD_PRELOAD=", NULL };
	struct proc p;
	spawn(&p, argv, vars, -1, -1);
	collect(&p, r, 60000);
	T_ASSERT(r->status == 0, "tracecheck %s: status %d: %s", file, r->status, r->err.p);
}

/* A fresh directory for one test's files, and its removal. */
void temp_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/a4s-trace-XXXXXX");
	T_CHECK(mkdtemp(dir) != NULL);
}

/* A fresh directory, the trace file `name` in it, and the variable that
 * sends the trace there (sizes as the callers declare them). */
void temp_trace(char dir[64], char trace[128], char v_log[160], const char *name)
{
	temp_dir(dir, 64);
	snprintf(trace, 128, "%s/%s", dir, name);
	snprintf(v_log, 160, "ACCEPT4SHIM_LOG=%s", trace);
}

void remove_dir(const char *dir)
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

void read_file(const char *path, struct text *t)
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

void write_file(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	T_CHECK(fd >= 0);
	T_CHECK(write(fd, s, n) == (ssize_t)n);
	close(fd);
}

/* RFC 3339 with microseconds to microseconds since the epoch. */
uint64_t ts_us(const char *ts)
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
void compare(const struct lines *facts, const struct lines *recs)
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
void text_to_rec(const char *line, struct text *out)
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


bool write_to(const char *path, const char *text)
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
bool private_mounts(void)
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

/* In a mount namespace with a tmpfs over /dev: our own /dev/log. */
void private_dev(void)
{
	T_ASSERT(private_mounts() &&
			 mount("a4s-dev", "/dev", "tmpfs", 0, "size=64k,mode=755") == 0,
		 "cannot have a /dev/log of our own: needs root or user namespaces: %s",
		 strerror(errno));
}


/* ------------------------------------------------------------------ */
/* main()                                                               */

int t_errno_at_start;

int t_trace_main(int err_at_start, int argc, char **argv, const struct t_scenario *own,
		 Suite *(*suite)(void))
{
	t_errno_at_start = err_at_start;
	if (argc > 2 && strcmp(argv[1], "scenario") == 0)
		return t_scenario_main(argc, argv, own);
	return t_run_suite(suite());
}
