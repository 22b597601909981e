/*
 * SPEC "Trace records": every record matches its call field by field, in
 * JSON and text; AF_UNIX names with any byte parse back exactly; many
 * threads and processes write whole lines and lose none; the exit summary
 * (STATS=1) matches accept4shim_get_stats, to the trace or to stderr, and a
 * process that made no call writes none; loading leaves main() errno 0.
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

static const char *const modes[] = { "native", "emulate", "auto" };

START_TEST(json_records_match_every_call_field_by_field)
{
	char dir[64], trace[128], v_log[160], v_mode[64];
	temp_trace(dir, trace, v_log, "trace.json");
	snprintf(v_mode, sizeof(v_mode), "ACCEPT4SHIM_MODE=%s", modes[_i]);
	const char *vars[] = { v_log, v_mode, "ACCEPT4SHIM_LOG_FORMAT=json",
			       "ACCEPT4SHIM_RETRY=on", NULL };
	struct result r, c;
	run_scenario(&r, vars, "calls", NULL, NULL);
	expect_ok(&r, "calls");
	ck_assert_str_eq(r.err.p, "");
	struct stat st;
	T_CHECK(stat(trace, &st) == 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	tracecheck(&c, trace, false);
	struct lines facts, recs;
	lines_of(r.out.p, "call ", &facts);
	lines_of(c.out.p, "rec ", &recs);
	ck_assert_uint_eq(facts.n, 4 * 4 + 6 + 1 + 1);
	compare(&facts, &recs);
	lines_free(&facts);
	lines_free(&recs);
	text_free(&r.out);
	text_free(&r.err);
	text_free(&c.out);
	text_free(&c.err);
	remove_dir(dir);
}
END_TEST

START_TEST(text_records_carry_the_same_facts)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.txt");
	/* text is the default format */
	const char *vars[] = { v_log, "ACCEPT4SHIM_MODE=emulate", "ACCEPT4SHIM_RETRY=on", NULL };
	struct result r1, r2;
	run_scenario(&r1, vars, "calls", NULL, NULL);
	expect_ok(&r1, "calls");
	run_scenario(&r2, vars, "names", NULL, NULL);
	expect_ok(&r2, "names");
	struct text file, recs = { 0 }, facts_text = { 0 };
	read_file(trace, &file);
	struct lines tl, facts, rl;
	lines_of(file.p, "", &tl);
	for (size_t i = 0; i < tl.n; i++) {
		T_ASSERT(strchr(tl.v[i], '\r') == NULL, "carriage return in a text record");
		text_to_rec(tl.v[i], &recs);
	}
	text_add(&facts_text, r1.out.p, r1.out.len);
	text_add(&facts_text, r2.out.p, r2.out.len);
	lines_of(facts_text.p, "call ", &facts);
	lines_of(recs.p, "rec ", &rl);
	compare(&facts, &rl);
	lines_free(&facts);
	lines_free(&rl);
	lines_free(&tl);
	text_free(&facts_text);
	text_free(&recs);
	text_free(&file);
	remove_dir(dir);
}
END_TEST

START_TEST(unix_names_with_any_byte_parse_back_exactly)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "names", NULL, NULL);
	expect_ok(&r, "names");
	tracecheck(&c, trace, false);
	struct lines facts, recs;
	lines_of(r.out.p, "call ", &facts);
	lines_of(c.out.p, "rec ", &recs);
	ck_assert_uint_eq(facts.n, 2);
	compare(&facts, &recs);
	/* The abstract name, byte for byte, quote, backslash, NUL and all. */
	char want[1024], got[1024];
	char raw[128] = "unix:@";
	memcpy(raw + 6, abstract_name + 1, sizeof(abstract_name) - 2);
	pct(raw, 6 + sizeof(abstract_name) - 2, want, sizeof(want));
	T_ASSERT(field(recs.v[0], "local", got, sizeof(got)), "no local");
	ck_assert_str_eq(got, want);
	/* and on the wire: escaped, pure ASCII, one line */
	struct text file;
	read_file(trace, &file);
	ck_assert_ptr_nonnull(strstr(file.p, "\"local\":\"unix:@q\\\"b\\\\s/\\u000a\\u0009\\u0001"
					     "\\u001f\\u0000z\\u007f\\u00c3\\u00a9\\u00ff end\","));
	lines_free(&facts);
	lines_free(&recs);
	text_free(&file);
	remove_dir(dir);
}
END_TEST

START_TEST(many_threads_and_processes_write_whole_lines_none_lost)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "storm", NULL, NULL);
	expect_ok(&r, "storm");
	tracecheck(&c, trace, false); /* fails on any torn or mixed line */
	struct lines recs, procs, mains;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(r.out.p, "proc ", &procs);
	lines_of(r.out.p, "main ", &mains);
	ck_assert_uint_eq(procs.n, 4);
	ck_assert_uint_eq(mains.n, 1);
	ck_assert_int_eq(field_ll(mains.v[0], "dropped"), 0);
	/* The trace's one descriptor, and no other left behind. */
	ck_assert_int_eq(field_ll(mains.v[0], "newfds"), 1);
	ck_assert_uint_eq(recs.n, 8 * 2000 + 4 * 1000);
	/* Per process, and in the threaded one per thread. */
	long long main_pid = field_ll(mains.v[0], "pid");
	int tids[8] = { 0 }, per_tid[8] = { 0 }, ntids = 0, per_proc[4] = { 0 };
	for (size_t i = 0; i < recs.n; i++) {
		long long pid = field_ll(recs.v[i], "pid");
		if (pid == main_pid) {
			int tid = (int)field_ll(recs.v[i], "tid");
			int k = 0;
			while (k < ntids && tids[k] != tid)
				k++;
			T_ASSERT(k < 8, "more than 8 threads wrote");
			if (k == ntids)
				tids[ntids++] = tid;
			per_tid[k]++;
			continue;
		}
		size_t k = 0;
		while (k < procs.n && field_ll(procs.v[k], "pid") != pid)
			k++;
		T_ASSERT(k < procs.n, "a record from pid %lld", pid);
		per_proc[k]++;
		T_ASSERT(field_ll(recs.v[i], "tid") == pid, "a child's tid");
	}
	ck_assert_int_eq(ntids, 8);
	for (int k = 0; k < 8; k++)
		ck_assert_int_eq(per_tid[k], 2000);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(per_proc[k], 1000);
	lines_free(&recs);
	lines_free(&procs);
	lines_free(&mains);
	text_free(&c.out);
	text_free(&r.out);
	remove_dir(dir);
}
END_TEST

START_TEST(stats_summary_at_exit_to_the_trace_matches_get_stats)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", "ACCEPT4SHIM_STATS=1",
			       "ACCEPT4SHIM_MODE=emulate", "ACCEPT4SHIM_RETRY=on", NULL };
	struct result r, c;
	run_scenario(&r, vars, "stats", NULL, NULL);
	expect_ok(&r, "stats");
	static const char counts[] = "calls=9 accepted=4 failed=5 emulated=3 retried_calls=1 "
				     "retries=128 dropped=0 errors=EBADF:1,EAGAIN:2,EINVAL:1,"
				     "ECONNABORTED:1";
	char want[256];
	snprintf(want, sizeof(want), "stats %s\n", counts);
	ck_assert_str_eq(r.out.p, want);
	tracecheck(&c, trace, false);
	struct lines recs, sums;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(c.out.p, "summary ", &sums);
	ck_assert_uint_eq(recs.n, 9);
	ck_assert_uint_eq(sums.n, 1);
	/* the summary is the last line, after every record */
	struct lines all;
	lines_of(c.out.p, "", &all);
	ck_assert_msg(strncmp(all.v[all.n - 1], "summary ", 8) == 0, "last: %s", all.v[all.n - 1]);
	lines_free(&all);
	ck_assert_msg(strstr(sums.v[0], counts) != NULL, "summary: %s", sums.v[0]);
	lines_free(&recs);
	lines_free(&sums);
	remove_dir(dir);
}
END_TEST

START_TEST(stats_summary_goes_to_stderr_when_there_is_no_trace)
{
	for (int json = 0; json < 2; json++) {
		const char *vars[] = { "ACCEPT4SHIM_STATS=1", "ACCEPT4SHIM_MODE=emulate",
				       "ACCEPT4SHIM_RETRY=on",
				       json ? "ACCEPT4SHIM_LOG_FORMAT=json" : NULL, NULL };
		struct result r;
		run_scenario(&r, vars, "stats", NULL, NULL);
		expect_ok(&r, "stats");
		if (!json) {
			ck_assert_msg(strncmp(r.err.p, "accept4shim: ts=", 16) == 0, "%s", r.err.p);
			ck_assert_msg(strstr(r.err.p, " summary=exit calls=9 accepted=4 failed=5 "
						      "emulated=3 retried_calls=1 retries=128 dropped=0 "
						      "errors=EBADF:1,EAGAIN:2,EINVAL:1,ECONNABORTED:1\n"),
				      "stderr: %s", r.err.p);
			ck_assert_ptr_eq(strchr(r.err.p, '\n'), r.err.p + r.err.len - 1);
		} else {
			char dir[64], file[128];
			temp_dir(dir, sizeof(dir));
			snprintf(file, sizeof(file), "%s/stderr", dir);
			write_file(file, r.err.p, r.err.len);
			struct result c;
			tracecheck(&c, file, false);
			ck_assert_msg(strncmp(c.out.p, "summary ", 8) == 0 &&
					      strchr(c.out.p, '\n') == c.out.p + c.out.len - 1,
				      "%s", c.out.p);
			remove_dir(dir);
		}
	}
}
END_TEST

START_TEST(a_process_without_calls_writes_no_summary_and_no_file)
{
	char dir[64], v_log[160];
	temp_dir(dir, sizeof(dir));
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s/t.%%p.json", dir);
	const char *with_file[] = { v_log, "ACCEPT4SHIM_STATS=1", NULL };
	const char *to_stderr[] = { "ACCEPT4SHIM_STATS=1", NULL };
	struct result r;
	run_scenario(&r, with_file, "idle", NULL, NULL);
	expect_ok(&r, "idle");
	ck_assert_str_eq(r.err.p, "");
	run_scenario(&r, to_stderr, "idle", NULL, NULL);
	expect_ok(&r, "idle");
	ck_assert_str_eq(r.err.p, "");
	ck_assert_int_eq(rmdir(dir), 0); /* still empty */
}
END_TEST


START_TEST(loading_the_library_leaves_main_an_errno_of_zero)
{
	/* With stderr closed, the library's look at fd 2 at load fails with
	 * EBADF; main() must still start with errno 0, as C promises. */
	const char *sets[][3] = {
		{ "ACCEPT4SHIM_LOG=stderr", "ACCEPT4SHIM_STATS=1", NULL },
		{ "ACCEPT4SHIM_LOG=syslog", "ACCEPT4SHIM_MODE=bogus", NULL },
		{ "ACCEPT4SHIM_LOG=/nonexistent/dir/t.json", NULL, NULL },
	};
	for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
		const char *argv[] = { "/proc/self/exe", "scenario", "errno", NULL };
		struct proc p;
		spawn(&p, argv, sets[k], -1, -2);
		struct result r;
		collect(&p, &r, 30000);
		expect_ok(&r, sets[k][0]);
		ck_assert_str_eq(r.out.p, "errno_at_start=0\n");
		text_free(&r.out);
		text_free(&r.err);
	}
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("trace_records");
	TCase *tc_records = tcase_create("records");
	tcase_set_timeout(tc_records, 60);
	tcase_add_loop_test(tc_records, json_records_match_every_call_field_by_field, 0, 3);
	tcase_add_test(tc_records, text_records_carry_the_same_facts);
	tcase_add_test(tc_records, unix_names_with_any_byte_parse_back_exactly);
	tcase_add_test(tc_records, many_threads_and_processes_write_whole_lines_none_lost);
	suite_add_tcase(s, tc_records);
	TCase *tc_summary = tcase_create("summary");
	tcase_set_timeout(tc_summary, 60);
	tcase_add_test(tc_summary, stats_summary_at_exit_to_the_trace_matches_get_stats);
	tcase_add_test(tc_summary, stats_summary_goes_to_stderr_when_there_is_no_trace);
	tcase_add_test(tc_summary, a_process_without_calls_writes_no_summary_and_no_file);
	suite_add_tcase(s, tc_summary);
	TCase *tc_loading = tcase_create("loading");
	tcase_set_timeout(tc_loading, 60);
	tcase_add_test(tc_loading, loading_the_library_leaves_main_an_errno_of_zero);
	suite_add_tcase(s, tc_loading);
	return s;
}

int main(int argc, char **argv)
{
	return t_trace_main(errno, argc, argv, NULL, make_suite);
}
