/*
 * accept4shim-collector --socket=PATH --log=DEST [--log-format=text|json]
 *                       [--log-skip=NAMES] [--stats-interval=N]
 *
 * Takes the trace off the traced processes: each one (with
 * ACCEPT4SHIM_LOG=collector:PATH) hands it a ring of binary records in
 * shared memory, and writes its records there with no system call; this
 * program drains the rings, formats the records exactly as the in-process
 * trace would, and writes them to DEST. docs/collector.md has the design.
 *
 * One thread, one poll loop: the sockets say when hosts come and go, and
 * the rings are looked at every few milliseconds (a host never wakes us:
 * that would cost it a system call per record).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "hosts.h"
#include "listener.h"
#include "options.h"
#include "output.h"

/* How often idle rings are looked at. A ring of 4096 records then holds
 * more than 400,000 records a second of one host before it drops. */
#define IDLE_MS 10

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* SIGTERM and SIGINT end the loop; they are blocked outside ppoll so that
 * one cannot slip in between the check and the wait. SIGPIPE and SIGXFSZ
 * are answered as errors by the writes that raise them. */
static void signals(sigset_t *during_poll)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, during_poll);
	sigdelset(during_poll, SIGTERM);
	sigdelset(during_poll, SIGINT);
}

int main(int argc, char **argv)
{
	struct a4s_collector_options opts;
	int status = a4s_collector_options(argc, argv, &opts);
	if (status >= 0)
		return status;
	sigset_t during_poll;
	signals(&during_poll);
	a4s_out_setup(&opts);
	a4s_hosts_setup(&opts);
	struct a4s_listener l;
	char why[512];
	if (a4s_listener_open(&l, opts.socket_path, why, sizeof(why)) < 0) {
		fprintf(stderr, "accept4shim-collector: cannot listen: %s\n", why);
		a4s_listener_close(&l);
		return 1;
	}

	int cap = 64;
	struct pollfd *fds = malloc(sizeof(*fds) * (size_t)cap);
	if (!fds)
		return 1;
	bool more = false;
	uint64_t next_tick = a4s_monotonic_ns() + A4S_SECOND_NS;
	while (!stopping) {
		int want = a4s_hosts_count() + 1;
		if (want > cap) {
			struct pollfd *bigger = realloc(fds, sizeof(*fds) * (size_t)want * 2);
			if (bigger) {
				fds = bigger;
				cap = want * 2;
			}
		}
		fds[0] = (struct pollfd){ l.fd, POLLIN, 0 };
		int n = 1 + a4s_hosts_pollfds(fds + 1, cap - 1);
		struct timespec wait = { 0, more ? 0 : IDLE_MS * 1000000L };
		int ready = ppoll(fds, (nfds_t)n, &wait, &during_poll);
		if (ready < 0 && errno != EINTR)
			break;
		uint64_t now = a4s_monotonic_ns();
		if (ready > 0) {
			for (int i = 1; i < n; i++)
				if (fds[i].revents)
					a4s_hosts_event(fds[i].fd, fds[i].revents, now);
			if (fds[0].revents & POLLIN)
				a4s_hosts_accept(l.fd, now);
		}
		more = a4s_hosts_drain(now);
		/* Written first, then given back: a collector killed between the
		 * two writes some records twice after a restart, never none. */
		a4s_out_flush_all();
		a4s_hosts_publish();
		if (now >= next_tick) {
			a4s_out_tick(now);
			a4s_hosts_tick(now);
			next_tick = now + A4S_SECOND_NS;
		}
	}
	a4s_hosts_shutdown(a4s_monotonic_ns());
	a4s_listener_close(&l);
	free(fds);
	return 0;
}
