/*
 * The exported edge: the only place that sets errno. Each entry point is
 * the same few lines around a4s_accept_call.
 */
#include <errno.h>
#include <sys/socket.h>

#include <accept4shim.h>
#include "accept_path.h"
#include "clock.h"
#include "errnames.h"
#include "init.h"
#include "interval.h"
#include "real.h"
#include "stats.h"
#include "trace.h"

#define A4S_EXPORT __attribute__((visibility("default")))

static int finish(struct a4s_call *c)
{
	/* Saved before anything of ours runs: the first call may load the
	 * library, and noticing a new process asks getpid; neither may leave
	 * errno changed after a call that succeeds. */
	int saved_errno = errno;
	struct a4s_config scratch;
	const struct a4s_config *cfg = a4s_config_get(&scratch);
	/* A config with a destination is the loaded one, whose sink is open
	 * (a4s_config_get's stand-in has tracing off). */
	bool tracing = cfg->log_kind != A4S_LOG_NONE;
	uint64_t started = tracing ? a4s_monotonic_ns() : 0;

	int r = a4s_accept_call(cfg, c);

	a4s_stats_count(c, r);
	if (tracing)
		a4s_trace_call(cfg, c, r, started);
	/* After the record: a summary follows the records of the calls it
	 * counts. */
	if (cfg->stats_interval_ns)
		a4s_interval_tick(cfg);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	errno = saved_errno; /* our own system calls may have set it */
	return r;
}

A4S_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	if (a4s_real_accept_is_nested(fd, addr, addrlen)) {
		/* The C library's accept4 falling back (real.h): its errno. */
		int r = a4s_real_accept(fd, addr, addrlen);
		if (r < 0)
			errno = -r;
		return r < 0 ? -1 : r;
	}
	struct a4s_call c = { .listen_fd = fd, .addr = addr, .addrlen = addrlen };
	return finish(&c);
}

A4S_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	struct a4s_call c = { .listen_fd = fd, .addr = addr, .addrlen = addrlen,
			      .flags = flags, .is_accept4 = true };
	return finish(&c);
}

A4S_EXPORT const char *accept4shim_version(void)
{
	return ACCEPT4SHIM_VERSION_STRING;
}

A4S_EXPORT const char *accept4shim_config(void)
{
	int saved_errno = errno;
	struct a4s_config scratch;
	(void)a4s_config_get(&scratch); /* loads it, if nothing has yet */
	errno = saved_errno;
	return a4s_config_described();
}

A4S_EXPORT const char *accept4shim_errno_name(int err)
{
	return a4s_errno_name(err);
}
