#include "summaryout.h"

#include "sink.h"

void a4s_summary_out(const char *line, size_t len)
{
	a4s_sink_write_summary(line, len);
}
