#include "timefmt.h"

struct civil {
	int64_t year;
	unsigned month, day, hour, min, sec;
};

/* Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year
 * eras that start on March 1st so that the leap day falls at the end. */
static struct civil civil_from_epoch(int64_t secs)
{
	struct civil c;
	int64_t days = secs / 86400;
	int64_t rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	c.hour = (unsigned)(rem / 3600);
	c.min = (unsigned)(rem / 60 % 60);
	c.sec = (unsigned)(rem % 60);

	days += 719468; /* from 1970-01-01 to 0000-03-01 */
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t doe = days - era * 146097;                                   /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
	c.day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	c.month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	c.year = yoe + era * 400 + (c.month <= 2);
	return c;
}

void a4s_put_rfc3339(struct a4s_buf *b, const struct timespec *ts)
{
	struct civil c = civil_from_epoch((int64_t)ts->tv_sec);
	/* RFC 3339 has four-digit years; a clock set beyond 9999 still
	 * shows its real year rather than the last four digits of it. */
	uint64_t year = (uint64_t)(c.year < 0 ? 0 : c.year);
	if (year > 9999)
		a4s_put_u64(b, year);
	else
		a4s_put_u64_width(b, year, 4);
	a4s_put_char(b, '-');
	a4s_put_u64_width(b, c.month, 2);
	a4s_put_char(b, '-');
	a4s_put_u64_width(b, c.day, 2);
	a4s_put_char(b, 'T');
	a4s_put_u64_width(b, c.hour, 2);
	a4s_put_char(b, ':');
	a4s_put_u64_width(b, c.min, 2);
	a4s_put_char(b, ':');
	a4s_put_u64_width(b, c.sec, 2);
	a4s_put_char(b, '.');
	a4s_put_u64_width(b, (uint64_t)ts->tv_nsec / 1000, 6);
	a4s_put_char(b, 'Z');
}

void a4s_put_syslog_time(struct a4s_buf *b, const struct timespec *ts)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct civil c = civil_from_epoch((int64_t)ts->tv_sec);
	a4s_put(b, months[c.month - 1]);
	a4s_put_char(b, ' ');
	/* RFC 3164 pads the day with a space, not a zero. */
	a4s_put_char(b, c.day < 10 ? ' ' : (char)('0' + c.day / 10));
	a4s_put_char(b, (char)('0' + c.day % 10));
	a4s_put_char(b, ' ');
	a4s_put_u64_width(b, c.hour, 2);
	a4s_put_char(b, ':');
	a4s_put_u64_width(b, c.min, 2);
	a4s_put_char(b, ':');
	a4s_put_u64_width(b, c.sec, 2);
}
