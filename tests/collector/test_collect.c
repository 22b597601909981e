/*
 * ACCEPT4SHIM_LOG=collector:PATH and accept4shim --collect, through the
 * real library: a plain program (a4s_libhost) making real accepts with the
 * library preloaded, accept4shim-collector writing JSON records per
 * process (%p), and what came out counted against the calls made.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckit.h"

#define HOST A4S_LIBHOST_PROGRAM
#define NOBODY 65534

static const char *const json_out[] = { "--log-format=json", NULL };

/* A collector of root's (or uid's) writing DIR/out-%p.log as JSON. */
static void start(struct ck_collector *c, uid_t uid)
{
	ck_dir(c, uid);
	char log[320];
	snprintf(log, sizeof(log), "--log=%s/out-%%p.log", c->dir);
	const char *args[] = { log, json_out[0], NULL };
	T_ASSERT(ck_start(c, uid, args, NULL), "the collector did not start");
}

/* a4s_libhost ACTIONS... with the library, tracing to the collector at
 * sock, with an exit summary (ACCEPT4SHIM_STATS=1). */
static void host(struct ck_host *h, const char *sock, uid_t uid, const char *err_path,
		 const char *const actions[])
{
	static char log[400], preload[4200];
	snprintf(log, sizeof(log), "ACCEPT4SHIM_LOG=collector:%s", sock);
	snprintf(preload, sizeof(preload), "%s", t_preload());
	const char *env[] = { preload, log, "ACCEPT4SHIM_STATS=1", "PATH=/usr/bin:/bin", NULL };
	const char *argv[32] = { HOST };
	int n = 1;
	for (int i = 0; actions[i] && n < 31; i++)
		argv[n++] = actions[i];
	argv[n] = NULL;
	ck_spawn(h, uid, argv, env, err_path);
}

/* The collector's file for pid (malloc'd, "" when there is none yet). */
static char *out_of(const struct ck_collector *c, long pid)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/out-%ld.log", c->dir, pid);
	char *buf = ck_read(path, NULL);
	return buf ? buf : strdup("");
}

/* Waits (at most 20 s: the collector drains every 10 ms) until pid's exit
 * summary is in its file; returns the file. */
static char *wait_exit_summary(const struct ck_collector *c, long pid)
{
	for (int i = 0; i < 2000; i++) {
		char *buf = out_of(c, pid);
		if (ck_lines(buf, "\"summary\":\"exit\""))
			return buf;
		free(buf);
		usleep(10000);
	}
	return out_of(c, pid);
}

/* Every line of pid's file is pid's; its records (not summaries). */
static long records_of(const char *buf, long pid)
{
	char own[48];
	snprintf(own, sizeof(own), "\"pid\":%ld,", pid);
	long all = ck_lines(buf, NULL);
	T_ASSERT(ck_lines(buf, own) == all, "a line of another process in pid %ld's file", pid);
	return ck_lines(buf, "\"call\":");
}

/* The host's stderr (its file), read once it has exited. */
static char *host_stderr(const char *path)
{
	char *buf = ck_read(path, NULL);
	return buf ? buf : strdup("");
}

START_TEST(host_sigkilled_after_n_accepts_loses_none)
{
	struct ck_collector c;
	start(&c, 0);
	struct ck_host h;
	const char *actions[] = { "accept:2000", "kill", NULL };
	host(&h, c.sock, 0, NULL, actions);
	long pid = ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "accepted 2000");
	ck_assert_int_eq(ck_host_wait(&h), 128 + SIGKILL);
	/* Its socket ended with it: the collector takes what the ring holds
	 * without being stopped, and says the host's counts for it. */
	char *buf = wait_exit_summary(&c, pid);
	ck_assert_int_eq(records_of(buf, pid), 2000);
	ck_assert_int_eq(ck_field(buf, "\"summary\":\"exit\"", "\"calls\":"), 2000);
	ck_assert_int_eq(ck_field(buf, "\"summary\":\"exit\"", "\"dropped\":"), 0);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

START_TEST(stopped_collector_never_blocks_the_host_and_records_plus_dropped_are_calls)
{
	struct ck_collector c;
	start(&c, 0);
	struct ck_host h;
	const char *actions[] = { "accept:10", "wait", "eagain:30000", "wait", NULL };
	host(&h, c.sock, 0, NULL, actions);
	long pid = ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "accepted 10");
	ck_host_expect(&h, "waiting");
	T_CHECK(kill(c.pid, SIGSTOP) == 0);
	ck_host_go(&h);
	/* 30,000 records into a ring of 4,096 that nobody reads: the calls
	 * go on, the ring drops. */
	ck_host_expect(&h, "eagain 30000");
	ck_host_expect(&h, "waiting");
	T_CHECK(kill(c.pid, SIGCONT) == 0);
	ck_host_go(&h);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	char *buf = wait_exit_summary(&c, pid);
	long records = records_of(buf, pid);
	long dropped = ck_field(buf, "\"summary\":\"exit\"", "\"dropped\":");
	ck_assert_int_eq(ck_field(buf, "\"summary\":\"exit\"", "\"calls\":"), 30010);
	ck_assert_int_eq(records + dropped, 30010);
	ck_assert_int_ge(dropped, 30010 - 4096);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

START_TEST(fork_and_exec_tree_each_process_writes_its_own_ring)
{
	struct ck_collector c;
	start(&c, 0);
	struct ck_host h;
	const char *actions[] = { "accept:3", "children:3:4", "exec:5", "_fork:6", "accept:2",
				  NULL };
	host(&h, c.sock, 0, NULL, actions);
	long pid = ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "accepted 3");
	long kids[3];
	for (int i = 0; i < 3; i++)
		kids[i] = ck_host_expect(&h, "child ");
	ck_host_expect(&h, "children 3");
	long execd = ck_host_expect(&h, "exec ");
	ck_host_expect(&h, "execd");
	long forked = ck_host_expect(&h, "_fork ");
	ck_host_expect(&h, "accepted 2");
	ck_assert_int_eq(ck_host_wait(&h), 0);

	char *buf = wait_exit_summary(&c, pid);
	ck_assert_int_eq(records_of(buf, pid), 5);
	ck_assert_int_eq(ck_field(buf, "\"summary\":\"exit\"", "\"calls\":"), 5);
	free(buf);
	for (int i = 0; i < 3; i++) {
		buf = wait_exit_summary(&c, kids[i]);
		ck_assert_int_eq(records_of(buf, kids[i]), 4);
		ck_assert_int_eq(ck_field(buf, "\"summary\":\"exit\"", "\"calls\":"), 4);
		free(buf);
	}
	buf = wait_exit_summary(&c, execd);
	ck_assert_int_eq(records_of(buf, execd), 5);
	free(buf);
	buf = wait_exit_summary(&c, forked);
	ck_assert_int_eq(records_of(buf, forked), 6);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

/* A child that runs on without a call holds nothing of its parent's: the
 * collector sees the parent's end when the parent ends. */
START_TEST(child_that_never_calls_does_not_hold_its_parents_ring)
{
	struct ck_collector c;
	start(&c, 0);
	struct ck_host h;
	const char *actions[] = { "accept:3", "linger:60000", "kill", NULL };
	host(&h, c.sock, 0, NULL, actions);
	long pid = ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "accepted 3");
	long child = ck_host_expect(&h, "linger ");
	ck_assert_int_eq(ck_host_wait(&h), 128 + SIGKILL);
	char *buf = wait_exit_summary(&c, pid);
	bool alive = kill((pid_t)child, 0) == 0;
	kill((pid_t)child, SIGKILL);
	ck_assert_msg(alive, "the lingering child was gone already: the case proves nothing");
	ck_assert_int_eq(ck_lines(buf, "\"summary\":\"exit\""), 1);
	ck_assert_int_eq(records_of(buf, pid), 3);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

START_TEST(sixteen_threads_twenty_thousand_accepts_each_through_one_ring)
{
	struct ck_collector c;
	start(&c, 0);
	struct ck_host h;
	const char *actions[] = { "threads:16:20000", NULL };
	host(&h, c.sock, 0, NULL, actions);
	long pid = ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "threads 16");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	char *buf = wait_exit_summary(&c, pid);
	long records = records_of(buf, pid);
	long dropped = ck_field(buf, "\"summary\":\"exit\"", "\"dropped\":");
	ck_assert_int_eq(ck_field(buf, "\"summary\":\"exit\"", "\"calls\":"), 320000);
	ck_assert_int_eq(ck_field(buf, "\"summary\":\"exit\"", "\"accepted\":"), 320000);
	ck_assert_int_eq(records + dropped, 320000);
	ck_assert_int_gt(records, 0);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

START_TEST(restarted_collector_is_found_again_and_nothing_is_lost)
{
	struct ck_collector c;
	start(&c, 0);
	struct ck_host h;
	const char *actions[] = { "accept:5", "wait", "accept:5", "wait", "sleep:1200",
				  "accept:5", NULL };
	host(&h, c.sock, 0, NULL, actions);
	long pid = ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "accepted 5");
	ck_host_expect(&h, "waiting");
	ck_assert_int_eq(ck_stop(&c), 0);
	/* No collector: these wait in the ring. */
	ck_host_go(&h);
	ck_host_expect(&h, "accepted 5");
	ck_host_expect(&h, "waiting");
	char log[320];
	snprintf(log, sizeof(log), "--log=%s/out-%%p.log", c.dir);
	const char *args[] = { log, json_out[0], NULL };
	T_ASSERT(ck_start(&c, 0, args, NULL), "the second collector did not start");
	/* A second later the host looks, finds the new one, hands it the
	 * same ring: the five waiting and the five after reach it. */
	ck_host_go(&h);
	ck_host_expect(&h, "accepted 5");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	char *buf = wait_exit_summary(&c, pid);
	ck_assert_int_eq(records_of(buf, pid), 15);
	ck_assert_int_eq(ck_field(buf, "\"summary\":\"exit\"", "\"dropped\":"), 0);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

/* A collector stopped before the host's first record: the host waits for
 * its answer a moment (A4S_COLLECT_HELLO_MS), once, then goes on writing
 * into the ring, and exits; the collector, let go on, takes the ring from
 * its queue and writes every record. */
START_TEST(collector_stopped_before_the_first_record_gets_them_all_later)
{
	struct ck_collector c;
	start(&c, 0);
	T_CHECK(kill(c.pid, SIGSTOP) == 0);
	struct ck_host h;
	const char *actions[] = { "accept:200", NULL };
	host(&h, c.sock, 0, NULL, actions);
	long pid = ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "accepted 200");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	T_CHECK(kill(c.pid, SIGCONT) == 0);
	char *buf = wait_exit_summary(&c, pid);
	ck_assert_int_eq(records_of(buf, pid), 200);
	ck_assert_int_eq(ck_field(buf, "\"summary\":\"exit\"", "\"calls\":"), 200);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

/* Threads that put records into the ring while the hand-over is under way,
 * then refused: every record is written in-process, exactly once. */
START_TEST(refused_after_threads_wrote_into_the_ring_every_record_once_in_process)
{
	struct ck_collector c;
	start(&c, NOBODY);
	char err[320];
	snprintf(err, sizeof(err), "%s/host.err", c.dir);
	struct ck_host h;
	const char *actions[] = { "threads:16:200", NULL };
	host(&h, c.sock, 0, err, actions);
	ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "threads 16");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	char *buf = host_stderr(err);
	ck_assert_int_eq(ck_lines(buf, "accept4shim: collector "), 1);
	ck_assert_int_eq(ck_lines(buf, " call=accept4 "), 3200);
	ck_assert_int_eq(ck_lines(buf, "summary=exit calls=3200 "), 1);
	ck_assert_int_eq(ck_lines(buf, " dropped=0 "), 1);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

/* A traced call to the collector leaves errno alone when it succeeds and
 * sets it when it fails, the first (which makes the ring) included, in
 * MODE=auto (the default) and MODE=native. */
START_TEST(errno_is_left_alone_on_success_and_set_on_failure)
{
	struct ck_collector c;
	start(&c, 0);
	static const char *const modes[] = { "ACCEPT4SHIM_MODE=auto", "ACCEPT4SHIM_MODE=native" };
	for (int m = 0; m < 2; m++) {
		char log[400];
		snprintf(log, sizeof(log), "ACCEPT4SHIM_LOG=collector:%s", c.sock);
		const char *env[] = { t_preload(), log, modes[m], "PATH=/usr/bin:/bin", NULL };
		const char *argv[] = { HOST, "errno:20", NULL };
		struct ck_host h;
		ck_spawn(&h, 0, argv, env, NULL);
		long pid = ck_host_expect(&h, "pid ");
		ck_host_expect(&h, "errno ok");
		ck_assert_int_eq(ck_host_wait(&h), 0);
		char *buf = NULL;
		for (int i = 0; i < 2000; i++) {
			free(buf);
			buf = out_of(&c, pid);
			if (records_of(buf, pid) == 21)
				break;
			usleep(10000);
		}
		ck_assert_int_eq(records_of(buf, pid), 21);
		ck_assert_int_eq(ck_lines(buf, "\"errno\":\"EAGAIN\""), 1);
		free(buf);
	}
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST


START_TEST(no_collector_at_the_path_is_said_once_and_the_host_traces_in_process)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char sock[320], err[320];
	snprintf(sock, sizeof(sock), "%s/nobody-listens", c.dir);
	snprintf(err, sizeof(err), "%s/host.err", c.dir);
	struct ck_host h;
	const char *actions[] = { "accept:3", "accept:2", NULL };
	host(&h, sock, 0, err, actions);
	ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "accepted 3");
	ck_host_expect(&h, "accepted 2");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	char *buf = host_stderr(err);
	ck_assert_int_eq(ck_lines(buf, "accept4shim: collector "), 1);
	ck_assert_int_eq(ck_lines(buf, "no collector listens there: no such file or directory "
				       "(ENOENT); tracing in-process to stderr instead"),
			 1);
	ck_assert_int_eq(ck_lines(buf, " call=accept4 "), 5);
	ck_assert_int_eq(ck_lines(buf, "summary=exit calls=5 "), 1);
	free(buf);
	ck_cleanup(&c);
}
END_TEST

/* "A call that fails for want of descriptors (EMFILE, ENFILE) is recorded,
 * the process's first call included": its ring and socket are had past the
 * full table, and the record reaches the collector. */
START_TEST(a_first_call_failing_with_emfile_reaches_the_collector)
{
	struct ck_collector c;
	start(&c, 0);
	struct ck_host h;
	const char *actions[] = { "emfile", NULL };
	host(&h, c.sock, 0, NULL, actions);
	long pid = ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "emfile ok");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	char *buf = wait_exit_summary(&c, pid);
	ck_assert_int_eq(records_of(buf, pid), 1);
	ck_assert_int_eq(ck_lines(buf, "\"errno\":\"EMFILE\""), 1);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

/* A sandbox that refuses what the ring or its hand-over needs: the host
 * says so once and traces in-process; nothing else changes for it. */
START_TEST(a_sandbox_refusing_the_ring_or_the_link_leaves_the_host_tracing_in_process)
{
	static const char *const calls[] = { "deny:memfd_create", "deny:mmap", "deny:sendmsg" };
	static const char *const said[] = { "cannot make the ring: operation not permitted",
					    "cannot make the ring: operation not permitted",
					    "cannot hand the ring over: operation not permitted" };
	struct ck_collector c;
	start(&c, 0);
	for (int i = 0; i < 3; i++) {
		char err[320];
		snprintf(err, sizeof(err), "%s/host-%d.err", c.dir, i);
		struct ck_host h;
		const char *actions[] = { calls[i], "accept:3", NULL };
		host(&h, c.sock, 0, err, actions);
		long pid = ck_host_expect(&h, "pid ");
		ck_host_expect(&h, "denied ");
		ck_host_expect(&h, "accepted 3");
		ck_assert_msg(ck_host_wait(&h) == 0, "%s: the host did not exit 0", calls[i]);
		char *buf = host_stderr(err);
		ck_assert_msg(ck_lines(buf, "accept4shim: collector ") == 1 &&
				      ck_lines(buf, said[i]) == 1 &&
				      ck_lines(buf, "tracing in-process to stderr instead") == 1,
			      "%s: %s", calls[i], buf);
		ck_assert_int_eq(ck_lines(buf, " call=accept4 "), 3);
		free(buf);
		buf = out_of(&c, pid);
		ck_assert_int_eq(ck_lines(buf, NULL), 0);
		free(buf);
	}
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

START_TEST(another_users_collector_refuses_and_the_host_traces_in_process)
{
	struct ck_collector c;
	start(&c, NOBODY);
	char err[320];
	snprintf(err, sizeof(err), "%s/host.err", c.dir);
	struct ck_host h;
	const char *actions[] = { "accept:3", NULL };
	host(&h, c.sock, 0, err, actions);
	long pid = ck_host_expect(&h, "pid ");
	ck_host_expect(&h, "accepted 3");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	char *buf = host_stderr(err);
	ck_assert_int_eq(ck_lines(buf, "accept4shim: collector "), 1);
	ck_assert_int_eq(ck_lines(buf, "refused this process's ring: permission denied (EACCES); "
				       "tracing in-process to stderr instead"),
			 1);
	ck_assert_int_eq(ck_lines(buf, " call=accept4 "), 3);
	free(buf);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_assert_ptr_nonnull(strstr(ck_stderr(&c), "refused"));
	buf = out_of(&c, pid);
	ck_assert_int_eq(ck_lines(buf, NULL), 0);
	free(buf);
	ck_cleanup(&c);
}
END_TEST

/* accept4shim --collect: the wrapper's exit comes after the command and
 * every process it made (a detached grandchild included) have exited and
 * their records are written; its status is the command's; its private
 * directory is gone. */
START_TEST(wrapper_collect_waits_for_everything_the_command_made)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char tmp[320], tmpdir[340], log[340];
	snprintf(tmp, sizeof(tmp), "%s/tmp", c.dir);
	T_CHECK(mkdir(tmp, 0700) == 0);
	snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", tmp);
	snprintf(log, sizeof(log), "--log=%s/out-%%p.log", c.dir);
	const char *argv[] = { t_wrapper_path(), "--collect", log, "--log-format=json", "--stats",
			       "--", HOST, "accept:2", "orphan:1500:3", "children:2:1", "exit:5",
			       NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", tmpdir, NULL };
	static char out[4096], err[4096];
	ck_assert_int_eq(t_run(argv, env, out, sizeof(out), err, sizeof(err), 60000), 5);
	long pid = 0, orphan = 0;
	const char *p = strstr(out, "pid ");
	ck_assert_ptr_nonnull(p);
	pid = strtol(p + 4, NULL, 10);
	p = strstr(out, "orphan ");
	ck_assert_ptr_nonnull(p);
	orphan = strtol(p + 7, NULL, 10);
	/* No waiting here: all of it is written before the wrapper exits. */
	char *buf = out_of(&c, orphan);
	ck_assert_int_eq(records_of(buf, orphan), 3);
	ck_assert_int_eq(ck_lines(buf, "\"summary\":\"exit\""), 1);
	free(buf);
	buf = out_of(&c, pid);
	ck_assert_int_eq(records_of(buf, pid), 2);
	free(buf);
	for (const char *q = out; (q = strstr(q, "child ")); q++) {
		buf = out_of(&c, strtol(q + 6, NULL, 10));
		ck_assert_int_eq(records_of(buf, strtol(q + 6, NULL, 10)), 1);
		free(buf);
	}
	ck_assert_int_eq(rmdir(tmp), 0); /* empty: the private directory is gone */
	ck_assert_msg(!strstr(err, "accept4shim"), "the wrapper said: %s", err);
	ck_cleanup(&c);
}
END_TEST

/* --collect --log=journald, with a systemd-journald of the test's own: an
 * entry per record, found by journalctl on the fields SPEC names. */
static void journald_child(void *arg)
{
	(void)arg;
	ck_private_mounts();
	pid_t journald = ck_start_journald(A4S_JOURNALD);
	struct ck_collector c;
	ck_dir(&c, 0);
	const char *argv[] = { t_wrapper_path(), "--collect", "--log=journald", "--stats", "--",
			       HOST, "accept:4", "eagain:3", NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	static char out[4096], err[4096];
	int st = t_run(argv, env, out, sizeof(out), err, sizeof(err), 60000);
	T_ASSERT(st == 0, "the wrapper exited %d: %s", st, err);
	const char *p = strstr(out, "pid ");
	T_ASSERT(p != NULL, "no pid from the host");
	long pid = strtol(p + 4, NULL, 10);
	char json[400], match[200];
	snprintf(json, sizeof(json), "%s/journal.json", c.dir);
	snprintf(match, sizeof(match), "ACCEPT4SHIM_PID=%ld ACCEPT4SHIM_CALL=accept4", pid);
	T_ASSERT(ck_journal_settled(match, json, 7) == 7, "7 entries for %s", match);
	char *all = ck_read(json, NULL);
	T_ASSERT(ck_lines(all, "\"ACCEPT4SHIM_LOCAL\":\"unix:@a4s-libhost-") == 7, "local");
	T_ASSERT(ck_lines(all, "\"ACCEPT4SHIM_PEER\":\"unix:\"") == 4, "peers of the accepted");
	T_ASSERT(ck_lines(all, "\"ACCEPT4SHIM_FLAGS\":\"SOCK_CLOEXEC\"") == 7, "flags");
	free(all);
	snprintf(match, sizeof(match), "ACCEPT4SHIM_PID=%ld ACCEPT4SHIM_ERRNO=EAGAIN", pid);
	T_ASSERT(ck_journal(match, json) == 3, "journalctl %s", match);
	snprintf(match, sizeof(match), "OBJECT_PID=%ld ACCEPT4SHIM_SUMMARY=exit ACCEPT4SHIM_CALLS=7",
		 pid);
	T_ASSERT(ck_journal_settled(match, json, 1) == 1, "journalctl %s", match);
	ck_cleanup(&c);
	kill(journald, SIGTERM);
	waitpid(journald, NULL, 0);
}

START_TEST(wrapper_collect_to_journald_one_entry_per_record)
{
	T_IN_CHILD(journald_child, NULL);
}
END_TEST

START_TEST(wrapper_collect_ends_as_the_command_ended)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[340];
	snprintf(log, sizeof(log), "--log=%s/out-%%p.log", c.dir);
	const char *argv[] = { t_wrapper_path(), "--collect", log, "--log-format=json", "--",
			       HOST, "accept:4", "kill", NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	static char out[4096];
	ck_assert_int_eq(t_run(argv, env, out, sizeof(out), NULL, 0, 60000), 128 + SIGKILL);
	const char *p = strstr(out, "pid ");
	ck_assert_ptr_nonnull(p);
	long pid = strtol(p + 4, NULL, 10);
	char *buf = out_of(&c, pid);
	ck_assert_int_eq(records_of(buf, pid), 4);
	free(buf);
	ck_cleanup(&c);
}
END_TEST

/* A4S_ONLY=name runs that case alone (for measuring and debugging). */
/* A4S_ONLY=name runs that case alone (for measuring and debugging). */
int main(void)
{
#define CASE(name) { #name, name }
	const struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		CASE(host_sigkilled_after_n_accepts_loses_none),
		CASE(stopped_collector_never_blocks_the_host_and_records_plus_dropped_are_calls),
		CASE(fork_and_exec_tree_each_process_writes_its_own_ring),
		CASE(child_that_never_calls_does_not_hold_its_parents_ring),
		CASE(sixteen_threads_twenty_thousand_accepts_each_through_one_ring),
		CASE(restarted_collector_is_found_again_and_nothing_is_lost),
		CASE(collector_stopped_before_the_first_record_gets_them_all_later),
		CASE(refused_after_threads_wrote_into_the_ring_every_record_once_in_process),
		CASE(errno_is_left_alone_on_success_and_set_on_failure),
		CASE(no_collector_at_the_path_is_said_once_and_the_host_traces_in_process),
		CASE(another_users_collector_refuses_and_the_host_traces_in_process),
		CASE(a_sandbox_refusing_the_ring_or_the_link_leaves_the_host_tracing_in_process),
		CASE(a_first_call_failing_with_emfile_reaches_the_collector),
		CASE(wrapper_collect_waits_for_everything_the_command_made),
		CASE(wrapper_collect_ends_as_the_command_ended),
		CASE(wrapper_collect_to_journald_one_entry_per_record),
	};


	Suite *s = suite_create("collect");
	TCase *tc = tcase_create("library");
	tcase_set_timeout(tc, 120);
	const char *only = getenv("A4S_ONLY");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!only || strcmp(only, cases[i].name) == 0)
			tcase_add_test(tc, cases[i].test);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
