/*
 * The exported edge: the only place that sets errno. Each entry point is
 * the fast path (fastpath.h) when the process's configuration allows it,
 * or else the same few lines around a4s_accept_call.
 */
#include <errno.h>
#include <sys/socket.h>

#include <accept4shim.h>
#include "accept_path.h"
#include "clock.h"
#include "collect.h"
#include "errnames.h"
#include "fastpath.h"
#include "init.h"
#include "interval.h"
#include "mode.h"
#include "real.h"
#include "stats.h"
#include "trace.h"

#define A4S_EXPORT __attribute__((visibility("default")))

/* The general path. */
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
	/* A new process, or the first call: the fast path from now on, if
	 * the configuration allows it. */
	a4s_fast_publish();
	if (r < 0) {
		errno = -r;
		return -1;
	}
	errno = saved_errno; /* our own system calls may have set it */
	return r;
}

/*
 * The fast path with more to do than a native accept and a counter: the
 * emulation, MODE=auto, a trace record, the interval summary's check, a
 * C library that may emulate accept4 itself. The same steps as finish()
 * around a simpler accept (a4s_accept_fast); the call goes to finish()
 * after all when MODE=auto has just switched to emulation.
 */
static __attribute__((noinline)) int fast_more(int word, struct a4s_call *c, int sock_flags)
{
	int saved_errno = errno;
	uint64_t started = word & A4S_FAST_TRACE ? a4s_monotonic_ns() : 0;
	int r = a4s_accept_fast(word, c, sock_flags);
	if (r == A4S_ACCEPT_GENERAL) {
		errno = saved_errno;
		return finish(c);
	}
	a4s_stats_count(c, r);
	if (word & A4S_FAST_TRACE)
		a4s_trace_call(a4s_fast_cfg, c, r, started);
	if (word & A4S_FAST_TICK)
		a4s_interval_tick(a4s_fast_cfg);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	errno = saved_errno; /* our own system calls may have set it */
	return r;
}

/*
 * The plainest call, which most processes make: natively, with glibc, no
 * trace, no interval summaries, not MODE=auto. The real accept4 with the
 * added flags and one counter, inline, with nothing saved around it:
 * glibc's accept4 is a system call wrapper (or an interposer after us, or a
 * copy of this library standing aside) that leaves errno alone on success
 * and sets it on failure, and the kernel rejects unknown flags before it
 * dequeues anything (those never come here). Other C libraries may emulate
 * accept4 themselves (musl falls back to accept and fcntl, leaving ENOSYS
 * in errno), which fast_more tells and counts.
 */
#define A4S_SHAPE (A4S_FAST_EMULATE | A4S_FAST_AUTO | A4S_FAST_TRACE | A4S_FAST_TICK)
/* The word says the call is of this kind (A4S_FAST_ACCEPT or _ACCEPT4) and
 * of exactly this shape. */
#define A4S_IS(word, call, shape) (((word) & ((call) | A4S_SHAPE)) == ((call) | (shape)))
#ifdef __GLIBC__
#define A4S_GLIBC 1
#else
#define A4S_GLIBC 0
#endif

static __attribute__((noinline)) int failed_counted(void)
{
	a4s_stats_failed(errno);
	return -1;
}

static inline __attribute__((always_inline)) int counted(int r)
{
	if (__builtin_expect(r >= 0, 1)) {
		a4s_stats_accepted();
		return r;
	}
	return failed_counted();
}

/* Emulated, with nothing after the call: the accept and one system call
 * per flag, counted. errno needs no saving: the emulation leaves it alone
 * on success (accept_path.h). */
static __attribute__((noinline)) int emulated_counted(int fd, struct sockaddr *addr,
						      socklen_t *addrlen, int sock_flags)
{
	int r = a4s_accept_emulated(fd, addr, addrlen, sock_flags);
	if (__builtin_expect(r >= 0, 1)) {
		a4s_stats_accepted();
		if (sock_flags)
			a4s_stats_emulated();
		return r;
	}
	a4s_stats_failed(-r);
	errno = -r;
	return -1;
}

static __attribute__((noinline)) int auto_counted(int fd, struct sockaddr *addr,
						  socklen_t *addrlen, int flags, int sock_flags,
						  bool is_accept4);

/*
 * Natively (MODE=native, or auto not switched) with glibc, tracing to the
 * collector, nothing else after the call: the accept, one counter, and the
 * record filled straight into the process's ring (collect.h), which costs
 * no errno: only its once-a-second look and its first record touch it, and
 * they put it back. A record that must be written in-process after all (no
 * collector took the ring) goes through the trace as in fast_more. MODE=auto's
 * ENOSYS switches to emulation and goes to the general path, as in
 * auto_counted.
 */
static int switch_to_emulation(int *errno_p, int saved_errno, struct a4s_call *c);

static __attribute__((noinline)) int collected(int word, struct a4s_call *c, int sock_flags)
{
	/* MODE=auto: the caller's errno, in case accept4 proves absent. */
	int saved_errno = word & A4S_FAST_AUTO ? errno : 0;
	uint64_t started = a4s_monotonic_ns();
	int r = c->is_accept4 || sock_flags
			? a4s_real_fns.accept4(c->listen_fd, c->addr, c->addrlen, sock_flags)
			: a4s_real_fns.accept(c->listen_fd, c->addr, c->addrlen);
	int result = r;
	if (__builtin_expect(r >= 0, 1)) {
		a4s_stats_accepted();
	} else {
		result = -errno;
		/* accept4 was called (accept() with a flag added calls it
		 * too): its ENOSYS switches, as in auto_counted. */
		if (result == -ENOSYS && (word & A4S_FAST_AUTO) && (c->is_accept4 || sock_flags))
			return switch_to_emulation(&errno, saved_errno, c);
		a4s_stats_failed(-result);
	}
	uint64_t ended = a4s_monotonic_ns();
	if (__builtin_expect(!a4s_collect_call(c, result, started, ended), 0)) {
		int own_errno = errno;
		a4s_trace_in_process(a4s_fast_cfg, c, result, started, ended);
		errno = own_errno;
	}
	return r;
}

/* The word's shape for collected(): tracing to the collector, natively,
 * nothing after the call. */
static inline bool a4s_collected_shape(int word, int call)
{
	return A4S_GLIBC && (word & A4S_FAST_COLLECT) &&
	       (A4S_IS(word, call, A4S_FAST_TRACE) ||
		A4S_IS(word, call, A4S_FAST_TRACE | A4S_FAST_AUTO));
}

static __attribute__((noinline)) int accept_more(int word, int fd, struct sockaddr *addr,
						 socklen_t *addrlen)
{
	struct a4s_call c = { .listen_fd = fd, .addr = addr, .addrlen = addrlen };
	if (a4s_collected_shape(word, A4S_FAST_ACCEPT))
		return collected(word, &c, word & A4S_KNOWN_FLAGS);
	if (word & A4S_FAST_ACCEPT)
		return fast_more(word, &c, word & A4S_KNOWN_FLAGS);
	return finish(&c);
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
	int word = a4s_fast_word();
	/* MODE=auto (the default) changes nothing for an accept() with no
	 * flag to add: the real accept, which cannot say ENOSYS for accept4. */
	if (__builtin_expect(A4S_GLIBC && (A4S_IS(word, A4S_FAST_ACCEPT, 0) ||
					   A4S_IS(word, A4S_FAST_ACCEPT, A4S_FAST_AUTO)),
			     1)) {
		int added = word & A4S_KNOWN_FLAGS;
		if (!added)
			return counted(a4s_real_fns.accept(fd, addr, addrlen));
		if (!(word & A4S_FAST_AUTO))
			return counted(a4s_real_fns.accept4(fd, addr, addrlen, added));
		return auto_counted(fd, addr, addrlen, 0, added, false);
	}
	return accept_more(word, fd, addr, addrlen);
}

/* MODE=auto, not switched, natively with glibc and nothing after the call:
 * the plain call, with the caller's errno saved in case accept4 proves
 * absent (ENOSYS): the process then switches to emulation and this call,
 * which dequeued nothing, goes to the general path, which emulates. */
static __attribute__((noinline)) int switch_to_emulation(int *errno_p, int saved_errno,
							 struct a4s_call *c)
{
	*errno_p = saved_errno;
	a4s_mode_switch_to_emulation();
	return finish(c);
}

static __attribute__((noinline)) int auto_counted(int fd, struct sockaddr *addr,
						  socklen_t *addrlen, int flags, int sock_flags,
						  bool is_accept4)
{
	int *errno_p = &errno;
	int saved_errno = *errno_p;
	int r = a4s_real_fns.accept4(fd, addr, addrlen, sock_flags);
	if (__builtin_expect(r >= 0, 1)) {
		a4s_stats_accepted();
		return r;
	}
	if (*errno_p == ENOSYS) {
		struct a4s_call c = { .listen_fd = fd, .addr = addr, .addrlen = addrlen,
				      .flags = flags, .is_accept4 = is_accept4 };
		return switch_to_emulation(errno_p, saved_errno, &c);
	}
	return failed_counted();
}

static __attribute__((noinline)) int accept4_more(int word, int fd, struct sockaddr *addr,
						  socklen_t *addrlen, int flags)
{
	struct a4s_call c = { .listen_fd = fd, .addr = addr, .addrlen = addrlen,
			      .flags = flags, .is_accept4 = true };
	/* Unknown flags go the general way, which says EINVAL before
	 * anything is dequeued, whatever the kernel or a sandbox would. */
	if (a4s_collected_shape(word, A4S_FAST_ACCEPT4) && a4s_flags_valid(flags))
		return collected(word, &c, flags | (word & A4S_KNOWN_FLAGS));
	if ((word & A4S_FAST_ACCEPT4) && a4s_flags_valid(flags))
		return fast_more(word, &c, flags | (word & A4S_KNOWN_FLAGS));
	return finish(&c);
}

A4S_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	int word = a4s_fast_word();
	if (__builtin_expect(A4S_GLIBC && A4S_IS(word, A4S_FAST_ACCEPT4, 0) && a4s_flags_valid(flags), 1))
		return counted(a4s_real_fns.accept4(fd, addr, addrlen, flags | (word & A4S_KNOWN_FLAGS)));
	if (A4S_GLIBC && A4S_IS(word, A4S_FAST_ACCEPT4, A4S_FAST_AUTO) && a4s_flags_valid(flags))
		return auto_counted(fd, addr, addrlen, flags, flags | (word & A4S_KNOWN_FLAGS), true);
	if (A4S_IS(word, A4S_FAST_ACCEPT4, A4S_FAST_EMULATE) && a4s_flags_valid(flags))
		return emulated_counted(fd, addr, addrlen, flags | (word & A4S_KNOWN_FLAGS));
	return accept4_more(word, fd, addr, addrlen, flags);
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
