/* Saying what is wrong with the configuration, on the program's stderr. */
#ifndef A4S_COMPLAIN_H
#define A4S_COMPLAIN_H

#include <stddef.h>

#include "sys.h"

/* The parser's complaints (lines ending in '\n'), one write per line, to
 * fd 2 and never to stdout. */
A4S_HIDDEN void a4s_complain(const char *text, size_t len);

#endif
