/*
 * SPEC ACCEPT4SHIM_ADD_FLAGS: "flags added to every accept and accept4
 * call"; accept() under INHERIT=bsd: "ADD_FLAGS are applied on top"; "if a
 * step after the accept fails, the new socket is closed and -1 returned
 * with that step's errno".
 *
 * The suite runs against the kernel alone and with several ADD_FLAGS,
 * INHERIT and MODE settings; each case works out from the environment what
 * the new socket must have. (That the added flags go to the kernel with the
 * accept, natively, is counted in tests/syscalls.)
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *var(const char *name)
{
	const char *preload = getenv("LD_PRELOAD");
	const char *v = getenv(name);
	return preload && *preload && v ? v : "";
}

static int added(void)
{
	const char *v = var("ACCEPT4SHIM_ADD_FLAGS");
	return (strstr(v, "SOCK_NONBLOCK") ? SOCK_NONBLOCK : 0) |
	       (strstr(v, "SOCK_CLOEXEC") ? SOCK_CLOEXEC : 0);
}

static bool bsd(void)
{
	return strcmp(var("ACCEPT4SHIM_INHERIT"), "bsd") == 0;
}

static bool emulating(void)
{
	return strcmp(var("ACCEPT4SHIM_MODE"), "emulate") == 0;
}

static bool native(void)
{
	return strcmp(var("ACCEPT4SHIM_MODE"), "native") == 0;
}

static int connect_to(const struct t_listener *l)
{
	int c = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_CHECK(c >= 0);
	T_CHECK(connect(c, (const struct sockaddr *)&l->addr, l->addrlen) == 0);
	return c;
}

START_TEST(accept_gets_the_added_flags)
{
	enum t_family f = (enum t_family)(_i % T_FAMILIES);
	bool nb_listener = _i >= T_FAMILIES;
	struct t_listener l;
	t_listen(&l, f, nb_listener ? SOCK_NONBLOCK : 0);
	int c = connect_to(&l);
	ck_assert(t_wait_readable(l.fd, 2000));
	errno = 555;
	int fd = accept(l.fd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(errno, 555);
	/* Inherited (BSD) or added: either makes it non-blocking. */
	ck_assert_int_eq(t_nonblocking(fd),
			 (added() & SOCK_NONBLOCK) || (bsd() && nb_listener));
	ck_assert_int_eq(t_cloexec(fd), (added() & SOCK_CLOEXEC) != 0);
	close(fd);
	close(c);
	t_close_listener(&l);
}
END_TEST

START_TEST(accept4_gets_the_added_flags_on_top_of_its_own)
{
	static const int all[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };
	int flags = all[_i];
	struct t_listener l;
	t_listen(&l, T_TCP6, SOCK_NONBLOCK);
	int c = connect_to(&l);
	ck_assert(t_wait_readable(l.fd, 2000));
	int fd = accept4(l.fd, NULL, NULL, flags);
	ck_assert_int_ge(fd, 0);
	int want = flags | added(); /* and never anything inherited */
	ck_assert_int_eq(t_nonblocking(fd), (want & SOCK_NONBLOCK) != 0);
	ck_assert_int_eq(t_cloexec(fd), (want & SOCK_CLOEXEC) != 0);
	close(fd);
	close(c);
	t_close_listener(&l);
}
END_TEST

START_TEST(a_program_run_by_the_server_does_not_get_the_socket)
{
	struct t_listener l;
	t_listen(&l, T_UNIX_PATH, 0);
	int c = connect_to(&l);
	int fd = accept(l.fd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	char script[64];
	snprintf(script, sizeof(script), "test -e /proc/self/fd/%d", fd);
	fflush(NULL);
	pid_t pid = fork();
	T_CHECK(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	int status;
	T_CHECK(waitpid(pid, &status, 0) == pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 127);
	bool leaked = WEXITSTATUS(status) == 0;
	ck_assert_msg(leaked == !(added() & SOCK_CLOEXEC), "socket %s in the exec'd program",
		      leaked ? "open" : "closed");
	close(fd);
	close(c);
	t_close_listener(&l);
}
END_TEST

static void async_listener(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	T_CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	struct t_listener l;
	t_listen(&l, T_TCP4, 0); /* blocking, but O_ASYNC */
	struct f_owner_ex owner = { F_OWNER_PID, getpid() };
	T_CHECK(fcntl(l.fd, F_SETOWN_EX, &owner) == 0);
	T_CHECK(fcntl(l.fd, F_SETFL, O_ASYNC) == 0);
	int c = connect_to(&l);
	int fd = accept(l.fd, NULL, NULL);
	T_CHECK(fd >= 0);
	int fl = t_status_flags(fd) & (O_NONBLOCK | O_ASYNC);
	int want = ((added() & SOCK_NONBLOCK) ? O_NONBLOCK : 0) | (bsd() ? O_ASYNC : 0);
	T_ASSERT(fl == want, "status %#x, want %#x", fl, want);
	struct f_owner_ex o;
	T_CHECK(fcntl(fd, F_GETOWN_EX, &o) == 0);
	T_ASSERT(o.pid == (bsd() ? getpid() : 0), "owner %d", o.pid);
	T_ASSERT(t_cloexec(fd) == ((added() & SOCK_CLOEXEC) != 0), "cloexec");
	close(fd);
	close(c);
	t_close_listener(&l);
}

START_TEST(inherited_flags_come_first_and_added_flags_on_top)
{
	T_IN_CHILD(async_listener, NULL);
}
END_TEST

struct failing {
	int cmd;
	int flag; /* the added flag that needs cmd when emulated */
};

static void failing_flag_step(void *arg)
{
	const struct failing *s = arg;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	int c = connect_to(&l);
	t_seccomp_fail_fcntl(s->cmd, EPERM);
	int before = t_count_fds();
	errno = 0;
	int fd = accept(l.fd, NULL, NULL);
	if ((added() & s->flag) && emulating()) {
		T_ASSERT(fd == -1 && errno == EPERM, "accept gave %d, %s", fd, strerror(errno));
		T_ASSERT(t_count_fds() == before, "the new socket leaked");
	} else {
		/* Natively the kernel set the flag with the accept: no step
		 * left to fail. */
		T_ASSERT(fd >= 0, "accept: %s", strerror(errno));
		close(fd);
	}
	close(c);
	t_close_listener(&l);
}

START_TEST(a_flag_step_that_fails_closes_the_new_socket)
{
	static struct failing steps[] = { { F_SETFD, SOCK_CLOEXEC }, { F_SETFL, SOCK_NONBLOCK } };
	T_IN_CHILD(failing_flag_step, &steps[_i]);
}
END_TEST

static void no_accept4(void *arg)
{
	(void)arg;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	int c = connect_to(&l);
	t_seccomp_fail_syscall(SYS_accept4, ENOSYS);
	errno = 0;
	int fd = accept(l.fd, NULL, NULL);
	if (added() && native()) {
		/* MODE=native means the real accept4, whatever it answers. */
		T_ASSERT(fd == -1 && errno == ENOSYS, "accept gave %d, %s", fd, strerror(errno));
	} else {
		T_ASSERT(fd >= 0, "accept: %s", strerror(errno));
		T_ASSERT(t_cloexec(fd) == ((added() & SOCK_CLOEXEC) != 0), "cloexec");
		T_ASSERT(t_nonblocking(fd) == ((added() & SOCK_NONBLOCK) != 0), "nonblock");
		close(fd);
	}
	close(c);
	t_close_listener(&l);
}

START_TEST(added_flags_survive_a_kernel_without_accept4_unless_mode_is_native)
{
	T_IN_CHILD(no_accept4, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("addflags");
	TCase *tc = tcase_create("addflags");
	tcase_add_loop_test(tc, accept_gets_the_added_flags, 0, 2 * T_FAMILIES);
	tcase_add_loop_test(tc, accept4_gets_the_added_flags_on_top_of_its_own, 0, 4);
	tcase_add_test(tc, a_program_run_by_the_server_does_not_get_the_socket);
	tcase_add_test(tc, inherited_flags_come_first_and_added_flags_on_top);
	tcase_add_loop_test(tc, a_flag_step_that_fails_closes_the_new_socket, 0, 2);
	tcase_add_test(tc, added_flags_survive_a_kernel_without_accept4_unless_mode_is_native);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
