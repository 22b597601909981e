#include "addrfmt.h"

#include <stddef.h>
#include <sys/un.h>

#include "digits.h"
#include "escape.h"

/* Each octet's digits and the dot after it, and how many of those count,
 * so that an octet is one fixed-size copy: "0." to "255.". */
#define A4S_OCTET(text) { text, sizeof(text) - 1 }
#define A4S_OCTETS_10(t) A4S_OCTET(#t "0."), A4S_OCTET(#t "1."), A4S_OCTET(#t "2."), \
			 A4S_OCTET(#t "3."), A4S_OCTET(#t "4."), A4S_OCTET(#t "5."), \
			 A4S_OCTET(#t "6."), A4S_OCTET(#t "7."), A4S_OCTET(#t "8."), \
			 A4S_OCTET(#t "9.")
const struct a4s_octet a4s_octets[256] = {
	A4S_OCTET("0."), A4S_OCTET("1."), A4S_OCTET("2."), A4S_OCTET("3."), A4S_OCTET("4."),
	A4S_OCTET("5."), A4S_OCTET("6."), A4S_OCTET("7."), A4S_OCTET("8."), A4S_OCTET("9."),
	A4S_OCTETS_10(1), A4S_OCTETS_10(2), A4S_OCTETS_10(3), A4S_OCTETS_10(4),
	A4S_OCTETS_10(5), A4S_OCTETS_10(6), A4S_OCTETS_10(7), A4S_OCTETS_10(8),
	A4S_OCTETS_10(9), A4S_OCTETS_10(10), A4S_OCTETS_10(11), A4S_OCTETS_10(12),
	A4S_OCTETS_10(13), A4S_OCTETS_10(14), A4S_OCTETS_10(15), A4S_OCTETS_10(16),
	A4S_OCTETS_10(17), A4S_OCTETS_10(18), A4S_OCTETS_10(19), A4S_OCTETS_10(20),
	A4S_OCTETS_10(21), A4S_OCTETS_10(22), A4S_OCTETS_10(23), A4S_OCTETS_10(24),
	A4S_OCTET("250."), A4S_OCTET("251."), A4S_OCTET("252."), A4S_OCTET("253."),
	A4S_OCTET("254."), A4S_OCTET("255."),
};

static char *write_ipv6(char *p, const unsigned char *a)
{
	static const char mapped_prefix[] = "::ffff:";
	uint64_t head;
	uint16_t zero;
	__builtin_memcpy(&head, a, 8);
	__builtin_memcpy(&zero, a + 8, 2);
	if (head == 0 && zero == 0 && a[10] == 0xff && a[11] == 0xff) {
		__builtin_memcpy(p, mapped_prefix, sizeof(mapped_prefix) - 1);
		return a4s_write_ipv4(p + sizeof(mapped_prefix) - 1, a + 12);
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
			p[0] = ':';
			p[1] = ':';
			p += 2;
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			*p++ = ':';
		p = a4s_write_hex32(p, g[i]);
	}
	return p;
}

/*
 * An AF_UNIX name is bytes, not text: two names that differ in one byte are
 * two sockets. Hence the JSON escapes of escape.h: passing valid UTF-8
 * through would read better but lose that (the name "\xff" and the UTF-8
 * bytes of U+00FF would parse to the same string), and a line of pure ASCII
 * goes through every log pipeline unchanged.
 */
static char *write_unix(char *p, const struct sockaddr_un *un, socklen_t len, bool json)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n = len > off ? len - off : 0;
	if (n > sizeof(un->sun_path))
		n = sizeof(un->sun_path);
	__builtin_memcpy(p, "unix:", 5);
	p += 5;
	if (n == 0)
		return p; /* unnamed */
	const unsigned char *name = (const unsigned char *)un->sun_path;
	if (name[0] == '\0') {
		/* Abstract: every byte of the length counts, NULs included. */
		*p++ = '@';
		return json ? a4s_write_escaped(p, name + 1, n - 1, false, true)
			    : a4s_write_escaped(p, name + 1, n - 1, false, false);
	}
	/* A path ends at its first NUL; the kernel may count it or not. */
	return json ? a4s_write_escaped(p, name, n, true, true)
		    : a4s_write_escaped(p, name, n, true, false);
}

char *a4s_write_sockaddr_other(char *p, const struct sockaddr *sa, socklen_t len, bool json)
{
	if (len < sizeof(sa_family_t)) {
		*p = '?';
		return p + 1;
	}
	switch (sa->sa_family) {
	case AF_INET6: {
		if (len < sizeof(struct sockaddr_in6))
			break; /* cut short: never read past len */
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		*p++ = '[';
		p = write_ipv6(p, in6->sin6_addr.s6_addr);
		if (in6->sin6_scope_id) {
			*p++ = '%';
			p = a4s_write_u32(p, in6->sin6_scope_id);
		}
		p[0] = ']';
		p[1] = ':';
		return a4s_write_u32(p + 2, a4s_port(&in6->sin6_port));
	}
	case AF_INET:
		break; /* here only when cut short */
	case AF_UNIX:
		return write_unix(p, (const struct sockaddr_un *)sa, len, json);
	default:
		__builtin_memcpy(p, "family:", 7);
		return a4s_write_u32(p + 7, sa->sa_family);
	}
	*p = '?';
	return p + 1;
}

void a4s_put_sockaddr(struct a4s_buf *b, const struct sockaddr *sa, socklen_t len, bool json)
{
	char text[A4S_SOCKADDR_MAX];
	a4s_put_bytes(b, text, (size_t)(a4s_write_sockaddr(text, sa, len, json) - text));
}
