#include "timecache.h"

#include <stdint.h>

#include "memo.h"

/* Keyed by the minute's first second. */
A4S_THREAD_MEMO minute;

_Static_assert(A4S_RFC3339_MINUTE_MAX <= A4S_MEMO_TEXT, "a minute must fit a memo");

char *a4s_write_rfc3339_cached(char *p, const struct timespec *ts)
{
	unsigned g = a4s_memo_begin(&minute);
	/* Unsigned: a stamp before the minute wraps to far beyond it. */
	uint64_t into = (uint64_t)(int64_t)ts->tv_sec - minute.key;
	if (g && into < 60) {
		char *end = a4s_memo_copy(&minute, g, p);
		if (end)
			return a4s_write_rfc3339_tail(end, (unsigned)into, ts->tv_nsec);
	}
	unsigned sec;
	char *end = a4s_write_rfc3339_minute(p, (int64_t)ts->tv_sec, &sec);
	int64_t start;
	/* Only a minute whose every second is a time_t is kept: the check
	 * above then cannot wrap from one end of time_t to the other. */
	if (!__builtin_sub_overflow((int64_t)ts->tv_sec, (int64_t)sec, &start) &&
	    start <= INT64_MAX - 59)
		a4s_memo_put(&minute, (uint64_t)start, p, (size_t)(end - p));
	return a4s_write_rfc3339_tail(end, sec, ts->tv_nsec);
}
