/* Where a summary goes, the exit summary and the interval ones alike. */
#ifndef A4S_SUMMARYOUT_H
#define A4S_SUMMARYOUT_H

#include <stddef.h>

#include "sys.h"

/* One summary line: to the trace's destination, as a record is, or to
 * stderr when there is no trace or it cannot be written there. */
A4S_HIDDEN void a4s_summary_out(const char *line, size_t len);

#endif
