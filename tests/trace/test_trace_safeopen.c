/*
 * SPEC, "Destinations, as operators use them": "A file path is opened
 * without following a symbolic link in any of its components. A new file
 * is created with mode 0600; an existing one is used only if it is a
 * regular file (or a FIFO or a character device) owned by the process's
 * effective user and with a single link. Anything else is an unusable
 * destination", said once on stderr, records dropped and counted.
 *
 * Each attack is made by a real second user, nobody, in a sticky,
 * world-writable directory like /tmp, against a server run as root (we are
 * root here and in CI): a symbolic link to a directory of the attacker's,
 * a symbolic link as the file, a file the attacker made 0666, a hard link
 * to a file of root's. Each case runs three ways: with openat2, and with
 * openat2 refused (ENOSYS, EPERM, as old kernels and sandboxes answer) so
 * that the component-by-component walk is what stands in the way.
 */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracekit.h"

#define NOBODY 65534

/* fn(arg) as nobody, in a child. */
static void as_nobody(void (*fn)(const char *), const char *arg)
{
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
			_exit(3);
		umask(0);
		fn(arg);
		_exit(0);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody's part failed: %d",
		 status);
}

/* A directory like /tmp: root's, mode 1777. */
static void sticky_dir(char dir[64])
{
	temp_dir(dir, 64);
	T_CHECK(chmod(dir, 01777) == 0);
}

static int openat2_refusal;

/* The library's process, run as a scenario with openat2 refused as this
 * case says (a seccomp filter in a child of ours, which the scenario
 * inherits); what it printed comes back through a file. */
struct run {
	const char *log;
	char result[64];
};

static void run_child(void *arg)
{
	struct run *k = arg;
	if (openat2_refusal)
		t_seccomp_fail_syscall(SYS_openat2, openat2_refusal);
	char v_log[PATH_MAX + 32];
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", k->log);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r;
	run_scenario(&r, vars, "accepts", "3", NULL);
	struct text t = { 0 };
	text_add(&t, r.out.p, r.out.len);
	text_add(&t, "\n--\n", 4);
	text_add(&t, r.err.p, r.err.len);
	write_file(k->result, t.p, t.len);
	T_ASSERT(r.status == 0, "status %d: %s", r.status, r.err.p);
}

/* Runs "accepts 3" with the trace at log; its stdout and stderr. */
static void run_with_log(const char *log, struct text *out, struct text *err)
{
	struct run k = { log, "/tmp/a4s-safeopen-XXXXXX" };
	int fd = mkstemp(k.result);
	T_CHECK(fd >= 0);
	close(fd);
	T_IN_CHILD(run_child, &k);
	struct text all;
	read_file(k.result, &all);
	unlink(k.result);
	char *sep = strstr(all.p, "\n--\n");
	T_ASSERT(sep != NULL, "no result");
	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	text_add(out, all.p, (size_t)(sep - all.p));
	text_add(err, sep + 4, strlen(sep + 4));
	text_free(&all);
}

/* Refused: every call dropped and counted, and exactly `line` on stderr. */
static void expect_refused(const char *log, const char *reason)
{
	struct text out, err;
	run_with_log(log, &out, &err);
	ck_assert_msg(strstr(out.p, "accepts calls=4 dropped=4"), "%s: %s", log, out.p);
	char want[PATH_MAX + 256];
	snprintf(want, sizeof(want), "accept4shim: trace %s: %s; records are dropped and counted\n",
		 log, reason);
	ck_assert_str_eq(err.p, want);
	text_free(&out);
	text_free(&err);
}

static const int refusals[] = { 0, ENOSYS, EPERM };

static void plant_dir_link(const char *dir)
{
	char evil[PATH_MAX], link[PATH_MAX];
	snprintf(evil, sizeof(evil), "%s/evil", dir);
	snprintf(link, sizeof(link), "%s/logs", dir);
	T_CHECK(mkdir(evil, 0700) == 0);
	T_CHECK(symlink(evil, link) == 0);
}

START_TEST(a_symlinked_directory_planted_by_another_user_is_not_followed)
{
	openat2_refusal = refusals[_i];
	char dir[64], log[PATH_MAX], evil[PATH_MAX];
	sticky_dir(dir);
	as_nobody(plant_dir_link, dir);
	snprintf(log, sizeof(log), "%s/logs/trace.json", dir);
	expect_refused(log, "cannot open: a symbolic link is in the path (ELOOP)");
	/* nothing landed in the attacker's directory */
	snprintf(evil, sizeof(evil), "%s/evil/trace.json", dir);
	ck_assert_int_eq(access(evil, F_OK), -1);
	char cmd[PATH_MAX];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static void plant_file_link(const char *dir)
{
	char link[PATH_MAX];
	snprintf(link, sizeof(link), "%s/trace.json", dir);
	T_CHECK(symlink("/etc/a4s-never-written", link) == 0);
}

START_TEST(a_symlink_in_place_of_the_file_is_not_followed)
{
	openat2_refusal = refusals[_i];
	char dir[64], log[PATH_MAX];
	sticky_dir(dir);
	as_nobody(plant_file_link, dir);
	snprintf(log, sizeof(log), "%s/trace.json", dir);
	expect_refused(log, "cannot open: a symbolic link is in the path (ELOOP)");
	ck_assert_int_eq(access("/etc/a4s-never-written", F_OK), -1);
	remove_dir(dir);
}
END_TEST

static void plant_open_file(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/trace.json", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
	T_CHECK(fd >= 0);
	close(fd);
}

START_TEST(a_file_another_user_made_for_us_is_not_written)
{
	/* nobody made it 0666, to read root's trace from it */
	openat2_refusal = refusals[_i];
	char dir[64], log[PATH_MAX];
	sticky_dir(dir);
	as_nobody(plant_open_file, dir);
	snprintf(log, sizeof(log), "%s/trace.json", dir);
	expect_refused(log, "refused: owned by uid 65534, not by the effective uid 0");
	struct stat st;
	T_CHECK(stat(log, &st) == 0);
	ck_assert_int_eq(st.st_size, 0);
	remove_dir(dir);
}
END_TEST

static void plant_hard_link(const char *dir)
{
	/* protected_hardlinks lets a user link a file it may read and
	 * write; root's secret here is such a file. */
	char target[PATH_MAX], name[PATH_MAX];
	snprintf(target, sizeof(target), "%s/root/secret", dir);
	snprintf(name, sizeof(name), "%s/trace.json", dir);
	T_CHECK(link(target, name) == 0);
}

START_TEST(a_hard_link_to_another_file_is_not_written_through)
{
	openat2_refusal = refusals[_i];
	char dir[64], log[PATH_MAX], root_dir[128], secret[160];
	sticky_dir(dir);
	snprintf(root_dir, sizeof(root_dir), "%s/root", dir);
	snprintf(secret, sizeof(secret), "%s/secret", root_dir);
	T_CHECK(mkdir(root_dir, 0755) == 0);
	write_file(secret, "root's data\n", 12);
	T_CHECK(chmod(secret, 0666) == 0);
	as_nobody(plant_hard_link, dir);
	snprintf(log, sizeof(log), "%s/trace.json", dir);
	expect_refused(log, "refused: the file has 2 links, not 1");
	struct text t;
	read_file(secret, &t);
	ck_assert_str_eq(t.p, "root's data\n");
	text_free(&t);
	unlink(log);
	unlink(secret);
	rmdir(root_dir);
	remove_dir(dir);
}
END_TEST

START_TEST(a_new_file_is_made_0600_and_an_own_one_is_used)
{
	/* The good paths, through the same checks: made 0600 whatever the
	 * umask lets through; then, existing, ours, one link: used again. */
	openat2_refusal = refusals[_i];
	umask(0);
	char dir[64], log[PATH_MAX];
	sticky_dir(dir);
	snprintf(log, sizeof(log), "%s/sub/../trace.json", dir);
	char sub[PATH_MAX];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	T_CHECK(mkdir(sub, 0755) == 0);
	for (int round = 0; round < 2; round++) {
		struct text out, err;
		run_with_log(log, &out, &err);
		ck_assert_msg(strstr(out.p, "accepts calls=4 dropped=0"), "%s", out.p);
		ck_assert_str_eq(err.p, "");
		text_free(&out);
		text_free(&err);
	}
	struct stat st;
	T_CHECK(stat(log, &st) == 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_uid, 0);
	struct result c;
	tracecheck(&c, log, false);
	struct lines recs;
	lines_of(c.out.p, "rec ", &recs);
	ck_assert_uint_eq(recs.n, 8);
	lines_free(&recs);
	rmdir(sub);
	remove_dir(dir);
}
END_TEST

START_TEST(a_proc_magic_link_is_not_followed)
{
	/* /proc/PID/fd/N is a link the kernel makes; naming it is naming a
	 * symbolic link (only the three spellings of stderr mean stderr). */
	openat2_refusal = refusals[_i];
	char log[64];
	snprintf(log, sizeof(log), "/proc/%d/fd/2", (int)getpid());
	expect_refused(log, "cannot open: a symbolic link is in the path (ELOOP)");
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("trace_safeopen");
	TCase *tc = tcase_create("attacks");
	tcase_set_timeout(tc, 60);
	tcase_set_tags(tc, "seccomp");
	tcase_add_loop_test(tc, a_symlinked_directory_planted_by_another_user_is_not_followed, 0, 3);
	tcase_add_loop_test(tc, a_symlink_in_place_of_the_file_is_not_followed, 0, 3);
	tcase_add_loop_test(tc, a_file_another_user_made_for_us_is_not_written, 0, 3);
	tcase_add_loop_test(tc, a_hard_link_to_another_file_is_not_written_through, 0, 3);
	tcase_add_loop_test(tc, a_new_file_is_made_0600_and_an_own_one_is_used, 0, 3);
	tcase_add_loop_test(tc, a_proc_magic_link_is_not_followed, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 2 && geteuid() != 0) {
		fprintf(stderr, "the attacks need root (the victim) and nobody (the attacker): "
				"run as root, as scripts/check does\n");
		return 1;
	}
	return t_trace_main(errno, argc, argv, NULL, make_suite);
}
