#include "summaryout.h"

#include "collect.h"
#include "sink.h"

void a4s_summary_out(const char *line, size_t len)
{
	/* A collector that has this process's ring writes its summaries,
	 * counting what the ring dropped too (ACCEPT4SHIM_STATS=1 is in the
	 * ring's header; interval summaries are the collector's
	 * --stats-interval). */
	if (a4s_collect_takes_summaries())
		return;
	a4s_sink_write_summary(line, len);
}
