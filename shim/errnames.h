#ifndef A4S_ERRNAMES_H
#define A4S_ERRNAMES_H

#include "sys.h"

/* "EAGAIN" for EAGAIN; NULL for 0, negative or unknown values. */
A4S_HIDDEN const char *a4s_errno_name(int err);

#endif
