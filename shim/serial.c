#include "serial.h"

#include <stdatomic.h>

static atomic_uint next_serial = 1;
__thread uint32_t a4s_serial __attribute__((tls_model("initial-exec")));

uint32_t a4s_thread_serial_slow(void)
{
	/* A handler that interrupts this takes its own number and gives it
	 * up with everything it held before returning. */
	uint32_t s;
	do
		s = atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed) & 0x7fffffffu;
	while (s == 0);
	a4s_serial = s;
	return s;
}
