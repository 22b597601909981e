/*
 * Wall-clock times as the trace shows them, in UTC. Computed here rather
 * than with gmtime_r, which takes the time zone lock in glibc and so is not
 * safe in a signal handler.
 */
#ifndef A4S_TIMEFMT_H
#define A4S_TIMEFMT_H

#include <stdint.h>
#include <time.h>

#include "digits.h"
#include "text.h"

/* RFC 3339 with microseconds, 2026-11-21T10:00:00.123456Z, in two parts:
 * the minute ("2026-11-21T10:00", shared by every record of that minute)
 * and the tail (":00.123456Z"). RFC 3339 has four-digit years; a clock set
 * beyond 9999 still shows its real year (up to twelve digits, time_t's
 * last), and one before year 0 shows 0000. */
#define A4S_RFC3339_MINUTE_MAX (12 + 12)
#define A4S_RFC3339_TAIL_LEN 11
#define A4S_RFC3339_MAX (A4S_RFC3339_MINUTE_MAX + A4S_RFC3339_TAIL_LEN)

/* The minute of secs; *sec: the seconds into it (0 to 59). Writes at most
 * A4S_RFC3339_MINUTE_MAX bytes. */
A4S_HIDDEN char *a4s_write_rfc3339_minute(char *p, int64_t secs, unsigned *sec);

/* ":SS.uuuuuuZ": microseconds cut (not rounded) from nsec; an nsec out of
 * range shows the last six digits of nsec / 1000, as it always has. */
A4S_WRITER a4s_write_rfc3339_tail(char *p, unsigned sec, long nsec)
{
	uint64_t us = (uint64_t)nsec / 1000;
	if (us >= 1000000)
		us %= 1000000;
	p[0] = ':';
	a4s_write_2digits(p + 1, sec);
	p[3] = '.';
	a4s_write_fixed(p + 4, (uint32_t)us, A4S_FIXED_SCALE(10000), 2, true);
	p[10] = 'Z';
	return p + A4S_RFC3339_TAIL_LEN;
}

/* The whole stamp, computed from scratch (the record formatter keeps the
 * minute per thread instead: timecache.h). At most A4S_RFC3339_MAX bytes. */
A4S_HIDDEN char *a4s_write_rfc3339(char *p, const struct timespec *ts);
A4S_HIDDEN void a4s_put_rfc3339(struct a4s_buf *b, const struct timespec *ts);

/* The classic syslog stamp, "Nov 21 10:00:00", in UTC. */
A4S_HIDDEN void a4s_put_syslog_time(struct a4s_buf *b, const struct timespec *ts);

#endif
