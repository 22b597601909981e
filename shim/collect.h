/*
 * ACCEPT4SHIM_LOG=collector:PATH, the traced process's side: its records go
 * into a ring of binary records in shared memory (ring.h) that
 * accept4shim-collector, listening at PATH, drains, formats and writes.
 * docs/collector.md has the design; this is how the library uses it.
 *
 * The first record makes the process's ring, publishes it (from then on
 * every thread appends there: no system call, no lock), then connects and
 * hands it over (ringlink.h), waiting at most A4S_COLLECT_HELLO_MS for the
 * answer, once per process. Afterwards:
 *
 *  - taken: records go to the ring for the rest of the process's life. A
 *    full ring (a stalled collector, or none any more) drops the record and
 *    counts it, in the ring's header (the collector's summaries say it) and
 *    in the process's own counters. Once a second, on a record (no thread),
 *    the link is looked at: a collector that has gone is looked for again
 *    at PATH and handed the same ring, whose unread records it then takes.
 *  - nobody at PATH, or refused (another user's collector): said once on
 *    stderr, and the process traces in-process to its stderr, with the same
 *    format and skip list, for the rest of its life; records that threads
 *    had put into the ring meanwhile are written there too, each by exactly
 *    one thread (the one that wins its slot's commit word).
 *  - no answer yet (a stalled collector): records go to the ring, and the
 *    answer is read once a second.
 *
 * A new process (fork, _Fork, clone: the per-process reset, fork.c) never
 * writes into its parent's ring: it lets the parent's mapping and
 * descriptors go and makes its own ring at its first record. exec closes
 * both descriptors (close-on-exec), and the collector then sees the end.
 */
#ifndef A4S_COLLECT_H
#define A4S_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "accept_path.h"
#include "config.h"
#include "listeners.h"
#include "ring.h"
#include "self.h"

/* The first hand-over's wait for the collector's answer. A collector
 * answers within its poll loop's wake-up; one that is stopped is not waited
 * for longer than this, once per process. */
#define A4S_COLLECT_HELLO_MS 100

/* At load, with the loaded configuration (log_kind A4S_LOG_COLLECTOR). */
A4S_HIDDEN void a4s_collect_configure(const struct a4s_config *cfg);

/*
 * The process's state, one word:
 * IDLE      no ring yet in this process; the first record makes it.
 * MAKING    one thread is making it (a few system calls): a record that
 *           comes meanwhile waits for it, a little.
 * PENDING   the ring is there and every record goes into it, but no
 *           collector has said it takes it: a writer looks at the state
 *           again after its commit, in case the process has fallen back.
 * TAKEN     a collector took the ring: records go there for good.
 * INPROCESS no collector would take it: records are written in-process.
 */
enum {
	A4S_COLLECT_IDLE,
	A4S_COLLECT_MAKING,
	A4S_COLLECT_PENDING,
	A4S_COLLECT_TAKEN,
	A4S_COLLECT_INPROCESS,
};

/* What every record reads, here so that a record is written inline in the
 * traced call (collect.c owns it): the state, when the link is looked at
 * next, and the ring, written by the thread that makes it before it
 * publishes PENDING (release) and read-only afterwards until a new process
 * resets it. */
struct a4s_collect_hot {
	atomic_int state;
	_Atomic uint64_t check_at_ns;
	struct a4s_ring ring;
};
extern A4S_HIDDEN struct a4s_collect_hot a4s_collect;

/* Out of line, rare: a full ring's count; the once-a-second look at the
 * link; every record that does not find the ring TAKEN (state s). */
A4S_HIDDEN __attribute__((noinline)) void a4s_collect_dropped(const struct a4s_call *c,
								int result);
A4S_HIDDEN __attribute__((noinline)) void a4s_collect_look(uint64_t now, uint64_t due);
A4S_HIDDEN __attribute__((noinline)) bool a4s_collect_slow(const struct a4s_call *c, int result,
							     uint64_t started_ns,
							     uint64_t ended_ns, int s);

/*
 * The record, written straight into its slot: every field, each address
 * by the system call that gives it (the listener's from the cache, or
 * getsockname; the peer's from getpeername) into the slot's own bytes.
 * Those calls return at once, so the reservation is held for a moment,
 * as ring.h asks; a ring that is full costs no getpeername at all.
 */
static inline __attribute__((always_inline)) void a4s_collect_fill(
	struct a4s_ring_record *rec, const struct a4s_call *c, int result,
	const struct timespec *ts, uint64_t started_ns, uint64_t ended_ns)
{
	rec->ts_sec = ts->tv_sec;
	rec->ts_nsec = (uint32_t)ts->tv_nsec;
	rec->pid = a4s_self_pid();
	rec->tid = a4s_self_tid();
	rec->listen_fd = c->listen_fd;
	rec->flags = c->flags;
	rec->fd = result >= 0 ? result : -1;
	rec->err = result >= 0 ? 0 : -result;
	rec->retries = c->retries;
	rec->dur_ns = ended_ns - started_ns;
	rec->call = c->is_accept4 ? A4S_RING_ACCEPT4 : A4S_RING_ACCEPT;
	rec->how = c->emulated ? A4S_RING_EMULATED : A4S_RING_NATIVE;
	_Static_assert(sizeof(rec->local) == sizeof(struct sockaddr_storage) &&
			       sizeof(rec->peer) == sizeof(struct sockaddr_storage) &&
			       offsetof(struct a4s_ring_slot, rec.local) % 8 == 0 &&
			       offsetof(struct a4s_ring_slot, rec.peer) % 8 == 0,
		       "a slot's addresses are sockaddr_storage");
	socklen_t ll = a4s_listener_address(c->listen_fd, result, ended_ns,
					    (struct sockaddr_storage *)(void *)rec->local);
	unsigned has = ll ? A4S_RING_HAS_LOCAL : 0;
	socklen_t pl = sizeof(rec->peer);
	if (result >= 0 && a4s_getpeername(result, (struct sockaddr *)(void *)rec->peer, &pl) == 0)
		has |= A4S_RING_HAS_PEER;
	else
		pl = 0;
	rec->local_len = (uint8_t)(ll < A4S_RING_ADDR_MAX ? ll : A4S_RING_ADDR_MAX);
	rec->peer_len = (uint8_t)(pl < A4S_RING_ADDR_MAX ? pl : A4S_RING_ADDR_MAX);
	rec->has = (uint8_t)has;
}

/* Reserve, fill the slot in place, commit: no lock. The position, or
 * UINT64_MAX when the ring was full (the record counted as dropped). */
static inline __attribute__((always_inline)) uint64_t a4s_collect_append(const struct a4s_call *c,
									  int result,
									  uint64_t started_ns,
									  uint64_t ended_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t pos;
	struct a4s_ring_record *rec = a4s_ring_reserve(&a4s_collect.ring, &pos);
	if (__builtin_expect(!rec, 0)) {
		a4s_collect_dropped(c, result);
		return UINT64_MAX;
	}
	a4s_collect_fill(rec, c, result, &ts, started_ns, ended_ns);
	a4s_ring_commit(&a4s_collect.ring, pos);
	return pos;
}

/* A finished call's record (its result: the new fd or -errno; its start
 * and end, a4s_monotonic_ns()): into the ring, or dropped there and
 * counted (true); false when the caller is to write it in-process (the
 * process traces in-process, or its ring is still being made by another
 * thread after a wait). Every record goes in, ACCEPT4SHIM_LOG_SKIP's too:
 * the collector leaves them out and counts them. No errno is touched
 * (the slow paths put it back). */
static inline __attribute__((always_inline)) bool a4s_collect_call(const struct a4s_call *c,
								   int result,
								   uint64_t started_ns,
								   uint64_t ended_ns)
{
	int s = atomic_load_explicit(&a4s_collect.state, memory_order_acquire);
	if (__builtin_expect(s != A4S_COLLECT_TAKEN, 0))
		return a4s_collect_slow(c, result, started_ns, ended_ns, s);
	uint64_t due = atomic_load_explicit(&a4s_collect.check_at_ns, memory_order_relaxed);
	if (__builtin_expect(ended_ns >= due, 0))
		a4s_collect_look(ended_ns, due);
	a4s_collect_append(c, result, started_ns, ended_ns);
	return true;
}

/* The same, out of line, for the calls that take the general or fast_more
 * path (entry.c). */
A4S_HIDDEN bool a4s_collect_call_outline(const struct a4s_call *c, int result,
					 uint64_t started_ns, uint64_t ended_ns);

/* Whether the summaries are the collector's to write (it has this
 * process's ring): the process then writes none of its own. */
A4S_HIDDEN bool a4s_collect_takes_summaries(void);
/* At exit, before the summary: a hand-over still unanswered gets its
 * answer (at most A4S_COLLECT_HELLO_MS), and a refusal's records are
 * written in-process. */
A4S_HIDDEN void a4s_collect_settle(void);

/* In a new process (fork.c's reset, and the atfork child handler): the
 * parent's ring and socket are let go. Idempotent. */
A4S_HIDDEN void a4s_collect_after_fork(void);

#endif
