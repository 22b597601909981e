/*
 * Bounded text building into a caller's buffer: no malloc, no stdio, no
 * locale, so it is safe inside a signal handler. A write that does not fit
 * sets .full and leaves the buffer as it was up to that point; callers
 * decide whether a cut line is still worth having.
 */
#ifndef A4S_TEXT_H
#define A4S_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sys.h"

struct a4s_buf {
	char *p;
	size_t size;
	size_t len;
	bool full;
};

#define A4S_BUF_INIT(array) { (array), sizeof(array), 0, false }

/* Inline, so that the length of a literal is known at compile time and a
 * short copy needs no call. (The trace record itself is written unchecked
 * into a buffer known to be large enough: record.c.) */
static inline void a4s_put_bytes(struct a4s_buf *b, const void *s, size_t n)
{
	if (b->full || n > b->size - b->len) {
		b->full = true;
		return;
	}
	__builtin_memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void a4s_put(struct a4s_buf *b, const char *s)
{
	a4s_put_bytes(b, s, __builtin_strlen(s));
}

static inline void a4s_put_char(struct a4s_buf *b, char c)
{
	if (b->full || b->len >= b->size) {
		b->full = true;
		return;
	}
	b->p[b->len++] = c;
}

A4S_HIDDEN void a4s_put_u64(struct a4s_buf *b, uint64_t v);
A4S_HIDDEN void a4s_put_i64(struct a4s_buf *b, int64_t v);
/* The bytes escaped for a terminal, as escape.h says, a byte at a time. */
A4S_HIDDEN void a4s_put_escaped_text(struct a4s_buf *b, const char *s, size_t n);

#endif
