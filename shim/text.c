#include "text.h"

#include "digits.h"
#include "escape.h"

void a4s_put_u64(struct a4s_buf *b, uint64_t v)
{
	char digits[A4S_U64_MAX_CHARS];
	a4s_put_bytes(b, digits, (size_t)(a4s_write_u64(digits, v) - digits));
}

void a4s_put_i64(struct a4s_buf *b, int64_t v)
{
	char digits[A4S_I64_MAX_CHARS];
	a4s_put_bytes(b, digits, (size_t)(a4s_write_i64(digits, v) - digits));
}

void a4s_put_escaped_text(struct a4s_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char esc[A4S_ESCAPE_TEXT_MAX];
		char *end = a4s_write_escaped_byte(esc, (unsigned char)s[i], false);
		a4s_put_bytes(b, esc, (size_t)(end - esc));
	}
}
