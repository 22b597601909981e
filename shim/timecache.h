/*
 * The record's timestamp, with its minute kept per thread: every record of
 * the same minute on the same thread copies "2026-11-21T10:00" instead of
 * converting days to a date again, and only the seconds and microseconds
 * are new.
 */
#ifndef A4S_TIMECACHE_H
#define A4S_TIMECACHE_H

#include <time.h>

#include "timefmt.h"

/* The same bytes as a4s_write_rfc3339, at most A4S_RFC3339_MAX of them
 * written (and no more touched: A4S_MEMO_TEXT is less). Async-signal-safe:
 * a signal handler that formats a record while the thread it interrupted
 * was in here gets a right stamp and leaves the memo right for the
 * interrupted code (memo.h). */
A4S_HIDDEN char *a4s_write_rfc3339_cached(char *p, const struct timespec *ts);

#endif
