/*
 * accept4shim-collector end to end (SPEC, "The collector"; issue 14), with
 * test hosts that write through the library's own ring and link code:
 * records byte for byte as a4s_format_record writes them, nothing lost that
 * a host finished writing even when it is SIGKILLed, a stopped collector
 * that never blocks a host, a collector restarted and found again, other
 * users refused, hostile hellos refused while good hosts go on, and a
 * socket nobody else can put or take.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckit.h"
#include "ring.h"
#include "ringlink.h"

#define NOBODY 65534
#define OTHER 65533 /* a second non-root user (no name needed) */

static char *expect_of(const struct ck_collector *c, const char *name)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	char *buf = ck_read(path, NULL);
	ck_assert_msg(buf != NULL, "no %s", path);
	return buf;
}

static void byte_for_byte(const char *format)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[400], expect[400], fmt[64];
	snprintf(log, sizeof(log), "--log=%s/out.log", c.dir);
	snprintf(fmt, sizeof(fmt), "--log-format=%s", format);
	snprintf(expect, sizeof(expect), "--expect=%s/expect", c.dir);
	char hfmt[64];
	snprintf(hfmt, sizeof(hfmt), "--format=%s", format);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, fmt, NULL }, NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0,
		(const char *[]){ "--slots=4096", expect, hfmt, "--seed=7", "connect", "write:3000",
				  "report", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_host_expect(&h, "written 3000 appended 3000 dropped 0");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	char *want = expect_of(&c, "expect"), *got = expect_of(&c, "out.log");
	ck_assert_int_eq(ck_lines(want, NULL), 3000);
	/* The same bytes, in the same order, and nothing else: no summary
	 * when the host asked for none and lost nothing. */
	ck_same(got, want);
	ck_assert_str_eq(ck_stderr(&c), "");
	free(want);
	free(got);
	ck_cleanup(&c);
}

START_TEST(records_are_byte_for_byte_the_library_text_records)
{
	byte_for_byte("text");
}
END_TEST

START_TEST(records_are_byte_for_byte_the_library_json_records)
{
	byte_for_byte("json");
}
END_TEST

/* "%p becomes the process id": each traced process its own file. */
START_TEST(each_host_writes_its_own_file_with_percent_p)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[400];
	snprintf(log, sizeof(log), "--log=%s/out-%%p.log", c.dir);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, "--log-format=json", NULL }, NULL));
	struct ck_host h[3];
	char expect[3][400], seed[3][32];
	for (int i = 0; i < 3; i++) {
		snprintf(expect[i], sizeof(expect[i]), "--expect=%s/expect-%d", c.dir, i);
		snprintf(seed[i], sizeof(seed[i]), "--seed=%d", 100 + i);
		ck_host(&h[i], c.sock, 0,
			(const char *[]){ expect[i], seed[i], "--format=json", "connect", "write:700",
					  NULL });
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ck_host_expect(&h[i], "reply "), 0);
		pid_t pid = h[i].pid;
		ck_assert_int_eq(ck_host_wait(&h[i]), 0);
		char name[64], ename[64];
		snprintf(name, sizeof(name), "out-%d.log", (int)pid);
		snprintf(ename, sizeof(ename), "expect-%d", i);
		/* Written when the host has gone: wait for the collector to see
		 * it (it drains every few milliseconds; under valgrind on a
		 * loaded machine, seconds: the case's timeout is the deadline). */
		char path[400];
		snprintf(path, sizeof(path), "%s/%s", c.dir, name);
		char *want = expect_of(&c, ename), *got = NULL;
		for (;;) {
			free(got);
			got = ck_read(path, NULL);
			if (got && strlen(got) >= strlen(want))
				break;
			usleep(10000);
		}
		ck_assert_msg(got != NULL, "no %s", path);
		ck_same(got, want);
		free(want);
		free(got);
	}
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

/* Issue 14: "A host killed by SIGKILL loses no record it finished
 * writing": the collector holds its own mapping of the ring. */
START_TEST(host_sigkilled_after_n_records_loses_none)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[400], expect[400];
	snprintf(log, sizeof(log), "--log=%s/out.log", c.dir);
	snprintf(expect, sizeof(expect), "--expect=%s/expect", c.dir);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, NULL }, NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0,
		(const char *[]){ "--slots=8192", expect, "--seed=3", "connect", "write:8000", "kill",
				  NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_assert_int_eq(ck_host_wait(&h), 128 + SIGKILL);
	ck_assert_int_eq(ck_stop(&c), 0);
	char *want = expect_of(&c, "expect"), *got = expect_of(&c, "out.log");
	ck_assert_int_eq(ck_lines(want, NULL), 8000);
	ck_same(got, want);
	free(want);
	free(got);
	ck_cleanup(&c);
}
END_TEST

static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

/* Issue 14: "a stalled collector (SIGSTOP) ... host never blocks, records
 * + dropped = calls". The host writes 200,000 records while the collector
 * is stopped, and is done while it is still stopped: it never waited for
 * it. What the ring held comes out after SIGCONT; the rest is counted, by
 * the host and in its exit summary. */
START_TEST(stopped_collector_never_blocks_a_host_and_every_record_is_counted)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[400];
	snprintf(log, sizeof(log), "--log=%s/out.log", c.dir);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, "--log-format=json", NULL }, NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0,
		(const char *[]){ "--slots=1024", "--stats", "connect", "wait", "flat:200000", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	T_CHECK(kill(c.pid, SIGSTOP) == 0);
	while (proc_state(c.pid) != 'T')
		usleep(1000);
	ck_host_go(&h);
	char line[256];
	ck_assert(ck_host_line(&h, line, sizeof(line), 60000));
	unsigned long long n, appended, dropped;
	ck_assert_int_eq(sscanf(line, "flat written %llu appended %llu dropped %llu", &n, &appended,
				&dropped), 3);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	/* Done, and the collector still stopped. */
	ck_assert_int_eq(proc_state(c.pid), 'T');
	ck_assert_uint_eq(n, 200000);
	ck_assert_uint_eq(appended + dropped, n);
	ck_assert_uint_gt(dropped, 0);
	T_CHECK(kill(c.pid, SIGCONT) == 0);
	/* The host is gone: the collector drains its ring and sums it up. */
	char path[400];
	snprintf(path, sizeof(path), "%s/out.log", c.dir);
	char *got = NULL;
	while (!(got && strstr(got, "\"summary\""))) {
		free(got);
		usleep(10000);
		got = ck_read(path, NULL);
	}
	ck_assert_int_eq(ck_stop(&c), 0);
	free(got);
	got = expect_of(&c, "out.log");
	long records = ck_lines(got, "\"call\"");
	ck_assert_int_eq(records, (long)appended);
	ck_assert_int_eq(ck_field(got, "\"summary\"", "\"dropped\":"), (long)dropped);
	ck_assert_int_eq(ck_field(got, "\"summary\"", "\"calls\":"), 200000);
	ck_assert_int_eq(records + ck_field(got, "\"summary\"", "\"dropped\":"), 200000);
	free(got);
	ck_cleanup(&c);
}
END_TEST

/* "Dropped counts reach the output as summary records when the collector
 * catches up": a host that lost records while the collector was stopped,
 * and is still running, gets an interval summary saying so as soon as the
 * collector has emptied its ring -- not only when it exits. */
START_TEST(losses_reach_the_output_in_a_summary_when_the_collector_catches_up)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[512], path[400];
	snprintf(path, sizeof(path), "%s/out.log", c.dir);
	snprintf(log, sizeof(log), "--log=%s", path);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, "--log-format=json", NULL }, NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0,
		(const char *[]){ "--slots=256", "connect", "wait", "flat:5000", "wait", "flat:10",
				  NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	T_CHECK(kill(c.pid, SIGSTOP) == 0);
	while (proc_state(c.pid) != 'T')
		usleep(1000);
	ck_host_go(&h);
	ck_host_expect(&h, "flat written 5000 appended 256 dropped 4744");
	T_CHECK(kill(c.pid, SIGCONT) == 0);
	char *got = NULL;
	while (!(got && strstr(got, "\"interval\""))) {
		free(got);
		usleep(10000);
		got = ck_read(path, NULL);
	}
	ck_assert_msg(got && strstr(got, "\"summary\":\"interval\""), "no interval summary");
	ck_assert_int_eq(ck_lines(got, "\"call\""), 256);
	ck_assert_int_eq(ck_field(got, "\"interval\"", "\"calls\":"), 5000);
	ck_assert_int_eq(ck_field(got, "\"interval\"", "\"dropped\":"), 4744);
	ck_assert_int_eq(ck_field(got, "\"interval\"", "\"total_dropped\":"), 4744);
	free(got);
	/* The host goes on and exits: its exit summary has it all. */
	ck_host_go(&h);
	ck_host_expect(&h, "flat written 10 appended 10 dropped 0");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	got = ck_read(path, NULL);
	ck_assert_int_eq(ck_lines(got, "\"call\""), 266);
	ck_assert_int_eq(ck_lines(got, "\"summary\":\"interval\""), 1);
	ck_assert_int_eq(ck_field(got, "\"summary\":\"exit\"", "\"calls\":"), 5010);
	ck_assert_int_eq(ck_field(got, "\"summary\":\"exit\"", "\"dropped\":"), 4744);
	free(got);
	ck_cleanup(&c);
}
END_TEST

/* --stats-interval=N, as ACCEPT4SHIM_STATS_INTERVAL: a summary every N
 * seconds for a host that made calls meanwhile (the interval's counts and
 * the totals), none for one that made none, and the exit summary. */
START_TEST(stats_interval_gives_interval_summaries_per_host)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[512], path[400];
	snprintf(path, sizeof(path), "%s/out.log", c.dir);
	snprintf(log, sizeof(log), "--log=%s", path);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, "--stats-interval=1", NULL }, NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0,
		(const char *[]){ "--stats", "connect", "flat:100", "wait", "flat:30", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_host_expect(&h, "flat written 100");
	/* Two seconds and more: one summary for the first hundred, then
	 * quiet (no calls, no summary). */
	usleep(2500 * 1000);
	ck_host_go(&h);
	ck_host_expect(&h, "flat written 30");
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	char *got = ck_read(path, NULL);
	/* Summaries for the seconds with calls, none for the quiet ones:
	 * each says calls > 0, and they add up to their totals. Where the
	 * seconds fall is a matter of scheduling: normally one for the first
	 * hundred, but a second may end while the collector takes them, or
	 * between its taking the last thirty and seeing the host gone. */
	long intervals = 0, sum = 0;
	for (char *line = strstr(got, "summary=interval"); line;
	     line = strstr(line + 1, "summary=interval")) {
		char *end = strchr(line, '\n');
		ck_assert_ptr_nonnull(end);
		*end = '\0';
		long calls = ck_field(line, "summary=interval", " calls=");
		ck_assert_msg(calls > 0, "an interval summary without calls: %s", line);
		sum += calls;
		ck_assert_int_eq(ck_field(line, "summary=interval", "total_calls="), sum);
		ck_assert_int_gt(ck_field(line, "summary=interval", "interval_ns="), 0);
		*end = '\n';
		intervals++;
	}
	ck_assert_int_ge(intervals, 1);
	/* The hundred were summed up in the seconds the host waited. */
	ck_assert_msg(sum >= 100 && sum <= 130, "interval summaries sum up %ld calls", sum);
	ck_assert_int_eq(ck_field(got, "summary=exit", " calls="), 130);
	free(got);
	ck_cleanup(&c);
}
END_TEST

/* A host writes, its collector is stopped with sig (SIGTERM: it writes and
 * gives back all it took; SIGKILL: its socket stays behind, stale), the
 * host writes on into its ring, a new collector starts on the same path and
 * socket, the host finds it (looking once a second, as the library will)
 * and hands the same ring over; the new one goes on from where the last
 * one stopped. Returns what came out, and the records written, in *want. */
static char *restart(int sig, char **want)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[400], expect[400];
	snprintf(log, sizeof(log), "--log=%s/out.log", c.dir);
	snprintf(expect, sizeof(expect), "--expect=%s/expect", c.dir);
	const char *args[] = { log, NULL };
	ck_assert(ck_start(&c, 0, args, NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0,
		(const char *[]){ expect, "--seed=11", "connect", "write:2000", "wait", "write:500",
				  "reconnect", "write:500", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	if (sig == SIGTERM) {
		ck_assert_int_eq(ck_stop(&c), 0);
	} else {
		T_CHECK(kill(c.pid, sig) == 0);
		T_CHECK(waitpid(c.pid, NULL, 0) == c.pid);
		c.pid = 0;
	}
	/* No collector: the host goes on writing into its ring. */
	ck_host_go(&h);
	ck_assert(ck_start(&c, 0, args, NULL));
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	*want = expect_of(&c, "expect");
	char *got = expect_of(&c, "out.log");
	ck_assert_int_eq(ck_lines(*want, NULL), 3000);
	ck_cleanup(&c);
	return got;
}

/* Issue 14: "A collector that restarts is found again by hosts (they
 * reconnect at most once a second, no thread)". Stopped with SIGTERM,
 * every record comes out exactly once. */
START_TEST(restarted_collector_is_found_again_and_nothing_is_lost_or_doubled)
{
	char *want, *got = restart(SIGTERM, &want);
	ck_same(got, want);
	free(want);
	free(got);
}
END_TEST

/* Killed instead, the collector may not have given back its last batch:
 * the next one writes those again rather than lose them, and replaces the
 * stale socket. Every record is there, in order. */
START_TEST(collector_sigkilled_and_restarted_loses_nothing)
{
	char *want, *got = restart(SIGKILL, &want);
	/* Each record, in order, in what was written (which may hold a batch
	 * twice). */
	const char *g = got;
	long lines = 0;
	for (const char *w = want; *w; lines++) {
		const char *nl = strchr(w, '\n');
		size_t n = (size_t)(nl - w) + 1;
		const char *at = memmem(g, strlen(g), w, n);
		ck_assert_msg(at != NULL, "record %ld is missing", lines);
		g = at + n;
		w += n;
	}
	ck_assert_int_le(ck_lines(got, NULL), 3000 + 256);
	free(want);
	free(got);
}
END_TEST

/* --log-skip: not written, still counted. */
START_TEST(log_skip_leaves_records_out_and_counts_them)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[400], expect[400];
	snprintf(log, sizeof(log), "--log=%s/out.log", c.dir);
	snprintf(expect, sizeof(expect), "--expect=%s/expect", c.dir);
	ck_assert(ck_start(&c, 0,
			   (const char *[]){ log, "--log-format=json", "--log-skip=EAGAIN,EMFILE", NULL },
			   NULL));
	struct ck_host h;
	ck_host(&h, c.sock, 0,
		(const char *[]){ expect, "--format=json", "--stats", "--seed=5", "connect",
				  "write:2000", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	char *want = expect_of(&c, "expect"), *got = expect_of(&c, "out.log");
	long eagain = ck_lines(want, "\"errno\":\"EAGAIN\"");
	long emfile = ck_lines(want, "\"errno\":\"EMFILE\"");
	ck_assert_int_gt(eagain, 0);
	ck_assert_int_gt(emfile, 0);
	char *a = ck_without(want, "\"errno\":\"EAGAIN\"");
	char *b = ck_without(a, "\"errno\":\"EMFILE\"");
	char *records = ck_without(got, "\"summary\"");
	ck_same(records, b);
	ck_assert_int_eq(ck_field(got, "\"summary\"", "\"EAGAIN\":"), eagain);
	ck_assert_int_eq(ck_field(got, "\"summary\"", "\"EMFILE\":"), emfile);
	ck_assert_int_eq(ck_field(got, "\"summary\"", "\"calls\":"), 2000);
	ck_assert_int_eq(ck_field(got, "\"summary\"", "\"dropped\":"), 0);
	free(a);
	free(b);
	free(records);
	free(want);
	free(got);
	ck_cleanup(&c);
}
END_TEST

/*
 * "the collector checks the peer's credentials and refuses other users'
 * processes unless it runs as root". A collector run as a second non-root
 * user: root's host (which the socket's mode does not stop) is refused by
 * the credentials check, nobody's cannot even connect (mode 0600), and a
 * host of the collector's own user is served. A collector run as root
 * serves nobody's host.
 */
START_TEST(other_users_hosts_are_refused_unless_the_collector_is_root)
{
	struct ck_collector c;
	ck_dir(&c, OTHER);
	T_CHECK(chmod(c.dir, 0755) == 0); /* others may reach the socket */
	char log[400];
	snprintf(log, sizeof(log), "--log=%s/out.log", c.dir);
	ck_assert(ck_start(&c, OTHER, (const char *[]){ log, NULL }, NULL));
	struct stat st;
	T_CHECK(stat(c.sock, &st) == 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_uid, OTHER);

	struct ck_host h;
	ck_host(&h, c.sock, 0, (const char *[]){ "connect", "write:10", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), -EACCES);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_ptr_nonnull(
		strstr(ck_stderr(&c), "(uid 0): refused: not a process of this collector's user"));

	ck_host(&h, c.sock, NOBODY, (const char *[]){ "connect", "write:10", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), -EACCES);
	ck_assert_int_eq(ck_host_wait(&h), 0);

	ck_host(&h, c.sock, OTHER, (const char *[]){ "--stats", "connect", "write:10", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	char *got = expect_of(&c, "out.log");
	ck_assert_int_eq(ck_lines(got, "call="), 10);
	ck_assert_int_eq(ck_lines(got, "summary=exit"), 1);
	free(got);
	ck_cleanup(&c);

	/* Root's collector: a socket every user may reach, nobody's host
	 * served. */
	ck_dir(&c, 0);
	T_CHECK(chmod(c.dir, 0755) == 0);
	snprintf(log, sizeof(log), "--log=%s/out.log", c.dir);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, NULL }, NULL));
	T_CHECK(stat(c.sock, &st) == 0);
	ck_assert_int_eq(st.st_mode & 0777, 0666);
	ck_host(&h, c.sock, NOBODY, (const char *[]){ "connect", "write:10", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	got = expect_of(&c, "out.log");
	ck_assert_int_eq(ck_lines(got, "call="), 10);
	free(got);
	ck_cleanup(&c);
}
END_TEST

/* A raw client of the collector's socket, saying whatever a test wants. */
static int raw_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	T_CHECK(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	return fd;
}

static int send_hello(int sock, const void *msg, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { (void *)(uintptr_t)msg, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		m.msg_control = ctl.buf;
		m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	T_CHECK(sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len);
	return a4s_ringlink_reply(sock, 5000);
}

/*
 * Hostile or broken hosts: whatever they send, the collector refuses it
 * with a reason, keeps no descriptor of theirs, and serves the next good
 * host as before.
 */
START_TEST(hostile_hellos_are_refused_and_the_collector_goes_on)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[400];
	snprintf(log, sizeof(log), "--log=%s/out.log", c.dir);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, NULL }, NULL));

	struct a4s_ring ring;
	ck_assert_int_eq(a4s_ring_create(&ring, 64, getpid(), 0, NULL), 0);
	struct a4s_ringlink_hello good = { .version = A4S_RING_VERSION, .size = ring.size };
	memcpy(good.magic, A4S_RINGLINK_HELLO_MAGIC, 8);

	int s = raw_connect(c.sock);
	ck_assert_int_eq(send_hello(s, "GET / HTTP/1.0\r\n\r\n", 18, NULL, 0), -EPROTO);
	close(s);
	s = raw_connect(c.sock);
	ck_assert_int_eq(send_hello(s, &good, sizeof(good), NULL, 0), -EPROTO); /* no fd */
	close(s);
	s = raw_connect(c.sock);
	int two[2] = { ring.fd, ring.fd };
	ck_assert_int_eq(send_hello(s, &good, sizeof(good), two, 2), -EPROTO);
	close(s);
	s = raw_connect(c.sock);
	struct a4s_ringlink_hello v2 = good;
	v2.version = 2;
	ck_assert_int_eq(send_hello(s, &v2, sizeof(v2), &ring.fd, 1), -EPROTO);
	close(s);
	/* Not a sealed memfd: a pipe, an unsealed memfd with a ring in it. */
	int p[2];
	T_CHECK(pipe(p) == 0);
	s = raw_connect(c.sock);
	ck_assert_int_eq(send_hello(s, &good, sizeof(good), &p[1], 1), -EINVAL);
	close(s);
	int plain = memfd_create("plain", MFD_CLOEXEC);
	T_CHECK(write(plain, ring.base, ring.size) == (ssize_t)ring.size);
	s = raw_connect(c.sock);
	ck_assert_int_eq(send_hello(s, &good, sizeof(good), &plain, 1), -EINVAL);
	close(s);
	/* A good ring with a wrong size in the hello. */
	struct a4s_ringlink_hello lies = good;
	lies.size *= 2;
	s = raw_connect(c.sock);
	ck_assert_int_eq(send_hello(s, &lies, sizeof(lies), &ring.fd, 1), -EINVAL);
	close(s);
	/* The collector kept none of them: the pipe's write end was only
	 * ever held by us and it, so closing ours leaves no writer. */
	close(p[1]);
	char buf[1];
	ck_assert_int_eq(read(p[0], buf, 1), 0);
	close(p[0]);
	close(plain);

	const char *err = ck_stderr(&c);
	ck_assert_ptr_nonnull(strstr(err, "refused: not a hello"));
	ck_assert_ptr_nonnull(strstr(err, "refused: a hello without exactly one descriptor"));
	ck_assert_ptr_nonnull(strstr(err, "refused: a ring version this collector does not read"));
	ck_assert_ptr_nonnull(strstr(err, "refused: not a memfd"));
	ck_assert_ptr_nonnull(strstr(err, "refused: memfd not sealed against shrinking and growing"));
	ck_assert_ptr_nonnull(strstr(err, "refused: hello and ring sizes differ"));

	/* And a good host after all that. */
	struct ck_host h;
	ck_host(&h, c.sock, 0, (const char *[]){ "connect", "write:25", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	char *got = expect_of(&c, "out.log");
	ck_assert_int_eq(ck_lines(got, "call="), 25);
	free(got);
	a4s_ring_destroy(&ring);
	ck_cleanup(&c);
}
END_TEST

/* A ring whose host scribbles over its own header and slots after the
 * collector attached: the collector takes what passes its checks and stays
 * up for everyone else. */
START_TEST(host_scribbling_over_its_ring_harms_only_itself)
{
	struct ck_collector c;
	ck_dir(&c, 0);
	char log[400];
	snprintf(log, sizeof(log), "--log=%s/out.log", c.dir);
	ck_assert(ck_start(&c, 0, (const char *[]){ log, NULL }, NULL));
	struct a4s_ring ring;
	ck_assert_int_eq(a4s_ring_create(&ring, 64, getpid(), 0, NULL), 0);
	int s;
	ck_assert_int_eq(a4s_ringlink_connect(c.sock, &s), 0);
	ck_assert_int_eq(a4s_ringlink_send(s, &ring), 0);
	ck_assert_int_eq(a4s_ringlink_reply(s, 5000), 0);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 200; round++) {
		unsigned char *b = ring.base;
		for (size_t i = 0; i < ring.size; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (x % 3 == 0)
				memcpy(b + i, &x, 8);
		}
		/* Commit words for the positions the collector looks for. */
		uint64_t tail = atomic_load(&ring.cons->tail);
		for (uint64_t p = tail; p < tail + 64; p++)
			if (x++ % 2)
				atomic_store(&ring.slots[p & 63].seq, a4s_ring_committed(p));
		usleep(2000);
	}
	close(s);
	a4s_ring_destroy(&ring);
	struct ck_host h;
	ck_host(&h, c.sock, 0, (const char *[]){ "connect", "write:25", NULL });
	ck_assert_int_eq(ck_host_expect(&h, "reply "), 0);
	ck_assert_int_eq(ck_host_wait(&h), 0);
	ck_assert_int_eq(ck_stop(&c), 0);
	ck_cleanup(&c);
}
END_TEST

/* The socket: never in place of something that is not a stale socket,
 * never in a directory others may write, never a second collector on the
 * same path; removed at exit if it is still ours. */
START_TEST(socket_is_made_safely_or_not_at_all)
{
	struct ck_collector c;
	int status;
	const char *args[] = { "--log=stderr", NULL };
	ck_dir(&c, 0);
	/* A regular file at the path: refused, left alone. */
	int f = open(c.sock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	T_CHECK(f >= 0 && write(f, "mine", 4) == 4);
	close(f);
	ck_assert(!ck_start(&c, 0, args, &status));
	ck_assert_int_eq(status, 1);
	ck_assert_ptr_nonnull(strstr(ck_stderr(&c), "exists and is not a socket"));
	char *kept = ck_read(c.sock, NULL);
	ck_assert_str_eq(kept, "mine");
	free(kept);
	unlink(c.sock);
	unlink(c.err);
	/* A directory others may write in (even with the sticky bit). */
	T_CHECK(chmod(c.dir, 01777) == 0);
	ck_assert(!ck_start(&c, 0, args, &status));
	ck_assert_ptr_nonnull(strstr(ck_stderr(&c), "others may write in the directory"));
	T_CHECK(chmod(c.dir, 0700) == 0);
	unlink(c.err);
	/* A directory of another user's. */
	T_CHECK(chown(c.dir, NOBODY, NOBODY) == 0);
	ck_assert(!ck_start(&c, 0, args, &status));
	ck_assert_ptr_nonnull(strstr(ck_stderr(&c), "belongs to another user"));
	T_CHECK(chown(c.dir, 0, 0) == 0);
	unlink(c.err);
	/* A second collector on a live one's path. */
	struct ck_collector second = c;
	ck_assert(ck_start(&c, 0, args, NULL));
	/* (Its socket is there already: ck_start cannot tell it failed.) */
	if (ck_start(&second, 0, args, &status)) {
		int st;
		T_CHECK(waitpid(second.pid, &st, 0) == second.pid);
		status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	ck_assert_int_eq(status, 1);
	ck_assert_ptr_nonnull(strstr(ck_stderr(&c), "another collector listens there"));
	/* Gone at exit... */
	ck_assert_int_eq(ck_stop(&c), 0);
	struct stat st;
	ck_assert_int_eq(lstat(c.sock, &st), -1);
	/* ...but not when something else took the name meanwhile. */
	ck_assert(ck_start(&c, 0, args, NULL));
	char moved[400];
	snprintf(moved, sizeof(moved), "%s/moved", c.dir);
	T_CHECK(rename(c.sock, moved) == 0);
	f = open(c.sock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	close(f);
	ck_assert_int_eq(ck_stop(&c), 0);
	T_CHECK(lstat(c.sock, &st) == 0 && S_ISREG(st.st_mode));
	ck_cleanup(&c);
}
END_TEST

static Suite *collector_suite(void)
{
	Suite *s = suite_create("collector");
	TCase *t = tcase_create("collector");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, records_are_byte_for_byte_the_library_text_records);
	tcase_add_test(t, records_are_byte_for_byte_the_library_json_records);
	tcase_add_test(t, each_host_writes_its_own_file_with_percent_p);
	tcase_add_test(t, host_sigkilled_after_n_records_loses_none);
	tcase_add_test(t, stopped_collector_never_blocks_a_host_and_every_record_is_counted);
	tcase_add_test(t, losses_reach_the_output_in_a_summary_when_the_collector_catches_up);
	tcase_add_test(t, stats_interval_gives_interval_summaries_per_host);
	tcase_add_test(t, restarted_collector_is_found_again_and_nothing_is_lost_or_doubled);
	tcase_add_test(t, collector_sigkilled_and_restarted_loses_nothing);
	tcase_add_test(t, log_skip_leaves_records_out_and_counts_them);
	tcase_add_test(t, other_users_hosts_are_refused_unless_the_collector_is_root);
	tcase_add_test(t, hostile_hellos_are_refused_and_the_collector_goes_on);
	tcase_add_test(t, host_scribbling_over_its_ring_harms_only_itself);
	tcase_add_test(t, socket_is_made_safely_or_not_at_all);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		/* Other users' hosts and collectors need root to start. */
		fprintf(stderr, "test_collector: needs root (CI runs as root)\n");
		return 1;
	}
	return t_run_suite(collector_suite());
}
