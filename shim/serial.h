/*
 * A number for each thread, for the fork-window gate and the listener
 * claims to tell their own thread from the others (a signal handler runs
 * on the thread it interrupted). Never 0, below 2^31, and never given twice
 * in a process, unlike a thread id or a TLS address, which a new thread can
 * inherit from one that died holding a slot.
 */
#ifndef A4S_SERIAL_H
#define A4S_SERIAL_H

#include <stdint.h>

#include "sys.h"

A4S_HIDDEN uint32_t a4s_thread_serial_slow(void);
/* initial-exec: static TLS of a preloaded library, read without calling
 * into the dynamic linker. Copied into the child of fork with the thread,
 * which keeps its number there. 0 until the thread first asks. */
A4S_HIDDEN extern __thread uint32_t a4s_serial __attribute__((tls_model("initial-exec")));

static inline uint32_t a4s_thread_serial(void)
{
	uint32_t s = a4s_serial;
	return __builtin_expect(s != 0, 1) ? s : a4s_thread_serial_slow();
}

#endif
