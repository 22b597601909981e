/*
 * Opening a trace file so that its path cannot be turned against the
 * process (SPEC, "Destinations, as operators use them"): no symbolic link
 * followed in any component, an existing file used only if it is a regular
 * file, FIFO or character device owned by the effective user with a single
 * link, a new one created with mode 0600.
 */
#ifndef A4S_SAFEOPEN_H
#define A4S_SAFEOPEN_H

#include "complain.h"
#include "ident.h"

/* The descriptor (open for appending, non-blocking, close-on-exec, at
 * whatever number the kernel gave) and what it is in *id; or -errno with
 * the reason in *why. path is absolute. */
A4S_HIDDEN int a4s_safe_open(const char *path, struct a4s_ident *id, struct a4s_cause *why);

#endif
