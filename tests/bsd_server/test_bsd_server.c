/*
 * An unmodified program that relies on BSD's accept(): bsd_server (see
 * bsd_server.c) drains each accepted socket until EWOULDBLOCK. Run as it
 * is on Linux, it hangs in read() on its first client; run under
 * ACCEPT4SHIM_INHERIT=bsd, it serves every client and exits 0.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define CLIENTS 3 /* bsd_server -n 3 */

struct server {
	pid_t pid;
	FILE *out;
	int err_fd;
	int port;
};

/* Starts argv (bsd_server or legacy_server) with the environment `env`
 * (NAME=VALUE strings, on top of ours minus LD_PRELOAD and ACCEPT4SHIM_*),
 * reads the port it prints. */
static void start(struct server *s, const char *const *env, const char *const *argv)
{
	int out[2], err[2];
	T_CHECK(pipe2(out, O_CLOEXEC) == 0);
	T_CHECK(pipe2(err, O_CLOEXEC) == 0);
	fflush(NULL);
	s->pid = fork();
	T_CHECK(s->pid >= 0);
	if (s->pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		unsetenv("LD_PRELOAD");
		unsetenv("ACCEPT4SHIM_INHERIT");
		unsetenv("ACCEPT4SHIM_ADD_FLAGS");
		unsetenv("ACCEPT4SHIM_MODE");
		for (; *env; env++)
			putenv((char *)(uintptr_t)*env);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	s->out = fdopen(out[0], "r");
	T_CHECK(s->out != NULL);
	s->err_fd = err[0];
	char line[128];
	T_ASSERT(fgets(line, sizeof(line), s->out) != NULL, "%s printed nothing", argv[0]);
	T_ASSERT(sscanf(line, "listening on 127.0.0.1:%d", &s->port) == 1, "got: %s", line);
}

/* Waits for the server to exit; returns its exit status, its stdout. */
static int finish(struct server *s, char *out, size_t size)
{
	size_t n = fread(out, 1, size - 1, s->out);
	out[n] = '\0';
	fclose(s->out);
	int status;
	T_CHECK(waitpid(s->pid, &status, 0) == s->pid);
	T_ASSERT(WIFEXITED(status), "bsd_server died: %#x", status);
	return WEXITSTATUS(status);
}

static int client(int port)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_CHECK(c >= 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	T_CHECK(connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	return c;
}

/* The reply to one line, or "" if none comes within ms. */
static void reply(int c, char *buf, size_t size, int ms)
{
	struct pollfd p = { .fd = c, .events = POLLIN };
	buf[0] = '\0';
	if (poll(&p, 1, ms) != 1)
		return;
	ssize_t n = read(c, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* Three clients connect, each sends a line and waits, idle, for its
 * answer, as a request/response client does. */
static int run(const char *const *env, int timeout_s, char answers[CLIENTS][32], char *out,
	       size_t size)
{
	char t[16];
	snprintf(t, sizeof(t), "%d", timeout_s);
	const char *argv[] = { BSD_SERVER, "-n", "3", "-t", t, NULL };
	struct server s;
	start(&s, env, argv);
	int c[CLIENTS];
	for (int i = 0; i < CLIENTS; i++)
		c[i] = client(s.port);
	for (int i = 0; i < CLIENTS; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "hello %d\n", i + 1);
		T_CHECK(write(c[i], line, (size_t)n) == n);
	}
	for (int i = 0; i < CLIENTS; i++)
		reply(c[i], answers[i], 32, (timeout_s + 1) * 1000);
	int status = finish(&s, out, size);
	for (int i = 0; i < CLIENTS; i++)
		close(c[i]);
	close(s.err_fd);
	return status;
}

#define LIB t_preload()

START_TEST(a_bsd_style_server_works_under_inherit_bsd)
{
	const char *const modes[][3] = {
		{ LIB, "ACCEPT4SHIM_INHERIT=bsd", NULL },
		{ LIB, "ACCEPT4SHIM_INHERIT=bsd", "ACCEPT4SHIM_MODE=emulate" },
	};
	char answers[CLIENTS][32], out[4096];
	int status = run(modes[_i], 5, answers, out, sizeof(out));
	ck_assert_msg(status == 0, "status %d, output:\n%s", status, out);
	for (int i = 0; i < CLIENTS; i++) {
		char want[32];
		snprintf(want, sizeof(want), "HELLO %d\n", i + 1);
		ck_assert_str_eq(answers[i], want);
	}
	ck_assert_msg(strstr(out, "read would block") && strstr(out, "served 3 clients"),
		      "output:\n%s", out);
}
END_TEST

START_TEST(the_same_server_hangs_with_linux_semantics)
{
	const char *const modes[][3] = {
		{ "A4S_UNUSED=1", NULL, NULL }, /* the kernel alone */
		{ LIB, "ACCEPT4SHIM_INHERIT=linux", NULL },
	};
	char answers[CLIENTS][32], out[4096];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int status = run(modes[_i], 1, answers, out, sizeof(out));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Stuck in read() on the first client until its alarm went off. */
	ck_assert_msg(status == 2, "status %d, output:\n%s", status, out);
	ck_assert_str_eq(answers[0], "");
	ck_assert_msg(!strstr(out, "would block"), "output:\n%s", out);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 10);
}
END_TEST

/* What the shell that legacy_server's popen() starts has open: one line
 * per descriptor, from /proc. */
#define SHOW_FDS "for f in /proc/$$/fd/*; do readlink $f; done"

static int sockets_in(const char *listing)
{
	int n = 0;
	for (const char *p = listing; (p = strstr(p, "socket:")); p++)
		n++;
	return n;
}

START_TEST(a_legacy_server_leaks_its_clients_into_commands_unless_cloexec_is_added)
{
	const char *const runs[][3] = {
		{ "A4S_UNUSED=1", NULL, NULL },
		{ LIB, "ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC", NULL },
		{ LIB, "ACCEPT4SHIM_ADD_FLAGS=SOCK_CLOEXEC", "ACCEPT4SHIM_MODE=emulate" },
	};
	const char *argv[] = { LEGACY_SERVER, "-n", "1", "-c", SHOW_FDS, NULL };
	struct server s;
	start(&s, runs[_i], argv);
	/* Two clients connected; the second one's request runs the command. */
	int a = client(s.port);
	int b = client(s.port);
	T_CHECK(write(b, "go\n", 3) == 3);
	char listing[4096];
	size_t len = 0;
	ssize_t n;
	struct pollfd p = { .fd = b, .events = POLLIN };
	while (len < sizeof(listing) - 1 && poll(&p, 1, 5000) == 1 &&
	       (n = read(b, listing + len, sizeof(listing) - 1 - len)) > 0)
		len += (size_t)n;
	listing[len] = '\0';
	char out[1024];
	ck_assert_int_eq(finish(&s, out, sizeof(out)), 0);
	close(a);
	close(b);
	close(s.err_fd);
	/* The listener is the program's own socket(2): no accept, so it leaks
	 * either way. The two accepted sockets leak only without the flag. */
	ck_assert_msg(sockets_in(listing) == (_i ? 1 : 3), "the command had open:\n%s", listing);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("bsd_server");
	TCase *tc = tcase_create("bsd_server");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, a_bsd_style_server_works_under_inherit_bsd, 0, 2);
	tcase_add_loop_test(tc, the_same_server_hangs_with_linux_semantics, 0, 2);
	tcase_add_loop_test(tc, a_legacy_server_leaks_its_clients_into_commands_unless_cloexec_is_added,
			    0, 3);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
