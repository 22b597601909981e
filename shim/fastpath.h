/*
 * The fast path: what the common call needs in this process, decided once
 * and read by the exported accept and accept4 in one load (entry.c).
 *
 * Most calls need nothing but the accept itself and a counter: no retry
 * loop, nothing inherited from the listener. For them the exported entry
 * does only that: the real accept4 with the added flags (or, emulating, the
 * accept and one system call per flag) and one counter, and, where the
 * configuration asks for them, a trace record and the interval summary's
 * check after it. Everything else (ACCEPT4SHIM_RETRY=on, INHERIT=bsd for
 * accept(), unknown flags, a process before its first call) takes the
 * general path (accept_path.c), which is unchanged.
 *
 * The decision is one word, decided when the configuration is loaded and
 * again when something changes it: MODE=auto's switch to emulation (mode.c),
 * a configuration a second copy stands aside with (init.c parses it like any
 * other). It is published in the page that self.h wipes in every child made
 * by fork, _Fork or clone, next to the cached pid: so one load tells both
 * "this process's state is its own" and "what the call needs", and a new
 * process finds 0 there, takes the general path, which notices the new
 * process and resets for it (self.h), and publishes the word again. A
 * process whose page cannot be wiped in children (self.h) never publishes
 * it, and every call takes the general path.
 *
 * 0 means the general path, which is what zeroed memory says before the
 * library is loaded, and in a new process before its first call.
 */
#ifndef A4S_FASTPATH_H
#define A4S_FASTPATH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "config.h"
#include "flags.h"
#include "self.h"

/* accept4 takes the fast path (with flags the kernel accepts: any other
 * goes to the general path, which says EINVAL before anything). */
#define A4S_FAST_ACCEPT4 0x1
/* accept takes it too (INHERIT=linux: nothing is read from the listener). */
#define A4S_FAST_ACCEPT 0x2
/* The flags are set by the library: accept, then FD_CLOEXEC inside the fork
 * window and O_NONBLOCK (MODE=emulate, or MODE=auto once switched). */
#define A4S_FAST_EMULATE 0x4
/* MODE=auto not yet switched: ENOSYS from accept4 switches the process to
 * emulation, and that call goes to the general path (which emulates). */
#define A4S_FAST_AUTO 0x8
/* A trace record after the call (ACCEPT4SHIM_LOG). */
#define A4S_FAST_TRACE 0x10
/* The interval summary's check after it (ACCEPT4SHIM_STATS_INTERVAL). */
#define A4S_FAST_TICK 0x20
/* With A4S_FAST_TRACE: the record goes to the collector's ring
 * (ACCEPT4SHIM_LOG=collector:PATH), which a native call does inline. */
#define A4S_FAST_COLLECT 0x40
/* The other bits are ACCEPT4SHIM_ADD_FLAGS (SOCK_NONBLOCK, SOCK_CLOEXEC),
 * which share no bit with these. */
_Static_assert(((A4S_FAST_ACCEPT4 | A4S_FAST_ACCEPT | A4S_FAST_EMULATE | A4S_FAST_AUTO |
		 A4S_FAST_TRACE | A4S_FAST_TICK | A4S_FAST_COLLECT) &
		A4S_KNOWN_FLAGS) == 0,
	       "the fast word's bits and the flags overlap");

/* The decision, pure: what a call needs under cfg, given whether MODE=auto
 * has switched to emulation. 0: the general path. */
A4S_HIDDEN int a4s_fast_decide(const struct a4s_config *cfg, bool switched);

/* At load, after the real functions are bound: decides for the loaded
 * configuration. Publishes nothing (the first general call does). */
A4S_HIDDEN void a4s_fast_configure(const struct a4s_config *cfg);
/* MODE=auto has switched the process to emulation: decides again. */
A4S_HIDDEN void a4s_fast_mode_switched(void);
/* The decision in force, for this process. */
static inline int a4s_fast_word(void)
{
	return atomic_load_explicit(&a4s_self_page.fast, memory_order_acquire);
}

/* The decision for the loaded configuration, whether published or not. */
A4S_HIDDEN extern atomic_int a4s_fast_wanted;
A4S_HIDDEN void a4s_fast_publish_slow(void);
/* After a call of the general path: publishes the decision in this
 * process's page if it is not there yet (a new process, a first call). */
static inline void a4s_fast_publish(void)
{
	if (__builtin_expect(atomic_load_explicit(&a4s_fast_wanted, memory_order_relaxed) !=
				     atomic_load_explicit(&a4s_self_page.fast, memory_order_relaxed),
			     0))
		a4s_fast_publish_slow();
}

/* The loaded configuration, set before any word is published, for the
 * trace and the interval summaries of a fast call. */
A4S_HIDDEN extern const struct a4s_config *a4s_fast_cfg;

#endif
