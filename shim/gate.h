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

#include "clock.h"
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

A4S_HIDDEN void a4s_gate_read_begin(struct a4s_gate_pass *p);
/* True when a writer stopped waiting for this reader: it stayed inside
 * far longer than an accept that does not block takes. */
A4S_HIDDEN bool a4s_gate_read_end(const struct a4s_gate_pass *p);

A4S_HIDDEN void a4s_gate_write_begin(struct a4s_gate_pass *p);
/* Safe to call twice for one pass (the vfork child and its parent both
 * do): only the first ends it. */
A4S_HIDDEN void a4s_gate_write_end(const struct a4s_gate_pass *p);

/* In a new process (the child of fork or _Fork, which has one thread):
 * the gate as if no thread had ever passed. */
A4S_HIDDEN void a4s_gate_new_process(void);

#endif
