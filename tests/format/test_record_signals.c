/*
 * SPEC "async-signal-safe as the libc's are", for the record formatter's
 * per-thread memos (the timestamp's minute, the pid and tid, the listener's
 * address; shim/memo.h): a signal handler that formats a record while the
 * thread it interrupted is inside the formatter gets a right record, and
 * leaves the memos right for the code it interrupted.
 *
 * Not left to chance: the formatter is single-stepped (the x86 trap flag,
 * one SIGTRAP after every instruction), and
 *   - once: the handler formats its own record at step 1 (and stops the
 *     stepping), then, in the next run, at step 2, and so on until the call
 *     has no step left: every instruction of the formatter is a point where
 *     a handler interrupts it, once, with the memos as the call left them;
 *   - every step: the handler formats a record at every instruction, two
 *     records with other keys in turn, so that the memos change under the
 *     call at every point.
 * After each run both sides' records are formatted again, from what the
 * memos were left holding. Every record is compared with the reference
 * formatter (reference_record.c).
 */
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <ucontext.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

#include "record.h"
#include "reference_record.h"

#if defined(__x86_64__)

#define TRAP_FLAG 0x100

static inline void trap_on(void)
{
	__asm__ volatile("pushfq\n\torq %0, (%%rsp)\n\tpopfq" : : "i"(TRAP_FLAG) : "memory", "cc");
}

static inline void trap_off(void)
{
	__asm__ volatile("pushfq\n\tandq %0, (%%rsp)\n\tpopfq" : : "i"(~TRAP_FLAG) : "memory", "cc");
}

struct side {
	struct a4s_record r;
	struct sockaddr_in local, peer;
	enum a4s_log_format fmt;
};

static struct side outer, inner[2];
static volatile long step, fire_at; /* fire_at 0: at every step */
/* The outer call's line, and the step at which it first held the key that
 * follows the last memo (the listener's address): after it, nothing the
 * call does depends on a memo. */
static char outer_line[A4S_RECORD_MAX];
static volatile long memos_done_at;
static volatile long inner_runs, inner_wrong_at;
static char inner_line[A4S_RECORD_MAX], inner_want[A4S_RECORD_MAX];

static bool right(const struct side *s, char *line, char *want)
{
	size_t n = a4s_format_record(&s->r, s->fmt, line, A4S_RECORD_MAX);
	size_t m = ref_format_record(&s->r, s->fmt, want, A4S_RECORD_MAX);
	return n && n == m && memcmp(line, want, n) == 0;
}

/* What a handler in the host might do: trace an accept of its own. The
 * kernel clears the trap flag for the handler and sigreturn sets it again,
 * so the handler itself is not stepped. */
static void on_trap(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	++step;
	if (fire_at == LONG_MAX && !memos_done_at &&
	    memmem(outer_line, sizeof(outer_line), "flags", 5))
		memos_done_at = step;
	if (fire_at && step != fire_at)
		return;
	const struct side *s = &inner[fire_at ? 0 : step & 1];
	if (!right(s, inner_line, inner_want) && !inner_wrong_at)
		inner_wrong_at = step;
	inner_runs++;
	if (fire_at) /* the rest of the call at full speed */
		((ucontext_t *)uc)->uc_mcontext.gregs[REG_EFL] &= ~TRAP_FLAG;
}

/* What a record's memos are keyed by, and its format. */
struct keys {
	int pid;
	uint16_t port;
	int64_t minute;
	enum a4s_log_format fmt;
};

static void side_init(struct side *s, struct keys k)
{
	memset(s, 0, sizeof(*s));
	s->local = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(k.port),
					 .sin_addr = { htonl(0x7f000001) } };
	s->peer = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(40000),
					.sin_addr = { htonl(0xc0a80a0b) } };
	s->r = (struct a4s_record){
		.ts = { (time_t)(k.minute * 60 + 17), 123456789 }, .pid = k.pid, .tid = k.pid + 1,
		.is_accept4 = true, .listen_fd = 3, .local = (struct sockaddr *)&s->local,
		.local_len = sizeof(s->local), .flags = SOCK_CLOEXEC, .fd = 9,
		.peer = (struct sockaddr *)&s->peer, .peer_len = sizeof(s->peer), .dur_ns = 153,
	};
	s->fmt = k.fmt;
}

static __attribute__((noinline)) size_t stepped_format(char *line)
{
	trap_on();
	size_t n = a4s_format_record(&outer.r, outer.fmt, line, A4S_RECORD_MAX);
	trap_off();
	return n;
}

/* One run of the outer record, stepped, with the handler at `at` (0:
 * every step), after the memos were set to prime's keys. */
static void run(const struct side *prime, long at, const char *want, size_t want_len)
{
	static char scratch[A4S_RECORD_MAX], scratch_want[A4S_RECORD_MAX];
	char *line = outer_line;
	ck_assert(right(prime, scratch, scratch_want));
	memset(outer_line, 0, sizeof(outer_line));
	step = memos_done_at = 0;
	fire_at = at;
	inner_runs = inner_wrong_at = 0;
	size_t n = stepped_format(line);
	ck_assert_msg(n == want_len && memcmp(line, want, n) == 0,
		      "interrupted at step %ld, the record is\n%.*s\nnot\n%.*s", at, (int)n,
		      line, (int)want_len, want);
	ck_assert_msg(!inner_wrong_at, "the handler's record at step %ld is\n%s\nnot\n%s",
		      inner_wrong_at, inner_line, inner_want);
	/* What the memos were left holding, every way. */
	ck_assert_msg(right(&outer, scratch, scratch_want), "after step %ld, outer: %s", at,
		      scratch);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(right(&inner[i], scratch, scratch_want), "after step %ld, inner: %s",
			      at, scratch);
}

/* Returns the steps of the call; *alone: those at which a handler ran
 * alone. */
static long every_point(const struct side *prime, long *alone)
{
	struct sigaction sa = { .sa_sigaction = on_trap, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGTRAP, &sa, NULL), 0);
	static char want[A4S_RECORD_MAX];
	size_t want_len = ref_format_record(&outer.r, outer.fmt, want, sizeof(want));
	/* Undisturbed, to count the steps and see where the memos are done. */
	run(prime, LONG_MAX, want, want_len);
	long steps = step, memo_steps = memos_done_at;
	ck_assert(memo_steps > 0 && memo_steps < steps);
	/* A handler at every step at once, its keys changing each time. */
	run(prime, 0, want, want_len);
	ck_assert_int_eq(inner_runs, step);
	/* A handler at one step, each step in turn until the memos are done:
	 * after that step, a handler can change nothing the call does, and
	 * the handler's own record is the one the run above checked. (Each
	 * run costs as many traps as its step, so all of them would cost the
	 * square of the call's length.) */
	for (long k = 1; k <= memo_steps; k++) {
		run(prime, k, want, want_len);
		ck_assert_int_eq(inner_runs, 1);
	}
	signal(SIGTRAP, SIG_DFL);
	*alone = memo_steps;
	return steps;
}

/* The outer call's keys, the two the handler takes in turn, and those the
 * memos hold before each run. */
static void scenario(const char *what, struct keys o, struct keys i0, struct keys i1,
		     struct keys primed)
{
	struct side prime;
	side_init(&outer, o);
	side_init(&inner[0], i0);
	side_init(&inner[1], i1);
	side_init(&prime, primed);
	long alone;
	long steps = every_point(&prime, &alone);
	ck_assert_int_gt(alone, 50);
	printf("%s: a handler at each of %ld steps at once, and alone at each of the first %ld\n",
	       what, steps, alone);
}

#define JSON A4S_FORMAT_JSON
#define TEXT A4S_FORMAT_TEXT
static const struct keys a_json = { 100, 8080, 29920920, JSON };
static const struct keys a_text = { 100, 8080, 29920920, TEXT };
static const struct keys b_json = { 200, 9090, 29920921, JSON };
static const struct keys b_text = { 200, 9090, 29920921, TEXT };
static const struct keys c_json = { 201, 9091, 4000000000, JSON };
static const struct keys d_json = { 300, 7070, 29920928, JSON };

START_TEST(a_handler_misses_while_the_call_reads_its_memos)
{
	scenario("outer reads, handler writes", a_json, b_json, c_json, a_json);
}
END_TEST

START_TEST(a_handler_hits_while_the_call_writes_its_memos)
{
	scenario("outer writes, handler hits", a_text, b_text, b_text, b_text);
}
END_TEST

START_TEST(a_handler_writes_while_the_call_writes_its_memos)
{
	scenario("both write", a_json, c_json, b_json, d_json);
}
END_TEST

START_TEST(a_handler_with_the_same_keys_and_another_format)
{
	scenario("same keys", a_json, a_text, a_json, a_json);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("record_signals");
	TCase *tc = tcase_create("single-stepped");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, a_handler_misses_while_the_call_reads_its_memos);
	tcase_add_test(tc, a_handler_hits_while_the_call_writes_its_memos);
	tcase_add_test(tc, a_handler_writes_while_the_call_writes_its_memos);
	tcase_add_test(tc, a_handler_with_the_same_keys_and_another_format);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}

#else

int main(void)
{
	/* Not run (ctest SKIP_RETURN_CODE): stepping needs the x86 trap flag. */
	fputs("test_record_signals: single-stepping is only written for x86-64\n", stderr);
	return 77;
}

#endif
