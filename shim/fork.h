/* What a new process (the child of fork, _Fork or clone) must redo for
 * itself before it uses the library's state: self.c notices the new process
 * and calls this, once, from the process's first call. */
#ifndef A4S_FORK_H
#define A4S_FORK_H

#include "sys.h"

A4S_HIDDEN void a4s_new_process_reset(void);

#endif
