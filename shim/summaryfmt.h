/*
 * The summaries of a process's calls (ACCEPT4SHIM_STATS), formatted into a
 * caller's buffer as one line (JSON or text) ending in '\n': the exit
 * summary, and the interval summary (ACCEPT4SHIM_STATS_INTERVAL), which has
 * an interval's counts first and then the process's, keys prefixed total_.
 */
#ifndef A4S_SUMMARYFMT_H
#define A4S_SUMMARYFMT_H

#include <stdint.h>
#include <time.h>

#include "config.h"

/* The exit summary names every errno seen: up to 160 of them. Still no
 * more than PIPE_BUF, so a pipe takes it whole. An interval summary names
 * them twice; one that does not fit is not written, and counted dropped. */
#define A4S_SUMMARY_MAX 4096

struct a4s_summary {
	struct timespec ts;
	int pid;
	uint64_t calls, accepted, failed, emulated, retried_calls, retries, dropped;
	const uint64_t *errors; /* indexed by errno, nerrors long */
	int nerrors;
	/* NULL: the exit summary, the counts above the process's. Else an
	 * interval summary: the counts above are the interval's, these the
	 * process's (their own ts, pid, totals and interval_ns unused). */
	const struct a4s_summary *totals;
	uint64_t interval_ns; /* an interval summary: the interval's length */
};

A4S_HIDDEN size_t a4s_format_summary(const struct a4s_summary *s,
				     enum a4s_log_format fmt, char *buf, size_t size);

#endif
