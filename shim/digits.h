/*
 * Numbers as decimal (or hex) digits, written straight into a caller's
 * buffer with no bounds check: the caller has made sure that the widest
 * value fits (each writer's *_MAX says how wide). Each returns the end of
 * what it wrote.
 *
 * Two digits per step, from a table of the hundred pairs "00".."99", from
 * the most significant down, so that they go straight to their place.
 */
#ifndef A4S_DIGITS_H
#define A4S_DIGITS_H

#include <stdbool.h>
#include <stdint.h>

#include "sys.h"

#define A4S_U32_MAX_CHARS 10 /* 4294967295 */
#define A4S_I32_MAX_CHARS 11 /* -2147483648 */
#define A4S_U64_MAX_CHARS 20 /* 18446744073709551615 */
#define A4S_I64_MAX_CHARS 20 /* -9223372036854775808 */
#define A4S_HEX32_MAX_CHARS 8

/* "000102...9899": the pair for n at a4s_digit_pairs[2 * n]. */
A4S_HIDDEN extern const char a4s_digit_pairs[200];
A4S_HIDDEN extern const char a4s_hex_digits[16];

#define A4S_WRITER static inline __attribute__((always_inline)) char *

/* n < 100, always two digits: "07". */
A4S_WRITER a4s_write_2digits(char *p, unsigned n)
{
	__builtin_memcpy(p, a4s_digit_pairs + 2 * n, 2);
	return p + 2;
}

/*
 * Pairs by fixed-point arithmetic instead of repeated division: for
 * n < 100 * 10^m, y = n * ceil(2^47 / 10^m) holds n / 10^m with 47 bits of
 * fraction; its integer part is the leading pair, and each further pair is
 * the integer part of the fraction times 100, no division at all. Exact:
 * the error of y / 2^47 is below n / 2^47 < 10^(m+2) / 2^47, which is at
 * most 10^-m for every m used here (0 to 6, since 2^47 > 10^14); n / 10^m
 * is a multiple of 10^-m, so its fraction at every step is at least 10^-m
 * below the next whole number (scaled as the step scales it) and the
 * error never carries into a pair. Nothing overflows: y < 100 * 2^47 + n.
 */
#define A4S_FIXED_BITS 47
#define A4S_FIXED_SCALE(pow10) (((UINT64_C(1) << A4S_FIXED_BITS) + (pow10) - 1) / (pow10))

/* n < 100 * pow10: its leading pair (or digit, when !lead_pair) and then
 * `more` pairs, so n in exactly 2 * more + 1 or 2 digits. */
A4S_WRITER a4s_write_fixed(char *p, uint32_t n, uint64_t scale, int more, bool lead_pair)
{
	const uint64_t fraction = (UINT64_C(1) << A4S_FIXED_BITS) - 1;
	uint64_t y = n * scale;
	unsigned lead = (unsigned)(y >> A4S_FIXED_BITS);
	if (lead_pair) {
		p = a4s_write_2digits(p, lead);
	} else {
		*p++ = (char)('0' + lead);
	}
	for (int i = 0; i < more; i++) {
		y = (y & fraction) * 100;
		p = a4s_write_2digits(p, (unsigned)(y >> A4S_FIXED_BITS));
	}
	return p;
}

/* v in exactly 8 digits, zero-padded (v < 10^8). */
A4S_WRITER a4s_write_8digits(char *p, uint32_t v)
{
	return a4s_write_fixed(p, v, A4S_FIXED_SCALE(1000000), 3, true);
}

A4S_WRITER a4s_write_u32(char *p, uint32_t v)
{
	if (v < 100) { /* fds, retries: the common case is short */
		if (v < 10) {
			*p = (char)('0' + v);
			return p + 1;
		}
		return a4s_write_2digits(p, v);
	}
	if (v < 10000)
		return a4s_write_fixed(p, v, A4S_FIXED_SCALE(100), 1, v >= 1000);
	if (v < 1000000)
		return a4s_write_fixed(p, v, A4S_FIXED_SCALE(10000), 2, v >= 100000);
	if (v < 100000000)
		return a4s_write_fixed(p, v, A4S_FIXED_SCALE(1000000), 3, v >= 10000000);
	uint32_t high = v / 100000000; /* at most 42 */
	p = high < 10 ? (*p = (char)('0' + high), p + 1) : a4s_write_2digits(p, high);
	return a4s_write_8digits(p, v - high * 100000000);
}

A4S_WRITER a4s_write_i32(char *p, int32_t v)
{
	if (v < 0) {
		*p++ = '-';
		return a4s_write_u32(p, (uint32_t)0 - (uint32_t)v);
	}
	return a4s_write_u32(p, (uint32_t)v);
}

/* Rare beyond 32 bits (a call of more than four seconds), so out of line. */
A4S_HIDDEN char *a4s_write_u64_wide(char *p, uint64_t v);

A4S_WRITER a4s_write_u64(char *p, uint64_t v)
{
	if (v >> 32)
		return a4s_write_u64_wide(p, v);
	return a4s_write_u32(p, (uint32_t)v);
}

A4S_WRITER a4s_write_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return a4s_write_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return a4s_write_u64(p, (uint64_t)v);
}

/* Lower-case hex without leading zeros, "0" for zero. */
A4S_WRITER a4s_write_hex32(char *p, uint32_t v)
{
	unsigned n = v ? (unsigned)(35 - __builtin_clz(v)) / 4 : 1;
	for (unsigned i = n; i-- > 0; v >>= 4)
		p[i] = a4s_hex_digits[v & 0xf];
	return p + n;
}

#endif
