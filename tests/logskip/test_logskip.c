/*
 * SPEC ACCEPT4SHIM_LOG_SKIP: "errno names joined by `,` (e.g. EAGAIN), or
 * empty ... calls that failed with one of these are not written as records
 * (they are still counted)".
 *
 * Each case runs a scenario of this same program under the library with
 * its own variables (read once, at load): a non-blocking listener drained
 * until EAGAIN, the way event-driven servers accept. A real server (nginx,
 * killed with SIGKILL) is in tests/interval/killed.py.
 *
 *   test_logskip scenario drain       3 connections accepted until EAGAIN,
 *                                     2 more EAGAIN, 1 EBADF: 7 calls
 *   test_logskip scenario syscalls N  N calls failing with EAGAIN, the
 *                                     system calls of the trace counted
 *   test_logskip scenario eagain N    N calls failing with EAGAIN, each in
 *                                     eagain_call(), for callgrind's
 *                                     --toggle-collect=eagain_call (the
 *                                     instructions a skipped call costs;
 *                                     docs/operators.md); runs without the
 *                                     library too, for the reference
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <accept4shim.h>
#include "harness.h"

#pragma weak accept4shim_get_stats

static char self_path[4096];

/* ---- the scenario side ----------------------------------------------- */

static void eagain(int fd)
{
	T_ASSERT(accept4(fd, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EAGAIN,
		 "accept4 on an empty listener: %s", strerror(errno));
}

/* Out of line and global, so that callgrind can count it alone. */
__attribute__((noinline)) int eagain_call(int fd);
__attribute__((noinline)) int eagain_call(int fd)
{
	return accept4(fd, NULL, NULL, SOCK_CLOEXEC);
}

static void sc_eagain(int n)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	for (int i = 0; i < n; i++)
		T_ASSERT(eagain_call(l.fd) == -1 && errno == EAGAIN, "EAGAIN");
	printf("fact calls=%d\n", n);
}

static void sc_drain(void)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	pid_t clients = t_clients(&l, 3);
	int fd, accepted = 0;
	while ((fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(fd);
		accepted++;
	}
	T_ASSERT(errno == EAGAIN && accepted == 3, "drained %d, then %s", accepted,
		 strerror(errno));
	eagain(l.fd);
	eagain(l.fd);
	T_ASSERT(accept(-1, NULL, NULL) == -1 && errno == EBADF, "EBADF");
	t_clients_done(clients);
	struct accept4shim_stats s;
	T_CHECK(accept4shim_get_stats(&s, sizeof(s)) == 0);
	printf("fact calls=%llu accepted=%llu EAGAIN=%llu EBADF=%llu dropped=%llu\n",
	       (unsigned long long)s.calls, (unsigned long long)s.accepted,
	       (unsigned long long)s.errors[EAGAIN], (unsigned long long)s.errors[EBADF],
	       (unsigned long long)s.dropped);
}

static void sc_syscalls(int n)
{
	static const long nrs[] = { SYS_write, SYS_writev, SYS_getsockname, SYS_getpeername,
				    SYS_openat, SYS_fstat, SYS_statx };
	static const char *const names[] = { "write", "writev", "getsockname", "getpeername",
					     "openat", "fstat", "statx" };
	struct t_listener l;
	t_listen(&l, T_TCP4, SOCK_NONBLOCK);
	/* A first record opens the trace: one that is not skipped. */
	T_ASSERT(accept4(-1, NULL, NULL, 0) == -1 && errno == EBADF, "EBADF");
	int nnrs = (int)(sizeof(nrs) / sizeof(nrs[0]));
	t_count_syscalls(nrs, nnrs);
	for (int i = 0; i < n; i++)
		eagain(l.fd);
	printf("fact");
	for (int i = 0; i < nnrs; i++)
		printf(" %s=%ld", names[i], t_syscalls_counted(nrs[i]));
	printf("\n");
}

static int scenario(int argc, char **argv)
{
	t_is_child = true;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[2], "eagain") == 0 && argc > 3) {
		sc_eagain(atoi(argv[3]));
		return 0;
	}
	if (!accept4shim_get_stats) {
		fprintf(stderr, "test_logskip: the library is not loaded\n");
		return 3;
	}
	if (strcmp(argv[2], "drain") == 0)
		sc_drain();
	else if (strcmp(argv[2], "syscalls") == 0 && argc > 3)
		sc_syscalls(atoi(argv[3]));
	else
		return 2;
	return 0;
}

/* ---- the test side --------------------------------------------------- */

struct run {
	int status;
	char out[16384], err[16384];
};

static void run_scenario(struct run *r, const char *const vars[], const char *name,
			 const char *arg)
{
	const char *argv[] = { self_path, "scenario", name, arg, NULL };
	r->status = t_run_preloaded(argv, vars, r->out, sizeof(r->out), r->err, sizeof(r->err),
				    60000);
	ck_assert_msg(r->status == 0, "scenario %s: status %d\nstdout: %s\nstderr: %s", name,
		      r->status, r->out, r->err);
}

static void temp_trace(char *dir, size_t dsize, char *trace, size_t tsize, char *var,
		       size_t vsize)
{
	snprintf(dir, dsize, "/tmp/a4s-logskip.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(trace, tsize, "%s/trace", dir);
	snprintf(var, vsize, "ACCEPT4SHIM_LOG=%s", trace);
}

static void remove_trace(const char *dir, const char *trace)
{
	unlink(trace);
	ck_assert_int_eq(rmdir(dir), 0);
}

/* How many lines of the file hold word. */
static int lines_with(const char *path, const char *word)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	char line[8192];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, word) != NULL;
	fclose(f);
	return n;
}

static const char drained[] = "fact calls=7 accepted=3 EAGAIN=3 EBADF=1 dropped=0\n";

/* The drain scenario with vars, in both formats: records with each errno,
 * and the exit summary's counts. */
struct seen {
	int eagain, ebadf, accepted, summaries;
	char summary[8192];
};

static void drain_with(const char *skip, bool json, struct seen *s, char *err, size_t errsize)
{
	char dir[64], trace[128], v_log[160], v_skip[256];
	temp_trace(dir, sizeof(dir), trace, sizeof(trace), v_log, sizeof(v_log));
	snprintf(v_skip, sizeof(v_skip), "ACCEPT4SHIM_LOG_SKIP=%s", skip);
	const char *vars[] = { v_log, v_skip, "ACCEPT4SHIM_STATS=1",
			       json ? "ACCEPT4SHIM_LOG_FORMAT=json" : "ACCEPT4SHIM_LOG_FORMAT=text",
			       NULL };
	struct run r;
	run_scenario(&r, vars, "drain", NULL);
	ck_assert_str_eq(r.out, drained); /* every call counted, skipped or not */
	size_t n = strlen(r.err) < errsize - 1 ? strlen(r.err) : errsize - 1;
	memcpy(err, r.err, n);
	err[n] = '\0';
	s->eagain = lines_with(trace, json ? "\"errno\":\"EAGAIN\"" : " errno=EAGAIN ");
	s->ebadf = lines_with(trace, json ? "\"errno\":\"EBADF\"" : " errno=EBADF ");
	s->accepted = lines_with(trace, json ? "\"errno\":null" : " errno=- ");
	s->summaries = lines_with(trace, json ? "\"summary\":\"exit\"" : " summary=exit ");
	FILE *f = fopen(trace, "r");
	s->summary[0] = '\0';
	while (f && fgets(s->summary, sizeof(s->summary), f))
		;
	if (f)
		fclose(f);
	remove_trace(dir, trace);
}

START_TEST(skipped_failures_write_no_record_and_are_still_counted)
{
	for (int json = 0; json < 2; json++) {
		struct seen all, skip;
		char err[4096];
		/* The premise: without the variable, the drain's EAGAINs are
		 * three records of the seven. */
		drain_with("", json, &all, err, sizeof(err));
		ck_assert_int_eq(all.eagain, 3);
		ck_assert_int_eq(all.ebadf, 1);
		ck_assert_int_eq(all.accepted, 3);
		drain_with("EAGAIN", json, &skip, err, sizeof(err));
		ck_assert_str_eq(err, "");
		ck_assert_int_eq(skip.eagain, 0);
		ck_assert_int_eq(skip.ebadf, 1);
		ck_assert_int_eq(skip.accepted, 3);
		/* The exit summary counts them, the same counts as without
		 * skipping (from "calls" on: the time and pid differ). */
		ck_assert_int_eq(skip.summaries, 1);
		const char *counts = strstr(skip.summary, json ? "\"calls\":" : " calls=");
		ck_assert_msg(counts && strstr(all.summary, counts), "%s\n%s", skip.summary,
			      all.summary);
		ck_assert_msg(strstr(counts, json ? "\"calls\":7," : " calls=7 ") &&
				      strstr(counts, json ? "\"EAGAIN\":3" : "EAGAIN:3"),
			      "%s", skip.summary);
	}
}
END_TEST

START_TEST(several_names_and_linux_aliases)
{
	struct seen s;
	char err[4096];
	drain_with("EAGAIN, EBADF", true, &s, err, sizeof(err));
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(s.eagain + s.ebadf, 0);
	ck_assert_int_eq(s.accepted, 3);
	drain_with("EWOULDBLOCK", true, &s, err, sizeof(err)); /* EAGAIN's other name */
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(s.eagain, 0);
	ck_assert_int_eq(s.ebadf, 1);
	drain_with("EMFILE,ECONNABORTED", true, &s, err, sizeof(err)); /* none of these here */
	ck_assert_int_eq(s.eagain, 3);
	ck_assert_int_eq(s.ebadf, 1);
}
END_TEST

START_TEST(a_bad_value_is_said_once_and_every_record_is_written)
{
	static const char *const bad[] = { "EAGAIN,ENOPE", "eagain", "11", "EAGAIN;EBADF",
					   "EAGAIN,", "EAGAIN|EBADF" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seen s;
		char err[4096], want[512];
		drain_with(bad[i], true, &s, err, sizeof(err));
		snprintf(want, sizeof(want),
			 "accept4shim: ACCEPT4SHIM_LOG_SKIP=\"%s\" is not valid (accepted: errno "
			 "names such as EAGAIN joined by ',', or empty); using an empty list\n",
			 bad[i]);
		ck_assert_str_eq(err, want); /* one line, once */
		ck_assert_int_eq(s.eagain, 3);
		ck_assert_int_eq(s.ebadf, 1);
		ck_assert_int_eq(s.accepted, 3);
	}
}
END_TEST

START_TEST(a_skipped_call_costs_the_trace_no_system_call)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, sizeof(dir), trace, sizeof(trace), v_log, sizeof(v_log));
	const char *traced[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	const char *skipped[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json",
				  "ACCEPT4SHIM_LOG_SKIP=EAGAIN", NULL };
	struct run r;
	/* The premise: each record costs at least its write (the
	 * destination's checks may add more), and the listener's address is
	 * asked once (then kept, shim/listeners.h). */
	run_scenario(&r, traced, "syscalls", "200");
	long w, v, g;
	ck_assert_msg(sscanf(r.out, "fact write=%ld writev=%ld getsockname=%ld", &w, &v, &g) == 3,
		      "%s", r.out);
	ck_assert_msg(w + v >= 200 && g >= 1, "%s", r.out);
	unlink(trace);
	run_scenario(&r, skipped, "syscalls", "200");
	ck_assert_str_eq(r.out, "fact write=0 writev=0 getsockname=0 getpeername=0 openat=0 "
				"fstat=0 statx=0\n");
	ck_assert_int_eq(lines_with(trace, "\"errno\":\"EBADF\""), 1);
	ck_assert_int_eq(lines_with(trace, "\"errno\":\"EAGAIN\""), 0);
	remove_trace(dir, trace);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "scenario") == 0)
		return scenario(argc, argv);
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		return 1;
	self_path[n] = '\0';
	Suite *s = suite_create("logskip");
	TCase *tc = tcase_create("logskip");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, skipped_failures_write_no_record_and_are_still_counted);
	tcase_add_test(tc, several_names_and_linux_aliases);
	tcase_add_test(tc, a_bad_value_is_said_once_and_every_record_is_written);
	tcase_add_test(tc, a_skipped_call_costs_the_trace_no_system_call);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
