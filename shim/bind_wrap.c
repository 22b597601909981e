/* The archive's binding (see bind.h): the linker's --wrap names each real
 * function __real_NAME. A program linked without -Wl,--wrap=accept
 * -Wl,--wrap=accept4 fails to link here, rather than running without the
 * library's behaviour; the optional ones it leaves out find the archive's
 * stand-ins instead (bind_stubs.c), never called. */
#include "bind.h"

/* The archive's mark: the accept4shim command finds it in a static
 * program's file (wrapper/target.c) and then knows the library is linked
 * in, rather than warning that nothing can reach the program. */
__attribute__((used)) static const char mark[] = "accept4shim: linked in with --wrap";

void a4s_bind(void)
{
}

#define A4S_WRAPPED(name, type)            \
	extern type __real_##name;         \
	type *a4s_bound_##name(void)       \
	{                                  \
		return __real_##name;      \
	}
A4S_REAL_FUNCTIONS(A4S_WRAPPED)
