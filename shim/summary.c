/*
 * ACCEPT4SHIM_STATS=1: one summary at exit, to the trace or to stderr, by a
 * process that made at least one call: the shell in front of a server, the
 * helpers it runs and a child that only execs stay quiet. A process that
 * ends in _exit or by a signal writes none: the interval summaries
 * (interval.c) are for those.
 */
#include "collect.h"
#include "init.h"
#include "summaryfmt.h"
#include "summaryout.h"
#include "sink.h"
#include "stats.h"

__attribute__((destructor)) static void write_summary_at_exit(void)
{
	const struct a4s_config *config = a4s_config_loaded();
	/* A hand-over still unanswered: whether the collector or this
	 * process writes the records and the summary. */
	a4s_collect_settle();
	if (!config || !config->stats)
		return;
	/* Records still held for want of a descriptor go first (or are
	 * counted as dropped), so that the summary counts them. */
	a4s_sink_settle();
	char line[A4S_SUMMARY_MAX];
	size_t len = a4s_stats_summary(config->log_format, line, sizeof(line));
	if (!len)
		return;
	a4s_summary_out(line, len);
}
