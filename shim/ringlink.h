/*
 * Handing a ring (ring.h) to accept4shim-collector: the host connects to
 * the collector's unix socket, sends one hello carrying the memfd
 * (SCM_RIGHTS), and the collector answers once. From then on the socket
 * carries nothing; it stays open only so that its end tells the collector
 * the host is gone (and tells the host the collector is).
 *
 * Every call here is raw and non-blocking except a4s_ringlink_reply, which
 * waits at most the time it is given; none is made per record.
 */
#ifndef A4S_RINGLINK_H
#define A4S_RINGLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

#define A4S_RINGLINK_HELLO_MAGIC "A4SHELO" /* 8 bytes with its NUL */
#define A4S_RINGLINK_REPLY_MAGIC "A4SRPLY"

struct a4s_ringlink_hello {
	char magic[8];
	uint32_t version; /* A4S_RING_VERSION */
	uint32_t reserved;
	uint64_t size;    /* the memfd's size */
};

/* status: 0 when the collector has mapped the ring and drains it; else why
 * it will not, as an errno value: EACCES (the host is another user's),
 * EPROTO (not a hello), EINVAL (not a sealed ring of this version), EBUSY
 * (the collector serves as many hosts as it can). */
struct a4s_ringlink_reply {
	char magic[8];
	int32_t status;
	uint32_t reserved;
};

/* A socket connected to the collector at path, close-on-exec and
 * non-blocking: in *sock, and 0; or -errno (ENOENT or ECONNREFUSED: no
 * collector there; EAGAIN: its queue is full). */
A4S_HIDDEN int a4s_ringlink_connect(const char *path, int *sock);
/* The hello, with the ring's memfd. 0 or -errno. */
A4S_HIDDEN int a4s_ringlink_send(int sock, const struct a4s_ring *r);
/* The collector's answer, waiting at most timeout_ms: its status negated
 * (0: attached), -ETIMEDOUT, or -ECONNRESET if it hung up. */
A4S_HIDDEN int a4s_ringlink_reply(int sock, int timeout_ms);
/* Both: the hello, then the answer. A collector that refuses a host
 * (another user's) answers at once and hangs up, so the hello may meet
 * EPIPE; its answer is still there to read, and is what this returns. */
A4S_HIDDEN int a4s_ringlink_handover(int sock, const struct a4s_ring *r, int timeout_ms);
/* Whether the collector still holds its end (one recv, MSG_PEEK). */
A4S_HIDDEN bool a4s_ringlink_alive(int sock);

#endif
