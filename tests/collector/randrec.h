/*
 * Random trace records for the collector's tests: every field, every
 * address family the trace knows (AF_UNIX names with every byte value and
 * every length), failures with errno values known and unknown. Shared by
 * the test host and the suites, so both sides make the same records from
 * the same seed.
 */
#ifndef A4S_TEST_RANDREC_H
#define A4S_TEST_RANDREC_H

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "record.h"

struct randrec {
	uint64_t state;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	struct sockaddr_in in4b;
	struct sockaddr_un unb;
};

static inline uint64_t randrec_next(struct randrec *g)
{
	g->state ^= g->state << 13;
	g->state ^= g->state >> 7;
	g->state ^= g->state << 17;
	return g->state;
}

static inline void randrec_seed(struct randrec *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->state = seed * 2654435761u + 88172645463325252ull;
}

static inline socklen_t randrec_addr(struct randrec *g, int which, struct sockaddr_in *in,
				     struct sockaddr_un *un, const struct sockaddr **out)
{
	switch (which) {
	case 0:
		in->sin_family = AF_INET;
		in->sin_port = (in_port_t)randrec_next(g);
		in->sin_addr.s_addr = (uint32_t)randrec_next(g);
		*out = (const struct sockaddr *)in;
		return sizeof(*in);
	case 1:
		g->in6.sin6_family = AF_INET6;
		g->in6.sin6_port = (in_port_t)randrec_next(g);
		for (int i = 0; i < 16; i++)
			g->in6.sin6_addr.s6_addr[i] = randrec_next(g) % 3 ? 0 : (uint8_t)randrec_next(g);
		g->in6.sin6_scope_id = randrec_next(g) % 4 ? 0 : (uint32_t)randrec_next(g) % 9;
		*out = (const struct sockaddr *)&g->in6;
		return sizeof(g->in6);
	default: {
		un->sun_family = AF_UNIX;
		for (size_t i = 0; i < sizeof(un->sun_path); i++)
			un->sun_path[i] = (char)randrec_next(g);
		if (randrec_next(g) % 2)
			un->sun_path[0] = '\0'; /* abstract */
		*out = (const struct sockaddr *)un;
		return (socklen_t)(sizeof(sa_family_t) + randrec_next(g) % (sizeof(un->sun_path) + 1));
	}
	}
}

/* The next random record; its addresses point into g (valid until the
 * next call). pid and tid as given. */
static inline void randrec_make(struct randrec *g, struct a4s_record *r, int pid, int tid)
{
	memset(r, 0, sizeof(*r));
	r->ts.tv_sec = (time_t)(1600000000 + randrec_next(g) % 400000000);
	r->ts.tv_nsec = (long)(randrec_next(g) % 1000000000);
	r->pid = pid;
	r->tid = tid;
	r->is_accept4 = randrec_next(g) & 1;
	r->listen_fd = (int)(randrec_next(g) % 1100);
	r->flags = r->is_accept4 ? (int)(randrec_next(g) & (SOCK_NONBLOCK | SOCK_CLOEXEC)) : 0;
	r->emulated = randrec_next(g) % 4 == 0;
	r->retries = randrec_next(g) % 8 == 0 ? (unsigned)(randrec_next(g) % 5) : 0;
	r->dur_ns = randrec_next(g) >> (randrec_next(g) % 64);
	if (randrec_next(g) % 8)
		r->local_len = randrec_addr(g, (int)(randrec_next(g) % 3), &g->in4, &g->un, &r->local);
	if (randrec_next(g) % 3) {
		r->fd = (int)(3 + randrec_next(g) % 1000);
		if (randrec_next(g) % 8)
			r->peer_len = randrec_addr(g, (int)(randrec_next(g) % 3), &g->in4b, &g->unb,
						   &r->peer);
	} else {
		static const int common[] = { EAGAIN, EMFILE, ECONNABORTED, EINTR, ENFILE };
		r->fd = -1;
		r->err = randrec_next(g) % 2 ? common[randrec_next(g) % 5]
					     : 1 + (int)(randrec_next(g) % 200);
	}
}

#endif
