/* Two copies of the library in one process: which one does the work. */
#ifndef A4S_COPIES_H
#define A4S_COPIES_H

#include <stdbool.h>

#include "sys.h"

/*
 * True when another copy of the library comes before this one in the
 * symbol search order. That copy receives the program's calls and applies
 * the configuration; this one stands aside with the defaults.
 */
A4S_HIDDEN bool a4s_another_copy_comes_first(void);

#endif
