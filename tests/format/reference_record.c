/*
 * The record formatter as it was before it was written for speed (commit
 * 505515b: shim/record.c, fields.h, text.[ch], timefmt.c, addrfmt.c,
 * flags.c), kept unchanged but for its names as the oracle of the
 * differential tests (test_record_diff, fuzz_record): the fast formatter
 * must give the same bytes for every input. It shares nothing with the
 * library but the table of errno names.
 */
#include "reference_record.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "errnames.h"

#define REF_KNOWN_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)

struct ref_buf {
	char *p;
	size_t size;
	size_t len;
	bool full;
};

static inline void ref_put_bytes(struct ref_buf *b, const void *s, size_t n)
{
	if (b->full || n > b->size - b->len) {
		b->full = true;
		return;
	}
	__builtin_memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void ref_put(struct ref_buf *b, const char *s)
{
	ref_put_bytes(b, s, __builtin_strlen(s));
}

static inline void ref_put_char(struct ref_buf *b, char c)
{
	if (b->full || b->len >= b->size) {
		b->full = true;
		return;
	}
	b->p[b->len++] = c;
}

static void ref_put_u64(struct ref_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	ref_put_bytes(b, tmp + i, sizeof(tmp) - i);
}

static void ref_put_i64(struct ref_buf *b, int64_t v)
{
	if (v < 0) {
		ref_put_char(b, '-');
		ref_put_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		ref_put_u64(b, (uint64_t)v);
	}
}

static void ref_put_u64_width(struct ref_buf *b, uint64_t v, int width)
{
	char tmp[20];
	if (width > 20)
		width = 20;
	for (int i = width - 1; i >= 0; i--) {
		tmp[i] = (char)('0' + v % 10);
		v /= 10;
	}
	ref_put_bytes(b, tmp, (size_t)width);
}

static void ref_put_hex(struct ref_buf *b, unsigned v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[8];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = digits[v & 0xf];
		v >>= 4;
	} while (v);
	ref_put_bytes(b, tmp + i, sizeof(tmp) - i);
}

static void put_u00(struct ref_buf *b, unsigned char c)
{
	static const char digits[] = "0123456789abcdef";
	char esc[6] = { '\\', 'u', '0', '0', digits[c >> 4], digits[c & 0xf] };
	ref_put_bytes(b, esc, sizeof(esc));
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
static void ref_put_escaped_json(struct ref_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = u[i];
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			ref_put_bytes(b, esc, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			put_u00(b, c);
		} else {
			ref_put_char(b, (char)c);
		}
	}
}

static void ref_put_escaped_text(struct ref_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			ref_put_bytes(b, "\\\\", 2);
		} else if (c > 0x20 && c < 0x7f) {
			ref_put_char(b, (char)c);
		} else {
			static const char digits[] = "0123456789abcdef";
			char esc[4] = { '\\', 'x', digits[c >> 4], digits[c & 0xf] };
			ref_put_bytes(b, esc, sizeof(esc));
		}
	}
}

struct civil {
	int64_t year;
	unsigned month, day, hour, min, sec;
};

/* Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year
 * eras that start on March 1st so that the leap day falls at the end. */
static struct civil civil_from_epoch(int64_t secs)
{
	struct civil c;
	int64_t days = secs / 86400;
	int64_t rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	c.hour = (unsigned)(rem / 3600);
	c.min = (unsigned)(rem / 60 % 60);
	c.sec = (unsigned)(rem % 60);

	days += 719468; /* from 1970-01-01 to 0000-03-01 */
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t doe = days - era * 146097;                                   /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
	c.day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	c.month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	c.year = yoe + era * 400 + (c.month <= 2);
	return c;
}

static void ref_put_rfc3339(struct ref_buf *b, const struct timespec *ts)
{
	struct civil c = civil_from_epoch((int64_t)ts->tv_sec);
	/* RFC 3339 has four-digit years; a clock set beyond 9999 still
	 * shows its real year rather than the last four digits of it. */
	uint64_t year = (uint64_t)(c.year < 0 ? 0 : c.year);
	if (year > 9999)
		ref_put_u64(b, year);
	else
		ref_put_u64_width(b, year, 4);
	ref_put_char(b, '-');
	ref_put_u64_width(b, c.month, 2);
	ref_put_char(b, '-');
	ref_put_u64_width(b, c.day, 2);
	ref_put_char(b, 'T');
	ref_put_u64_width(b, c.hour, 2);
	ref_put_char(b, ':');
	ref_put_u64_width(b, c.min, 2);
	ref_put_char(b, ':');
	ref_put_u64_width(b, c.sec, 2);
	ref_put_char(b, '.');
	ref_put_u64_width(b, (uint64_t)ts->tv_nsec / 1000, 6);
	ref_put_char(b, 'Z');
}


static void put_ipv4(struct ref_buf *b, const unsigned char *q)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			ref_put_char(b, '.');
		ref_put_u64(b, q[i]);
	}
}

/* RFC 5952: lower-case hex, no leading zeros, the longest run of two or
 * more zero groups (the first, on a tie) as "::", and an IPv4-mapped
 * address with its last 32 bits in dotted form. */
static void put_ipv6(struct ref_buf *b, const unsigned char *a)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		ref_put(b, "::ffff:");
		put_ipv4(b, a + 12);
		return;
	}
	unsigned g[8];
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];

	int best = -1, best_len = 1;
	for (int i = 0; i < 8;) {
		if (g[i]) {
			i++;
			continue;
		}
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			ref_put(b, "::");
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			ref_put_char(b, ':');
		ref_put_hex(b, g[i]);
	}
}

static void put_unix(struct ref_buf *b, const struct sockaddr_un *un,
		     socklen_t len, bool json)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n = len > off ? len - off : 0;
	if (n > sizeof(un->sun_path))
		n = sizeof(un->sun_path);
	ref_put(b, "unix:");
	if (n == 0)
		return; /* unnamed */
	const char *name = un->sun_path;
	if (name[0] == '\0') {
		/* Abstract: every byte of the length counts, NULs included. */
		ref_put_char(b, '@');
		name++;
		n--;
	} else {
		/* A path ends at its first NUL; the kernel may count it or not. */
		const char *nul = memchr(name, '\0', n);
		if (nul)
			n = (size_t)(nul - name);
	}
	if (json)
		ref_put_escaped_json(b, name, n);
	else
		ref_put_escaped_text(b, name, n);
}

static void ref_put_sockaddr(struct ref_buf *b, const struct sockaddr *sa, socklen_t len,
		      bool json)
{
	if (len < sizeof(sa_family_t)) {
		ref_put_char(b, '?');
		return;
	}
	if ((sa->sa_family == AF_INET && len < sizeof(struct sockaddr_in)) ||
	    (sa->sa_family == AF_INET6 && len < sizeof(struct sockaddr_in6))) {
		ref_put_char(b, '?'); /* cut short: never read past len */
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		put_ipv4(b, (const unsigned char *)&in->sin_addr);
		ref_put_char(b, ':');
		ref_put_u64(b, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		ref_put_char(b, '[');
		put_ipv6(b, in6->sin6_addr.s6_addr);
		if (in6->sin6_scope_id) {
			ref_put_char(b, '%');
			ref_put_u64(b, in6->sin6_scope_id);
		}
		ref_put(b, "]:");
		ref_put_u64(b, ntohs(in6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		put_unix(b, (const struct sockaddr_un *)sa, len, json);
	} else {
		ref_put(b, "family:");
		ref_put_u64(b, sa->sa_family);
	}
}

static void ref_put_flags(struct ref_buf *b, int flags)
{
	const char *sep = "";
	if (flags == 0) {
		ref_put_char(b, '0');
		return;
	}
	if (flags & SOCK_NONBLOCK) {
		ref_put(b, "SOCK_NONBLOCK");
		sep = "|";
	}
	if (flags & SOCK_CLOEXEC) {
		ref_put(b, sep);
		ref_put(b, "SOCK_CLOEXEC");
		sep = "|";
	}
	if (flags & ~REF_KNOWN_FLAGS) {
		ref_put(b, sep);
		ref_put(b, "0x");
		ref_put_hex(b, (unsigned)flags & ~(unsigned)REF_KNOWN_FLAGS);
	}
}

struct style {
	bool json;
	struct ref_buf *b;
	bool first;
};

/* Inline at every field, so that each key is a literal whose length the
 * compiler knows and whose copy needs no call. */
#define FIELD static inline void

FIELD key(struct style *s, const char *k)
{
	if (s->json) {
		ref_put(s->b, s->first ? "\"" : ",\"");
		ref_put(s->b, k);
		ref_put(s->b, "\":");
	} else {
		ref_put(s->b, s->first ? "" : " ");
		ref_put(s->b, k);
		ref_put_char(s->b, '=');
	}
	s->first = false;
}

FIELD field_i64(struct style *s, const char *k, int64_t v)
{
	key(s, k);
	ref_put_i64(s->b, v);
}

FIELD field_u64(struct style *s, const char *k, uint64_t v)
{
	key(s, k);
	ref_put_u64(s->b, v);
}

/* A string known to need no escaping (names, numbers, timestamps). */
FIELD field_plain(struct style *s, const char *k, const char *v)
{
	key(s, k);
	if (s->json)
		ref_put_char(s->b, '"');
	ref_put(s->b, v);
	if (s->json)
		ref_put_char(s->b, '"');
}

FIELD field_null(struct style *s, const char *k)
{
	key(s, k);
	ref_put(s->b, s->json ? "null" : "-");
}

FIELD field_addr(struct style *s, const char *k, const struct sockaddr *sa,
		 socklen_t len)
{
	if (!sa) {
		field_null(s, k);
		return;
	}
	key(s, k);
	if (s->json)
		ref_put_char(s->b, '"');
	ref_put_sockaddr(s->b, sa, len, s->json);
	if (s->json)
		ref_put_char(s->b, '"');
}

FIELD field_errno(struct style *s, const char *k, int err)
{
	if (!err) {
		field_null(s, k);
		return;
	}
	key(s, k);
	if (s->json)
		ref_put_char(s->b, '"');
	const char *name = a4s_errno_name(err);
	if (name)
		ref_put(s->b, name);
	else
		ref_put_i64(s->b, err); /* unknown to us: the number */
	if (s->json)
		ref_put_char(s->b, '"');
}

FIELD begin(struct style *s, const struct timespec *ts)
{
	ref_put(s->b, s->json ? "{" : "accept4shim: ");
	key(s, "ts");
	if (s->json)
		ref_put_char(s->b, '"');
	ref_put_rfc3339(s->b, ts);
	if (s->json)
		ref_put_char(s->b, '"');
}

static inline size_t end(struct style *s)
{
	ref_put(s->b, s->json ? "}\n" : "\n");
	return s->b->full ? 0 : s->b->len;
}


size_t ref_format_record(const struct a4s_record *r, enum a4s_log_format fmt,
			 char *buf, size_t size)
{
	struct ref_buf b = { buf, size, 0, false };
	struct style s = { fmt == A4S_FORMAT_JSON, &b, true };

	begin(&s, &r->ts);
	field_i64(&s, "pid", r->pid);
	field_i64(&s, "tid", r->tid);
	field_plain(&s, "call", r->is_accept4 ? "accept4" : "accept");
	field_i64(&s, "listen_fd", r->listen_fd);
	field_addr(&s, "local", r->local, r->local_len);
	key(&s, "flags");
	if (s.json)
		ref_put_char(&b, '"');
	ref_put_flags(&b, r->flags);
	if (s.json)
		ref_put_char(&b, '"');
	field_i64(&s, "fd", r->fd);
	field_errno(&s, "errno", r->err);
	field_addr(&s, "peer", r->err ? NULL : r->peer, r->peer_len);
	field_plain(&s, "how", r->emulated ? "emulated" : "native");
	field_u64(&s, "retries", r->retries);
	field_u64(&s, "dur_ns", r->dur_ns);
	return end(&s);
}
