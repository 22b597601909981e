#include "timefmt.h"

struct civil {
	int64_t year;
	unsigned month, day, hour, min, sec;
};

/* Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year
 * eras that start on March 1st so that the leap day falls at the end. No
 * step overflows, even for the first and last time_t. */
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

char *a4s_write_rfc3339_minute(char *p, int64_t secs, unsigned *sec)
{
	struct civil c = civil_from_epoch(secs);
	if (c.year > 9999) {
		p = a4s_write_u64(p, (uint64_t)c.year);
	} else {
		uint32_t year = c.year < 0 ? 0 : (uint32_t)c.year;
		p = a4s_write_fixed(p, year, A4S_FIXED_SCALE(100), 1, true);
	}
	p[0] = '-';
	a4s_write_2digits(p + 1, c.month);
	p[3] = '-';
	a4s_write_2digits(p + 4, c.day);
	p[6] = 'T';
	a4s_write_2digits(p + 7, c.hour);
	p[9] = ':';
	a4s_write_2digits(p + 10, c.min);
	*sec = c.sec;
	return p + 12;
}

char *a4s_write_rfc3339(char *p, const struct timespec *ts)
{
	unsigned sec;
	p = a4s_write_rfc3339_minute(p, (int64_t)ts->tv_sec, &sec);
	return a4s_write_rfc3339_tail(p, sec, ts->tv_nsec);
}

void a4s_put_rfc3339(struct a4s_buf *b, const struct timespec *ts)
{
	char stamp[A4S_RFC3339_MAX];
	a4s_put_bytes(b, stamp, (size_t)(a4s_write_rfc3339(stamp, ts) - stamp));
}

void a4s_put_syslog_time(struct a4s_buf *b, const struct timespec *ts)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct civil c = civil_from_epoch((int64_t)ts->tv_sec);
	char stamp[15];
	__builtin_memcpy(stamp, months[c.month - 1], 3);
	stamp[3] = ' ';
	a4s_write_2digits(stamp + 4, c.day);
	/* RFC 3164 pads the day with a space, not a zero. */
	if (c.day < 10)
		stamp[4] = ' ';
	stamp[6] = ' ';
	a4s_write_2digits(stamp + 7, c.hour);
	stamp[9] = ':';
	a4s_write_2digits(stamp + 10, c.min);
	stamp[12] = ':';
	a4s_write_2digits(stamp + 13, c.sec);
	a4s_put_bytes(b, stamp, sizeof(stamp));
}
