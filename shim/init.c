#include "init.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "children.h"
#include "collect.h"
#include "complain.h"
#include "copies.h"
#include "describe.h"
#include "fastpath.h"
#include "fork.h"
#include "interval.h"
#include "listeners.h"
#include "real.h"
#include "self.h"
#include "sink.h"

enum { UNLOADED, LOADING, LOADED };

static struct a4s_config config;
/* ACCEPT4SHIM_LOG=collector:PATH: where records go when no collector takes
 * them (collect.h), the program's stderr, with the same format and skip
 * list: what the sink writes to in that mode. */
static struct a4s_config in_process;
static char log_path[PATH_MAX];
static char described[A4S_DESCRIBE_MAX];
static atomic_int state = UNLOADED;

/* secure_getenv: in a set-user-ID or otherwise secure-execution process the
 * environment belongs to someone else, so every variable reads as unset. */
static const char *from_environment(const char *name, const void *ctx)
{
	(void)ctx;
	return secure_getenv(name);
}

/* A copy standing aside (copies.h) passes every call straight on: MODE=native
 * (the next accept4 as it is, ENOSYS included, never an emulation of its
 * own) and nothing else set. Its defaults' MODE=auto would emulate where
 * accept4 is refused and hide the ENOSYS from the copy at work, which then
 * traced "native", and under MODE=native returned a socket where the C
 * library's accept4 had failed. */
static const char *standing_aside(const char *name, const void *ctx)
{
	(void)ctx;
	return strcmp(name, "ACCEPT4SHIM_MODE") == 0 ? "native" : NULL;
}

void a4s_init_after_fork(void)
{
	int loading = LOADING;
	atomic_compare_exchange_strong(&state, &loading, UNLOADED);
}

static void load(void)
{
	/* Static, not on the stack: the first call may come from a signal
	 * handler on a small alternate stack, and only one thread loads. */
	static char complaints[A4S_COMPLAINTS_MAX];
	struct a4s_diag diag = { complaints, sizeof(complaints), 0, 0 };

	/* First, so that a child forked by another thread while we load
	 * notices it is a new process (and forgets this load). */
	a4s_self_setup(a4s_new_process_reset);
	a4s_children_register(); /* early: our prepare handler runs last */
	a4s_real_bind();
	a4s_config_parse(&config,
			 a4s_another_copy_comes_first() ? standing_aside : from_environment,
			 NULL, &diag);
	/* The program may change its environment later; keep our own copy. */
	if (config.log_path) {
		size_t n = strlen(config.log_path);
		memcpy(log_path, config.log_path, n + 1); /* parse checked n */
		config.log_path = log_path;
	}
	a4s_describe_config(&config, described, sizeof(described));
	a4s_fast_configure(&config);
	a4s_listeners_configure(config.log_kind != A4S_LOG_NONE);
	if (config.log_kind == A4S_LOG_COLLECTOR) {
		a4s_collect_configure(&config);
		in_process = config;
		in_process.log_kind = A4S_LOG_STDERR;
		in_process.log_path = NULL;
		a4s_sink_open(&in_process);
	} else {
		a4s_sink_open(&config);
	}
	a4s_interval_start(&config);
	atomic_store_explicit(&state, LOADED, memory_order_release);
	a4s_complain(complaints, diag.len);
}

/*
 * For a call that cannot use the loaded configuration as it is: another
 * thread (or a signal handler that interrupted it) is loading it, or is
 * resetting the library's state for a new process. Waiting could deadlock;
 * the call goes on with the same configuration (read from the environment
 * if none is loaded yet), quietly and without a trace.
 */
static const struct a4s_config *stand_in(struct a4s_config *scratch)
{
	a4s_real_bind();
	if (atomic_load_explicit(&state, memory_order_acquire) == LOADED) {
		*scratch = config;
	} else {
		struct a4s_diag quiet = { NULL, 0, 0, 0 };
		a4s_config_parse(scratch, from_environment, NULL, &quiet);
	}
	scratch->log_kind = A4S_LOG_NONE;
	scratch->log_path = NULL;
	return scratch;
}

static const struct a4s_config *get(struct a4s_config *scratch)
{
	int s = atomic_load_explicit(&state, memory_order_acquire);
	if (s == LOADED)
		return &config;
	if (s == UNLOADED && atomic_compare_exchange_strong(&state, &s, LOADING)) {
		load();
		return &config;
	}
	if (s == LOADED)
		return &config;
	return stand_in(scratch);
}

const struct a4s_config *a4s_config_get(struct a4s_config *scratch)
{
	/* A new process resets the library's state before using it. */
	if (!a4s_self_check())
		return stand_in(scratch);
	return get(scratch);
}

/* No a4s_self_check here: the configuration is the same in a child, and a
 * child that exits without having called the library must pay nothing for
 * it; whoever reads per-process state next (the counters) checks. */
const struct a4s_config *a4s_config_loaded(void)
{
	return atomic_load(&state) == LOADED ? &config : NULL;
}

const char *a4s_config_described(void)
{
	return atomic_load_explicit(&state, memory_order_acquire) == LOADED ? described : NULL;
}

__attribute__((constructor)) static void on_load(void)
{
	/* C promises main() an errno of 0; our own calls (an fstat of a
	 * closed fd 2, say) must not leave theirs behind. */
	int saved_errno = errno;
	struct a4s_config scratch;
	/* Not a4s_config_get: a process that never calls the library is
	 * not to pay for noticing it is a new one (see self.h). */
	(void)get(&scratch);
	errno = saved_errno;
}
