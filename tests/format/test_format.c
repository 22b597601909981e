/*
 * SPEC "Trace records", the pure formatters on their own: addresses in the
 * forms the SPEC lists ("127.0.0.1:8080", "[::1]:8080", "unix:/path",
 * "unix:@name", "unix:"), "every string is valid JSON (an AF_UNIX name may
 * hold any byte)", the RFC 3339 UTC timestamp with microseconds, whole JSON
 * and text records and the exit summary, field by field, and a buffer that
 * is too small: nothing written past it, and no record at all.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>
#include <time.h>
#include <valgrind/valgrind.h>

#include "harness.h"

#include "addrfmt.h"
#include "digits.h"
#include "errnames.h"
#include "escape.h"
#include "flags.h"
#include "record.h"
#include "summaryfmt.h"
#include "sink.h"
#include "text.h"
#include "timefmt.h"

static char out[4096];

/* The formatter's output as a C string. */
static const char *addr_str(const void *sa, socklen_t len, bool json)
{
	struct a4s_buf b = { out, sizeof(out) - 1, 0, false };
	a4s_put_sockaddr(&b, sa, len, json);
	ck_assert(!b.full);
	out[b.len] = '\0';
	return out;
}

static const char *v4(const char *ip, unsigned port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	ck_assert_int_eq(inet_pton(AF_INET, ip, &in.sin_addr), 1);
	return addr_str(&in, sizeof(in), true);
}

static const char *v6(const char *ip, unsigned port, uint32_t scope)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
				    .sin6_scope_id = scope };
	ck_assert_msg(inet_pton(AF_INET6, ip, &in6.sin6_addr) == 1, "bad test address %s", ip);
	return addr_str(&in6, sizeof(in6), true);
}

START_TEST(ipv4_is_dotted_quad_and_port)
{
	ck_assert_str_eq(v4("127.0.0.1", 8080), "127.0.0.1:8080");
	ck_assert_str_eq(v4("0.0.0.0", 0), "0.0.0.0:0");
	ck_assert_str_eq(v4("255.255.255.255", 65535), "255.255.255.255:65535");
	ck_assert_str_eq(v4("10.0.200.7", 1), "10.0.200.7:1");
}
END_TEST

START_TEST(ipv6_is_rfc5952_in_brackets)
{
	/* 4.1 no leading zeros, 4.3 lower case */
	ck_assert_str_eq(v6("2001:0DB8:0000:0000:0000:0000:0000:0001", 80, 0), "[2001:db8::1]:80");
	ck_assert_str_eq(v6("::1", 8080, 0), "[::1]:8080");
	ck_assert_str_eq(v6("::", 0, 0), "[::]:0");
	ck_assert_str_eq(v6("1::", 1, 0), "[1::]:1");
	ck_assert_str_eq(v6("abcd:ef01:2345:6789:abcd:ef01:2345:6789", 65535, 0),
			 "[abcd:ef01:2345:6789:abcd:ef01:2345:6789]:65535");
	/* 4.2.2: a single zero group is not shortened */
	ck_assert_str_eq(v6("2001:db8:0:1:1:1:1:1", 9, 0), "[2001:db8:0:1:1:1:1:1]:9");
	/* 4.2.3: the longest run; on a tie, the first */
	ck_assert_str_eq(v6("2001:0:0:1:0:0:0:1", 9, 0), "[2001:0:0:1::1]:9");
	ck_assert_str_eq(v6("2001:db8:0:0:1:0:0:1", 9, 0), "[2001:db8::1:0:0:1]:9");
	ck_assert_str_eq(v6("0:0:1:0:0:0:0:0", 9, 0), "[0:0:1::]:9");
	ck_assert_str_eq(v6("1:0:0:0:0:0:0:2", 9, 0), "[1::2]:9");
	ck_assert_str_eq(v6("0:1:0:1:0:1:0:1", 9, 0), "[0:1:0:1:0:1:0:1]:9");
	/* 5: IPv4-mapped addresses keep their IPv4 part dotted */
	ck_assert_str_eq(v6("::ffff:192.0.2.1", 443, 0), "[::ffff:192.0.2.1]:443");
	ck_assert_str_eq(v6("::ffff:0.0.0.0", 443, 0), "[::ffff:0.0.0.0]:443");
	/* a zone: the scope id as a number */
	ck_assert_str_eq(v6("fe80::1", 22, 2), "[fe80::1%2]:22");
	ck_assert_str_eq(v6("fe80::a:b", 22, 4294967295u), "[fe80::a:b%4294967295]:22");
}
END_TEST

/* Every 16-bit group pattern of zeros and non-zeros, against a reference
 * built here from RFC 5952's rules by another route: the text with all
 * groups, then the first longest run of two or more ":0" collapsed. */
static void reference_v6(const unsigned g[8], char *ref)
{
	int best = -1, best_len = 0;
	for (int i = 0; i < 8; i++) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i >= 2 && j - i > best_len) {
			best = i;
			best_len = j - i;
		}
	}
	char *p = ref;
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			p += sprintf(p, "::");
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			*p++ = ':';
		p += sprintf(p, "%x", g[i]);
	}
	*p = '\0';
}

START_TEST(ipv6_every_zero_pattern_matches_the_rules)
{
	for (unsigned mask = 0; mask < 256; mask++) {
		unsigned g[8];
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(7) };
		for (int i = 0; i < 8; i++) {
			g[i] = (mask >> i & 1) ? (unsigned)(0x10 * i + 1) : 0;
			in6.sin6_addr.s6_addr[2 * i] = (unsigned char)(g[i] >> 8);
			in6.sin6_addr.s6_addr[2 * i + 1] = (unsigned char)g[i];
		}
		if (mask == 0xc0) /* ::ffff:... is the mapped form, tested above */
			continue;
		char ref[64], want[80];
		reference_v6(g, ref);
		snprintf(want, sizeof(want), "[%s]:7", ref);
		ck_assert_str_eq(addr_str(&in6, sizeof(in6), true), want);
		/* and inet_ntop agrees outside its own IPv4-compatible forms */
		char ntop[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &in6.sin6_addr, ntop, sizeof(ntop));
		if (!strchr(ntop, '.'))
			ck_assert_str_eq(ref, ntop);
	}
}
END_TEST

/* An AF_UNIX address of n name bytes (kernel style: length counts them). */
static socklen_t un_addr(struct sockaddr_un *un, const void *name, size_t n)
{
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

START_TEST(unix_path_abstract_and_unnamed)
{
	struct sockaddr_un un;
	/* A path, with its NUL counted (getsockname) or not. */
	ck_assert_str_eq(addr_str(&un, un_addr(&un, "/run/x.sock", 12), true), "unix:/run/x.sock");
	ck_assert_str_eq(addr_str(&un, un_addr(&un, "/run/x.sock", 11), true), "unix:/run/x.sock");
	/* Abstract: a leading NUL, then every byte of the length. */
	ck_assert_str_eq(addr_str(&un, un_addr(&un, "\0name", 5), true), "unix:@name");
	ck_assert_str_eq(addr_str(&un, un_addr(&un, "\0a\0b", 4), true), "unix:@a\\u0000b");
	ck_assert_str_eq(addr_str(&un, un_addr(&un, "\0", 1), true), "unix:@");
	/* Unnamed: nothing after the family. */
	ck_assert_str_eq(addr_str(&un, un_addr(&un, "", 0), true), "unix:");
	ck_assert_str_eq(addr_str(&un, un_addr(&un, "", 0), false), "unix:");
	/* A length beyond sun_path never reads past it. */
	char full[sizeof(un.sun_path)];
	memset(full, 'p', sizeof(full));
	full[0] = '/';
	struct sockaddr_storage ss;
	memset(&ss, 'X', sizeof(ss));
	memcpy(&ss, &un, offsetof(struct sockaddr_un, sun_path));
	memcpy((char *)&ss + offsetof(struct sockaddr_un, sun_path), full, sizeof(full));
	const char *s = addr_str(&ss, sizeof(ss), true);
	ck_assert_uint_eq(strlen(s), 5 + sizeof(full));
	ck_assert_ptr_null(strchr(s, 'X'));
}
END_TEST

START_TEST(abstract_name_bytes_are_escaped_for_json)
{
	struct sockaddr_un un;
	static const char name[] = "\0q\"b\\n\nt\tc\x01\x1f" "d\x7f" "e\xc3\xa9" "f\xff" "g\x80 h";
	const char *s = addr_str(&un, un_addr(&un, name, sizeof(name) - 1), true);
	/* Quote and backslash escaped, control bytes and every byte >= 0x7f as
	 * \u00XX, so the line is pure ASCII and each code point is one byte. */
	ck_assert_str_eq(s, "unix:@q\\\"b\\\\n\\u000at\\u0009c\\u0001\\u001fd\\u007fe"
			    "\\u00c3\\u00a9f\\u00ffg\\u0080 h");
	/* A NUL inside, and only NULs. */
	ck_assert_str_eq(addr_str(&un, un_addr(&un, "\0\0\0", 3), true), "unix:@\\u0000\\u0000");
}
END_TEST

START_TEST(every_byte_value_escapes_to_itself)
{
	/* Each byte alone, through the JSON escaper, decodes back to that byte
	 * by JSON's rules: "\"" and "\\", \u00XX with XX the byte, or the
	 * printable ASCII byte itself. */
	for (int c = 0; c < 256; c++) {
		char in = (char)c, buf[16];
		size_t len = (size_t)(a4s_write_escaped(buf, &in, 1, false, true) - buf);
		ck_assert_uint_le(len, A4S_ESCAPE_JSON_MAX);
		buf[len] = '\0';
		if (c == '"' || c == '\\') {
			ck_assert_uint_eq(len, 2);
			ck_assert_int_eq(buf[0], '\\');
			ck_assert_int_eq(buf[1], c);
		} else if (c >= 0x20 && c < 0x7f) {
			ck_assert_uint_eq(len, 1);
			ck_assert_int_eq(buf[0], c);
		} else {
			char want[8];
			snprintf(want, sizeof(want), "\\u%04x", c);
			ck_assert_str_eq(buf, want);
		}
	}
}
END_TEST

START_TEST(text_escapes_keep_a_name_on_one_field)
{
	struct sockaddr_un un;
	static const char name[] = "\0a b\\c\n\"d\xff";
	ck_assert_str_eq(addr_str(&un, un_addr(&un, name, sizeof(name) - 1), false),
			 "unix:@a\\x20b\\\\c\\x0a\"d\\xff");
	ck_assert_str_eq(addr_str(&un, un_addr(&un, "/tmp/s p", 8), false), "unix:/tmp/s\\x20p");
}
END_TEST

START_TEST(short_or_unknown_addresses)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(1) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	ck_assert_str_eq(addr_str(&in, 0, true), "?");
	ck_assert_str_eq(addr_str(&in, 1, true), "?");
	ck_assert_str_eq(addr_str(&in, sizeof(in) - 1, true), "?");
	ck_assert_str_eq(addr_str(&in6, sizeof(in6) - 1, true), "?");
	struct sockaddr sa = { .sa_family = AF_NETLINK };
	ck_assert_str_eq(addr_str(&sa, sizeof(sa), true), "family:16");
}
END_TEST

/* A decimal counter: the text of v + 1 from the text of v. */
static void next_decimal(char *s, size_t *len)
{
	size_t i = *len;
	while (i > 0 && s[i - 1] == '9')
		s[--i] = '0';
	if (i > 0) {
		s[i - 1]++;
	} else {
		memmove(s + 1, s, *len);
		s[0] = '1';
		++*len;
	}
}

/* a4s_write_u32 for every v in [from, to), against a counter; plain
 * checks (Check logs each ck_assert it passes, a system call each). */
static void u32_range(uint64_t from, uint64_t to)
{
	char want[24], got[24];
	size_t len = (size_t)snprintf(want, sizeof(want), "%llu", (unsigned long long)from);
	for (uint64_t v = from; v < to; v++) {
		size_t n = (size_t)(a4s_write_u32(got, (uint32_t)v) - got);
		if (n != len || memcmp(got, want, n) != 0)
			ck_abort_msg("%llu written as %.*s", (unsigned long long)v, (int)n, got);
		next_decimal(want, &len);
	}
}

START_TEST(u32_digits_in_every_width)
{
	/* Everything below 2 * 10^7 (every width up to eight digits, whole),
	 * then a window below and above each power of ten, where the
	 * fixed-point pairs are closest to a wrong carry (digits.h). */
	uint64_t window = RUNNING_ON_VALGRIND ? 20000 : 1000000;
	u32_range(0, RUNNING_ON_VALGRIND ? 200000 : 20000000);
	for (uint64_t p = 10; p <= 1000000000; p *= 10)
		u32_range(p > window ? p - window : 0, p + window);
	u32_range(UINT32_MAX - window, (uint64_t)UINT32_MAX + 1);
	for (uint64_t top = 1; top <= 42; top++) /* each leading part above 10^8 */
		u32_range(top * 100000000 - 1000, top * 100000000 + 1000);
}
END_TEST

START_TEST(numbers_match_printf)
{
	uint64_t x = 0x9e3779b97f4a7c15u;
	char got[32], want[32];
	long rounds = RUNNING_ON_VALGRIND ? 20000 : 1000000;
	for (long i = 0; i < rounds; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t v = x >> (i % 64);
		size_t n = (size_t)(a4s_write_u64(got, v) - got);
		size_t m = (size_t)snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
		if (n != m || memcmp(got, want, n))
			ck_abort_msg("u64 %s written as %.*s", want, (int)n, got);
		n = (size_t)(a4s_write_i64(got, (int64_t)v) - got);
		m = (size_t)snprintf(want, sizeof(want), "%lld", (long long)(int64_t)v);
		if (n != m || memcmp(got, want, n))
			ck_abort_msg("i64 %s written as %.*s", want, (int)n, got);
		n = (size_t)(a4s_write_i32(got, (int32_t)v) - got);
		m = (size_t)snprintf(want, sizeof(want), "%d", (int32_t)v);
		if (n != m || memcmp(got, want, n))
			ck_abort_msg("i32 %s written as %.*s", want, (int)n, got);
		n = (size_t)(a4s_write_hex32(got, (uint32_t)v) - got);
		m = (size_t)snprintf(want, sizeof(want), "%x", (uint32_t)v);
		if (n != m || memcmp(got, want, n))
			ck_abort_msg("hex %s written as %.*s", want, (int)n, got);
	}
	static const int64_t edges[] = { 0, -1, INT64_MIN, INT64_MAX, INT32_MIN, INT32_MAX,
					 UINT32_MAX, (int64_t)UINT32_MAX + 1, 99999999,
					 100000000, 9999999999999999, 10000000000000000 };
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		size_t n = (size_t)(a4s_write_i64(got, edges[i]) - got);
		snprintf(want, sizeof(want), "%lld", (long long)edges[i]);
		ck_assert_uint_le(n, A4S_I64_MAX_CHARS);
		got[n] = '\0';
		ck_assert_str_eq(got, want);
		n = (size_t)(a4s_write_u64(got, (uint64_t)edges[i]) - got);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)edges[i]);
		ck_assert_uint_le(n, A4S_U64_MAX_CHARS);
		got[n] = '\0';
		ck_assert_str_eq(got, want);
	}
	/* Zero-padded eight digits */
	ck_assert_int_eq(memcmp(a4s_write_8digits(got, 42) - 8, "00000042", 8), 0);
	ck_assert_int_eq(memcmp(a4s_write_8digits(got, 99999999) - 8, "99999999", 8), 0);
}
END_TEST

static const char *rfc3339(time_t sec, long nsec)
{
	struct timespec ts = { sec, nsec };
	struct a4s_buf b = { out, sizeof(out) - 1, 0, false };
	a4s_put_rfc3339(&b, &ts);
	out[b.len] = '\0';
	return out;
}

START_TEST(rfc3339_utc_with_microseconds)
{
	ck_assert_str_eq(rfc3339(0, 0), "1970-01-01T00:00:00.000000Z");
	ck_assert_str_eq(rfc3339(1795255200, 123456789), "2026-11-21T10:00:00.123456Z");
	/* microseconds: zero-padded, cut (not rounded) from nanoseconds */
	ck_assert_str_eq(rfc3339(0, 1000), "1970-01-01T00:00:00.000001Z");
	ck_assert_str_eq(rfc3339(0, 999), "1970-01-01T00:00:00.000000Z");
	ck_assert_str_eq(rfc3339(0, 999999999), "1970-01-01T00:00:00.999999Z");
	ck_assert_str_eq(rfc3339(0, 10000000), "1970-01-01T00:00:00.010000Z");
	/* leap years: 2000 is one (divisible by 400), 2100 is not */
	ck_assert_str_eq(rfc3339(951782400, 0), "2000-02-29T00:00:00.000000Z");
	ck_assert_str_eq(rfc3339(951868800, 0), "2000-03-01T00:00:00.000000Z");
	ck_assert_str_eq(rfc3339(1709164800, 0), "2024-02-29T00:00:00.000000Z");
	ck_assert_str_eq(rfc3339(4107456000, 0), "2100-02-28T00:00:00.000000Z");
	ck_assert_str_eq(rfc3339(4107542400, 0), "2100-03-01T00:00:00.000000Z");
	ck_assert_str_eq(rfc3339(1483228799, 0), "2016-12-31T23:59:59.000000Z");
	ck_assert_str_eq(rfc3339(1483228800, 0), "2017-01-01T00:00:00.000000Z");
	/* 2038 and after: past 32-bit time_t, past 32-bit unsigned */
	ck_assert_str_eq(rfc3339(2147483647, 0), "2038-01-19T03:14:07.000000Z");
	ck_assert_str_eq(rfc3339(2147483648, 0), "2038-01-19T03:14:08.000000Z");
	ck_assert_str_eq(rfc3339(4294967296, 0), "2106-02-07T06:28:16.000000Z");
	ck_assert_str_eq(rfc3339(253402300799, 999999000), "9999-12-31T23:59:59.999999Z");
	ck_assert_str_eq(rfc3339(-1, 0), "1969-12-31T23:59:59.000000Z");
}
END_TEST

START_TEST(rfc3339_agrees_with_gmtime_over_four_centuries)
{
	/* 29 days and an hour and a second apart: every day of the month,
	 * every month and every hour is met between 1970 and 2370. */
	for (int64_t t = 0; t < 12622780800; t += 86400 * 29 + 3601) {
		time_t tt = (time_t)t;
		struct tm tm;
		gmtime_r(&tt, &tm);
		char want[64];
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.000042Z",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
		ck_assert_str_eq(rfc3339(tt, 42000), want);
	}
}
END_TEST

START_TEST(syslog_stamp_pads_the_day_with_a_space)
{
	struct timespec ts = { 1795255200, 0 };
	struct a4s_buf b = { out, sizeof(out) - 1, 0, false };
	a4s_put_syslog_time(&b, &ts);
	out[b.len] = '\0';
	ck_assert_str_eq(out, "Nov 21 10:00:00");
	ts.tv_sec = 1767312245; /* 2026-01-02T00:04:05Z */
	b.len = 0;
	a4s_put_syslog_time(&b, &ts);
	out[b.len] = '\0';
	ck_assert_str_eq(out, "Jan  2 00:04:05");
}
END_TEST

START_TEST(flag_names)
{
	struct { int flags; const char *want; } cases[] = {
		{ 0, "0" },
		{ SOCK_NONBLOCK, "SOCK_NONBLOCK" },
		{ SOCK_CLOEXEC, "SOCK_CLOEXEC" },
		{ SOCK_NONBLOCK | SOCK_CLOEXEC, "SOCK_NONBLOCK|SOCK_CLOEXEC" },
		{ SOCK_CLOEXEC | 0x40, "SOCK_CLOEXEC|0x40" },
		{ 0x40, "0x40" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct a4s_buf b = { out, sizeof(out) - 1, 0, false };
		a4s_put_flags(&b, cases[i].flags);
		out[b.len] = '\0';
		ck_assert_str_eq(out, cases[i].want);
	}
}
END_TEST

/* A record with every field set, from the fixed inputs below. */
static struct sockaddr_in rec_local, rec_peer;

static struct a4s_record sample_record(void)
{
	rec_local = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(8080),
					  .sin_addr = { htonl(INADDR_LOOPBACK) } };
	rec_peer = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(40000),
					 .sin_addr = { htonl(0x7f000002) } };
	return (struct a4s_record){
		.ts = { 1795255200, 123456789 },
		.pid = 4242,
		.tid = 4243,
		.is_accept4 = true,
		.listen_fd = 3,
		.local = (struct sockaddr *)&rec_local,
		.local_len = sizeof(rec_local),
		.flags = SOCK_NONBLOCK | SOCK_CLOEXEC,
		.fd = 7,
		.err = 0,
		.peer = (struct sockaddr *)&rec_peer,
		.peer_len = sizeof(rec_peer),
		.emulated = true,
		.retries = 2,
		.dur_ns = 15321,
	};
}

static const char *record(const struct a4s_record *r, enum a4s_log_format fmt)
{
	size_t n = a4s_format_record(r, fmt, out, sizeof(out) - 1);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_lt(n, sizeof(out));
	out[n] = '\0';
	ck_assert_uint_eq(strlen(out), n);
	return out;
}

START_TEST(json_record_has_every_field_in_order)
{
	struct a4s_record r = sample_record();
	ck_assert_str_eq(record(&r, A4S_FORMAT_JSON),
			 "{\"ts\":\"2026-11-21T10:00:00.123456Z\",\"pid\":4242,\"tid\":4243,"
			 "\"call\":\"accept4\",\"listen_fd\":3,\"local\":\"127.0.0.1:8080\","
			 "\"flags\":\"SOCK_NONBLOCK|SOCK_CLOEXEC\",\"fd\":7,\"errno\":null,"
			 "\"peer\":\"127.0.0.2:40000\",\"how\":\"emulated\",\"retries\":2,"
			 "\"dur_ns\":15321}\n");
}
END_TEST

START_TEST(json_record_of_a_failure)
{
	struct a4s_record r = sample_record();
	r.is_accept4 = false;
	r.flags = 0;
	r.fd = -1;
	r.err = EAGAIN;
	r.emulated = false;
	r.retries = 0;
	r.listen_fd = -5;
	r.local = NULL;
	/* a peer handed in with a failure is not shown */
	ck_assert_str_eq(record(&r, A4S_FORMAT_JSON),
			 "{\"ts\":\"2026-11-21T10:00:00.123456Z\",\"pid\":4242,\"tid\":4243,"
			 "\"call\":\"accept\",\"listen_fd\":-5,\"local\":null,\"flags\":\"0\","
			 "\"fd\":-1,\"errno\":\"EAGAIN\",\"peer\":null,\"how\":\"native\","
			 "\"retries\":0,\"dur_ns\":15321}\n");
	/* An errno the library has no name for: its number, still a string. */
	r.err = 4095;
	ck_assert_ptr_nonnull(strstr(record(&r, A4S_FORMAT_JSON), "\"errno\":\"4095\","));
	/* Rejected flags are shown as asked. */
	r.is_accept4 = true;
	r.err = EINVAL;
	r.flags = SOCK_CLOEXEC | 0x40;
	ck_assert_ptr_nonnull(strstr(record(&r, A4S_FORMAT_JSON),
				     "\"flags\":\"SOCK_CLOEXEC|0x40\",\"fd\":-1,\"errno\":\"EINVAL\","));
}
END_TEST

START_TEST(text_record_has_the_same_facts)
{
	struct a4s_record r = sample_record();
	ck_assert_str_eq(record(&r, A4S_FORMAT_TEXT),
			 "accept4shim: ts=2026-11-21T10:00:00.123456Z pid=4242 tid=4243 "
			 "call=accept4 listen_fd=3 local=127.0.0.1:8080 "
			 "flags=SOCK_NONBLOCK|SOCK_CLOEXEC fd=7 errno=- peer=127.0.0.2:40000 "
			 "how=emulated retries=2 dur_ns=15321\n");
	r.err = ECONNABORTED;
	r.fd = -1;
	r.local = NULL;
	ck_assert_str_eq(record(&r, A4S_FORMAT_TEXT),
			 "accept4shim: ts=2026-11-21T10:00:00.123456Z pid=4242 tid=4243 "
			 "call=accept4 listen_fd=3 local=- flags=SOCK_NONBLOCK|SOCK_CLOEXEC "
			 "fd=-1 errno=ECONNABORTED peer=- how=emulated retries=2 dur_ns=15321\n");
}
END_TEST

START_TEST(records_with_unix_names_and_ipv6)
{
	struct a4s_record r = sample_record();
	struct sockaddr_un un;
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(5),
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	r.local = (struct sockaddr *)&un;
	r.local_len = un_addr(&un, "\0a\"b\0", 5);
	r.peer = (struct sockaddr *)&in6;
	r.peer_len = sizeof(in6);
	const char *s = record(&r, A4S_FORMAT_JSON);
	ck_assert_ptr_nonnull(strstr(s, ",\"local\":\"unix:@a\\\"b\\u0000\","));
	ck_assert_ptr_nonnull(strstr(s, ",\"peer\":\"[::1]:5\","));
	s = record(&r, A4S_FORMAT_TEXT);
	ck_assert_ptr_nonnull(strstr(s, " local=unix:@a\"b\\x00 "));
	ck_assert_ptr_nonnull(strstr(s, " peer=[::1]:5 "));
}
END_TEST

START_TEST(the_longest_record_fits_the_stack_buffer)
{
	/* Two AF_UNIX names of 108 bytes that each escape to six characters,
	 * and every number at its widest. */
	struct a4s_record r = sample_record();
	struct sockaddr_un un;
	char name[sizeof(un.sun_path)];
	memset(name, 0x01, sizeof(name));
	name[0] = '\0';
	r.local = (struct sockaddr *)&un;
	r.local_len = un_addr(&un, name, sizeof(name));
	r.peer = r.local;
	r.peer_len = r.local_len;
	r.pid = r.tid = r.listen_fd = r.fd = -2147483647 - 1;
	r.flags = -1;
	r.retries = 4294967295u;
	r.dur_ns = UINT64_MAX;
	r.ts.tv_sec = 253402300799;
	char line[A4S_RECORD_MAX];
	ck_assert_uint_gt(a4s_format_record(&r, A4S_FORMAT_JSON, line, sizeof(line)), 0);
	ck_assert_uint_gt(a4s_format_record(&r, A4S_FORMAT_TEXT, line, sizeof(line)), 0);
}
END_TEST

START_TEST(too_small_a_buffer_gives_no_record_and_no_overflow)
{
	struct a4s_record r = sample_record();
	struct sockaddr_un un;
	r.local = (struct sockaddr *)&un;
	r.local_len = un_addr(&un, "\0x\x01y", 4);
	for (int fmt = A4S_FORMAT_TEXT; fmt <= A4S_FORMAT_JSON; fmt++) {
		size_t full = a4s_format_record(&r, (enum a4s_log_format)fmt, out, sizeof(out));
		ck_assert_uint_gt(full, 0);
		for (size_t size = 0; size < full; size++) {
			char buf[600];
			ck_assert_uint_lt(full, sizeof(buf));
			memset(buf, 'Z', sizeof(buf));
			ck_assert_uint_eq(a4s_format_record(&r, (enum a4s_log_format)fmt, buf, size), 0);
			size_t i = size;
			while (i < sizeof(buf) && buf[i] == 'Z')
				i++;
			ck_assert_msg(i == sizeof(buf), "size %zu: byte %zu written", size, i);
		}
		ck_assert_uint_eq(a4s_format_record(&r, (enum a4s_log_format)fmt, out, full), full);
	}
}
END_TEST

static struct a4s_summary sample_summary(uint64_t *errors)
{
	memset(errors, 0, sizeof(uint64_t) * 160);
	errors[EAGAIN] = 3;
	errors[EBADF] = 1;
	errors[ECONNABORTED] = 2;
	errors[0] = 4; /* errno values past the table */
	return (struct a4s_summary){
		.ts = { 1795255200, 5000 },
		.pid = 99,
		.calls = 17,
		.accepted = 7,
		.failed = 10,
		.emulated = 5,
		.retried_calls = 2,
		.retries = 6,
		.dropped = 1,
		.errors = errors,
		.nerrors = 160,
	};
}

START_TEST(summary_record_in_json_and_text)
{
	uint64_t errors[160];
	struct a4s_summary s = sample_summary(errors);
	size_t n = a4s_format_summary(&s, A4S_FORMAT_JSON, out, sizeof(out) - 1);
	ck_assert_uint_gt(n, 0);
	out[n] = '\0';
	/* errors by name in errno order; the overflow slot as "other" */
	ck_assert_str_eq(out, "{\"ts\":\"2026-11-21T10:00:00.000005Z\",\"pid\":99,\"summary\":\"exit\","
			      "\"calls\":17,\"accepted\":7,\"failed\":10,\"emulated\":5,"
			      "\"retried_calls\":2,\"retries\":6,\"dropped\":1,"
			      "\"errors\":{\"other\":4,\"EBADF\":1,\"EAGAIN\":3,\"ECONNABORTED\":2}}\n");
	n = a4s_format_summary(&s, A4S_FORMAT_TEXT, out, sizeof(out) - 1);
	out[n] = '\0';
	ck_assert_str_eq(out, "accept4shim: ts=2026-11-21T10:00:00.000005Z pid=99 summary=exit "
			      "calls=17 accepted=7 failed=10 emulated=5 retried_calls=2 retries=6 "
			      "dropped=1 errors=other:4,EBADF:1,EAGAIN:3,ECONNABORTED:2\n");
	/* No errors: an empty object, or "-" */
	memset(errors, 0, sizeof(errors));
	n = a4s_format_summary(&s, A4S_FORMAT_JSON, out, sizeof(out) - 1);
	out[n] = '\0';
	ck_assert_ptr_nonnull(strstr(out, ",\"errors\":{}}\n"));
	n = a4s_format_summary(&s, A4S_FORMAT_TEXT, out, sizeof(out) - 1);
	out[n] = '\0';
	ck_assert_ptr_nonnull(strstr(out, " errors=-\n"));
	/* Too small: nothing, and nothing past the end. */
	errors[EAGAIN] = 1;
	size_t full = a4s_format_summary(&s, A4S_FORMAT_JSON, out, sizeof(out));
	for (size_t size = 0; size < full; size++) {
		char buf[512];
		memset(buf, 'Z', sizeof(buf));
		ck_assert_uint_eq(a4s_format_summary(&s, A4S_FORMAT_JSON, buf, size), 0);
		size_t i = size;
		while (i < sizeof(buf) && buf[i] == 'Z')
			i++;
		ck_assert_msg(i == sizeof(buf), "size %zu: byte %zu written", size, i);
	}
}
END_TEST

START_TEST(percent_p_is_the_pid)
{
	char path[64];
	ck_assert(a4s_expand_path("/var/log/t.%p.json", 1234, path, sizeof(path)));
	ck_assert_str_eq(path, "/var/log/t.1234.json");
	ck_assert(a4s_expand_path("/t/%p/%p", 7, path, sizeof(path)));
	ck_assert_str_eq(path, "/t/7/7");
	ck_assert(a4s_expand_path("/t/100%%-%p%", 7, path, sizeof(path)));
	ck_assert_str_eq(path, "/t/100%-7%");
	ck_assert(a4s_expand_path("/t/%x", 7, path, sizeof(path)));
	ck_assert_str_eq(path, "/t/%x");
	/* Exactly fits (with its NUL), one short, and nothing past the end. */
	ck_assert(a4s_expand_path("/a%p", 12345, path, 8));
	memset(path, 'Z', sizeof(path));
	ck_assert(!a4s_expand_path("/a%p", 12345, path, 7));
	ck_assert_int_eq(path[7], 'Z');
}
END_TEST

START_TEST(errno_names)
{
	ck_assert_str_eq(a4s_errno_name(EAGAIN), "EAGAIN");
	ck_assert_str_eq(a4s_errno_name(ECONNABORTED), "ECONNABORTED");
	ck_assert_str_eq(a4s_errno_name(EMFILE), "EMFILE");
	ck_assert_ptr_null(a4s_errno_name(0));
	ck_assert_ptr_null(a4s_errno_name(-1));
	ck_assert_ptr_null(a4s_errno_name(100000));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("addresses");
	tcase_add_test(tc, ipv4_is_dotted_quad_and_port);
	tcase_add_test(tc, ipv6_is_rfc5952_in_brackets);
	tcase_add_test(tc, ipv6_every_zero_pattern_matches_the_rules);
	tcase_add_test(tc, unix_path_abstract_and_unnamed);
	tcase_add_test(tc, abstract_name_bytes_are_escaped_for_json);
	tcase_add_test(tc, every_byte_value_escapes_to_itself);
	tcase_add_test(tc, text_escapes_keep_a_name_on_one_field);
	tcase_add_test(tc, short_or_unknown_addresses);
	suite_add_tcase(s, tc);
	tc = tcase_create("numbers");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, u32_digits_in_every_width);
	tcase_add_test(tc, numbers_match_printf);
	suite_add_tcase(s, tc);
	tc = tcase_create("time");
	tcase_add_test(tc, rfc3339_utc_with_microseconds);
	tcase_add_test(tc, rfc3339_agrees_with_gmtime_over_four_centuries);
	tcase_add_test(tc, syslog_stamp_pads_the_day_with_a_space);
	suite_add_tcase(s, tc);
	tc = tcase_create("records");
	tcase_add_test(tc, flag_names);
	tcase_add_test(tc, json_record_has_every_field_in_order);
	tcase_add_test(tc, json_record_of_a_failure);
	tcase_add_test(tc, text_record_has_the_same_facts);
	tcase_add_test(tc, records_with_unix_names_and_ipv6);
	tcase_add_test(tc, the_longest_record_fits_the_stack_buffer);
	tcase_add_test(tc, too_small_a_buffer_gives_no_record_and_no_overflow);
	tcase_add_test(tc, summary_record_in_json_and_text);
	tcase_add_test(tc, percent_p_is_the_pid);
	tcase_add_test(tc, errno_names);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
