/*
 * The process and thread ids for the trace, cached: glibc no longer caches
 * getpid, and gettid is a system call, and the trace must cost one write.
 * The fork handler clears both in the child.
 */
#ifndef A4S_SELF_H
#define A4S_SELF_H

#include "sys.h"

A4S_HIDDEN int a4s_self_pid(void);
A4S_HIDDEN int a4s_self_tid(void);
A4S_HIDDEN void a4s_self_forget(void);

#endif
