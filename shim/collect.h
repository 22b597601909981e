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

#include "accept_path.h"
#include "config.h"

/* The first hand-over's wait for the collector's answer. A collector
 * answers within its poll loop's wake-up; one that is stopped is not waited
 * for longer than this, once per process. */
#define A4S_COLLECT_HELLO_MS 100

/* At load, with the loaded configuration (log_kind A4S_LOG_COLLECTOR). */
A4S_HIDDEN void a4s_collect_configure(const struct a4s_config *cfg);

/* A finished call's record (its result: the new fd or -errno; its start
 * and end, a4s_monotonic_ns()): into the ring, or dropped there and
 * counted (true); false when the caller is to write it in-process (the
 * process traces in-process, or its ring is still being made by another
 * thread after a wait). Every record goes in, ACCEPT4SHIM_LOG_SKIP's too:
 * the collector leaves them out and counts them. */
A4S_HIDDEN bool a4s_collect_call(const struct a4s_call *c, int result, uint64_t started_ns,
				 uint64_t ended_ns);

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
