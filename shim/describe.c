#include "describe.h"

#include "errnames.h"
#include "flags.h"
#include "text.h"

void a4s_describe_config(const struct a4s_config *cfg, char *buf, size_t size)
{
	static const char *const modes[] = { "auto", "native", "emulate" };
	static const char *const logs[] = { "none", "stderr", "syslog", "file", "collector" };
	struct a4s_buf b = { buf, size - 1, 0, false };

	a4s_put(&b, "mode=");
	a4s_put(&b, modes[cfg->mode]);
	a4s_put(&b, cfg->inherit == A4S_INHERIT_BSD ? " inherit=bsd" : " inherit=linux");
	a4s_put(&b, cfg->retry ? " retry=on" : " retry=off");
	a4s_put(&b, " add_flags=");
	a4s_put_flags(&b, cfg->add_flags);
	a4s_put(&b, " log=");
	a4s_put(&b, logs[cfg->log_kind]);
	a4s_put(&b, cfg->log_format == A4S_FORMAT_JSON ? " log_format=json" : " log_format=text");
	a4s_put(&b, cfg->stats ? " stats=1" : " stats=0");
	a4s_put(&b, " log_skip=");
	bool first = true;
	for (int e = 1; e < A4S_SKIP_BITS; e++) {
		if (!a4s_log_skips(cfg, e))
			continue;
		if (!first)
			a4s_put_char(&b, ',');
		first = false;
		a4s_put(&b, a4s_errno_name(e)); /* parsed from a name: it has one */
	}
	a4s_put(&b, " stats_interval=");
	a4s_put_u64(&b, cfg->stats_interval_ns / 1000000000ULL);
	buf[b.len] = '\0';
}
