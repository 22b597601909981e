/*
 * Issue 7, set-user-ID safety. SPEC: variables are read "with
 * secure_getenv (so a set-user-ID program ignores them)"; sink: the trace
 * file is opened with O_NOFOLLOW, so a link planted at the LOG path is
 * refused, not followed.
 *
 * The set-user-ID case needs a real secure-execution process: a copy of
 * the probe linked with the library (DT_NEEDED: the dynamic linker ignores
 * LD_PRELOAD of a non-system path in such a process), owned by root with
 * the set-user-ID (or set-group-ID) bit, run as nobody through setpriv. The
 * probe prints getauxval(AT_SECURE), so the test knows the kernel really
 * marked it secure. A control run of the same copy as root shows that the
 * same variables are honoured when the process is not secure. This needs
 * root, as CI and scripts/check (which installs packages) have.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "harness.h"

static char dir[4096];

/* A directory on a file system that honours set-user-ID bits, readable by
 * everyone (nobody must be able to exec the copy). */
static void make_dir(void)
{
	const char *candidates[] = { "/tmp", "/var/tmp", A4S_BINARY_DIR };
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		struct statvfs vfs;
		if (statvfs(candidates[i], &vfs) != 0 || (vfs.f_flag & ST_NOSUID))
			continue;
		snprintf(dir, sizeof(dir), "%s/a4s-suid-XXXXXX", candidates[i]);
		if (mkdtemp(dir)) {
			T_CHECK(chmod(dir, 0755) == 0);
			return;
		}
	}
	ck_abort_msg("no directory on a file system that allows set-user-ID");
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(in >= 0, "%s: %s", from, strerror(errno));
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	ck_assert_msg(out >= 0, "%s: %s", to, strerror(errno));
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	ck_assert_int_eq(chown(to, 0, 0), 0);
	ck_assert_int_eq(chmod(to, mode), 0); /* after chown, which clears the bits */
}

static void clean_dir(void)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* The variables, each of which would show if it were read: a complaint on
 * stderr (MODE), a trace file (LOG), a non-blocking socket (ADD_FLAGS), a
 * summary at exit (STATS). */
static void secure_case(mode_t mode)
{
	ck_assert_msg(geteuid() == 0, "this test needs root to make a set-user-ID copy");
	make_dir();
	char probe[4200], trace[4200], logvar[4300];
	snprintf(probe, sizeof(probe), "%s/probe", dir);
	snprintf(trace, sizeof(trace), "%s/trace.log", dir);
	snprintf(logvar, sizeof(logvar), "ACCEPT4SHIM_LOG=%s", trace);
	copy_file(A4S_PROBE_LINKED, probe, mode);
	const char *env[] = { "ACCEPT4SHIM_MODE=bogus", "ACCEPT4SHIM_ADD_FLAGS=SOCK_NONBLOCK",
			      logvar, "ACCEPT4SHIM_STATS=1", NULL };
	static char out[8192], err[8192];

	/* Control: the same copy run by root is not secure, and every
	 * variable takes effect. */
	const char *plain[] = { probe, "secure", "accept4", "0", "stats", NULL };
	int rc = t_run(plain, env, out, sizeof(out), err, sizeof(err), 10000);
	ck_assert_msg(rc == 0, "control run: status %d: %s", rc, err);
	ck_assert_str_eq(out, "secure=0\naccept4 0: ok nonblock=1 cloexec=0\nstats calls=1\n");
	ck_assert_msg(strstr(err, "accept4shim: ACCEPT4SHIM_MODE=\"bogus\""), "%s", err);
	ck_assert(exists(trace));
	ck_assert_int_eq(unlink(trace), 0);

	/* Secure: run as nobody; the library is loaded (it counts the call)
	 * but reads none of the variables. */
	const char *as_nobody[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
				    "--clear-groups", probe, "secure", "accept4", "0", "stats", NULL };
	rc = t_run(as_nobody, env, out, sizeof(out), err, sizeof(err), 10000);
	ck_assert_msg(rc == 0, "secure run: status %d: %s", rc, err);
	ck_assert_str_eq(out, "secure=1\naccept4 0: ok nonblock=0 cloexec=0\nstats calls=1\n");
	ck_assert_msg(err[0] == '\0', "stderr not empty: %s", err);
	ck_assert_msg(!exists(trace), "a trace file was created");
	clean_dir();
}

START_TEST(set_user_id_process_ignores_every_variable)
{
	secure_case(04755);
}
END_TEST

START_TEST(set_group_id_process_ignores_every_variable)
{
	secure_case(02755);
}
END_TEST

/* A link at the LOG path: nothing is written through it, whether its
 * target exists or not, and the program carries on. */
START_TEST(trace_never_follows_a_symbolic_link)
{
	snprintf(dir, sizeof(dir), "/tmp/a4s-link-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char victim[4200], link1[4200], missing[4200], link2[4200];
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(link1, sizeof(link1), "%s/trace.log", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	snprintf(link2, sizeof(link2), "%s/dangling.log", dir);
	int fd = open(victim, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(symlink(victim, link1), 0);
	ck_assert_int_eq(symlink(missing, link2), 0);

	const char *links[] = { link1, link2 };
	static char out[8192], err[8192];
	for (int i = 0; i < 2; i++) {
		char preload[4200], logvar[4300];
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", t_library_path());
		snprintf(logvar, sizeof(logvar), "ACCEPT4SHIM_LOG=%s", links[i]);
		const char *env[] = { preload, logvar, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
		const char *argv[] = { A4S_PROBE, "accept4", "SOCK_CLOEXEC", "accept", "stats", NULL };
		int rc = t_run(argv, env, out, sizeof(out), err, sizeof(err), 10000);
		ck_assert_msg(rc == 0, "status %d: %s", rc, err);
		ck_assert_str_eq(out, "accept4 SOCK_CLOEXEC: ok nonblock=0 cloexec=1\n"
					 "accept: ok nonblock=0 cloexec=0\nstats calls=2\n");
		struct stat st;
		ck_assert_int_eq(lstat(links[i], &st), 0);
		ck_assert(S_ISLNK(st.st_mode));
	}
	struct stat st;
	ck_assert_int_eq(stat(victim, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert(!exists(missing));
	clean_dir();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("setuid");
	TCase *tc = tcase_create("secure");
	tcase_add_test(tc, set_user_id_process_ignores_every_variable);
	tcase_add_test(tc, set_group_id_process_ignores_every_variable);
	tcase_add_test(tc, trace_never_follows_a_symbolic_link);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
