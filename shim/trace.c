#include "trace.h"

#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "collect.h"
#include "listeners.h"
#include "record.h"
#include "self.h"
#include "sink.h"

/* Formatted and written to the trace's destination, unless
 * ACCEPT4SHIM_LOG_SKIP leaves it out (counted already, written not at
 * all). Inline in the traced call, whose frame holds the line. */
static inline __attribute__((always_inline)) void write_record(const struct a4s_config *cfg,
								const struct a4s_record *r,
								uint64_t now_ns)
{
	char line[A4S_RECORD_MAX];
	size_t len = a4s_format_record(r, cfg->log_format, line, sizeof(line));
	if (len)
		a4s_sink_write_at(line, len, now_ns);
}

void a4s_trace_write(const struct a4s_config *cfg, const struct a4s_record *r, uint64_t now_ns)
{
	if (r->err && a4s_log_skips(cfg, r->err))
		return;
	write_record(cfg, r, now_ns);
}

static inline __attribute__((always_inline)) void in_process(const struct a4s_config *cfg,
							      const struct a4s_call *c, int result,
							      uint64_t started_ns,
							      uint64_t ended_ns)
{
	if (result < 0 && a4s_log_skips(cfg, -result))
		return;
	struct sockaddr_storage local, peer;
	socklen_t local_len, peer_len = sizeof(peer);
	struct a4s_record r = {
		.pid = a4s_self_pid(),
		.tid = a4s_self_tid(),
		.is_accept4 = c->is_accept4,
		.listen_fd = c->listen_fd,
		.flags = c->flags,
		.fd = result >= 0 ? result : -1,
		.err = result >= 0 ? 0 : -result,
		.emulated = c->emulated,
		.retries = c->retries,
		.dur_ns = ended_ns - started_ns,
	};
	clock_gettime(CLOCK_REALTIME, &r.ts);

	/* Kept per listener (listeners.h), asked of the kernel when it must. */
	local_len = a4s_listener_address(c->listen_fd, result, ended_ns, &local);
	if (local_len) {
		r.local = (struct sockaddr *)&local;
		r.local_len = local_len;
	}
	/*
	 * The peer is asked of the new socket, not read from the caller's
	 * addr: whether the kernel truncated that buffer depends on the
	 * *addrlen the caller passed in, which the library may not read
	 * before the kernel has, and afterwards it holds the full length.
	 */
	if (result >= 0 &&
	    a4s_getpeername(result, (struct sockaddr *)&peer, &peer_len) == 0) {
		r.peer = (struct sockaddr *)&peer;
		r.peer_len = peer_len;
	}
	write_record(cfg, &r, ended_ns);
}

void a4s_trace_in_process(const struct a4s_config *cfg, const struct a4s_call *c, int result,
			  uint64_t started_ns, uint64_t ended_ns)
{
	in_process(cfg, c, result, started_ns, ended_ns);
}

/* Skipped records too go to the collector, which counts them in its
 * summaries and writes them not (the ring's header has the list). Out of
 * line: the in-process record's frame is not this one's. */
static __attribute__((noinline)) void to_collector(const struct a4s_config *cfg,
						   const struct a4s_call *c, int result,
						   uint64_t started_ns, uint64_t ended_ns)
{
	if (!a4s_collect_call_outline(c, result, started_ns, ended_ns))
		a4s_trace_in_process(cfg, c, result, started_ns, ended_ns);
}

void a4s_trace_call(const struct a4s_config *cfg, const struct a4s_call *c, int result,
		    uint64_t started_ns)
{
	uint64_t ended_ns = a4s_monotonic_ns();
	if (__builtin_expect(cfg->log_kind == A4S_LOG_COLLECTOR, 0)) {
		to_collector(cfg, c, result, started_ns, ended_ns);
		return;
	}
	in_process(cfg, c, result, started_ns, ended_ns);
}
