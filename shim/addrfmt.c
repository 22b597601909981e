#include "addrfmt.h"

#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

static void put_ipv4(struct a4s_buf *b, const unsigned char *q)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			a4s_put_char(b, '.');
		a4s_put_u64(b, q[i]);
	}
}

/* RFC 5952: lower-case hex, no leading zeros, the longest run of two or
 * more zero groups (the first, on a tie) as "::", and an IPv4-mapped
 * address with its last 32 bits in dotted form. */
static void put_ipv6(struct a4s_buf *b, const unsigned char *a)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		a4s_put(b, "::ffff:");
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
			a4s_put(b, "::");
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			a4s_put_char(b, ':');
		a4s_put_hex(b, g[i]);
	}
}

static void put_unix(struct a4s_buf *b, const struct sockaddr_un *un,
		     socklen_t len, bool json)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n = len > off ? len - off : 0;
	if (n > sizeof(un->sun_path))
		n = sizeof(un->sun_path);
	a4s_put(b, "unix:");
	if (n == 0)
		return; /* unnamed */
	const char *name = un->sun_path;
	if (name[0] == '\0') {
		/* Abstract: every byte of the length counts, NULs included. */
		a4s_put_char(b, '@');
		name++;
		n--;
	} else {
		/* A path ends at its first NUL; the kernel may count it or not. */
		const char *nul = memchr(name, '\0', n);
		if (nul)
			n = (size_t)(nul - name);
	}
	if (json)
		a4s_put_escaped_json(b, name, n);
	else
		a4s_put_escaped_text(b, name, n);
}

void a4s_put_sockaddr(struct a4s_buf *b, const struct sockaddr *sa, socklen_t len,
		      bool json)
{
	if (len < sizeof(sa_family_t)) {
		a4s_put_char(b, '?');
		return;
	}
	if ((sa->sa_family == AF_INET && len < sizeof(struct sockaddr_in)) ||
	    (sa->sa_family == AF_INET6 && len < sizeof(struct sockaddr_in6))) {
		a4s_put_char(b, '?'); /* cut short: never read past len */
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		put_ipv4(b, (const unsigned char *)&in->sin_addr);
		a4s_put_char(b, ':');
		a4s_put_u64(b, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		a4s_put_char(b, '[');
		put_ipv6(b, in6->sin6_addr.s6_addr);
		if (in6->sin6_scope_id) {
			a4s_put_char(b, '%');
			a4s_put_u64(b, in6->sin6_scope_id);
		}
		a4s_put(b, "]:");
		a4s_put_u64(b, ntohs(in6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		put_unix(b, (const struct sockaddr_un *)sa, len, json);
	} else {
		a4s_put(b, "family:");
		a4s_put_u64(b, sa->sa_family);
	}
}
