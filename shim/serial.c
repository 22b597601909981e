#include "serial.h"

#include <stdatomic.h>

static atomic_uint next_serial = 1;
/* initial-exec: static TLS of a preloaded library, read without calling
 * into the dynamic linker. Copied into the child of fork with the thread,
 * which keeps its number there. */
static __thread uint32_t serial __attribute__((tls_model("initial-exec")));

uint32_t a4s_thread_serial(void)
{
	uint32_t s = serial;
	if (__builtin_expect(s == 0, 0)) {
		/* A handler that interrupts this takes its own number and
		 * gives it up with everything it held before returning. */
		do
			s = atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed) &
			    0x7fffffffu;
		while (s == 0);
		serial = s;
	}
	return s;
}
