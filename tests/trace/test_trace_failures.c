/*
 * SPEC, "Destinations": "An unusable destination, or one that fails, is
 * said once per process and cause on stderr, one line starting
 * `accept4shim: ` that names the destination and the reason; records are
 * then dropped and counted, and the summary goes to stderr."
 *
 * Once per cause however many calls (and however many reopen attempts), a
 * line for each new cause, a line for each new process; the summary on
 * stderr; syslog without a /dev/log. (Each cause's exact words are in
 * test_trace_units; nginx's workers as nobody in servers.py.)
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracekit.h"

/* ---- scenarios ---- */

static void a_second_later(void)
{
	usleep(1100 * 1000);
}

/*
 * The trace is a FIFO: without a reader (ENXIO, tried again a second
 * later: the same cause), with one (records flow), then with the reader
 * gone (EPIPE), then without one again (ENXIO, said already).
 */
static void sc_fifo_causes(int argc, char **argv)
{
	(void)argc, (void)argv;
	const char *fifo = getenv("ACCEPT4SHIM_LOG");
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	accepts_unchanged(&l, 1);
	a_second_later();
	accepts_unchanged(&l, 1);
	int rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	T_CHECK(rd >= 0);
	a_second_later();
	accepts_unchanged(&l, 1);
	close(rd);
	accepts_unchanged(&l, 1);
	a_second_later();
	accepts_unchanged(&l, 1);
	struct accept4shim_stats s;
	get_stats(&s);
	say("fifo calls=%llu dropped=%llu", (unsigned long long)s.calls,
	    (unsigned long long)s.dropped);
	t_close_listener(&l);
}

/* A parent and its forked child, each making calls with a trace that
 * cannot be opened. */
static void sc_forked_causes(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	accepts_unchanged(&l, 2);
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		accepts_unchanged(&l, 2);
		say("child pid=%d", (int)getpid());
		exit(0);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d", status);
	say("parent pid=%d", (int)getpid());
	t_close_listener(&l);
}

static const struct t_scenario own[] = {
	{ "fifo_causes", sc_fifo_causes },
	{ "forked_causes", sc_forked_causes },
	{ NULL, NULL },
};

/* ---- the cases ---- */

static void lines_with(const char *text, const char *prefix, struct lines *l)
{
	lines_of(text, prefix, l);
}

START_TEST(each_cause_is_said_once_per_process_however_often_it_happens)
{
	char dir[64], fifo[128], v_log[160];
	temp_dir(dir, sizeof(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	T_CHECK(mkfifo(fifo, 0600) == 0);
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", fifo);
	const char *vars[] = { v_log, NULL };
	struct result r;
	run_scenario(&r, vars, "fifo_causes", NULL, NULL);
	expect_ok(&r, "fifo_causes");
	char enxio[256], epipe[256];
	snprintf(enxio, sizeof(enxio),
		 "accept4shim: trace %s: cannot open: no reader on the FIFO (ENXIO); records are "
		 "dropped and counted\n",
		 fifo);
	snprintf(epipe, sizeof(epipe),
		 "accept4shim: trace %s: cannot write: the reader is gone (EPIPE); records are "
		 "dropped and counted\n",
		 fifo);
	char want[512];
	snprintf(want, sizeof(want), "%s%s", enxio, epipe);
	ck_assert_str_eq(r.err.p, want);
	/* 10 calls: 2 written while the reader was there */
	ck_assert_ptr_nonnull(strstr(r.out.p, "fifo calls=10 dropped=8\n"));
	text_free(&r.out);
	text_free(&r.err);
	remove_dir(dir);
}
END_TEST

START_TEST(a_forked_child_says_it_again_for_itself)
{
	const char *vars[] = { "ACCEPT4SHIM_LOG=/nonexistent/a4s/t.%p.json", NULL };
	struct result r;
	run_scenario(&r, vars, "forked_causes", NULL, NULL);
	expect_ok(&r, "forked_causes");
	long long parent = field_ll(strstr(r.out.p, "parent "), "pid");
	long long child = field_ll(strstr(r.out.p, "child "), "pid");
	char want[512];
	snprintf(want, sizeof(want),
		 "accept4shim: trace /nonexistent/a4s/t.%lld.json: cannot open: no such file or "
		 "directory (ENOENT); records are dropped and counted\n"
		 "accept4shim: trace /nonexistent/a4s/t.%lld.json: cannot open: no such file or "
		 "directory (ENOENT); records are dropped and counted\n",
		 parent, child);
	ck_assert_str_eq(r.err.p, want);
	text_free(&r.out);
	text_free(&r.err);
}
END_TEST

START_TEST(the_summary_of_an_unusable_trace_goes_to_stderr)
{
	const char *vars[] = { "ACCEPT4SHIM_LOG=/nonexistent/a4s/t.json", "ACCEPT4SHIM_STATS=1",
			       NULL };
	struct result r;
	run_scenario(&r, vars, "accepts", "3", NULL);
	expect_ok(&r, "accepts");
	struct lines said, sums;
	lines_with(r.err.p, "accept4shim: trace /nonexistent/a4s/t.json: cannot open: ", &said);
	lines_with(r.err.p, "accept4shim: ts=", &sums);
	ck_assert_uint_eq(said.n, 1);
	ck_assert_uint_eq(sums.n, 1);
	ck_assert_ptr_nonnull(strstr(sums.v[0], " summary=exit calls=4 accepted=3 failed=1 "));
	ck_assert_ptr_nonnull(strstr(sums.v[0], " dropped=4 "));
	lines_free(&said);
	lines_free(&sums);
	text_free(&r.out);
	text_free(&r.err);
}
END_TEST

static void no_dev_log_child(void *arg)
{
	(void)arg;
	private_dev();
	const char *vars[] = { "ACCEPT4SHIM_LOG=syslog", "ACCEPT4SHIM_STATS=1", NULL };
	struct result r;
	run_scenario(&r, vars, "accepts", "2", NULL);
	expect_ok(&r, "no /dev/log");
	static const char said[] = "accept4shim: trace syslog: cannot open: no such file or "
				   "directory (ENOENT); records are dropped and counted\n"
				   "accept4shim: ts=";
	T_ASSERT(strncmp(r.err.p, said, sizeof(said) - 1) == 0, "stderr: %s", r.err.p);
	T_ASSERT(strstr(r.err.p, " summary=exit calls=3 ") && strstr(r.err.p, " dropped=3 "),
		 "stderr: %s", r.err.p);
}

START_TEST(syslog_without_dev_log_is_said_and_the_summary_goes_to_stderr)
{
	T_IN_CHILD(no_dev_log_child, NULL);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("trace_failures");
	TCase *tc = tcase_create("loud");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, each_cause_is_said_once_per_process_however_often_it_happens);
	tcase_add_test(tc, a_forked_child_says_it_again_for_itself);
	tcase_add_test(tc, the_summary_of_an_unusable_trace_goes_to_stderr);
	tcase_add_test(tc, syslog_without_dev_log_is_said_and_the_summary_goes_to_stderr);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	return t_trace_main(errno, argc, argv, own, make_suite);
}
