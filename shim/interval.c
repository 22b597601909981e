/*
 * The interval summaries: so that a server killed without running its exit
 * handlers (systemctl stop and docker stop send SIGTERM, and many servers
 * have no handler for it) still leaves its counts behind.
 *
 * No thread, timer or signal of ours: a thread in the program would change
 * what fork and exit do, a timer signal could interrupt the program's own
 * system calls. The first call after the interval has passed writes the
 * summary instead; the price on every call is one clock read (vDSO, no
 * system call) and a compare. A process that makes no call writes nothing,
 * and has nothing new to say.
 *
 * Each interval has exactly one writer however many threads pass the
 * deadline together: the one whose compare-and-swap moves the deadline on.
 * The others see the new deadline and go on. Nothing waits on anything, so
 * a writer stopped, cancelled or longjmp'd out of mid-way holds nobody up.
 */
#include "interval.h"

#include <stdatomic.h>
#include <stdint.h>

#include "clock.h"
#include "self.h"
#include "stats.h"
#include "summaryfmt.h"
#include "summaryout.h"

/* For the reset in a forked child; the call path reads its config's. */
static uint64_t period_ns;
/* The monotonic time at which the current interval ends; UINT64_MAX until
 * the library is loaded, so that a call made meanwhile never writes. */
static _Atomic uint64_t due_ns = UINT64_MAX;
/* What the previous summary counted, and when it was written (or the
 * process started): a summary says the difference. */
static _Atomic uint64_t since_ns;
static struct a4s_counters base;

void a4s_interval_reset(void)
{
	if (!period_ns)
		return;
	uint64_t now = a4s_monotonic_ns();
	atomic_store(&since_ns, now);
	a4s_counters_clear(&base);
	atomic_store(&due_ns, now + period_ns);
}

void a4s_interval_start(const struct a4s_config *cfg)
{
	period_ns = cfg->stats_interval_ns;
	a4s_interval_reset();
}

/*
 * Raises *b to v and says by how much. A maximum, not a store: should a
 * writer stall for a whole interval (stopped, descheduled) while the next
 * one writes, the late one finds its counts already taken and says 0
 * rather than count them twice or go negative.
 */
static uint64_t advance(_Atomic uint64_t *b, uint64_t v)
{
	uint64_t old = atomic_load_explicit(b, memory_order_relaxed);
	while (old < v && !atomic_compare_exchange_weak_explicit(b, &old, v, memory_order_relaxed,
								 memory_order_relaxed))
		;
	return v > old ? v - old : 0;
}

/*
 * Out of line, so that the call path's frame stays small: this one holds
 * two copies of the counters and a line, some 7 kB, once an interval.
 */
static __attribute__((noinline)) void write_summary(const struct a4s_config *cfg, uint64_t now)
{
	uint64_t since = atomic_load(&since_ns);
	while (since < now && !atomic_compare_exchange_weak(&since_ns, &since, now))
		;
	if (since >= now)
		return; /* a later writer has already said it */

	struct accept4shim_stats total, delta;
	a4s_stats_snapshot(&total);
	delta.calls = advance(&base.calls, total.calls);
	delta.accepted = advance(&base.accepted, total.accepted);
	delta.failed = advance(&base.failed, total.failed);
	delta.emulated = advance(&base.emulated, total.emulated);
	delta.retried_calls = advance(&base.retried_calls, total.retried_calls);
	delta.retries = advance(&base.retries, total.retries);
	delta.dropped = advance(&base.dropped, total.dropped);
	for (int i = 0; i < ACCEPT4SHIM_ERRNO_SLOTS; i++)
		delta.errors[i] = advance(&base.errors[i], total.errors[i]);

	struct a4s_summary totals = { 0 };
	a4s_stats_to_summary(&total, &totals);
	struct a4s_summary sum = {
		.pid = a4s_self_pid(),
		.totals = &totals,
		.interval_ns = now - since,
	};
	a4s_stats_to_summary(&delta, &sum);
	clock_gettime(CLOCK_REALTIME, &sum.ts);

	char line[A4S_SUMMARY_MAX];
	size_t len = a4s_format_summary(&sum, cfg->log_format, line, sizeof(line));
	if (len)
		a4s_summary_out(line, len);
	else
		a4s_stats_dropped(); /* every errno, twice, did not fit */
}

void a4s_interval_tick(const struct a4s_config *cfg)
{
	uint64_t due = atomic_load_explicit(&due_ns, memory_order_relaxed);
	uint64_t now = a4s_monotonic_ns();
	if (now < due)
		return;
	/* The next interval is counted from now, not from the deadline: after
	 * an idle hour, one summary, not a burst of catching up. */
	if (!atomic_compare_exchange_strong(&due_ns, &due, now + cfg->stats_interval_ns))
		return; /* another thread has this interval */
	write_summary(cfg, now);
}
