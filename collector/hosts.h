/*
 * The traced processes (hosts) connected to the collector: who they are
 * (the kernel's SO_PEERCRED, not their word), the hello that hands over
 * their ring, draining the rings in turn, and what is said about each host
 * when it goes: its summary, with every record it lost counted.
 */
#ifndef A4S_COLLECTOR_HOSTS_H
#define A4S_COLLECTOR_HOSTS_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "options.h"

/* A host has this long to send its hello after connecting. */
#define A4S_HELLO_TIMEOUT_NS (5 * 1000000000ull)
/* Records taken from one ring before the next ring's turn. */
#define A4S_DRAIN_BATCH 256

void a4s_hosts_setup(const struct a4s_collector_options *o);
/* Accepts every host waiting on the listening socket. */
void a4s_hosts_accept(int listen_fd, uint64_t now_ns);
/* The hosts' sockets, for poll: at most max entries; the number filled. */
int a4s_hosts_pollfds(struct pollfd *fds, int max);
/* Whatever poll said about the socket fd (a hello, or the end). */
void a4s_hosts_event(int fd, short revents, uint64_t now_ns);
/* One turn over every ring; true when some ring had more than a batch. */
bool a4s_hosts_drain(uint64_t now_ns);
/* After the output is flushed: lets the hosts reuse what was taken. */
void a4s_hosts_publish(void);
/* About once a second: hellos that did not come, summaries due. */
void a4s_hosts_tick(uint64_t now_ns);
/* The collector stops: what is committed is written, the hosts let go
 * (they find a collector again when one starts). */
void a4s_hosts_shutdown(uint64_t now_ns);
int a4s_hosts_count(void);

#endif
