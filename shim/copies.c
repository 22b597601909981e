#include "copies.h"

#include <dlfcn.h>

/* Weak: linked into a static program (the archive), this file must not pull
 * the dynamic linker's functions out of libc.a. There they stay NULL, and a
 * static program holds one copy at most. */
#pragma weak dlsym
#pragma weak dladdr

/*
 * Two copies of the library in one process (two installations, or the
 * wrapper run inside another with a different library path): the program's
 * calls reach the copy that comes first in the symbol search order, which
 * passes them on through RTLD_NEXT to the other. Only the first applies the
 * configuration; the other stands aside with the defaults, so each call is
 * traced and counted once and each bad variable complained about once. The
 * first copy is the object that holds the accept4shim_get_stats a global
 * lookup finds. (The same file named twice is loaded once: not this case.)
 */
bool a4s_another_copy_comes_first(void)
{
	if (!dlsym || !dladdr)
		return false;
	void *first = dlsym(RTLD_DEFAULT, "accept4shim_get_stats");
	Dl_info theirs, ours;
	return first && dladdr(first, &theirs) &&
	       dladdr((void *)a4s_another_copy_comes_first, &ours) &&
	       theirs.dli_fbase != ours.dli_fbase;
}
