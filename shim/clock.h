/* The monotonic clocks the library reads: the precise one for call
 * durations in the trace; the coarse one (a few milliseconds of
 * resolution, cheaper still) for the pauses and once-a-second checks of the
 * trace's destination. Both are answered by the vDSO: no system call. */
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

static inline uint64_t a4s_coarse_ns(void)
{
	return a4s_clock_ns(CLOCK_MONOTONIC_COARSE);
}

#endif
