#include "text.h"

#include <string.h>

void a4s_put_u64(struct a4s_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	a4s_put_bytes(b, tmp + i, sizeof(tmp) - i);
}

void a4s_put_i64(struct a4s_buf *b, int64_t v)
{
	if (v < 0) {
		a4s_put_char(b, '-');
		a4s_put_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		a4s_put_u64(b, (uint64_t)v);
	}
}

void a4s_put_u64_width(struct a4s_buf *b, uint64_t v, int width)
{
	char tmp[20];
	if (width > 20)
		width = 20;
	for (int i = width - 1; i >= 0; i--) {
		tmp[i] = (char)('0' + v % 10);
		v /= 10;
	}
	a4s_put_bytes(b, tmp, (size_t)width);
}

void a4s_put_hex(struct a4s_buf *b, unsigned v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[8];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = digits[v & 0xf];
		v >>= 4;
	} while (v);
	a4s_put_bytes(b, tmp + i, sizeof(tmp) - i);
}

static void put_u00(struct a4s_buf *b, unsigned char c)
{
	static const char digits[] = "0123456789abcdef";
	char esc[6] = { '\\', 'u', '0', '0', digits[c >> 4], digits[c & 0xf] };
	a4s_put_bytes(b, esc, sizeof(esc));
}

/*
 * An AF_UNIX name is bytes, not text: two names that differ in one byte are
 * two sockets. So every byte outside printable ASCII becomes \u00XX, the
 * code point of the same value, and the string's code points are exactly the
 * name's bytes (in Python: s.encode("latin-1")). Passing valid UTF-8 through
 * would read better but lose that: the name "\xff" and the UTF-8 bytes of
 * U+00FF would then parse to the same string. The line stays pure ASCII too,
 * which every log pipeline carries unchanged.
 */
void a4s_put_escaped_json(struct a4s_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = u[i];
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			a4s_put_bytes(b, esc, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			put_u00(b, c);
		} else {
			a4s_put_char(b, (char)c);
		}
	}
}

void a4s_put_escaped_text(struct a4s_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			a4s_put_bytes(b, "\\\\", 2);
		} else if (c > 0x20 && c < 0x7f) {
			a4s_put_char(b, (char)c);
		} else {
			static const char digits[] = "0123456789abcdef";
			char esc[4] = { '\\', 'x', digits[c >> 4], digits[c & 0xf] };
			a4s_put_bytes(b, esc, sizeof(esc));
		}
	}
}
