/*
 * SPEC, ACCEPT4SHIM_MODE=auto: "the first time it fails with ENOSYS (or
 * libc has no accept4), switches the whole process to emulation".
 *
 * A C library without accept4 cannot be preloaded under a real program:
 * the library finds the next accept4 with dlsym(RTLD_NEXT), and every glibc
 * has one. So this unit test puts the seam where the library asks: it links
 * the library's own objects (real.c, accept_path.c, mode.c, ...) into a
 * program that defines dlsym itself, answering "accept" with the C
 * library's accept and "accept4" with NULL, exactly what dlsym says when a
 * symbol is absent. Everything after that answer is the library's code,
 * unchanged, on real sockets.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include "accept_path.h"
#include "config.h"
#include "harness.h"
#include "mode.h"
#include "real.h"

static int lookups_of_accept4;

/* Replaces the C library's dlsym for the library's objects linked in here. */
void *dlsym(void *restrict handle, const char *restrict name)
{
	if (handle == RTLD_NEXT && strcmp(name, "accept") == 0)
		return (void *)accept;
	if (strcmp(name, "accept4") == 0)
		lookups_of_accept4++;
	return NULL;
}

static const int all_flags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };

static int call(enum a4s_mode mode, int fd, int flags)
{
	struct a4s_config cfg = { .mode = mode };
	struct a4s_call c = { .listen_fd = fd, .flags = flags, .is_accept4 = true };
	return a4s_accept_call(&cfg, &c);
}

static void missing_is_enosys(void *arg)
{
	(void)arg;
	/* Even for a descriptor the kernel would call bad: the answer is
	 * the C library's, not the kernel's. */
	bool by_libc = false;
	T_ASSERT(a4s_real_accept4(-1, NULL, NULL, 0, &by_libc) == -ENOSYS, "not ENOSYS");
	T_ASSERT(a4s_real_accept4(12345, NULL, NULL, SOCK_CLOEXEC, &by_libc) == -ENOSYS,
		 "not ENOSYS");
	/* Looked up once, remembered as missing. */
	T_ASSERT(lookups_of_accept4 == 1, "accept4 looked up %d times", lookups_of_accept4);
	/* accept is there and works: EBADF from the kernel. */
	T_ASSERT(a4s_real_accept(-1, NULL, NULL) == -EBADF, "accept not bound");
}

START_TEST(a_missing_libc_accept4_answers_enosys)
{
	T_IN_CHILD(missing_is_enosys, NULL);
}
END_TEST

static void auto_switches(void *arg)
{
	(void)arg;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 4);
	T_ASSERT(!a4s_mode_switched(), "switched before any call");
	for (int k = 0; k < 4; k++) {
		int fd = call(A4S_MODE_AUTO, l.fd, all_flags[k]);
		T_ASSERT(fd >= 0, "flags %#x: %s", all_flags[k], strerror(-fd));
		T_ASSERT(a4s_mode_switched(), "no switch to emulation");
		T_ASSERT(t_nonblocking(fd) == ((all_flags[k] & SOCK_NONBLOCK) != 0), "O_NONBLOCK");
		T_ASSERT(t_cloexec(fd) == ((all_flags[k] & SOCK_CLOEXEC) != 0), "FD_CLOEXEC");
		close(fd);
	}
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(auto_switches_to_exact_emulation_when_libc_has_no_accept4)
{
	T_IN_CHILD(auto_switches, NULL);
}
END_TEST

static void native_fails(void *arg)
{
	(void)arg;
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	pid_t client = t_clients(&l, 1);
	T_ASSERT(call(A4S_MODE_NATIVE, l.fd, SOCK_CLOEXEC) == -ENOSYS, "native did not fail");
	T_ASSERT(!a4s_mode_switched(), "native switched");
	T_ASSERT(t_wait_readable(l.fd, 0), "connection dequeued");
	/* emulate never asks for accept4. */
	int fd = call(A4S_MODE_EMULATE, l.fd, SOCK_CLOEXEC);
	T_ASSERT(fd >= 0 && t_cloexec(fd), "emulate failed");
	close(fd);
	t_clients_done(client);
	t_close_listener(&l);
}

START_TEST(native_mode_reports_a_missing_libc_accept4_as_enosys)
{
	T_IN_CHILD(native_fails, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("missing-accept4");
	TCase *tc = tcase_create("missing");
	tcase_add_test(tc, a_missing_libc_accept4_answers_enosys);
	tcase_add_test(tc, auto_switches_to_exact_emulation_when_libc_has_no_accept4);
	tcase_add_test(tc, native_mode_reports_a_missing_libc_accept4_as_enosys);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
