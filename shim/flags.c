#include "flags.h"

const struct a4s_flag_names a4s_flag_names[4] = {
	{ "", 0 },
	{ "SOCK_NONBLOCK", 13 },
	{ "SOCK_CLOEXEC", 12 },
	{ "SOCK_NONBLOCK|SOCK_CLOEXEC", A4S_FLAG_NAMES_MAX },
};

char *a4s_write_unknown_flags(char *p, unsigned unknown, bool after_known)
{
	if (after_known)
		*p++ = '|';
	p[0] = '0';
	p[1] = 'x';
	return a4s_write_hex32(p + 2, unknown);
}

void a4s_put_flags(struct a4s_buf *b, int flags)
{
	char text[A4S_FLAGS_MAX];
	a4s_put_bytes(b, text, (size_t)(a4s_write_flags(text, flags) - text));
}
