/*
 * The fork-window gate: an emulated accept4(SOCK_CLOEXEC) is an accept and
 * then an F_SETFD, and a child made between the two inherits the socket.
 * Readers are threads inside that window (only ever around an accept that
 * does not block, see window.c); writers are threads making a child (fork,
 * vfork, _Fork, posix_spawn, posix_spawnp). A writer waits until no reader
 * of another thread is inside, and readers wait while a writer is making a
 * child, so no window overlaps the moment the kernel copies the descriptor
 * table.
 *
 * No lock: every wait is bounded, and nothing a thread holds here can make
 * another wait for good, whether that thread is interrupted by a signal
 * handler that forks or accepts, longjmps out of a handler, is cancelled or
 * hangs in accept (docs/fork-window.md says why each wait ends):
 *  - a writer waits for readers of other threads: a preempted one up to
 *    A4S_GATE_LONG_WAIT_NS, one asleep in the kernel (an accept that
 *    blocked after all) or stopped A4S_GATE_SHORT_WAIT_NS, one gone
 *    A4S_GATE_FIRST_LOOK_NS (taskstate.h); then it
 *    makes the child anyway, remembers those readers so that no later
 *    writer waits for them again, and counts a fork_window_timeout;
 *  - a reader waits only outside the window, holding nothing, for a writer
 *    of another thread at most until that writer is A4S_GATE_STALE_NS old;
 *  - a writer never waits for its own thread's readers, and a reader never
 *    for its own thread's writers (a handler that forks or accepts on top
 *    of the thread's own call).
 * Everything here is async-signal-safe: atomics and futex calls.
 */
#ifndef A4S_GATE_H
#define A4S_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include <stdatomic.h>

#include "clock.h"
#include "self.h"
#include "serial.h"
#include "sys.h"

#define A4S_MS 1000000ULL
/* A reader's window is an accept that does not block and one fcntl: a
 * microsecond. A writer gives a reader this long before it looks at why
 * the reader is still inside (taskstate.h): a thread gone is given up on
 * then... */
#define A4S_GATE_FIRST_LOOK_NS (1 * A4S_MS)
/* ... one asleep in the kernel or stopped after this long... */
#define A4S_GATE_SHORT_WAIT_NS (20 * A4S_MS)
/* ... and a reader that is only preempted this long: far longer than a
 * scheduler keeps a runnable thread off the CPU, even on a machine loaded
 * ten times over. */
#define A4S_GATE_LONG_WAIT_NS (1000 * A4S_MS)
/* A writer younger than this is waited for. Making a child takes the
 * writer's own wait for readers (at most A4S_GATE_LONG_WAIT_NS), the copy
 * of the descriptor table early in the fork or clone, and for posix_spawn
 * the exec; a writer older than this has long copied the table, or never
 * came back. */
#define A4S_GATE_STALE_NS (2000 * A4S_MS)
/* Readers already waiting go before a new writer, at most this long. */
#define A4S_GATE_FAIR_WAIT_NS (10 * A4S_MS)

/* A pass through the gate, kept by the caller between begin and end. */
struct a4s_gate_pass {
	int slot; /* -1: none was had */
	uint64_t word;
};

/*
 * The readers' side, whose common case (the thread's own slot free, no
 * writer about) is inline, as the emulated accept pays it on every call:
 * a compare-and-swap, a store and a load on the way in, a load, a
 * compare-and-swap and a load on the way out. gate.c has the rest.
 *
 * A reader slot's word is (episode << 32) | serial: the serial (serial.h)
 * of the thread inside (0: free) and a count of the slot's occupations, so
 * that "the reader a writer gave up on" (ignored) names one stay in the
 * window, never the next thread that takes the slot.
 */
enum { A4S_GATE_READERS = 64 };
struct a4s_gate_reader {
	_Atomic uint64_t word;
	_Atomic uint64_t ignored; /* the word of a stay a writer gave up on */
	/* (episode << 32) | kernel thread id, stored after the word is
	 * taken: a writer trusts the id only when the episodes agree. */
	_Atomic uint64_t who;
} __attribute__((aligned(64))); /* readers on different CPUs share no line */
A4S_HIDDEN extern struct a4s_gate_reader a4s_gate_readers[A4S_GATE_READERS];
A4S_HIDDEN extern atomic_uint a4s_gate_writers_held; /* writer slots in use */
/* The slot this thread had last, plus one (0: none yet): each thread keeps
 * finding a free slot at its first probe. */
A4S_HIDDEN extern __thread int a4s_gate_preferred __attribute__((tls_model("initial-exec")));

/* The rest of a4s_gate_read_begin: no slot taken yet (taken is false), or
 * slot p taken while a writer may be about. */
A4S_HIDDEN void a4s_gate_read_begin_slow(struct a4s_gate_pass *p, bool taken);
/* Wakes whoever sleeps on the gate's changes (a writer waiting for us). */
A4S_HIDDEN void a4s_gate_changed(void);

static inline void a4s_gate_read_begin(struct a4s_gate_pass *p)
{
	uint32_t me = a4s_serial;
	int i = a4s_gate_preferred - 1;
	if (__builtin_expect(me != 0 && i >= 0, 1)) {
		struct a4s_gate_reader *r = &a4s_gate_readers[i];
		uint64_t w = atomic_load(&r->word);
		uint64_t mine = (uint64_t)((uint32_t)(w >> 32) + 1u) << 32 | me;
		if (__builtin_expect((uint32_t)w == 0 && atomic_compare_exchange_strong(&r->word, &w,
											mine),
				     1)) {
			atomic_store_explicit(&r->who,
					      (mine & ~0xffffffffull) | (uint32_t)a4s_self_tid(),
					      memory_order_relaxed);
			p->slot = i;
			p->word = mine;
			/* Taken, then writers read: of a writer arriving
			 * now and us, one sees the other (gate.c). */
			if (__builtin_expect(atomic_load(&a4s_gate_writers_held) == 0, 1))
				return;
			a4s_gate_read_begin_slow(p, true);
			return;
		}
	}
	a4s_gate_read_begin_slow(p, false);
}

/* True when a writer stopped waiting for this reader: it stayed inside
 * far longer than an accept that does not block takes. */
static inline bool a4s_gate_read_end(const struct a4s_gate_pass *p)
{
	if (p->slot < 0)
		return false;
	struct a4s_gate_reader *r = &a4s_gate_readers[p->slot];
	bool given_up_on = atomic_load(&r->ignored) == p->word;
	uint64_t w = p->word;
	atomic_compare_exchange_strong(&r->word, &w, p->word & ~0xffffffffull);
	if (atomic_load(&a4s_gate_writers_held))
		a4s_gate_changed(); /* a writer may be waiting for us */
	return given_up_on;
}

A4S_HIDDEN void a4s_gate_write_begin(struct a4s_gate_pass *p);
/* Safe to call twice for one pass (the vfork child and its parent both
 * do): only the first ends it. */
A4S_HIDDEN void a4s_gate_write_end(const struct a4s_gate_pass *p);

/* In a new process (the child of fork or _Fork, which has one thread):
 * the gate as if no thread had ever passed. */
A4S_HIDDEN void a4s_gate_new_process(void);

#endif
