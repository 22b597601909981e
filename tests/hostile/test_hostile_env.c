/*
 * Issue 7, hostile and odd input around the calls: every variable set to
 * garbage, to 100 KB, or to nothing, and the library loaded twice. SPEC: "A
 * value that does not parse produces exactly one line on stderr, starting
 * `accept4shim: `, naming the variable ...; the default is used and the
 * program carries on"; "one record per interposed call".
 *
 * Each case runs the probe in a fresh process (the library reads its
 * variables once, at load) and compares what it printed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static const char *const vars[] = {
	"ACCEPT4SHIM_MODE", "ACCEPT4SHIM_INHERIT", "ACCEPT4SHIM_RETRY",
	"ACCEPT4SHIM_ADD_FLAGS", "ACCEPT4SHIM_LOG", "ACCEPT4SHIM_LOG_FORMAT",
	"ACCEPT4SHIM_STATS",
};
#define NVARS ((int)(sizeof(vars) / sizeof(vars[0])))

/* What the probe prints when every variable has its default. */
static const char defaults_out[] =
	"accept4 0: ok nonblock=0 cloexec=0\n"
	"accept4 SOCK_NONBLOCK|SOCK_CLOEXEC: ok nonblock=1 cloexec=1\n"
	"accept: ok nonblock=0 cloexec=0\n"
	"stats calls=3\n";

static char out[1 << 16], err[1 << 16];
static char preload[4200];

/* A sanitizer build's options reach the probe too (each case gives the
 * probe exactly the environment it wants). */
static const char *const sanitizer_vars[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS" };
#define NSAN 3

static int add_sanitizer_env(const char **env, int n)
{
	static char kept[NSAN][1024];
	for (int i = 0; i < NSAN; i++) {
		const char *v = getenv(sanitizer_vars[i]);
		if (v) {
			snprintf(kept[i], sizeof(kept[i]), "%s=%s", sanitizer_vars[i], v);
			env[n++] = kept[i];
		}
	}
	env[n] = NULL;
	return n;
}

static int run_probe(const char *const env[], const char *probe)
{
	const char *argv[] = { probe, "accept4", "0", "accept4", "SOCK_NONBLOCK|SOCK_CLOEXEC",
			       "accept", "stats", NULL };
	return t_run(argv, env, out, sizeof(out), err, sizeof(err), 20000);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* stderr holds exactly one complaint per variable in bad[], each one line,
 * starting "accept4shim: NAME=", and nothing else. */
static void check_complaints(const bool bad[NVARS])
{
	int want = 0;
	for (int v = 0; v < NVARS; v++) {
		char head[128];
		snprintf(head, sizeof(head), "accept4shim: %s=", vars[v]);
		int found = 0;
		for (const char *line = err; *line;) {
			const char *nl = strchr(line, '\n');
			ck_assert_msg(nl != NULL, "stderr ends without a newline: %s", err);
			if (strncmp(line, head, strlen(head)) == 0)
				found++;
			ck_assert_msg(nl - line < 1024, "a complaint of %d bytes", (int)(nl - line));
			line = nl + 1;
		}
		ck_assert_msg(found == (bad[v] ? 1 : 0), "%s named %d times in: %s", vars[v], found,
			      err);
		want += bad[v];
	}
	ck_assert_msg(count_lines(err) == want, "%d lines on stderr, want %d: %s",
		      count_lines(err), want, err);
	for (const char *p = err; *p; p++)
		ck_assert_msg((*p >= 0x20 && *p < 0x7f) || *p == '\n',
			      "a raw control or 8-bit byte %#x on stderr", (unsigned char)*p);
}

static void setup(void)
{
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", t_library_path());
}

/* Builds NAME=value strings for every variable from values[]. */
static void make_env(const char *env[NVARS + 2 + NSAN], char *storage[NVARS],
		     const char *const values[NVARS])
{
	env[0] = preload;
	for (int v = 0; v < NVARS; v++) {
		size_t n = strlen(vars[v]) + 1 + strlen(values[v]) + 1;
		storage[v] = malloc(n);
		ck_assert_ptr_nonnull(storage[v]);
		snprintf(storage[v], n, "%s=%s", vars[v], values[v]);
		env[v + 1] = storage[v];
	}
	add_sanitizer_env(env, NVARS + 1);
}

static void free_env(char *storage[NVARS])
{
	for (int v = 0; v < NVARS; v++)
		free(storage[v]);
}

static void expect_defaults_with(const char *const values[NVARS], const bool bad[NVARS])
{
	const char *env[NVARS + 2 + NSAN];
	char *storage[NVARS];
	make_env(env, storage, values);
	int rc = run_probe(env, A4S_PROBE);
	free_env(storage);
	ck_assert_msg(rc == 0, "probe status %d: %s", rc, err);
	ck_assert_str_eq(out, defaults_out);
	check_complaints(bad);
}

/* Bytes a terminal or a log parser would trip on: a newline, an escape
 * sequence, a quote, a backslash, invalid UTF-8, a valid value with a
 * blank around it, a value of the wrong variable. */
static const char *const garbage[NVARS] = {
	"native\n", "\x1b[31mbsd\x1b[0m", "\"on\"", "SOCK_CLOEXEC|\\|SOCK_NONBLOCK\xff",
	"relative/trace.log", " json", "yes",
};

START_TEST(every_variable_garbage_gives_one_line_each_and_defaults)
{
	setup();
	bool bad[NVARS];
	for (int v = 0; v < NVARS; v++)
		bad[v] = true;
	expect_defaults_with(garbage, bad);
}
END_TEST

/* One variable at a time: its line, and only its line. */
START_TEST(each_garbage_variable_alone_gives_its_own_line)
{
	setup();
	const char *values[NVARS];
	bool bad[NVARS];
	for (int v = 0; v < NVARS; v++) {
		values[v] = "";
		bad[v] = v == _i;
	}
	values[_i] = garbage[_i];
	expect_defaults_with(values, bad);
}
END_TEST

/* 100 KB each (LOG: an absolute path far past PATH_MAX). */
START_TEST(every_variable_100k_long_gives_one_short_line_each)
{
	setup();
	enum { LONG = 100 * 1024 };
	char *big = malloc(LONG + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', LONG);
	big[LONG] = '\0';
	char *path = strdup(big);
	ck_assert_ptr_nonnull(path);
	path[0] = '/';
	const char *values[NVARS];
	bool bad[NVARS];
	for (int v = 0; v < NVARS; v++) {
		values[v] = big;
		bad[v] = true;
	}
	values[4] = path;
	expect_defaults_with(values, bad);
	free(big);
	free(path);
}
END_TEST

START_TEST(every_variable_empty_means_defaults_silently)
{
	setup();
	const char *values[NVARS];
	bool bad[NVARS];
	for (int v = 0; v < NVARS; v++) {
		values[v] = "";
		bad[v] = false;
	}
	expect_defaults_with(values, bad);
}
END_TEST

/* A trace file that cannot be opened is not a parse error: no line, and
 * the program's calls are untouched. */
START_TEST(unopenable_trace_file_changes_nothing)
{
	setup();
	const char *env[3 + NSAN + 1] = { preload, "ACCEPT4SHIM_LOG=/nonexistent-a4s-dir/trace.log",
					  "ACCEPT4SHIM_LOG_FORMAT=json" };
	add_sanitizer_env(env, 3);
	int rc = run_probe(env, A4S_PROBE);
	ck_assert_msg(rc == 0, "probe status %d: %s", rc, err);
	ck_assert_str_eq(out, defaults_out);
}
END_TEST

static char dir[4096];

static long file_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long n = 0;
	int c;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/*
 * Loaded twice, three ways: the same file named twice in LD_PRELOAD (the
 * dynamic linker loads it once), preloaded and linked (once again), and two
 * different copies of the file (two objects: the program's calls reach the
 * first, which passes them on to the second; the second stands aside).
 * Each way: the flags come out right with ADD_FLAGS and INHERIT=bsd set,
 * each call has one record, each bad variable one line.
 */
static void twice(int how)
{
	snprintf(dir, sizeof(dir), "/tmp/a4s-twice-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char copy[4200], trace[4200], logvar[4300], both[8500];
	snprintf(copy, sizeof(copy), "%s/libaccept4shim-copy.so", dir);
	snprintf(trace, sizeof(trace), "%s/trace.log", dir);
	snprintf(logvar, sizeof(logvar), "ACCEPT4SHIM_LOG=%s", trace);
	const char *probe = A4S_PROBE;
	switch (how) {
	case 0:
		snprintf(both, sizeof(both), "LD_PRELOAD=%s:%s", t_library_path(), t_library_path());
		break;
	case 1:
		snprintf(both, sizeof(both), "LD_PRELOAD=%s", t_library_path());
		probe = A4S_PROBE_LINKED;
		break;
	default: {
		char cmd[9000];
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", t_library_path(), copy);
		ck_assert_int_eq(system(cmd), 0);
		snprintf(both, sizeof(both), "LD_PRELOAD=%s:%s", t_library_path(), copy);
		break;
	}
	}
	const char *modes[] = { "ACCEPT4SHIM_MODE=native", "ACCEPT4SHIM_MODE=emulate" };
	for (int m = 0; m < 2; m++) {
		unlink(trace);
		const char *env[7 + NSAN + 1] = { both, modes[m], "ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC",
						  "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_RETRY=maybe",
						  "ACCEPT4SHIM_LOG_FORMAT=json", logvar };
		add_sanitizer_env(env, 7);
		int rc = run_probe(env, probe);
		ck_assert_msg(rc == 0, "probe status %d: %s", rc, err);
		ck_assert_str_eq(out, "accept4 0: ok nonblock=0 cloexec=1\n"
				      "accept4 SOCK_NONBLOCK|SOCK_CLOEXEC: ok nonblock=1 cloexec=1\n"
				      "accept: ok nonblock=0 cloexec=1\n"
				      "stats calls=3\n");
		ck_assert_int_eq(file_lines(trace), 3);
		bool bad[NVARS] = { false, false, true, false, false, false, false };
		check_complaints(bad);
	}
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(same_file_preloaded_twice_acts_once)
{
	setup();
	twice(0);
}
END_TEST

START_TEST(preloaded_and_linked_acts_once)
{
	setup();
	twice(1);
}
END_TEST

START_TEST(two_copies_of_the_file_act_once)
{
	setup();
	twice(2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile_env");
	TCase *tc = tcase_create("variables");
	tcase_add_test(tc, every_variable_garbage_gives_one_line_each_and_defaults);
	tcase_add_loop_test(tc, each_garbage_variable_alone_gives_its_own_line, 0, NVARS);
	tcase_add_test(tc, every_variable_100k_long_gives_one_short_line_each);
	tcase_add_test(tc, every_variable_empty_means_defaults_silently);
	tcase_add_test(tc, unopenable_trace_file_changes_nothing);
	suite_add_tcase(s, tc);
	TCase *tw = tcase_create("twice");
	tcase_add_test(tw, same_file_preloaded_twice_acts_once);
	tcase_add_test(tw, preloaded_and_linked_acts_once);
	tcase_add_test(tw, two_copies_of_the_file_act_once);
	suite_add_tcase(s, tw);
	return t_run_suite(s);
}
