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

/*
 * The three primitives a record is built from, some fifty times per record,
 * are inline: the length of a literal is then known at compile time and a
 * short copy needs no call. Formatting a JSON record went from about 470 to
 * 300 ns (scripts/bench counts it in instructions per accept).
 */
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
/* v in exactly `width` digits, zero-padded on the left. */
A4S_HIDDEN void a4s_put_u64_width(struct a4s_buf *b, uint64_t v, int width);
A4S_HIDDEN void a4s_put_hex(struct a4s_buf *b, unsigned v);

/* The bytes as the inside of a JSON string, in pure ASCII: quote and
 * backslash escaped, every byte below 0x20 or from 0x7f up as \u00XX. The
 * string's code points are then exactly the bytes, so any name parses back
 * to itself (Python: s.encode("latin-1")). */
A4S_HIDDEN void a4s_put_escaped_json(struct a4s_buf *b, const char *s, size_t n);
/* For terminals: printable ASCII as is (backslash doubled), everything else,
 * spaces included, as \xNN, so a field never breaks a line or a column. */
A4S_HIDDEN void a4s_put_escaped_text(struct a4s_buf *b, const char *s, size_t n);

#endif
