/* The accept4 flags: which are valid, and their names in the trace. */
#ifndef A4S_FLAGS_H
#define A4S_FLAGS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "sys.h"
#include "text.h"

#define A4S_KNOWN_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)

static inline bool a4s_flags_valid(int flags)
{
	return (flags & ~A4S_KNOWN_FLAGS) == 0;
}

/* "SOCK_NONBLOCK|SOCK_CLOEXEC", "0" for none; bits we do not know (a
 * rejected call's) as one hex number, "SOCK_CLOEXEC|0x40". */
A4S_HIDDEN void a4s_put_flags(struct a4s_buf *b, int flags);

#endif
