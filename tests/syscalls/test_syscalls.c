/*
 * The system calls one accept costs, counted with strace against the
 * minimum the SPEC allows:
 *   "Emulation costs one system call for the accept plus at most one per
 *    flag requested."
 *   INHERIT=bsd: "owner and signal before O_ASYNC; only what differs from a
 *    fresh socket costs a system call. ADD_FLAGS are applied on top."
 *   RETRY: the listener is checked "once the error is seen, not on every
 *    call".
 *
 * This program is also the probe it measures: run as
 * `test_syscalls --probe LISTENER CALL`, it sets up a listener with a
 * connection queued, then makes exactly one accept between two getppid()
 * calls, so that everything strace shows between those two markers is what
 * that one accept cost (the loader, the library's constructor and the setup
 * stay outside).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"

/* ---- the probe ---------------------------------------------------------- */

/* LISTENER: block | nonblock | async (non-blocking, O_ASYNC, owned by this
 * process) | async-sig (and F_SETSIG) | async-tid (owned by this thread,
 * F_OWNER_TID, and F_SETSIG) | udp | unlistened (a TCP socket never put
 * into listen), optionally followed by "+warm": the same call is made once
 * before the one measured, so what the library learns about a listener on
 * its first call is known. CALL: accept | accept4:FLAGS with FLAGS 0, nb,
 * ce or nbce. */
static int probe(const char *kind_arg, const char *call)
{
	char kind[64];
	snprintf(kind, sizeof(kind), "%s", kind_arg);
	char *plus = strchr(kind, '+');
	bool warm = plus && strcmp(plus, "+warm") == 0;
	if (plus)
		*plus = '\0';
	t_is_child = true; /* T_CHECK prints and exits instead of longjmp */
	sigset_t all;
	sigfillset(&all);
	/* SIGIO and the F_SETSIG signal arrive for the queued connection;
	 * blocked, they change nothing and strace shows no delivery. */
	T_CHECK(sigprocmask(SIG_BLOCK, &all, NULL) == 0);

	int fd;
	if (strcmp(kind, "udp") == 0 || strcmp(kind, "unlistened") == 0) {
		fd = socket(AF_INET, strcmp(kind, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM, 0);
		T_CHECK(fd >= 0);
	} else {
		struct t_listener l;
		bool nb = strcmp(kind, "block") != 0;
		t_listen(&l, T_TCP4, nb ? SOCK_NONBLOCK : 0);
		fd = l.fd;
		if (strncmp(kind, "async", 5) == 0) {
			bool tid = strcmp(kind, "async-tid") == 0;
			struct f_owner_ex owner = {
				tid ? F_OWNER_TID : F_OWNER_PID,
				tid ? (pid_t)syscall(SYS_gettid) : getpid(),
			};
			T_CHECK(fcntl(fd, F_SETOWN_EX, &owner) == 0);
			if (strcmp(kind, "async") != 0)
				T_CHECK(fcntl(fd, F_SETSIG, SIGRTMIN + 3) == 0);
			T_CHECK(fcntl(fd, F_SETFL, O_NONBLOCK | O_ASYNC) == 0);
		} else {
			T_ASSERT(strcmp(kind, "block") == 0 || strcmp(kind, "nonblock") == 0,
				 "unknown listener kind %s", kind);
		}
		/* A loopback connect completes in the kernel, without an
		 * accept: the connection waits in the queue. */
		for (int i = 0; i < (warm ? 2 : 1); i++) {
			int c = socket(AF_INET, SOCK_STREAM, 0);
			T_CHECK(c >= 0);
			T_CHECK(connect(c, (struct sockaddr *)&l.addr, l.addrlen) == 0);
		}
	}

	int flags = -1;
	if (strncmp(call, "accept4:", 8) == 0) {
		const char *f = call + 8;
		flags = (strstr(f, "nb") ? SOCK_NONBLOCK : 0) |
			(strstr(f, "ce") ? SOCK_CLOEXEC : 0);
	} else {
		T_ASSERT(strcmp(call, "accept") == 0, "unknown call %s", call);
	}

	if (warm)
		T_CHECK((flags < 0 ? accept(fd, NULL, NULL) : accept4(fd, NULL, NULL, flags)) >= 0);
	/* The library's one-time work in a process (noticing which process it
	 * is: a getpid, and the madvise that lets children notice they are
	 * new) is done by its first use, here asking for the counters; like
	 * the loader's and the constructor's, it stays outside the window. */
	int (*get_stats)(struct accept4shim_stats *, size_t);
	*(void **)&get_stats = dlsym(RTLD_DEFAULT, "accept4shim_get_stats");
	struct accept4shim_stats st;
	if (get_stats)
		(void)get_stats(&st, sizeof(st));

	syscall(SYS_getppid);
	int r = flags < 0 ? accept(fd, NULL, NULL) : accept4(fd, NULL, NULL, flags);
	syscall(SYS_getppid);
	(void)r;
	_exit(0);
}

/* ---- running it under strace -------------------------------------------- */

#define MAX_CALLS 160

struct trace {
	int n;
	char call[MAX_CALLS][256];
};

/*
 * One strace line "name(fd, rest...)   = result" becomes "name rest...":
 * the first argument (a descriptor number that varies) and the result are
 * dropped, so that expectations can be written as text.
 */
static void tokenize(const char *line, char *out, size_t size)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", line);
	char *eq = NULL;
	for (char *p = strstr(buf, " = "); p; p = strstr(p + 1, " = "))
		eq = p;
	if (eq) {
		while (eq > buf && eq[-1] == ' ')
			eq--;
		*eq = '\0';
	}
	size_t len = strlen(buf);
	if (len && buf[len - 1] == ')')
		buf[len - 1] = '\0';
	char *open = strchr(buf, '(');
	if (!open) {
		snprintf(out, size, "%s", buf);
		return;
	}
	*open = '\0';
	char *rest = strstr(open + 1, ", ");
	snprintf(out, size, "%s%s%s", buf, rest ? " " : "", rest ? rest + 2 : "");
}

/* Runs the probe under strace with env (NAME=VALUE strings, NULL-ended)
 * in its environment and collects the calls between the two markers. */
static void run_probe(const char *const *env, const char *kind, const char *call,
		      struct trace *t)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	T_CHECK(n > 0);
	self[n] = '\0';
	char out[] = "/tmp/a4s-strace-XXXXXX";
	int ofd = mkstemp(out);
	T_CHECK(ofd >= 0);
	close(ofd);

	/* execvp takes char *const[]; the strings are never written. */
	const char *argv[64];
	char *args[64];
	int a = 0;
	argv[a++] = "strace";
	argv[a++] = "-qq";
	argv[a++] = "-e";
	argv[a++] = "signal=none";
	argv[a++] = "-o";
	argv[a++] = out;
	for (; *env; env++) {
		argv[a++] = "-E";
		argv[a++] = *env;
	}
	argv[a++] = "--";
	argv[a++] = self;
	argv[a++] = "--probe";
	argv[a++] = kind;
	argv[a++] = call;
	argv[a] = NULL;
	for (int i = 0; i <= a; i++)
		args[i] = (char *)(uintptr_t)argv[i];

	fflush(NULL);
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		execvp("strace", args);
		_exit(127);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "strace of the probe (%s, %s) failed: status %#x", kind, call, status);

	FILE *f = fopen(out, "r");
	T_CHECK(f != NULL);
	char line[512];
	int markers = 0;
	t->n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "getppid(", 8) == 0) {
			markers++;
			continue;
		}
		if (markers == 1) {
			T_ASSERT(t->n < MAX_CALLS, "too many calls");
			tokenize(line, t->call[t->n], sizeof(t->call[0]));
			t->n++;
		}
	}
	fclose(f);
	unlink(out);
	T_ASSERT(markers == 2, "expected two getppid markers, saw %d", markers);
}

static void show(const struct trace *t, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	for (int i = 0; i < t->n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "\n    %s", t->call[i]);
}

/* The calls must be exactly `want`, in order; each expected string is a
 * prefix of the call as strace shows it (first argument dropped). */
static void expect_calls(const char *const *env, const char *kind, const char *call,
			 const char *const *want)
{
	struct trace t;
	run_probe(env, kind, call, &t);
	int n = 0;
	while (want[n])
		n++;
	char got[4096];
	show(&t, got, sizeof(got));
	ck_assert_msg(t.n == n, "%s from a %s listener: %d system calls, want %d:%s", call,
		      kind, t.n, n, got);
	for (int i = 0; i < n; i++)
		ck_assert_msg(strncmp(t.call[i], want[i], strlen(want[i])) == 0,
			      "%s from a %s listener: call %d is \"%s\", want \"%s...\":%s", call,
			      kind, i + 1, t.call[i], want[i], got);
}

#define LIB t_preload()
#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define CALLS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The three reads that inheritance needs: status flags, owner, signal. */
#define READS "fcntl F_GETFL", "fcntl F_GETOWN_EX", "fcntl F_GETSIG"

/* ---- the counts ---------------------------------------------------------- */

START_TEST(a_plain_accept_costs_one_call)
{
	expect_calls(ENV("A4S_NONE=1"), "block", "accept", CALLS("accept NULL"));
	expect_calls(ENV(LIB), "block", "accept", CALLS("accept NULL"));
	expect_calls(ENV(LIB, "ACCEPT4SHIM_MODE=native"), "nonblock", "accept",
		     CALLS("accept NULL"));
	/* INHERIT=linux is the real accept, also from an O_ASYNC listener. */
	expect_calls(ENV(LIB, "ACCEPT4SHIM_INHERIT=linux"), "async-sig", "accept",
		     CALLS("accept NULL"));
}
END_TEST

START_TEST(bsd_inheritance_from_a_blocking_listener_reads_three_and_writes_nothing)
{
	expect_calls(ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd"), "block", "accept",
		     CALLS("accept NULL", READS));
}
END_TEST

START_TEST(bsd_inheritance_writes_only_what_differs_from_a_fresh_socket)
{
	const char *const *modes[] = {
		ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_MODE=native"),
		ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_MODE=emulate"),
		ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_MODE=auto"),
	};
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		/* Only O_NONBLOCK differs: one F_SETFL. */
		expect_calls(modes[m], "nonblock", "accept",
			     CALLS("accept NULL", READS, "fcntl F_SETFL, O_RDONLY|O_NONBLOCK"));
		/* Owner, then O_NONBLOCK and O_ASYNC together. */
		expect_calls(modes[m], "async", "accept",
			     CALLS("accept NULL", READS,
				   "fcntl F_SETOWN_EX, {type=F_OWNER_PID,",
				   "fcntl F_SETFL, O_RDONLY|O_NONBLOCK|FASYNC"));
		/* Owner and signal, both before O_ASYNC. */
		expect_calls(modes[m], "async-sig", "accept",
			     CALLS("accept NULL", READS,
				   "fcntl F_SETOWN_EX, {type=F_OWNER_PID,",
				   "fcntl F_SETSIG, SIGRT_5",
				   "fcntl F_SETFL, O_RDONLY|O_NONBLOCK|FASYNC"));
		/* A thread owner stays a thread owner. */
		expect_calls(modes[m], "async-tid", "accept",
			     CALLS("accept NULL", READS,
				   "fcntl F_SETOWN_EX, {type=F_OWNER_TID,",
				   "fcntl F_SETSIG, SIGRT_5",
				   "fcntl F_SETFL, O_RDONLY|O_NONBLOCK|FASYNC"));
	}
}
END_TEST

START_TEST(accept4_under_bsd_reads_nothing_from_the_listener)
{
	expect_calls(ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_MODE=native"),
		     "async-sig", "accept4:0", CALLS("accept4 NULL, NULL, 0"));
	expect_calls(ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_MODE=native"),
		     "async-sig", "accept4:nb", CALLS("accept4 NULL, NULL, SOCK_NONBLOCK"));
	expect_calls(ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_MODE=emulate"),
		     "async-sig", "accept4:nb",
		     CALLS("accept NULL", "fcntl F_SETFL, O_RDONLY|O_NONBLOCK"));
}
END_TEST

START_TEST(added_cloexec_is_atomic_through_native_accept4)
{
	/* One call: the legacy server's accept() becomes accept4 with
	 * SOCK_CLOEXEC, so no fork can come between accept and FD_CLOEXEC. */
	expect_calls(ENV(LIB, "ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC", "ACCEPT4SHIM_MODE=native"),
		     "block", "accept", CALLS("accept4 NULL, NULL, SOCK_CLOEXEC"));
	expect_calls(ENV(LIB, "ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC"), "block", "accept",
		     CALLS("accept4 NULL, NULL, SOCK_CLOEXEC"));
	/* Emulated: the accept and one F_SETFD, once the library knows the
	 * listener does not block (see the fork-window cases below). */
	expect_calls(ENV(LIB, "ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC", "ACCEPT4SHIM_MODE=emulate"),
		     "nonblock+warm", "accept", CALLS("accept NULL", "fcntl F_SETFD, FD_CLOEXEC"));
	/* Added to accept4's own flags too. */
	expect_calls(ENV(LIB, "ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC", "ACCEPT4SHIM_MODE=native"),
		     "block", "accept4:nb",
		     CALLS("accept4 NULL, NULL, SOCK_CLOEXEC|SOCK_NONBLOCK"));
}
END_TEST

START_TEST(emulated_accept4_costs_the_accept_plus_one_call_per_flag)
{
	const char *const *emu = ENV(LIB, "ACCEPT4SHIM_MODE=emulate");
	expect_calls(emu, "block", "accept4:0", CALLS("accept NULL"));
	expect_calls(emu, "block", "accept4:nb",
		     CALLS("accept NULL", "fcntl F_SETFL, O_RDONLY|O_NONBLOCK"));
	/* SOCK_CLOEXEC: from a listener the library knows does not block. */
	expect_calls(emu, "nonblock+warm", "accept4:ce",
		     CALLS("accept NULL", "fcntl F_SETFD, FD_CLOEXEC"));
	expect_calls(emu, "nonblock+warm", "accept4:nbce",
		     CALLS("accept NULL", "fcntl F_SETFD, FD_CLOEXEC",
			   "fcntl F_SETFL, O_RDONLY|O_NONBLOCK"));
}
END_TEST

/*
 * Issue 15, the fork window (docs/fork-window.md). The accept and F_SETFD
 * of an emulated SOCK_CLOEXEC run inside the gate, only ever around an
 * accept that does not block. Whether a listener blocks is read once
 * (F_GETFL) and remembered. On a blocking listener, the library first asks
 * whether a connection is there (ppoll with a zero timeout), and waits in
 * poll outside the gate when none is: that costs one call more than the
 * SPEC's budget, the price of a socket no child can inherit.
 */
START_TEST(the_fork_window_asks_once_whether_a_listener_blocks)
{
	const char *const *emu = ENV(LIB, "ACCEPT4SHIM_MODE=emulate");
	/* The first call of a thread also learns its id (gettid), which a
	 * fork waiting for it looks up in /proc if it stays inside long. */
	expect_calls(emu, "nonblock", "accept4:ce",
		     CALLS("fcntl F_GETFL", "gettid", "accept NULL", "fcntl F_SETFD, FD_CLOEXEC"));
	expect_calls(emu, "nonblock+warm", "accept4:ce",
		     CALLS("accept NULL", "fcntl F_SETFD, FD_CLOEXEC"));
}
END_TEST

START_TEST(the_fork_window_on_a_blocking_listener_costs_a_poll)
{
	const char *const *emu = ENV(LIB, "ACCEPT4SHIM_MODE=emulate");
	expect_calls(emu, "block", "accept4:ce",
		     CALLS("fcntl F_GETFL", "gettid", "ppoll", "accept NULL",
			   "fcntl F_SETFD, FD_CLOEXEC"));
	expect_calls(emu, "block+warm", "accept4:ce",
		     CALLS("ppoll", "accept NULL", "fcntl F_SETFD, FD_CLOEXEC"));
	expect_calls(emu, "block+warm", "accept4:nbce",
		     CALLS("ppoll", "accept NULL", "fcntl F_SETFD, FD_CLOEXEC",
			   "fcntl F_SETFL, O_RDONLY|O_NONBLOCK"));
	/* Natively, or without SOCK_CLOEXEC, nothing of it. */
	expect_calls(ENV(LIB, "ACCEPT4SHIM_MODE=native"), "block", "accept4:ce",
		     CALLS("accept4 NULL, NULL, SOCK_CLOEXEC"));
	expect_calls(emu, "block+warm", "accept4:nb",
		     CALLS("accept NULL", "fcntl F_SETFL, O_RDONLY|O_NONBLOCK"));
}
END_TEST

START_TEST(native_accept4_costs_one_call)
{
	expect_calls(ENV(LIB, "ACCEPT4SHIM_MODE=native"), "block", "accept4:nbce",
		     CALLS("accept4 NULL, NULL, SOCK_CLOEXEC|SOCK_NONBLOCK"));
	expect_calls(ENV(LIB), "nonblock", "accept4:0", CALLS("accept4 NULL, NULL, 0"));
}
END_TEST

START_TEST(inherited_and_added_nonblock_share_one_setfl)
{
	/* Added flags go to the kernel with the accept; inheritance adds only
	 * what the kernel did not already give: O_ASYNC, with the owner first. */
	expect_calls(ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_ADD_FLAGS=SOCK_NONBLOCK",
			 "ACCEPT4SHIM_MODE=native"),
		     "async", "accept",
		     CALLS("accept4 NULL, NULL, SOCK_NONBLOCK", READS,
			   "fcntl F_SETOWN_EX, {type=F_OWNER_PID,",
			   "fcntl F_SETFL, O_RDONLY|O_NONBLOCK|FASYNC"));
	/* Emulated: still one F_SETFL for both bits. */
	expect_calls(ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_ADD_FLAGS=SOCK_NONBLOCK",
			 "ACCEPT4SHIM_MODE=emulate"),
		     "async", "accept",
		     CALLS("accept NULL", READS, "fcntl F_SETOWN_EX, {type=F_OWNER_PID,",
			   "fcntl F_SETFL, O_RDONLY|O_NONBLOCK|FASYNC"));
	/* A non-blocking listener and an added SOCK_NONBLOCK: nothing left
	 * to write after the three reads. */
	expect_calls(ENV(LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_ADD_FLAGS=SOCK_NONBLOCK",
			 "ACCEPT4SHIM_MODE=native"),
		     "nonblock", "accept", CALLS("accept4 NULL, NULL, SOCK_NONBLOCK", READS));
}
END_TEST

START_TEST(retry_costs_nothing_until_an_error_is_seen)
{
	const char *const *retry = ENV(LIB, "ACCEPT4SHIM_RETRY=on");
	expect_calls(retry, "block", "accept", CALLS("accept NULL"));
	/* EOPNOTSUPP is on the retry list, but a datagram socket is not
	 * listening: one SO_ACCEPTCONN question, then the error, no retry. */
	expect_calls(retry, "udp", "accept",
		     CALLS("accept NULL", "getsockopt SOL_SOCKET, SO_ACCEPTCONN"));
	/* EINVAL (not listening) is not on the list at all. */
	expect_calls(retry, "unlistened", "accept", CALLS("accept NULL"));
}
END_TEST

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--probe") == 0)
		return probe(argv[2], argv[3]);

	Suite *s = suite_create("syscalls");
	TCase *tc = tcase_create("per accept");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_plain_accept_costs_one_call);
	tcase_add_test(tc, bsd_inheritance_from_a_blocking_listener_reads_three_and_writes_nothing);
	tcase_add_test(tc, bsd_inheritance_writes_only_what_differs_from_a_fresh_socket);
	tcase_add_test(tc, accept4_under_bsd_reads_nothing_from_the_listener);
	tcase_add_test(tc, added_cloexec_is_atomic_through_native_accept4);
	tcase_add_test(tc, emulated_accept4_costs_the_accept_plus_one_call_per_flag);
	tcase_add_test(tc, the_fork_window_asks_once_whether_a_listener_blocks);
	tcase_add_test(tc, the_fork_window_on_a_blocking_listener_costs_a_poll);
	tcase_add_test(tc, native_accept4_costs_one_call);
	tcase_add_test(tc, inherited_and_added_nonblock_share_one_setfl);
	tcase_add_test(tc, retry_costs_nothing_until_an_error_is_seen);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
