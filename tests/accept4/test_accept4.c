/*
 * SPEC, accept4: "The new socket has O_NONBLOCK exactly when SOCK_NONBLOCK
 * was asked for, FD_CLOEXEC exactly when SOCK_CLOEXEC was"; "flags other
 * than SOCK_NONBLOCK and SOCK_CLOEXEC: -1 with EINVAL before anything is
 * accepted"; "on success errno is what it was before the call".
 * Every case runs on TCP over 127.0.0.1 and ::1 and on AF_UNIX (path and
 * abstract), from blocking and non-blocking listeners.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

static const int all_flags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };

/* _i of a loop test: family in the low bits, listener blocking or not. */
static void listener_for(int i, struct t_listener *l)
{
	t_listen(l, (enum t_family)(i % T_FAMILIES), i / T_FAMILIES ? SOCK_NONBLOCK : 0);
}

START_TEST(flags_are_exactly_what_was_asked)
{
	struct t_listener l;
	listener_for(_i, &l);
	for (size_t k = 0; k < sizeof(all_flags) / sizeof(all_flags[0]); k++) {
		int flags = all_flags[k];
		pid_t client = t_clients(&l, 1);
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		errno = 4321;
		int fd = accept4(l.fd, (struct sockaddr *)&peer, &len, flags);
		ck_assert_msg(fd >= 0, "%s flags %#x: %s", t_family_name(l.family), flags,
			      strerror(errno));
		ck_assert_int_eq(errno, 4321);
		ck_assert_int_eq(t_nonblocking(fd), (flags & SOCK_NONBLOCK) != 0);
		ck_assert_int_eq(t_cloexec(fd), (flags & SOCK_CLOEXEC) != 0);
		ck_assert_int_eq(peer.ss_family, l.addr.ss_family);
		close(fd);
		t_clients_done(client);
	}
	t_close_listener(&l);
}
END_TEST

START_TEST(null_addr_is_accepted)
{
	struct t_listener l;
	listener_for(_i, &l);
	pid_t client = t_clients(&l, 2);
	int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* addr NULL with a length pointer: the kernel ignores the length. */
	socklen_t len = 12345;
	fd = accept4(l.fd, NULL, &len, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(len, 12345);
	close(fd);
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

START_TEST(truncated_addr_gets_the_full_length)
{
	struct t_listener l;
	listener_for(_i, &l);
	pid_t client = t_clients(&l, 1);
	unsigned char buf[64];
	memset(buf, 0xaa, sizeof(buf));
	socklen_t len = 4; /* room for the family and two bytes */
	int fd = accept4(l.fd, (struct sockaddr *)buf, &len, SOCK_NONBLOCK);
	ck_assert_int_ge(fd, 0);
	if (l.family == T_TCP4 || l.family == T_TCP6) {
		/* The length it would have needed, and not a byte more written. */
		ck_assert_uint_eq(len, l.family == T_TCP4 ? sizeof(struct sockaddr_in)
							  : sizeof(struct sockaddr_in6));
		ck_assert_uint_eq(buf[4], 0xaa);
	} else {
		/* The AF_UNIX client never bound: its address is unnamed. */
		ck_assert_uint_eq(len, sizeof(sa_family_t));
	}
	close(fd);
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

START_TEST(unknown_flags_leave_the_connection_queued)
{
	struct t_listener l;
	listener_for(_i, &l);
	pid_t client = t_clients(&l, 1);
	errno = 0;
	ck_assert_int_eq(accept4(l.fd, NULL, NULL, 0x40), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(accept4(l.fd, NULL, NULL, SOCK_CLOEXEC | O_APPEND), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(accept4(l.fd, NULL, NULL, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* Still there. */
	ck_assert(t_wait_readable(l.fd, 0));
	int fd = accept4(l.fd, NULL, NULL, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	t_clients_done(client);
	t_close_listener(&l);
}
END_TEST

START_TEST(errors_are_the_kernels)
{
	int fd;
	/* EBADF: not a descriptor. */
	errno = 0;
	ck_assert_int_eq(accept4(-1, NULL, NULL, SOCK_CLOEXEC), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(accept4(987, NULL, NULL, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	/* ENOTSOCK: a descriptor that is not a socket. */
	int p[2];
	T_CHECK(pipe(p) == 0);
	ck_assert_int_eq(accept4(p[0], NULL, NULL, SOCK_NONBLOCK), -1);
	ck_assert_int_eq(errno, ENOTSOCK);
	close(p[0]);
	close(p[1]);
	/* EINVAL: a stream socket that is not listening. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(accept4(fd, NULL, NULL, SOCK_CLOEXEC), -1);
	ck_assert_int_eq(errno, EINVAL);
	close(fd);
	/* EOPNOTSUPP: a datagram socket. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(accept4(fd, NULL, NULL, 0), -1);
	ck_assert_int_eq(errno, EOPNOTSUPP);
	close(fd);
}
END_TEST

START_TEST(empty_nonblocking_queue_gives_eagain)
{
	struct t_listener l;
	t_listen(&l, (enum t_family)_i, SOCK_NONBLOCK);
	for (size_t k = 0; k < sizeof(all_flags) / sizeof(all_flags[0]); k++) {
		errno = 0;
		ck_assert_int_eq(accept4(l.fd, NULL, NULL, all_flags[k]), -1);
		ck_assert_int_eq(errno, EAGAIN);
	}
	t_close_listener(&l);
}
END_TEST

START_TEST(no_descriptor_is_left_behind)
{
	struct t_listener l;
	t_listen(&l, T_TCP4, 0);
	int before = t_count_fds();
	for (int i = 0; i < 20; i++) {
		pid_t client = t_clients(&l, 1);
		int fd = accept4(l.fd, NULL, NULL, all_flags[i % 4]);
		ck_assert_int_ge(fd, 0);
		close(fd);
		t_clients_done(client);
		ck_assert_int_eq(accept4(l.fd, NULL, NULL, 0x40), -1);
	}
	ck_assert_int_eq(t_count_fds(), before);
	t_close_listener(&l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("accept4");
	TCase *tc = tcase_create("flags");
	tcase_add_loop_test(tc, flags_are_exactly_what_was_asked, 0, 2 * T_FAMILIES);
	tcase_add_loop_test(tc, null_addr_is_accepted, 0, 2 * T_FAMILIES);
	tcase_add_loop_test(tc, truncated_addr_gets_the_full_length, 0, 2 * T_FAMILIES);
	tcase_add_loop_test(tc, unknown_flags_leave_the_connection_queued, 0, 2 * T_FAMILIES);
	tcase_add_test(tc, errors_are_the_kernels);
	tcase_add_loop_test(tc, empty_nonblocking_queue_gives_eagain, 0, T_FAMILIES);
	tcase_add_test(tc, no_descriptor_is_left_behind);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
