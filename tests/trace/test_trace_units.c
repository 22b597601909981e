/*
 * The destination layer's pure and near-pure pieces, linked in (no
 * preload): each failure's stderr line exactly as docs/tracing.md prints
 * it; /dev/stderr and its aliases parsed as stderr; the safe open's
 * refusals on files made here; a descriptor placed above the soft limit
 * and the limit put back; a raise that another thread changed meanwhile
 * left as that thread set it.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#include "complain.h"
#include "config.h"
#include "fdplace.h"
#include "safeopen.h"

static void expect_line(const struct a4s_cause *why, const char *want)
{
	char line[A4S_COMPLAINT_LINE_MAX];
	size_t n = a4s_format_complaint("/var/log/a4s/trace.json", why, line, sizeof(line));
	ck_assert_uint_gt(n, 0);
	line[n] = '\0';
	ck_assert_str_eq(line, want);
}

#define PREFIX "accept4shim: trace /var/log/a4s/trace.json: "
#define DROPPED "; records are dropped and counted\n"

START_TEST(each_cause_is_said_in_one_documented_line)
{
	expect_line(&(struct a4s_cause){ A4S_CAUSE_OPEN, EACCES, 0 },
		    PREFIX "cannot open: permission denied (EACCES)" DROPPED);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_OPEN, ENOENT, 0 },
		    PREFIX "cannot open: no such file or directory (ENOENT)" DROPPED);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_OPEN, ELOOP, 0 },
		    PREFIX "cannot open: a symbolic link is in the path (ELOOP)" DROPPED);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_OPEN, ENXIO, 0 },
		    PREFIX "cannot open: no reader on the FIFO (ENXIO)" DROPPED);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_OPEN, EMFILE, 0 },
		    PREFIX "cannot open: too many open files in this process (EMFILE); records "
			   "wait for a free descriptor (4 KiB of them at most), the rest are "
			   "dropped and counted\n");
	expect_line(&(struct a4s_cause){ A4S_CAUSE_OPEN, EXDEV, 0 },
		    PREFIX "cannot open: EXDEV" DROPPED);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_WRITE, ENOSPC, 0 },
		    PREFIX "cannot write: no space left on device (ENOSPC)" DROPPED);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_WRITE, EAGAIN, 0 },
		    PREFIX "cannot write: the reader does not keep up (EAGAIN)" DROPPED);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_WRITE, EPIPE, 0 },
		    PREFIX "cannot write: the reader is gone (EPIPE)" DROPPED);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_TYPE, 0, S_IFBLK },
		    PREFIX "refused: not a regular file, FIFO or character device" DROPPED);
	char owner[256];
	snprintf(owner, sizeof(owner),
		 PREFIX "refused: owned by uid 65534, not by the effective uid %u" DROPPED,
		 (unsigned)geteuid());
	expect_line(&(struct a4s_cause){ A4S_CAUSE_OWNER, 0, 65534 }, owner);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_LINKS, 0, 2 },
		    PREFIX "refused: the file has 2 links, not 1" DROPPED);
	expect_line(&(struct a4s_cause){ A4S_CAUSE_FSIZE, EFBIG, 0 },
		    PREFIX "the file size limit (RLIMIT_FSIZE) is reached" DROPPED);
}
END_TEST

START_TEST(a_path_in_a_complaint_stays_one_line_and_is_cut)
{
	char line[A4S_COMPLAINT_LINE_MAX];
	struct a4s_cause why = { A4S_CAUSE_OPEN, ENOENT, 0 };
	size_t n = a4s_format_complaint("/tmp/a\nb c", &why, line, sizeof(line));
	line[n] = '\0';
	ck_assert_str_eq(line, "accept4shim: trace /tmp/a\\x0ab\\x20c: cannot open: no such file "
			       "or directory (ENOENT)" DROPPED);
	char longest[PATH_MAX];
	memset(longest, 'x', sizeof(longest) - 1);
	longest[0] = '/';
	longest[sizeof(longest) - 1] = '\0';
	n = a4s_format_complaint(longest, &why, line, sizeof(line));
	ck_assert_uint_gt(n, 200);
	ck_assert_ptr_eq(memchr(line, '\n', n), line + n - 1);
	ck_assert_ptr_nonnull(strstr(line, "xxx...: cannot open"));
}
END_TEST

START_TEST(dev_stderr_dev_fd_2_and_proc_self_fd_2_parse_as_stderr)
{
	static const char *const names[] = { "stderr", "/dev/stderr", "/dev/fd/2",
					     "/proc/self/fd/2" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		enum a4s_log_kind k = A4S_LOG_NONE;
		const char *path = NULL;
		ck_assert(a4s_parse_log(names[i], &k, &path));
		ck_assert_int_eq(k, A4S_LOG_STDERR);
		ck_assert_ptr_null(path);
	}
	/* Other spellings stay paths, refused when opened (links). */
	enum a4s_log_kind k;
	const char *path = NULL;
	ck_assert(a4s_parse_log("/dev/stdout", &k, &path));
	ck_assert_int_eq(k, A4S_LOG_FILE);
	ck_assert(a4s_parse_log("/proc/self/fd/2/", &k, &path));
	ck_assert_int_eq(k, A4S_LOG_FILE);
}
END_TEST

/* ---- the safe open, on files made here ---- */

static void temp(char dir[64])
{
	snprintf(dir, 64, "/tmp/a4s-units-XXXXXX");
	T_CHECK(mkdtemp(dir) != NULL);
}

START_TEST(the_safe_open_makes_a_new_file_0600_and_refuses_what_it_must)
{
	umask(0);
	char dir[64], path[128], other[128], fifo[128], lnk[128];
	temp(dir);
	snprintf(path, sizeof(path), "%s/new", dir);
	struct a4s_ident id;
	struct a4s_cause why = { A4S_CAUSE_NONE, 0, 0 };
	int fd = a4s_safe_open(path, &id, &why);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	T_CHECK(fstat(fd, &st) == 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & (O_APPEND | O_NONBLOCK | O_ACCMODE),
			 O_APPEND | O_NONBLOCK | O_WRONLY);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(id.dev == st.st_dev && id.ino == st.st_ino && id.type == S_IFREG);
	close(fd);

	/* a second link: refused, with the count */
	snprintf(other, sizeof(other), "%s/other", dir);
	T_CHECK(link(path, other) == 0);
	ck_assert_int_lt(a4s_safe_open(path, &id, &why), 0);
	ck_assert_int_eq(why.kind, A4S_CAUSE_LINKS);
	ck_assert_uint_eq(why.n, 2);
	T_CHECK(unlink(other) == 0);

	/* another owner: refused, with the uid */
	T_CHECK(chown(path, 65534, 65534) == 0);
	ck_assert_int_lt(a4s_safe_open(path, &id, &why), 0);
	ck_assert_int_eq(why.kind, A4S_CAUSE_OWNER);
	ck_assert_uint_eq(why.n, 65534);
	T_CHECK(unlink(path) == 0);

	/* a FIFO with a reader: used */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	T_CHECK(mkfifo(fifo, 0600) == 0);
	int rd = open(fifo, O_RDONLY | O_NONBLOCK);
	T_CHECK(rd >= 0);
	fd = a4s_safe_open(fifo, &id, &why);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(id.type, S_IFIFO);
	close(fd);
	close(rd);
	/* without: ENXIO */
	ck_assert_int_eq(a4s_safe_open(fifo, &id, &why), -ENXIO);
	ck_assert_int_eq(why.kind, A4S_CAUSE_OPEN);
	T_CHECK(unlink(fifo) == 0);

	/* a link as the last component, and a directory given as a file */
	snprintf(lnk, sizeof(lnk), "%s/link", dir);
	T_CHECK(symlink("/dev/null", lnk) == 0);
	ck_assert_int_eq(a4s_safe_open(lnk, &id, &why), -ELOOP);
	T_CHECK(unlink(lnk) == 0);
	ck_assert_int_eq(a4s_safe_open(dir, &id, &why), -EISDIR);
	char slash[80];
	snprintf(slash, sizeof(slash), "%s/", dir);
	ck_assert_int_lt(a4s_safe_open(slash, &id, &why), 0);
	T_CHECK(rmdir(dir) == 0);
}
END_TEST

/* ---- the descriptor's place, and the limit around it ---- */

static void place_child(void *arg)
{
	(void)arg;
	struct rlimit was;
	T_CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0);
	struct rlimit soft = { 100, was.rlim_max };
	T_CHECK(setrlimit(RLIMIT_NOFILE, &soft) == 0);
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	T_CHECK(fd >= 0);
	int placed = a4s_fd_place(fd);
	T_ASSERT(placed >= 100, "placed at %d under a soft limit of 100", placed);
	T_ASSERT(fcntl(fd, F_GETFD) < 0, "the original was not closed");
	T_ASSERT(fcntl(placed, F_GETFD) == FD_CLOEXEC, "not close-on-exec");
	struct rlimit now;
	T_CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
	T_ASSERT(now.rlim_cur == 100 && now.rlim_max == was.rlim_max, "limit left at %llu/%llu",
		 (unsigned long long)now.rlim_cur, (unsigned long long)now.rlim_max);
	/* a new file put at that number, over the limit, by dup3 */
	int other = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	T_CHECK(other >= 0);
	T_ASSERT(a4s_fd_replace(other, placed) == 0, "replace failed");
	char link[64], target[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", placed);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	T_ASSERT(n > 0 && (target[n] = '\0', strcmp(target, "/dev/zero") == 0),
		 "after replace: %s", target);
	T_ASSERT(fcntl(other, F_GETFD) < 0, "the replacement's own number was not closed");
	T_CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
	T_ASSERT(now.rlim_cur == 100, "limit left at %llu", (unsigned long long)now.rlim_cur);

	/* soft == hard: below, 64 under the limit */
	struct rlimit same = { 200, 200 };
	T_CHECK(setrlimit(RLIMIT_NOFILE, &same) == 0);
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	placed = a4s_fd_place(fd);
	T_ASSERT(placed == 136, "placed at %d, want 136 (200 - 64)", placed);
}

START_TEST(a_descriptor_is_placed_above_the_soft_limit_and_the_limit_put_back)
{
	T_IN_CHILD(place_child, NULL);
}
END_TEST

static void raise_child(void *arg)
{
	(void)arg;
	struct rlimit was;
	T_CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0);
	struct rlimit soft = { 100, was.rlim_max };
	T_CHECK(setrlimit(RLIMIT_NOFILE, &soft) == 0);
	struct a4s_nofile_raise r;
	T_ASSERT(a4s_nofile_raise(&r, 104) && r.active, "raise");
	struct rlimit now;
	T_CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
	T_ASSERT(now.rlim_cur == 104, "raised to %llu", (unsigned long long)now.rlim_cur);
	/* the program sets a limit of its own meanwhile: it stays */
	struct rlimit mine = { 500, was.rlim_max };
	T_CHECK(setrlimit(RLIMIT_NOFILE, &mine) == 0);
	a4s_nofile_restore(&r);
	T_CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
	T_ASSERT(now.rlim_cur == 500, "the program's 500 became %llu",
		 (unsigned long long)now.rlim_cur);
	/* raised as far as the hard limit lets */
	struct rlimit tight = { 100, 102 };
	T_CHECK(setrlimit(RLIMIT_NOFILE, &tight) == 0);
	T_ASSERT(a4s_nofile_raise(&r, 104) && r.active, "raise to the hard limit");
	T_CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
	T_ASSERT(now.rlim_cur == 102, "raised to %llu", (unsigned long long)now.rlim_cur);
	a4s_nofile_restore(&r);
	T_CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
	T_ASSERT(now.rlim_cur == 100, "put back to %llu", (unsigned long long)now.rlim_cur);
}

START_TEST(a_limit_the_program_set_during_a_raise_is_kept)
{
	T_IN_CHILD(raise_child, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trace_units");
	TCase *tc = tcase_create("units");
	tcase_add_test(tc, each_cause_is_said_in_one_documented_line);
	tcase_add_test(tc, a_path_in_a_complaint_stays_one_line_and_is_cut);
	tcase_add_test(tc, dev_stderr_dev_fd_2_and_proc_self_fd_2_parse_as_stderr);
	tcase_add_test(tc, the_safe_open_makes_a_new_file_0600_and_refuses_what_it_must);
	suite_add_tcase(s, tc);
	/* valgrind keeps RLIMIT_NOFILE for itself: not under memcheck. */
	tc = tcase_create("limits");
	tcase_set_tags(tc, "rlimit");
	tcase_add_test(tc, a_descriptor_is_placed_above_the_soft_limit_and_the_limit_put_back);
	tcase_add_test(tc, a_limit_the_program_set_during_a_raise_is_kept);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
