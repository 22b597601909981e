/*
 * The archive's second member: a weak __real_NAME for each optional
 * function of bind.h, a stand-in that fails with ENOSYS.
 *
 * The archive's own object refers to __real_NAME for every function it
 * takes over. Linked with -Wl,--wrap=NAME, the linker reads that as the C
 * library's NAME and this member is never taken. Linked without it (the
 * SPEC's two options, -Wl,--wrap=accept -Wl,--wrap=accept4, written before
 * the others existed), __real_NAME would be undefined and the link would
 * fail; the linker takes this member instead, and the program keeps the C
 * library's NAME, which it calls directly: __wrap_NAME and this stand-in
 * are never called. In its own member, not in the archive's object: a
 * reference inside the object that defines the name would bind to the
 * stand-in even under --wrap. accept and accept4 have none, on purpose.
 */
#include "bind_missing.h"

#define A4S_STUB(name, type)        \
	extern type __real_##name \
		__attribute__((weak, alias("a4s_missing_" #type), visibility("default")));
A4S_OPTIONAL_REAL(A4S_STUB)
