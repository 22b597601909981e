#include "flags.h"

void a4s_put_flags(struct a4s_buf *b, int flags)
{
	const char *sep = "";
	if (flags == 0) {
		a4s_put_char(b, '0');
		return;
	}
	if (flags & SOCK_NONBLOCK) {
		a4s_put(b, "SOCK_NONBLOCK");
		sep = "|";
	}
	if (flags & SOCK_CLOEXEC) {
		a4s_put(b, sep);
		a4s_put(b, "SOCK_CLOEXEC");
		sep = "|";
	}
	if (flags & ~A4S_KNOWN_FLAGS) {
		a4s_put(b, sep);
		a4s_put(b, "0x");
		a4s_put_hex(b, (unsigned)flags & ~(unsigned)A4S_KNOWN_FLAGS);
	}
}
