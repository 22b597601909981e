/*
 * SPEC "Destinations": "`stderr` is fd 2 while it is still the stderr the
 * program was started with; once the program has pointed fd 2 elsewhere
 * nothing more is written there. A process that never writes a record
 * holds no descriptor of the library's"; a reader that left raises no
 * SIGPIPE; a bad variable's complaint never blocks.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracekit.h"


/* ---- scenarios ---- */

/* Descriptors of this process open on the pipe with inode ino. */
static int holders_of_pipe(unsigned long long ino)
{
	char pipe_name[64];
	snprintf(pipe_name, sizeof(pipe_name), "pipe:[%llu]", ino);
	return fds_on(pipe_name, NULL);
}

/* One record on stderr (a pipe), then fd 2 pointed at /dev/null as a
 * daemon does, then three more calls. How many descriptors still hold the
 * original pipe, and what was dropped. */
static void sc_redirect(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct stat st;
	T_CHECK(fstat(2, &st) == 0 && S_ISFIFO(st.st_mode));
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	one_accept(&l, 0);
	int held_before = holders_of_pipe((unsigned long long)st.st_ino);
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	T_CHECK(nul >= 0 && dup2(nul, 2) == 2);
	close(nul);
	accepts_unchanged(&l, 2);
	struct accept4shim_stats s;
	get_stats(&s);
	say("redirect held_before=%d held_after=%d calls=%llu dropped=%llu", held_before,
	    holders_of_pipe((unsigned long long)st.st_ino), (unsigned long long)s.calls,
	    (unsigned long long)s.dropped);
	t_close_listener(&l);
}

/*
 * A daemon: the process forks and exits at once; the child detaches
 * (setsid, fd 0, 1 and 2 on /dev/null) and then lives until its old stdin
 * (a pipe the test holds, kept at fd 10) reaches end of file. With "calls"
 * it accepts after detaching. `out=$(daemon)` returns when every writer of
 * the command's stdout and stderr is gone: the detached daemon must hold
 * none of them.
 */
static void sc_daemon(int argc, char **argv)
{
	bool calls = argc > 3 && strcmp(argv[3], "calls") == 0;
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid > 0)
		exit(0);
	T_CHECK(setsid() >= 0);
	T_CHECK(dup2(0, 10) == 10);
	int nul = open("/dev/null", O_RDWR);
	T_CHECK(nul >= 0 && dup2(nul, 0) == 0 && dup2(nul, 1) == 1 && dup2(nul, 2) == 2);
	if (nul > 2)
		close(nul);
	if (calls) {
		struct t_listener l;
		t_listen(&l, T_TCP4, 0);
		accepts_unchanged(&l, 2);
		t_close_listener(&l);
	}
	char buf[16];
	while (read(10, buf, sizeof(buf)) > 0)
		;
	exit(0);
}

static const struct t_scenario own[] = {
	{ "redirect", sc_redirect },
	{ "daemon", sc_daemon },
	{ NULL, NULL },
};

static const char *const sigpipe_ways[] = { "handler", "default", "blocked", "pending" };

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

/* With *arg an errno, pwritev2 fails with it (a seccomp filter): as on a
 * kernel whose pipes refuse RWF_NOWAIT (EOPNOTSUPP), or under a sandbox
 * that refuses pwritev2 (EPERM). The library then writes the pipe through
 * a description of its own, opened anew. */
static void redirect_case(void *arg)
{
	int refused = arg ? *(int *)arg : 0;
	bool old_kernel = refused != 0;
	if (old_kernel)
		t_seccomp_fail_syscall(SYS_pwritev2, refused);
	const char *vars[] = { "ACCEPT4SHIM_LOG=stderr", "ACCEPT4SHIM_LOG_FORMAT=json",
			       "ACCEPT4SHIM_STATS=1", NULL };
	struct result r, c;
	run_scenario(&r, vars, "redirect", NULL, NULL);
	expect_ok(&r, "redirect");
	char dir[64], file[128];
	temp_dir(dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/stderr", dir);
	write_file(file, r.err.p, r.err.len);
	tracecheck(&c, file, false);
	struct lines recs, all;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(c.out.p, "", &all);
	T_ASSERT(recs.n == 1 && all.n == 1, "%zu records, %zu lines (no summary either):\n%s",
		 recs.n, all.n, r.err.p);
	/* The pipe was held by fd 2 alone (the library writes it with
	 * RWF_NOWAIT), or by fd 2 and a description of the library's, while
	 * it was the trace; then by nothing of the library's. */
	T_ASSERT(field_ll(r.out.p, "held_before") == (old_kernel ? 2 : 1) &&
			 field_ll(r.out.p, "held_after") == 0,
		 "%s", r.out.p);
	T_ASSERT(field_ll(r.out.p, "calls") == 4 && field_ll(r.out.p, "dropped") == 3, "%s",
		 r.out.p);
	lines_free(&recs);
	lines_free(&all);
	text_free(&c.out);
	text_free(&r.out);
	text_free(&r.err);
	remove_dir(dir);
}

START_TEST(once_fd_2_points_elsewhere_nothing_more_goes_to_the_first_stderr)
{
	/* SPEC: "once the program has pointed fd 2 elsewhere nothing more
	 * is written there" -- neither records nor the summary, and any
	 * description of ours on it is let go at the next record. */
	T_IN_CHILD(redirect_case, NULL);
	static int old_kernel = EOPNOTSUPP, sandbox = EPERM;
	T_IN_CHILD(redirect_case, &old_kernel);
	T_IN_CHILD(redirect_case, &sandbox);
}
END_TEST

static const char *const daemon_configs[][3] = {
	{ "ACCEPT4SHIM_LOG=stderr", "ACCEPT4SHIM_STATS=1", NULL },
	{ "ACCEPT4SHIM_STATS=1", NULL, NULL },
	{ "ACCEPT4SHIM_MODE=bogus", "ACCEPT4SHIM_LOG=stderr", NULL },
};

START_TEST(out_of_a_daemon_returns_as_soon_as_it_detaches)
{
	/* SPEC: "A process that never writes a record holds no descriptor of
	 * the library's (so $(daemon) returns as soon as the daemon
	 * detaches)". collect() reads the command's stdout and stderr to end
	 * of file, as $(...) does; the daemon lives on until we close its
	 * go pipe, after that. A copy of stderr held by the library keeps the
	 * end of file away: collect() then times out (status -1). */
	for (int calls = 0; calls < 2; calls++) {
		int go[2];
		T_CHECK(pipe2(go, O_CLOEXEC) == 0);
		const char *argv[] = { "/proc/self/exe", "scenario", "daemon",
				       calls ? "calls" : "idle", NULL };
		struct proc p;
		spawn(&p, argv, daemon_configs[_i], go[0], -1);
		close(go[0]);
		struct result r;
		collect(&p, &r, 20000);
		close(go[1]); /* now the daemon may go */
		ck_assert_msg(r.status == 0, "%s, %s: status %d (-1: still held after 20 s)",
			      daemon_configs[_i][0], calls ? "calls" : "no call", r.status);
		ck_assert_str_eq(r.out.p, "");
		text_free(&r.out);
		text_free(&r.err);
	}
}
END_TEST

/* A pipe whose buffer is full, its write end blocking again: a stderr
 * whose reader has stalled. */
static void full_pipe(int p[2])
{
	T_CHECK(pipe2(p, O_CLOEXEC) == 0);
	int fl = fcntl(p[1], F_GETFL);
	T_CHECK(fcntl(p[1], F_SETFL, fl | O_NONBLOCK) == 0);
	char block[4096];
	memset(block, 'x', sizeof(block));
	while (write(p[1], block, sizeof(block)) > 0)
		;
	T_ASSERT(errno == EAGAIN, "filling the pipe: %s", strerror(errno));
	while (write(p[1], block, 1) > 0)
		;
	T_CHECK(fcntl(p[1], F_SETFL, fl) == 0);
}

START_TEST(a_complaint_to_a_stalled_stderr_never_blocks_the_program)
{
	/* SPEC: "A complaint about a bad variable is written without
	 * blocking; one that cannot be written at once is dropped." The
	 * program must reach main() (its "errno" line on stdout) and end;
	 * with LOG=stderr its records are dropped too, counted. */
	for (int k = 0; k < 2; k++) {
		int ep[2];
		full_pipe(ep);
		const char *quiet[] = { "ACCEPT4SHIM_MODE=bogus", "ACCEPT4SHIM_INHERIT=bogus", NULL };
		const char *traced_vars[] = { "ACCEPT4SHIM_MODE=bogus", "ACCEPT4SHIM_LOG=stderr",
					      "ACCEPT4SHIM_STATS=1", NULL };
		const char *argv0[] = { "/proc/self/exe", "scenario", "errno", NULL };
		const char *argv1[] = { "/proc/self/exe", "scenario", "accepts", "3", NULL };
		struct proc p;
		spawn(&p, k ? argv1 : argv0, k ? traced_vars : quiet, -1, ep[1]);
		close(ep[1]);
		struct result r;
		collect(&p, &r, 20000);
		ck_assert_msg(r.status == 0, "status %d (-1: blocked on its stderr)", r.status);
		if (k)
			ck_assert_ptr_nonnull(strstr(r.out.p, "accepts calls=4 dropped=4\n"));
		else
			ck_assert_str_eq(r.out.p, "errno_at_start=0\n");
		/* Nothing but the filler in the pipe: the complaints, which
		 * could not go at once, were dropped, not left half-written. */
		int fl = fcntl(ep[0], F_GETFL);
		T_CHECK(fcntl(ep[0], F_SETFL, fl | O_NONBLOCK) == 0);
		char buf[65536];
		ssize_t n;
		while ((n = read(ep[0], buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < n; i++)
				ck_assert_msg(buf[i] == 'x', "something written into a full pipe");
		close(ep[0]);
		text_free(&r.out);
		text_free(&r.err);
	}
}
END_TEST

static const char *const stderr_names[] = { "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2" };

START_TEST(dev_stderr_and_its_aliases_mean_stderr)
{
	/* Each is a symbolic link, which the trace never follows; they are
	 * taken for what they say: the program's stderr, with stderr's
	 * rules. */
	char v_log[64];
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", stderr_names[_i]);
	const char *vars[] = { v_log, NULL };
	struct result r;
	run_scenario(&r, vars, "accepts", "2", NULL);
	expect_ok(&r, stderr_names[_i]);
	ck_assert_ptr_nonnull(strstr(r.out.p, "accepts calls=3 dropped=0\n"));
	struct lines recs;
	lines_of(r.err.p, "accept4shim: ts=", &recs);
	ck_assert_msg(recs.n == 3, "%s: stderr: %s", stderr_names[_i], r.err.p);
	lines_free(&recs);
	text_free(&r.out);
	text_free(&r.err);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("trace_stderr");
	TCase *tc_stderr = tcase_create("stderr");
	tcase_set_timeout(tc_stderr, 60);
	tcase_add_loop_test(tc_stderr, stderr_as_a_pipe_whose_reader_left_raises_no_sigpipe, 0, 4);
	tcase_add_test(tc_stderr, stderr_gone_before_start_costs_nothing_but_the_records);
	tcase_add_test(tc_stderr, a_file_the_program_opens_as_fd_2_is_not_stderr);
	tcase_add_test(tc_stderr, once_fd_2_points_elsewhere_nothing_more_goes_to_the_first_stderr);
	tcase_add_loop_test(tc_stderr, out_of_a_daemon_returns_as_soon_as_it_detaches, 0, 3);
	tcase_add_test(tc_stderr, a_complaint_to_a_stalled_stderr_never_blocks_the_program);
	tcase_add_loop_test(tc_stderr, dev_stderr_and_its_aliases_mean_stderr, 0, 3);
	suite_add_tcase(s, tc_stderr);
	return s;
}

int main(int argc, char **argv)
{
	return t_trace_main(errno, argc, argv, own, make_suite);
}
