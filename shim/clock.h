/* The one monotonic clock the library reads: call durations for the trace,
 * and the pauses and once-a-second looks of the trace's destination (which
 * reuse the time the trace read at the call's end). The vDSO answers it:
 * no system call. */
#ifndef A4S_CLOCK_H
#define A4S_CLOCK_H

#include <stdint.h>
#include <time.h>

#define A4S_SECOND_NS 1000000000ULL

static inline uint64_t a4s_clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * A4S_SECOND_NS + (uint64_t)ts.tv_nsec;
}

static inline uint64_t a4s_monotonic_ns(void)
{
	return a4s_clock_ns(CLOCK_MONOTONIC);
}

#endif
