/* The preloaded library's binding (see bind.h): the next definition of each
 * function in the symbol search order, normally the C library's, or that of
 * another interposer preloaded after us. */
#include "bind.h"

#include <dlfcn.h>
#include <stdatomic.h>

#include "bind_missing.h"

#define A4S_NEXT(name, type) static _Atomic(type *) next_##name;
A4S_REAL_FUNCTIONS(A4S_NEXT)

/*
 * No pthread_once and no lock: dlsym is idempotent, so two threads racing
 * here both find the same pointers and store the same values. That keeps the
 * first call safe even when it comes from another library's constructor
 * before ours, or from a thread that is cancelled while binding. The
 * library's constructor binds them all, so that a call that may come from a
 * signal handler (_Fork, vfork's neighbours) finds them bound and never
 * calls dlsym there. A missing symbol is stored as a stand-in so we do not
 * look again.
 */
void a4s_bind(void)
{
	/* Stored last below: once it is there, so are the others. */
	if (atomic_load_explicit(&next_ulimit, memory_order_acquire))
		return;
#define A4S_LOOK_UP(name, type)                                                       \
	{                                                                             \
		type *f = (type *)dlsym(RTLD_NEXT, #name);                            \
		atomic_store_explicit(&next_##name, f ? f : a4s_missing_##type,       \
				      memory_order_release);                          \
	}
	A4S_REQUIRED_REAL(A4S_LOOK_UP)
	A4S_OPTIONAL_REAL(A4S_LOOK_UP)
#undef A4S_LOOK_UP
}

#define A4S_BOUND(name, type)                                                         \
	type *a4s_bound_##name(void)                                                  \
	{                                                                             \
		type *f = atomic_load_explicit(&next_##name, memory_order_acquire);   \
		if (!f) {                                                             \
			a4s_bind();                                                   \
			f = atomic_load_explicit(&next_##name, memory_order_acquire); \
		}                                                                     \
		return f;                                                             \
	}
A4S_REAL_FUNCTIONS(A4S_BOUND)
