/*
 * The summary of a process's calls (ACCEPT4SHIM_STATS), formatted into a
 * caller's buffer as one line (JSON or text) ending in '\n'.
 */
#ifndef A4S_SUMMARYFMT_H
#define A4S_SUMMARYFMT_H

#include <stdint.h>
#include <time.h>

#include "config.h"

/* The exit summary names every errno seen: up to 160 of them. Still no
 * more than PIPE_BUF, so a pipe takes it whole. */
#define A4S_SUMMARY_MAX 4096

struct a4s_summary {
	struct timespec ts;
	int pid;
	uint64_t calls, accepted, failed, emulated, retried_calls, retries, dropped;
	const uint64_t *errors; /* indexed by errno, nerrors long */
	int nerrors;
};

A4S_HIDDEN size_t a4s_format_summary(const struct a4s_summary *s,
				     enum a4s_log_format fmt, char *buf, size_t size);

#endif
