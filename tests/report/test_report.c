/*
 * scripts/accept4shim-report (issue 4, item 5) fed a known trace: two files
 * in tests/report, one per process of a server, with a blank line, a line
 * that is not a record, a torn last line and an exit summary.
 *
 * The numbers, by hand, nearest-rank percentiles (pN = the value at rank
 * ceil(N/100 * n) of the sorted dur_ns):
 *   127.0.0.1:8080, both files: 16 calls, 13 accepted, EAGAIN 2,
 *     ECONNABORTED 1, 2 emulated, 3 retried with 2+1+128 = 131 retries;
 *     dur_ns sorted 500 700 1000 2000 3000 3000 4000 4000 5000 6000 7000
 *     8000 9000 10000 11000 250000: p50 = 8th = 4000, p90 = 15th = 11000,
 *     p99 = 16th = 250000.
 *   [::1]:8443: 4 calls, 3 accepted, EMFILE 1; 800 9000 1500000 2500000:
 *     p50 = 2nd = 9000, p90 = p99 = 4th = 2500000.
 *   unix:@a"b\c<NUL><0xff>: 3 calls, 100 200 300: p50 200, p90 = p99 = 300.
 * expected.txt and expected.json hold the whole output and are compared
 * byte for byte; the lines below spell out the hand-made numbers so that a
 * regenerated golden file cannot quietly change them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

#define DIR A4S_SOURCE_DIR "/tests/report/"
#define REPORT A4S_SOURCE_DIR "/scripts/accept4shim-report"

static char out[1 << 16], err[1 << 16];

static int report(const char *opt)
{
	const char *argv[] = { "/usr/bin/python3", REPORT, DIR "trace.1001.json",
			       DIR "trace.1002.json", NULL, NULL };
	if (opt) {
		argv[2] = opt;
		argv[3] = DIR "trace.1001.json";
		argv[4] = DIR "trace.1002.json";
	}
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	return t_run(argv, env, out, sizeof(out), err, sizeof(err), 30000);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s", path);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void has(const char *text, const char *line)
{
	ck_assert_msg(strstr(text, line) != NULL, "missing: %s\nin:\n%s", line, text);
}

START_TEST(human_report_has_the_hand_made_numbers)
{
	ck_assert_int_eq(report(NULL), 0);
	ck_assert_str_eq(out, slurp(DIR "expected.txt"));
	has(out, "2 files, 23 records, 1 exit summary, 0 interval summaries, 2 lines skipped\n");
	has(out, "\nlistener 127.0.0.1:8080\n"
		 "  calls 16  accepted 13  failed 3  emulated 2  retried 3 (131 retries)\n"
		 "  errors  EAGAIN 2  ECONNABORTED 1\n"
		 "  dur_ns  p50 4000  p90 11000  p99 250000  max 250000\n");
	has(out, "\nlistener [::1]:8443\n"
		 "  calls 4  accepted 3  failed 1  emulated 0  retried 0 (0 retries)\n"
		 "  errors  EMFILE 1\n"
		 "  dur_ns  p50 9000  p90 2500000  p99 2500000  max 2500000\n");
	has(out, "\nlistener unix:@a\"b\\c\\x00\\xff\n"
		 "  calls 3  accepted 3  failed 0  emulated 0  retried 0 (0 retries)\n"
		 "  dur_ns  p50 200  p90 300  p99 300  max 300\n");
	/* the histogram: one bar per 1-2-5 step, the fullest 30 wide */
	has(out, "       2us .. 5us    ############################## 5\n");
	has(out, "      20us .. 50us                                  0\n");
	has(out, "     200us .. 500us  ######                         1\n");
	/* over time, 1 s buckets: 10:00:00 has the nine calls of 1000..9000
	 * ns; 10:00:01 the nine of 1001 from .010 on (p50: the 5th of 100 200
	 * 300 500 700 3000 4000 10000 250000); 10:00:02 the five of 1002 */
	has(out, "  2026-11-21T10:00:00Z         9        0        0    5.0us    9.0us\n"
		 "  2026-11-21T10:00:01Z         6        3      131    700ns    250us\n"
		 "  2026-11-21T10:00:02Z         4        1        0     11us    2.5ms\n");
	has(out, "  pid 1001  calls 18  accepted 15  failed 3  emulated 2  retried 3 (131 retries)"
		 "  dropped 0  errors EAGAIN 2 ECONNABORTED 1\n");
	/* the torn last line and the line that is not a record: warnings */
	has(err, "trace.1002.json: last line has no newline (60 bytes");
	has(err, "trace.1002.json:5: skipped, not a record");
}
END_TEST

START_TEST(json_report_has_the_same_numbers)
{
	ck_assert_int_eq(report("--json"), 0);
	ck_assert_str_eq(out, slurp(DIR "expected.json"));
	has(out, "\"records\": 23,\n  \"skipped_lines\": 2,");
	has(out, "\"local\": \"127.0.0.1:8080\",\n      \"calls\": 16,\n      \"accepted\": 13,\n"
		 "      \"failed\": 3,\n      \"errors\": {\n        \"EAGAIN\": 2,\n"
		 "        \"ECONNABORTED\": 1\n      },\n      \"emulated\": 2,\n"
		 "      \"retried_calls\": 3,\n      \"retries\": 131,\n      \"dur_ns\": {\n"
		 "        \"p50\": 4000,\n        \"p90\": 11000,\n        \"p99\": 250000,\n"
		 "        \"max\": 250000\n      },");
	has(out, "\"p50\": 9000,\n        \"p90\": 2500000,\n        \"p99\": 2500000,");
	/* an AF_UNIX name stays as the trace wrote it, byte for code point */
	has(out, "\"local\": \"unix:@a\\\"b\\\\c\\u0000\\u00ff\",");
	has(out, "{\n          \"from_ns\": 200000,\n          \"to_ns\": 500000,\n"
		 "          \"count\": 1\n        }");
}
END_TEST

START_TEST(a_missing_file_is_reported_and_fails_the_run)
{
	const char *argv[] = { "/usr/bin/python3", REPORT, DIR "no-such-trace.json",
			       DIR "trace.1001.json", NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	ck_assert_int_eq(t_run(argv, env, out, sizeof(out), err, sizeof(err), 30000), 1);
	has(err, "no-such-trace.json: No such file or directory");
	has(out, "1 file, 18 records, 1 exit summary, 0 interval summaries, 0 lines skipped\n");
	const char *bad[] = { "/usr/bin/python3", REPORT, "--bogus", NULL };
	ck_assert_int_eq(t_run(bad, env, out, sizeof(out), err, sizeof(err), 30000), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");
	tcase_add_test(tc, human_report_has_the_hand_made_numbers);
	tcase_add_test(tc, json_report_has_the_same_numbers);
	tcase_add_test(tc, a_missing_file_is_reported_and_fails_the_run);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
