/*
 * Where accept4shim-collector writes (SPEC, "The collector": "DEST is
 * anything ACCEPT4SHIM_LOG accepts ... plus journald"; and "Destinations,
 * as operators use them", which apply to the collector's own output):
 * journald's native protocol queried with journalctl, syslog datagrams,
 * stderr, a file followed across rotation, destinations refused or failing
 * said once and their records counted, a full disk.
 *
 * journald and syslog run in a private mount namespace (a tmpfs over /run
 * or /dev), with a systemd-journald of the test's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckit.h"
#include "journald.h"

#define NOBODY 65534

static char *read_in(const struct ck_collector *c, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	char *buf = ck_read(path, NULL);
	T_ASSERT(buf != NULL, "no %s", path);
	return buf;
}

/* Waits until path holds at least `lines` lines containing word, however
 * long a loaded machine takes (the case's timeout is the one deadline). */
static void wait_lines(const char *path, const char *word, long lines)
{
	for (;;) {
		char *b = ck_read(path, NULL);
		long n = b ? ck_lines(b, word) : 0;
		free(b);
		if (n >= lines)
			return;
		usleep(10000);
	}
}

/*
 * "journald (native protocol, one entry per record with fields
 * ACCEPT4SHIM_CALL, ... and a readable MESSAGE)", so that
 * `journalctl ACCEPT4SHIM_ERRNO=EMFILE` finds them: every record's fields
 * checked against the record (journalcheck.py), the EMFILE ones found by
 * that very query, and an entry sent the protocol's other way, in a sealed
 * memfd, found too.
 */
static void journald_child(void *arg)
{
	(void)arg;
	ck_private_mounts();
	pid_t journald = ck_start_journald(A4S_JOURNALD);
	struct ck_collector c;
	ck_dir(&c, 0);
	T_ASSERT(ck_start(&c, 0, (const char *[]){ "--log=journald", NULL }, NULL), "collector");
	char expect[1024];
	snprintf(expect, sizeof(expect), "--expect=%s/expect", c.dir);
	/* Six hundred records in batches small enough for journald's socket
	 * queue (net.unix.max_dgram_qlen: 10 here and in CI's containers,
	 * 512 where systemd boots the machine), each in the journal before
	 * the next is written. A burst of more filled the queue while a
	 * loaded machine did not run journald, and the collector then
	 * rightly dropped what did not fit after its 100 ms wait (counted:
	 * the exit summary said DROPPED). */
	enum { BATCH = 10, BATCHES = 60 };
	const char *args[8 + 3 * BATCHES] = { expect, "--format=json", "--seed=21", "--stats",
					      "connect" };
	int n = 5;
	for (int i = 0; i < BATCHES; i++) {
		args[n++] = "write:10";
		args[n++] = "drained";
		args[n++] = "wait";
	}
	args[n] = NULL;
	struct ck_host h;
	ck_host(&h, c.sock, 0, args);
	T_ASSERT(ck_host_expect(&h, "reply ") == 0, "attached");
	char all[1024], found[1024];
	snprintf(all, sizeof(all), "%s/journal.json", c.dir);
	snprintf(found, sizeof(found), "%s/emfile.json", c.dir);
	for (int i = 1; i <= BATCHES; i++) {
		T_ASSERT(ck_host_expect(&h, "drained ") == 0, "batch %d taken", i);
		T_ASSERT(ck_journal_settled("SYSLOG_IDENTIFIER=accept4shim", all, i * BATCH) ==
				 i * BATCH,
			 "entries of batch %d", i);
		ck_host_go(&h);
	}
	T_ASSERT(ck_host_wait(&h) == 0, "host");
	char *want = read_in(&c, "expect");
	long emfile = ck_lines(want, "\"errno\":\"EMFILE\"");
	T_ASSERT(emfile > 10, "the records have EMFILE failures");

	/* 600 records and the exit summary. */
	T_ASSERT(ck_journal_settled("SYSLOG_IDENTIFIER=accept4shim", all, 601) == 601, "entries");
	T_ASSERT(ck_journal("ACCEPT4SHIM_ERRNO=EMFILE", found) == emfile,
		 "journalctl ACCEPT4SHIM_ERRNO=EMFILE finds every EMFILE record");
	T_ASSERT(ck_journal("ACCEPT4SHIM_SUMMARY=exit ACCEPT4SHIM_CALLS=600 ACCEPT4SHIM_DROPPED=0",
			 found) == 1, "the summary entry");
	char cmd[3000];
	snprintf(cmd, sizeof(cmd), "python3 %s/tests/collector/journalcheck.py %s/expect %s",
		 A4S_SOURCE_DIR, c.dir, all);
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	char out[256], err[4096];
	int st = t_run(argv, env, out, sizeof(out), err, sizeof(err), 60000);
	T_ASSERT(st == 0 && strcmp(out, "ok 600\n") == 0, "journalcheck: %s%s", out, err);

	/* The protocol's large-entry way: the entry in a sealed memfd. */
	int fd = a4s_journald_open(A4S_JOURNALD_SOCKET);
	T_ASSERT(fd >= 0, "journald socket");
	static const char entry[] = "MESSAGE=through a memfd\nACCEPT4SHIM_CALL=memfd-test\n";
	T_ASSERT(a4s_journald_send(fd, entry, sizeof(entry) - 1, 0) == (long)sizeof(entry) - 1,
		 "sent");
	T_ASSERT(ck_journal_settled("ACCEPT4SHIM_CALL=memfd-test", found, 1) == 1,
		 "journald took the memfd entry");
	close(fd);

	T_ASSERT(ck_stop(&c) == 0, "collector exit");
	free(want);
	ck_cleanup(&c);
	kill(journald, SIGTERM);
	waitpid(journald, NULL, 0);
}

START_TEST(journald_entries_carry_the_fields_and_journalctl_finds_them)
{
	T_IN_CHILD(journald_child, NULL);
}
END_TEST

/* syslog: one datagram per record, framed as the library frames it, with
 * the traced process's pid in the tag. */
static void syslog_child(void *arg)
{
	(void)arg;
	ck_private_mounts();
	T_CHECK(mount("a4s-dev", "/dev", "tmpfs", 0, "size=64k,mode=755") == 0);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	T_CHECK(bind(s, (struct sockaddr *)&un, sizeof(un)) == 0);
	int big = 1 << 20;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct ck_collector c;
	ck_dir(&c, 0);
	T_ASSERT(ck_start(&c, 0, (const char *[]){ "--log=syslog", NULL }, NULL), "collector");
	char expect[1024];
	snprintf(expect, sizeof(expect), "--expect=%s/expect", c.dir);
	struct ck_host h;
	ck_host(&h, c.sock, 0, (const char *[]){ expect, "--seed=4", "connect", "write:100", NULL });
	T_ASSERT(ck_host_expect(&h, "reply ") == 0, "attached");
	pid_t pid = h.pid;
	/* Read as they come, as a syslog daemon does: a datagram socket's
	 * queue is short (net.unix.max_dgram_qlen). */
	static char d[100][4096];
	for (int i = 0; i < 100; i++) {
		struct pollfd p = { s, POLLIN, 0 };
		T_ASSERT(poll(&p, 1, 10000) == 1, "datagram %d", i);
		ssize_t n = recv(s, d[i], sizeof(d[i]) - 1, 0);
		T_ASSERT(n > 0, "datagram %d", i);
		d[i][n] = '\0';
	}
	T_ASSERT(ck_host_wait(&h) == 0, "host");
	T_ASSERT(ck_stop(&c) == 0, "collector exit");
	char *want = read_in(&c, "expect");
	char tag[64];
	snprintf(tag, sizeof(tag), " accept4shim[%d]: ", (int)pid);
	const char *w = want;
	for (int i = 0; i < 100; i++) {
		/* <30>Mmm dd hh:mm:ss accept4shim[PID]: record-without-tag */
		T_ASSERT(strncmp(d[i], "<30>", 4) == 0 && strncmp(d[i] + 19, tag, strlen(tag)) == 0,
			 "frame: %s", d[i]);
		const char *nl = strchr(w, '\n');
		size_t len = (size_t)(nl - w) - strlen("accept4shim: ");
		const char *body = d[i] + 19 + strlen(tag);
		T_ASSERT(strlen(body) == len && memcmp(body, w + strlen("accept4shim: "), len) == 0,
			 "record %d: %s", i, d[i]);
		w = nl + 1;
	}
	T_ASSERT(recv(s, tag, 1, MSG_DONTWAIT) < 0, "no more datagrams");
	free(want);
	ck_cleanup(&c);
}

START_TEST(syslog_gets_one_framed_datagram_per_record)
{
	T_IN_CHILD(syslog_child, NULL);
}
END_TEST

START_TEST(stderr_gets_the_records)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	ck_assert(ck_start(&c, 0, (const char *[]){ "--log=stderr", NULL }, NULL));
	char expect[1024];
	snprintf(expect, sizeof(expect), "--expect=%s/expect", c.dir);
	struct ck_host h;
	ck_host(&h, c.sock, 0, (const char *[]){ expect, "--seed=8", "connect", "write:500", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	char *want = read_in(&c, "expect"), *got = ck_read(c.err, NULL);
	ck_same(got, want);
	free(got);
	free(want);
	ck_cleanup(&c);
}
END_TEST

/* "Rotation: at most a second after the path has been renamed or removed
 * (logrotate's create mode), records go to a new file at the path; the old
 * file is no longer held." */
START_TEST(renamed_or_removed_file_is_followed_within_a_second)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[1100], path[1024], old[1024], expect[1024];
	snprintf(path, sizeof(path), "%s/out.log", c.dir);
	snprintf(old, sizeof(old), "%s/out.log.1", c.dir);
	snprintf(log, sizeof(log), "--log=%s", path);
	snprintf(expect, sizeof(expect), "--expect=%s/expect", c.dir);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, NULL }, NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0,
		(const char *[]){ expect, "--seed=9", "connect", "write:100", "wait", "write:100",
				  "wait", "write:100", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	wait_lines(path, NULL, 100);
	T_CHECK(rename(path, old) == 0);
	usleep(1500 * 1000);
	ck_host_go(&h);
	wait_lines(path, NULL, 100);
	T_CHECK(unlink(path) == 0);
	usleep(1500 * 1000);
	ck_host_go(&h);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	wait_lines(path, NULL, 100);
	ck_assert_int_eq(ck_stop(&c), 0);
	char *want = read_in(&c, "expect"), *first = ck_read(old, NULL), *third = ck_read(path, NULL);
	ck_assert_int_eq(ck_lines(first, NULL), 100);
	ck_assert_int_eq(ck_lines(third, NULL), 100);
	/* The first hundred in the renamed file, the last in the new one. */
	ck_assert(strncmp(want, first, strlen(first)) == 0);
	ck_same(want + strlen(want) - strlen(third), third);
	free(want);
	free(first);
	free(third);
	ck_cleanup(&c);
}
END_TEST

/* "An unusable destination, or one that fails, is said once ... records
 * are then dropped and counted"; the collector tries again once a second,
 * and when the destination works, the count comes out in a summary. */
START_TEST(failing_destination_is_said_once_and_its_losses_are_summed_up)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[1100], sub[512], path[1024];
	snprintf(sub, sizeof(sub), "%s/later", c.dir);
	snprintf(path, sizeof(path), "%s/out.log", sub);
	snprintf(log, sizeof(log), "--log=%s", path);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, NULL }, NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0,
		(const char *[]){ "--stats", "connect", "write:100", "drained", "wait", "write:50",
				  NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	/* The collector has dropped all hundred (however long a loaded
	 * machine took), and said why before it took the last. */
	ck_assert_int_eq(ck_host_expect(&h, "drained "), 0);
	/* Said once, naming the destination and the reason. */
	const char *err = ck_stderr(&c);
	ck_assert_int_eq(ck_lines(err, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "trace "));
	ck_assert_ptr_nonnull(strstr(err, "accept4shim-collector: trace "));
	ck_assert_ptr_nonnull(strstr(err, "/later/out.log: cannot open: no such file or directory "
					  "(ENOENT); records are dropped and counted\n"));
	/* The destination works again: within a second or two the losses
	 * are there, in an interval summary, while the host still runs. */
	T_CHECK(mkdir(sub, 0700) == 0);
	wait_lines(path, "summary=interval", 1);
	char *early = ck_read(path, NULL);
	ck_assert_int_eq(ck_field(early, "summary=interval", " calls="), 100);
	ck_assert_int_eq(ck_field(early, "summary=interval", " dropped="), 100);
	free(early);
	ck_host_go(&h);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	wait_lines(path, "summary=exit", 1);
	ck_assert_int_eq(ck_stop(&c), 0);
	char *got = ck_read(path, NULL);
	ck_assert_int_eq(ck_lines(got, "call="), 50);
	ck_assert_int_eq(ck_field(got, "summary=exit", " calls="), 150);
	ck_assert_int_eq(ck_field(got, "summary=exit", " dropped="), 100);
	ck_assert_int_eq(ck_lines(ck_stderr(&c), NULL), 1);
	free(got);
	ck_cleanup(&c);
}
END_TEST

/* The file rules: no symbolic link anywhere in the path, only a file of
 * ours with one link; each refusal said, nothing written through it, and
 * the host's summary (nowhere else to go) on the collector's stderr. */
static void refused(const char *setup, const char *reason)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char real[1024], other[1024], path[1024], log[1100];
	snprintf(real, sizeof(real), "%s/real", c.dir);
	T_CHECK(mkdir(real, 0700) == 0);
	snprintf(path, sizeof(path), "%s/real/out.log", c.dir);
	if (strcmp(setup, "symlinked directory") == 0) {
		snprintf(other, sizeof(other), "%s/link", c.dir);
		T_CHECK(symlink(real, other) == 0);
		snprintf(path, sizeof(path), "%s/link/out.log", c.dir);
	} else if (strcmp(setup, "symlinked file") == 0) {
		snprintf(other, sizeof(other), "%s/real/target", c.dir);
		close(open(other, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
		T_CHECK(symlink(other, path) == 0);
	} else if (strcmp(setup, "another user's file") == 0) {
		close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666));
		T_CHECK(chown(path, NOBODY, NOBODY) == 0);
	} else if (strcmp(setup, "hard link") == 0) {
		close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
		snprintf(other, sizeof(other), "%s/real/other", c.dir);
		T_CHECK(link(path, other) == 0);
	} else if (strcmp(setup, "directory") == 0) {
		T_CHECK(mkdir(path, 0700) == 0);
	}
	snprintf(log, sizeof(log), "--log=%s", path);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, NULL }, NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0, (const char *[]){ "--stats", "connect", "write:20", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	while (!strstr(ck_stderr(&c), "summary=exit"))
		usleep(10000);
	ck_assert_int_eq(ck_stop(&c), 0);
	const char *err = ck_stderr(&c);
	ck_assert_msg(strstr(err, reason), "%s: stderr says: %s", setup, err);
	ck_assert_int_eq(ck_lines(err, "; records are dropped and counted"), 1);
	ck_assert_int_eq(ck_field(err, "summary=exit", "dropped="), 20);
	/* Nothing went through. */
	struct stat st;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		ck_assert_int_eq(st.st_size, 0);
	char target[1024];
	snprintf(target, sizeof(target), "%s/real/target", c.dir);
	if (stat(target, &st) == 0)
		ck_assert_int_eq(st.st_size, 0);
	ck_cleanup(&c);
}

START_TEST(unsafe_files_are_refused)
{
	/* In the library's words (complain.c): the collector opens a trace
	 * file with the library's own a4s_safe_open. */
	refused("symlinked directory", "cannot open: a symbolic link is in the path (ELOOP)");
	refused("symlinked file", "cannot open: a symbolic link is in the path (ELOOP)");
	refused("another user's file", "refused: owned by uid 65534, not by the effective uid 0");
	refused("hard link", "refused: the file has 2 links, not 1");
	refused("directory", "cannot open: it is a directory (EISDIR)");
}
END_TEST

/* A full disk: the records that do not fit are dropped and counted, the
 * file keeps whole lines (a record the disk cut is a line of its own), and
 * the summary, which the full file cannot take either, goes to stderr. */
static void full_disk_child(void *arg)
{
	(void)arg;
	ck_private_mounts();
	struct ck_collector c;
	ck_dir(&c, 0);
	char disk[512], path[1024], log[1100];
	snprintf(disk, sizeof(disk), "%s/disk", c.dir);
	T_CHECK(mkdir(disk, 0700) == 0);
	T_CHECK(mount("a4s-full", disk, "tmpfs", 0, "size=64k") == 0);
	snprintf(path, sizeof(path), "%s/out.log", disk);
	snprintf(log, sizeof(log), "--log=%s", path);
	T_ASSERT(ck_start(&c, 0, (const char *[]){ log, NULL }, NULL), "collector");
	struct ck_host h;
	ck_host(&h, c.sock, 0, (const char *[]){ "--seed=2", "connect", "write:3000", NULL });
	T_ASSERT(ck_host_expect(&h, "reply ") == 0, "attached");
	T_ASSERT(ck_host_wait(&h) == 0, "host");
	while (!strstr(ck_stderr(&c), "summary=exit"))
		usleep(10000);
	T_ASSERT(ck_stop(&c) == 0, "collector exit");
	char *got = ck_read(path, NULL);
	long whole = ck_lines(got, " dur_ns=");
	const char *err = ck_stderr(&c);
	T_ASSERT(strstr(err, "cannot write: no space left on device (ENOSPC); records are dropped "
			    "and counted"),
		 "%s", err);
	long dropped = ck_field(err, "summary=exit", "dropped=");
	T_ASSERT(whole > 0 && dropped > 0 && whole + dropped == 3000,
		 "%ld records in the file, %ld dropped", whole, dropped);
	/* Every line is a whole record but perhaps one, cut by the disk. */
	T_ASSERT(ck_lines(got, NULL) - whole <= 1, "lines that are not records");
	free(got);
	umount(disk);
	ck_cleanup(&c);
}

START_TEST(full_disk_drops_and_counts_and_keeps_lines_whole)
{
	T_IN_CHILD(full_disk_child, NULL);
}
END_TEST

static Suite *dest_suite(void)
{
	Suite *s = suite_create("collector destinations");
	TCase *t = tcase_create("destinations");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, journald_entries_carry_the_fields_and_journalctl_finds_them);
	tcase_add_test(t, syslog_gets_one_framed_datagram_per_record);
	tcase_add_test(t, stderr_gets_the_records);
	tcase_add_test(t, renamed_or_removed_file_is_followed_within_a_second);
	tcase_add_test(t, failing_destination_is_said_once_and_its_losses_are_summed_up);
	tcase_add_test(t, unsafe_files_are_refused);
	tcase_add_test(t, full_disk_drops_and_counts_and_keeps_lines_whole);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_collector_dest: needs root (mount namespaces; CI runs as root)\n");
		return 1;
	}
	return t_run_suite(dest_suite());
}
