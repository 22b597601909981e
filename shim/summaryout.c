#include "summaryout.h"

#include "sink.h"
#include "sinkwrite.h"

void a4s_summary_out(const char *line, size_t len)
{
	if (a4s_sink_enabled())
		a4s_sink_write(line, len);
	else
		a4s_sink_write_stderr(line, len);
}
