/* The counters behind accept4shim_get_stats and the exit summary. */
#ifndef A4S_STATS_H
#define A4S_STATS_H

#include "accept_path.h"
#include "sys.h"

A4S_HIDDEN void a4s_stats_count(const struct a4s_call *c, int result);
A4S_HIDDEN void a4s_stats_dropped(void);
A4S_HIDDEN void a4s_stats_reset(void);
/* Formats the summary into buf; 0 when there is nothing to say (no call
 * was made) or it did not fit. */
A4S_HIDDEN size_t a4s_stats_summary(enum a4s_log_format fmt, char *buf, size_t size);

#endif
