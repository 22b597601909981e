#ifndef A4S_TIMEFMT_H
#define A4S_TIMEFMT_H

#include <time.h>

#include "text.h"

/* RFC 3339 in UTC with microseconds: 2026-11-21T10:00:00.123456Z.
 * Computed here rather than with gmtime_r, which takes the time zone lock
 * in glibc and so is not safe in a signal handler. */
A4S_HIDDEN void a4s_put_rfc3339(struct a4s_buf *b, const struct timespec *ts);

/* The classic syslog stamp, "Nov 21 10:00:00", in UTC. */
A4S_HIDDEN void a4s_put_syslog_time(struct a4s_buf *b, const struct timespec *ts);

#endif
