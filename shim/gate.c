#include "gate.h"

#include <pthread.h>
#include <stdatomic.h>

#include "futex.h"
#include "self.h"
#include "serial.h"
#include "stats.h"
#include "taskstate.h"

/*
 * Slots instead of counters, so that each waiter knows whom it waits for:
 * its own thread (never waited for), a thread already waited out (never
 * waited for again), a writer too old to be making a child still.
 *
 * A reader slot's word is as gate.h says. A writer slot's word is
 * (start in ms << 32) | serial, its age readable in the same load.
 *
 * Ordering: a reader takes its slot, then reads writers_held; a writer
 * counts itself in writers_held, then reads the reader slots. All seq_cst,
 * so of a reader and a writer arriving together at least one sees the
 * other: the reader steps back, or the writer waits for it.
 */
enum { READERS = A4S_GATE_READERS, WRITERS = 16 };

struct a4s_gate_reader a4s_gate_readers[READERS];
#define readers a4s_gate_readers
static _Atomic uint64_t writers[WRITERS];
atomic_uint a4s_gate_writers_held;
#define writers_held a4s_gate_writers_held
static _Atomic uint64_t readers_waiting_since; /* ns; 0: none waits */
/* Sleepers wait on `changes`; whoever changes what they wait for bumps
 * it, and calls the kernel only when someone sleeps. */
static atomic_uint changes;
static atomic_uint sleepers;

__thread int a4s_gate_preferred __attribute__((tls_model("initial-exec")));
#define preferred a4s_gate_preferred

#define SERIAL(w) ((uint32_t)(w))
#define HIGH(w) ((uint32_t)((w) >> 32))

static uint32_t ms(uint64_t ns)
{
	return (uint32_t)(ns / A4S_MS);
}

void a4s_gate_changed(void)
{
	atomic_fetch_add(&changes, 1);
	if (atomic_load(&sleepers))
		a4s_futex_wake_all(&changes);
}

/* Between sleep_begin and sleep_end the caller checks its condition and,
 * if it must wait, naps: a change made after the check wakes the nap,
 * one made before it was seen by the check. */
static unsigned sleep_begin(void)
{
	atomic_fetch_add(&sleepers, 1);
	return atomic_load(&changes);
}

static void nap(unsigned seen, uint64_t ns)
{
	/* Short naps: staleness is a matter of time, re-checked each round. */
	if (ns > 20 * A4S_MS)
		ns = 20 * A4S_MS;
	a4s_futex_wait(&changes, seen, ns);
}

static void sleep_end(void)
{
	atomic_fetch_sub(&sleepers, 1);
}

/* ---- readers ---------------------------------------------------------- */

static bool take_reader_slot(uint32_t me, struct a4s_gate_pass *p)
{
	int start = preferred ? preferred - 1 : (int)(me % READERS);
	for (int n = 0; n < READERS; n++) {
		int i = (start + n) % READERS;
		uint64_t w = atomic_load(&readers[i].word);
		/* Free, or held by a stay a writer gave up on (stuck, or left
		 * by a longjmp): taken over, its holder's end then does nothing. */
		if (SERIAL(w) != 0 && w != atomic_load(&readers[i].ignored))
			continue;
		uint64_t mine = (uint64_t)(HIGH(w) + 1u) << 32 | me;
		if (atomic_compare_exchange_strong(&readers[i].word, &w, mine)) {
			atomic_store_explicit(&readers[i].who,
					      (uint64_t)HIGH(mine) << 32 | (uint32_t)a4s_self_tid(),
					      memory_order_relaxed);
			preferred = i + 1;
			p->slot = i;
			p->word = mine;
			return true;
		}
	}
	p->slot = -1;
	return false;
}

static void drop_reader_slot(const struct a4s_gate_pass *p)
{
	uint64_t w = p->word;
	atomic_compare_exchange_strong(&readers[p->slot].word, &w, (uint64_t)HIGH(p->word) << 32);
}

/*
 * Whether a writer of another thread may be making a child now. One older
 * than A4S_GATE_STALE_NS is let go of here, its slot freed: it has long
 * copied its descriptor table, or it never came back (a signal handler
 * longjmp'd out of its fork). Counted: if it was in fact still about to
 * clone, the reader that goes ahead may reach its child.
 */
static bool other_writer_active(uint32_t me)
{
	bool active = false;
	uint32_t now = ms(a4s_monotonic_ns());
	for (int i = 0; i < WRITERS; i++) {
		uint64_t w = atomic_load(&writers[i]);
		if (SERIAL(w) == 0 || SERIAL(w) == me)
			continue;
		if (now - HIGH(w) < A4S_GATE_STALE_NS / A4S_MS) {
			active = true;
		} else if (atomic_compare_exchange_strong(&writers[i], &w, 0)) {
			atomic_fetch_sub(&writers_held, 1);
			a4s_stats_window_timeout();
		}
	}
	return active;
}

/* Whether this thread is already inside the window lower down its stack:
 * a signal handler interrupted it there and accepts now. A writer is then
 * waiting for that outer stay, and would wait for this one too: waiting
 * for the writer here would be waiting for ourselves. */
static bool inside_already(uint32_t me, int except)
{
	for (int i = 0; i < READERS; i++) {
		uint64_t w = atomic_load(&readers[i].word);
		if (i != except && SERIAL(w) == me && w != atomic_load(&readers[i].ignored))
			return true;
	}
	return false;
}

/* Outside the window, holding nothing: until no writer of another thread
 * is active. Ends because every writer ends its pass or turns stale. */
static void wait_for_writers(uint32_t me)
{
	for (;;) {
		uint64_t none = 0;
		atomic_compare_exchange_strong(&readers_waiting_since, &none, a4s_monotonic_ns());
		unsigned seen = sleep_begin();
		bool busy = atomic_load(&writers_held) != 0 && other_writer_active(me);
		if (busy)
			nap(seen, A4S_GATE_STALE_NS);
		sleep_end();
		if (!busy)
			return;
		/* accept is a cancellation point, and this thread holds
		 * nothing here: a cancel acts now, not after the wait. */
		uint64_t mark = atomic_load(&readers_waiting_since);
		atomic_compare_exchange_strong(&readers_waiting_since, &mark, 0);
		pthread_testcancel();
	}
}

void a4s_gate_read_begin_slow(struct a4s_gate_pass *p, bool taken)
{
	uint32_t me = a4s_thread_serial();
	bool waited = false;
	for (;;) {
		if (!taken && !take_reader_slot(me, p)) {
			/* 64 threads inside at once, none given up on: go in
			 * without a slot, unprotected, and say so. */
			a4s_stats_window_timeout();
			break;
		}
		taken = false;
		if (__builtin_expect(atomic_load(&writers_held) == 0, 1) ||
		    !other_writer_active(me) || inside_already(me, p->slot))
			break;
		/* Step back out, so the writer need not wait for us. */
		drop_reader_slot(p);
		a4s_gate_changed();
		wait_for_writers(me);
		waited = true;
	}
	if (waited) {
		atomic_store(&readers_waiting_since, 0);
		a4s_gate_changed();
	}
}

/* ---- writers ---------------------------------------------------------- */

/* Readers that had to wait for an earlier writer go first: without this,
 * a thread making children back to back would keep them out until their
 * writers turned stale. Bounded by A4S_GATE_FAIR_WAIT_NS of our own time,
 * and by the age of the mark (a reader that never came back). */
static void yield_to_waiting_readers(uint64_t start)
{
	for (;;) {
		unsigned seen = sleep_begin();
		uint64_t since = atomic_load(&readers_waiting_since);
		uint64_t now = a4s_monotonic_ns();
		if (since && now - since > A4S_GATE_STALE_NS)
			atomic_compare_exchange_strong(&readers_waiting_since, &since, 0);
		bool wait = since && now - since <= A4S_GATE_STALE_NS &&
			    now - start < A4S_GATE_FAIR_WAIT_NS;
		if (wait)
			nap(seen, A4S_GATE_FAIR_WAIT_NS - (now - start));
		sleep_end();
		if (!wait)
			return;
	}
}

/* Ends because writer slots are released or turn stale: at worst after
 * A4S_GATE_STALE_NS, when the writer goes on without one, counted. */
static void take_writer_slot(uint32_t me, struct a4s_gate_pass *p)
{
	uint64_t start = a4s_monotonic_ns();
	for (;;) {
		unsigned seen = sleep_begin();
		uint64_t now = a4s_monotonic_ns();
		uint64_t mine = (uint64_t)ms(now) << 32 | me;
		for (int i = 0; i < WRITERS; i++) {
			uint64_t w = atomic_load(&writers[i]);
			bool stale = SERIAL(w) && ms(now) - HIGH(w) >= A4S_GATE_STALE_NS / A4S_MS;
			if ((SERIAL(w) == 0 || stale) &&
			    atomic_compare_exchange_strong(&writers[i], &w, mine)) {
				if (!stale)
					atomic_fetch_add(&writers_held, 1);
				sleep_end();
				p->slot = i;
				p->word = mine;
				return;
			}
		}
		if (now - start > A4S_GATE_STALE_NS) {
			sleep_end();
			p->slot = -1;
			a4s_stats_window_timeout();
			return;
		}
		nap(seen, A4S_GATE_STALE_NS);
		sleep_end();
	}
}

/* The kernel id of the reader in slot i with word w; 0 while the reader
 * has not stored it for this stay yet. */
static int reader_tid(int i, uint64_t w)
{
	uint64_t who = atomic_load_explicit(&readers[i].who, memory_order_relaxed);
	return HIGH(who) == HIGH(w) ? (int)(uint32_t)who : 0;
}

/*
 * Until no reader of another thread is inside. A reader is inside for a
 * microsecond unless something stops it there: preempted, it is waited for
 * up to A4S_GATE_LONG_WAIT_NS; asleep in the kernel (an accept that blocked
 * after all: another process took the connection) or stopped, up to
 * A4S_GATE_SHORT_WAIT_NS; gone (cancelled in accept, say),
 * A4S_GATE_FIRST_LOOK_NS (a4s_worth_waiting). A reader given up on is
 * marked, so that no later writer waits for the same stay, and counted: the
 * child about to be made may inherit its socket. So is a reader of our own
 * thread, which cannot leave before we return: we are a signal handler on
 * top of it, or it was longjmp'd out of.
 */
static void wait_for_readers(uint32_t me)
{
	uint64_t start = a4s_monotonic_ns();
	bool gave_up = false;
	for (;;) {
		unsigned seen = sleep_begin();
		uint64_t waited = a4s_monotonic_ns() - start, sleep_ns = A4S_GATE_LONG_WAIT_NS;
		bool waiting = false;
		for (int i = 0; i < READERS; i++) {
			uint64_t w = atomic_load(&readers[i].word), this_nap = 0;
			if (SERIAL(w) == 0 || w == atomic_load(&readers[i].ignored))
				continue;
			if (SERIAL(w) != me && a4s_worth_waiting(reader_tid(i, w), waited, &this_nap)) {
				waiting = true;
				if (this_nap < sleep_ns)
					sleep_ns = this_nap;
				continue;
			}
			atomic_store(&readers[i].ignored, w);
			gave_up = true;
		}
		if (waiting)
			nap(seen, sleep_ns);
		sleep_end();
		if (!waiting)
			break;
	}
	if (gave_up)
		a4s_stats_window_timeout();
}

void a4s_gate_write_begin(struct a4s_gate_pass *p)
{
	uint32_t me = a4s_thread_serial();
	yield_to_waiting_readers(a4s_monotonic_ns());
	take_writer_slot(me, p);
	wait_for_readers(me);
}

void a4s_gate_write_end(const struct a4s_gate_pass *p)
{
	if (p->slot < 0)
		return;
	uint64_t w = p->word;
	if (atomic_compare_exchange_strong(&writers[p->slot], &w, 0)) {
		atomic_fetch_sub(&writers_held, 1);
		a4s_gate_changed();
	}
}

void a4s_gate_new_process(void)
{
	for (int i = 0; i < READERS; i++) {
		uint64_t w = atomic_load(&readers[i].word);
		atomic_store(&readers[i].word, (uint64_t)HIGH(w) << 32);
		atomic_store(&readers[i].ignored, 0);
	}
	for (int i = 0; i < WRITERS; i++)
		atomic_store(&writers[i], 0);
	atomic_store(&writers_held, 0);
	atomic_store(&readers_waiting_since, 0);
	atomic_store(&sleepers, 0);
}
