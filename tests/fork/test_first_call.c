/*
 * Issue 7, fork during the first call: a thread's first accept4 loads the
 * library (binding, reading the variables) while the main thread forks
 * again and again; every child must accept with the right flags and exit.
 * The forking happens in early_fork.c, preloaded after the library, in a
 * fresh process each round (the library loads once per process); this test
 * runs the rounds, in every mode, for a bounded time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

START_TEST(fork_while_another_thread_is_inside_the_first_call)
{
	char dir[] = "/tmp/a4s-first-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char preload[8400], logvar[4200];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s:%s", t_library_path(), A4S_EARLY_FORK_LIB);
	snprintf(logvar, sizeof(logvar), "ACCEPT4SHIM_LOG=%s/first-%%p.log", dir);
	const char *modes[] = { "ACCEPT4SHIM_MODE=native", "ACCEPT4SHIM_MODE=emulate",
				"ACCEPT4SHIM_MODE=auto" };
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int rounds = 0, forks = 0, inside = 0;
	static char out[4096], err[4096];
	do {
		/* A sanitizer build's options reach the rounds too. */
		const char *asan = getenv("ASAN_OPTIONS"), *tsan = getenv("TSAN_OPTIONS");
		static char san[2][1024];
		snprintf(san[0], sizeof(san[0]), "ASAN_OPTIONS=%s", asan ? asan : "");
		snprintf(san[1], sizeof(san[1]), "TSAN_OPTIONS=%s", tsan ? tsan : "");
		const char *env[] = { preload, "A4S_EARLY_FORK=1", modes[rounds % 3], logvar,
				      san[0], san[1], NULL };
		const char *argv[] = { A4S_PROBE, NULL };
		int rc = t_run(argv, env, out, sizeof(out), err, sizeof(err), 20000);
		ck_assert_msg(rc == 0, "round %d: status %d: %s%s", rounds, rc, out, err);
		int f, in;
		ck_assert_msg(sscanf(out, "early forks=%d inside=%d ok", &f, &in) == 2,
			      "round %d: %s%s", rounds, out, err);
		/* early_fork.c holds the first call inside the loading until
		 * three forks were made meanwhile (or two seconds passed:
		 * forks could not be made while the library loads). */
		ck_assert_msg(in >= 3, "round %d: only %d of %d forks landed inside the first call",
			      rounds, in, f);
		forks += f;
		inside += in;
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (rounds < 60 && now.tv_sec - start.tv_sec < 4);
	fprintf(stderr, "%d rounds, %d forks, %d inside the first call\n", rounds, forks, inside);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("first_call");
	TCase *tc = tcase_create("fork");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fork_while_another_thread_is_inside_the_first_call);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
