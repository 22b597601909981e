/* Loading: the configuration parsed once, the destination opened once, the
 * fork handler registered once, whichever comes first of our constructor
 * and the program's first call. */
#ifndef A4S_INIT_H
#define A4S_INIT_H

#include "config.h"

/*
 * The configuration in force. While another thread is still loading it,
 * the caller gets `scratch` filled in from the environment instead, with the
 * trace off for that one call (the destination is opened only once).
 */
A4S_HIDDEN const struct a4s_config *a4s_config_get(struct a4s_config *scratch);

/* The loaded configuration, or NULL while none is (at exit, say). */
A4S_HIDDEN const struct a4s_config *a4s_config_loaded(void);

/* The loaded configuration in words (describe.h), or NULL while none is. */
A4S_HIDDEN const char *a4s_config_described(void);

/* In the child of a fork: a load that another thread had under way did not
 * come along, so the child loads for itself on its first call. */
A4S_HIDDEN void a4s_init_after_fork(void);

#endif
