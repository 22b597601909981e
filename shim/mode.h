/*
 * How accept4 is done: natively or emulated, and the process-wide switch
 * that ACCEPT4SHIM_MODE=auto throws the first time the native call proves
 * absent.
 */
#ifndef A4S_MODE_H
#define A4S_MODE_H

#include <errno.h>
#include <stdbool.h>

#include "config.h"

/* Pure decisions, kept apart from the state so the tests can table them. */
static inline bool a4s_mode_wants_native(enum a4s_mode mode, bool switched)
{
	return mode == A4S_MODE_NATIVE || (mode == A4S_MODE_AUTO && !switched);
}

/* Only ENOSYS proves accept4 absent. EINVAL (bad flags, not listening),
 * EBADF, EPERM from a sandbox's policy and the rest say nothing about the
 * call existing, so they never disable it. */
static inline bool a4s_mode_should_switch(enum a4s_mode mode, int neg_err)
{
	return mode == A4S_MODE_AUTO && neg_err == -ENOSYS;
}

A4S_HIDDEN bool a4s_mode_switched(void);
A4S_HIDDEN void a4s_mode_switch_to_emulation(void);

#endif
