/* The one monotonic clock the library reads: call durations for the trace,
 * and the pause between attempts to reopen a lost destination. */
#ifndef A4S_CLOCK_H
#define A4S_CLOCK_H

#include <stdint.h>
#include <time.h>

#define A4S_SECOND_NS 1000000000ULL

static inline uint64_t a4s_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
	return (uint64_t)ts.tv_sec * A4S_SECOND_NS + (uint64_t)ts.tv_nsec;
}

#endif
