/*
 * The trace at the process's resource limits.
 *
 * RLIMIT_FSIZE (issue 10.2; SPEC: "a record that cannot be written (...
 * RLIMIT_FSIZE reached) is dropped and counted, ... never raises SIGPIPE or
 * SIGXFSZ"): at the limit the host lives, no record is torn, the records
 * that did not fit are counted, one line on stderr says why; with the
 * limit set before the start, lowered by the program after load, lowered in
 * a forked child, lowered while the trace is running; for the trace file
 * and for LOG=stderr on a regular file; whatever the program does with
 * SIGXFSZ.
 *
 * RLIMIT_NOFILE (issue 10.3; SPEC: "A call that fails for want of
 * descriptors (EMFILE, ENFILE) is recorded, the process's first call
 * included"): where the soft limit can be raised the record is written at
 * once, from a descriptor above the limit; where it cannot (soft == hard)
 * the records wait and go out with the next call that finds a descriptor,
 * or are counted as dropped at exit; the next good record is never lost to
 * a back-off.
 *
 * The descriptor's place (issue 12.4): above the soft limit where it can
 * be, a number the kernel hands the program for no file, and the limit
 * left as the program set it.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracekit.h"

/* ---- scenarios ---- */

static void set_limit(int resource, rlim_t soft, rlim_t hard)
{
	struct rlimit r = { soft, hard };
	T_CHECK(setrlimit(resource, &r) == 0);
}

static volatile sig_atomic_t xfsz_delivered;

static void count_xfsz(int sig)
{
	(void)sig;
	xfsz_delivered++;
}

/* How the program treats SIGXFSZ: "default" (dies of it), "handler",
 * "blocked", "pending" (blocked with one of its own pending, which must
 * stay), "ignored". */
static void xfsz_setup(const char *how)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	if (strcmp(how, "handler") == 0) {
		struct sigaction sa = { .sa_handler = count_xfsz };
		sigaction(SIGXFSZ, &sa, NULL);
	} else if (strcmp(how, "blocked") == 0 || strcmp(how, "pending") == 0) {
		signal(SIGXFSZ, SIG_DFL);
		sigprocmask(SIG_BLOCK, &set, NULL);
		if (strcmp(how, "pending") == 0)
			raise(SIGXFSZ);
	} else if (strcmp(how, "ignored") == 0) {
		signal(SIGXFSZ, SIG_IGN);
	} else {
		signal(SIGXFSZ, SIG_DFL);
	}
}

static void xfsz_verdict(const char *how)
{
	sigset_t pending;
	sigpending(&pending);
	bool is_pending = sigismember(&pending, SIGXFSZ);
	T_ASSERT(is_pending == (strcmp(how, "pending") == 0),
		 "SIGXFSZ pending: %d (the program's own must stay, no other may be left)",
		 is_pending);
	T_ASSERT(xfsz_delivered == 0, "%d SIGXFSZ delivered", (int)xfsz_delivered);
}

/*
 * fsize WHEN LIMIT N HOW: N accepts under RLIMIT_FSIZE = LIMIT bytes, set
 * WHEN: "start" (before the program started: set here, then this program
 * exec'd again with it), "load" (by the program after the library loaded,
 * before its first call), "midrun" (after two records, then a pause past
 * the library's once-a-second look), "child" (in a forked child before its
 * first call). HOW: the program's SIGXFSZ (see xfsz_setup).
 */
static void sc_fsize(int argc, char **argv)
{
	T_ASSERT(argc > 6, "fsize WHEN LIMIT N HOW");
	const char *when = argv[3], *how = argv[6];
	rlim_t limit = (rlim_t)atoll(argv[4]);
	int n = atoi(argv[5]);
	if (strcmp(when, "start") == 0) {
		set_limit(RLIMIT_FSIZE, limit, RLIM_INFINITY);
		static char started[] = "started";
		char *args[] = { argv[0], argv[1], argv[2], started, argv[4], argv[5], argv[6],
				 NULL };
		execv("/proc/self/exe", args);
		T_ASSERT(0, "exec: %s", strerror(errno));
	}
	xfsz_setup(how);
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	if (strcmp(when, "load") == 0)
		set_limit(RLIMIT_FSIZE, limit, RLIM_INFINITY);
	if (strcmp(when, "midrun") == 0) {
		accepts_unchanged(&l, 1);
		set_limit(RLIMIT_FSIZE, limit, RLIM_INFINITY);
		usleep(1100 * 1000);
	}
	if (strcmp(when, "child") == 0) {
		accepts_unchanged(&l, 1);
		pid_t pid = fork();
		T_CHECK(pid >= 0);
		if (pid == 0) {
			if (strcmp(how, "pending") == 0)
				raise(SIGXFSZ); /* pending signals stay with the parent */
			set_limit(RLIMIT_FSIZE, limit, RLIM_INFINITY);
			accepts_unchanged(&l, n);
			xfsz_verdict(how);
			struct accept4shim_stats s;
			get_stats(&s);
			say("fsize pid=%d calls=%llu dropped=%llu", (int)getpid(),
			    (unsigned long long)s.calls, (unsigned long long)s.dropped);
			exit(0);
		}
		int status;
		T_CHECK(waitpid(pid, &status, 0) == pid);
		say("child status=%d", status);
		return;
	}
	accepts_unchanged(&l, n);
	xfsz_verdict(how);
	struct accept4shim_stats s;
	get_stats(&s);
	say("fsize pid=%d calls=%llu dropped=%llu", (int)getpid(), (unsigned long long)s.calls,
	    (unsigned long long)s.dropped);
	t_close_listener(&l);
}

/*
 * The program lowers RLIMIT_FSIZE while another of its threads is writing a
 * record. The library learns a new limit from the call itself (rlimit.c),
 * but the other thread may have looked before and be on its way into the
 * kernel with no guard: the change must wait for it. Made certain here
 * with a seccomp filter on the writer thread that holds its write to the
 * trace at the kernel's door (SECCOMP_RET_USER_NOTIF) until this thread is
 * inside setrlimit, waiting, or back from it; then the write goes on
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE) and meets whatever limit is then in
 * force. Without the wait, SIGXFSZ kills the process.
 */
static struct {
	int trace_fd;
	struct t_listener *l;
	atomic_int listener; /* the filter's notification descriptor */
	atomic_int held;     /* the writer's write is held */
	atomic_int returned; /* setrlimit has returned */
	atomic_int main_tid;
	atomic_int filter_failed;
} race;

static void *race_writer(void *arg)
{
	(void)arg;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)race.trace_fd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	int nfd = -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
		nfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				   SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (nfd < 0) {
		atomic_store(&race.filter_failed, errno);
		return NULL;
	}
	atomic_store(&race.listener, nfd);
	/* Traced: its record's write is held until the supervisor lets it. */
	int c = client_to(race.l);
	int fd = accept4(race.l->fd, NULL, NULL, SOCK_CLOEXEC);
	T_ASSERT(fd >= 0, "the writer's accept4: %s", strerror(errno));
	close(fd);
	close(c);
	return NULL;
}

static long syscall_of(int tid)
{
	char path[64], buf[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Answers the writer's notifications: the first once this thread is
 * waiting inside setrlimit (in futex) or back from it, the rest at once. */
static void *race_supervisor(void *arg)
{
	(void)arg;
	int nfd;
	while ((nfd = atomic_load(&race.listener)) < 0 && !atomic_load(&race.filter_failed))
		usleep(100);
	if (nfd < 0)
		return NULL;
	for (bool first = true;; first = false) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		if (poll(&p, 1, 10000) <= 0 || !(p.revents & POLLIN))
			break; /* the writer is gone (POLLHUP) */
		struct seccomp_notif req;
		memset(&req, 0, sizeof(req));
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0)
			break;
		if (first) {
			atomic_store(&race.held, 1);
			while (!atomic_load(&race.returned) &&
			       syscall_of(atomic_load(&race.main_tid)) != SYS_futex)
				usleep(50);
		}
		struct seccomp_notif_resp resp = { .id = req.id,
						   .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0)
			break;
	}
	close(nfd);
	return NULL;
}

/* The trace's descriptor: the one open on the file named by the trace. */
static int trace_descriptor(void)
{
	const char *log = getenv("ACCEPT4SHIM_LOG");
	T_ASSERT(log != NULL, "no ACCEPT4SHIM_LOG");
	int highest = -1;
	T_ASSERT(fds_on(log, &highest) == 1, "the trace %s is not open once", log);
	return highest;
}

/* fsize_race: see above. */
static void sc_fsize_race(int argc, char **argv)
{
	(void)argc, (void)argv;
	signal(SIGXFSZ, SIG_DFL);
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	accepts_unchanged(&l, 2); /* the trace is open and holds records */
	race.trace_fd = trace_descriptor();
	race.l = &l;
	atomic_store(&race.listener, -1);
	atomic_store(&race.main_tid, self_tid());
	pthread_t w, s;
	T_ASSERT(pthread_create(&s, NULL, race_supervisor, NULL) == 0, "pthread_create");
	T_ASSERT(pthread_create(&w, NULL, race_writer, NULL) == 0, "pthread_create");
	while (!atomic_load(&race.held) && !atomic_load(&race.filter_failed))
		usleep(100);
	T_ASSERT(!atomic_load(&race.filter_failed),
		 "cannot hold a write (seccomp user notification, Linux 5.5): %s",
		 strerror(atomic_load(&race.filter_failed)));
	set_limit(RLIMIT_FSIZE, 100, RLIM_INFINITY);
	atomic_store(&race.returned, 1);
	T_ASSERT(pthread_join(w, NULL) == 0, "pthread_join");
	T_ASSERT(pthread_join(s, NULL) == 0, "pthread_join");
	accepts_unchanged(&l, 2);
	struct accept4shim_stats st;
	get_stats(&st);
	say("fsize pid=%d calls=%llu dropped=%llu", (int)getpid(), (unsigned long long)st.calls,
	    (unsigned long long)st.dropped);
	t_close_listener(&l);
}

/*
 * fsize_vfork: a vfork child lowers its own RLIMIT_FSIZE to 1 byte and
 * exits. It shares its parent's memory, where the library keeps what it
 * knows of the limit, but not its parent's limits: the parent's records
 * must all go on being written.
 */
static pid_t __attribute__((noinline)) vfork_lowering(void)
{
	static struct rlimit one = { 1, RLIM_INFINITY };
	pid_t pid = vfork();
	if (pid == 0)
		_exit(setrlimit(RLIMIT_FSIZE, &one) == 0 ? 0 : 1);
	return pid;
}

static void sc_fsize_vfork(int argc, char **argv)
{
	(void)argc, (void)argv;
	signal(SIGXFSZ, SIG_DFL);
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	accepts_unchanged(&l, 2);
	pid_t pid = vfork_lowering();
	T_CHECK(pid > 0);
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the vfork child: %#x", status);
	accepts_unchanged(&l, 2);
	struct accept4shim_stats st;
	get_stats(&st);
	say("fsize pid=%d calls=%llu dropped=%llu", (int)getpid(), (unsigned long long)st.calls,
	    (unsigned long long)st.dropped);
	t_close_listener(&l);
}

/* Opens /dev/null until the soft limit is reached; how many. */
static int fill_descriptors(int *fds, int max)
{
	int n = 0;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			T_ASSERT(errno == EMFILE, "filling: %s", strerror(errno));
			return n;
		}
		T_ASSERT(n < max, "more descriptors than the limit");
		fds[n++] = fd;
	}
}

/*
 * emfile HARD THEN: RLIMIT_NOFILE soft 64, hard HARD ("same": 64, "room":
 * as it was), every descriptor taken, a connection queued, then the
 * process's first call: accept4, which fails with EMFILE. THEN: "free"
 * closes two descriptors and accepts the connection (the next call must be
 * recorded at once, after the first); "never" leaves them taken until exit.
 * Prints the trace descriptor's number (-1: none) after the first call.
 */
static void sc_emfile(int argc, char **argv)
{
	T_ASSERT(argc > 4, "emfile HARD THEN");
	struct rlimit was;
	T_CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0);
	set_limit(RLIMIT_NOFILE, 64, strcmp(argv[3], "same") == 0 ? 64 : was.rlim_max);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	int c = client_to(&l);
	int fds[64];
	int n = fill_descriptors(fds, 64);
	errno = 0;
	T_ASSERT(accept4(l.fd, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EMFILE,
		 "the first call: %s", strerror(errno));
	char trace[PATH_MAX];
	int tfd = -1;
	if (t_trace_path(trace, sizeof(trace), getpid()))
		fds_on(trace, &tfd); /* t_fd_on's opendir would need a descriptor */
	struct rlimit now;
	T_CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
	say("first tracefd=%d soft=%llu hard=%llu", tfd, (unsigned long long)now.rlim_cur,
	    (unsigned long long)now.rlim_max);
	if (strcmp(argv[4], "free") == 0) {
		close(fds[--n]);
		close(fds[--n]);
		int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
		T_ASSERT(fd >= 0, "accept4 with room: %s", strerror(errno));
		close(fd);
	}
	struct accept4shim_stats s;
	get_stats(&s);
	say("emfile calls=%llu dropped=%llu", (unsigned long long)s.calls,
	    (unsigned long long)s.dropped);
	if (strcmp(argv[4], "free") == 0)
		close(c);
	/* returns from main with the descriptors still taken under "never":
	 * the exit summary has to do without one too. */
}

/*
 * place SOFT: RLIMIT_NOFILE soft SOFT under the same hard limit, then one
 * record: where did the trace's descriptor go, can the program's dup2 put a
 * file there, is the limit still SOFT. Then the program closes it (as
 * "close every descriptor from 3" does) and opens files: none lands on the
 * number, and the next record finds a descriptor again.
 */
static void sc_place(int argc, char **argv)
{
	T_ASSERT(argc > 3, "place SOFT");
	struct rlimit was, now;
	T_CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0);
	rlim_t soft = (rlim_t)atoll(argv[3]);
	set_limit(RLIMIT_NOFILE, soft, was.rlim_max);
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	one_accept(&l, 0);
	char trace[PATH_MAX];
	T_ASSERT(t_trace_path(trace, sizeof(trace), getpid()), "no trace file");
	int tfd = t_fd_on(trace);
	T_CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
	/* The kernel's own answer to a program that wants that number. */
	errno = 0;
	int dup_r = tfd >= 0 ? dup2(0, tfd) : -1;
	int dup_err = dup_r == tfd ? 0 : errno;
	T_CHECK(syscall(SYS_close_range, 3, ~0U, 0) == 0);
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	int data = open("/dev/null", O_WRONLY | O_CLOEXEC);
	one_accept(&l, 0);
	int again = t_fd_on(trace);
	say("place fd=%d soft=%llu hard=%llu dup2_errno=%d again=%d data=%d", tfd,
	    (unsigned long long)now.rlim_cur, (unsigned long long)now.rlim_max, dup_err, again,
	    data);
}

/*
 * stack: accepts from a signal handler running on an alternate stack that
 * is filled with a pattern first, and says how much of it each call used:
 * the first (the trace is opened, or said to be unusable) and the second
 * (a record to a trace already open, or dropped).
 */
static char alt_stack[65536];
static int alt_listener;

static void accept_on_alt_stack(int sig)
{
	(void)sig;
	int fd = accept4(alt_listener, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
}

static size_t alt_stack_used(void)
{
	memset(alt_stack, 0xa5, sizeof(alt_stack));
	raise(SIGUSR1);
	size_t i = 0;
	while (i < sizeof(alt_stack) && (unsigned char)alt_stack[i] == 0xa5)
		i++;
	return sizeof(alt_stack) - i;
}

static void sc_stack(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, SOCK_NONBLOCK);
	alt_listener = l.fd;
	int c1 = client_to(&l), c2 = client_to(&l);
	stack_t ss = { .ss_sp = alt_stack, .ss_size = sizeof(alt_stack) };
	T_CHECK(sigaltstack(&ss, NULL) == 0);
	struct sigaction sa = { .sa_handler = accept_on_alt_stack, .sa_flags = SA_ONSTACK };
	T_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	size_t first = alt_stack_used(), second = alt_stack_used();
	say("stack first=%zu second=%zu", first, second);
	close(c1);
	close(c2);
}

static const struct t_scenario own[] = {
	{ "stack", sc_stack },
	{ "fsize", sc_fsize },
	{ "fsize_race", sc_fsize_race },
	{ "fsize_vfork", sc_fsize_vfork },
	{ "emfile", sc_emfile },
	{ "place", sc_place },
	{ NULL, NULL },
};

/* ---- RLIMIT_FSIZE ---- */

#define FSIZE_LIMIT 2000
#define FSIZE_CALLS 30

static const char *const fsize_whens[] = { "start", "load", "midrun", "child" };
static const char *const xfsz_ways[] = { "default", "handler", "blocked", "pending", "ignored" };

/* The lines of s that start with prefix, counted. */
static size_t count_lines(const char *s, const char *prefix)
{
	struct lines l;
	lines_of(s, prefix, &l);
	size_t n = l.n;
	lines_free(&l);
	return n;
}

/* What every RLIMIT_FSIZE case asks of the trace file: no larger than the
 * limit, every line a whole record (strict: no bad line at all), every
 * call either there or counted as dropped, and one line on stderr. */
static void expect_fsize(const struct result *r, const char *trace, long long calls_extra)
{
	struct stat st;
	T_CHECK(stat(trace, &st) == 0);
	ck_assert_int_le(st.st_size, FSIZE_LIMIT);
	struct result c;
	tracecheck(&c, trace, false);
	struct lines facts;
	lines_of(r->out.p, "fsize ", &facts);
	ck_assert_uint_eq(facts.n, 1);
	long long calls = field_ll(facts.v[0], "calls"), dropped = field_ll(facts.v[0], "dropped");
	ck_assert_int_gt(dropped, 0);
	ck_assert_int_eq((long long)count_lines(c.out.p, "rec ") - calls_extra, calls - dropped);
	ck_assert_uint_eq(count_lines(r->err.p, "accept4shim: "), 1);
	ck_assert_msg(strstr(r->err.p, ": the file size limit (RLIMIT_FSIZE) is reached; records "
				       "are dropped and counted\n"),
		      "stderr: %s", r->err.p);
	lines_free(&facts);
	text_free(&c.out);
}

START_TEST(at_the_file_size_limit_records_are_dropped_whole_and_the_host_lives)
{
	/* _i: the moment the limit comes, times the program's SIGXFSZ. */
	const char *when = fsize_whens[_i % 4], *how = xfsz_ways[_i / 4];
	char dir[64], trace[128], v_log[160], limit[32], n[16];
	temp_trace(dir, trace, v_log, "trace.json");
	snprintf(limit, sizeof(limit), "%d", FSIZE_LIMIT);
	snprintf(n, sizeof(n), "%d", FSIZE_CALLS);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	const char *argv[] = { "/proc/self/exe", "scenario", "fsize", when, limit, n, how, NULL };
	struct proc p;
	struct result r;
	spawn(&p, argv, vars, -1, -1);
	collect(&p, &r, 60000);
	T_ASSERT(r.status == 0, "%s/%s: status %d (SIGXFSZ is %d)\n%s\n%s", when, how, r.status,
		 SIGXFSZ, r.out.p, r.err.p);
	if (strcmp(when, "child") == 0) {
		ck_assert_ptr_nonnull(strstr(r.out.p, "child status=0\n"));
		/* The parent's two calls are in the file too. */
		expect_fsize(&r, trace, 2);
	} else {
		expect_fsize(&r, trace, 0);
	}
	text_free(&r.out);
	text_free(&r.err);
	remove_dir(dir);
}
END_TEST

START_TEST(stderr_on_a_regular_file_at_its_size_limit_never_kills_or_tears)
{
	/* LOG=stderr, and stderr a file: the library writes fd 2 itself,
	 * under the same rules. The exit summary, which cannot go anywhere
	 * else, is dropped with the records that did not fit. */
	const char *how = xfsz_ways[_i];
	char dir[64], err_path[128], limit[32], n[16];
	temp_dir(dir, sizeof(dir));
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	int ef = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	T_CHECK(ef >= 0);
	snprintf(limit, sizeof(limit), "%d", FSIZE_LIMIT);
	snprintf(n, sizeof(n), "%d", FSIZE_CALLS);
	const char *vars[] = { "ACCEPT4SHIM_LOG=stderr", "ACCEPT4SHIM_LOG_FORMAT=json",
			       "ACCEPT4SHIM_STATS=1", NULL };
	const char *argv[] = { "/proc/self/exe", "scenario", "fsize", "start", limit, n, how, NULL };
	struct proc p;
	struct result r, c;
	spawn(&p, argv, vars, -1, ef);
	close(ef);
	collect(&p, &r, 60000);
	T_ASSERT(r.status == 0, "%s: status %d\n%s", how, r.status, r.out.p);
	struct stat st;
	T_CHECK(stat(err_path, &st) == 0);
	ck_assert_int_le(st.st_size, FSIZE_LIMIT);
	tracecheck(&c, err_path, false);
	long long calls = field_ll(r.out.p, "calls"), dropped = field_ll(r.out.p, "dropped");
	ck_assert_int_gt(dropped, 0);
	ck_assert_int_eq((long long)count_lines(c.out.p, "rec "), calls - dropped);
	text_free(&r.out);
	text_free(&c.out);
	remove_dir(dir);
}
END_TEST

/* A scenario with a JSON trace that must end well (not killed by SIGXFSZ)
 * with these counts, and every record written whole. */
static void fsize_scenario(const char *name, long long calls, long long dropped)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, name, NULL, NULL);
	T_ASSERT(r.status == 0, "%s: status %d (SIGXFSZ is %d)\n%s\n%s", name, r.status, SIGXFSZ,
		 r.out.p, r.err.p);
	ck_assert_int_eq(field_ll(r.out.p, "calls"), calls);
	ck_assert_int_eq(field_ll(r.out.p, "dropped"), dropped);
	tracecheck(&c, trace, false);
	ck_assert_uint_eq(count_lines(c.out.p, "rec "), (size_t)(calls - dropped));
	text_free(&c.out);
	text_free(&r.out);
	text_free(&r.err);
	remove_dir(dir);
}

START_TEST(a_record_under_way_when_another_thread_lowers_the_limit_is_waited_for)
{
	/* 3 + 1 + 3 calls; the held record was written under the old limit,
	 * the last three are dropped, whole. */
	fsize_scenario("fsize_race", 7, 3);
}
END_TEST

START_TEST(a_vfork_child_lowering_its_own_limit_leaves_the_parents_trace_alone)
{
	fsize_scenario("fsize_vfork", 6, 0);
}
END_TEST

/* ---- RLIMIT_NOFILE ---- */

struct emfile_case {
	const char *hard, *then, *log;
};

/* room/same, free/never, a fixed path and one with %p. */
static const struct emfile_case emfile_cases[] = {
	{ "room", "free", "trace.json" },  { "room", "free", "trace.%p.json" },
	{ "same", "free", "trace.json" },  { "same", "free", "trace.%p.json" },
	{ "room", "never", "trace.json" }, { "same", "never", "trace.json" },
};

START_TEST(a_call_that_fails_for_want_of_descriptors_is_recorded_the_first_included)
{
	const struct emfile_case *k = &emfile_cases[_i];
	char dir[64], v_log[160], err_path[128];
	temp_dir(dir, sizeof(dir));
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s/%s", dir, k->log);
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	int ef = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	T_CHECK(ef >= 0);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", "ACCEPT4SHIM_STATS=1", NULL };
	const char *argv[] = { "/proc/self/exe", "scenario", "emfile", k->hard, k->then, NULL };
	struct proc p;
	struct result r;
	spawn(&p, argv, vars, -1, ef);
	close(ef);
	collect(&p, &r, 60000);
	expect_ok(&r, k->log);
	struct lines first;
	lines_of(r.out.p, "first ", &first);
	ck_assert_uint_eq(first.n, 1);
	/* The limit is as the program set it. */
	ck_assert_int_eq(field_ll(first.v[0], "soft"), 64);
	bool room = strcmp(k->hard, "room") == 0, freed = strcmp(k->then, "free") == 0;
	long long tfd = field_ll(first.v[0], "tracefd");
	if (room)
		ck_assert_msg(tfd >= 64, "the first record needs a descriptor above the limit: %lld",
			      tfd);
	else
		ck_assert_msg(tfd == -1, "a descriptor under a limit of 64 all taken: %lld", tfd);

	/* The trace: the EMFILE record first, then the accept, then the
	 * summary; or, with no descriptor ever, nothing (and the summary on
	 * stderr counts the held record as dropped). */
	char trace[160];
	snprintf(trace, sizeof(trace), "%s/%s", dir, k->log);
	char *pp = strstr(trace, "%p");
	if (pp) {
		char rest[64];
		snprintf(rest, sizeof(rest), "%s", pp + 2);
		snprintf(pp, sizeof(trace) - (size_t)(pp - trace), "%d%s", (int)p.pid, rest);
	}
	struct text err;
	read_file(err_path, &err);
	if (freed || room) {
		struct result c;
		tracecheck(&c, trace, false);
		struct lines recs, sums;
		lines_of(c.out.p, "rec ", &recs);
		lines_of(c.out.p, "summary ", &sums);
		ck_assert_uint_eq(recs.n, freed ? 2 : 1);
		ck_assert_ptr_nonnull(strstr(recs.v[0], " errno=EMFILE "));
		if (freed)
			ck_assert_ptr_nonnull(strstr(recs.v[1], " errno=~ "));
		ck_assert_uint_eq(sums.n, 1);
		ck_assert_int_eq(field_ll(sums.v[0], "dropped"), 0);
		ck_assert_int_eq(field_ll(r.out.p, "dropped"), 0);
		lines_free(&recs);
		lines_free(&sums);
		text_free(&c.out);
	} else {
		ck_assert_int_eq(access(trace, F_OK), -1);
		ck_assert_msg(strstr(err.p, "\"summary\":\"exit\",\"calls\":1,") &&
				      strstr(err.p, "\"dropped\":1,"),
			      "the summary on stderr: %s", err.p);
	}
	/* Said once, where it could not be written at once. */
	if (!room)
		ck_assert_msg(strstr(err.p, ": cannot open: too many open files in this process "
					    "(EMFILE); records wait for a free descriptor"),
			      "stderr: %s", err.p);
	else
		ck_assert_ptr_null(strstr(err.p, "accept4shim: trace"));
	lines_free(&first);
	text_free(&err);
	text_free(&r.out);
	remove_dir(dir);
}
END_TEST

START_TEST(the_exit_summary_reaches_a_stderr_pipe_at_the_descriptor_limit)
{
	/* No trace, STATS=1, stderr a pipe, every descriptor taken until
	 * exit: the summary needs none of its own to be written. */
	const char *vars[] = { "ACCEPT4SHIM_STATS=1", NULL };
	struct result r;
	run_scenario(&r, vars, "emfile", "same", "never");
	expect_ok(&r, "emfile");
	ck_assert_msg(strncmp(r.err.p, "accept4shim: ts=", 16) == 0 &&
			      strstr(r.err.p, " summary=exit calls=1 accepted=0 failed=1 ") &&
			      strstr(r.err.p, " errors=EMFILE:1\n"),
		      "stderr: %s", r.err.p);
	text_free(&r.out);
	text_free(&r.err);
}
END_TEST

/* ---- where the descriptor sits ---- */

START_TEST(the_trace_descriptor_sits_where_the_program_can_never_be_given_its_number)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, NULL };
	struct result r;
	run_scenario(&r, vars, "place", "200", NULL);
	expect_ok(&r, "place");
	long long fd = field_ll(r.out.p, "fd"), again = field_ll(r.out.p, "again");
	ck_assert_msg(fd >= 200, "the trace at %lld, under the soft limit of 200", fd);
	ck_assert_int_eq(field_ll(r.out.p, "dup2_errno"), EBADF);
	ck_assert_int_eq(field_ll(r.out.p, "soft"), 200);
	ck_assert_msg(again >= 200, "after the program closed it, reopened at %lld", again);
	ck_assert_int_lt(field_ll(r.out.p, "data"), 200);
	text_free(&r.out);
	remove_dir(dir);
}
END_TEST

START_TEST(with_no_room_to_raise_the_limit_the_descriptor_sits_high_below_it)
{
	/* soft == hard: nothing above the limit can be had; the old place,
	 * 64 under the limit and never above 960. */
	struct rlimit lim;
	T_CHECK(getrlimit(RLIMIT_NOFILE, &lim) == 0);
	char dir[64], trace[128], v_log[160], soft[32];
	temp_trace(dir, trace, v_log, "trace.json");
	snprintf(soft, sizeof(soft), "%llu", (unsigned long long)lim.rlim_max);
	const char *vars[] = { v_log, NULL };
	struct result r;
	run_scenario(&r, vars, "place", soft, NULL);
	expect_ok(&r, "place");
	long long want = lim.rlim_max > 1024 ? 960 : (long long)lim.rlim_max - 64;
	ck_assert_int_eq(field_ll(r.out.p, "fd"), want);
	text_free(&r.out);
	remove_dir(dir);
}
END_TEST

/* ---- the stack ---- */

START_TEST(opening_the_trace_or_saying_it_cannot_fits_a_small_signal_stack)
{
	/* A program may accept in a signal handler on an alternate stack of
	 * SIGSTKSZ (8 KiB), much of it taken by the kernel's signal frame
	 * (about 3 KiB with AVX-512). The call that opens the trace, or says
	 * on stderr why it cannot, may use at most 2 KiB more of it than a
	 * call that only writes (or drops) its record: once that was a PATH_MAX
	 * path or two on the stack, 4 KiB more, and such a program died of
	 * SIGSEGV at its first traced call. */
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *logs[] = { v_log, "ACCEPT4SHIM_LOG=/nonexistent/a4s/trace.json" };
	for (int k = 0; k < 2; k++) {
		const char *vars[] = { logs[k], NULL };
		struct result r;
		run_scenario(&r, vars, "stack", NULL, NULL);
		expect_ok(&r, logs[k]);
		long long first = field_ll(r.out.p, "first"), second = field_ll(r.out.p, "second");
		ck_assert_msg(first - second <= 2048,
			      "%s: the first call used %lld bytes of stack, the second %lld", logs[k],
			      first, second);
		text_free(&r.out);
		text_free(&r.err);
	}
	remove_dir(dir);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("trace_limits");
	TCase *tc = tcase_create("fsize");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, at_the_file_size_limit_records_are_dropped_whole_and_the_host_lives,
			    0, 4 * 5);
	tcase_add_loop_test(tc, stderr_on_a_regular_file_at_its_size_limit_never_kills_or_tears, 0,
			    5);
	tcase_add_test(tc, a_record_under_way_when_another_thread_lowers_the_limit_is_waited_for);
	tcase_add_test(tc, a_vfork_child_lowering_its_own_limit_leaves_the_parents_trace_alone);
	suite_add_tcase(s, tc);
	tc = tcase_create("nofile");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, a_call_that_fails_for_want_of_descriptors_is_recorded_the_first_included,
			    0, (int)(sizeof(emfile_cases) / sizeof(emfile_cases[0])));
	tcase_add_test(tc, the_exit_summary_reaches_a_stderr_pipe_at_the_descriptor_limit);
	tcase_add_test(tc, the_trace_descriptor_sits_where_the_program_can_never_be_given_its_number);
	tcase_add_test(tc, with_no_room_to_raise_the_limit_the_descriptor_sits_high_below_it);
	suite_add_tcase(s, tc);
	tc = tcase_create("stack");
	tcase_add_test(tc, opening_the_trace_or_saying_it_cannot_fits_a_small_signal_stack);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	return t_trace_main(errno, argc, argv, own, make_suite);
}
