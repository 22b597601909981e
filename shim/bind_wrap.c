/* The archive's binding (see bind.h): the linker's --wrap names the real
 * functions __real_accept and __real_accept4. A program linked without
 * -Wl,--wrap=accept -Wl,--wrap=accept4 fails to link here, rather than
 * running without the library's behaviour. */
#include "bind.h"

/* The archive's mark: the accept4shim command finds it in a static
 * program's file (wrapper/target.c) and then knows the library is linked
 * in, rather than warning that nothing can reach the program. */
__attribute__((used)) static const char mark[] = "accept4shim: linked in with --wrap";

extern a4s_accept_fn __real_accept;
extern a4s_accept4_fn __real_accept4;

void a4s_bind(void)
{
}

a4s_accept_fn *a4s_bound_accept(void)
{
	return __real_accept;
}

a4s_accept4_fn *a4s_bound_accept4(void)
{
	return __real_accept4;
}
