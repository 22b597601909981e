/*
 * A strict JSON checker (RFC 8259) for the tests and the fuzz targets: no
 * malloc, no recursion limit surprises (depth is bounded), exact about
 * strings: every control byte must be escaped, escapes must be the ones JSON
 * has, \u escapes must pair surrogates, and raw bytes >= 0x80 must be valid
 * UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
 *
 * Header-only so that a fuzz target built outside CMake can include it.
 */
#ifndef A4S_TEST_JSONCHECK_H
#define A4S_TEST_JSONCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct t_json {
	const unsigned char *p, *end;
	int depth;
};

static inline void t_json_ws(struct t_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static inline int t_json_hex4(const unsigned char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Length of the valid UTF-8 sequence at p (p < end), 0 if invalid. */
static inline size_t t_json_utf8(const unsigned char *p, const unsigned char *end)
{
	size_t len;
	uint32_t cp;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1fu;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0fu;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07u;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* The inside of a string, up to (not including) the closing quote, which
 * must be at j->end or found before it when `until_quote`. */
static inline bool t_json_chars(struct t_json *j, bool until_quote)
{
	while (j->p < j->end) {
		unsigned char c = *j->p;
		if (c == '"')
			return until_quote;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->end - j->p < 2)
				return false;
			unsigned char e = j->p[1];
			if (e == 'u') {
				if (j->end - j->p < 6)
					return false;
				int v = t_json_hex4(j->p + 2);
				if (v < 0)
					return false;
				j->p += 6;
				if (v >= 0xdc00 && v <= 0xdfff)
					return false; /* a lone low surrogate */
				if (v >= 0xd800 && v <= 0xdbff) {
					if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
						return false;
					int lo = t_json_hex4(j->p + 2);
					if (lo < 0xdc00 || lo > 0xdfff)
						return false;
					j->p += 6;
				}
				continue;
			}
			if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' &&
			    e != 'n' && e != 'r' && e != 't')
				return false;
			j->p += 2;
			continue;
		}
		size_t n = t_json_utf8(j->p, j->end);
		if (!n)
			return false;
		j->p += n;
	}
	return !until_quote;
}

static inline bool t_json_string(struct t_json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	if (!t_json_chars(j, true))
		return false;
	j->p++; /* the closing quote */
	return true;
}

static inline bool t_json_digits(struct t_json *j)
{
	const unsigned char *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static inline bool t_json_number(struct t_json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!t_json_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!t_json_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!t_json_digits(j))
			return false;
	}
	return true;
}

static inline bool t_json_word(struct t_json *j, const char *w)
{
	for (; *w; w++, j->p++)
		if (j->p >= j->end || *j->p != (unsigned char)*w)
			return false;
	return true;
}

static inline bool t_json_value(struct t_json *j)
{
	t_json_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '"':
		return t_json_string(j);
	case 't':
		return t_json_word(j, "true");
	case 'f':
		return t_json_word(j, "false");
	case 'n':
		return t_json_word(j, "null");
	case '{':
	case '[': {
		bool obj = *j->p == '{';
		unsigned char close = obj ? '}' : ']';
		if (++j->depth > 64)
			return false;
		j->p++;
		t_json_ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			j->depth--;
			return true;
		}
		for (;;) {
			if (obj) {
				t_json_ws(j);
				if (!t_json_string(j))
					return false;
				t_json_ws(j);
				if (j->p >= j->end || *j->p != ':')
					return false;
				j->p++;
			}
			if (!t_json_value(j))
				return false;
			t_json_ws(j);
			if (j->p >= j->end)
				return false;
			if (*j->p == close) {
				j->p++;
				j->depth--;
				return true;
			}
			if (*j->p != ',')
				return false;
			j->p++;
		}
	}
	default:
		return t_json_number(j);
	}
}

/* s[0..n) is exactly one JSON value, with optional white space around. */
static inline bool t_json_valid(const char *s, size_t n)
{
	struct t_json j = { (const unsigned char *)s, (const unsigned char *)s + n, 0 };
	if (!t_json_value(&j))
		return false;
	t_json_ws(&j);
	return j.p == j.end;
}

/* s[0..n) is one JSON object on one line: '{' ... '}' and then '\n'. */
static inline bool t_json_object_line(const char *s, size_t n)
{
	if (n < 3 || s[0] != '{' || s[n - 1] != '\n' || s[n - 2] != '}')
		return false;
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] == '\n')
			return false;
	return t_json_valid(s, n - 1);
}

/* s[0..n) may stand between two quotes: the inside of a JSON string. */
static inline bool t_json_string_content(const char *s, size_t n)
{
	struct t_json j = { (const unsigned char *)s, (const unsigned char *)s + n, 0 };
	return t_json_chars(&j, false);
}

#endif
