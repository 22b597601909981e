#include "stats.h"

#include <stdatomic.h>
#include <string.h>

#include "interval.h"
#include "self.h"

struct a4s_live_counters a4s_live;
/* Apart from the counts the summaries carry: a fault of the fork window
 * (gate.h), read through accept4shim_get_stats. */
static _Atomic uint64_t fork_window_timeouts;

#define ADD(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)
#define GET(c) ((uint64_t)atomic_load_explicit(&(c), memory_order_relaxed))

void a4s_stats_count(const struct a4s_call *c, int result)
{
	if (result >= 0)
		a4s_stats_accepted();
	else
		a4s_stats_failed(-result);
	if (c->emulated)
		a4s_stats_emulated();
	if (c->retries) {
		ADD(a4s_live.retried_calls, 1);
		ADD(a4s_live.retries, c->retries);
	}
}

void a4s_stats_dropped(void)
{
	ADD(a4s_live.dropped, 1);
}

void a4s_stats_window_timeout(void)
{
	ADD(fork_window_timeouts, 1);
}

void a4s_counters_clear(struct a4s_counters *c)
{
	atomic_store(&c->calls, 0);
	atomic_store(&c->accepted, 0);
	atomic_store(&c->failed, 0);
	atomic_store(&c->emulated, 0);
	atomic_store(&c->retried_calls, 0);
	atomic_store(&c->retries, 0);
	atomic_store(&c->dropped, 0);
	for (int i = 0; i < ACCEPT4SHIM_ERRNO_SLOTS; i++)
		atomic_store(&c->errors[i], 0);
}

void a4s_stats_reset(void)
{
	atomic_store(&a4s_live.accepted, 0);
	atomic_store(&a4s_live.emulated, 0);
	atomic_store(&a4s_live.retried_calls, 0);
	atomic_store(&a4s_live.retries, 0);
	atomic_store(&a4s_live.dropped, 0);
	for (int i = 0; i < ACCEPT4SHIM_ERRNO_SLOTS; i++)
		atomic_store(&a4s_live.errors[i], 0);
	atomic_store(&fork_window_timeouts, 0);
	a4s_interval_reset();
}

void a4s_stats_snapshot(struct accept4shim_stats *s)
{
	a4s_self_check(); /* a new process's counts start at 0 */
	s->failed = 0;
	for (int i = 0; i < ACCEPT4SHIM_ERRNO_SLOTS; i++) {
		s->errors[i] = GET(a4s_live.errors[i]);
		s->failed += s->errors[i];
	}
	s->accepted = GET(a4s_live.accepted);
	s->calls = s->accepted + s->failed;
	s->emulated = GET(a4s_live.emulated);
	s->retried_calls = GET(a4s_live.retried_calls);
	s->retries = GET(a4s_live.retries);
	s->dropped = GET(a4s_live.dropped);
	s->fork_window_timeouts = GET(fork_window_timeouts);
}

void a4s_stats_to_summary(const struct accept4shim_stats *s, struct a4s_summary *sum)
{
	sum->calls = s->calls;
	sum->accepted = s->accepted;
	sum->failed = s->failed;
	sum->emulated = s->emulated;
	sum->retried_calls = s->retried_calls;
	sum->retries = s->retries;
	sum->dropped = s->dropped;
	sum->errors = s->errors;
	sum->nerrors = ACCEPT4SHIM_ERRNO_SLOTS;
}

size_t a4s_stats_summary(enum a4s_log_format fmt, char *buf, size_t size)
{
	struct accept4shim_stats s;
	a4s_stats_snapshot(&s);
	if (!s.calls)
		return 0;
	struct a4s_summary sum = { .pid = a4s_self_pid() };
	a4s_stats_to_summary(&s, &sum);
	clock_gettime(CLOCK_REALTIME, &sum.ts);
	return a4s_format_summary(&sum, fmt, buf, size);
}

__attribute__((visibility("default"))) int
accept4shim_get_stats(struct accept4shim_stats *out, size_t size)
{
	/* An older caller's struct may be shorter, never shorter than the
	 * fixed counters; copy what it has room for. */
	struct accept4shim_stats s;
	if (!out || size < offsetof(struct accept4shim_stats, errors)) {
		errno = EINVAL;
		return -1;
	}
	a4s_stats_snapshot(&s);
	memcpy(out, &s, size < sizeof(s) ? size : sizeof(s));
	return 0;
}
