/*
 * SPEC, "Destinations": "A library that is unloaded (dlclose) leaves no
 * descriptor behind." (issue 10.7: a program that dlopened the library,
 * traced a call through it and dlclosed it kept fd 960 on the trace.)
 *
 * The scenario loads the library itself with dlopen (no LD_PRELOAD), calls
 * its accept4 through dlsym, so that the trace is opened, then dlcloses
 * it and counts the descriptors on the trace that are left; the exit
 * summary (STATS=1), written as the library goes, must be in the trace.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracekit.h"

typedef int accept4_fn(int, struct sockaddr *, socklen_t *, int);

/* What the trace is open on: the file, or stderr's pipe. */
static void trace_target(char *out, size_t size)
{
	const char *log = getenv("ACCEPT4SHIM_LOG");
	if (log && log[0] == '/') {
		snprintf(out, size, "%s", log);
		return;
	}
	struct stat st;
	T_CHECK(fstat(2, &st) == 0);
	snprintf(out, size, "pipe:[%llu]", (unsigned long long)st.st_ino);
}

static void sc_dlclose(int argc, char **argv)
{
	(void)argc, (void)argv;
	char target[PATH_MAX];
	trace_target(target, sizeof(target));
	int at_start = fds_on(target, NULL);
	void *lib = dlopen(t_library_path(), RTLD_NOW | RTLD_LOCAL);
	T_ASSERT(lib != NULL, "dlopen: %s", dlerror());
	accept4_fn *traced_accept4 = (accept4_fn *)dlsym(lib, "accept4");
	T_ASSERT(traced_accept4 != NULL, "no accept4 in the library");
	struct t_listener l;
	t_listen(&l, T_UNIX_ABSTRACT, 0);
	int c = client_to(&l);
	int fd = traced_accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	T_CHECK(fd >= 0);
	close(fd);
	close(c);
	int loaded = fds_on(target, NULL);
	T_ASSERT(dlclose(lib) == 0, "dlclose: %s", dlerror());
	say("dlclose start=%d loaded=%d unloaded=%d", at_start, loaded, fds_on(target, NULL));
	t_close_listener(&l);
}

static const struct t_scenario own[] = {
	{ "dlclose", sc_dlclose },
	{ NULL, NULL },
};

START_TEST(a_dlclosed_library_leaves_no_descriptor_on_its_trace)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { "LD_PRELOAD=", v_log, "ACCEPT4SHIM_LOG_FORMAT=json",
			       "ACCEPT4SHIM_STATS=1", NULL };
	struct result r, c;
	run_scenario(&r, vars, "dlclose", NULL, NULL);
	expect_ok(&r, "dlclose");
	ck_assert_int_eq(field_ll(r.out.p, "start"), 0);
	ck_assert_int_eq(field_ll(r.out.p, "loaded"), 1);
	ck_assert_int_eq(field_ll(r.out.p, "unloaded"), 0);
	/* the record, and the summary written as the library went */
	tracecheck(&c, trace, false);
	struct lines recs, sums;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(c.out.p, "summary ", &sums);
	ck_assert_uint_eq(recs.n, 1);
	ck_assert_uint_eq(sums.n, 1);
	lines_free(&recs);
	lines_free(&sums);
	text_free(&r.out);
	remove_dir(dir);
}
END_TEST

static void stderr_case(void *arg)
{
	/* old kernel: pipes refuse RWF_NOWAIT, the library holds a
	 * description of its own on the pipe (see test_trace_stderr) */
	if (arg)
		t_seccomp_fail_syscall(SYS_pwritev2, EOPNOTSUPP);
	const char *vars[] = { "LD_PRELOAD=", "ACCEPT4SHIM_LOG=stderr", NULL };
	struct result r;
	run_scenario(&r, vars, "dlclose", NULL, NULL);
	expect_ok(&r, "dlclose");
	T_ASSERT(field_ll(r.out.p, "start") == 1 && field_ll(r.out.p, "loaded") == (arg ? 2 : 1) &&
			 field_ll(r.out.p, "unloaded") == 1,
		 "%s", r.out.p);
	T_ASSERT(strncmp(r.err.p, "accept4shim: ts=", 16) == 0, "%s", r.err.p);
	text_free(&r.out);
	text_free(&r.err);
}

START_TEST(a_dlclosed_library_lets_go_of_stderr)
{
	/* stderr a pipe: a description of ours on it goes too (fd 2 is the
	 * program's and stays). */
	T_IN_CHILD(stderr_case, NULL);
	static int old_kernel = 1;
	T_IN_CHILD(stderr_case, &old_kernel);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("trace_unload");
	TCase *tc = tcase_create("dlclose");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_dlclosed_library_leaves_no_descriptor_on_its_trace);
	tcase_add_test(tc, a_dlclosed_library_lets_go_of_stderr);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	return t_trace_main(errno, argc, argv, own, make_suite);
}
