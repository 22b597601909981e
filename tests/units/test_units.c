/*
 * The pure pieces behind accept4, on their own: which flags are valid and
 * how the trace names them, when a call goes native and when `auto` gives
 * up on accept4 (SPEC: "only ENOSYS proves accept4 absent, never EINVAL or
 * EBADF"), the errno names, and a4s_fdstate_apply, which must change only
 * what differs ("only what differs from a fresh socket costs a system
 * call").
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errnames.h"
#include "fdstate.h"
#include "flags.h"
#include "harness.h"
#include "mode.h"
#include "readiness.h"
#include "taskstate.h"
#include "text.h"

static const char *flag_name(int flags)
{
	static char out[128];
	struct a4s_buf b = A4S_BUF_INIT(out);
	a4s_put_flags(&b, flags);
	ck_assert(!b.full);
	out[b.len] = '\0';
	return out;
}

START_TEST(flags_are_named_as_the_trace_writes_them)
{
	ck_assert_str_eq(flag_name(0), "0");
	ck_assert_str_eq(flag_name(SOCK_NONBLOCK), "SOCK_NONBLOCK");
	ck_assert_str_eq(flag_name(SOCK_CLOEXEC), "SOCK_CLOEXEC");
	ck_assert_str_eq(flag_name(SOCK_NONBLOCK | SOCK_CLOEXEC), "SOCK_NONBLOCK|SOCK_CLOEXEC");
	/* A rejected call's unknown bits: one hex number after the names. */
	ck_assert_str_eq(flag_name(0x40), "0x40");
	ck_assert_str_eq(flag_name(SOCK_CLOEXEC | 0x40), "SOCK_CLOEXEC|0x40");
	ck_assert_str_eq(flag_name(SOCK_NONBLOCK | 0x1), "SOCK_NONBLOCK|0x1");
	ck_assert_str_eq(flag_name(-1), "SOCK_NONBLOCK|SOCK_CLOEXEC|0xfff7f7ff");
	ck_assert_str_eq(flag_name(INT_MIN), "0x80000000");
}
END_TEST

START_TEST(a_flag_name_that_does_not_fit_is_marked_full)
{
	char out[8];
	struct a4s_buf b = A4S_BUF_INIT(out);
	a4s_put_flags(&b, SOCK_CLOEXEC);
	ck_assert(b.full);
	ck_assert_uint_le(b.len, sizeof(out));
}
END_TEST

START_TEST(only_sock_nonblock_and_sock_cloexec_are_valid)
{
	ck_assert(a4s_flags_valid(0));
	ck_assert(a4s_flags_valid(SOCK_NONBLOCK));
	ck_assert(a4s_flags_valid(SOCK_CLOEXEC));
	ck_assert(a4s_flags_valid(SOCK_NONBLOCK | SOCK_CLOEXEC));
	/* Every other single bit, and the usual mistakes. */
	for (int bit = 0; bit < 32; bit++) {
		int f = (int)(1u << bit);
		if (f == SOCK_NONBLOCK || f == SOCK_CLOEXEC)
			continue;
		ck_assert_msg(!a4s_flags_valid(f), "bit %d taken as valid", bit);
		ck_assert_msg(!a4s_flags_valid(f | SOCK_CLOEXEC), "bit %d taken as valid", bit);
	}
	ck_assert(!a4s_flags_valid(-1));
	ck_assert(!a4s_flags_valid(O_APPEND));
	ck_assert(!a4s_flags_valid(SOCK_STREAM));
}
END_TEST

START_TEST(native_is_wanted_by_native_always_and_by_auto_until_switched)
{
	static const struct {
		enum a4s_mode mode;
		bool switched;
		bool native;
	} table[] = {
		{ A4S_MODE_AUTO, false, true },
		{ A4S_MODE_AUTO, true, false },
		{ A4S_MODE_NATIVE, false, true },
		/* native means native, even after an ENOSYS someone saw. */
		{ A4S_MODE_NATIVE, true, true },
		{ A4S_MODE_EMULATE, false, false },
		{ A4S_MODE_EMULATE, true, false },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		ck_assert_msg(a4s_mode_wants_native(table[i].mode, table[i].switched) ==
				      table[i].native,
			      "mode %d switched %d", table[i].mode, table[i].switched);
}
END_TEST

START_TEST(only_enosys_in_auto_mode_switches_to_emulation)
{
	static const enum a4s_mode modes[] = { A4S_MODE_AUTO, A4S_MODE_NATIVE, A4S_MODE_EMULATE };
	/* Results of the native accept4: a descriptor, or -errno. */
	static const int results[] = {
		0, 3, 1000, -ENOSYS, -EINVAL, -EBADF, -EPERM, -EACCES, -ENOTSOCK,
		-EOPNOTSUPP, -EAGAIN, -EINTR, -EMFILE, -ENFILE, -ENOMEM, -ENOBUFS,
		-EFAULT, -ECONNABORTED, -EPROTO, -ENOTSUP, -EOPNOTSUPP,
	};
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		for (size_t r = 0; r < sizeof(results) / sizeof(results[0]); r++) {
			bool want = modes[m] == A4S_MODE_AUTO && results[r] == -ENOSYS;
			ck_assert_msg(a4s_mode_should_switch(modes[m], results[r]) == want,
				      "mode %d result %d", modes[m], results[r]);
		}
		/* And every other errno there is. */
		for (int e = 1; e < 4096; e++)
			if (e != ENOSYS)
				ck_assert_msg(!a4s_mode_should_switch(modes[m], -e),
					      "mode %d errno %d switches", modes[m], e);
	}
}
END_TEST

START_TEST(errno_names_are_the_symbolic_ones)
{
	ck_assert_str_eq(a4s_errno_name(EAGAIN), "EAGAIN");
	ck_assert_str_eq(a4s_errno_name(EWOULDBLOCK), "EAGAIN");
	ck_assert_str_eq(a4s_errno_name(EINTR), "EINTR");
	ck_assert_str_eq(a4s_errno_name(ENOSYS), "ENOSYS");
	ck_assert_str_eq(a4s_errno_name(EINVAL), "EINVAL");
	ck_assert_str_eq(a4s_errno_name(EBADF), "EBADF");
	ck_assert_str_eq(a4s_errno_name(ENOTSOCK), "ENOTSOCK");
	ck_assert_str_eq(a4s_errno_name(EMFILE), "EMFILE");
	ck_assert_str_eq(a4s_errno_name(ECONNABORTED), "ECONNABORTED");
	ck_assert_str_eq(a4s_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
	ck_assert_ptr_null(a4s_errno_name(0));
	ck_assert_ptr_null(a4s_errno_name(-EAGAIN));
	ck_assert_ptr_null(a4s_errno_name(4095));
	ck_assert_ptr_null(a4s_errno_name(INT_MAX));
	ck_assert_ptr_null(a4s_errno_name(INT_MIN));
}
END_TEST

START_TEST(every_errno_glibc_names_has_the_same_name)
{
	int named = 0;
	for (int e = 1; e < 4096; e++) {
		const char *theirs = strerrorname_np(e);
		const char *ours = a4s_errno_name(e);
		if (!theirs) {
			ck_assert_msg(ours == NULL, "%d: we say %s, glibc knows none", e, ours);
			continue;
		}
		ck_assert_msg(ours != NULL, "%d (%s) has no name", e, theirs);
		ck_assert_str_eq(ours, theirs);
		named++;
	}
	ck_assert_int_ge(named, 130);
}
END_TEST

/* a4s_fdstate_apply on one end of a socketpair. */
struct pair {
	int fd, other;
};

static struct pair new_pair(void)
{
	int sv[2];
	T_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	return (struct pair){ sv[0], sv[1] };
}

static void close_pair(struct pair p)
{
	close(p.fd);
	close(p.other);
}

/* What the descriptor has now, read with fcntl. */
static struct a4s_fdstate observed(int fd)
{
	struct a4s_fdstate st;
	memset(&st, 0, sizeof(st));
	st.status = t_status_flags(fd) & A4S_INHERITED_STATUS;
	st.cloexec = t_cloexec(fd);
	T_CHECK(fcntl(fd, F_GETOWN_EX, &st.owner) == 0);
	st.sig = fcntl(fd, F_GETSIG);
	T_CHECK(st.sig >= 0);
	return st;
}

static void assert_same(const struct a4s_fdstate *a, const struct a4s_fdstate *b)
{
	T_ASSERT(a->status == b->status, "status %#x, want %#x", a->status, b->status);
	T_ASSERT(a->cloexec == b->cloexec, "cloexec %d, want %d", a->cloexec, b->cloexec);
	T_ASSERT(a->owner.pid == b->owner.pid, "owner %d, want %d", a->owner.pid, b->owner.pid);
	if (a->owner.pid)
		T_ASSERT(a->owner.type == b->owner.type, "owner type %d, want %d",
			 a->owner.type, b->owner.type);
	T_ASSERT(a->sig == b->sig, "sig %d, want %d", a->sig, b->sig);
}

/* The properties one by one; bit i of a mask says property i differs. */
enum { P_CLOEXEC, P_OWNER, P_SIG, P_NONBLOCK, P_ASYNC, P_COUNT };

static struct a4s_fdstate with(unsigned mask)
{
	struct a4s_fdstate st;
	a4s_fdstate_fresh(&st, 0);
	if (mask & (1u << P_CLOEXEC))
		st.cloexec = true;
	if (mask & (1u << P_OWNER)) {
		st.owner.type = F_OWNER_PID;
		st.owner.pid = getpid();
	}
	if (mask & (1u << P_SIG))
		st.sig = SIGUSR1;
	if (mask & (1u << P_NONBLOCK))
		st.status |= O_NONBLOCK;
	if (mask & (1u << P_ASYNC))
		st.status |= O_ASYNC;
	return st;
}

/* O_NONBLOCK and O_ASYNC are one property to fcntl: both go in one F_SETFL. */
static int calls_for(unsigned mask)
{
	int n = 0;
	for (int p = P_CLOEXEC; p <= P_SIG; p++)
		n += (mask >> p) & 1;
	return n + ((mask & ((1u << P_NONBLOCK) | (1u << P_ASYNC))) != 0);
}

static const long fcntl_nr[] = { SYS_fcntl };

/* Every subset of the properties: from a fresh socket to that state costs
 * exactly one fcntl per differing property, counted by the kernel's
 * seccomp notifications, not by the function's own word. */
static void each_difference_costs_one_fcntl(void *arg)
{
	(void)arg;
	t_count_syscalls(fcntl_nr, 1);
	for (unsigned mask = 0; mask < (1u << P_COUNT); mask++) {
		struct pair p = new_pair();
		struct a4s_fdstate have, want = with(mask);
		a4s_fdstate_fresh(&have, 0);
		long before = t_syscalls_counted(SYS_fcntl);
		int r = a4s_fdstate_apply(p.fd, &have, &want);
		long made = t_syscalls_counted(SYS_fcntl) - before;
		T_ASSERT(r == calls_for(mask), "mask %#x: returned %d, want %d", mask, r,
			 calls_for(mask));
		T_ASSERT(made == calls_for(mask), "mask %#x: %ld fcntl calls, want %d", mask,
			 made, calls_for(mask));
		struct a4s_fdstate now = observed(p.fd);
		assert_same(&now, &want);
		close_pair(p);
	}
}

START_TEST(each_differing_property_costs_exactly_one_fcntl)
{
	T_IN_CHILD(each_difference_costs_one_fcntl, NULL);
}
END_TEST

/* Equal states, whatever they hold, cost nothing: not even a read. */
static void equal_states_cost_nothing(void *arg)
{
	(void)arg;
	struct pair p = new_pair();
	t_count_syscalls(fcntl_nr, 1);
	for (unsigned mask = 0; mask < (1u << P_COUNT); mask++) {
		struct a4s_fdstate st = with(mask);
		long before = t_syscalls_counted(SYS_fcntl);
		T_ASSERT(a4s_fdstate_apply(p.fd, &st, &st) == 0, "mask %#x", mask);
		T_ASSERT(t_syscalls_counted(SYS_fcntl) == before, "mask %#x: fcntl called", mask);
	}
	close_pair(p);
}

START_TEST(equal_states_cost_no_system_call)
{
	T_IN_CHILD(equal_states_cost_nothing, NULL);
}
END_TEST

/* fresh() is what accept4(flags) gives on Linux: exactly the flags. */
START_TEST(a_fresh_socket_has_exactly_the_flags_asked_for)
{
	static const int flags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };
	for (size_t i = 0; i < 4; i++) {
		struct a4s_fdstate st;
		memset(&st, 0x55, sizeof(st));
		a4s_fdstate_fresh(&st, flags[i]);
		ck_assert_int_eq(st.status, (flags[i] & SOCK_NONBLOCK) ? O_NONBLOCK : 0);
		ck_assert_int_eq(st.cloexec, (flags[i] & SOCK_CLOEXEC) != 0);
		ck_assert_int_eq(st.owner.pid, 0);
		ck_assert_int_eq(st.sig, 0);
		/* And it matches a real socket made with those flags. */
		int fd = socket(AF_UNIX, SOCK_STREAM | flags[i], 0);
		ck_assert_int_ge(fd, 0);
		struct a4s_fdstate real = observed(fd);
		assert_same(&real, &st);
		close(fd);
	}
}
END_TEST

/* The first failing fcntl's -errno comes back; owner and signal were
 * already set when O_ASYNC's F_SETFL failed, as the SPEC orders. */
static void failing_step(void *arg)
{
	(void)arg;
	struct pair p = new_pair();
	t_seccomp_fail_fcntl(F_SETFL, EIO);
	struct a4s_fdstate have, want = with((1u << P_OWNER) | (1u << P_SIG) | (1u << P_ASYNC));
	a4s_fdstate_fresh(&have, 0);
	int r = a4s_fdstate_apply(p.fd, &have, &want);
	T_ASSERT(r == -EIO, "returned %d, want -EIO", r);
	struct a4s_fdstate now = observed(p.fd);
	T_ASSERT(now.owner.pid == getpid(), "owner %d not set before O_ASYNC", now.owner.pid);
	T_ASSERT(now.sig == SIGUSR1, "signal %d not set before O_ASYNC", now.sig);
	T_ASSERT(now.status == 0, "status %#x set though F_SETFL failed", now.status);

	/* A failing F_SETFD stops before anything else is touched. */
	t_seccomp_fail_fcntl(F_SETFD, EPERM);
	struct pair q = new_pair();
	want = with((1u << P_CLOEXEC) | (1u << P_OWNER));
	r = a4s_fdstate_apply(q.fd, &have, &want);
	T_ASSERT(r == -EPERM, "returned %d, want -EPERM", r);
	now = observed(q.fd);
	T_ASSERT(now.owner.pid == 0, "owner set after F_SETFD failed");
	close_pair(p);
	close_pair(q);
}

START_TEST(a_failing_step_returns_its_errno_and_owner_and_signal_go_first)
{
	T_IN_CHILD(failing_step, NULL);
}
END_TEST

/* ---- the fork window's pure pieces (docs/fork-window.md) ---- */

static char state_of(const char *line)
{
	return a4s_stat_state(line, strlen(line));
}

START_TEST(a_stat_line_gives_its_state_whatever_the_command_name)
{
	ck_assert_int_eq(state_of("123 (server) S 1 123 123 0"), 'S');
	ck_assert_int_eq(state_of("7 (a) b) R 1 7"), 'R');
	ck_assert_int_eq(state_of("7 ()) () D 1"), 'D');
	ck_assert_int_eq(state_of("7 (x)"), 0);
	ck_assert_int_eq(state_of("no parenthesis at all"), 0);
	ck_assert_int_eq(state_of(""), 0);
}
END_TEST

static atomic_int sleeper_tid;

static void *sleep_long(void *arg)
{
	(void)arg;
	atomic_store(&sleeper_tid, (int)syscall(SYS_gettid));
	pause();
	return NULL;
}

static void *exit_at_once(void *arg)
{
	*(int *)arg = (int)syscall(SYS_gettid);
	return NULL;
}

START_TEST(a_thread_is_waited_for_while_it_runs_briefly_asleep_and_not_once_gone)
{
	int self = (int)syscall(SYS_gettid);
	ck_assert_int_eq(a4s_task_state(self), A4S_TASK_RUNS);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, sleep_long, NULL), 0);
	for (int i = 0; i < 5000 && (!atomic_load(&sleeper_tid) ||
				     a4s_task_state(atomic_load(&sleeper_tid)) != A4S_TASK_ASLEEP); i++)
		usleep(1000);
	int asleep = atomic_load(&sleeper_tid);
	ck_assert_int_eq(a4s_task_state(asleep), A4S_TASK_ASLEEP);
	int gone = 0;
	pthread_t g;
	ck_assert_int_eq(pthread_create(&g, NULL, exit_at_once, &gone), 0);
	ck_assert_int_eq(pthread_join(g, NULL), 0);
	ck_assert_int_eq(a4s_task_state(gone), A4S_TASK_GONE);

	uint64_t nap = 0, ms = A4S_MS;
	/* Everyone gets the first millisecond. */
	ck_assert(a4s_worth_waiting(gone, 0, &nap) && nap == ms);
	ck_assert(!a4s_worth_waiting(gone, ms, &nap));
	ck_assert(a4s_worth_waiting(asleep, 19 * ms, &nap) && nap <= 5 * ms);
	ck_assert(!a4s_worth_waiting(asleep, 20 * ms, &nap));
	ck_assert(a4s_worth_waiting(self, 999 * ms, &nap));
	ck_assert(!a4s_worth_waiting(self, 1000 * ms, &nap));
	/* An id not known yet: waited for as one that runs. */
	ck_assert(a4s_worth_waiting(0, 500 * ms, &nap));
	ck_assert(!a4s_worth_waiting(0, 1000 * ms, &nap));
	pthread_cancel(t);
	pthread_join(t, NULL);
}
END_TEST

static void nothing(int sig)
{
	(void)sig;
}

static void handlers_sorted(void *arg)
{
	(void)arg;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nothing;
	sa.sa_flags = SA_RESTART;
	T_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	T_CHECK(sigaction(SIGHUP, &sa, NULL) == 0);
	sa.sa_flags = 0;
	T_CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
	T_CHECK(sigaction(SIGWINCH, &sa, NULL) == 0);
	signal(SIGPIPE, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGWINCH); /* blocked: its handler cannot run */
	T_CHECK(sigprocmask(SIG_BLOCK, &block, NULL) == 0);
	struct a4s_wait w;
	T_ASSERT(a4s_wait_read_handlers(&w), "read the handlers");
#define BIT(sig) (1ull << ((sig) - 1))
	T_ASSERT((w.restart & (BIT(SIGUSR1) | BIT(SIGHUP))) == (BIT(SIGUSR1) | BIT(SIGHUP)),
		 "SA_RESTART handlers %#llx", (unsigned long long)w.restart);
	T_ASSERT(w.interrupt & BIT(SIGUSR2), "SIGUSR2 %#llx", (unsigned long long)w.interrupt);
	T_ASSERT(!((w.restart | w.interrupt) & (BIT(SIGWINCH) | BIT(SIGPIPE))),
		 "a blocked or ignored signal counted");
	T_ASSERT(w.blocked & BIT(SIGWINCH), "the mask");
	/* Those the C library keeps for itself never count. */
	for (int sig = 32; sig < SIGRTMIN; sig++)
		T_ASSERT(!((w.restart | w.interrupt) & BIT(sig)), "signal %d counted", sig);
}

START_TEST(the_handlers_that_could_run_decide_how_a_wait_ends)
{
	T_IN_CHILD(handlers_sorted, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("flags");
	tcase_add_test(tc, flags_are_named_as_the_trace_writes_them);
	tcase_add_test(tc, a_flag_name_that_does_not_fit_is_marked_full);
	tcase_add_test(tc, only_sock_nonblock_and_sock_cloexec_are_valid);
	suite_add_tcase(s, tc);
	tc = tcase_create("mode");
	tcase_add_test(tc, native_is_wanted_by_native_always_and_by_auto_until_switched);
	tcase_add_test(tc, only_enosys_in_auto_mode_switches_to_emulation);
	suite_add_tcase(s, tc);
	tc = tcase_create("errnames");
	tcase_add_test(tc, errno_names_are_the_symbolic_ones);
	tcase_add_test(tc, every_errno_glibc_names_has_the_same_name);
	suite_add_tcase(s, tc);
	tc = tcase_create("fdstate");
	tcase_add_test(tc, a_fresh_socket_has_exactly_the_flags_asked_for);
	suite_add_tcase(s, tc);
	tc = tcase_create("forkwindow");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, a_stat_line_gives_its_state_whatever_the_command_name);
	tcase_add_test(tc, a_thread_is_waited_for_while_it_runs_briefly_asleep_and_not_once_gone);
	tcase_add_test(tc, the_handlers_that_could_run_decide_how_a_wait_ends);
	suite_add_tcase(s, tc);
	/* valgrind does not implement seccomp(2): its runs leave these out. */
	tc = tcase_create("fdstate-counted");
	tcase_set_tags(tc, "seccomp");
	tcase_add_test(tc, each_differing_property_costs_exactly_one_fcntl);
	tcase_add_test(tc, equal_states_cost_no_system_call);
	tcase_add_test(tc, a_failing_step_returns_its_errno_and_owner_and_signal_go_first);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
