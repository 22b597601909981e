#include "fastpath.h"

#include "mode.h"

atomic_int a4s_fast_wanted;
const struct a4s_config *a4s_fast_cfg;
/* The loaded configuration, for deciding again after MODE=auto's switch. */
static const struct a4s_config *_Atomic configured;

int a4s_fast_decide(const struct a4s_config *cfg, bool switched)
{
	/* A retry loop is the general path's work. */
	if (cfg->retry)
		return 0;
	int w = A4S_FAST_ACCEPT4 | (cfg->add_flags & A4S_KNOWN_FLAGS);
	if (!a4s_mode_wants_native(cfg->mode, switched))
		w |= A4S_FAST_EMULATE;
	else if (cfg->mode == A4S_MODE_AUTO)
		w |= A4S_FAST_AUTO;
	/* INHERIT=bsd reads the listener after every accept(): general. */
	if (cfg->inherit == A4S_INHERIT_LINUX)
		w |= A4S_FAST_ACCEPT;
	if (cfg->log_kind != A4S_LOG_NONE)
		w |= A4S_FAST_TRACE;
	if (cfg->log_kind == A4S_LOG_COLLECTOR)
		w |= A4S_FAST_COLLECT;
	if (cfg->stats_interval_ns)
		w |= A4S_FAST_TICK;
	return w;
}

void a4s_fast_configure(const struct a4s_config *cfg)
{
	/* The real functions are bound (real.h) before this runs. */
	a4s_fast_cfg = cfg;
	atomic_store(&configured, cfg);
	atomic_store(&a4s_fast_wanted, a4s_fast_decide(cfg, a4s_mode_switched()));
}

void a4s_fast_mode_switched(void)
{
	const struct a4s_config *cfg = atomic_load(&configured);
	/* Not loaded yet: the load reads the switch when it decides. */
	if (!cfg)
		return;
	atomic_store(&a4s_fast_wanted, a4s_fast_decide(cfg, true));
	a4s_fast_publish_slow();
}

/*
 * Only in a page that is this process's (its pid is there, which self.c
 * stores once this process's state has been reset and the page is marked to
 * be wiped in children). Stored again if the decision changed meanwhile
 * (MODE=auto switching in another thread), so that the last word stored is
 * the last decision.
 */
void a4s_fast_publish_slow(void)
{
	if (atomic_load(&a4s_self_page.pid) <= 0)
		return;
	int w = atomic_load(&a4s_fast_wanted);
	for (;;) {
		atomic_store(&a4s_self_page.fast, w);
		int now = atomic_load(&a4s_fast_wanted);
		if (now == w)
			return;
		w = now;
	}
}
