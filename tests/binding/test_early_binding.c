/*
 * SPEC/issue 2: "the real functions are bound once, thread-safely, also
 * when another library's constructor calls accept before ours has run".
 *
 * early_lib.so's constructor accepts a queued connection with SOCK_CLOEXEC
 * and calls accept(-1) (see early_lib.c); early_host is a program that does
 * nothing. Which constructor runs first is the dynamic linker's choice:
 * glibc initialises the objects of the initial search list (the program,
 * then LD_PRELOAD in order, then their dependencies) in the reverse of that
 * order, dependencies first. With LD_PRELOAD="libaccept4shim.so:early_lib.so"
 * our library comes first in the symbol search order, so the early
 * library's accept4 binds to ours, and early_lib.so is initialised first,
 * so its call arrives before our constructor. The first test checks that
 * claim with the dynamic linker's own trace rather than trusting it:
 * LD_DEBUG=files prints a "calling init: PATH" line as it runs each
 * constructor (glibc has no LD_DEBUG=init; "files" is the option that
 * carries those lines). The others check the early call's results in
 * every mode, in both orders.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

static char out[1 << 16], err[1 << 16];

static int run_host(const char *preload_order, const char *mode, bool debug_init)
{
	char preload[2 * PATH_MAX], modevar[64];
	if (strcmp(preload_order, "shim-first") == 0)
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s:%s", t_library_path(),
			 A4S_EARLY_LIB);
	else
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s:%s", A4S_EARLY_LIB,
			 t_library_path());
	snprintf(modevar, sizeof(modevar), "ACCEPT4SHIM_MODE=%s", mode);
	const char *env[] = { preload, modevar, "PATH=/usr/bin:/bin",
			      debug_init ? "LD_DEBUG=files" : NULL, NULL };
	const char *argv[] = { A4S_EARLY_HOST, NULL };
	return t_run(argv, env, out, sizeof(out), err, sizeof(err), 20000);
}

/* Where "calling init: PATH" appears in LD_DEBUG's output; -1 if not. */
static long init_position(const char *path)
{
	char needle[PATH_MAX + 32];
	snprintf(needle, sizeof(needle), "calling init: %s\n", path);
	const char *p = strstr(err, needle);
	return p ? p - err : -1;
}

START_TEST(preloaded_after_ours_the_early_library_is_initialised_first)
{
	ck_assert_int_eq(run_host("shim-first", "emulate", true), 0);
	long early = init_position(A4S_EARLY_LIB), ours = init_position(t_library_path());
	ck_assert_msg(early >= 0 && ours >= 0, "no init lines in:\n%s", err);
	ck_assert_msg(early < ours, "our constructor ran first:\n%s", err);

	/* The other order runs ours first: the order is what decides. */
	ck_assert_int_eq(run_host("early-first", "emulate", true), 0);
	early = init_position(A4S_EARLY_LIB);
	ours = init_position(t_library_path());
	ck_assert_msg(early >= 0 && ours >= 0, "no init lines in:\n%s", err);
	ck_assert_msg(ours < early, "the early library ran first:\n%s", err);
}
END_TEST

static const char *const modes[] = { "emulate", "native", "auto" };

static void check_early_line(const char *mode)
{
	char want[2 * PATH_MAX];
	/* Only emulate sets the flag itself; native and auto pass it to
	 * the kernel's accept4. */
	snprintf(want, sizeof(want),
		 "a4s-early: accept4=OK errno=kept nonblock=0 cloexec=1 accept=-1 EBADF "
		 "emulated=%d bound=%s\n",
		 strcmp(mode, "emulate") == 0, t_library_path());
	ck_assert_msg(strstr(err, want) != NULL, "mode %s: want\n%sgot\n%s", mode, want, err);
	ck_assert_msg(strstr(err, "accept4shim:") == NULL, "the library complained:\n%s", err);
}

START_TEST(an_accept4_from_a_constructor_before_ours_gets_exact_flags_and_errno)
{
	ck_assert_int_eq(run_host("shim-first", modes[_i], false), 0);
	check_early_line(modes[_i]);
}
END_TEST

START_TEST(the_same_calls_after_our_constructor_get_the_same_results)
{
	ck_assert_int_eq(run_host("early-first", modes[_i], false), 0);
	check_early_line(modes[_i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("early-binding");
	TCase *tc = tcase_create("early");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, preloaded_after_ours_the_early_library_is_initialised_first);
	tcase_add_loop_test(tc, an_accept4_from_a_constructor_before_ours_gets_exact_flags_and_errno,
			    0, 3);
	tcase_add_loop_test(tc, the_same_calls_after_our_constructor_get_the_same_results, 0, 3);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
