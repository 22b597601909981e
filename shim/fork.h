/* What a new process (the child of a fork) must redo for itself. */
#ifndef A4S_FORK_H
#define A4S_FORK_H

#include "sys.h"

/* Registers the child handler; called once, at load. */
A4S_HIDDEN void a4s_fork_register(void);

#endif
