/*
 * A per-thread memo: a short text kept with the key it was made from, so
 * that the record formatter copies it instead of making it again while the
 * key stays the same (the minute of the timestamp, the thread's pid and
 * tid, the listener's address). The text only ever depends on the key, so
 * a memo is right wherever its key is: in a forked child (which gets a copy
 * of the forking thread's memos), after a listener is replaced.
 *
 * Async-signal-safe. A memo belongs to one thread, so the only other party
 * is that thread's own signal handlers, which run to their end before the
 * code they interrupted goes on. A generation count, as in a seqlock:
 *   - a reader takes the generation (it must be even, and not 0, the empty
 *     memo of a new thread), copies, and keeps the copy only if the
 *     generation is still the same; a handler that rewrote the memo
 *     meanwhile left it changed, and the reader makes the text itself;
 *   - a writer claims the memo by making the generation odd, with one
 *     compare-and-swap so that the claim is one step even for a handler,
 *     fills it and makes it even again; a handler that finds it odd neither
 *     reads nor writes it.
 * So no handler ever sees a half-written memo or leaves one behind.
 */
#ifndef A4S_MEMO_H
#define A4S_MEMO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sys.h"

/* The text is always copied whole, a few fixed moves: a reader's buffer
 * must have room for A4S_MEMO_TEXT bytes. */
#define A4S_MEMO_TEXT 32

struct a4s_memo {
	atomic_uint gen;
	unsigned char len;
	uint64_t key;
	char text[A4S_MEMO_TEXT];
};

/* initial-exec: the library is preloaded (or linked in), so its TLS is
 * static and reading it never calls into the dynamic linker. */
#define A4S_THREAD_MEMO static __thread struct a4s_memo __attribute__((tls_model("initial-exec")))

/* The generation to read under, or 0 when the memo cannot be read. */
static inline unsigned a4s_memo_begin(const struct a4s_memo *m)
{
	unsigned g = atomic_load_explicit(&m->gen, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	return g & 1 ? 0 : g;
}

/* The text (whole, whatever its length) to p; its end, if what was copied
 * is still what the memo held under g; NULL if not. */
static inline __attribute__((always_inline)) char *a4s_memo_copy(const struct a4s_memo *m,
								  unsigned g, char *p)
{
	__builtin_memcpy(p, m->text, A4S_MEMO_TEXT);
	size_t len = m->len;
	atomic_signal_fence(memory_order_seq_cst);
	return atomic_load_explicit(&m->gen, memory_order_relaxed) == g ? p + len : NULL;
}

/* The text for key, copied to p; its end, or NULL if the memo holds
 * another key (or none). */
static inline __attribute__((always_inline)) char *a4s_memo_get(const struct a4s_memo *m,
								 uint64_t key, char *p)
{
	unsigned g = a4s_memo_begin(m);
	if (!g || m->key != key)
		return NULL;
	return a4s_memo_copy(m, g, p);
}

/* Keeps text (len <= A4S_MEMO_TEXT of the A4S_MEMO_TEXT bytes read from
 * it, to copy them as fixed moves too) for key, unless the memo is being
 * written by the code this handler interrupted. */
A4S_HIDDEN void a4s_memo_put(struct a4s_memo *m, uint64_t key, const char *text, size_t len);

#endif
