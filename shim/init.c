#include "init.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "real.h"
#include "record.h"
#include "self.h"
#include "sink.h"
#include "sinkwrite.h"
#include "stats.h"

enum { UNLOADED, LOADING, LOADED };

static struct a4s_config config;
static char log_path[PATH_MAX];
static atomic_int state = UNLOADED;

/* secure_getenv: in a set-user-ID or otherwise secure-execution process the
 * environment belongs to someone else, so every variable reads as unset. */
static const char *from_environment(const char *name, const void *ctx)
{
	(void)ctx;
	return secure_getenv(name);
}

static void after_fork_in_child(void)
{
	/* A fork while another thread was loading: that thread does not exist
	 * in the child, so the child loads for itself on its first call. */
	int loading = LOADING;
	atomic_compare_exchange_strong(&state, &loading, UNLOADED);
	a4s_self_forget();
	a4s_stats_reset();
	a4s_sink_after_fork();
}

static void say(const char *text, size_t len)
{
	/* Straight to fd 2 with one write per line; never stdout. */
	while (len) {
		const char *nl = text;
		while (nl < text + len && *nl != '\n')
			nl++;
		size_t n = (size_t)(nl - text) + (nl < text + len);
		a4s_write_fd2(text, n);
		text += n;
		len -= n;
	}
}

static void load(void);

static const char *nothing_set(const char *name, const void *ctx)
{
	(void)name, (void)ctx;
	return NULL;
}

/*
 * Two copies of the library in one process (two installations, or the
 * wrapper run inside another with a different library path): the program's
 * calls reach the copy that comes first in the symbol search order, which
 * passes them on through RTLD_NEXT to the other. Only the first applies the
 * configuration; the other stands aside with the defaults, so each call is
 * traced and counted once and each bad variable complained about once. The
 * first copy is the object that holds the accept4shim_get_stats a global
 * lookup finds. (The same file named twice is loaded once: not this case.)
 */
static bool another_copy_comes_first(void)
{
	void *first = dlsym(RTLD_DEFAULT, "accept4shim_get_stats");
	Dl_info theirs, ours;
	return first && dladdr(first, &theirs) && dladdr((void *)load, &ours) &&
	       theirs.dli_fbase != ours.dli_fbase;
}

static void load(void)
{
	char complaints[A4S_COMPLAINTS_MAX];
	struct a4s_diag diag = { complaints, sizeof(complaints), 0, 0 };

	/* First, so that a fork from another thread while we load is seen. */
	pthread_atfork(NULL, NULL, after_fork_in_child);
	a4s_real_bind();
	a4s_config_parse(&config, another_copy_comes_first() ? nothing_set : from_environment,
			 NULL, &diag);
	/* The program may change its environment later; keep our own copy. */
	if (config.log_path) {
		size_t n = strlen(config.log_path);
		memcpy(log_path, config.log_path, n + 1); /* parse checked n */
		config.log_path = log_path;
	}
	a4s_sink_open(&config);
	atomic_store_explicit(&state, LOADED, memory_order_release);
	say(complaints, diag.len);
}

const struct a4s_config *a4s_config_get(struct a4s_config *scratch)
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
	/* Another thread (or a signal handler that interrupted it) is
	 * loading; do not wait for it, which could deadlock, but read the
	 * same environment ourselves, quietly and without a trace. */
	a4s_real_bind();
	struct a4s_diag quiet = { NULL, 0, 0, 0 };
	a4s_config_parse(scratch, from_environment, NULL, &quiet);
	scratch->log_kind = A4S_LOG_NONE;
	scratch->log_path = NULL;
	return scratch;
}

__attribute__((constructor)) static void on_load(void)
{
	/* C promises main() an errno of 0; our own calls (an fstat of a
	 * closed fd 2, say) must not leave theirs behind. */
	int saved_errno = errno;
	struct a4s_config scratch;
	(void)a4s_config_get(&scratch);
	errno = saved_errno;
}

/*
 * ACCEPT4SHIM_STATS=1: one summary at exit, to the trace or to stderr, by a
 * process that made at least one call: the shell in front of a server, the
 * helpers it runs and a child that only execs stay quiet. A process that
 * ends in _exit or by a signal writes none.
 */
__attribute__((destructor)) static void write_summary_at_exit(void)
{
	if (atomic_load(&state) != LOADED || !config.stats)
		return;
	char line[A4S_SUMMARY_MAX];
	size_t len = a4s_stats_summary(config.log_format, line, sizeof(line));
	if (!len)
		return;
	if (a4s_sink_enabled())
		a4s_sink_write(line, len);
	else
		a4s_sink_write_stderr(line, len);
}
