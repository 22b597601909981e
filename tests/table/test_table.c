/*
 * SPEC, both calls "as without the library": the table of cases in
 * cases.txt, run by table_runner (which calls each entry point through
 * libffi, by name) four ways: without the library, against the kernel's own
 * accept4 and accept, and preloaded as native, emulate and auto. The runs
 * must agree line by line, and the kernel's run must match what the table
 * says. The library itself never links libffi (tests/library checks that);
 * only the runner does.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

#define OUT_SIZE (1 << 18)

struct run {
	const char *label;
	const char *mode; /* NULL: no library */
	char out[OUT_SIZE];
	char err[1 << 14];
};

static struct run runs[] = {
	{ .label = "kernel" },
	{ .label = "native", .mode = "native" },
	{ .label = "emulate", .mode = "emulate" },
	{ .label = "auto", .mode = "auto" },
};
#define NRUNS ((int)(sizeof(runs) / sizeof(runs[0])))
static char expected[OUT_SIZE], expected_err[1 << 12];

static void run(struct run *r, bool expect)
{
	char preload[PATH_MAX + 16], mode[64];
	const char *env[4] = { "PATH=/usr/bin:/bin", NULL, NULL, NULL };
	char from[] = "--from=libaccept4shim";
	const char *argv[] = { A4S_TABLE_RUNNER, A4S_TABLE, NULL, NULL };
	if (expect) {
		argv[1] = "--expect";
		argv[2] = A4S_TABLE;
		ck_assert_int_eq(t_run(argv, env, expected, sizeof(expected), expected_err,
				       sizeof(expected_err), 30000), 0);
		return;
	}
	if (r->mode) {
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", t_library_path());
		snprintf(mode, sizeof(mode), "ACCEPT4SHIM_MODE=%s", r->mode);
		env[1] = preload;
		env[2] = mode;
		/* Fail unless the entry points resolve into the library. */
		argv[1] = from;
		argv[2] = A4S_TABLE;
	}
	int status = t_run(argv, env, r->out, sizeof(r->out), r->err, sizeof(r->err), 60000);
	ck_assert_msg(status == 0, "%s run: status %d\n%s", r->label, status, r->err);
	ck_assert_msg(strlen(r->out) < sizeof(r->out) - 1, "%s run: output cut", r->label);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Compares two outputs line by line; prints every differing pair. */
static int differences(const char *a_label, const char *a, const char *b_label, const char *b)
{
	int diffs = 0, line = 1;
	while (*a || *b) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
		if (la != lb || memcmp(a, b, la) != 0) {
			fprintf(stderr, "line %d:\n  - %-8s %.*s\n  + %-8s %.*s\n", line, a_label,
				(int)la, a, b_label, (int)lb, b);
			diffs++;
		}
		a += la + (a[la] == '\n');
		b += lb + (b[lb] == '\n');
		line++;
	}
	return diffs;
}

static unsigned long long stat_of(const char *err, const char *key)
{
	const char *p = strstr(err, key);
	ck_assert_msg(p != NULL, "no %s in:\n%s", key, err);
	return strtoull(p + strlen(key), NULL, 10);
}

static void setup(void)
{
	run(NULL, true);
	for (int i = 0; i < NRUNS; i++)
		run(&runs[i], false);
}

START_TEST(the_kernel_run_matches_the_table)
{
	int cases = count_lines(expected);
	ck_assert_int_ge(cases, 100);
	ck_assert_int_eq(count_lines(runs[0].out), cases);
	ck_assert_int_eq(differences("table", expected, "kernel", runs[0].out), 0);
}
END_TEST

START_TEST(preloaded_native_emulate_and_auto_runs_match_the_kernel_line_by_line)
{
	for (int i = 1; i < NRUNS; i++)
		ck_assert_msg(differences("kernel", runs[0].out, runs[i].label, runs[i].out) == 0,
			      "the %s run differs from the kernel's (lines above)", runs[i].label);
}
END_TEST

START_TEST(every_preloaded_call_went_through_the_library)
{
	int cases = count_lines(expected);
	for (int i = 1; i < NRUNS; i++) {
		ck_assert_msg(strstr(runs[i].err, "accept4 from ") && strstr(runs[i].err, "accept from "),
			      "%s run:\n%s", runs[i].label, runs[i].err);
		ck_assert_int_eq(stat_of(runs[i].err, "stats calls="), cases);
	}
	/* Only emulate sets flags itself: one call per accepted accept4
	 * with flags in the table. */
	ck_assert_int_eq(stat_of(runs[1].err, "emulated="), 0);
	ck_assert_int_gt(stat_of(runs[2].err, "emulated="), 40);
	ck_assert_int_eq(stat_of(runs[3].err, "emulated="), 0);
	ck_assert_msg(strstr(runs[0].err, "stats") == NULL, "the kernel run had the library");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("table");
	TCase *tc = tcase_create("table");
	/* The runs are made once, in this process, before the checks. */
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, the_kernel_run_matches_the_table);
	tcase_add_test(tc, preloaded_native_emulate_and_auto_runs_match_the_kernel_line_by_line);
	tcase_add_test(tc, every_preloaded_call_went_through_the_library);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
