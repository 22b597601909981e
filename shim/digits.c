#include "digits.h"

const char a4s_digit_pairs[200] = {
#define A4S_PAIRS(t) t, '0', t, '1', t, '2', t, '3', t, '4', t, '5', t, '6', t, '7', t, '8', t, '9'
	A4S_PAIRS('0'), A4S_PAIRS('1'), A4S_PAIRS('2'), A4S_PAIRS('3'), A4S_PAIRS('4'),
	A4S_PAIRS('5'), A4S_PAIRS('6'), A4S_PAIRS('7'), A4S_PAIRS('8'), A4S_PAIRS('9'),
#undef A4S_PAIRS
};

const char a4s_hex_digits[16] = { '0', '1', '2', '3', '4', '5', '6', '7',
				  '8', '9', 'a', 'b', 'c', 'd', 'e', 'f' };

/* Above 2^32: the eight lowest digits of each 10^8 step are written as a
 * fixed-width group, the highest part as a plain number. */
char *a4s_write_u64_wide(char *p, uint64_t v)
{
	uint32_t low[2];
	int groups = 0;
	while (v >> 32) {
		uint64_t rest = v / 100000000;
		low[groups++] = (uint32_t)(v - rest * 100000000);
		v = rest;
	}
	p = a4s_write_u32(p, (uint32_t)v);
	while (groups-- > 0)
		p = a4s_write_8digits(p, low[groups]);
	return p;
}
