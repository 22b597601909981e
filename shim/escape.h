/*
 * Bytes that may be anything (an AF_UNIX name, a user's variable) as text
 * that is safe to show, written unchecked: the caller has room for the
 * longest escape of every byte (A4S_ESCAPE_*_MAX each).
 *
 * JSON: the inside of a JSON string in pure ASCII: quote and backslash
 * escaped, every byte below 0x20 or from 0x7f up as \u00XX, so the string's
 * code points are exactly the bytes and any name parses back to itself
 * (Python: s.encode("latin-1")).
 * Text, for terminals: printable ASCII as is (backslash doubled),
 * everything else, spaces included, as \xNN, so a value never breaks a line
 * or a field.
 */
#ifndef A4S_ESCAPE_H
#define A4S_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "digits.h"

#define A4S_ESCAPE_JSON_MAX 6
#define A4S_ESCAPE_TEXT_MAX 4

A4S_WRITER a4s_write_escaped_byte(char *p, unsigned char c, bool json)
{
	if (json) {
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			*p = (char)c;
			return p + 1;
		}
		if (c == '"' || c == '\\') {
			p[0] = '\\';
			p[1] = (char)c;
			return p + 2;
		}
		__builtin_memcpy(p, "\\u00", 4);
		p[4] = a4s_hex_digits[c >> 4];
		p[5] = a4s_hex_digits[c & 0xf];
		return p + 6;
	}
	if (c == '\\') {
		p[0] = '\\';
		p[1] = '\\';
		return p + 2;
	}
	if (c > 0x20 && c < 0x7f) {
		*p = (char)c;
		return p + 1;
	}
	p[0] = '\\';
	p[1] = 'x';
	p[2] = a4s_hex_digits[c >> 4];
	p[3] = a4s_hex_digits[c & 0xf];
	return p + 4;
}

/* n bytes of s, or fewer: up to the first NUL when stop_at_nul. */
A4S_WRITER a4s_write_escaped(char *p, const void *s, size_t n, bool stop_at_nul, bool json)
{
	const unsigned char *u = s;
	for (size_t i = 0; i < n; i++) {
		if (stop_at_nul && u[i] == 0)
			break;
		p = a4s_write_escaped_byte(p, u[i], json);
	}
	return p;
}

#endif
