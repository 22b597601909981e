/*
 * SPEC, trace records: "The trace's file descriptor is ... kept away from
 * the program's own descriptors: if the program closes it or reuses its
 * number, the library notices and never writes into a file that is not
 * its trace."
 *
 * The library checks its descriptor's identity (device and inode) before
 * every record. It asks statx for the type and inode only: an fstat would
 * also read the file's change time, and on file systems with fine-grained
 * timestamps that makes the next write update the inode, so every record
 * cost an inode update (see scripts/bench). These cases prove the check
 * still holds with statx, with fstat where statx is refused, and across a
 * switch from one to the other; and that a record costs one statx and no
 * fstat. Every case runs in a child (seccomp filters stay for good), with
 * ACCEPT4SHIM_LOG=/tmp/a4s-tracefd-%p.log, so each child has its own file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

struct files {
	char trace[64];
	char data[64];
};

static void name_files(struct files *f)
{
	snprintf(f->trace, sizeof(f->trace), "/tmp/a4s-tracefd-%d.log", (int)getpid());
	snprintf(f->data, sizeof(f->data), "/tmp/a4s-tracefd-data-%d", (int)getpid());
	unlink(f->trace);
	unlink(f->data);
}

static void remove_files(const struct files *f)
{
	unlink(f->trace);
	unlink(f->data);
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	T_CHECK(f != NULL);
	int lines = 0, c;
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	return lines;
}

static void accept_one(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	T_CHECK(fd >= 0);
	close(fd);
}

/* The program closes the trace's number and gets it back for a data file
 * of its own: the next record must go to the trace, never to the data. */
static void reuse_after(bool refuse_statx_first, bool refuse_statx_later)
{
	struct files f;
	name_files(&f);
	if (refuse_statx_first)
		t_seccomp_fail_syscall(SYS_statx, ENOSYS);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 3);

	accept_one(l.fd);
	int tfd = t_fd_on(f.trace);
	T_ASSERT(tfd >= 0, "no descriptor open on %s", f.trace);
	T_ASSERT(count_lines(f.trace) == 1, "one record after one accept");
	if (refuse_statx_later)
		t_seccomp_fail_syscall(SYS_statx, EPERM);

	/* Still ours: the same descriptor takes the second record, whichever
	 * call checked it (statx stored the identity, fstat may compare). */
	int fds = t_count_fds();
	accept_one(l.fd);
	T_ASSERT(t_fd_on(f.trace) == tfd, "the trace moved from fd %d without cause", tfd);
	T_ASSERT(t_count_fds() == fds, "a descriptor leaked: %d then %d", fds, t_count_fds());
	T_ASSERT(count_lines(f.trace) == 2, "two records after two accepts");

	int data = open(f.data, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	T_CHECK(data >= 0);
	T_CHECK(dup2(data, tfd) == tfd);
	close(data);

	accept_one(l.fd);
	struct stat st;
	T_CHECK(fstat(tfd, &st) == 0);
	T_ASSERT(st.st_size == 0, "the library wrote %lld bytes into the program's file",
		 (long long)st.st_size);
	T_ASSERT(count_lines(f.trace) == 3, "the third record is not in the trace");
	int now = t_fd_on(f.trace);
	T_ASSERT(now >= 0 && now != tfd, "the trace was not reopened on a number of its own");

	close(tfd);
	t_clients_done(client);
	t_close_listener(&l);
	remove_files(&f);
}

static void reuse_with_statx(void *arg)
{
	(void)arg;
	reuse_after(false, false);
}

static void reuse_with_fstat(void *arg)
{
	(void)arg;
	reuse_after(true, false);
}

static void reuse_across_switch(void *arg)
{
	(void)arg;
	reuse_after(false, true);
}

START_TEST(a_reused_trace_number_is_never_written_checked_by_statx)
{
	T_IN_CHILD(reuse_with_statx, NULL);
}
END_TEST

START_TEST(a_reused_trace_number_is_never_written_where_statx_is_refused)
{
	T_IN_CHILD(reuse_with_fstat, NULL);
}
END_TEST

START_TEST(the_identity_statx_stored_matches_what_fstat_reads_later)
{
	T_IN_CHILD(reuse_across_switch, NULL);
}
END_TEST

/* One identity check per record, by statx, and no fstat: an fstat would
 * read the trace file's timestamps and make every write update its inode.
 * Counted between two of the library's once-a-second looks at the
 * destination (a statx of the path and a prlimit64, see
 * tests/trace/test_trace_rotation.c): a round that met one (a prlimit64
 * was made) is done again. */
static void count_checks(void *arg)
{
	(void)arg;
	struct files f;
	name_files(&f);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);
	accept_one(l.fd); /* opens the trace */
	t_clients_done(client);

	/* The counter's helper process is forked here; clients forked before
	 * it would wait for it to let go of their pipe. */
	static const long nrs[] = { SYS_statx, SYS_fstat, SYS_newfstatat, SYS_prlimit64 };
	t_count_syscalls(nrs, 4);
	int records = 1;
	for (int round = 0;; round++) {
		T_ASSERT(round < 5, "five records never fell between two looks");
		client = t_clients(&l, 6);
		/* The forked client is counted too (the library checks its
		 * trace in the child of a fork); it is done with that once its
		 * connections are queued, so only our own calls are counted
		 * from here. A second later the library's look is due: the
		 * first accept makes it. */
		usleep(1100 * 1000);
		accept_one(l.fd);
		long statx = -t_syscalls_counted(SYS_statx);
		long fstat = -t_syscalls_counted(SYS_fstat);
		long fstatat = -t_syscalls_counted(SYS_newfstatat);
		long looks = -t_syscalls_counted(SYS_prlimit64);
		for (int i = 0; i < 5; i++)
			accept_one(l.fd);
		/* Read before anything of ours that could stat (stdio does). */
		statx += t_syscalls_counted(SYS_statx);
		fstat += t_syscalls_counted(SYS_fstat);
		fstatat += t_syscalls_counted(SYS_newfstatat);
		looks += t_syscalls_counted(SYS_prlimit64);
		records += 6;
		t_clients_done(client);
		if (looks)
			continue;
		T_ASSERT(count_lines(f.trace) == records, "%d records after %d accepts",
			 count_lines(f.trace), records);
		T_ASSERT(statx == 5, "%ld statx for 5 records", statx);
		T_ASSERT(fstat == 0, "%ld fstat for 5 records", fstat);
		T_ASSERT(fstatat == 0, "%ld newfstatat for 5 records", fstatat);
		break;
	}
	t_close_listener(&l);
	remove_files(&f);
}

START_TEST(each_record_checks_the_trace_with_one_statx_and_no_fstat)
{
	T_IN_CHILD(count_checks, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tracefd");
	TCase *tc = tcase_create("identity");
	tcase_add_test(tc, a_reused_trace_number_is_never_written_checked_by_statx);
	tcase_add_test(tc, a_reused_trace_number_is_never_written_where_statx_is_refused);
	tcase_add_test(tc, the_identity_statx_stored_matches_what_fstat_reads_later);
	tcase_add_test(tc, each_record_checks_the_trace_with_one_statx_and_no_fstat);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
