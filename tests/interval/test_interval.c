/*
 * SPEC, ACCEPT4SHIM_STATS_INTERVAL: "with STATS=1, also a summary every
 * this many seconds, written by the first call after the interval has
 * passed (no thread is started), so a server killed without exiting still
 * leaves its counts."
 *
 * The formatter on its own (the interval summary's keys, in both formats),
 * then interval_scenario run under the library: many threads passing the
 * deadline at once, a forked child, the system calls of a call between
 * summaries. Real servers killed with SIGTERM and SIGKILL: killed.py.
 *
 * No case asserts how long anything took. Pauses only make sure an
 * interval has passed (a lower bound the library must honour); upper
 * bounds come from the scenario's own clock readings around the calls.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dest.h"
#include "harness.h"
#include "interval.h"
#include "summaryfmt.h"

#define SCENARIO A4S_BINARY_DIR "/tests/interval/interval_scenario"
#define SECOND 1000000000ULL

/* The number after "key": (JSON) or key= (text) in line; -1 if absent. */
static long long num(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (!p) {
		snprintf(pat, sizeof(pat), " %s=", key);
		p = strstr(line, pat);
	}
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static char *slurp(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* The lines of text, in order, cut in place. */
static int split_lines(char *text, char **lines, int max)
{
	int n = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < max;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	return n;
}

/* ---- the formatter --------------------------------------------------- */

START_TEST(interval_summary_in_json_and_text)
{
	uint64_t errors[160] = { 0 }, total_errors[160] = { 0 };
	errors[EAGAIN] = 3;
	total_errors[EAGAIN] = 40;
	total_errors[EMFILE] = 2;
	struct a4s_summary totals = {
		.calls = 100, .accepted = 58, .failed = 42, .emulated = 7, .retried_calls = 1,
		.retries = 4, .dropped = 5, .errors = total_errors, .nerrors = 160,
	};
	struct a4s_summary s = {
		.ts = { 1795255200, 5000 }, .pid = 42, .calls = 10, .accepted = 7, .failed = 3,
		.emulated = 0, .retried_calls = 0, .retries = 0, .dropped = 1, .errors = errors,
		.nerrors = 160, .totals = &totals, .interval_ns = 60000123456,
	};
	char out[1024];
	size_t n = a4s_format_summary(&s, A4S_FORMAT_JSON, out, sizeof(out) - 1);
	out[n] = '\0';
	ck_assert_str_eq(out, "{\"ts\":\"2026-11-21T10:00:00.000005Z\",\"pid\":42,"
			      "\"summary\":\"interval\",\"interval_ns\":60000123456,"
			      "\"calls\":10,\"accepted\":7,\"failed\":3,\"emulated\":0,"
			      "\"retried_calls\":0,\"retries\":0,\"dropped\":1,"
			      "\"errors\":{\"EAGAIN\":3},"
			      "\"total_calls\":100,\"total_accepted\":58,\"total_failed\":42,"
			      "\"total_emulated\":7,\"total_retried_calls\":1,\"total_retries\":4,"
			      "\"total_dropped\":5,\"total_errors\":{\"EAGAIN\":40,\"EMFILE\":2}}\n");
	n = a4s_format_summary(&s, A4S_FORMAT_TEXT, out, sizeof(out) - 1);
	out[n] = '\0';
	ck_assert_str_eq(out, "accept4shim: ts=2026-11-21T10:00:00.000005Z pid=42 "
			      "summary=interval interval_ns=60000123456 calls=10 accepted=7 "
			      "failed=3 emulated=0 retried_calls=0 retries=0 dropped=1 "
			      "errors=EAGAIN:3 total_calls=100 total_accepted=58 total_failed=42 "
			      "total_emulated=7 total_retried_calls=1 total_retries=4 "
			      "total_dropped=5 total_errors=EAGAIN:40,EMFILE:2\n");
	/* No error in the interval: {} and "-", as the exit summary has them. */
	errors[EAGAIN] = 0;
	n = a4s_format_summary(&s, A4S_FORMAT_TEXT, out, sizeof(out) - 1);
	out[n] = '\0';
	ck_assert_ptr_nonnull(strstr(out, " dropped=1 errors=- total_calls=100 "));
	n = a4s_format_summary(&s, A4S_FORMAT_JSON, out, sizeof(out) - 1);
	out[n] = '\0';
	ck_assert_ptr_nonnull(strstr(out, ",\"dropped\":1,\"errors\":{},\"total_calls\":100,"));
	/* Too small: nothing at all, and not a byte past the end. */
	size_t full = a4s_format_summary(&s, A4S_FORMAT_JSON, out, sizeof(out));
	for (size_t size = 0; size < full; size++) {
		char buf[1024];
		memset(buf, 'Z', sizeof(buf));
		ck_assert_uint_eq(a4s_format_summary(&s, A4S_FORMAT_JSON, buf, size), 0);
		for (size_t i = size; i < sizeof(buf); i++)
			ck_assert_msg(buf[i] == 'Z', "size %zu: byte %zu written", size, i);
	}
}
END_TEST

START_TEST(every_errno_twice_still_makes_one_line_or_none)
{
	/* The worst an interval summary can hold: every slot counted, with
	 * the largest counts, in both maps. It either fits A4S_SUMMARY_MAX
	 * whole, or is not written at all (and counted dropped). */
	uint64_t errors[160];
	for (int i = 0; i < 160; i++)
		errors[i] = UINT64_MAX;
	struct a4s_summary totals = { .errors = errors, .nerrors = 160 };
	struct a4s_summary s = { .pid = 1, .errors = errors, .nerrors = 160, .totals = &totals,
				 .interval_ns = 1 };
	char out[A4S_SUMMARY_MAX];
	for (int fmt = 0; fmt < 2; fmt++) {
		size_t n = a4s_format_summary(&s, (enum a4s_log_format)fmt, out, sizeof(out));
		ck_assert(n == 0 || (n <= sizeof(out) && out[n - 1] == '\n' &&
				     memchr(out, '\n', n - 1) == NULL));
	}
	/* A handful of errors, as servers meet them, fit in either format. */
	for (int i = 0; i < 160; i++)
		errors[i] = i == EAGAIN || i == EMFILE || i == ENFILE || i == ECONNABORTED ||
					    i == EINTR || i == ENOBUFS || i == EPROTO
				    ? UINT64_MAX
				    : 0;
	for (int fmt = 0; fmt < 2; fmt++)
		ck_assert_uint_gt(a4s_format_summary(&s, (enum a4s_log_format)fmt, out,
						     sizeof(out)),
				  0);
}
END_TEST

/* ---- the claim, on its own ------------------------------------------- */

/*
 * Threads that do nothing but pass the deadline, as fast as they can: at
 * every deadline they arrive together far more often than threads that
 * also accept could. With a period of 50 ms, some thirty deadlines.
 */
#define HAMMER_PERIOD_NS (50 * 1000000ULL)
#define HAMMER_THREADS 4

static struct a4s_config hammer_cfg;
static atomic_bool hammer_stop;

static void *hammer(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&hammer_stop, memory_order_relaxed))
		a4s_interval_tick(&hammer_cfg);
	return NULL;
}

static void hammer_child(void *arg)
{
	const char *path = arg;
	/* The summaries go to stderr (no trace here): a file we read back. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	T_CHECK(fd >= 0 && dup2(fd, 2) == 2);
	a4s_dest_note_stderr();
	hammer_cfg.stats = true;
	hammer_cfg.log_format = A4S_FORMAT_TEXT;
	hammer_cfg.stats_interval_ns = HAMMER_PERIOD_NS;
	a4s_interval_start(&hammer_cfg);
	pthread_t t[HAMMER_THREADS];
	for (int i = 0; i < HAMMER_THREADS; i++)
		T_CHECK(pthread_create(&t[i], NULL, hammer, NULL) == 0);
	struct timespec pause = { 1, 500000000L };
	nanosleep(&pause, NULL);
	atomic_store(&hammer_stop, true);
	for (int i = 0; i < HAMMER_THREADS; i++)
		pthread_join(t[i], NULL);
}

START_TEST(one_thread_claims_each_deadline_however_many_reach_it_together)
{
	char path[] = "/tmp/a4s-hammer.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	T_IN_CHILD(hammer_child, path);
	char *text = slurp(path);
	unlink(path);
	char *lines[4096];
	int n = split_lines(text, lines, 4096);
	ck_assert_int_ge(n, 2);
	for (int i = 0; i < n; i++) {
		long long len = num(lines[i], "interval_ns");
		ck_assert_msg(len >= (long long)HAMMER_PERIOD_NS,
			      "summary %d of %d: an interval of %lld ns, shorter than the "
			      "period: two threads wrote for one deadline\n%s",
			      i + 1, n, len, lines[i]);
	}
}
END_TEST

/* ---- the scenario under the library ---------------------------------- */

struct run {
	int status;
	char out[65536];
	char err[65536];
};

static void temp_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/a4s-interval.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Runs the scenario with the library preloaded and vars (NULL-ended). */
static void run_scenario(struct run *r, const char *const vars[], const char *a1,
			 const char *a2, const char *a3)
{
	const char *argv[] = { SCENARIO, a1, a2, a3, NULL };
	r->status = t_run_preloaded(argv, vars, r->out, sizeof(r->out), r->err, sizeof(r->err),
				    60000);
	ck_assert_msg(r->status == 0, "scenario %s: status %d\nstdout: %s\nstderr: %s", a1,
		      r->status, r->out, r->err);
}

static bool is_interval(const char *line)
{
	return strstr(line, "\"summary\":\"interval\"") || strstr(line, " summary=interval ");
}

/*
 * What every trace with interval summaries must show: each interval at
 * least a period long; each summary's totals the sum of its intervals;
 * and, after the last, the exit summary's totals at least as large.
 * Returns how many interval summaries there were.
 */
static int check_intervals(char **lines, int n, uint64_t period_ns)
{
	static const char *const keys[] = { "calls", "accepted", "failed", "emulated",
					    "retried_calls", "retries" };
	long long sum[6] = { 0 };
	int summaries = 0;
	for (int i = 0; i < n; i++) {
		if (!is_interval(lines[i]))
			continue;
		summaries++;
		long long len = num(lines[i], "interval_ns");
		ck_assert_msg(len >= (long long)period_ns,
			      "an interval of %lld ns, shorter than the period: a second "
			      "writer for one interval?\n%s",
			      len, lines[i]);
		for (int k = 0; k < 6; k++) {
			char total[32];
			snprintf(total, sizeof(total), "total_%s", keys[k]);
			sum[k] += num(lines[i], keys[k]);
			ck_assert_msg(num(lines[i], total) == sum[k],
				      "%s %lld, the intervals add up to %lld:\n%s", total,
				      num(lines[i], total), sum[k], lines[i]);
		}
	}
	return summaries;
}

START_TEST(each_interval_has_one_writer_however_many_threads_pass_the_deadline)
{
	char dir[64], trace[128], v_log[160];
	temp_dir(dir, sizeof(dir));
	snprintf(trace, sizeof(trace), "%s/trace.json", dir);
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", trace);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", "ACCEPT4SHIM_STATS=1",
			       "ACCEPT4SHIM_STATS_INTERVAL=1", NULL };
	struct run r;
	const int rounds = 4, threads = 8;
	run_scenario(&r, vars, "rounds", "4", "8");
	ck_assert_str_eq(r.out, "fact calls=32\n");
	ck_assert_str_eq(r.err, "");
	char *lines[256];
	int n = split_lines(slurp(trace), lines, 256);
	int records = 0;
	for (int i = 0; i < n; i++)
		records += strstr(lines[i], "\"call\":\"accept4\"") != NULL;
	ck_assert_int_eq(records, rounds * threads);
	/* A pause of 1.1 s before each round: each round's first call writes
	 * one; a second writer in a round would have an interval far
	 * shorter than a second. */
	ck_assert_int_ge(check_intervals(lines, n, SECOND), rounds);
	ck_assert_msg(strstr(lines[n - 1], "\"summary\":\"exit\"") &&
			      num(lines[n - 1], "calls") == rounds * threads,
		      "last line: %s", lines[n - 1]);
	remove_dir(dir);
}
END_TEST

/* The fork case's facts. */
struct fork_facts {
	int parent, child;
	unsigned long long first_call_ns, second_call_ns;
};

static bool fork_once(struct fork_facts *f, char *dir, size_t size)
{
	char v_log[160];
	temp_dir(dir, size);
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s/t.%%p.json", dir);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", "ACCEPT4SHIM_STATS=1",
			       "ACCEPT4SHIM_STATS_INTERVAL=1", NULL };
	struct run r;
	run_scenario(&r, vars, "fork", NULL, NULL);
	ck_assert_msg(sscanf(r.out, "fact child=%d first_call_ns=%llu second_call_ns=%llu\n"
				    "fact parent=%d",
			     &f->child, &f->first_call_ns, &f->second_call_ns, &f->parent) == 4,
		      "%s", r.out);
	/* The case proves something only if the child's first call came
	 * less than a period after the fork (the machine may have stalled). */
	return f->first_call_ns < SECOND;
}

START_TEST(a_forked_childs_intervals_start_at_its_fork)
{
	struct fork_facts f;
	char dir[64], path[128];
	int tries = 0;
	while (!fork_once(&f, dir, sizeof(dir))) {
		remove_dir(dir);
		ck_assert_msg(++tries < 3, "the child never made its first call within a second "
					   "of the fork: nothing proven");
	}
	/*
	 * The parent was loaded 1.2 s before the fork. Had the child kept its
	 * parent's interval, its first call would have written a summary at
	 * once, an interval of 1.2 s or more, counting the parent's call too.
	 * Started at the fork, the child writes its first at its second
	 * call: an interval no longer than the fork to that call, counting
	 * the child's two calls only.
	 */
	snprintf(path, sizeof(path), "%s/t.%d.json", dir, f.child);
	char *lines[32];
	int n = split_lines(slurp(path), lines, 32);
	ck_assert_msg(n == 4, "child's trace: %d lines", n);
	ck_assert_ptr_nonnull(strstr(lines[0], "\"errno\":\"EAGAIN\""));
	ck_assert_ptr_nonnull(strstr(lines[1], "\"errno\":\"EAGAIN\""));
	ck_assert_msg(is_interval(lines[2]), "%s", lines[2]);
	ck_assert_int_eq(num(lines[2], "calls"), 2);
	ck_assert_int_eq(num(lines[2], "total_calls"), 2);
	ck_assert_int_eq(num(lines[2], "pid"), f.child);
	long long len = num(lines[2], "interval_ns");
	ck_assert_msg(len >= (long long)SECOND && (unsigned long long)len <= f.second_call_ns,
		      "the child's first interval: %lld ns; fork to its second call: %llu ns",
		      len, f.second_call_ns);
	ck_assert_msg(strstr(lines[3], "\"summary\":\"exit\"") && num(lines[3], "calls") == 2,
		      "%s", lines[3]);
	check_intervals(lines, n, SECOND);

	/* The parent: its own two calls, the child's not among them. */
	snprintf(path, sizeof(path), "%s/t.%d.json", dir, f.parent);
	n = split_lines(slurp(path), lines, 32);
	ck_assert_int_ge(check_intervals(lines, n, SECOND), 1);
	int last = -1;
	for (int i = 0; i < n; i++)
		if (is_interval(lines[i]))
			last = i;
	ck_assert_int_eq(num(lines[last], "total_calls"), 2);
	ck_assert_int_eq(num(lines[last], "pid"), f.parent);
	remove_dir(dir);
}
END_TEST

START_TEST(between_summaries_a_call_makes_no_system_call_of_its_own)
{
	/* 300 calls with interval summaries on, none due: not one system
	 * call beyond the accept (the clock is read through the vDSO). */
	const char *vars[] = { "ACCEPT4SHIM_STATS=1", "ACCEPT4SHIM_STATS_INTERVAL=3600", NULL };
	struct run r;
	run_scenario(&r, vars, "syscalls", "300", NULL);
	ck_assert_str_eq(r.out, "fact clock_gettime=0 write=0 writev=0 getsockname=0 openat=0 "
				"getpid=0 gettid=0 fstat=0\n");
}
END_TEST

START_TEST(without_a_trace_the_interval_summaries_go_to_stderr)
{
	const char *vars[] = { "ACCEPT4SHIM_STATS=1", "ACCEPT4SHIM_STATS_INTERVAL=1", NULL };
	struct run r;
	run_scenario(&r, vars, "rounds", "2", "2");
	char *lines[64];
	int n = split_lines(r.err, lines, 64);
	ck_assert_int_ge(n, 3);
	for (int i = 0; i < n - 1; i++) {
		ck_assert_msg(strncmp(lines[i], "accept4shim: ts=", 16) == 0 &&
				      strstr(lines[i], " summary=interval interval_ns="),
			      "%s", lines[i]);
		/* the schema's order, text keys as in JSON */
		const char *at = lines[i];
		static const char *const order[] = {
			" pid=", " summary=interval", " interval_ns=", " calls=", " accepted=",
			" failed=", " emulated=", " retried_calls=", " retries=", " dropped=",
			" errors=-", " total_calls=", " total_accepted=", " total_failed=",
			" total_emulated=", " total_retried_calls=", " total_retries=",
			" total_dropped=", " total_errors=-",
		};
		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
			const char *p = strstr(at, order[k]);
			ck_assert_msg(p != NULL, "%s not after %.20s in %s", order[k], at, lines[i]);
			at = p + 1;
		}
	}
	ck_assert_int_ge(check_intervals(lines, n - 1, SECOND), 2);
	ck_assert_msg(strstr(lines[n - 1], " summary=exit calls=4 "), "%s", lines[n - 1]);
}
END_TEST

START_TEST(without_stats_1_there_is_no_interval_summary)
{
	const char *vars[] = { "ACCEPT4SHIM_STATS_INTERVAL=1", NULL };
	struct run r;
	run_scenario(&r, vars, "rounds", "2", "1");
	ck_assert_str_eq(r.err, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("interval");
	TCase *unit = tcase_create("format");
	tcase_add_test(unit, interval_summary_in_json_and_text);
	tcase_add_test(unit, every_errno_twice_still_makes_one_line_or_none);
	tcase_add_test(unit, one_thread_claims_each_deadline_however_many_reach_it_together);
	suite_add_tcase(s, unit);
	TCase *tc = tcase_create("preloaded");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, each_interval_has_one_writer_however_many_threads_pass_the_deadline);
	tcase_add_test(tc, a_forked_childs_intervals_start_at_its_fork);
	tcase_add_test(tc, between_summaries_a_call_makes_no_system_call_of_its_own);
	tcase_add_test(tc, without_a_trace_the_interval_summaries_go_to_stderr);
	tcase_add_test(tc, without_stats_1_there_is_no_interval_summary);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
