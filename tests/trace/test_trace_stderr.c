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

static Suite *make_suite(void)
{
	Suite *s = suite_create("trace_stderr");
	TCase *tc_stderr = tcase_create("stderr");
	tcase_set_timeout(tc_stderr, 60);
	tcase_add_loop_test(tc_stderr, stderr_as_a_pipe_whose_reader_left_raises_no_sigpipe, 0, 4);
	tcase_add_test(tc_stderr, stderr_gone_before_start_costs_nothing_but_the_records);
	tcase_add_test(tc_stderr, a_file_the_program_opens_as_fd_2_is_not_stderr);
	suite_add_tcase(s, tc_stderr);
	return s;
}

int main(int argc, char **argv)
{
	return t_trace_main(errno, argc, argv, NULL, make_suite);
}
