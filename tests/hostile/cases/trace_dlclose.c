/*
 * Issue 10, item 7: a program that loads the library with dlopen, accepts
 * through it (its trace opens), and dlcloses it must be left with no
 * descriptor of the library's (the observer lists them at exit, and the
 * case is run without TRACE_FD). The plain run has no library to load
 * (A4S_HOSTILE_LIBRARY unset) and accepts through libc.
 */
#include <dlfcn.h>

#include "case.h"

typedef int accept4_fn(int, struct sockaddr *, socklen_t *, int);

int main(void)
{
	const char *path = getenv("A4S_HOSTILE_LIBRARY");
	void *lib = NULL;
	accept4_fn *fn = accept4;
	if (path) {
		lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		MUST(lib != NULL);
		fn = (accept4_fn *)dlsym(lib, "accept4");
		MUST(fn != NULL);
	}
	struct sockaddr_un a;
	socklen_t alen;
	int l = listener(&a, &alen, 0);
	for (int i = 0; i < 3; i++) {
		int c = connect_to(&a, alen);
		errno = 0;
		int r = fn(l, NULL, NULL, SOCK_CLOEXEC);
		say("accept4: %s", outcome(r, errno));
		if (r >= 0)
			close(r);
		close(c);
	}
	if (lib)
		MUST(dlclose(lib) == 0);
	close(l);
	say("unloaded");
	return 0;
}
