/*
 * SPEC "Trace records" and "Destinations", the destination itself: a file
 * per process with %p; a program that closes every descriptor or reuses
 * the trace's number never gets records in its files; the descriptor is
 * close-on-exec; copytruncate; syslog (one datagram per record, a daemon
 * restart, no /dev/log); a FIFO whose reader left or never reads; a device
 * or a file system that is full.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracekit.h"

START_TEST(percent_p_gives_each_process_its_own_file)
{
	char dir[64], v_log[160];
	temp_dir(dir, sizeof(dir));
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s/t.%%p.json", dir);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", "ACCEPT4SHIM_STATS=1", NULL };
	struct result r;
	run_scenario(&r, vars, "prefork", NULL, NULL);
	expect_ok(&r, "prefork");
	struct lines writers, quiet;
	lines_of(r.out.p, "parent ", &writers);
	struct lines kids;
	lines_of(r.out.p, "child ", &kids);
	lines_of(r.out.p, "quiet ", &quiet);
	ck_assert_uint_eq(writers.n, 1);
	ck_assert_uint_eq(kids.n, 3);
	ck_assert_uint_eq(quiet.n, 2);
	/* One file per process that accepted, holding its calls and its
	 * summary, every record with its own pid. */
	int files = 0;
	for (size_t i = 0; i < writers.n + kids.n; i++) {
		const char *w = i < writers.n ? writers.v[i] : kids.v[i - writers.n];
		long long pid = field_ll(w, "pid");
		char path[160];
		snprintf(path, sizeof(path), "%s/t.%lld.json", dir, pid);
		struct result c;
		tracecheck(&c, path, false);
		struct lines recs, sums;
		lines_of(c.out.p, "rec ", &recs);
		lines_of(c.out.p, "summary ", &sums);
		ck_assert_uint_eq(recs.n, (size_t)field_ll(w, "n"));
		ck_assert_uint_eq(sums.n, 1);
		ck_assert_int_eq(field_ll(sums.v[0], "calls"), field_ll(w, "n"));
		for (size_t k = 0; k < recs.n; k++)
			ck_assert_int_eq(field_ll(recs.v[k], "pid"), pid);
		ck_assert_int_eq(field_ll(sums.v[0], "pid"), pid);
		lines_free(&recs);
		lines_free(&sums);
		files++;
	}
	/* The child that only exec'd and the one that made no call: no file. */
	DIR *d = opendir(dir);
	struct dirent *e;
	int seen = 0;
	while ((e = readdir(d)))
		seen += e->d_name[0] != '.';
	closedir(d);
	ck_assert_int_eq(seen, files);
	for (size_t i = 0; i < quiet.n; i++) {
		char path[160];
		snprintf(path, sizeof(path), "%s/t.%lld.json", dir, field_ll(quiet.v[i], "pid"));
		ck_assert_int_eq(access(path, F_OK), -1);
	}
	lines_free(&writers);
	lines_free(&kids);
	lines_free(&quiet);
	remove_dir(dir);
}
END_TEST

START_TEST(a_program_that_closes_every_descriptor_never_gets_records_in_its_file)
{
	char dir[64], trace[128], data[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	snprintf(data, sizeof(data), "%s/data", dir);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "closeall", data, NULL);
	expect_ok(&r, "closeall");
	struct text content;
	read_file(data, &content);
	ck_assert_str_eq(content.p, "DATA\n");
	tracecheck(&c, trace, false);
	struct lines recs, facts;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(r.out.p, "closeall ", &facts);
	ck_assert_uint_eq(facts.n, 1);
	/* every call recorded, none dropped, each time on a descriptor of ours */
	ck_assert_uint_eq(recs.n, 4);
	ck_assert_int_eq(field_ll(facts.v[0], "calls"), 4);
	ck_assert_int_eq(field_ll(facts.v[0], "dropped"), 0);
	ck_assert_int_gt(field_ll(facts.v[0], "now"), 2);
	lines_free(&recs);
	lines_free(&facts);
	text_free(&content);
	remove_dir(dir);
}
END_TEST

START_TEST(a_trace_truncated_under_it_goes_on_from_the_start)
{
	/* logrotate copytruncate: the file is copied, then cut to nothing.
	 * O_APPEND puts the next record at the new end, offset 0: no hole of
	 * NUL bytes where the old records were. */
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "truncate", NULL, NULL);
	expect_ok(&r, "truncate");
	struct text file;
	read_file(trace, &file);
	ck_assert_msg(strncmp(file.p, "{\"ts\":", 6) == 0, "after truncation: %.100s", file.p);
	tracecheck(&c, trace, false);
	struct lines recs;
	lines_of(c.out.p, "rec ", &recs);
	ck_assert_uint_eq(recs.n, 1);
	ck_assert_ptr_nonnull(strstr(recs.v[0], " flags=SOCK_CLOEXEC "));
	lines_free(&recs);
	text_free(&file);
	remove_dir(dir);
}
END_TEST

START_TEST(the_trace_descriptor_is_close_on_exec)
{
	char dir[64], trace[128], v_log[160];
	temp_trace(dir, trace, v_log, "trace.json");
	const char *vars[] = { v_log, NULL };
	struct result r;
	run_scenario(&r, vars, "exec", NULL, NULL);
	expect_ok(&r, "exec");
	struct lines tf, open_fds;
	lines_of(r.out.p, "tracefd ", &tf);
	lines_of(r.out.p, "open ", &open_fds);
	ck_assert_uint_eq(tf.n, 1);
	ck_assert_int_eq(field_ll(tf.v[0], "cloexec"), 1);
	ck_assert_uint_ge(open_fds.n, 3); /* the exec'd program saw its stdio */
	char want[200];
	snprintf(want, sizeof(want), "target=%s", trace);
	for (size_t i = 0; i < open_fds.n; i++)
		ck_assert_msg(strstr(open_fds.v[i], want) == NULL, "after exec: %s", open_fds.v[i]);
	lines_free(&tf);
	lines_free(&open_fds);
	remove_dir(dir);
}
END_TEST

static const char *const sigpipe_ways[] = { "handler", "default", "blocked", "pending" };

START_TEST(a_fifo_whose_reader_left_raises_no_sigpipe_and_counts_drops)
{
	char dir[64], fifo[128], v_log[160];
	temp_dir(dir, sizeof(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	T_CHECK(mkfifo(fifo, 0600) == 0);
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", fifo);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r;
	run_scenario(&r, vars, "fifo_gone", sigpipe_ways[_i], NULL);
	expect_ok(&r, sigpipe_ways[_i]);
	ck_assert_ptr_nonnull(strstr(r.out.p, "fifo ok\n"));
	remove_dir(dir);
}
END_TEST

START_TEST(a_reader_that_never_reads_never_blocks_accept)
{
	/* A FIFO, and stderr as a pipe, that nobody reads: 64 KiB fill up,
	 * then records are dropped; accept goes on at full speed, and what
	 * did get through is whole records. */
	char dir[64], fifo[128], dump[128], v_log[160], v_dump[160];
	temp_dir(dir, sizeof(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(dump, sizeof(dump), "%s/dump", dir);
	T_CHECK(mkfifo(fifo, 0600) == 0);
	for (int k = 0; k < 2; k++) {
		snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", k ? "stderr" : fifo);
		snprintf(v_dump, sizeof(v_dump), "A4S_T_DUMP=%s", dump);
		const char *vars[] = { v_log, v_dump, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
		const char *argv[] = { "/proc/self/exe", "scenario", "slow", "1000", k ? NULL : fifo,
				       NULL };
		int ep[2];
		T_CHECK(pipe2(ep, O_CLOEXEC) == 0);
		struct proc p;
		spawn(&p, argv, vars, -1, ep[1]);
		close(ep[1]);
		struct result r;
		collect(&p, &r, 30000); /* a blocked accept would end here */
		expect_ok(&r, k ? "stderr" : "fifo");
		if (k) {
			/* now read what the pipe holds */
			struct text held = { 0 };
			text_add(&held, "", 0);
			char buf[65536];
			ssize_t n;
			while ((n = read(ep[0], buf, sizeof(buf))) > 0)
				text_add(&held, buf, (size_t)n);
			write_file(dump, held.p, held.len);
			text_free(&held);
		}
		close(ep[0]);
		long long dropped = field_ll(r.out.p, "dropped");
		long long worst = field_ll(r.out.p, "worst_ns");
		struct result c;
		tracecheck(&c, dump, false);
		struct lines recs;
		lines_of(c.out.p, "rec ", &recs);
		ck_assert_int_gt(dropped, 0);
		ck_assert_int_gt(recs.n, 100);
		ck_assert_int_eq((long long)recs.n + dropped, 1000);
		ck_assert_msg(worst < 1000000000, "one accept took %lld ns", worst);
		lines_free(&recs);
		text_free(&r.out);
		text_free(&r.err);
	}
	remove_dir(dir);
}
END_TEST

START_TEST(dev_full_drops_and_counts_every_record)
{
	const char *vars[] = { "ACCEPT4SHIM_LOG=/dev/full", "ACCEPT4SHIM_STATS=1", NULL };
	struct result r;
	run_scenario(&r, vars, "accepts", "5", NULL);
	expect_ok(&r, "/dev/full");
	ck_assert_ptr_nonnull(strstr(r.out.p, "accepts calls=6 dropped=6\n"));
	text_free(&r.out);
	text_free(&r.err);
}
END_TEST

static void full_tmpfs_child(void *arg)
{
	(void)arg;
	char dir[64], trace[128], filler[128], v_log[160];
	temp_dir(dir, sizeof(dir));
	/* Without a tmpfs of our own this case cannot do what it is named
	 * for: it fails (we are root here and in CI), it never passes on
	 * something weaker such as /dev/full. */
	bool mounted = private_mounts() &&
		       mount("a4s-full", dir, "tmpfs", 0, "size=16k,mode=700") == 0;
	int err = errno;
	if (!mounted)
		rmdir(dir);
	T_ASSERT(mounted, "cannot mount a 16 KiB tmpfs (needs root or user namespaces): %s",
		 strerror(err));
	snprintf(trace, sizeof(trace), "%s/trace.json", dir);
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	char page[8192];
	memset(page, 'f', sizeof(page));
	write_file(filler, page, sizeof(page));
	snprintf(v_log, sizeof(v_log), "ACCEPT4SHIM_LOG=%s", trace);
	const char *vars[] = { v_log, "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r, c;
	run_scenario(&r, vars, "fill", filler, NULL);
	expect_ok(&r, "fill");
	long long calls = field_ll(r.out.p, "calls"), dropped = field_ll(r.out.p, "dropped");
	tracecheck(&c, trace, true);
	struct lines recs, bad;
	lines_of(c.out.p, "rec ", &recs);
	lines_of(c.out.p, "bad ", &bad);
	/* Every record written is whole; at most the one the disk cut short
	 * is a fragment, on a line of its own; the rest were dropped. */
	T_ASSERT((long long)recs.n == calls - dropped, "%zu records, %lld calls, %lld dropped",
		 recs.n, calls, dropped);
	T_ASSERT(bad.n <= 1, "%zu bad lines:\n%s", bad.n, c.out.p);
	struct text file;
	read_file(trace, &file);
	T_ASSERT(file.len > 0 && file.p[file.len - 1] == '\n', "the trace ends mid-line");
	/* The records after room came back are there. */
	T_ASSERT(recs.n >= 4 && strstr(recs.v[recs.n - 1], "errno=EAGAIN"), "last record");
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

START_TEST(a_full_file_system_drops_records_and_keeps_lines_whole)
{
	T_IN_CHILD(full_tmpfs_child, NULL);
}
END_TEST

static void syslog_child(void *arg)
{
	const char *out_path = arg;
	private_dev();
	int s = bind_dev_log();
	const char *vars[] = { "ACCEPT4SHIM_LOG=syslog", "ACCEPT4SHIM_LOG_FORMAT=json", NULL };
	struct result r;
	run_scenario(&r, vars, "syslog", "", NULL);
	expect_ok(&r, "syslog");
	T_ASSERT(strstr(r.out.p, "syslog calls=3 dropped=0\n"), "%s", r.out.p);
	/* One datagram per record: "<30>Mmm dd hh:mm:ss accept4shim[pid]: {...}" */
	struct text recs = { 0 };
	char buf[4096];
	ssize_t n;
	int count = 0;
	while ((n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		count++;
		char mon[4];
		int day, hh, mm, ss, pid, off = 0;
		T_ASSERT(sscanf(buf, "<30>%3[A-Za-z] %2d %2d:%2d:%2d accept4shim[%d]: %n", mon, &day,
				&hh, &mm, &ss, &pid, &off) == 6 && off > 0,
			 "syslog header: %s", buf);
		T_ASSERT(strstr("JanFebMarAprMayJunJulAugSepOctNovDec", mon) && day >= 1 && day <= 31,
			 "stamp: %s", buf);
		T_ASSERT(buf[7] == ' ' && buf[10] == ' ' && buf[13] == ':' && buf[16] == ':' &&
				 buf[19] == ' ',
			 "stamp layout: %s", buf);
		T_ASSERT(buf[n - 1] == '}' && !strchr(buf, '\n'), "one record, no newline: %s", buf);
		char pidkey[32];
		snprintf(pidkey, sizeof(pidkey), "\"pid\":%d,", pid);
		T_ASSERT(strstr(buf + off, pidkey), "tag pid %d is not the record's: %s", pid, buf);
		text_add(&recs, buf + off, (size_t)(n - off));
		text_add(&recs, "\n", 1);
	}
	T_ASSERT(count == 3, "%d datagrams for 3 calls", count);
	write_file(out_path, recs.p, recs.len);

	/* A text record after the tag, without its own "accept4shim: ". */
	const char *text_vars[] = { "ACCEPT4SHIM_LOG=syslog", NULL };
	struct result t;
	run_scenario(&t, text_vars, "accepts", "1", NULL);
	expect_ok(&t, "syslog text");
	count = 0;
	while ((n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		count++;
		char *tag = strstr(buf, " accept4shim[");
		T_ASSERT(strncmp(buf, "<30>", 4) == 0 && tag && tag == buf + 19, "header: %s", buf);
		T_ASSERT(strstr(tag, "]: ts=") && !strstr(strstr(tag, "]: "), "accept4shim") &&
				 !strchr(buf, '\n') && strstr(buf, " dur_ns="),
			 "text record: %s", buf);
	}
	T_ASSERT(count == 2, "%d text datagrams for 2 calls", count);
	/* facts after the records, for the parent to compare */
	char facts_path[PATH_MAX];
	snprintf(facts_path, sizeof(facts_path), "%s.facts", out_path);
	write_file(facts_path, r.out.p, r.out.len);
	close(s);
}

START_TEST(syslog_gets_one_datagram_per_record)
{
	char dir[64], out_path[128], facts_path[160];
	temp_dir(dir, sizeof(dir));
	snprintf(out_path, sizeof(out_path), "%s/syslog.json", dir);
	snprintf(facts_path, sizeof(facts_path), "%s.facts", out_path);
	T_IN_CHILD(syslog_child, out_path);
	struct result c;
	tracecheck(&c, out_path, false);
	struct text facts;
	read_file(facts_path, &facts);
	struct lines fl, rl;
	lines_of(facts.p, "call ", &fl);
	lines_of(c.out.p, "rec ", &rl);
	compare(&fl, &rl);
	lines_free(&fl);
	lines_free(&rl);
	text_free(&facts);
	remove_dir(dir);
}
END_TEST

static void syslog_restart_child(void *arg)
{
	(void)arg;
	private_dev();
	const char *vars[] = { "ACCEPT4SHIM_LOG=syslog", NULL };
	struct result r;
	run_scenario(&r, vars, "syslog", "restart", NULL);
	expect_ok(&r, "syslog restart");
	/* the one record sent to the dead socket is the one dropped */
	T_ASSERT(strstr(r.out.p, "syslog calls=4 dropped=1\n"), "%s", r.out.p);
}

static void no_dev_log_child(void *arg)
{
	(void)arg;
	private_dev();
	const char *vars[] = { "ACCEPT4SHIM_LOG=syslog", NULL };
	struct result r;
	run_scenario(&r, vars, "accepts", "4", NULL);
	expect_ok(&r, "no /dev/log");
	T_ASSERT(strstr(r.out.p, "accepts calls=5 dropped=5\n"), "%s", r.out.p);
}

START_TEST(syslog_reconnects_after_a_restart_and_drops_without_dev_log)
{
	T_IN_CHILD(syslog_restart_child, NULL);
	T_IN_CHILD(no_dev_log_child, NULL);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("trace_destinations");
	TCase *tc_files = tcase_create("files");
	tcase_set_timeout(tc_files, 60);
	tcase_add_test(tc_files, percent_p_gives_each_process_its_own_file);
	tcase_add_test(tc_files, a_program_that_closes_every_descriptor_never_gets_records_in_its_file);
	tcase_add_test(tc_files, the_trace_descriptor_is_close_on_exec);
	tcase_add_test(tc_files, a_trace_truncated_under_it_goes_on_from_the_start);
	suite_add_tcase(s, tc_files);
	TCase *tc_syslog = tcase_create("syslog");
	tcase_set_timeout(tc_syslog, 60);
	tcase_add_test(tc_syslog, syslog_gets_one_datagram_per_record);
	tcase_add_test(tc_syslog, syslog_reconnects_after_a_restart_and_drops_without_dev_log);
	suite_add_tcase(s, tc_syslog);
	TCase *tc_failing = tcase_create("failing");
	tcase_set_timeout(tc_failing, 60);
	tcase_add_loop_test(tc_failing, a_fifo_whose_reader_left_raises_no_sigpipe_and_counts_drops, 0, 4);
	tcase_add_test(tc_failing, a_reader_that_never_reads_never_blocks_accept);
	tcase_add_test(tc_failing, dev_full_drops_and_counts_every_record);
	tcase_add_test(tc_failing, a_full_file_system_drops_records_and_keeps_lines_whole);
	suite_add_tcase(s, tc_failing);
	return s;
}

int main(int argc, char **argv)
{
	return t_trace_main(errno, argc, argv, NULL, make_suite);
}
