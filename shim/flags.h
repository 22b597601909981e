/* The accept4 flags: which are valid, and their names in the trace. */
#ifndef A4S_FLAGS_H
#define A4S_FLAGS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "digits.h"
#include "sys.h"
#include "text.h"

#define A4S_KNOWN_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)

static inline bool a4s_flags_valid(int flags)
{
	return (flags & ~A4S_KNOWN_FLAGS) == 0;
}

/* "SOCK_NONBLOCK|SOCK_CLOEXEC", "0" for none; bits we do not know (a
 * rejected call's) as one hex number, "SOCK_CLOEXEC|0x40". */
#define A4S_FLAGS_MAX (sizeof("SOCK_NONBLOCK|SOCK_CLOEXEC|0x") - 1 + A4S_HEX32_MAX_CHARS)
/* Each set of known flags by name, indexed by NONBLOCK (1) and CLOEXEC (2);
 * copied whole (a few moves), the length says how much of it counts. */
#define A4S_FLAG_NAMES_MAX (sizeof("SOCK_NONBLOCK|SOCK_CLOEXEC") - 1)
struct a4s_flag_names {
	char text[A4S_FLAG_NAMES_MAX + 1];
	unsigned char len;
};
A4S_HIDDEN extern const struct a4s_flag_names a4s_flag_names[4];

/* The hex of bits we do not know, after what was written of known flags. */
A4S_HIDDEN char *a4s_write_unknown_flags(char *p, unsigned unknown, bool after_known);

/* Unchecked: room for A4S_FLAGS_MAX bytes at p (no more are touched). */
A4S_WRITER a4s_write_flags(char *p, int flags)
{
	if (flags == 0) {
		*p = '0';
		return p + 1;
	}
	unsigned k = (flags & SOCK_NONBLOCK ? 1u : 0u) | (flags & SOCK_CLOEXEC ? 2u : 0u);
	__builtin_memcpy(p, a4s_flag_names[k].text, A4S_FLAG_NAMES_MAX);
	p += a4s_flag_names[k].len;
	unsigned unknown = (unsigned)flags & ~(unsigned)A4S_KNOWN_FLAGS;
	return unknown ? a4s_write_unknown_flags(p, unknown, k != 0) : p;
}

/* The same into a bounded buffer: all of it, or nothing and .full. */
A4S_HIDDEN void a4s_put_flags(struct a4s_buf *b, int flags);

#endif
