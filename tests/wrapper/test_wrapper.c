/*
 * SPEC, "The wrapper": "accept4shim [OPTION]... [--] COMMAND [ARG]... runs
 * COMMAND with the library prepended to LD_PRELOAD (what was there stays)
 * and the variables above set. Options map one to one ... A bad option
 * prints usage to stderr and exits 2; a command that cannot be run exits
 * 127 (126 if found but not executable) with a message, like env(1).
 * Otherwise the exit status is COMMAND's."
 *
 * Each case runs the built command the way a user does, on a probe program
 * that prints what it was given.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accept4shim.h"
#include "harness.h"

#define MAX_ARGS 32

struct run {
	pid_t pid;
	int status;
	char out[16384];
	char err[16384];
};

static const char *const our_variables[] = {
	"LD_PRELOAD", "ACCEPT4SHIM_MODE", "ACCEPT4SHIM_INHERIT", "ACCEPT4SHIM_RETRY",
	"ACCEPT4SHIM_ADD_FLAGS", "ACCEPT4SHIM_LOG", "ACCEPT4SHIM_LOG_FORMAT", "ACCEPT4SHIM_LOG_SKIP",
	"ACCEPT4SHIM_STATS", "ACCEPT4SHIM_STATS_INTERVAL",
};

static void drain(int fd, char *buf, size_t size, size_t *len, bool *open)
{
	ssize_t n = read(fd, buf + *len, size - 1 - *len);
	if (n > 0) {
		*len += (size_t)n;
	} else if (n == 0 || errno != EINTR) {
		*open = false;
	}
	buf[*len] = '\0';
}

/* execv wants char *const[]: copies, in the child that is about to exec. */
static char **copy_argv(const char *const argv[])
{
	static char *copy[MAX_ARGS];
	int i = 0;
	for (; argv[i] && i < MAX_ARGS - 1; i++)
		copy[i] = strdup(argv[i]);
	copy[i] = NULL;
	return copy;
}

/*
 * Runs argv (argv[0] is the program) with a clean slate: none of our
 * variables, then env ("NAME=value" strings, NULL-terminated, may be NULL).
 * Captures both outputs and the wait status.
 */
static void run_argv(struct run *r, const char *const *env, const char *const argv[])
{
	int out[2], err[2];
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	memset(r, 0, sizeof(*r));
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		for (size_t i = 0; i < sizeof(our_variables) / sizeof(our_variables[0]); i++)
			unsetenv(our_variables[i]);
		for (; env && *env; env++) {
			const char *eq = strchr(*env, '=');
			char *name = strndup(*env, (size_t)(eq - *env));
			setenv(name, eq + 1, 1);
		}
		execv(argv[0], copy_argv(argv));
		_exit(111);
	}
	close(out[1]);
	close(err[1]);
	size_t olen = 0, elen = 0;
	bool oopen = true, eopen = true;
	time_t deadline = time(NULL) + 20;
	while ((oopen || eopen) && time(NULL) < deadline) {
		struct pollfd p[2] = { { oopen ? out[0] : -1, POLLIN, 0 },
				       { eopen ? err[0] : -1, POLLIN, 0 } };
		if (poll(p, 2, 1000) <= 0)
			continue;
		if (p[0].revents)
			drain(out[0], r->out, sizeof(r->out), &olen, &oopen);
		if (p[1].revents)
			drain(err[0], r->err, sizeof(r->err), &elen, &eopen);
	}
	close(out[0]);
	close(err[0]);
	ck_assert_msg(!oopen && !eopen, "the command did not finish in 20 s");
	ck_assert_int_eq(waitpid(r->pid, &r->status, 0), r->pid);
}

/* Runs the wrapper with the arguments given, NULL-terminated. */
static void run_wrapper(struct run *r, const char *const *env, ...)
{
	const char *argv[MAX_ARGS];
	int n = 0;
	va_list ap;
	argv[n++] = t_wrapper_path();
	va_start(ap, env);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < MAX_ARGS - 1;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	run_argv(r, env, argv);
}

static int exit_code(const struct run *r)
{
	ck_assert_msg(WIFEXITED(r->status), "not exited: status %#x; stderr: %s", r->status,
		      r->err);
	return WEXITSTATUS(r->status);
}

/* The value of NAME in the probe's "env" report: "=value", " unset". */
static const char *reported(const struct run *r, const char *name, char *buf, size_t size)
{
	const char *p = r->out;
	size_t n = strlen(name);
	while (p && *p) {
		if (strncmp(p, name, n) == 0 && (p[n] == '=' || p[n] == ' ')) {
			size_t len = strcspn(p + n, "\n");
			snprintf(buf, size, "%.*s", (int)len, p + n);
			return buf;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	ck_abort_msg("%s not in the probe's report: %s", name, r->out);
	return NULL;
}

static void assert_var(const struct run *r, const char *name, const char *value)
{
	char buf[PATH_MAX * 2], want[PATH_MAX * 2];
	if (value)
		snprintf(want, sizeof(want), "=%s", value);
	else
		snprintf(want, sizeof(want), " unset");
	ck_assert_str_eq(reported(r, name, buf, sizeof(buf)), want);
}

static const char *library(void)
{
	static char path[PATH_MAX];
	ck_assert_ptr_nonnull(realpath(t_library_path(), path));
	return path;
}

/* A scratch directory, removed by rm_tree. */
static void make_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/a4s-wrapper-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void run_quiet(const char *prog, const char *const argv[])
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execvp(prog, copy_argv(argv));
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (%#x)", prog,
		      status);
}

static void rm_tree(const char *dir)
{
	const char *argv[] = { "rm", "-rf", dir, NULL };
	run_quiet("rm", argv);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(in, 0);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	ck_assert_int_ge(out, 0);
	for (ssize_t n; (n = read(in, buf, sizeof(buf))) > 0;)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	/* chmod after writing: writing would clear set-user-ID. */
	ck_assert_int_eq(chmod(to, mode), 0);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* --- Options map one to one ------------------------------------------- */

static const struct {
	const char *option;
	const char *variable;
	const char *value;
} good_options[] = {
	{ "--mode=auto", "ACCEPT4SHIM_MODE", "auto" },
	{ "--mode=native", "ACCEPT4SHIM_MODE", "native" },
	{ "--mode=emulate", "ACCEPT4SHIM_MODE", "emulate" },
	{ "--inherit=linux", "ACCEPT4SHIM_INHERIT", "linux" },
	{ "--inherit=bsd", "ACCEPT4SHIM_INHERIT", "bsd" },
	{ "--retry", "ACCEPT4SHIM_RETRY", "on" },
	{ "--add-flags=SOCK_CLOEXEC", "ACCEPT4SHIM_ADD_FLAGS", "SOCK_CLOEXEC" },
	{ "--add-flags=SOCK_NONBLOCK", "ACCEPT4SHIM_ADD_FLAGS", "SOCK_NONBLOCK" },
	{ "--add-flags=SOCK_CLOEXEC|SOCK_NONBLOCK", "ACCEPT4SHIM_ADD_FLAGS",
	  "SOCK_CLOEXEC|SOCK_NONBLOCK" },
	{ "--add-flags=SOCK_NONBLOCK,SOCK_CLOEXEC", "ACCEPT4SHIM_ADD_FLAGS",
	  "SOCK_NONBLOCK,SOCK_CLOEXEC" },
	{ "--add-flags=", "ACCEPT4SHIM_ADD_FLAGS", "" },
	{ "--log=stderr", "ACCEPT4SHIM_LOG", "stderr" },
	{ "--log=syslog", "ACCEPT4SHIM_LOG", "syslog" },
	{ "--log=/var/tmp/trace.%p.log", "ACCEPT4SHIM_LOG", "/var/tmp/trace.%p.log" },
	{ "--log=", "ACCEPT4SHIM_LOG", "" },
	{ "--log-format=text", "ACCEPT4SHIM_LOG_FORMAT", "text" },
	{ "--log-format=json", "ACCEPT4SHIM_LOG_FORMAT", "json" },
	{ "--log-skip=EAGAIN", "ACCEPT4SHIM_LOG_SKIP", "EAGAIN" },
	{ "--log-skip=EAGAIN,ECONNABORTED", "ACCEPT4SHIM_LOG_SKIP", "EAGAIN,ECONNABORTED" },
	{ "--log-skip= EWOULDBLOCK , EMFILE", "ACCEPT4SHIM_LOG_SKIP", " EWOULDBLOCK , EMFILE" },
	{ "--log-skip=", "ACCEPT4SHIM_LOG_SKIP", "" },
	{ "--stats", "ACCEPT4SHIM_STATS", "1" },
	{ "--stats-interval=60", "ACCEPT4SHIM_STATS_INTERVAL", "60" },
	{ "--stats-interval=0", "ACCEPT4SHIM_STATS_INTERVAL", "0" },
	{ "--stats-interval=4294967295", "ACCEPT4SHIM_STATS_INTERVAL", "4294967295" },
};
#define N_GOOD (int)(sizeof(good_options) / sizeof(good_options[0]))

START_TEST(each_option_sets_its_variable_and_no_other)
{
	struct run r;
	run_wrapper(&r, NULL, good_options[_i].option, A4S_PROBE, "env", NULL);
	ck_assert_msg(exit_code(&r) == 0, "%s: %s", good_options[_i].option, r.err);
	ck_assert_str_eq(r.err, "");
	for (size_t v = 1; v < sizeof(our_variables) / sizeof(our_variables[0]); v++) {
		bool mine = strcmp(our_variables[v], good_options[_i].variable) == 0;
		assert_var(&r, our_variables[v], mine ? good_options[_i].value : NULL);
	}
}
END_TEST

START_TEST(all_options_together_and_a_value_as_the_next_argument)
{
	struct run r;
	run_wrapper(&r, NULL, "--mode", "emulate", "--inherit=bsd", "--retry",
		    "--add-flags=SOCK_CLOEXEC", "--log=stderr", "--log-format=json",
		    "--log-skip", "EAGAIN", "--stats", "--stats-interval", "30",
		    "--", A4S_PROBE, "env", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	assert_var(&r, "ACCEPT4SHIM_MODE", "emulate");
	assert_var(&r, "ACCEPT4SHIM_INHERIT", "bsd");
	assert_var(&r, "ACCEPT4SHIM_RETRY", "on");
	assert_var(&r, "ACCEPT4SHIM_ADD_FLAGS", "SOCK_CLOEXEC");
	assert_var(&r, "ACCEPT4SHIM_LOG", "stderr");
	assert_var(&r, "ACCEPT4SHIM_LOG_FORMAT", "json");
	assert_var(&r, "ACCEPT4SHIM_LOG_SKIP", "EAGAIN");
	assert_var(&r, "ACCEPT4SHIM_STATS", "1");
	assert_var(&r, "ACCEPT4SHIM_STATS_INTERVAL", "30");
}
END_TEST

START_TEST(the_last_of_a_repeated_option_counts)
{
	struct run r;
	run_wrapper(&r, NULL, "--mode=native", "--mode=emulate", A4S_PROBE, "env", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	assert_var(&r, "ACCEPT4SHIM_MODE", "emulate");
}
END_TEST

START_TEST(variables_no_option_sets_are_passed_on_as_they_are)
{
	static const char *const env[] = { "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_MODE=native",
					   NULL };
	struct run r;
	run_wrapper(&r, env, "--mode=emulate", A4S_PROBE, "env", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	assert_var(&r, "ACCEPT4SHIM_INHERIT", "bsd");
	assert_var(&r, "ACCEPT4SHIM_MODE", "emulate");
}
END_TEST

START_TEST(options_after_the_command_are_the_commands)
{
	struct run r;
	run_wrapper(&r, NULL, A4S_PROBE, "args", "--mode=fast", "--", "-x", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	ck_assert_str_eq(r.out, "[--mode=fast]\n[--]\n[-x]\n");
}
END_TEST

/* --- Bad options: usage on stderr, exit 2, nothing run ------------------ */

static const char *const bad_options[] = {
	"--mode=fast", "--mode=", "--mode=Emulate", "--inherit=sysv", "--inherit=",
	"--add-flags=O_CLOEXEC", "--add-flags=SOCK_CLOEXEC|", "--add-flags=SOCK_CLOEXEC;SOCK_NONBLOCK",
	"--log=relative/trace.log", "--log=file", "--log-format=xml", "--log-format=",
	"--retry=on", "--stats=1", "--dry-run=yes", "--bogus", "-x", "-h",
	"--log-skip=EFOO", "--log-skip=eagain", "--log-skip=EAGAIN,", "--log-skip=EAGAIN|EINTR",
	"--log-skip=11", "--stats-interval=", "--stats-interval=-1", "--stats-interval=1.5",
	"--stats-interval=10s", "--stats-interval=4294967296", "--stats-interval= 5",
	/* --collect needs a --log; journald is the collector's alone; a
	 * collector's socket is absolute. */
	"--collect", "--log=journald", "--log=collector:sock", "--log=collector:",
};
#define N_BAD (int)(sizeof(bad_options) / sizeof(bad_options[0]))

START_TEST(a_bad_option_or_value_prints_usage_to_stderr_and_exits_2)
{
	struct run r;
	run_wrapper(&r, NULL, bad_options[_i], A4S_PROBE, "env", NULL);
	ck_assert_msg(exit_code(&r) == 2, "%s: exit %d", bad_options[_i], exit_code(&r));
	ck_assert_str_eq(r.out, ""); /* the probe did not run */
	ck_assert_msg(strstr(r.err, "Usage: accept4shim [OPTION]... [--] COMMAND [ARG]..."),
		      "%s: %s", bad_options[_i], r.err);
	ck_assert_msg(strncmp(r.err, "accept4shim: ", 13) == 0, "first line: %s", r.err);
}
END_TEST

START_TEST(a_bad_value_is_named_with_the_accepted_values)
{
	struct run r;
	run_wrapper(&r, NULL, "--inherit=sysv", A4S_PROBE, NULL);
	ck_assert_int_eq(exit_code(&r), 2);
	ck_assert_msg(strstr(r.err, "'sysv'") && strstr(r.err, "--inherit") &&
			      strstr(r.err, "linux, bsd"),
		      "%s", r.err);
}
END_TEST

START_TEST(a_bad_log_skip_or_interval_is_named_with_the_accepted_values)
{
	struct run r;
	run_wrapper(&r, NULL, "--log-skip=EAGAIN,EFOO", A4S_PROBE, NULL);
	ck_assert_int_eq(exit_code(&r), 2);
	ck_assert_msg(strstr(r.err, "'EAGAIN,EFOO'") && strstr(r.err, "--log-skip") &&
			      strstr(r.err, "errno names such as EAGAIN joined by ','"),
		      "%s", r.err);
	run_wrapper(&r, NULL, "--stats-interval=5m", A4S_PROBE, NULL);
	ck_assert_int_eq(exit_code(&r), 2);
	ck_assert_msg(strstr(r.err, "'5m'") && strstr(r.err, "--stats-interval") &&
			      strstr(r.err, "whole seconds, 0 up to 4294967295"),
		      "%s", r.err);
}
END_TEST

/* --collect starts a collector: no one-line form for --dry-run, and not
 * one that writes to a collector. */
START_TEST(collect_refuses_dry_run_and_a_collector_destination)
{
	struct run r;
	run_wrapper(&r, NULL, "--collect", "--log=stderr", "--dry-run", A4S_PROBE, NULL);
	ck_assert_int_eq(exit_code(&r), 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--dry-run cannot show --collect"));
	run_wrapper(&r, NULL, "--collect", "--log=collector:/run/a4s.sock", A4S_PROBE, NULL);
	ck_assert_int_eq(exit_code(&r), 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--collect needs --log=DEST"));
	ck_assert_str_eq(r.out, "");
}
END_TEST

START_TEST(an_option_missing_its_value_exits_2)
{
	struct run r;
	run_wrapper(&r, NULL, "--log-format", NULL);
	ck_assert_int_eq(exit_code(&r), 2);
	ck_assert_ptr_nonnull(strstr(r.err, "Usage: accept4shim"));
}
END_TEST

START_TEST(no_command_is_a_usage_error)
{
	struct run r;
	run_wrapper(&r, NULL, NULL);
	ck_assert_int_eq(exit_code(&r), 2);
	ck_assert_ptr_nonnull(strstr(r.err, "Usage: accept4shim"));
	run_wrapper(&r, NULL, "--mode=emulate", "--", NULL);
	ck_assert_int_eq(exit_code(&r), 2);
	ck_assert_ptr_nonnull(strstr(r.err, "no command"));
}
END_TEST

/* --- 127, 126, and the command's own status ---------------------------- */

START_TEST(a_command_not_found_exits_127_with_a_message)
{
	struct run r;
	static const char *const env[] = { "PATH=/nonexistent:/usr/bin:/bin", NULL };
	run_wrapper(&r, env, "a4s-no-such-command", "arg", NULL);
	ck_assert_int_eq(exit_code(&r), 127);
	ck_assert_str_eq(r.err, "accept4shim: 'a4s-no-such-command': No such file or directory\n");
	run_wrapper(&r, NULL, "/nonexistent/program", NULL);
	ck_assert_int_eq(exit_code(&r), 127);
	run_wrapper(&r, NULL, "", NULL);
	ck_assert_int_eq(exit_code(&r), 127);
}
END_TEST

START_TEST(a_command_found_but_not_executable_exits_126_with_a_message)
{
	char dir[64], file[128];
	struct run r;
	make_dir(dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/not-executable", dir);
	write_file(file, "#!/bin/sh\nexit 0\n", 0644);
	run_wrapper(&r, NULL, file, NULL);
	ck_assert_int_eq(exit_code(&r), 126);
	ck_assert_ptr_nonnull(strstr(r.err, "Permission denied"));
	ck_assert_ptr_nonnull(strstr(r.err, "not-executable"));
	/* A directory is found, and cannot be run either. */
	run_wrapper(&r, NULL, dir, NULL);
	ck_assert_int_eq(exit_code(&r), 126);
	/* Found along PATH, as execvp finds it. */
	char path_env[128];
	snprintf(path_env, sizeof(path_env), "PATH=%s", dir);
	const char *const env[] = { path_env, NULL };
	run_wrapper(&r, env, "not-executable", NULL);
	ck_assert_int_eq(exit_code(&r), 126);
	rm_tree(dir);
}
END_TEST

static const int statuses[] = { 0, 1, 2, 42, 125, 126, 127, 255 };

START_TEST(the_exit_status_is_the_commands)
{
	char n[8];
	struct run r;
	snprintf(n, sizeof(n), "%d", statuses[_i]);
	run_wrapper(&r, NULL, "--mode=emulate", A4S_PROBE, "exit", n, NULL);
	ck_assert_int_eq(exit_code(&r), statuses[_i]);
}
END_TEST

static const int signals[] = { SIGTERM, SIGKILL, SIGUSR1, SIGINT };

START_TEST(a_signal_that_ends_the_command_ends_it_as_if_run_directly)
{
	char n[8];
	struct run r;
	snprintf(n, sizeof(n), "%d", signals[_i]);
	run_wrapper(&r, NULL, A4S_PROBE, "kill", n, NULL);
	ck_assert_msg(WIFSIGNALED(r.status), "status %#x", r.status);
	ck_assert_int_eq(WTERMSIG(r.status), signals[_i]);
}
END_TEST

START_TEST(the_command_is_execd_not_forked_so_it_keeps_the_pid)
{
	struct run r;
	char want[32];
	run_wrapper(&r, NULL, A4S_PROBE, "env", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	snprintf(want, sizeof(want), "pid=%d\n", (int)r.pid);
	ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "wrapper pid %d, probe: %s",
		      (int)r.pid, r.out);
}
END_TEST

/* --- LD_PRELOAD -------------------------------------------------------- */

START_TEST(the_library_next_to_the_command_is_preloaded_and_loaded)
{
	struct run r;
	run_wrapper(&r, NULL, A4S_PROBE, "env", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	assert_var(&r, "LD_PRELOAD", library());
	ck_assert_ptr_nonnull(strstr(r.out, "loaded=1\n"));
}
END_TEST

START_TEST(the_library_is_prepended_and_what_was_there_stays)
{
	/* Space- and colon-separated lists, as ld.so(8) reads them. */
	static const char *const olds[] = { A4S_EMPTY_LIBRARY, A4S_EMPTY_LIBRARY " libm.so.6",
					    "libm.so.6:" A4S_EMPTY_LIBRARY };
	for (size_t i = 0; i < sizeof(olds) / sizeof(olds[0]); i++) {
		char env_old[PATH_MAX * 2], want[PATH_MAX * 3];
		snprintf(env_old, sizeof(env_old), "LD_PRELOAD=%s", olds[i]);
		const char *const env[] = { env_old, NULL };
		struct run r;
		run_wrapper(&r, env, A4S_PROBE, "env", NULL);
		ck_assert_int_eq(exit_code(&r), 0);
		snprintf(want, sizeof(want), "%s:%s", library(), olds[i]);
		assert_var(&r, "LD_PRELOAD", want);
		ck_assert_ptr_nonnull(strstr(r.out, "loaded=1\n"));
		ck_assert_str_eq(r.err, "");
	}
}
END_TEST

START_TEST(run_nested_the_library_is_not_added_twice)
{
	struct run r;
	run_wrapper(&r, NULL, "--mode=emulate", t_wrapper_path(), "--retry", t_wrapper_path(),
		    A4S_PROBE, "env", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	assert_var(&r, "LD_PRELOAD", library());
	assert_var(&r, "ACCEPT4SHIM_MODE", "emulate");
	assert_var(&r, "ACCEPT4SHIM_RETRY", "on");
}
END_TEST

START_TEST(the_library_under_another_path_is_not_added_twice)
{
	/* A symbolic link and a path with ".." name the same file. */
	char dir[64], link[128], env_old[PATH_MAX * 3];
	make_dir(dir, sizeof(dir));
	snprintf(link, sizeof(link), "%s/link.so", dir);
	ck_assert_int_eq(symlink(library(), link), 0);
	snprintf(env_old, sizeof(env_old), "LD_PRELOAD=%s %s/../%s%s", A4S_EMPTY_LIBRARY, dir,
		 strrchr(dir, '/') + 1, "/link.so");
	const char *const env[] = { env_old, NULL };
	struct run r;
	run_wrapper(&r, env, A4S_PROBE, "env", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	assert_var(&r, "LD_PRELOAD", env_old + strlen("LD_PRELOAD="));
	ck_assert_ptr_nonnull(strstr(r.out, "loaded=1\n"));
	rm_tree(dir);
}
END_TEST

START_TEST(the_library_is_found_at_the_installed_place_relative_to_the_command)
{
	char dir[64], bin[128], cmd[160], lib[PATH_MAX], libdir[PATH_MAX], want[PATH_MAX];
	make_dir(dir, sizeof(dir));
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	ck_assert_int_eq(mkdir(bin, 0755), 0);
	snprintf(cmd, sizeof(cmd), "%s/accept4shim", bin);
	copy_file(t_wrapper_path(), cmd, 0755);
	snprintf(lib, sizeof(lib), "%s/%s", bin, A4S_WRAPPER_INSTALLED_LIBRARY);
	snprintf(libdir, sizeof(libdir), "%s", lib);
	*strrchr(libdir, '/') = '\0';
	const char *mkdir_argv[] = { "mkdir", "-p", libdir, NULL };

	/* Not there yet: the command says where it looked, and exits 125. */
	struct run r;
	const char *argv[] = { cmd, A4S_PROBE, "env", NULL };
	run_argv(&r, NULL, argv);
	ck_assert_int_eq(exit_code(&r), 125);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot find the library"));
	ck_assert_str_eq(r.out, "");

	run_quiet("mkdir", mkdir_argv);
	copy_file(library(), lib, 0644);
	ck_assert_ptr_nonnull(realpath(lib, want));
	run_argv(&r, NULL, argv);
	ck_assert_msg(exit_code(&r) == 0, "%s", r.err);
	assert_var(&r, "LD_PRELOAD", want);
	ck_assert_ptr_nonnull(strstr(r.out, "loaded=1\n"));
	rm_tree(dir);
}
END_TEST

/* --- Warnings: targets a preload cannot reach -------------------------- */

START_TEST(a_dynamically_linked_command_gets_no_warning)
{
	struct run r;
	run_wrapper(&r, NULL, A4S_PROBE, "exit", "0", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	ck_assert_str_eq(r.err, "");
}
END_TEST

START_TEST(a_statically_linked_command_gets_a_warning_and_still_runs)
{
	struct run r;
	run_wrapper(&r, NULL, A4S_PROBE_STATIC, "env", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	ck_assert_msg(strstr(r.err, "accept4shim: warning: '" A4S_PROBE_STATIC
				    "' is statically linked"),
		      "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "loaded=0\n")); /* it ran, without the library */
	assert_var(&r, "LD_PRELOAD", library());
	run_wrapper(&r, NULL, A4S_PROBE_STATIC, "exit", "7", NULL);
	ck_assert_int_eq(exit_code(&r), 7);
}
END_TEST

START_TEST(a_script_is_judged_by_its_interpreter)
{
	char dir[64], script[128], text[PATH_MAX];
	struct run r;
	make_dir(dir, sizeof(dir));
	snprintf(script, sizeof(script), "%s/script", dir);
	write_file(script, "#!/bin/sh\nexit 3\n", 0755);
	run_wrapper(&r, NULL, script, NULL);
	ck_assert_int_eq(exit_code(&r), 3);
	ck_assert_str_eq(r.err, "");
	/* The kernel hands the rest of the line to the interpreter as one
	 * argument: the probe runs its "env" report. */
	snprintf(text, sizeof(text), "#! %s env\n", A4S_PROBE_STATIC);
	write_file(script, text, 0755);
	run_wrapper(&r, NULL, script, NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	ck_assert_ptr_nonnull(strstr(r.out, "loaded=0\n"));
	ck_assert_msg(strstr(r.err, "which is statically linked"), "%s", r.err);
	rm_tree(dir);
}
END_TEST

START_TEST(a_set_user_id_or_set_group_id_command_gets_a_warning_and_still_runs)
{
	static const struct {
		mode_t mode;
		const char *says;
	} cases[] = { { 04755, "is set-user-ID" }, { 02755, "is set-group-ID" } };
	char dir[64], copy[128];
	make_dir(dir, sizeof(dir));
	snprintf(copy, sizeof(copy), "%s/probe", dir);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;
		copy_file(A4S_PROBE, copy, cases[i].mode);
		run_wrapper(&r, NULL, copy, "exit", "5", NULL);
		ck_assert_int_eq(exit_code(&r), 5);
		ck_assert_msg(strstr(r.err, cases[i].says) && strstr(r.err, "running it anyway"),
			      "%s", r.err);
	}
	/* Set-group-ID without group execute is mandatory locking: no warning. */
	struct run r;
	copy_file(A4S_PROBE, copy, 02745);
	run_wrapper(&r, NULL, copy, "exit", "5", NULL);
	ck_assert_int_eq(exit_code(&r), 5);
	ck_assert_str_eq(r.err, "");
	rm_tree(dir);
}
END_TEST

START_TEST(a_command_with_file_capabilities_gets_a_warning_and_still_runs)
{
	char dir[64], copy[128];
	make_dir(dir, sizeof(dir));
	snprintf(copy, sizeof(copy), "%s/probe", dir);
	copy_file(A4S_PROBE, copy, 0755);
	/* setcap (libcap2-bin) needs CAP_SETFCAP: scripts/check runs as root. */
	const char *setcap[] = { "setcap", "cap_net_bind_service+ep", copy, NULL };
	run_quiet("setcap", setcap);
	struct run r;
	run_wrapper(&r, NULL, copy, "exit", "6", NULL);
	ck_assert_int_eq(exit_code(&r), 6);
	ck_assert_msg(strstr(r.err, "has file capabilities"), "%s", r.err);
	rm_tree(dir);
}
END_TEST

/* --- --dry-run, --help, --version -------------------------------------- */

START_TEST(dry_run_prints_the_command_as_one_line_and_runs_nothing)
{
	struct run r;
	char want[PATH_MAX * 2];
	run_wrapper(&r, NULL, "--dry-run", "--mode=emulate", "--add-flags=SOCK_CLOEXEC|SOCK_NONBLOCK",
		    A4S_PROBE, "exit", "9", NULL);
	ck_assert_int_eq(exit_code(&r), 0); /* not the probe's 9 */
	snprintf(want, sizeof(want),
		 "LD_PRELOAD=%s ACCEPT4SHIM_MODE=emulate "
		 "ACCEPT4SHIM_ADD_FLAGS='SOCK_CLOEXEC|SOCK_NONBLOCK' %s exit 9\n",
		 library(), A4S_PROBE);
	ck_assert_str_eq(r.out, want);
}
END_TEST

/*
 * SPEC: "--dry-run, which prints the command as one line that a POSIX shell
 * runs as printed". The line, given to sh -c, runs the very program the
 * wrapper would have run: the library loaded, the same argv, the same
 * environment (but for what a shell keeps up to date itself: PWD, OLDPWD,
 * SHLVL, _). Commands and arguments of every awkward kind: spaces,
 * quotes, $, backquotes, backslashes, newlines, globs, ~, #, empty words,
 * '=' in the command's name, a reserved word as the name; values likewise.
 */
static const char *const awkward_names[] = { "probe", "a=b", "if", "my probe", "it's" };
static const char *const awkward_args[] = { "a b", "it's", "$HOME", "", "*", "x\"y",
					    "back\\slash", "new\nline", "`id`", "~x", "#c",
					    "tab\there", "-", "--", "a=b", "!x", "'", "\\" };
#define N_AWKWARD_NAMES (int)(sizeof(awkward_names) / sizeof(awkward_names[0]))

/* The probe's "all" report minus the variables a shell maintains itself. */
static void drop_shell_variables(char *out)
{
	static const char *const kept_by_shells[] = { "env [PWD=", "env [OLDPWD=", "env [SHLVL=",
						      "env [_=" };
	char *w = out;
	for (char *line = out; *line;) {
		char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
		bool drop = false;
		for (size_t i = 0; i < sizeof(kept_by_shells) / sizeof(kept_by_shells[0]); i++)
			drop |= strncmp(line, kept_by_shells[i], strlen(kept_by_shells[i])) == 0;
		if (!drop) {
			memmove(w, line, n);
			w += n;
		}
		line += n;
	}
	*w = '\0';
}

START_TEST(dry_run_line_run_by_sh_is_the_run_the_wrapper_makes)
{
	char dir[PATH_MAX], cmd[PATH_MAX + 64], path_var[2 * PATH_MAX], pwd[PATH_MAX + 8];
	make_dir(dir, sizeof(dir));
	snprintf(cmd, sizeof(cmd), "%s/%s", dir, awkward_names[_i]);
	copy_file(A4S_PROBE, cmd, 0755);
	snprintf(path_var, sizeof(path_var), "PATH=%s:/usr/bin:/bin", dir);
	snprintf(pwd, sizeof(pwd), "PWD=%s", dir);
	const char *env[] = { path_var, pwd, "ACCEPT4SHIM_RETRY=on", NULL };

	/* By name (found in PATH, as a user types it), awkward arguments, and
	 * options whose values are awkward too. */
	const char *argv[64];
	int n = 0;
	argv[n++] = t_wrapper_path();
	argv[n++] = "--log=/tmp/my trace's $HOME\n%p";
	argv[n++] = "--add-flags= SOCK_CLOEXEC | SOCK_NONBLOCK";
	argv[n++] = "--mode=emulate";
	argv[n++] = "--dry-run";
	argv[n++] = awkward_names[_i];
	argv[n++] = "all";
	for (size_t i = 0; i < sizeof(awkward_args) / sizeof(awkward_args[0]); i++)
		argv[n++] = awkward_args[i];
	argv[n] = NULL;
	struct run dry, direct, pasted;
	run_argv(&dry, env, argv);
	ck_assert_msg(exit_code(&dry) == 0, "--dry-run: %s", dry.err);
	/* One command: nothing after the final newline, and the only other
	 * newlines are the ones inside the quoted newline arguments. */
	size_t len = strlen(dry.out);
	ck_assert_msg(len > 0 && dry.out[len - 1] == '\n', "%s", dry.out);

	memmove(&argv[4], &argv[5], sizeof(argv[0]) * (size_t)(n - 4)); /* no --dry-run */
	run_argv(&direct, env, argv);
	ck_assert_msg(exit_code(&direct) == 0, "direct run: %s", direct.err);

	const char *sh[] = { "/bin/sh", "-c", dry.out, NULL };
	run_argv(&pasted, env, sh);
	ck_assert_msg(exit_code(&pasted) == 0, "sh -c '%s': %s", dry.out, pasted.err);
	ck_assert_msg(strstr(pasted.out, "loaded=1\n") == pasted.out, "%s", pasted.out);
	drop_shell_variables(direct.out);
	drop_shell_variables(pasted.out);
	ck_assert_str_eq(pasted.out, direct.out);
	ck_assert_str_eq(pasted.err, direct.err);
	rm_tree(dir);
}
END_TEST

START_TEST(dry_run_still_says_when_the_command_cannot_be_run)
{
	struct run r;
	run_wrapper(&r, NULL, "--dry-run", "/nonexistent/program", NULL);
	ck_assert_int_eq(exit_code(&r), 127);
	ck_assert_str_eq(r.out, "");
	run_wrapper(&r, NULL, "--dry-run", "/", NULL);
	ck_assert_int_eq(exit_code(&r), 126);
}
END_TEST

START_TEST(help_prints_every_option_on_stdout_and_exits_0)
{
	static const char *const options[] = { "--mode=", "--inherit=", "--retry", "--add-flags=",
					       "--log=", "--log-format=", "--log-skip=", "--stats",
					       "--stats-interval=", "--collect", "--dry-run",
					       "--help", "--version" };
	struct run r;
	run_wrapper(&r, NULL, "--help", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: accept4shim [OPTION]... [--] COMMAND [ARG]..."));
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		ck_assert_msg(strstr(r.out, options[i]), "%s missing from --help", options[i]);
}
END_TEST

START_TEST(version_prints_the_version_and_the_library_and_exits_0)
{
	struct run r;
	char want[PATH_MAX + 64];
	run_wrapper(&r, NULL, "--version", NULL);
	ck_assert_int_eq(exit_code(&r), 0);
	snprintf(want, sizeof(want), "accept4shim %s\nlibrary: %s\n",
		 ACCEPT4SHIM_VERSION_STRING, library());
	ck_assert_str_eq(r.out, want);
}
END_TEST

static Suite *wrapper_suite(void)
{
	Suite *s = suite_create("wrapper");
	TCase *t = tcase_create("options");
	tcase_add_loop_test(t, each_option_sets_its_variable_and_no_other, 0, N_GOOD);
	tcase_add_test(t, all_options_together_and_a_value_as_the_next_argument);
	tcase_add_test(t, the_last_of_a_repeated_option_counts);
	tcase_add_test(t, variables_no_option_sets_are_passed_on_as_they_are);
	tcase_add_test(t, options_after_the_command_are_the_commands);
	tcase_add_loop_test(t, a_bad_option_or_value_prints_usage_to_stderr_and_exits_2, 0, N_BAD);
	tcase_add_test(t, a_bad_value_is_named_with_the_accepted_values);
	tcase_add_test(t, a_bad_log_skip_or_interval_is_named_with_the_accepted_values);
	tcase_add_test(t, collect_refuses_dry_run_and_a_collector_destination);
	tcase_add_test(t, an_option_missing_its_value_exits_2);
	tcase_add_test(t, no_command_is_a_usage_error);
	suite_add_tcase(s, t);

	t = tcase_create("running");
	tcase_add_test(t, a_command_not_found_exits_127_with_a_message);
	tcase_add_test(t, a_command_found_but_not_executable_exits_126_with_a_message);
	tcase_add_loop_test(t, the_exit_status_is_the_commands, 0,
			    (int)(sizeof(statuses) / sizeof(statuses[0])));
	tcase_add_loop_test(t, a_signal_that_ends_the_command_ends_it_as_if_run_directly, 0,
			    (int)(sizeof(signals) / sizeof(signals[0])));
	tcase_add_test(t, the_command_is_execd_not_forked_so_it_keeps_the_pid);
	suite_add_tcase(s, t);

	t = tcase_create("preload");
	tcase_add_test(t, the_library_next_to_the_command_is_preloaded_and_loaded);
	tcase_add_test(t, the_library_is_prepended_and_what_was_there_stays);
	tcase_add_test(t, run_nested_the_library_is_not_added_twice);
	tcase_add_test(t, the_library_under_another_path_is_not_added_twice);
	tcase_add_test(t, the_library_is_found_at_the_installed_place_relative_to_the_command);
	suite_add_tcase(s, t);

	t = tcase_create("warnings");
	tcase_add_test(t, a_dynamically_linked_command_gets_no_warning);
	tcase_add_test(t, a_statically_linked_command_gets_a_warning_and_still_runs);
	tcase_add_test(t, a_script_is_judged_by_its_interpreter);
	tcase_add_test(t, a_set_user_id_or_set_group_id_command_gets_a_warning_and_still_runs);
	tcase_add_test(t, a_command_with_file_capabilities_gets_a_warning_and_still_runs);
	suite_add_tcase(s, t);

	t = tcase_create("information");
	tcase_add_test(t, dry_run_prints_the_command_as_one_line_and_runs_nothing);
	tcase_add_loop_test(t, dry_run_line_run_by_sh_is_the_run_the_wrapper_makes, 0,
			    N_AWKWARD_NAMES);
	tcase_add_test(t, dry_run_still_says_when_the_command_cannot_be_run);
	tcase_add_test(t, help_prints_every_option_on_stdout_and_exits_0);
	tcase_add_test(t, version_prints_the_version_and_the_library_and_exits_0);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return t_run_suite(wrapper_suite());
}
