/*
 * ACCEPT4SHIM_STATS_INTERVAL: with ACCEPT4SHIM_STATS=1, a summary every N
 * seconds, written by the first call after the interval has passed.
 */
#ifndef A4S_INTERVAL_H
#define A4S_INTERVAL_H

#include "config.h"

/* At load: the first interval starts now. Nothing happens afterwards when
 * cfg->stats_interval_ns is 0. */
A4S_HIDDEN void a4s_interval_start(const struct a4s_config *cfg);
/* In a forked child (through a4s_stats_reset): its intervals start at the
 * fork, counting its own calls only. */
A4S_HIDDEN void a4s_interval_reset(void);
/* After each call, when cfg->stats_interval_ns is not 0: writes the
 * interval summary if the interval has passed and no other thread claimed
 * it first. */
A4S_HIDDEN void a4s_interval_tick(const struct a4s_config *cfg);

#endif
