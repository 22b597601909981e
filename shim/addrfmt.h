#ifndef A4S_ADDRFMT_H
#define A4S_ADDRFMT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "digits.h"
#include "escape.h"
#include "text.h"

/*
 * A socket address as the trace shows it, unquoted:
 *   127.0.0.1:8080   [::1]:8080   [fe80::1%2]:8080 (scope id as a number)
 *   unix:/path       unix:@name (abstract)       unix: (unnamed)
 * IPv6 as RFC 5952 says: lower-case hex, no leading zeros, the longest run
 * of two or more zero groups (the first, on a tie) as "::", an IPv4-mapped
 * address with its last 32 bits dotted.
 * An AF_UNIX name may hold any byte, so it goes through the escapes of the
 * record's format (escape.h): json true for JSON's, false for the text's.
 * Other families as "family:N"; len too short to hold the family, or an
 * IPv4 or IPv6 address cut short: "?".
 */

/* The longest: "unix:" and a path of 108 bytes, each escaped to six. */
#define A4S_SOCKADDR_MAX (5 + 108 * A4S_ESCAPE_JSON_MAX)

/* Unchecked: the caller has room for A4S_SOCKADDR_MAX bytes at p (no more
 * are touched). Returns the end of what it wrote. IPv4, the usual case, is
 * inline; the rest out of line. */
A4S_HIDDEN char *a4s_write_sockaddr_other(char *p, const struct sockaddr *sa,
					  socklen_t len, bool json);

/* An octet's digits and a dot ("255."), of which len bytes count (the
 * text's own NUL is never copied). */
struct a4s_octet {
	char text[5];
	unsigned char len;
};
A4S_HIDDEN extern const struct a4s_octet a4s_octets[256];

/* "a.b.c.d": four fixed-size copies, at most 16 bytes touched. */
A4S_WRITER a4s_write_ipv4(char *p, const unsigned char *q)
{
	const struct a4s_octet *a = &a4s_octets[q[0]], *b = &a4s_octets[q[1]],
			       *c = &a4s_octets[q[2]], *d = &a4s_octets[q[3]];
	__builtin_memcpy(p, a->text, 4);
	p += a->len;
	__builtin_memcpy(p, b->text, 4);
	p += b->len;
	__builtin_memcpy(p, c->text, 4);
	p += c->len;
	__builtin_memcpy(p, d->text, 4);
	return p + d->len - 1; /* not the last dot */
}

/* A port in network order, read as its two bytes: no ntohs, which musl
 * has as a function. */
static inline unsigned a4s_port(const void *port)
{
	const unsigned char *b = port;
	return (unsigned)b[0] << 8 | b[1];
}

A4S_WRITER a4s_write_sockaddr(char *p, const struct sockaddr *sa, socklen_t len, bool json)
{
	if (len >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		p = a4s_write_ipv4(p, (const unsigned char *)&in->sin_addr);
		*p++ = ':';
		return a4s_write_u32(p, a4s_port(&in->sin_port));
	}
	return a4s_write_sockaddr_other(p, sa, len, json);
}

/* The same into a bounded buffer: all of it, or nothing and .full. */
A4S_HIDDEN void a4s_put_sockaddr(struct a4s_buf *b, const struct sockaddr *sa,
				 socklen_t len, bool json);

#endif
